//! Values found in JSON text.
//!
//! A tool call's arguments are JSON inside a string, and are scanned as the text they are.
//! Read as written, a value next to an escape sequence takes part of it (after `\n` an
//! address reads `njane@example.com`, and replacing that leaves a lone backslash, so the
//! arguments are no longer JSON), and a value written with one is not found
//! (`jane\u0040example.com`). JSON text is read unescaped ([`Unescaper`];
//! `Detection::detect` for whole texts, a streamed tool call's scanner for pieces): a value
//! holding an escape is found and marked [`Finding::escaped`], so the policy decides on
//! what it stands for and writes its replacement escaped, and every finding covers whole
//! escapes.

use std::sync::Arc;

use sentinel_detect::{Finding, Unescaper};
use sentinel_policy::json_escape_around as escape_around;

use crate::detection::Detected;

/// `d`, the findings of `text` read unescaped ([`Unescaper::document`]), at `text`'s own
/// offsets and marked where their values hold an escape.
pub(crate) fn read_back(text: &str, back: &Unescaper, mut d: Detected) -> Detected {
    let moved = back.back(text, &d.findings);
    if *moved != *d.findings {
        d.findings = Arc::from(moved);
        // No longer the detection cache's entry.
        d.shared = false;
    }
    d
}

/// Findings of a streamed piece of JSON text, `text`, ready for the policy: kept to whole
/// escapes (a remote detector reads the text as written) and marked where their values
/// hold an escape.
pub(crate) fn settled(text: &str, found: Vec<Finding>) -> Vec<Finding> {
    let mut found = keep_escapes_whole(text, &found).unwrap_or(found);
    sentinel_detect::mark_escaped(text, &mut found);
    found
}

/// `findings` of `text` kept to whole escapes, or `None` when none cuts one.
fn keep_escapes_whole(text: &str, findings: &[Finding]) -> Option<Vec<Finding>> {
    let b = text.as_bytes();
    let cuts = |f: &Finding| {
        escape_around(b, f.start).is_some()
            || (f.end < b.len() && escape_around(b, f.end).is_some())
    };
    if !findings.iter().any(cuts) {
        return None;
    }
    let kept = findings
        .iter()
        .filter_map(|f| {
            let start = escape_around(b, f.start).map_or(f.start, |(at, len)| at + len);
            let end = match escape_around(b, f.end) {
                Some((at, _)) if f.end < b.len() => at,
                _ => f.end,
            };
            (start < end).then(|| Finding {
                start,
                end,
                ..f.clone()
            })
        })
        .collect();
    Some(kept)
}

#[cfg(test)]
mod tests {
    use sentinel_detect::{Detector, LocalDetector};

    use super::*;

    #[test]
    fn findings_keep_escapes_whole() {
        let d = LocalDetector::new();
        // The address after `\n` is read with the escape's letter; kept, it starts after.
        let text = r#"{"q":"write:\njane@example.com\tok"}"#;
        let found = d.scan(text);
        assert_eq!(&text[found[0].start..found[0].end], "njane@example.com");
        let kept = keep_escapes_whole(text, &found).expect("an escape was cut");
        assert_eq!(&text[kept[0].start..kept[0].end], "jane@example.com");

        // A finding ending inside an escape ends before it.
        let f = Finding {
            end: 6,
            ..found[0].clone()
        };
        let f = Finding { start: 0, ..f };
        let kept = keep_escapes_whole(r#"abcde\nx"#, &[f]).expect("cut");
        assert_eq!((kept[0].start, kept[0].end), (0, 5));
        // Nothing cut: nothing to do.
        assert!(
            keep_escapes_whole("mail jane@example.com", &d.scan("mail jane@example.com")).is_none()
        );
    }

    #[test]
    fn json_documents_with_escapes_are_read_unescaped() {
        let d = LocalDetector::new();
        let found = |t: &str| Detected {
            findings: Arc::from(d.scan(t)),
            cache_hit: false,
            shared: true,
            remote_failed: false,
        };
        let args = r#"{"q":"ip:\n10.20.30.40","to":"jane\u0040example.com"}"#;
        assert!(d.scan(args).is_empty(), "read as written, neither is found");
        let (r, back) = Unescaper::document(args).expect("a JSON document with an escape");
        let got = read_back(args, &back, found(&r));
        let values: Vec<(&str, bool)> = got
            .findings
            .iter()
            .map(|f| (&args[f.start..f.end], f.escaped))
            .collect();
        assert_eq!(
            values,
            [("10.20.30.40", false), (r"jane\u0040example.com", true)]
        );
        assert_eq!(got.findings[1].value(args), "jane@example.com");
        // Moved from the cache's entry, the result is no longer shared.
        assert!(!got.shared);
        // A value after `\"` or `\\` keeps them out: `\\` reads as spaces, `\"` as the
        // quote it stands for, which ends a value as a space does.
        let quoted = r#"{"q":"say \"jane@example.com\" \\ 10.20.30.40"}"#;
        let (r, back) = Unescaper::document(quoted).expect("escapes");
        let got = read_back(quoted, &back, found(&r));
        let values: Vec<&str> = got
            .findings
            .iter()
            .map(|f| &quoted[f.start..f.end])
            .collect();
        assert_eq!(values, ["jane@example.com", "10.20.30.40"]);
        assert!(got.findings.iter().all(|f| !f.escaped));
        // `\"` reads shorter than it is written: the findings moved, no longer shared.
        assert!(!got.shared);
        // Nothing moved (escapes that read as long as they are written): still shared.
        let joined = r#"{"q":"a \\ 10.20.30.40"}"#;
        let (r, back) = Unescaper::document(joined).expect("escapes");
        let got = read_back(joined, &back, found(&r));
        assert_eq!(
            &joined[got.findings[0].start..got.findings[0].end],
            "10.20.30.40"
        );
        assert!(got.shared);
        // Prose, and JSON without escapes, are read as they are.
        assert!(Unescaper::document(r"C:\new 10.20.30.40").is_none());
        assert!(Unescaper::document(r#"{"q":"10.20.30.40"}"#).is_none());
        // The start of a document (arguments cut short) is read unescaped too; text that
        // is not JSON past its first brace is not.
        let cut = r#"{"q":"ip:\n10.20.30.40 and mo"#;
        let (r, back) = Unescaper::document(cut).expect("the start of a document");
        let got = read_back(cut, &back, found(&r));
        assert_eq!(
            &cut[got.findings[0].start..got.findings[0].end],
            "10.20.30.40"
        );
        assert!(Unescaper::document(r#"{"q":"\n"} and more"#).is_none());
        assert!(Unescaper::document(r"{C:\new 10.20.30.40").is_none());
    }

    #[test]
    fn streamed_findings_are_kept_whole_and_marked() {
        // A remote detector's finding, on the text as written, cut inside escapes.
        let text = r#"x\u0040jane\u0040example.com\n"#;
        let f = Finding {
            start: 2,
            end: 29,
            ..LocalDetector::new().scan("jane@example.com")[0].clone()
        };
        let got = settled(text, vec![f]);
        assert_eq!(&text[got[0].start..got[0].end], r"jane\u0040example.com");
        assert!(got[0].escaped);
    }
}
