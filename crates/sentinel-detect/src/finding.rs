//! What a detector reports: an entity type over a byte span, with a score.

use std::fmt;
use std::sync::Arc;

/// The name of a kind of sensitive value, such as `EMAIL_ADDRESS` or `AWS_ACCESS_KEY`.
///
/// Built-in names follow Presidio where Presidio has one, and upper snake case otherwise.
/// Custom recognizers may introduce any name.
///
/// # Cloning
///
/// Cloning is a reference-count increment.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityType(Arc<str>);

impl EntityType {
    /// Makes an entity type from its name.
    pub fn new(name: &str) -> EntityType {
        EntityType(Arc::from(name))
    }

    /// The name, such as `CREDIT_CARD`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for EntityType {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for EntityType {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// The index of a recognizer inside the detector that produced a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecognizerId(pub(crate) u16);

impl RecognizerId {
    /// The id of the recognizer at `index` in a detector's catalogue, for code that stores
    /// findings and reads them back for the same detector (caches keyed by its
    /// fingerprint); meaningless for any other detector.
    pub const fn from_index(index: u16) -> RecognizerId {
        RecognizerId(index)
    }

    /// The index as a `u16`.
    pub fn index(self) -> u16 {
        self.0
    }

    /// The index as a `usize`.
    pub fn as_usize(self) -> usize {
        usize::from(self.0)
    }
}

/// One sensitive value found in a text.
///
/// `start..end` is a byte range into the text that was scanned, always on `char`
/// boundaries, so `&text[f.start..f.end]` is the value. A finding holds no copy of the
/// value, and its `Debug` output shows only the span.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// What kind of value this is.
    pub entity: EntityType,
    /// Byte offset of the first byte of the value.
    pub start: usize,
    /// Byte offset one past the last byte of the value.
    pub end: usize,
    /// Confidence in `0.0..=1.0`, after validation and context.
    pub score: f32,
    /// The recognizer that produced it.
    pub recognizer: RecognizerId,
    /// The value is written with JSON escapes: the text is JSON text (a tool call's
    /// arguments) read unescaped ([`Unescaper`](crate::Unescaper)), and the value holds an
    /// escape sequence (`jane\u0040example.com`). What it stands for is
    /// [`value`](Finding::value); what replaces it must be written escaped
    /// ([`escape_json_into`](crate::escape_json_into)). Detectors report `false`; whoever
    /// reads JSON text sets it.
    pub escaped: bool,
    /// The value reads as something else than it is written: it holds a percent escape
    /// (`jane%40example.com`), an HTML character reference (`jane&#64;example.com`) or a
    /// character that hides it (zero-width, full-width, another script's digits), which
    /// the detector read through (docs/detection.md, Obfuscation). What it reads as is
    /// [`value`](Finding::value). The local detector sets it; `false` for values that read
    /// as written.
    pub folded: bool,
}

impl Finding {
    /// The byte range of the value.
    pub fn span(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }

    /// The value in `text` (the text it was found in), as it stands: unescaped when it is
    /// [`escaped`](Finding::escaped), and read as the detector read it when it is
    /// [`folded`](Finding::folded) (percent escapes and HTML character references decoded,
    /// zero-width characters dropped, full-width and other scripts' digits as ASCII), so
    /// one value has one reading however it is written. Borrowed when it is neither.
    ///
    /// # Panics
    ///
    /// When the span is not inside `text` on `char` boundaries.
    ///
    /// # Example: an address written with an escape, as it stands
    ///
    /// ```
    /// use sentinel_detect::{EntityType, Finding, RecognizerId};
    /// let text = r#"{"to":"jane\u0040example.com"}"#;
    /// let f = Finding {
    ///     entity: EntityType::new("EMAIL_ADDRESS"),
    ///     start: 7,
    ///     end: 28,
    ///     score: 1.0,
    ///     recognizer: RecognizerId::from_index(0),
    ///     escaped: true,
    ///     folded: false,
    /// };
    /// assert_eq!(f.value(text), "jane@example.com");
    ///
    /// // In a URL's query, percent-encoded.
    /// let url = "GET /users?email=jane%40example.com";
    /// let f = Finding { start: 17, end: 35, escaped: false, folded: true, ..f };
    /// assert_eq!(f.value(url), "jane@example.com");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        use std::borrow::Cow;
        let raw = &text[self.start..self.end];
        let value = match self.escaped {
            true => Cow::Owned(crate::unescape_json(raw)),
            false => Cow::Borrowed(raw),
        };
        match self.folded {
            true => Cow::Owned(crate::normalize::folded(&value)),
            false => value,
        }
    }

    /// Whether two findings cover at least one common byte.
    pub fn overlaps(&self, other: &Finding) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// `score` kept to four decimals: in `f32`, 0.6 + 0.35 is 0.95000005 and 0.85 - 0.2 is
/// 0.65000004, which an answer would print. Every score a validator or a context word
/// computes goes through it.
pub(crate) fn four_decimals(score: f32) -> f32 {
    (score * 10_000.0).round() / 10_000.0
}

/// The 1-based line and column (in characters) of byte `offset` in `text`, as
/// configuration errors name positions (an offset past the end or inside a character is
/// moved back to the nearest boundary).
///
/// ```
/// // "!" is byte 12 and the sixth character of line 2 ("é" takes two bytes).
/// assert_eq!(sentinel_detect::line_column("a = 1\nb = é!", 12), (2, 6));
/// ```
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// Converts byte offsets into character (Unicode scalar value) offsets, for offsets given
/// in increasing order, in one pass over the text.
///
/// # Example: byte offsets to character offsets
///
/// ```
/// use sentinel_detect::CharOffsets;
/// let text = "né: a@b.io";
/// let mut offsets = CharOffsets::new(text);
/// assert_eq!(offsets.char_offset(5), 4);
/// assert_eq!(offsets.char_offset(11), 10);
/// ```
#[derive(Debug)]
pub struct CharOffsets<'t> {
    text: &'t str,
    byte: usize,
    chars: usize,
}

impl<'t> CharOffsets<'t> {
    /// Starts at the beginning of `text`.
    pub fn new(text: &'t str) -> CharOffsets<'t> {
        CharOffsets {
            text,
            byte: 0,
            chars: 0,
        }
    }

    /// The character offset of byte offset `byte`. Offsets smaller than the previous call's
    /// restart the count from the beginning, so any order is correct and increasing order
    /// is linear.
    ///
    /// # Panics
    ///
    /// When `byte` is past the end of the text or not on a `char` boundary.
    pub fn char_offset(&mut self, byte: usize) -> usize {
        assert!(
            self.text.is_char_boundary(byte),
            "byte offset {byte} is not a char boundary"
        );
        if byte < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        let between = &self.text.as_bytes()[self.byte..byte];
        // Count the bytes that start a character: all but UTF-8 continuation bytes.
        self.chars += between.iter().filter(|&&b| (b as i8) >= -0x40).count();
        self.byte = byte;
        self.chars
    }
}

#[cfg(feature = "serde")]
mod json {
    use super::{CharOffsets, Finding};

    /// A finding as it is written to JSON: Presidio's field names, character offsets in
    /// `start`/`end`, byte offsets beside them. It holds no value.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct FindingRecord {
        /// The entity type's name.
        pub entity_type: String,
        /// Character offset of the start.
        pub start: usize,
        /// Character offset one past the end.
        pub end: usize,
        /// Byte offset of the start.
        pub byte_start: usize,
        /// Byte offset one past the end.
        pub byte_end: usize,
        /// Confidence in `0.0..=1.0`.
        pub score: f32,
        /// The recognizer's name.
        pub recognizer: String,
    }

    impl FindingRecord {
        /// Makes records for `findings` (sorted by start, as detectors return them) over
        /// the `text` they were found in; `name` maps a finding to its recognizer's name.
        pub fn from_findings<'a>(
            text: &str,
            findings: &[Finding],
            mut name: impl FnMut(&Finding) -> &'a str,
        ) -> Vec<FindingRecord> {
            let mut offsets = CharOffsets::new(text);
            findings
                .iter()
                .map(|f| {
                    let start = offsets.char_offset(f.start);
                    let end = offsets.char_offset(f.end);
                    FindingRecord {
                        entity_type: f.entity.as_str().to_owned(),
                        start,
                        end,
                        byte_start: f.start,
                        byte_end: f.end,
                        score: f.score,
                        recognizer: name(f).to_owned(),
                    }
                })
                .collect()
        }
    }
}

#[cfg(feature = "serde")]
pub use json::FindingRecord;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_offsets_count_scalars_in_any_order() {
        let text = "a€b😀c";
        let mut o = CharOffsets::new(text);
        assert_eq!(o.char_offset(0), 0);
        assert_eq!(o.char_offset(4), 2);
        assert_eq!(o.char_offset(text.len()), 5);
        assert_eq!(o.char_offset(1), 1);
    }
}
