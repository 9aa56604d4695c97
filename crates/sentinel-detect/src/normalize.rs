//! Undoing obfuscation before matching: zero-width characters are dropped, full-width and
//! other Unicode digits become ASCII digits, Unicode spaces and dashes become ASCII ones,
//! and printable ASCII written as a percent escape (`jane%40example.com` in a URL's query,
//! a key's `%0A` line breaks in a form body) or an HTML character reference
//! (`jane&#64;example.com`, `&commat;`) becomes the character it stands for. The normalized
//! copy keeps the list of its edits (what it read as something else, and where that
//! stood), so a finding maps back to exact offsets in the original.
//!
//! ASCII text without an escape never needs this: the checks are one `memchr2` for `%`
//! and `&` and one `is_ascii` pass, both vectorized, and no copy is made.

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

/// Whether `v` is a byte an escape may stand for here: printable ASCII, a tab or a line
/// break. Other bytes (controls, the pieces of a UTF-8 sequence) are left as written, so
/// the decoded text is always valid UTF-8 and one byte maps to one escape.
fn decodable(v: u32) -> Option<u8> {
    match v {
        0x20..=0x7E | 0x09 | 0x0A | 0x0D => Some(v as u8),
        _ => None,
    }
}

/// HTML's named references for what hides a value (`jane&commat;example&period;com` is how
/// pages keep addresses from scrapers), and the common ones around it. `&nbsp;` reads as a
/// space and `&hyphen;`/`&dash;` as `-`, as their characters fold.
const NAMED: &[(&[u8], u8)] = &[
    (b"commat", b'@'),
    (b"period", b'.'),
    (b"plus", b'+'),
    (b"hyphen", b'-'),
    (b"dash", b'-'),
    (b"lowbar", b'_'),
    (b"colon", b':'),
    (b"sol", b'/'),
    (b"num", b'#'),
    (b"nbsp", b' '),
    (b"amp", b'&'),
    (b"lt", b'<'),
    (b"gt", b'>'),
    (b"quot", b'"'),
    (b"apos", b'\''),
];

/// The escape at `i` in `b` (a `%` or a `&`) and the byte it stands for, with its length:
/// a percent escape (`%40`, two hex digits of either case), a numeric character reference
/// (`&#64;`, `&#x40;`) or one of the [`NAMED`] references, for a [`decodable`] byte.
fn escape_at(b: &[u8], i: usize) -> Option<(u8, usize)> {
    fn hex(c: u8) -> Option<u32> {
        char::from(c).to_digit(16)
    }
    let rest = &b[i + 1..];
    if b[i] == b'%' {
        let v = hex(*rest.first()?)? << 4 | hex(*rest.get(1)?)?;
        // A quote written as a percent escape is data, never the end of a value, and
        // none of the values read through escapes holds one: left as written, so that
        // `password=Bvbb0n%2763P` is not cut at a quote it does not hold.
        if matches!(v, 0x22 | 0x27 | 0x60) {
            return None;
        }
        return Some((decodable(v)?, 3));
    }
    // A reference ends at a `;` within a few bytes: `&#x0000040;` is the longest read.
    let semi = rest.iter().take(12).position(|&c| c == b';')?;
    let name = &rest[..semi];
    let v = match name {
        [b'#', b'x' | b'X', digits @ ..] if !digits.is_empty() => digits
            .iter()
            .try_fold(0u32, |v, &c| Some(v.checked_mul(16)? + hex(c)?))?,
        [b'#', digits @ ..] if !digits.is_empty() => digits.iter().try_fold(0u32, |v, &c| {
            Some(v.checked_mul(10)? + char::from(c).to_digit(10)?)
        })?,
        _ => u32::from(NAMED.iter().find(|(n, _)| *n == name)?.1),
    };
    Some((decodable(v)?, semi + 2))
}

/// Whether `text` holds an escape that [`escape_at`] decodes where it stands.
fn has_escape(text: &str) -> bool {
    let b = text.as_bytes();
    let mut userinfo = Userinfo::new(b);
    memchr::memchr2_iter(b'%', b'&', b)
        .any(|i| escape_at(b, i).is_some() && !(b[i] == b'%' && userinfo.holds(i)))
}

/// Where a URL's user name and password may stand, read from left to right: after a `://`
/// and before the first byte a user name or password cannot hold (`@`, `/`, `?`, `#`,
/// white space, ...). A percent escape there is data, as the URL's own syntax has it
/// (`postgres://app:my%20pass%40word@db/app` holds the password `my%20pass%40word`),
/// and is read as written: decoded, its space or `@` would split the connection string
/// and leave a piece of the password to read as an e-mail address.
struct Userinfo<'b> {
    b: &'b [u8],
    /// Where the next `://` stands, from where the last one ended (searched for at the
    /// first escape only: a text without an escape never looks).
    next: Option<Option<usize>>,
    /// Where the newest `://`'s authority begins, while nothing has ended it.
    open: Option<usize>,
    /// Checked for an end up to here, from `open` on.
    checked: usize,
}

/// `://`, searched for with the vectorized searcher built once.
static URL_MARK: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new("://"));

impl<'b> Userinfo<'b> {
    fn new(b: &'b [u8]) -> Userinfo<'b> {
        Userinfo {
            b,
            next: None,
            open: None,
            checked: 0,
        }
    }

    /// Whether byte `i` (at or after the last one asked about) stands in a URL's user
    /// information. Each byte is searched and checked once over all the calls, so the
    /// text is read in linear time however many escapes it holds.
    fn holds(&mut self, i: usize) -> bool {
        let b = self.b;
        let mut next = *self.next.get_or_insert_with(|| URL_MARK.find(b));
        while let Some(k) = next.filter(|&k| k + 3 <= i) {
            self.open = Some(k + 3);
            self.checked = k + 3;
            next = URL_MARK.find(&b[k + 3..]).map(|x| k + 3 + x);
        }
        self.next = Some(next);
        if self.open.is_none() {
            return false;
        }
        // RFC 3986's unreserved characters, escapes, sub-delimiters and `:`.
        let userinfo = |c: u8| c.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:".contains(&c);
        if b[self.checked..i].iter().all(|&c| userinfo(c)) {
            self.checked = i;
            true
        } else {
            self.open = None;
            false
        }
    }
}

/// A piece of a text as [`fold_pieces`] reads it.
enum Piece<'t> {
    /// A run read as written.
    Same(&'t str),
    /// A character or an escape (at `start..end` of the text) read as `Some` character, or
    /// dropped (`None`).
    Folded(Option<char>, usize, usize),
}

/// Where the next byte at or after `from` that may not read as written stands: a `%`, a
/// `&` or a byte of a non-ASCII character; `b.len()` when there is none.
fn next_special(b: &[u8], from: usize) -> usize {
    let special = |c: u8| c >= 0x80 || c == b'%' || c == b'&';
    let mut i = from;
    // Sixteen bytes at a time, with no early exit inside a block (a 4 KB prompt with one
    // escape scans in 5.3 us against 4.5 us without; docs/detection.md).
    while let Some(block) = b.get(i..i + 16) {
        if block.iter().fold(false, |any, &c| any | special(c)) {
            break;
        }
        i += 16;
    }
    i + b[i..]
        .iter()
        .position(|&c| special(c))
        .unwrap_or(b.len() - i)
}

/// Calls `each` with the pieces of `text` in order: runs read as written, and each
/// character or escape read as something else.
fn fold_pieces<'t>(text: &'t str, mut each: impl FnMut(Piece<'t>)) {
    let b = text.as_bytes();
    let mut userinfo = Userinfo::new(b);
    let mut i = 0;
    while i < b.len() {
        let j = next_special(b, i);
        if j > i {
            each(Piece::Same(&text[i..j]));
        }
        if j == b.len() {
            break;
        }
        i = if b[j].is_ascii() {
            match escape_at(b, j).filter(|_| !(b[j] == b'%' && userinfo.holds(j))) {
                Some((v, len)) => {
                    each(Piece::Folded(Some(char::from(v)), j, j + len));
                    j + len
                }
                None => {
                    each(Piece::Same(&text[j..=j]));
                    j + 1
                }
            }
        } else {
            let c = text[j..].chars().next().unwrap_or_default();
            let end = j + c.len_utf8();
            each(match fold(c) {
                Fold::Keep => Piece::Same(&text[j..end]),
                Fold::Drop => Piece::Folded(None, j, end),
                Fold::Ascii(a) => Piece::Folded(Some(char::from(a)), j, end),
            });
            end
        };
    }
}

/// `value` as the detector reads it: escapes decoded, obfuscation undone.
pub(crate) fn folded(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    fold_pieces(value, |p| match p {
        Piece::Same(s) => out.push_str(s),
        Piece::Folded(c, _, _) => out.extend(c),
    });
    out
}

/// One character or escape read as something else: `norm_start..norm_end` of the
/// normalized text (empty when it was dropped) came from `orig_start..orig_end`.
#[derive(Clone, Copy, Debug)]
struct Edit {
    norm_start: u32,
    norm_end: u32,
    orig_start: u32,
    orig_end: u32,
}

/// A normalized copy of a text with the way back to the original's offsets: the edits
/// only, since every byte between two edits is the original's, shifted.
#[derive(Debug, Default)]
pub(crate) struct Normalized {
    pub(crate) text: String,
    /// In text order (a dropped character before what replaces the next one).
    edits: Vec<Edit>,
}

impl Normalized {
    /// Gives back capacity past `bytes` bytes of text (and as many edits).
    pub(crate) fn shrink_to(&mut self, bytes: usize) {
        self.text.shrink_to(bytes);
        self.edits.shrink_to(bytes / 16);
    }

    /// Normalizes `text` into `self` when it needs it; returns false when `text` is
    /// already in normal form (`self` then holds nothing of use).
    pub(crate) fn normalize(&mut self, text: &str) -> bool {
        if text.is_ascii() && !has_escape(text) {
            return false;
        }
        self.text.clear();
        self.edits.clear();
        let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        fold_pieces(text, |p| match p {
            Piece::Same(s) => self.text.push_str(s),
            Piece::Folded(c, start, end) => {
                let norm_start = at(self.text.len());
                self.text.extend(c);
                self.edits.push(Edit {
                    norm_start,
                    norm_end: at(self.text.len()),
                    orig_start: at(start),
                    orig_end: at(end),
                });
            }
        });
        !self.edits.is_empty()
    }

    /// The original offset of byte `x` of the normalized text: its start, or with `end`
    /// its end.
    fn original(&self, x: usize, end: bool) -> usize {
        let i = self.edits.partition_point(|e| e.norm_start as usize <= x);
        let Some(e) = i.checked_sub(1).map(|i| self.edits[i]) else {
            return x + usize::from(end);
        };
        if e.norm_end as usize > x {
            return if end { e.orig_end } else { e.orig_start } as usize;
        }
        e.orig_end as usize + (x - e.norm_end as usize) + usize::from(end)
    }

    /// Maps a span of the normalized text back to the original. Characters dropped inside
    /// the span are covered; those just outside it are not.
    pub(crate) fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        (self.original(start, false), self.original(end - 1, true))
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

    #[test]
    fn percent_escapes_read_as_what_they_stand_for() {
        let mut n = Normalized::default();
        assert!(!n.normalize("grew 20% to 40%, 100%"));
        assert!(!n.normalize("%zz %4 %C3%A9 %00 end%"));
        // Quotes stay as written: data in a URL, not a value's end.
        assert!(!n.normalize("pw=ab%27cd%22ef%60"));
        let text = "?to=jane%40Example.com&k=%2d%0A%C3%A9 ５%";
        assert!(n.normalize(text));
        assert_eq!(n.text, "?to=jane@Example.com&k=-\n%C3%A9 5%");
        let at = n.text.find('@').expect("decoded");
        let (s, e) = n.original_span(at - 4, at + 12);
        assert_eq!(&text[s..e], "jane%40Example.com");
        let five = n.text.find('5').expect("folded");
        assert_eq!(
            n.original_span(five, five + 1),
            (text.len() - 4, text.len() - 1)
        );
    }

    #[test]
    fn percent_escapes_in_a_urls_user_and_password_stay_as_written() {
        let mut n = Normalized::default();
        // Data in the password: a space, an `@`, a `/`.
        assert!(!n.normalize("postgres://app:my%20secret%40pw%2Fx@db.internal:5432/app"));
        assert!(!n.normalize("amqp://us%40er:p%3Ass@mq"));
        // After the authority (path, query) and outside URLs they read as before.
        let text = "https://u:p%20w@host/a%20b?to=jane%40example.com and x%40y.org";
        assert!(n.normalize(text));
        assert_eq!(
            n.text,
            "https://u:p%20w@host/a b?to=jane@example.com and x@y.org"
        );
        // White space, a quote or a second URL ends one; a URL that begins again
        // opens its own.
        let text = "see ftp://host :p%20w@x 'http://a:b%20c@d' ";
        assert!(n.normalize(text));
        assert_eq!(n.text, "see ftp://host :p w@x 'http://a:b%20c@d' ");
        assert_eq!(folded("http://a:b%20c@d"), "http://a:b%20c@d");
        assert_eq!(folded("b%20c@d"), "b c@d");
    }

    /// `text` normalized, once `folded` is checked to read it alike (`None`: it needed no
    /// copy, and `folded` leaves it as it is).
    fn read_alike(text: &str) -> Result<Option<Normalized>, proptest::test_runner::TestCaseError> {
        let mut n = Normalized::default();
        if !n.normalize(text) {
            proptest::prop_assert_eq!(folded(text), text);
            return Ok(None);
        }
        proptest::prop_assert_eq!(&folded(text), &n.text);
        Ok(Some(n))
    }

    proptest::proptest! {
        /// With URLs about, the text is read in one pass: the normalized copy is what
        /// `folded` reads, a text is copied only when it has an edit, and every prefix
        /// maps back to the original's prefix that reads as it.
        #[test]
        fn escapes_in_and_out_of_urls_read_alike_in_every_pass(
            parts in proptest::collection::vec(0usize..12, 0..60),
        ) {
            const PIECES: &[&str] = &[
                "://", "%20", "%40", "@", "/", " ", "a", ":", "?", "%2", "&#64;", "é",
            ];
            let text: String = parts.iter().map(|&i| PIECES[i]).collect();
            let Some(n) = read_alike(&text)? else {
                return Ok(());
            };
            for e in (1..=n.text.len()).filter(|&i| n.text.is_char_boundary(i)) {
                let (_, oe) = n.original_span(0, e);
                proptest::prop_assert_eq!(folded(&text[..oe]), &n.text[..e]);
            }
        }

        /// Every span of the normalized text maps back to a span of the original that
        /// reads as it: the edits and the shifted runs between them agree.
        #[test]
        fn every_span_maps_back_to_what_reads_as_it(
            parts in proptest::collection::vec(0usize..16, 0..40),
            cuts in proptest::collection::vec((0usize..400, 0usize..400), 1..20),
        ) {
            const PIECES: &[&str] = &[
                "ab", "x", " ", "%40", "&#64;", "&amp;", "\u{200B}", "\u{a0}", "５", "é", "%zz",
                "&amp", "%", "&", "用户", "7",
            ];
            let text: String = parts.iter().map(|&i| PIECES[i]).collect();
            let Some(n) = read_alike(&text)? else {
                return Ok(());
            };
            let bounds: Vec<usize> = (0..=n.text.len()).filter(|&i| n.text.is_char_boundary(i)).collect();
            for (a, b) in cuts {
                let (s, e) = (bounds[a % bounds.len()], bounds[b % bounds.len()]);
                if s >= e {
                    continue;
                }
                let (os, oe) = n.original_span(s, e);
                proptest::prop_assert_eq!(folded(&text[os..oe]), &n.text[s..e], "{}..{}", os, oe);
            }
        }
    }

    #[test]
    fn character_references_read_as_what_they_stand_for() {
        let mut n = Normalized::default();
        assert!(!n.normalize("R&D; Q&A & more &copy; &#1; &#xZZ; &#; &unknown; &amp"));
        let text = "jane&#64;x&period;com li&commat;y&#x2E;org &#X2b;1&nbsp;415 &amp;&#00000064;";
        assert!(n.normalize(text));
        assert_eq!(n.text, "jane@x.com li@y.org +1 415 &@");
        let (s, e) = n.original_span(0, 10);
        assert_eq!(&text[s..e], "jane&#64;x&period;com");
    }
}
