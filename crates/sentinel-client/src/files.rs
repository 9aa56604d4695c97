//! Files read as text: what `POST /v1/files` uploads and `GET /v1/files/{id}/content`
//! downloads.
//!
//! A batch's input is a JSONL file of requests, its output a JSONL file of answers;
//! fine-tuning and evals data are JSONL files of conversations. Uploaded, they carry the
//! same prompts a chat request does, so they are read as documents the route walkers
//! understand ([`crate::segments`]): a JSONL file (every non-blank line a JSON object) as
//! the array of its lines, any other UTF-8 file as one string. A file that is not UTF-8
//! (an image, a PDF) is not text the detectors can read, and is carried as it came.

use bytes::Bytes;
use serde_json::Value;

use crate::json_out;

/// `data` as a document: a JSONL file as the array of its lines (blank lines skipped),
/// any other UTF-8 file as one string; `None` for a file that is not UTF-8.
///
/// A JSON document spread over several lines (not JSONL) is read as one string, as is a
/// file with any line that is not a JSON object.
pub(crate) fn file_document(data: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(data).ok()?;
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v @ Value::Object(_)) => lines.push(v),
            _ => return Some(Value::String(text.to_owned())),
        }
    }
    if lines.is_empty() {
        return Some(Value::String(text.to_owned()));
    }
    Some(Value::Array(lines))
}

/// Which lines of a JSONL file changed, for [`file_bytes`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum ChangedLines<'a> {
    /// Any of them (an answer's file, changed in place).
    All,
    /// These (positions among the non-blank lines, sorted); the others are written as they
    /// came.
    These(&'a [usize]),
}

/// The file written again from its document (as [`file_document`] read it, texts
/// changed): a JSONL file one line per line, each ending with `\n` but for the last,
/// which does when `original`'s did, a changed line compact and any other as it came;
/// any other file its string.
pub(crate) fn file_bytes(doc: &Value, original: &[u8], changed: ChangedLines<'_>) -> Bytes {
    match doc {
        Value::Array(lines) => {
            let mut out = Vec::with_capacity(original.len() + 64);
            // The original's lines as `file_document` read them: blank ones skipped.
            let mut was = std::str::from_utf8(original)
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.trim().is_empty());
            for (i, line) in lines.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                let kept = match changed {
                    ChangedLines::All => None,
                    ChangedLines::These(these) => Some(these.binary_search(&i).is_err()),
                };
                match (kept, was.next()) {
                    (Some(true), Some(as_it_came)) => out.extend_from_slice(as_it_came.as_bytes()),
                    _ => out.extend_from_slice(&json_out::to_vec(line, 256)),
                }
            }
            if original.ends_with(b"\n") {
                out.push(b'\n');
            }
            Bytes::from(out)
        }
        Value::String(text) => Bytes::from(text.clone()),
        _ => Bytes::copy_from_slice(original),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonl_is_read_by_lines_and_anything_else_whole() {
        let jsonl = b"{\"custom_id\":\"a\",\"n\":1}\r\n\n{\"custom_id\":\"b\"}\n";
        let doc = file_document(jsonl).expect("text");
        assert_eq!(doc, json!([{"custom_id": "a", "n": 1}, {"custom_id": "b"}]));
        assert_eq!(
            &file_bytes(&doc, jsonl, ChangedLines::All)[..],
            b"{\"custom_id\":\"a\",\"n\":1}\n{\"custom_id\":\"b\"}\n"
        );
        let no_end = b"{\"a\":\"x\"}";
        let all = ChangedLines::All;
        assert_eq!(
            &file_bytes(&file_document(no_end).expect("text"), no_end, all)[..],
            no_end
        );
        // Of a file spaced as a person wrote it, only the changed line is written again.
        let spaced = b"{\"b\": 1, \"a\": \"x\"}\r\n\n{\"b\": 2, \"a\": \"y\"}\n{\"a\": \"z\"}";
        let mut doc = file_document(spaced).expect("text");
        doc[1]["a"] = json!("Y");
        assert_eq!(
            &file_bytes(&doc, spaced, ChangedLines::These(&[1]))[..],
            b"{\"b\": 1, \"a\": \"x\"}\n{\"a\":\"Y\",\"b\":2}\n{\"a\": \"z\"}"
        );
        // Pretty-printed JSON, a line that is not an object, plain text: one string.
        for whole in [
            &b"{\n  \"a\": 1\n}\n"[..],
            b"{\"a\":1}\n[1]\n",
            b"Dear Jane,\nsee you.\n",
            b"",
        ] {
            let doc = file_document(whole).expect("text");
            assert_eq!(doc, Value::String(String::from_utf8_lossy(whole).into()));
            assert_eq!(
                &file_bytes(&doc, whole, ChangedLines::These(&[]))[..],
                whole
            );
        }
        assert_eq!(file_document(b"%PDF-1.7\n\xff\xd8"), None);
    }
}
