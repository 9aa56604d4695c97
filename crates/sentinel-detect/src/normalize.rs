//! Undoing obfuscation before matching: zero-width characters are dropped, full-width and
//! other Unicode digits become ASCII digits, Unicode spaces and dashes become ASCII ones.
//! Every byte of the normalized text remembers the character it came from, so a finding
//! maps back to exact offsets in the original.
//!
//! ASCII text never needs this: the check is one `is_ascii` pass, vectorized by the
//! standard library, and no copy is made.

/// Zero points of the Unicode decimal digit (Nd) runs outside ASCII: `c - zero` is the
/// digit's value when `zero <= c < zero + 10`.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// What a non-ASCII character becomes for matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fold {
    Keep,
    Drop,
    Ascii(u8),
}

fn fold(c: char) -> Fold {
    let u = c as u32;
    match u {
        // Zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen, Mongolian
        // vowel separator, invisible times/separator/plus.
        0x200B..=0x200D | 0x2060..=0x2064 | 0xFEFF | 0x00AD | 0x180E => Fold::Drop,
        // No-break, en/em and other fixed-width spaces, narrow no-break, ideographic.
        0x00A0 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000 => Fold::Ascii(b' '),
        // Hyphens, figure dash, en and em dash, minus sign, small and full-width hyphen.
        0x2010..=0x2015 | 0x2212 | 0xFE63 | 0xFF0D => Fold::Ascii(b'-'),
        // Full-width ASCII.
        0xFF01..=0xFF5E => Fold::Ascii((u - 0xFEE0) as u8),
        _ => {
            if !c.is_numeric() {
                return Fold::Keep;
            }
            let i = DIGIT_ZEROS.partition_point(|&z| z <= u);
            match i.checked_sub(1).map(|i| DIGIT_ZEROS[i]) {
                Some(z) if u < z + 10 => Fold::Ascii(b'0' + (u - z) as u8),
                _ => Fold::Keep,
            }
        }
    }
}

/// A normalized copy of a text with the way back to the original's offsets.
#[derive(Debug, Default)]
pub(crate) struct Normalized {
    pub(crate) text: String,
    /// For each byte of `text`, the original start of the character it came from.
    starts: Vec<u32>,
    /// For each byte of `text`, the original end of the character it came from.
    ends: Vec<u32>,
}

impl Normalized {
    /// Gives back capacity past `bytes` bytes of text (and its offsets).
    pub(crate) fn shrink_to(&mut self, bytes: usize) {
        self.text.shrink_to(bytes);
        self.starts.shrink_to(bytes);
        self.ends.shrink_to(bytes);
    }

    /// Normalizes `text` into `self` when it needs it; returns false (and leaves `self`
    /// untouched) when `text` is already in normal form.
    pub(crate) fn normalize(&mut self, text: &str) -> bool {
        if text.is_ascii() || !text.chars().any(|c| !c.is_ascii() && fold(c) != Fold::Keep) {
            return false;
        }
        self.text.clear();
        self.starts.clear();
        self.ends.clear();
        for (i, c) in text.char_indices() {
            let (start, end) = (i as u32, (i + c.len_utf8()) as u32);
            let before = self.text.len();
            match if c.is_ascii() { Fold::Keep } else { fold(c) } {
                Fold::Drop => continue,
                Fold::Ascii(b) => self.text.push(char::from(b)),
                Fold::Keep => self.text.push(c),
            }
            for _ in before..self.text.len() {
                self.starts.push(start);
                self.ends.push(end);
            }
        }
        true
    }

    /// Maps a span of the normalized text back to the original. Characters dropped inside
    /// the span are covered; those just outside it are not.
    pub(crate) fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        (self.starts[start] as usize, self.ends[end - 1] as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_left_alone() {
        let mut n = Normalized::default();
        assert!(!n.normalize("plain 4111 text"));
        assert!(!n.normalize("naïve café, no tricks"));
    }

    #[test]
    fn folds_and_maps_back() {
        let mut n = Normalized::default();
        let text = "card ４１\u{200B}1١ end";
        assert!(n.normalize(text));
        assert_eq!(n.text, "card 4111 end");
        let (s, e) = n.original_span(5, 9);
        assert_eq!(&text[s..e], "４１\u{200B}1١");
    }
}
