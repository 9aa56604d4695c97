//! Literal triggers (key prefixes such as `AKIA` or `ghp_`, context anchors such as
//! `passport`), found with Aho-Corasick automata whose own SIMD prefilter (Teddy) skips
//! text that holds none of them.
//!
//! aho-corasick builds Teddy for at most [`PART`] literals; past that one automaton would
//! run without it, and a scan of prose took 3.3 times the instructions at 65 literals as at
//! 64 (callgrind, docs/performance.md). So
//! the literals are split into parts of at most [`PART`], in the order given (the built-in
//! catalogue fills the first; a custom recognizer's prefixes or context words open a
//! second), the first an automaton with Teddy, the others Teddy alone, and the parts'
//! matches are merged in order.

use aho_corasick::{packed, AhoCorasick, AhoCorasickKind, Input, Match, MatchKind, Span};

use super::{buckets, Prefilter, Sink};

/// The most literals aho-corasick builds Teddy for.
const PART: usize = 64;

#[derive(Clone, Debug)]
pub(crate) struct Literals {
    /// At least one.
    parts: Vec<Part>,
}

/// One automaton and the groups of its literals.
#[derive(Clone, Debug)]
struct Part {
    finder: Finder,
    /// Groups per automaton pattern.
    groups: Vec<u64>,
    /// Per automaton pattern, the first offset past its start at which a literal (of any
    /// part) may start inside a match of it: `passport` inside `--passport`, 2 past the
    /// start of `--pass`; its length when none may. The search resumes there at the
    /// latest, whatever the sink skips, or the other literal's trigger would be lost.
    restart: Vec<usize>,
}

/// What searches a part: an Aho-Corasick automaton with Teddy as its prefilter (the
/// first part), or Teddy alone (the parts after it, where the automaton would pick a
/// byte scan for a few literals).
#[derive(Clone, Debug)]
enum Finder {
    Automaton(AhoCorasick),
    Packed(packed::Searcher),
}

impl Part {
    fn find(&self, haystack: &[u8], at: usize) -> Option<Match> {
        match &self.finder {
            Finder::Automaton(ac) => ac.find(Input::new(haystack).range(at..)),
            Finder::Packed(p) => p.find_in(haystack, Span::from(at..haystack.len())),
        }
    }

    fn memory_usage(&self) -> usize {
        let finder = match &self.finder {
            Finder::Automaton(ac) => ac.memory_usage(),
            Finder::Packed(p) => p.memory_usage(),
        };
        finder + self.groups.len() * 8 + self.restart.len() * 8
    }
}

impl Literals {
    /// Builds from `(literal, group)` pairs. A literal that is a prefix of another shares
    /// the other's groups, since at one position only one of them is reported (two
    /// literals that match at one position are always so related).
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
        let restart: Vec<usize> = lits
            .iter()
            .map(|a| {
                (1..a.len())
                    .find(|&k| {
                        lits.iter().any(|b| {
                            let n = (a.len() - k).min(b.len());
                            a[k..k + n] == b[..n]
                        })
                    })
                    .unwrap_or(a.len())
            })
            .collect();
        let shared: Vec<u64> = (0..lits.len())
            .map(|i| {
                (0..lits.len())
                    .filter(|&j| lits[j].starts_with(&lits[i]) || lits[i].starts_with(&lits[j]))
                    .fold(0, |acc, j| acc | groups[j])
            })
            .collect();
        // Parts in the order given, all but the last full: the built-in catalogue's
        // literals come first, so its automaton and its chosen buckets are the same
        // whatever a configuration adds, and what is added pays for a pass of its own.
        // Parts of sorted neighbours had moved a built-in literal out and searched the
        // set left in again, whose buckets then stopped where they had not: one literal
        // past 64 cost generated prose from +1.6% to +53% by where it sorted
        // (docs/performance.md, "Literal buckets").
        let parts = lits
            .chunks(PART)
            .enumerate()
            .map(|(i, part)| {
                let first = i * PART;
                // Teddy puts literals in buckets by their order and stops wherever a
                // bucket's nibble masks match; `buckets::order` picks the order against a
                // model of text (docs/performance.md, "Literal buckets").
                let order = buckets::order(part);
                let ordered = || order.iter().map(|&k| &part[k]);
                // After the first part, Teddy itself: for a few literals aho-corasick
                // scans with `memchr` for their first or rarest bytes instead, which in
                // prose stop at every `a` or `c` (`acme_` alone: prose 2x), where Teddy
                // costs one pass whatever the literals (prose +16%).
                let packed = (i > 0)
                    .then(|| packed::Config::new().builder().extend(ordered()).build())
                    .flatten();
                let finder = match packed {
                    Some(p) => Finder::Packed(p),
                    None => Finder::Automaton(
                        AhoCorasick::builder()
                            .match_kind(MatchKind::LeftmostFirst)
                            .kind(Some(AhoCorasickKind::DFA))
                            .build(ordered())
                            .ok()?,
                    ),
                };
                let groups = order.iter().map(|&k| shared[first + k]).collect();
                let restart = order.iter().map(|&k| restart[first + k]).collect();
                Some(Part {
                    finder,
                    groups,
                    restart,
                })
            })
            .collect::<Option<Vec<Part>>>()?;
        Some(Literals { parts })
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.parts.iter().map(Part::memory_usage).sum()
    }
}

impl Prefilter for Literals {
    fn find_all(&self, haystack: &[u8], sink: &mut dyn Sink) {
        // One part (the built-in catalogue, and any set of 64 literals or fewer): its
        // matches in order, with no merge state to allocate per scan.
        if let [part] = self.parts.as_slice() {
            let mut at = 0;
            while at < haystack.len() {
                let Some(m) = part.find(haystack, at) else {
                    break;
                };
                let p = m.pattern().as_usize();
                let resume = sink.trigger(part.groups[p], m.start(), m.end());
                // Restart one byte later at the earliest, and where another literal may
                // start inside this one at the latest: literals may overlap.
                at = resume.min(m.start() + part.restart[p]).max(m.start() + 1);
            }
            return;
        }
        // Each part's next match; the earliest goes to the sink, and every part whose
        // next match starts before the resume point searches again from there.
        let mut next: Vec<Option<Match>> = self.parts.iter().map(|p| p.find(haystack, 0)).collect();
        while let Some((i, m)) = next
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.map(|m| (i, m)))
            .min_by_key(|&(i, m)| (m.start(), i))
        {
            let (part, p) = (&self.parts[i], m.pattern().as_usize());
            let resume = sink.trigger(part.groups[p], m.start(), m.end());
            let at = resume.min(m.start() + part.restart[p]).max(m.start() + 1);
            for (part, n) in self.parts.iter().zip(&mut next) {
                if n.is_some_and(|n| n.start() < at) {
                    *n = part.find(haystack, at);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every trigger and asks for the next one byte on.
    struct Record(Vec<(u64, usize)>);

    impl Sink for Record {
        fn trigger(&mut self, groups: u64, start: usize, _end: usize) -> usize {
            self.0.push((groups, start));
            start + 1
        }
    }

    /// Every position where some literal starts, with the groups of the literals there.
    fn expected(pairs: &[(Vec<u8>, usize)], text: &[u8]) -> Vec<(u64, usize)> {
        (0..text.len())
            .filter_map(|at| {
                let groups = pairs
                    .iter()
                    .filter(|(l, _)| text[at..].starts_with(l))
                    .fold(0u64, |acc, (_, g)| acc | 1 << g);
                (groups != 0).then_some((groups, at))
            })
            .collect()
    }

    #[test]
    fn parts_past_teddys_limit_report_what_one_automaton_would() {
        // 150 literals over three parts, some prefixes of others across parts.
        let mut pairs: Vec<(Vec<u8>, usize)> = (0..148)
            .map(|i| (format!("k{i:03}_").into_bytes(), i % 40))
            .collect();
        pairs.push((b"k0".to_vec(), 41));
        pairs.push((b"k149_x".to_vec(), 42));
        let lits = Literals::new(&pairs).expect("builds");
        assert_eq!(lits.parts.len(), 3);
        assert!(lits.parts.iter().all(|p| p.groups.len() <= PART));
        let text = b"a k000_ then k147_k042_ and k0 k149_x k149_ k1 end k099_";
        let mut got = Record(Vec::new());
        lits.find_all(text, &mut got);
        let want = expected(&pairs, text);
        assert_eq!(got.0.len(), want.len(), "{:?}", got.0);
        for ((g, s), (wg, ws)) in got.0.iter().zip(&want) {
            assert_eq!(s, ws);
            // The reported groups hold those of every literal there (and may hold those
            // of a literal the one there is a prefix of).
            assert_eq!(g & wg, *wg, "at {s}");
        }
    }

    /// Skips to the end of each trigger, as the pattern set's windows do at least.
    struct SkipToEnd(Vec<(u64, usize)>);

    impl Sink for SkipToEnd {
        fn trigger(&mut self, groups: u64, start: usize, end: usize) -> usize {
            self.0.push((groups, start));
            end
        }
    }

    /// A literal that starts inside another one's match is reported, though the sink
    /// skipped to the first one's end: `passport` (a context word) inside `--passport`,
    /// where `--pass` (a flag) matched first. In one part and across parts.
    #[test]
    fn a_literal_inside_another_is_reported() {
        let text = b"run --passport 660532434 and sshpasspass";
        for filler in [0, PART] {
            let mut pairs = vec![
                (b"--pass".to_vec(), 1),
                (b"passport".to_vec(), 2),
                (b"sshpass".to_vec(), 3),
            ];
            pairs.extend((0..filler).map(|i| (format!("q{i:03}z").into_bytes(), 4)));
            let lits = Literals::new(&pairs).expect("builds");
            let mut got = SkipToEnd(Vec::new());
            lits.find_all(text, &mut got);
            let starts: Vec<(u64, usize)> = got.0;
            assert_eq!(
                starts,
                [(1 << 1, 4), (1 << 2, 6), (1 << 3, 29)],
                "{filler} more"
            );
        }
    }

    /// The literals given first (the built-in catalogue's) make the first part as they
    /// would alone, whatever follows; the parts after it are Teddy alone, where Teddy
    /// runs.
    #[test]
    fn what_follows_leaves_the_first_part_alone() {
        let first: Vec<(Vec<u8>, usize)> = (0..PART)
            .map(|i| (format!("w{i:02}q").into_bytes(), i % 3))
            .collect();
        let alone = Literals::new(&first).expect("builds");
        let mut more = first.clone();
        more.push((b"acme_".to_vec(), 5));
        let both = Literals::new(&more).expect("builds");
        assert_eq!((alone.parts.len(), both.parts.len()), (1, 2));
        assert_eq!(alone.parts[0].groups, both.parts[0].groups);
        let text = b"w07q then acme_x and w63q, w00q";
        let starts = |part: &Part| {
            let mut at = 0;
            let mut found = Vec::new();
            while let Some(m) = part.find(text, at) {
                found.push((m.pattern().as_usize(), m.start()));
                at = m.end();
            }
            found
        };
        assert_eq!(starts(&alone.parts[0]), starts(&both.parts[0]));
        assert_eq!(starts(&both.parts[1]), [(0, 10)]);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("ssse3") {
            assert!(matches!(both.parts[1].finder, Finder::Packed(_)));
        }
        assert!(matches!(both.parts[0].finder, Finder::Automaton(_)));
    }

    #[test]
    fn one_part_up_to_teddys_limit() {
        let pairs: Vec<(Vec<u8>, usize)> = (0..PART)
            .map(|i| (format!("p{i:02}x").into_bytes(), 0))
            .collect();
        assert_eq!(Literals::new(&pairs).expect("builds").parts.len(), 1);
        let pairs: Vec<(Vec<u8>, usize)> = (0..=PART)
            .map(|i| (format!("p{i:02}x").into_bytes(), 0))
            .collect();
        assert_eq!(Literals::new(&pairs).expect("builds").parts.len(), 2);
    }
}
