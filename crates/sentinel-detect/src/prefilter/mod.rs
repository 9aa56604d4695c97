//! Prefilters: the cheap first pass that finds where a pattern could possibly match, so the
//! pattern program runs on small windows instead of the whole text.
//!
//! # Contract
//!
//! A prefilter may report positions where nothing matches (false positives), never miss a
//! position where a match's trigger stands (no false negatives). Each kind lives in its own
//! file and reports every trigger it finds, in increasing order, to a sink.

mod buckets;
mod byteset;
mod literals;

pub(crate) use byteset::ByteSet;
pub(crate) use literals::Literals;

/// Receives trigger occurrences: `groups` is a bit mask of the pattern groups the trigger
/// belongs to, `start..end` its span in the text. Returns the first position at which a
/// further trigger could change anything (at least `end`): triggers before it are skipped.
pub(crate) trait Sink {
    fn trigger(&mut self, groups: u64, start: usize, end: usize) -> usize;
}

/// A prefilter over one haystack.
pub(crate) trait Prefilter {
    /// Reports every trigger in `haystack` to `sink`, in increasing order of start.
    fn find_all(&self, haystack: &[u8], sink: &mut dyn Sink);
}
