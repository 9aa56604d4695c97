//! Inputs shared by the criterion benches and `cargo xtask bench`: a labelled corpus
//! generated deterministically from templates, throughput texts, and the baseline engine
//! every result is compared with.
#![forbid(unsafe_code)]

pub mod corpus;
pub mod texts;

use regex_automata::meta::Regex;

/// What a careful engineer writes in an afternoon: every built-in pattern in one
/// `meta::Regex::new_many`, run with `find_iter` over the whole text, no validation.
#[derive(Debug)]
pub struct Baseline {
    regex: Regex,
}

impl Baseline {
    /// Compiles the built-in catalogue's patterns.
    ///
    /// # Panics
    ///
    /// If the catalogue's patterns do not compile (the detector's tests would fail first).
    pub fn new() -> Baseline {
        let patterns: Vec<String> = sentinel_detect::builtin()
            .into_iter()
            .map(|r| r.pattern)
            .collect();
        // The default 10 MB NFA limit is too small for all patterns in one program (the
        // bounded URL and PEM repetitions); the afternoon engineer raises it. So too the
        // lazy DFA's cache: at the default 2 MB the union of the patterns' prefixes (tool
        // names, keywords) needed more states than it holds, and the search gave up to the
        // PikeVM (256 KB of prose with numbers: 1.2 s at 2 MB, 17 ms at 16 MB).
        #[allow(clippy::expect_used)] // reason: the catalogue is tested to compile
        let regex = Regex::builder()
            .configure(
                Regex::config()
                    .nfa_size_limit(Some(256 << 20))
                    .hybrid_cache_capacity(16 << 20),
            )
            .build_many(&patterns)
            .expect("catalogue compiles");
        Baseline { regex }
    }

    /// How many matches the baseline finds.
    pub fn count(&self, text: &str) -> usize {
        self.regex.find_iter(text).count()
    }
}

impl Default for Baseline {
    fn default() -> Baseline {
        Baseline::new()
    }
}
