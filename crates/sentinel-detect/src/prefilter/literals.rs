//! Literal triggers (key prefixes such as `AKIA` or `ghp_`, context anchors such as
//! `passport`), found with one Aho-Corasick automaton whose own SIMD prefilter skips text
//! that holds none of them.

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

use super::{buckets, Prefilter, Sink};

#[derive(Clone, Debug)]
pub(crate) struct Literals {
    ac: AhoCorasick,
    /// Groups per automaton pattern.
    groups: Vec<u64>,
}

impl Literals {
    /// Builds from `(literal, group)` pairs. A literal that is a prefix of another shares
    /// the other's groups, since at one position the automaton reports only one of them.
    pub(crate) fn new(pairs: &[(Vec<u8>, usize)]) -> Option<Literals> {
        if pairs.is_empty() {
            return None;
        }
        let mut lits: Vec<Vec<u8>> = Vec::new();
        let mut groups: Vec<u64> = Vec::new();
        for (lit, g) in pairs {
            match lits.iter().position(|l| l == lit) {
                Some(i) => groups[i] |= 1 << g,
                None => {
                    lits.push(lit.clone());
                    groups.push(1 << g);
                }
            }
        }
        // The automaton's SIMD prefilter (Teddy) puts literals in buckets by their order
        // and stops wherever a bucket's nibble masks match; `buckets::order` picks the order
        // against a model of text (docs/performance.md, "Literal buckets").
        let order = buckets::order(&lits);
        let lits: Vec<Vec<u8>> = order.iter().map(|&i| lits[i].clone()).collect();
        let groups: Vec<u64> = order.iter().map(|&i| groups[i]).collect();
        let shared: Vec<u64> = (0..lits.len())
            .map(|i| {
                (0..lits.len())
                    .filter(|&j| lits[j].starts_with(&lits[i]) || lits[i].starts_with(&lits[j]))
                    .fold(0, |acc, j| acc | groups[j])
            })
            .collect();
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&lits)
            .ok()?;
        Some(Literals { ac, groups: shared })
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.ac.memory_usage() + self.groups.len() * 8
    }
}

impl Prefilter for Literals {
    fn find_all(&self, haystack: &[u8], sink: &mut dyn Sink) {
        let mut at = 0;
        while at < haystack.len() {
            let Some(m) = self.ac.find(Input::new(haystack).range(at..)) else {
                break;
            };
            let resume = sink.trigger(self.groups[m.pattern().as_usize()], m.start(), m.end());
            // Restart one byte later at the earliest, not at the end: literals may overlap.
            at = resume.min(m.end()).max(m.start() + 1);
        }
    }
}
