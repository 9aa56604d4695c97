//! Values found in JSON text.
//!
//! A tool call's arguments are JSON inside a string, and are scanned as the text they are.
//! A value next to an escape sequence can then take part of it: after `\n` an address
//! reads `njane@example.com`, and replacing that leaves a lone backslash, so the arguments
//! the caller (or the provider) gets are no longer JSON; and a card number right after
//! `\n` is not found at all (no word boundary between the `n` and it). JSON text is read
//! with its escapes as spaces ([`masked`]; `Detection::detect` for whole texts, a streamed
//! tool call's scanner for pieces), and a finding there is kept to whole escapes: it starts
//! after one it began inside and ends before one it ended inside.

use std::sync::Arc;

use sentinel_detect::Finding;
use sentinel_policy::json_escape_around as escape_around;

use crate::detection::Detected;

/// `text` as detection reads it, when it is a JSON document with escapes in it (a tool
/// call's arguments), or the start of one (arguments cut short where the model ran out of
/// tokens, which a caller sends back with the conversation): its escapes as spaces
/// ([`sentinel_policy::mask_json_escapes`]), so a value right after `\n` is seen, with the
/// text's own offsets; `None` for other texts.
pub(crate) fn masked(text: &str) -> Option<String> {
    let trimmed = text.trim_start();
    let json = (trimmed.starts_with('{') || trimmed.starts_with('['))
        && text.contains('\\')
        && serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map_or_else(|e| e.is_eof(), |_| true);
    json.then(|| sentinel_policy::mask_json_escapes(text))
}

/// How much of streamed JSON text `held` can be masked now: all of it but an escape
/// still arriving (a backslash ending it, a `\u` short of its digits).
pub(crate) fn complete(held: &str) -> usize {
    match escape_around(held.as_bytes(), held.len()) {
        Some((start, _)) => start,
        None => held.len(),
    }
}

/// `findings` of `text` kept to whole escapes, or `None` when none cuts one.
pub(crate) fn keep_escapes_whole(text: &str, findings: &[Finding]) -> Option<Vec<Finding>> {
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

/// `d`, the findings of `text` read masked ([`masked`]), kept to `text`'s whole escapes.
pub(crate) fn kept_whole(text: &str, mut d: Detected) -> Detected {
    if let Some(kept) = keep_escapes_whole(text, &d.findings) {
        d.findings = Arc::from(kept);
        // No longer the detection cache's entry.
        d.shared = false;
    }
    d
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
    fn json_documents_with_escapes_are_read_masked() {
        let args = r#"{"q":"ip:\n10.20.30.40"}"#;
        let read = masked(args).expect("a JSON document with an escape");
        assert_eq!(read.len(), args.len());
        let d = LocalDetector::new();
        assert!(d.scan(args).is_empty(), "the escape's n hides the address");
        let found = d.scan(&read);
        assert_eq!(&args[found[0].start..found[0].end], "10.20.30.40");
        // Prose, and JSON without escapes, are read as they are.
        assert!(masked(r"C:\new 10.20.30.40").is_none());
        assert!(masked(r#"{"q":"10.20.30.40"}"#).is_none());
        // The start of a document (arguments cut short) is read masked too; text that is
        // not JSON past its first brace is not.
        let cut = r#"{"q":"ip:\n10.20.30.40 and mo"#;
        let found = d.scan(&masked(cut).expect("the start of a document"));
        assert_eq!(&cut[found[0].start..found[0].end], "10.20.30.40");
        assert!(masked(r#"{"q":"\n"} and more"#).is_none());
        assert!(masked(r"{C:\new 10.20.30.40").is_none());
        // A streamed piece is masked up to an escape still arriving.
        assert_eq!(complete(r"ab\"), 2);
        assert_eq!(complete(r"ab\u00"), 2);
        assert_eq!(complete(r"ab\u00e9"), 8);
        assert_eq!(complete(r"ab\\"), 4);
    }

    #[test]
    fn only_texts_that_are_json_are_changed() {
        let d = LocalDetector::new();
        let json = r#"{"q":"\njane@example.com"}"#;
        let prose = r"C:\njane@example.com";
        let found = |t: &str| Detected {
            findings: Arc::from(d.scan(t)),
            cache_hit: false,
            shared: true,
            remote_failed: false,
        };
        // Findings that cut an escape (the address read with the `n`) are kept whole,
        // and are no longer the cache's entry.
        let kept = kept_whole(json, found(json));
        let f = &kept.findings[0];
        assert_eq!(&json[f.start..f.end], "jane@example.com");
        assert!(!kept.shared);
        // Prose is read as it is; findings that cut nothing stay the cache's.
        assert!(masked(prose).is_none());
        let clean = r#"{"q":"jane@example.com\n"}"#;
        let kept = kept_whole(clean, found(clean));
        assert_eq!(kept.findings, found(clean).findings);
        assert!(kept.shared);
    }
}
