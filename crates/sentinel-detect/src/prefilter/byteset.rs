//! A set of trigger bytes (digits, `@`, `:`...), found eight bytes at a time.

use super::{Prefilter, Sink};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Trigger bytes, each mapped to the groups it triggers.
#[derive(Clone, Debug)]
pub(crate) struct ByteSet {
    groups: Box<[u64; 256]>,
    /// When every trigger byte is ASCII, the inclusive range they span: a word of eight
    /// bytes with none in that range is skipped whole.
    range: Option<(u8, u8)>,
}

impl ByteSet {
    pub(crate) fn new() -> ByteSet {
        ByteSet {
            groups: Box::new([0; 256]),
            range: None,
        }
    }

    /// Adds `bytes` as triggers of group `group`.
    pub(crate) fn add(&mut self, group: usize, bytes: &[u8]) {
        for &b in bytes {
            self.groups[usize::from(b)] |= 1 << group;
        }
        let is_member = |b: &u8| self.groups[usize::from(*b)] != 0;
        let lo = (0..=255u8).find(is_member);
        let hi = (0..=255u8).rev().find(is_member);
        self.range = match (lo, hi) {
            (Some(lo), Some(hi)) if hi < 0x80 => Some((lo, hi)),
            _ => None,
        };
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.groups.iter().all(|&g| g == 0)
    }

    /// The groups byte `b` triggers.
    #[inline]
    pub(crate) fn groups_of(&self, b: u8) -> u64 {
        self.groups[usize::from(b)]
    }
}

/// Whether any byte `b` of `x` has `lo <= b <= hi`, for `hi < 0x80`. Bytes at or above
/// 0x80 never count. (The "has between" word trick from Bit Twiddling Hacks.)
#[inline]
fn has_in_range(x: u64, lo: u8, hi: u8) -> bool {
    let m = u64::from(lo) - 1; // lo >= 1 is ensured by the caller
    let n = u64::from(hi) + 1;
    let low7 = x & (LO * 127);
    ((LO * (127 + n)).wrapping_sub(low7) & !x & low7.wrapping_add(LO * (127 - m)) & HI) != 0
}

impl Prefilter for ByteSet {
    fn find_all(&self, haystack: &[u8], sink: &mut dyn Sink) {
        let mut i = 0;
        let range = self.range.filter(|&(lo, _)| lo >= 1);
        while i < haystack.len() {
            if let Some((lo, hi)) = range {
                // Skip whole words that hold no byte in the trigger range.
                while i + 16 <= haystack.len() {
                    let a = u64::from_le_bytes(haystack[i..i + 8].try_into().unwrap_or([0; 8]));
                    let b =
                        u64::from_le_bytes(haystack[i + 8..i + 16].try_into().unwrap_or([0; 8]));
                    if has_in_range(a, lo, hi) || has_in_range(b, lo, hi) {
                        break;
                    }
                    i += 16;
                }
            }
            let stop = (i + 16).min(haystack.len());
            while i < stop {
                let g = self.groups_of(haystack[i]);
                if g == 0 {
                    i += 1;
                    continue;
                }
                // One report for a run of bytes that trigger the same groups.
                let mut j = i + 1;
                while j < haystack.len() && self.groups_of(haystack[j]) == g {
                    j += 1;
                }
                let resume = sink.trigger(g, i, j);
                i = j;
                // Skip the triggers the sink says change nothing, but never one that
                // belongs to a group this trigger did not report to.
                while i < resume && self.groups_of(haystack[i]) & !g == 0 {
                    i += 1;
                }
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<usize>);
    impl Sink for Collect {
        fn trigger(&mut self, _: u64, start: usize, end: usize) -> usize {
            self.0.extend(start..end);
            end
        }
    }

    #[test]
    fn word_trick_agrees_with_the_table() {
        let mut set = ByteSet::new();
        set.add(0, b"0123456789@:");
        let text =
            "no digits in this line at all, none; but é and 7 and x@y: plus 😀 then 42".repeat(3);
        let mut got = Collect(Vec::new());
        set.find_all(text.as_bytes(), &mut got);
        let want: Vec<usize> = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| b.is_ascii_digit() || *b == b'@' || *b == b':')
            .map(|(i, _)| i)
            .collect();
        assert_eq!(got.0, want);
        for x in [0u64, u64::MAX, 0x3030_3030_3030_3030, 0x8080_8080_8080_80b9] {
            let bytes = x.to_le_bytes();
            let want = bytes.iter().any(|&b| (b'0'..=b'@').contains(&b));
            assert_eq!(has_in_range(x, b'0', b'@'), want, "{x:#x}");
        }
    }
}
