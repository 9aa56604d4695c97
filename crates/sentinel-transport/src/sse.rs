//! Server-sent events: an incremental parser that takes bytes split anywhere (inside a
//! field, between CR and LF, inside a UTF-8 sequence), and a writer.
//!
//! Follows the WHATWG event-stream rules: lines end in CRLF, LF or CR; a blank line ends an
//! event; lines starting with `:` are comments; `data:` lines accumulate, joined by `\n`;
//! one space after the colon is dropped; `event`, `id` and `retry` are kept; other fields
//! are ignored; an event without data is not dispatched.

/// One event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` type (`None`: the default `message`).
    pub event: Option<String>,
    /// The data lines, joined by `\n`.
    pub data: String,
    /// The `id:` field.
    pub id: Option<String>,
    /// The `retry:` field, in milliseconds.
    pub retry: Option<u64>,
}

impl SseEvent {
    /// An event with only `data`.
    pub fn data(data: impl Into<String>) -> SseEvent {
        SseEvent {
            data: data.into(),
            ..SseEvent::default()
        }
    }

    /// Whether this is OpenAI's end-of-stream marker, `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }
}

/// A stream that cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line is not UTF-8.
    #[error("event stream line is not valid UTF-8")]
    InvalidUtf8,
    /// An event grew past the limit (bounded memory against an endless line or event).
    #[error("event larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
}

/// The incremental parser.
#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    skip_lf: bool,
    event: SseEvent,
    has_data: bool,
    size: usize,
    limit: usize,
}

impl SseParser {
    /// A parser refusing events (or lines) larger than `limit` bytes.
    pub fn new(limit: usize) -> SseParser {
        SseParser {
            line: Vec::new(),
            skip_lf: false,
            event: SseEvent::default(),
            has_data: false,
            size: 0,
            limit,
        }
    }

    /// Feeds bytes; completed events are appended to `out`.
    ///
    /// # Errors
    ///
    /// Invalid UTF-8 in a line, or an event past the limit. The parser should not be fed
    /// again after an error.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.skip_lf {
            if let Some((b'\n', rest)) = bytes.split_first() {
                bytes = rest;
            }
            if !bytes.is_empty() {
                self.skip_lf = false;
            }
        }
        while let Some(pos) = memchr_line_end(bytes) {
            self.line.extend_from_slice(&bytes[..pos]);
            self.check_size(pos)?;
            let cr = bytes[pos] == b'\r';
            bytes = &bytes[pos + 1..];
            if cr {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out)?;
        }
        self.line.extend_from_slice(bytes);
        self.check_size(bytes.len())
    }

    fn check_size(&mut self, added: usize) -> Result<(), SseError> {
        self.size += added;
        if self.size > self.limit {
            return Err(SseError::TooLarge { limit: self.limit });
        }
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if line.is_empty() {
            if self.has_data {
                let mut event = std::mem::take(&mut self.event);
                if event.data.ends_with('\n') {
                    event.data.pop();
                }
                out.push(event);
            } else {
                self.event = SseEvent::default();
            }
            self.has_data = false;
            self.size = 0;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::InvalidUtf8)?;
        let (field, value) = match line.find(':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (line, ""),
        };
        match field {
            "data" => {
                self.event.data.push_str(value);
                self.event.data.push('\n');
                self.has_data = true;
            }
            "event" => self.event.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => self.event.id = Some(value.to_owned()),
            "retry" => {
                if let Ok(ms) = value.parse() {
                    self.event.retry = Some(ms);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether an event (or line) has started but not ended: at the end of a stream this
    /// means it was cut off.
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || self.has_data
    }
}

fn memchr_line_end(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n' || b == b'\r')
}

/// Writes `event` in event-stream form (LF line ends), ending with the blank line.
pub fn write_event(event: &SseEvent, out: &mut Vec<u8>) {
    if let Some(e) = &event.event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(e.as_bytes());
        out.push(b'\n');
    }
    if let Some(id) = &event.id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    if let Some(r) = event.retry {
        out.extend_from_slice(format!("retry: {r}\n").as_bytes());
    }
    // Every line of the data is its own `data:` line (CR, LF and CRLF all split).
    let data = event.data.replace("\r\n", "\n").replace('\r', "\n");
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(bytes: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new(1 << 20);
        let mut out = Vec::new();
        p.push(bytes, &mut out).expect("parses");
        out
    }

    #[test]
    fn the_spec_cases() {
        let s = b": comment\r\nevent: add\r\ndata: a\r\ndata:b\r\nid: 7\r\nretry: 300\r\n\r\ndata\n\ndata: [DONE]\r\rdata: no end";
        let e = parse_all(s);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].event.as_deref(), Some("add"));
        assert_eq!(e[0].data, "a\nb");
        assert_eq!(e[0].id.as_deref(), Some("7"));
        assert_eq!(e[0].retry, Some(300));
        assert_eq!(e[1].data, "");
        assert!(e[2].is_done());
        // An event with only a type and no data is not dispatched.
        assert!(parse_all(b"event: x\n\n").is_empty());
    }

    #[test]
    fn limits_and_bad_bytes_are_errors() {
        let mut p = SseParser::new(16);
        let mut out = Vec::new();
        assert_eq!(
            p.push(&[b'a'; 64], &mut out),
            Err(SseError::TooLarge { limit: 16 })
        );
        let mut p = SseParser::new(1024);
        assert_eq!(
            p.push(b"data: \xff\n\n", &mut out),
            Err(SseError::InvalidUtf8)
        );
    }
}
