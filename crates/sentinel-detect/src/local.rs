//! `LocalDetector`: the in-process detector, built from the catalogue, custom recognizers
//! and allow/deny lists.

use std::collections::HashSet;

use aho_corasick::{AhoCorasick, MatchKind};
use sha2::{Digest, Sha256};

use crate::catalogue;
use crate::context::Context;
use crate::detector::Detector;
use crate::error::Error;
use crate::finding::{EntityType, Finding, RecognizerId};
use crate::overlap;
use crate::pattern_set::PatternSet;
use crate::recognizer::Recognizer;
use crate::stream::StreamScanner;

/// The score below which findings are not reported unless the builder says otherwise:
/// weak matches (a bare nine-digit number that could be an SSN, a phone number without
/// separators or context) stay out of reports until context raises them.
pub const DEFAULT_MIN_SCORE: f32 = 0.5;

/// Literal values always reported as one entity type (code names, internal hostnames).
#[derive(Clone, Debug, PartialEq)]
pub struct DenyList {
    /// The entity type reported.
    pub entity: String,
    /// The values.
    pub values: Vec<String>,
    /// Match ASCII letters regardless of case.
    pub case_insensitive: bool,
    /// The score reported (default 1.0).
    pub score: f32,
    /// Context words: one near a value raises its score by
    /// [`CONTEXT_BOOST`](crate::CONTEXT_BOOST), as a recognizer's do.
    pub context: Vec<String>,
}

#[derive(Debug)]
struct CompiledDeny {
    ac: AhoCorasick,
    entity: EntityType,
    score: f32,
    id: RecognizerId,
    name: String,
    words: Vec<String>,
    context: Option<Context>,
    /// A value holds white space (a phrase: a stream may not cut between its words).
    spans_words: bool,
    /// A value holds a letter of Chinese, Japanese or Korean.
    cjk: bool,
}

/// The in-process detector: the compiled [`PatternSet`], allow and deny lists, a minimum
/// score, Unicode normalization against obfuscation, and overlap resolution.
///
/// # Example: the default catalogue
///
/// ```
/// use sentinel_detect::{Detector, LocalDetector};
/// let d = LocalDetector::new();
/// let text = "key AKIAIOSFODNN7EXAMPLE, mail ops@example.org";
/// for f in d.scan(text) {
///     println!("{} at {}..{} ({:.2})", f.entity, f.start, f.end, f.score);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Example: lists and a threshold
///
/// ```
/// use sentinel_detect::{Detector, LocalDetector};
/// let d = LocalDetector::builder()
///     .allow(["support@example.com"])
///     .deny("PROJECT", ["Nightjar"], true)
///     .min_score(0.5)
///     .build()?;
/// let found = d.scan("Ask support@example.com about NIGHTJAR");
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].entity.as_str(), "PROJECT");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct LocalDetector {
    inner: std::sync::Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    set: PatternSet,
    deny: Vec<CompiledDeny>,
    allow: HashSet<String>,
    min_score: f32,
    fingerprint: [u8; 16],
}

impl Default for LocalDetector {
    fn default() -> LocalDetector {
        LocalDetector::new()
    }
}

impl LocalDetector {
    /// The built-in catalogue, no lists, the [`DEFAULT_MIN_SCORE`] threshold.
    ///
    /// # Panics
    ///
    /// Never in a released build: the built-in catalogue is compiled by the tests.
    pub fn new() -> LocalDetector {
        #[allow(clippy::expect_used)] // reason: the built-in catalogue is tested to compile
        LocalDetector::builder()
            .build()
            .expect("the built-in catalogue compiles")
    }

    /// A builder that starts from the built-in catalogue.
    pub fn builder() -> LocalDetectorBuilder {
        LocalDetectorBuilder::new()
    }

    /// The compiled recognizers.
    pub fn pattern_set(&self) -> &PatternSet {
        &self.inner.set
    }

    /// The minimum score a finding needs to be reported.
    pub fn min_score(&self) -> f32 {
        self.inner.min_score
    }

    /// The context words of the recognizer or deny list `id`; none for an id the detector
    /// does not hold.
    pub fn context_words(&self, id: RecognizerId) -> &[String] {
        let set = &self.inner.set;
        if id.as_usize() < set.len() {
            return set.context_words(id);
        }
        self.deny_list(id).map_or(&[], |d| &d.words)
    }

    /// Whether one of the context words of the recognizer or deny list `id` is near
    /// `start..end` in `text` as a scan reads context: a finding there had its score raised
    /// by [`CONTEXT_BOOST`](crate::CONTEXT_BOOST).
    pub fn context_near(&self, id: RecognizerId, text: &str, start: usize, end: usize) -> bool {
        let set = &self.inner.set;
        if id.as_usize() < set.len() {
            return set.context_near(id, text, start, end);
        }
        self.deny_list(id)
            .and_then(|d| d.context.as_ref())
            .is_some_and(|c| c.near(text, start, end))
    }

    /// The deny list `id` names: they follow the pattern set's recognizers, in order.
    fn deny_list(&self, id: RecognizerId) -> Option<&CompiledDeny> {
        let at = id.as_usize().checked_sub(self.inner.set.len())?;
        self.inner.deny.get(at)
    }

    /// Each recognizer's name and the entity type it reports: the pattern set's, then the
    /// deny lists'.
    ///
    /// ```
    /// let d = sentinel_detect::LocalDetector::builder()
    ///     .deny("PROJECT", ["Nightjar"], true)
    ///     .build()
    ///     .unwrap();
    /// assert!(d.recognizers().any(|(name, entity)| name == "email" && entity == "EMAIL_ADDRESS"));
    /// assert!(d.recognizers().any(|(_, entity)| entity == "PROJECT"));
    /// ```
    pub fn recognizers(&self) -> impl Iterator<Item = (&str, &str)> {
        let set = &self.inner.set;
        (0..set.len())
            .map(|i| set.recognizer(RecognizerId::from_index(i as u16)))
            .map(|r| (r.name.as_str(), r.entity.as_str()))
            .chain(
                self.inner
                    .deny
                    .iter()
                    .map(|d| (d.name.as_str(), d.entity.as_str())),
            )
    }
}

/// Texts longer than this are scanned a piece at a time ([`LocalDetector`]'s
/// `scan_into`), so what a scan holds besides the text and its findings (windows,
/// candidates, a normalized copy: up to about 17 times the text for text dense with
/// values, mostly windows) stays bounded by the piece instead of growing with the text.
pub const PIECEWISE_ABOVE: usize = 4 << 20;

/// The piece fed at a time above [`PIECEWISE_ABOVE`].
const PIECE: usize = 2 << 20;

/// How far past a value's start the text must run before it is settled, above
/// [`PIECEWISE_ABOVE`]: results equal a whole scan's for every value up to half of it
/// long (the catalogue's e-mail addresses, URLs and keys have no fixed maximum length).
pub const PIECEWISE_HOLD_BACK: usize = 64 << 10;

// What the scanner holds (a piece and up to three hold-backs) is scanned whole.
const _: () = assert!(PIECE + 3 * PIECEWISE_HOLD_BACK <= PIECEWISE_ABOVE);

impl LocalDetector {
    /// Scans `text` in pieces through a [`StreamScanner`]: the findings of a whole scan for
    /// every value up to [`PIECEWISE_HOLD_BACK`] / 2 long (or any, when the reach is
    /// bounded), with each piece's scratch instead of the whole text's.
    fn scan_piecewise(&self, text: &str, hold_back: usize, out: &mut Vec<Finding>) {
        let mut scanner = StreamScanner::with_hold_back(self, hold_back);
        let mut at = 0;
        while at < text.len() {
            let mut end = (at + PIECE).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            scanner.feed(&text[at..end], out);
            at = end;
        }
        // Text fed as `str` is valid UTF-8: nothing is pending for `finish` to refuse.
        let _ = scanner.finish(out);
    }

    /// One scan over all of `text`.
    fn scan_whole(&self, text: &str, out: &mut Vec<Finding>) {
        let inner = &*self.inner;
        inner.set.with_scratch(|s| {
            let mut cands = std::mem::take(&mut s.candidates);
            cands.clear();
            let mut norm = std::mem::take(&mut s.normalized);
            let normalized = norm.normalize(text);
            let scanned: &str = if normalized { &norm.text } else { text };
            inner.set.candidates_with(scanned, s, &mut cands, false);
            for d in &inner.deny {
                let hay = scanned.as_bytes();
                for m in d.ac.find_iter(hay) {
                    let word = |i: usize| hay[i].is_ascii_alphanumeric() || hay[i] == b'_';
                    if (m.start() > 0 && word(m.start() - 1))
                        || (m.end() < hay.len() && word(m.end()))
                    {
                        continue;
                    }
                    let near = d
                        .context
                        .as_ref()
                        .is_some_and(|c| c.near(scanned, m.start(), m.end()));
                    let score = match near {
                        true => crate::context::boosted(d.score),
                        false => d.score,
                    };
                    cands.push(Finding {
                        entity: d.entity.clone(),
                        start: m.start(),
                        end: m.end(),
                        score,
                        recognizer: d.id,
                        escaped: false,
                        folded: false,
                    });
                }
            }
            cands.retain(|f| {
                f.score >= inner.min_score && !inner.allow.contains(&scanned[f.start..f.end])
            });
            let base = out.len();
            overlap::resolve(&mut cands, out);
            if normalized {
                for f in &mut out[base..] {
                    let read = &norm.text[f.start..f.end];
                    (f.start, f.end) = norm.original_span(f.start, f.end);
                    f.folded = text[f.start..f.end] != *read;
                }
            }
            s.candidates = cands;
            s.normalized = norm;
        });
    }
}

impl Detector for LocalDetector {
    fn scan_into(&self, text: &str, out: &mut Vec<Finding>) {
        if text.len() > PIECEWISE_ABOVE {
            // Twice the reach makes pieces exact; a bounded reach too long for that (a
            // custom pattern) is scanned whole, as is every text up to the bound.
            let hold_back = match self.max_reach() {
                None => Some(PIECEWISE_HOLD_BACK),
                Some(r) => Some(r.saturating_mul(2)).filter(|&h| h <= PIECEWISE_HOLD_BACK),
            };
            if let Some(hold_back) = hold_back {
                return self.scan_piecewise(text, hold_back, out);
            }
        }
        self.scan_whole(text, out);
    }

    fn recognizer_name(&self, id: RecognizerId) -> &str {
        let set = &self.inner.set;
        if id.as_usize() < set.len() {
            &set.recognizer(id).name
        } else {
            self.deny_list(id).map_or("unknown", |d| d.name.as_str())
        }
    }

    fn max_reach(&self) -> Option<usize> {
        let longest_deny = self
            .inner
            .deny
            .iter()
            .map(|d| d.ac.max_pattern_len())
            .max()
            .unwrap_or(0);
        self.inner
            .set
            .max_match_len()
            .map(|m| m.max(longest_deny) + crate::context::BEFORE + crate::context::AFTER)
    }

    fn word_bounded(&self) -> bool {
        !self.inner.set.spans_words() && !self.inner.deny.iter().any(|d| d.spans_words)
    }

    fn cjk_bounded(&self) -> bool {
        !self.inner.set.holds_cjk() && !self.inner.deny.iter().any(|d| d.cjk)
    }

    fn fingerprint(&self) -> [u8; 16] {
        self.inner.fingerprint
    }
}

/// Builds a [`LocalDetector`]. Starts from the built-in catalogue; everything is optional.
#[derive(Clone, Debug)]
pub struct LocalDetectorBuilder {
    recognizers: Vec<Recognizer>,
    entities: Option<Vec<String>>,
    disabled: Vec<String>,
    allow: Vec<String>,
    deny: Vec<DenyList>,
    min_score: f32,
}

impl Default for LocalDetectorBuilder {
    fn default() -> LocalDetectorBuilder {
        LocalDetectorBuilder::new()
    }
}

impl LocalDetectorBuilder {
    /// Starts from the built-in catalogue.
    pub fn new() -> LocalDetectorBuilder {
        LocalDetectorBuilder {
            recognizers: catalogue::builtin(),
            entities: None,
            disabled: Vec::new(),
            allow: Vec::new(),
            deny: Vec::new(),
            min_score: DEFAULT_MIN_SCORE,
        }
    }

    /// Starts from nothing: only what is added afterwards is recognized.
    pub fn empty() -> LocalDetectorBuilder {
        LocalDetectorBuilder {
            recognizers: Vec::new(),
            ..LocalDetectorBuilder::new()
        }
    }

    /// Adds a recognizer after the ones already there (lower priority in ties).
    pub fn recognizer(mut self, r: Recognizer) -> LocalDetectorBuilder {
        self.recognizers.push(r);
        self
    }

    /// Keeps only recognizers (and deny lists) of these entity types.
    pub fn entities<I, S>(mut self, entities: I) -> LocalDetectorBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.entities = Some(entities.into_iter().map(Into::into).collect());
        self
    }

    /// Removes recognizers by name or by entity type.
    pub fn disable<I, S>(mut self, names: I) -> LocalDetectorBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.disabled.extend(names.into_iter().map(Into::into));
        self
    }

    /// Values never reported, whatever recognizes them (exact match).
    pub fn allow<I, S>(mut self, values: I) -> LocalDetectorBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow.extend(values.into_iter().map(Into::into));
        self
    }

    /// Values always reported as `entity`, where they stand as whole words.
    pub fn deny<I, S>(
        mut self,
        entity: &str,
        values: I,
        case_insensitive: bool,
    ) -> LocalDetectorBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.deny.push(DenyList {
            entity: entity.to_owned(),
            values: values.into_iter().map(Into::into).collect(),
            case_insensitive,
            score: 1.0,
            context: Vec::new(),
        });
        self
    }

    /// Adds a deny list.
    pub fn deny_list(mut self, list: DenyList) -> LocalDetectorBuilder {
        self.deny.push(list);
        self
    }

    /// Drops findings scored below `score` (default [`DEFAULT_MIN_SCORE`]; 0.0 keeps all).
    pub fn min_score(mut self, score: f32) -> LocalDetectorBuilder {
        self.min_score = score;
        self
    }

    /// Compiles the detector.
    ///
    /// # Errors
    ///
    /// See [`PatternSet::new`]; a deny list with an empty value is refused too.
    pub fn build(self) -> Result<LocalDetector, Error> {
        let keep = |entity: &str, name: &str| {
            self.entities
                .as_ref()
                .is_none_or(|e| e.iter().any(|x| x == entity))
                && !self.disabled.iter().any(|d| d == entity || d == name)
        };
        let recognizers: Vec<Recognizer> = self
            .recognizers
            .into_iter()
            .filter(|r| keep(&r.entity, &r.name))
            .collect();
        let mut hasher = Sha256::new();
        hasher.update(b"sentinel-detect/1\0");
        hasher.update(format!(
            "{recognizers:?}\0{:?}\0{:?}\0{}",
            self.deny,
            {
                let mut a = self.allow.clone();
                a.sort();
                a
            },
            self.min_score
        ));
        let digest = hasher.finalize();
        let mut fingerprint = [0u8; 16];
        fingerprint.copy_from_slice(&digest[..16]);

        let set = PatternSet::new(recognizers)?;
        let mut deny = Vec::new();
        for (i, list) in self
            .deny
            .into_iter()
            .filter(|d| keep(&d.entity, &d.entity))
            .enumerate()
        {
            let name = format!("deny_list:{}", list.entity);
            if list.values.iter().any(String::is_empty) {
                return Err(Error::invalid(&name, "deny list values must not be empty"));
            }
            if !(0.0..=1.0).contains(&list.score) {
                return Err(Error::invalid(&name, "score must be within 0.0..=1.0"));
            }
            let ac = AhoCorasick::builder()
                .ascii_case_insensitive(list.case_insensitive)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&list.values)
                .map_err(|e| Error::pattern(&name, e))?;
            let id = u16::try_from(set.len() + i)
                .map_err(|_| Error::invalid(&name, "too many lists"))?;
            let spans_words = list
                .values
                .iter()
                .any(|v| v.bytes().any(|b| b.is_ascii_whitespace()));
            let cjk = list.values.iter().any(|v| crate::stream::holds_cjk(v));
            deny.push(CompiledDeny {
                spans_words,
                cjk,
                ac,
                entity: EntityType::new(&list.entity),
                score: list.score,
                id: RecognizerId(id),
                name,
                context: Context::new(&list.context),
                words: list.context,
            });
        }
        Ok(LocalDetector {
            inner: std::sync::Arc::new(Inner {
                set,
                deny,
                allow: self.allow.into_iter().collect(),
                min_score: self.min_score,
                fingerprint,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen::{self, Rng};

    /// A deny list's context words raise its values' scores as a recognizer's do, and the
    /// detector answers for them as for its recognizers'.
    #[test]
    fn deny_lists_weigh_their_context_words() {
        let d = LocalDetector::builder()
            .deny_list(DenyList {
                entity: "PROJECT".to_owned(),
                values: vec!["Nightjar".to_owned()],
                case_insensitive: true,
                score: 0.5,
                context: vec!["codename".to_owned()],
            })
            .min_score(0.0)
            .build()
            .expect("built");
        let text = "the codename nightjar. Months later, Nightjar shipped";
        let found: Vec<(&str, f32)> = d
            .scan(text)
            .iter()
            .filter(|f| f.entity.as_str() == "PROJECT")
            .map(|f| (&text[f.start..f.end], f.score))
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!((found[0].1 - 0.85).abs() < 1e-6, "{found:?}");
        assert!((found[1].1 - 0.5).abs() < 1e-6, "{found:?}");
        let f = &d.scan(text)[0];
        assert_eq!(d.context_words(f.recognizer), ["codename".to_owned()]);
        assert!(d.context_near(f.recognizer, text, f.start, f.end));
        assert!(d
            .context_words(RecognizerId::from_index(u16::MAX))
            .is_empty());
        assert!(!d.context_near(RecognizerId::from_index(u16::MAX), text, 0, 4));
    }

    /// A text over the bound, dense with values of many kinds and context words, with a
    /// 20 KiB URL across a piece's edge: scanned in pieces, it gives a whole scan's
    /// findings, in the same order.
    #[test]
    fn a_long_text_scanned_in_pieces_gives_the_whole_scans_findings() {
        let d = LocalDetector::new();
        let mut rng = Rng::new(7);
        let mut text = String::new();
        let kinds: [fn(&mut Rng) -> String; 9] = [
            testgen::card,
            testgen::ssn,
            testgen::iban,
            testgen::phone_us,
            testgen::phone_intl,
            testgen::email,
            testgen::ipv4,
            testgen::aws_access_key,
            testgen::jwt,
        ];
        let words = ["SSN", "card", "phone", "call", "note", "é", "ok", "IBAN"];
        let mut url_done = false;
        while text.len() < 2 * PIECE + PIECE / 2 {
            if !url_done && text.len() > PIECE - 12_000 {
                text.push_str(" see https://example.com/");
                text.push_str(&rng.string(b"abcdefghij/", 20_000));
                text.push(' ');
                url_done = true;
            }
            let word: &&str = rng.pick(&words);
            text.push_str(word);
            text.push_str(if rng.chance(0.3) { ": " } else { " " });
            let value = *rng.pick(&kinds);
            text.push_str(&value(&mut rng));
            let separator: &&str = rng.pick(&[", ", " ", "\n", "; "]);
            text.push_str(separator);
        }
        assert!(text.len() > PIECEWISE_ABOVE);
        let mut whole = Vec::new();
        d.scan_whole(&text, &mut whole);
        assert!(whole.len() > 10_000, "{}", whole.len());
        assert!(
            whole.iter().any(|f| f.end - f.start > 20_000),
            "the long URL"
        );
        let edges = (1..3).map(|i| i * PIECE);
        let across = edges
            .filter(|&e| whole.iter().any(|f| f.start < e && e < f.end))
            .count();
        assert!(across >= 1, "values across piece edges: {across}");
        let mut pieces = Vec::new();
        d.scan_into(&text, &mut pieces);
        assert!(
            pieces == whole,
            "{} findings against {}",
            pieces.len(),
            whole.len()
        );
    }
}
