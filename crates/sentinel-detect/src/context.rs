//! Context words: words near a candidate ("card", "ssn", "passport") that raise its score,
//! or that a recognizer requires.

use aho_corasick::{AhoCorasick, Input, MatchKind};

/// Bytes before a value searched for context words: about five words, as Presidio reads.
/// Longer reaches let a label from the previous sentence raise an unrelated number.
pub(crate) const BEFORE: usize = 40;
/// Bytes after a value searched for context words: room for a short suffix such as
/// "(visa)", not for the next sentence.
pub(crate) const AFTER: usize = 8;
/// How much a context word raises a score (capped at 1.0), as in Presidio.
pub const BOOST: f32 = 0.35;

/// `score` raised by [`BOOST`], capped at 1.0, kept to four decimals
/// ([`four_decimals`](crate::finding::four_decimals)).
pub(crate) fn boosted(score: f32) -> f32 {
    crate::finding::four_decimals((score + BOOST).min(1.0))
}

/// A recognizer's context words, matched ASCII case-insensitively at the start of a word.
#[derive(Clone, Debug)]
pub(crate) struct Context {
    ac: AhoCorasick,
}

impl Context {
    pub(crate) fn new(words: &[String]) -> Option<Context> {
        if words.is_empty() {
            return None;
        }
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(words)
            .ok()?;
        Some(Context { ac })
    }

    /// Whether a context word starts within `BEFORE` bytes before `start` and ends within
    /// `AFTER` bytes after `end`, with no other number (three digits or more) between it
    /// and the value: a label belongs to the nearest value, not to the next one along; and
    /// one after the value followed by `:` or `=` is the next value's label.
    pub(crate) fn near(&self, text: &str, start: usize, end: usize) -> bool {
        let hay = text.as_bytes();
        let lo = start.saturating_sub(BEFORE);
        let hi = (end + AFTER).min(hay.len());
        let mut at = lo;
        while at < hi {
            let Some(m) = self.ac.find(Input::new(hay).range(at..hi)) else {
                return false;
            };
            let word_start = m.start() == 0 || !hay[m.start() - 1].is_ascii_alphanumeric();
            let between = if m.end() <= start {
                &hay[m.end()..start]
            } else if m.start() >= end {
                &hay[end..m.start()]
            } else {
                &[][..]
            };
            // A word after the value that a `:` or `=` follows labels the next value
            // ("... 3898 Mobile: +44 ..."), not this one.
            let labels_next = m.start() >= end && labels(&hay[m.end()..]);
            if word_start && !has_number(between) && !ends_sentence(between) && !labels_next {
                return true;
            }
            at = m.start() + 1;
        }
        false
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.ac.memory_usage()
    }
}

/// Abbreviations whose period does not end a sentence ("account no. 123").
const ABBREVIATIONS: &[&[u8]] = &[
    b"no", b"nr", b"num", b"acct", b"tel", b"ph", b"ext", b"dob", b"id", b"ref", b"e.g", b"i.e",
];

/// Whether `bytes` holds the end of a sentence: `.`, `!` or `?` followed by white space,
/// where the period does not close a known abbreviation. A label in one sentence does not
/// describe a value in the next.
fn ends_sentence(bytes: &[u8]) -> bool {
    bytes.windows(2).enumerate().any(|(i, w)| {
        if !matches!(w[0], b'.' | b'!' | b'?') || !w[1].is_ascii_whitespace() {
            return false;
        }
        if w[0] != b'.' {
            return true;
        }
        let word_start = bytes[..i]
            .iter()
            .rposition(|b| !b.is_ascii_alphabetic())
            .map_or(0, |p| p + 1);
        let word = bytes[word_start..i].to_ascii_lowercase();
        !ABBREVIATIONS.contains(&word.as_slice())
    })
}

/// How far after a word a number makes the word its label ("Call me at 465...").
const LABEL_REACH: usize = 16;

/// Whether `rest`, what follows a word, makes it a label: a `:` or `=` after at most one
/// space, or, after one space, a token that starts with a digit or `+`, a number (three
/// digits or more) within a few words (`... 4600 Call me at 465.780.6466`), or a token
/// that holds an `@` within an address's length (`... 3898 Contact jane@example.com`): the
/// next value's word, not this one's. A token ends at white space or at a letter of
/// Chinese, Japanese or Korean, each a word of its own (as a stream scanner reads them:
/// what decides a value must lie within a few words after it). Written against what
/// follows, as those scripts are, a word is a label when a digit follows it at once, or
/// a character past ASCII and then a number within the same reach (`... 9333
/// 联系电话143 0744 5803`: the phone's word, not the number before it).
fn labels(rest: &[u8]) -> bool {
    let Some(after) = rest.strip_prefix(b" ") else {
        return match rest.first() {
            Some(b':' | b'=' | b'0'..=b'9') => true,
            Some(&b) if b >= 0x80 => has_number(&rest[..rest.len().min(LABEL_REACH)]),
            _ => false,
        };
    };
    // Within an address's length: a character cut there is left out.
    let address = || {
        after[..after.len().min(254)]
            .utf8_chunks()
            .next()
            .map_or("", |c| c.valid())
            .chars()
            .take_while(|&c| !c.is_ascii_whitespace() && !crate::stream::is_cjk_letter(c))
            .any(|c| c == '@')
    };
    matches!(after.first(), Some(b':' | b'=' | b'+' | b'0'..=b'9'))
        || has_number(&after[..after.len().min(LABEL_REACH)])
        || address()
}

/// Whether `bytes` holds a run of three or more ASCII digits.
fn has_number(bytes: &[u8]) -> bool {
    let mut run = 0;
    for &b in bytes {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 3 {
            return true;
        }
    }
    false
}

/// The spellings of a context word that a literal trigger looks for: as written in lower
/// case, Capitalized and UPPER case.
pub(crate) fn trigger_spellings(word: &str) -> Vec<Vec<u8>> {
    let lower = word.to_ascii_lowercase();
    let mut title = lower.clone().into_bytes();
    if let Some(first) = title.first_mut() {
        first.make_ascii_uppercase();
    }
    let mut out = vec![
        lower.clone().into_bytes(),
        title,
        word.to_ascii_uppercase().into_bytes(),
    ];
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_words_at_word_starts_only() {
        let c = Context::new(&["card".to_owned()]).unwrap_or_else(|| unreachable!());
        let text = "my CARD number is 4111";
        assert!(c.near(text, 18, 22));
        assert!(!c.near("discard this 4111", 13, 17));
        assert!(!c.near(&format!("card {} 4111", "x".repeat(80)), 86, 90));
        assert!(!c.near("4111 then later in the next sentence a card", 0, 4));
        assert!(!c.near("card 4111111111111111 and 5555", 26, 30));
        assert!(!c.near("pay by card. Then 4111", 18, 22));
        let acct = Context::new(&["account".to_owned()]).unwrap_or_else(|| unreachable!());
        assert!(acct.near("account no. 12345678", 12, 20));
        // After the value: a suffix counts, the next value's label does not.
        let mobile = Context::new(&["mobile".to_owned()]).unwrap_or_else(|| unreachable!());
        assert!(mobile.near("309 259 3898 (mobile)", 0, 12));
        assert!(!mobile.near("309 259 3898 Mobile: +55648183401", 0, 12));
        assert!(!mobile.near("309 259 3898 mobile =+55648183401", 0, 12));
        let contact = Context::new(&["contact".to_owned()]).unwrap_or_else(|| unreachable!());
        assert!(!contact.near("363 470 1374 Contact jane@example.com", 0, 12));
        assert!(!contact.near("363 470 1374 contact 0800 123 456", 0, 12));
        assert!(contact.near("363 470 1374 contact us", 0, 12));
        let call = Context::new(&["call".to_owned()]).unwrap_or_else(|| unreachable!());
        assert!(!call.near("656 971 4600 Call me at 465.780.6466", 0, 12));
        assert!(call.near("656 971 4600 call me at 9am", 0, 12));
        // Written against what follows: the next number's word when one follows within
        // the reach, this one's otherwise.
        let cn = Context::new(&["联系".to_owned()]).unwrap_or_else(|| unreachable!());
        assert!(!cn.near("353 465 9333 联系电话143 0744 5803", 0, 12));
        assert!(!cn.near("353 465 9333 联系13800138000", 0, 12));
        assert!(cn.near("353 465 9333 联系我", 0, 12));
        assert!(mobile.near("309 259 3898 mobile", 0, 12));
        assert!(!mobile.near("309 259 3898 mobile0800123456", 0, 12));
    }
}
