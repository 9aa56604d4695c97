//! Context words: words near a candidate ("card", "ssn", "passport") that raise its score,
//! or that a recognizer requires.

use aho_corasick::{AhoCorasick, Input, MatchKind};

/// Bytes before a value searched for context words.
pub(crate) const BEFORE: usize = 64;
/// Bytes after a value searched for context words.
pub(crate) const AFTER: usize = 32;
/// How much a context word raises a score (capped at 1.0), as in Presidio.
pub(crate) const BOOST: f32 = 0.35;

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
    /// `AFTER` bytes after `end`.
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
            if word_start {
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
    }
}
