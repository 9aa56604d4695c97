//! JSON string text: what its escape sequences stand for.
//!
//! A tool call's arguments are a JSON document inside a string, and a value in them may be
//! written with escapes: `jane\u0040example.com`, `https:\/\/user:pw@host`, a private key's
//! lines joined by `\n`, a name from a serializer that escapes all but ASCII. Such text is
//! read unescaped ([`Unescaper`]), with the way back to its own offsets; a value found
//! holding an escape is marked [`Finding::escaped`](crate::Finding::escaped), and
//! [`Finding::value`](crate::Finding::value) gives what it stands for, which is what a
//! policy hashes, numbers and pseudonymizes, and whose replacement it writes escaped
//! ([`escape_json_into`]).

use std::collections::VecDeque;

/// The escape sequence whose backslash is `b[i]`: what it stands for (`None` when it is
/// malformed or a lone surrogate) and its length; `None` when the text ends inside it and
/// `more` may complete it.
fn escape_at(b: &[u8], i: usize, more: bool) -> Option<(Option<char>, usize)> {
    // Four hex digits at `at`: their value, `Some(None)` when they are not, `None` when
    // the text ends before them and more may follow.
    let hex = |at: usize| -> Option<Option<u32>> {
        let digits = b
            .get(at.min(b.len())..(at + 4).min(b.len()))
            .unwrap_or_default();
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return Some(None);
        }
        if digits.len() < 4 {
            return if more { None } else { Some(None) };
        }
        let s = std::str::from_utf8(digits).ok();
        Some(s.and_then(|s| u32::from_str_radix(s, 16).ok()))
    };
    let Some(&c) = b.get(i + 1) else {
        return (!more).then_some((None, 1));
    };
    let stands = match c {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let Some(unit) = hex(i + 2)? else {
                return Some((None, 2));
            };
            if !(0xD800..0xDC00).contains(&unit) {
                return Some((char::from_u32(unit), 6));
            }
            // A high surrogate stands for a character with the low one after it.
            let low = match b.get(i + 6..(i + 8).min(b.len())) {
                Some(br"\u") => hex(i + 8)?,
                Some(br"\") | Some(b"") if more => return None,
                _ => None,
            };
            let pair = low
                .filter(|l| (0xDC00..0xE000).contains(l))
                .and_then(|l| char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (l - 0xDC00)));
            return Some(match pair {
                Some(c) => (Some(c), 12),
                None => (None, 6),
            });
        }
        // Any other escape's letter is ASCII when it is valid; past a non-ASCII byte the
        // backslash stands alone.
        c if c.is_ascii() => return Some((None, 2)),
        _ => return Some((None, 1)),
    };
    Some((Some(stands), 2))
}

/// An escape that reads shorter than it is written, in both texts' offsets.
#[derive(Clone, Copy, Debug, Default)]
struct Shrunk {
    read_start: usize,
    read_end: usize,
    raw_start: usize,
    raw_end: usize,
}

/// Reads JSON string text as what its escapes stand for, in one text or in pieces of one,
/// and maps offsets of what it read back to offsets of the text.
///
/// `\\` (and a malformed escape or a lone surrogate) reads as spaces of its length: it
/// joins a string and is no part of a value. `\"` reads as `"`, as a quote in a string
/// does: a value ends at it as at a blank, and a password in quotes
/// (`password: \"correct horse battery staple\"` inside a tool call's arguments) is read
/// between them, as it is in plain text; no built-in recognizer's value holds a `"`, so none runs
/// past a string's end into the document's structure. Every other escape reads as
/// its character, so offsets of the read text differ from the text's after one; findings
/// on the read text are mapped back with [`Unescaper::raw_offset`], and always cover whole
/// escapes.
///
/// It holds offsets only, never text, so its `Debug` output shows no value.
///
/// # Example: find an address written with an escape, at the text's own offsets
///
/// ```
/// use sentinel_detect::{Detector, LocalDetector, Unescaper};
/// let args = r#"{"to":"jane\u0040example.com","note":"say \"hi\""}"#;
/// let (read, back) = Unescaper::whole(args);
/// assert_eq!(read, r#"{"to":"jane@example.com","note":"say "hi""}"#);
/// let f = &LocalDetector::new().scan(&read)[0];
/// let (start, end) = (back.raw_offset(f.start), back.raw_offset(f.end));
/// assert_eq!(&args[start..end], r"jane\u0040example.com");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Example: read a stream, carrying an escape cut by a piece's end
///
/// ```
/// use sentinel_detect::Unescaper;
/// let mut u = Unescaper::new();
/// let (mut read, mut carried) = (String::new(), String::new());
/// for piece in [r#"{"q":"a\u00"#, r#"e9\n"}"#] {
///     carried.push_str(piece);
///     let used = u.read(&carried, true, &mut read);
///     carried.drain(..used);
/// }
/// u.read(&carried, false, &mut read);
/// assert_eq!(read, "{\"q\":\"aé\n\"}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Unescaper {
    /// Bytes of text read so far, and what they read as.
    raw: usize,
    read: usize,
    /// Shrinking escapes not forgotten, in order.
    shrunk: VecDeque<Shrunk>,
    /// The last escape forgotten: where the offsets last parted.
    base: Shrunk,
}

/// A shrinking escape's span in one text's offsets, then in the other's.
type Spans = ((usize, usize), (usize, usize));

impl Unescaper {
    /// A reader at the start of a text.
    pub fn new() -> Unescaper {
        Unescaper::default()
    }

    /// `text`, whole, as read, and the way back to its offsets.
    pub fn whole(text: &str) -> (String, Unescaper) {
        let mut u = Unescaper::new();
        let mut read = String::with_capacity(text.len());
        u.read(text, false, &mut read);
        (read, u)
    }

    /// `text`, when it is a JSON document with escapes in it (a tool call's arguments, a
    /// JSON file) or the start of one (arguments cut short where a model ran out of
    /// tokens), as read, and the way back; `None` for any other text, which is read as it
    /// is (a Windows path's `C:\new` is no escape).
    ///
    /// # Example: a document is read unescaped, prose is not
    ///
    /// ```
    /// use sentinel_detect::Unescaper;
    /// let (read, _) = Unescaper::document(r#"{"to":"jane\u0040example.com"}"#).expect("JSON");
    /// assert_eq!(read, r#"{"to":"jane@example.com"}"#);
    /// assert!(Unescaper::document(r"C:\new\jane").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "serde")]
    pub fn document(text: &str) -> Option<(String, Unescaper)> {
        let trimmed = text.trim_start();
        let json = (trimmed.starts_with('{') || trimmed.starts_with('['))
            && memchr::memchr(b'\\', text.as_bytes()).is_some()
            && serde_json::from_str::<serde::de::IgnoredAny>(text)
                .map_or_else(|e| e.is_eof(), |_| true);
        json.then(|| Unescaper::whole(text))
    }

    /// `found`, findings of what was read, at the text's own offsets, each marked
    /// [`escaped`](crate::Finding::escaped) when its value there holds an escape.
    pub fn back(&self, text: &str, found: &[crate::Finding]) -> Vec<crate::Finding> {
        let mut found = found.to_vec();
        self.to_raw(&mut found);
        mark_escaped(text, &mut found);
        found
    }

    /// Moves `found`, spans of what was read, to the text's offsets.
    pub fn to_raw(&self, found: &mut [crate::Finding]) {
        for f in found {
            (f.start, f.end) = (self.raw_offset(f.start), self.raw_offset(f.end));
        }
    }

    /// Moves `found`, spans of the text, to the offsets of what was read.
    pub fn to_read(&self, found: &mut [crate::Finding]) {
        for f in found {
            (f.start, f.end) = (self.read_offset(f.start), self.read_offset(f.end));
        }
    }

    /// Appends the next piece of the text, as read, to `out`; returns how many of its
    /// bytes were read: all of them, unless `more` text may follow and the piece ends
    /// inside an escape (or after a high surrogate's, which the next may pair), whose
    /// bytes the caller gives again at the start of the next piece.
    pub fn read(&mut self, piece: &str, more: bool, out: &mut String) -> usize {
        let b = piece.as_bytes();
        let mut at = 0;
        while let Some(i) = memchr::memchr(b'\\', &b[at..]).map(|i| at + i) {
            out.push_str(&piece[at..i]);
            self.raw += i - at;
            self.read += i - at;
            let Some((stands, len)) = escape_at(b, i, more) else {
                return i;
            };
            match stands {
                Some(c) if c != '\\' => {
                    out.push(c);
                    let (read_start, raw_start) = (self.read, self.raw);
                    self.read += c.len_utf8();
                    self.raw += len;
                    if c.len_utf8() != len {
                        self.shrunk.push_back(Shrunk {
                            read_start,
                            read_end: self.read,
                            raw_start,
                            raw_end: self.raw,
                        });
                    }
                }
                _ => {
                    out.extend(std::iter::repeat_n(' ', len));
                    self.read += len;
                    self.raw += len;
                }
            }
            at = i + len;
        }
        out.push_str(&piece[at..]);
        self.raw += b.len() - at;
        self.read += b.len() - at;
        b.len()
    }

    /// The offset in the text of `at`, an offset in what was read: the start of an escape
    /// when `at` falls inside the character it reads as.
    pub fn raw_offset(&self, at: usize) -> usize {
        self.across(at, |s| {
            ((s.read_start, s.read_end), (s.raw_start, s.raw_end))
        })
    }

    /// The offset in what was read of `at`, an offset in the text: the start of the
    /// character an escape reads as when `at` falls inside the escape. The inverse of
    /// [`raw_offset`](Unescaper::raw_offset) on the boundaries of what was read.
    pub fn read_offset(&self, at: usize) -> usize {
        self.across(at, |s| {
            ((s.raw_start, s.raw_end), (s.read_start, s.read_end))
        })
    }

    /// `at` from one side's offsets to the other's; `sides` gives a shrinking escape's
    /// span on the side `at` is in, then on the other.
    fn across(&self, at: usize, sides: impl Fn(&Shrunk) -> Spans) -> usize {
        let i = self.shrunk.partition_point(|s| sides(s).0 .1 <= at);
        if let Some(((from_start, _), (to_start, _))) = self.shrunk.get(i).map(&sides) {
            if from_start < at {
                return to_start;
            }
        }
        let last = i.checked_sub(1).map_or(&self.base, |p| &self.shrunk[p]);
        let ((_, from_end), (_, to_end)) = sides(last);
        at - from_end + to_end
    }

    /// Forgets the way back for read offsets before `at`, which will not be asked again
    /// (a stream's settled text), so a long stream holds only its recent escapes.
    pub fn forget_before(&mut self, at: usize) {
        while let Some(s) = self.shrunk.front() {
            if s.read_end > at {
                break;
            }
            self.base = *s;
            self.shrunk.pop_front();
        }
    }
}

/// Marks each of `found`, findings of JSON text `text` at its own offsets,
/// [`escaped`](crate::Finding::escaped) when its value holds (the start of) an escape.
pub fn mark_escaped(text: &str, found: &mut [crate::Finding]) {
    for f in found {
        f.escaped = memchr::memchr(b'\\', &text.as_bytes()[f.start..f.end]).is_some();
    }
}

/// What JSON string text `raw` (a value as written between quotes, its escapes whole)
/// stands for: every escape decoded, `\"` and `\\` too; a malformed one is kept as written
/// and a lone surrogate reads as U+FFFD.
///
/// # Example: a value as it stands
///
/// ```
/// assert_eq!(sentinel_detect::unescape_json(r"jane\u0040ex\/am\tple"), "jane@ex/am\tple");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn unescape_json(raw: &str) -> String {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'\\', &b[at..]).map(|i| at + i) {
        out.push_str(&raw[at..i]);
        // The whole text is given: an escape is never incomplete.
        let (stands, len) = escape_at(b, i, false).unwrap_or((None, 1));
        match stands {
            Some(c) => out.push(c),
            None if b.get(i + 1) == Some(&b'u') && len == 6 => out.push('\u{FFFD}'),
            None => out.push_str(&raw[i..i + len]),
        }
        at = i + len;
    }
    out.push_str(&raw[at..]);
    out
}

/// Appends `text` to `out` as it is written inside a JSON string: `"` and `\` escaped,
/// control characters too.
///
/// # Example: a replacement written back into JSON text
///
/// ```
/// let mut out = String::new();
/// sentinel_detect::escape_json_into("a\"b\\c\nd\u{1}", &mut out);
/// assert_eq!(out, r#"a\"b\\c\nd\u0001"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn escape_json_into(text: &str, out: &mut String) {
    let mut at = 0;
    for (i, c) in text.char_indices() {
        let short = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            c if c < ' ' => "",
            _ => continue,
        };
        out.push_str(&text[at..i]);
        if short.is_empty() {
            let code = u32::from(c);
            out.push_str("\\u00");
            out.push(char::from_digit(code >> 4, 16).unwrap_or('0'));
            out.push(char::from_digit(code & 0xF, 16).unwrap_or('0'));
        } else {
            out.push_str(short);
        }
        at = i + c.len_utf8();
    }
    out.push_str(&text[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_read_as_what_they_stand_for() {
        let text = r#"a\n\u00e9\ud83d\ude00\/\"\\\x\u12zz\ud800!"#;
        let (read, back) = Unescaper::whole(text);
        // `\"` as a quote; `\\`, `\x` and the lone surrogate as spaces; `\u` without
        // digits as two.
        assert_eq!(read, "a\né😀/\"      12zz      !");
        // Every boundary of what was read maps to a boundary of the text.
        for (i, _) in read.char_indices().chain([(read.len(), ' ')]) {
            let raw = back.raw_offset(i);
            assert!(text.is_char_boundary(raw));
        }
        assert_eq!(back.raw_offset(1), 1); // before `\n`
        assert_eq!(back.raw_offset(2), 3); // after it
        assert_eq!(back.raw_offset(4), 9); // after `\u00e9`
        assert_eq!(back.raw_offset(3), 3); // inside `é`: the escape's start
        assert_eq!(back.raw_offset(8), 21); // after the surrogate pair
        assert_eq!(back.raw_offset(read.len()), text.len());
        // And the way there: each boundary of what was read, from the text's offset.
        for (i, _) in read.char_indices().chain([(read.len(), ' ')]) {
            assert_eq!(back.read_offset(back.raw_offset(i)), i);
        }
        assert_eq!(back.read_offset(5), 2); // inside `\u00e9`: the start of `é`
    }

    #[test]
    fn pieces_read_as_the_whole_does() {
        let text = r#"{"k":"line\none \ud83d\ude00 jane\u0040x.io \\ \"q\" \u00e9"}"#;
        let (whole, back) = Unescaper::whole(text);
        for cut in 1..text.len() {
            let mut u = Unescaper::new();
            let mut read = String::new();
            let mut carried = String::new();
            for piece in [&text[..cut], &text[cut..]] {
                carried.push_str(piece);
                let used = u.read(&carried, true, &mut read);
                carried.drain(..used);
            }
            u.read(&carried, false, &mut read);
            assert_eq!(read, whole, "cut at {cut}");
            for i in 0..=read.len() {
                if read.is_char_boundary(i) {
                    assert_eq!(u.raw_offset(i), back.raw_offset(i), "cut {cut}, at {i}");
                }
            }
        }
    }

    #[test]
    fn forgotten_offsets_keep_later_ones() {
        let text = r"\u0041\u0042cd\u0045f";
        let (read, mut back) = Unescaper::whole(text);
        assert_eq!(read, "ABcdEf");
        let before: Vec<usize> = (0..=read.len()).map(|i| back.raw_offset(i)).collect();
        back.forget_before(4);
        for (i, raw) in before.iter().enumerate().skip(4) {
            assert_eq!(back.raw_offset(i), *raw);
        }
    }

    #[test]
    fn values_unescape_and_replacements_escape() {
        assert_eq!(
            unescape_json(r#"a\"b\\c\u00e9\x\ud800"#),
            "a\"b\\cé\\x\u{FFFD}"
        );
        let mut out = String::new();
        escape_json_into("-----BEGIN\nMII\t\"é\u{1f}", &mut out);
        assert_eq!(out, r#"-----BEGIN\nMII\t\"é\u001f"#);
        // Escaping and unescaping are inverses on any text.
        let any = "q\"\\\n\r\t\u{8}\u{c}\u{0}é😀/";
        let mut written = String::new();
        escape_json_into(any, &mut written);
        assert_eq!(unescape_json(&written), any);
        assert_eq!(
            serde_json::from_str::<String>(&format!("\"{written}\""))
                .ok()
                .as_deref(),
            Some(any)
        );
    }
}
