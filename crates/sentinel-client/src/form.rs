//! `multipart/form-data` request bodies: the audio uploads of OpenAI's transcription and
//! translation routes, image edits, and file uploads.
//!
//! A form is parsed with `multer` into its parts. The text fields become one JSON object
//! (a name to its string, or to the list of its strings when the name repeats, as
//! `timestamp_granularities[]` does), so the route's walker finds the text to scan the way
//! it does in a JSON body, and the policy decides it the same way. Files (parts with a
//! file name: the audio) are carried as they came and never read as text, but on routes
//! that read them ([`Form::file_documents`], [`Form::replace_file_documents`];
//! [`crate::files`]). A form whose texts were not changed is forwarded byte for byte; a
//! changed one is written again with the same boundary, its parts in their order, each
//! with its own headers.

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value};

use crate::files::{file_bytes, file_document, ChangedLines};
use crate::segments::Step;

/// Why a form could not be read or written again. Messages name parts, never content.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FormError {
    /// The content type is not `multipart/form-data` with a boundary.
    #[error("this route takes multipart/form-data with a boundary")]
    NotAForm,
    /// The body does not parse as the form its content type announces.
    #[error("the multipart body is malformed ({0})")]
    Malformed(String),
    /// A part has no name.
    #[error("a form part has no name")]
    Unnamed,
    /// A field that is not a file is not UTF-8 text.
    #[error("form field {0:?} is not UTF-8 text")]
    NotText(String),
    /// A text would end its part early.
    #[error("form field {0:?} would hold the form's boundary")]
    Boundary(String),
}

/// One part of a form.
#[derive(Debug)]
struct Part {
    name: String,
    headers: http::HeaderMap,
    data: Bytes,
    /// A file's name, as the caller gave it (`Content-Disposition`'s `filename`): a part
    /// with one is a file, carried as it came unless its route reads files.
    file_name: Option<String>,
}

impl Part {
    fn is_file(&self) -> bool {
        self.file_name.is_some()
    }
}

/// The key of [`Form::fields`] under which the file parts' names are listed, in order: a
/// name no part can have (a header value holds no NUL), so the names are scanned and
/// decided as the texts are, and [`Form::encode`] writes the decided names back.
pub(crate) const FILE_NAMES: &str = "\0file names";

/// The key under which a route that reads files lists them, as
/// [`Form::file_documents`] gives them (as [`FILE_NAMES`], no part can have it).
pub(crate) const FILE_DOCUMENTS: &str = "\0files";

/// The place of the file (in [`Form::file_documents`]) a text's path leads into, if it
/// leads into one, and of the JSONL line in it: the path of a text under
/// [`FILE_DOCUMENTS`], whether a route's walker named the key or read it as one of the
/// body's.
pub(crate) fn file_of(path: &[Step]) -> Option<(usize, Option<usize>)> {
    let rest = match path {
        [Step::Key(FILE_DOCUMENTS), rest @ ..] => rest,
        [Step::Field(k), rest @ ..] if k == FILE_DOCUMENTS => rest,
        _ => return None,
    };
    match rest {
        [Step::Index(file), Step::Index(line), ..] => Some((*file, Some(*line))),
        [Step::Index(file), ..] => Some((*file, None)),
        _ => None,
    }
}

/// The files whose texts changed, by place, each with its changed JSONL lines (sorted),
/// from the paths of the changed texts ([`file_of`]).
pub(crate) type ChangedFiles = std::collections::BTreeMap<usize, Vec<usize>>;

/// A parsed `multipart/form-data` body.
#[derive(Debug)]
pub(crate) struct Form {
    boundary: String,
    parts: Vec<Part>,
}

/// Whether `content_type` announces a form.
pub(crate) fn is_form(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
}

impl Form {
    /// Parses `body` as the form `content_type` announces.
    pub(crate) async fn parse(content_type: &str, body: Bytes) -> Result<Form, FormError> {
        if !is_form(content_type) {
            return Err(FormError::NotAForm);
        }
        let boundary = multer::parse_boundary(content_type).map_err(|_| FormError::NotAForm)?;
        let source = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
        let mut multipart = multer::Multipart::new(source, boundary.clone());
        let mut parts = Vec::new();
        let malformed = |e: multer::Error| FormError::Malformed(e.to_string());
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            let name = field.name().ok_or(FormError::Unnamed)?.to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let headers = field.headers().clone();
            let data = field.bytes().await.map_err(malformed)?;
            if file_name.is_none() && std::str::from_utf8(&data).is_err() {
                return Err(FormError::NotText(name));
            }
            parts.push(Part {
                name,
                headers,
                data,
                file_name,
            });
        }
        Ok(Form { boundary, parts })
    }

    /// The text fields as one object: a name to its string, or to its strings in order
    /// when the name repeats; and the file parts' names under [`FILE_NAMES`].
    pub(crate) fn fields(&self) -> Value {
        let mut out = Map::new();
        let names: Vec<Value> = self
            .parts
            .iter()
            .filter_map(|p| p.file_name.clone().map(Value::String))
            .collect();
        if !names.is_empty() {
            out.insert(FILE_NAMES.to_owned(), Value::Array(names));
        }
        for p in self.parts.iter().filter(|p| !p.is_file()) {
            // Checked to be UTF-8 when parsed.
            let text = Value::String(String::from_utf8_lossy(&p.data).into_owned());
            match out.get_mut(&p.name) {
                None => {
                    out.insert(p.name.clone(), text);
                }
                Some(Value::Array(list)) => list.push(text),
                Some(first) => *first = Value::Array(vec![first.take(), text]),
            }
        }
        Value::Object(out)
    }

    /// How many file parts it has.
    pub(crate) fn file_count(&self) -> usize {
        self.parts.iter().filter(|p| p.is_file()).count()
    }

    /// Each file part, in order, as a document ([`file_document`]: a JSONL file's lines,
    /// any other text whole), or `null` for a file that is not UTF-8 (not read). For
    /// [`Form::replace_file_documents`].
    pub(crate) fn file_documents(&self) -> Value {
        let docs = self
            .parts
            .iter()
            .filter(|p| p.is_file())
            .map(|p| file_document(&p.data).unwrap_or(Value::Null))
            .collect();
        Value::Array(docs)
    }

    /// Writes the documents of `docs` (as [`Form::file_documents`] gave them, texts
    /// changed) whose places are in `changed` back into their file parts ([`file_bytes`]:
    /// of a JSONL file, the changed lines); every other file keeps its bytes. Each
    /// document is dropped once written. A file's headers are kept: its name, file name
    /// and type.
    pub(crate) fn replace_file_documents(&mut self, docs: Value, changed: &ChangedFiles) {
        let Value::Array(docs) = docs else {
            return;
        };
        let files = self.parts.iter_mut().filter(|p| p.is_file());
        for (i, (p, doc)) in files.zip(docs).enumerate() {
            if let (false, Some(lines)) = (doc.is_null(), changed.get(&i)) {
                p.data = file_bytes(&doc, &p.data, ChangedLines::These(lines));
            }
        }
    }

    /// An empty form with a fresh boundary, to build an upload.
    pub(crate) fn new() -> Form {
        Form {
            boundary: format!(
                "deepsentinel-{:016x}{:016x}",
                fastrand::u64(..),
                fastrand::u64(..)
            ),
            parts: Vec::new(),
        }
    }

    /// Its `Content-Type`, with the boundary.
    pub(crate) fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// Adds a text field.
    pub(crate) fn text(&mut self, name: &str, value: &str) {
        self.push(name, None, Bytes::copy_from_slice(value.as_bytes()));
    }

    /// Adds a file.
    pub(crate) fn file(&mut self, name: &str, file_name: &str, data: Bytes) {
        self.push(name, Some(file_name), data);
    }

    fn push(&mut self, name: &str, file_name: Option<&str>, data: Bytes) {
        let mut headers = http::HeaderMap::new();
        if let Some(v) = disposition(name, file_name) {
            headers.insert(http::header::CONTENT_DISPOSITION, v);
        }
        if file_name.is_some() {
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/octet-stream"),
            );
        }
        self.parts.push(Part {
            name: name.to_owned(),
            headers,
            data,
            // As it is written, and read back.
            file_name: file_name.map(escaped),
        });
    }

    /// The form written again with the text fields of `fields` (as [`Form::fields`] gave
    /// them, texts changed), files as they came.
    pub(crate) fn encode(&self, fields: &Value) -> Result<Bytes, FormError> {
        let delimiter = format!("--{}", self.boundary);
        let size = self.parts.iter().map(|p| p.data.len() + 256).sum::<usize>();
        let mut out = BytesMut::with_capacity(size);
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut names = fields
            .get(FILE_NAMES)
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for p in &self.parts {
            // A file's name as decided, when it changed: its disposition written again.
            let decided = p.file_name.as_ref().and_then(|_| names.next());
            let renamed = match (&p.file_name, decided) {
                (Some(was), Some(Value::String(is))) if was != is => disposition(&p.name, Some(is)),
                _ => None,
            };
            let data: &[u8] = if p.is_file() {
                &p.data
            } else {
                let k = seen.entry(&p.name).or_default();
                let value = match fields.get(&p.name) {
                    Some(Value::Array(list)) => list.get(*k),
                    other => other.filter(|_| *k == 0),
                };
                *k += 1;
                let text = match value.and_then(Value::as_str) {
                    Some(text) => text.as_bytes(),
                    None => &p.data,
                };
                // A part ends where a line starts with the delimiter: the data's first
                // line too, since the headers' blank line comes before it.
                let early = text.starts_with(delimiter.as_bytes())
                    || memchr::memmem::find(text, format!("\r\n{delimiter}").as_bytes()).is_some();
                if early {
                    return Err(FormError::Boundary(p.name.clone()));
                }
                text
            };
            out.put_slice(delimiter.as_bytes());
            out.put_slice(b"\r\n");
            for (name, value) in &p.headers {
                let value = match &renamed {
                    Some(v) if name == http::header::CONTENT_DISPOSITION => v,
                    _ => value,
                };
                out.put_slice(name.as_str().as_bytes());
                out.put_slice(b": ");
                out.put_slice(value.as_bytes());
                out.put_slice(b"\r\n");
            }
            out.put_slice(b"\r\n");
            out.put_slice(data);
            out.put_slice(b"\r\n");
        }
        out.put_slice(delimiter.as_bytes());
        out.put_slice(b"--\r\n");
        Ok(out.freeze())
    }
}

/// A part's `Content-Disposition`: its name, and a file's name. Quotes and line ends
/// cannot stand in a quoted header parameter; the names are the caller's, so they are
/// escaped as browsers escape them, and other control characters dropped (UTF-8 stays).
fn disposition(name: &str, file_name: Option<&str>) -> Option<http::HeaderValue> {
    let mut value = format!("form-data; name=\"{}\"", escaped(name));
    if let Some(f) = file_name {
        value.push_str(&format!("; filename=\"{}\"", escaped(f)));
    }
    http::HeaderValue::from_bytes(value.as_bytes()).ok()
}

/// `v` as it can stand in a quoted header parameter ([`disposition`]).
fn escaped(v: &str) -> String {
    v.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TYPE: &str = "multipart/form-data; boundary=XyZ";

    fn body() -> Bytes {
        Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\
              Content-Type: audio/wav\r\n\r\nRIFF\x00\xff\xfe--X\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nmail jane@example.com\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"g[]\"\r\n\r\nword\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"g[]\"\r\n\r\nsegment\r\n\
              --XyZ--\r\n",
        )
    }

    #[tokio::test]
    async fn text_fields_are_read_and_written_back_around_the_files() {
        let form = Form::parse(TYPE, body()).await.expect("form");
        let mut fields = form.fields();
        assert_eq!(
            fields,
            json!({"model": "whisper-1", "prompt": "mail jane@example.com",
                "g[]": ["word", "segment"], FILE_NAMES: ["a.wav"]})
        );
        fields["prompt"] = json!("mail <EMAIL_ADDRESS_1>");
        fields["g[]"][1] = json!("segments");
        let again = Form::parse(TYPE, form.encode(&fields).expect("encoded"))
            .await
            .expect("parses");
        assert_eq!(again.fields(), fields);
        let file = again.parts.iter().find(|p| p.is_file()).expect("the file");
        assert_eq!(&file.data[..], b"RIFF\x00\xff\xfe--X");
        assert_eq!(file.headers["content-type"], "audio/wav");
        // Unchanged, the form is written as it came.
        let same = form.encode(&form.fields()).expect("encoded");
        assert_eq!(
            Form::parse(TYPE, same).await.expect("parses").fields(),
            form.fields()
        );
    }

    #[tokio::test]
    async fn file_names_are_listed_and_written_back_when_decided() {
        let form = Form::parse(TYPE, body()).await.expect("form");
        let mut fields = form.fields();
        assert_eq!(fields[FILE_NAMES], json!(["a.wav"]));
        fields[FILE_NAMES][0] = json!("call with <PHONE_NUMBER_1> \"x\"\u{1}é.wav");
        let again = Form::parse(TYPE, form.encode(&fields).expect("encoded"))
            .await
            .expect("parses");
        let file = again.parts.iter().find(|p| p.is_file()).expect("the file");
        assert_eq!(
            file.file_name.as_deref(),
            Some("call with <PHONE_NUMBER_1> %22x%22é.wav")
        );
        assert_eq!(&file.data[..], b"RIFF\x00\xff\xfe--X");
        assert_eq!(file.headers["content-type"], "audio/wav");
        // The text fields kept their places and values.
        let mut back = again.fields();
        back.as_object_mut().expect("object").remove(FILE_NAMES);
        let mut want = form.fields();
        want.as_object_mut().expect("object").remove(FILE_NAMES);
        assert_eq!(back, want);
    }

    #[tokio::test]
    async fn files_that_are_text_are_listed_and_written_back() {
        let mut form = Form::new();
        form.text("purpose", "assistants");
        form.file(
            "a",
            "notes.csv",
            Bytes::from_static(b"name,mail\nJane,jane@example.com\n"),
        );
        form.file("b", "scan.pdf", Bytes::from_static(b"%PDF\xff"));
        // JSONL, spaced as a person wrote it: read by lines, and left as it came when
        // nothing in it changed.
        let jsonl = b"{\"a\": \"x\"}\n";
        form.file("c", "lines.jsonl", Bytes::from_static(jsonl));
        let mut texts = form.file_documents();
        assert_eq!(
            texts,
            json!(["name,mail\nJane,jane@example.com\n", null, [{"a": "x"}]])
        );
        texts[0] = json!("name,mail\nJane,<EMAIL_ADDRESS_1>\n");
        form.replace_file_documents(texts, &ChangedFiles::from([(0, Vec::new())]));
        let body = form.encode(&form.fields()).expect("encoded");
        let back = Form::parse(&form.content_type(), body)
            .await
            .expect("parses");
        assert_eq!(
            back.file_documents(),
            json!(["name,mail\nJane,<EMAIL_ADDRESS_1>\n", null, [{"a": "x"}]])
        );
        let pdf = back.parts.iter().find(|p| p.name == "b").expect("the pdf");
        assert_eq!(&pdf.data[..], b"%PDF\xff");
        let lines = back
            .parts
            .iter()
            .find(|p| p.name == "c")
            .expect("the jsonl");
        assert_eq!(&lines.data[..], jsonl);
    }

    #[test]
    fn a_text_path_names_its_file() {
        let line = [
            Step::Key(FILE_DOCUMENTS),
            Step::Index(2),
            Step::Index(7),
            Step::Key("body"),
        ];
        assert_eq!(file_of(&line), Some((2, Some(7))));
        // Another route's body, read key by key; a file read whole.
        let other = [Step::Field(FILE_DOCUMENTS.to_owned()), Step::Index(0)];
        assert_eq!(file_of(&other), Some((0, None)));
        for not in [
            &[Step::Key(FILE_NAMES), Step::Index(0)][..],
            &[Step::Field("purpose".to_owned())][..],
            &[Step::Index(0)][..],
        ] {
            assert_eq!(file_of(not), None, "{not:?}");
        }
    }

    #[tokio::test]
    async fn a_built_form_parses_back() {
        let mut form = Form::new();
        form.text("model", "whisper-1");
        form.text("prompt", "a \"quoted\"\r\nname");
        form.file(
            "file",
            "call \"1\".wav",
            Bytes::from_static(b"RIFF\x00\xff"),
        );
        let body = form.encode(&form.fields()).expect("encoded");
        let back = Form::parse(&form.content_type(), body)
            .await
            .expect("parses");
        assert_eq!(back.fields(), form.fields());
        let file = back.parts.iter().find(|p| p.is_file()).expect("the file");
        assert_eq!(&file.data[..], b"RIFF\x00\xff");
        assert!(file.headers["content-disposition"]
            .to_str()
            .is_ok_and(|d| d.ends_with("filename=\"call %221%22.wav\"")));
    }

    #[tokio::test]
    async fn bad_forms_are_refused_with_what_is_wrong() {
        let err = |r: Result<Form, FormError>| r.expect_err("refused").to_string();
        assert!(err(Form::parse("application/json", body()).await).contains("multipart"));
        assert!(err(Form::parse("multipart/form-data", body()).await).contains("boundary"));
        let cut = body().slice(..60);
        assert!(err(Form::parse(TYPE, cut).await).contains("malformed"));
        let latin1 = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nJos\xe9\r\n--XyZ--\r\n",
        );
        assert_eq!(
            err(Form::parse(TYPE, latin1).await),
            "form field \"prompt\" is not UTF-8 text"
        );
        let form = Form::parse(TYPE, body()).await.expect("form");
        let mut fields = form.fields();
        fields["prompt"] = json!("a\r\n--XyZ\r\nb");
        assert!(matches!(form.encode(&fields), Err(FormError::Boundary(_))));
    }
}
