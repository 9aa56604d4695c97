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

/// The file written again from its document (as [`file_document`] read it, texts
/// changed): a JSONL file one compact line per line, each ending with `\n` but for the
/// last, which does when `original`'s did; any other file its string.
pub(crate) fn file_bytes(doc: &Value, original: &[u8]) -> Bytes {
    match doc {
        Value::Array(lines) => {
            let mut out = Vec::with_capacity(original.len() + 64);
            for (i, line) in lines.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                out.extend_from_slice(&json_out::to_vec(line, 256));
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
            &file_bytes(&doc, jsonl)[..],
            b"{\"custom_id\":\"a\",\"n\":1}\n{\"custom_id\":\"b\"}\n"
        );
        let no_end = b"{\"a\":\"x\"}";
        assert_eq!(
            &file_bytes(&file_document(no_end).expect("text"), no_end)[..],
            no_end
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
            assert_eq!(&file_bytes(&doc, whole)[..], whole);
        }
        assert_eq!(file_document(b"%PDF-1.7\n\xff\xd8"), None);
    }
}
