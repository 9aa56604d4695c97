//! Presidio-compatible `POST /analyze` and `POST /anonymize` (the same JSON shapes), so
//! Presidio clients and LiteLLM's Presidio guardrail can point at DeepSentinel unchanged.
//!
//! An `/analyze` request's `ad_hoc_recognizers` (Presidio's pattern recognizers sent with
//! the request: patterns with scores, deny lists, context words) are compiled into a
//! [`LocalDetector`] of their own, kept for the next request that sends the same ones, and
//! their findings are answered beside the detection stage's. Its `context` words raise
//! the scores of findings whose recognizers name them, and its `allow_list` (exact values,
//! or regular expressions compiled and kept with the ad-hoc recognizers) removes findings,
//! after the `score_threshold`, as Presidio's analyzer orders them.

use base64::Engine as _;
use regex_automata::meta::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

use sentinel_client::{Detection, Operated};
use sentinel_detect::{
    DenyList, Detector, Finding, LocalDetector, LocalDetectorBuilder, Recognizer,
};

/// `POST /analyze` request.
#[derive(Debug, Deserialize)]
pub(crate) struct AnalyzeRequest {
    /// One text, or a list of them (Presidio's batch form, answered with a list of lists).
    pub(crate) text: Texts,
    /// Ad-hoc recognizers apply to the language they name (Presidio's default `en`);
    /// the detection stage is language-neutral.
    #[serde(default)]
    pub(crate) language: Option<String>,
    #[serde(default)]
    pub(crate) entities: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) score_threshold: Option<f32>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) ad_hoc_recognizers: Vec<AdHocRecognizer>,
    /// Words read as if they stood next to every value: a finding whose recognizer names
    /// one of them (as a part of one, in any case) has its score raised, once.
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) context: Vec<String>,
    /// Values not to report: a finding whose text is one of them (`exact`), or in which
    /// one of them matches (`regex`), is left out of the answer.
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) allow_list: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) allow_list_match: AllowMatch,
    /// Python's `re` flags for an allow list of regular expressions (default IGNORECASE,
    /// MULTILINE and DOTALL, as Presidio's).
    #[serde(default)]
    pub(crate) regex_flags: Option<u32>,
    /// Whether each result carries an `analysis_explanation`: its recognizer and pattern,
    /// its score before and after the request's context, the context word that raised it.
    #[serde(default, deserialize_with = "or_default")]
    pub(crate) return_decision_process: bool,
    /// Presidio's id for tracing one analysis: the audit records' request id when the
    /// request has no `X-Request-Id`.
    #[serde(default)]
    pub(crate) correlation_id: Option<String>,
}

/// A field Presidio's clients may send as `null` (Python's `None`): its default then.
fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// An `/analyze` request's text: one, or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Texts {
    One(String),
    Many(Vec<String>),
}

impl Texts {
    /// The texts, one or many.
    pub(crate) fn as_slice(&self) -> &[String] {
        match self {
            Texts::One(t) => std::slice::from_ref(t),
            Texts::Many(ts) => ts,
        }
    }
}

/// How an allow list's values are matched against a finding's text.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AllowMatch {
    /// The finding's text is one of the values.
    #[default]
    Exact,
    /// One of the values, a regular expression, matches in the finding's text.
    Regex,
}

/// A Presidio pattern recognizer sent with an `/analyze` request.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct AdHocRecognizer {
    #[serde(default)]
    name: Option<String>,
    supported_entity: String,
    #[serde(default)]
    supported_language: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    patterns: Vec<AdHocPattern>,
    #[serde(default, deserialize_with = "or_default")]
    deny_list: Vec<String>,
    #[serde(default)]
    deny_list_score: Option<f32>,
    #[serde(default, deserialize_with = "or_default")]
    context: Vec<String>,
    /// Python's `re` flags for the patterns (`re.IGNORECASE` 2, `re.MULTILINE` 8,
    /// `re.DOTALL` 16, `re.UNICODE` 32, `re.VERBOSE` 64, `re.ASCII` 256); Presidio's
    /// default is the first three.
    #[serde(default)]
    global_regex_flags: Option<u32>,
}

/// Python's `re` flags as inline flags of this engine's syntax.
fn inline_flags(flags: Option<u32>) -> Result<String, String> {
    const IGNORECASE: u32 = 2;
    const MULTILINE: u32 = 8;
    const DOTALL: u32 = 16;
    // Python 3's default for text patterns, as here.
    const UNICODE: u32 = 32;
    const VERBOSE: u32 = 64;
    const ASCII: u32 = 256;
    const KNOWN: u32 = IGNORECASE | MULTILINE | DOTALL | UNICODE | VERBOSE | ASCII;
    let flags = flags.unwrap_or(IGNORECASE | MULTILINE | DOTALL);
    if flags & !KNOWN != 0 {
        return Err(format!(
            "{flags} holds a flag other than IGNORECASE, MULTILINE, DOTALL, UNICODE, VERBOSE and ASCII"
        ));
    }
    let on = |f: u32, c: char| (flags & f != 0).then_some(c);
    let mut set: String = [
        on(IGNORECASE, 'i'),
        on(MULTILINE, 'm'),
        on(DOTALL, 's'),
        on(VERBOSE, 'x'),
    ]
    .into_iter()
    .flatten()
    .collect();
    if flags & ASCII != 0 {
        set.push_str("-u");
    }
    Ok(if set.is_empty() {
        String::new()
    } else {
        format!("(?{set})")
    })
}

/// One pattern of an ad-hoc recognizer: a Python-style regular expression, matched as
/// Presidio matches it (by default case-insensitive, `.` matching line breaks, `^`/`$` at
/// lines; `global_regex_flags` says otherwise).
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct AdHocPattern {
    #[serde(default)]
    name: Option<String>,
    regex: String,
    score: f32,
}

/// The most patterns and deny lists, together, one request's ad-hoc recognizers hold.
pub(crate) const AD_HOC_MAX_PROGRAMS: usize = 32;
/// The longest pattern an ad-hoc recognizer may send, in bytes.
pub(crate) const AD_HOC_MAX_PATTERN: usize = 1024;
/// The most deny-list values, together, one request's ad-hoc recognizers hold.
pub(crate) const AD_HOC_MAX_DENY_VALUES: usize = 10_000;
/// The most texts one `/analyze` request may send (each is an analysis on record).
pub(crate) const MAX_TEXTS: usize = 1024;
/// The most context words one `/analyze` request may send.
pub(crate) const MAX_CONTEXT_WORDS: usize = 1024;

/// Compiled ad-hoc recognizers: a detector of their own and the recognizer name each of
/// its programs reports.
pub(crate) struct AdHoc {
    detector: LocalDetector,
    names: Vec<String>,
    /// Each program's pattern, its name and regular expression as sent (none for a deny
    /// list).
    patterns: Vec<Option<(String, String)>>,
    /// Bytes its programs hold (and its deny lists' values).
    bytes: usize,
}

impl AdHoc {
    /// The name a finding of this detector reports (the recognizer's, as Presidio's do).
    fn name(&self, f: &Finding) -> &str {
        self.names
            .get(usize::from(f.recognizer.index()))
            .map_or("ad_hoc", String::as_str)
    }

    /// Bytes its programs and deny lists hold.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The pattern (its name and regular expression, as sent) that made `f`, if a
    /// pattern did.
    fn pattern(&self, f: &Finding) -> Option<(&str, &str)> {
        self.patterns
            .get(f.recognizer.as_usize())?
            .as_ref()
            .map(|(n, p)| (n.as_str(), p.as_str()))
    }

    /// The findings in `text`, sorted by start.
    pub(crate) fn scan(&self, text: &str) -> Vec<Finding> {
        self.detector.scan(text)
    }
}

/// Whether this engine takes a pattern (Python's look-around and back-references it does
/// not); the error says why not.
fn taken(pattern: &str) -> Result<(), String> {
    regex_syntax::ParserBuilder::new()
        .nest_limit(100)
        .build()
        .parse(pattern)
        .map(drop)
        .map_err(|e| {
            format!("is not one this engine takes (no look-around or back-references): {e}")
        })
}

/// Why ad-hoc recognizers did not build, by the names the request gave them (a pattern
/// the compiler cannot build within its limits, which no parse catches beforehand).
fn built_wrong(e: &sentinel_detect::Error, applies: &[&AdHocRecognizer]) -> String {
    let why = match e.kind() {
        sentinel_detect::ErrorKind::Pattern { message, .. } => message.clone(),
        _ => e.to_string(),
    };
    // Patterns are named `ad_hoc:{recognizer}:{pattern}` in the detector.
    let at = e.recognizer().and_then(|r| {
        let mut ids = r.strip_prefix("ad_hoc:")?.split(':');
        let (i, j) = (
            ids.next()?.parse::<usize>().ok()?,
            ids.next()?.parse::<usize>().ok()?,
        );
        let r = applies.get(i)?;
        Some((r, r.patterns.get(j)?))
    });
    match at {
        Some((r, p)) => format!(
            "ad-hoc recognizer {:?}: pattern {:?} does not compile: {why}",
            r.name
                .clone()
                .unwrap_or_else(|| format!("{} recognizer", r.supported_entity)),
            p.name.as_deref().unwrap_or("")
        ),
        None => format!("ad-hoc recognizers: {why}"),
    }
}

/// What an `/analyze` request brings of its own, compiled: its ad-hoc recognizers that
/// apply to its language, and its allow list when that is of regular expressions.
pub(crate) struct Own {
    ad_hoc: Option<AdHoc>,
    allow: Option<Regex>,
}

impl Own {
    /// Whether it holds nothing: no recognizer applies to the request's language and the
    /// allow list is not of regular expressions.
    pub(crate) fn is_empty(&self) -> bool {
        self.ad_hoc.is_none() && self.allow.is_none()
    }

    /// Bytes its programs and deny lists hold.
    pub(crate) fn bytes(&self) -> usize {
        self.ad_hoc.as_ref().map_or(0, AdHoc::bytes)
            + self.allow.as_ref().map_or(0, Regex::memory_usage)
    }

    /// The ad-hoc recognizers' findings in `text`, sorted by start.
    pub(crate) fn scan(&self, text: &str) -> Vec<Finding> {
        self.ad_hoc.as_ref().map_or_else(Vec::new, |a| a.scan(text))
    }
}

/// Whether `req` brings an allow list of regular expressions.
fn allow_regex(req: &AnalyzeRequest) -> bool {
    req.allow_list_match == AllowMatch::Regex && !req.allow_list.is_empty()
}

/// The key under which what a request brings of its own is kept compiled: what was sent,
/// with the request's language (which decides the recognizers that apply); `None` when it
/// brings nothing to compile.
pub(crate) fn own_key(req: &AnalyzeRequest) -> Option<String> {
    if req.ad_hoc_recognizers.is_empty() && !allow_regex(req) {
        return None;
    }
    let sent = serde_json::to_string(&req.ad_hoc_recognizers).ok()?;
    let allowed = match allow_regex(req) {
        true => serde_json::to_string(&(req.regex_flags, &req.allow_list)).ok()?,
        false => String::new(),
    };
    Some(format!("{}\0{sent}\0{allowed}", language(req)))
}

/// The longest allow list of regular expressions one request may send, joined, in bytes.
pub(crate) const ALLOW_REGEX_MAX: usize = 8 * AD_HOC_MAX_PATTERN;

/// Compiles what `req` brings of its own ([`Own`]) to at most `max_bytes` of programs. The
/// error names what is at fault (never the text).
pub(crate) fn own(req: &AnalyzeRequest, max_bytes: usize) -> Result<Own, String> {
    let ad_hoc = ad_hoc(req)?;
    let allow = match allow_regex(req) {
        false => None,
        true => {
            let flags = inline_flags(req.regex_flags).map_err(|e| format!("regex_flags {e}"))?;
            // Joined as Presidio joins them: one alternation, searched in a finding's text.
            let pattern = format!("{flags}{}", req.allow_list.join("|"));
            if pattern.len() > ALLOW_REGEX_MAX {
                return Err(format!(
                    "allow_list's regular expressions are over {ALLOW_REGEX_MAX} bytes together"
                ));
            }
            taken(&pattern).map_err(|e| format!("allow_list {e}"))?;
            let regex = Regex::builder()
                .syntax(regex_automata::util::syntax::Config::new().nest_limit(100))
                .configure(Regex::config().nfa_size_limit(Some(1 << 20)))
                .build(&pattern)
                .map_err(|e| format!("allow_list is not a regular expression taken here: {e}"))?;
            Some(regex)
        }
    };
    let own = Own { ad_hoc, allow };
    if own.bytes() > max_bytes {
        return Err(format!(
            "ad_hoc_recognizers and allow_list compile to {} KiB of programs; at most {} KiB are taken",
            own.bytes() >> 10,
            max_bytes >> 10
        ));
    }
    Ok(own)
}

fn language(req: &AnalyzeRequest) -> &str {
    req.language.as_deref().unwrap_or("en")
}

/// The most bytes one request's ad-hoc recognizers may compile to: a pattern's full DFA
/// is bounded (2 MiB), thirty-two of them are not bounded enough for a request.
pub(crate) const AD_HOC_MAX_BYTES: usize = 16 << 20;

/// Compiles `req`'s ad-hoc recognizers for its language (what they hold in bytes is
/// bounded by [`own`]); `None` when none applies. The error names the recognizer at fault
/// (never the text).
fn ad_hoc(req: &AnalyzeRequest) -> Result<Option<AdHoc>, String> {
    let applies: Vec<&AdHocRecognizer> = req
        .ad_hoc_recognizers
        .iter()
        .filter(|r| r.supported_language.as_deref().unwrap_or("en") == language(req))
        .collect();
    let programs: usize = applies
        .iter()
        .map(|r| r.patterns.len() + usize::from(!r.deny_list.is_empty()))
        .sum();
    if programs > AD_HOC_MAX_PROGRAMS {
        return Err(format!(
            "ad_hoc_recognizers hold {programs} patterns and deny lists; at most {AD_HOC_MAX_PROGRAMS} are taken"
        ));
    }
    let values: usize = applies.iter().map(|r| r.deny_list.len()).sum();
    if values > AD_HOC_MAX_DENY_VALUES {
        return Err(format!(
            "ad_hoc_recognizers hold {values} deny-list values; at most {AD_HOC_MAX_DENY_VALUES} are taken"
        ));
    }
    if applies.is_empty() {
        return Ok(None);
    }
    // Every finding is reported, however low its score, as Presidio's analyzer does; the
    // request's `score_threshold` applies afterwards.
    let mut b = LocalDetectorBuilder::empty().min_score(0.0);
    let mut names = Vec::new();
    let mut patterns = Vec::new();
    let mut lists = Vec::new();
    for (i, r) in applies.iter().enumerate() {
        let name = r
            .name
            .clone()
            .unwrap_or_else(|| format!("{} recognizer", r.supported_entity));
        let bad = |what: &str| Err(format!("ad-hoc recognizer {name:?}: {what}"));
        if r.supported_entity.is_empty() {
            return bad("supported_entity is empty");
        }
        if r.patterns.is_empty() && r.deny_list.is_empty() {
            return bad("neither patterns nor deny_list");
        }
        let flags = match inline_flags(r.global_regex_flags) {
            Ok(f) => f,
            Err(e) => return bad(&format!("global_regex_flags {e}")),
        };
        for (j, p) in r.patterns.iter().enumerate() {
            if p.regex.len() > AD_HOC_MAX_PATTERN {
                return bad(&format!(
                    "a pattern is over {AD_HOC_MAX_PATTERN} bytes long"
                ));
            }
            if !(0.0..=1.0).contains(&p.score) {
                return bad("a pattern's score is outside 0.0..=1.0");
            }
            // The flags apply to the whole pattern; no group around it, which a VERBOSE
            // pattern's closing comment would swallow.
            let pattern = format!("{flags}{}", p.regex);
            if let Err(e) = taken(&pattern) {
                return bad(&format!(
                    "pattern {:?} {e}",
                    p.name.as_deref().unwrap_or("")
                ));
            }
            // Names are unique within a detector; the one reported is the recognizer's.
            let unique = format!("ad_hoc:{i}:{j}");
            b = b.recognizer(
                Recognizer::new(&unique, &r.supported_entity, &pattern)
                    .with_score(p.score)
                    .with_context(r.context.iter().cloned()),
            );
            names.push(name.clone());
            patterns.push(Some((p.name.clone().unwrap_or_default(), p.regex.clone())));
        }
        if !r.deny_list.is_empty() {
            let score = r.deny_list_score.unwrap_or(1.0);
            if !(0.0..=1.0).contains(&score) {
                return bad("deny_list_score is outside 0.0..=1.0");
            }
            lists.push((
                name.clone(),
                DenyList {
                    entity: r.supported_entity.clone(),
                    values: r.deny_list.clone(),
                    case_insensitive: flags.contains('i'),
                    score,
                    context: r.context.clone(),
                },
            ));
        }
    }
    // Deny lists' programs follow the patterns'.
    for (name, list) in lists {
        names.push(name);
        patterns.push(None);
        b = b.deny_list(list);
    }
    let detector = b.build().map_err(|e| built_wrong(&e, &applies))?;
    // Deny lists: their values and the automaton over them, about as much again.
    let listed: usize = applies
        .iter()
        .flat_map(|r| &r.deny_list)
        .map(|v| v.len() * 2 + 16)
        .sum();
    let bytes = detector.pattern_set().memory_usage() + listed;
    Ok(Some(AdHoc {
        detector,
        names,
        patterns,
        bytes,
    }))
}

/// One `POST /anonymize` analyzer result, character offsets.
#[derive(Debug, Serialize, Deserialize, Clone)]
pub(crate) struct AnalyzeResult {
    pub(crate) entity_type: String,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) score: f32,
}

/// One `POST /analyze` result as written: borrowed, made as the answer is serialized.
#[derive(Serialize)]
pub(crate) struct AnalyzeOut<'a> {
    entity_type: &'a str,
    start: usize,
    end: usize,
    score: f32,
    analysis_explanation: Option<Explanation<'a>>,
    recognition_metadata: RecognitionMetadata<'a>,
}

/// How a result was reached, as Presidio's `AnalysisExplanation` says it (with
/// `return_decision_process`).
#[derive(Serialize)]
pub(crate) struct Explanation<'a> {
    recognizer: &'a str,
    pattern_name: Option<&'a str>,
    pattern: Option<&'a str>,
    /// The detector's score (its text's context words included).
    original_score: f32,
    score: f32,
    textual_explanation: String,
    /// What the request's `context` added.
    score_context_improvement: f32,
    /// The recognizer's context word that the request's `context` held, or empty.
    supportive_context_word: &'a str,
    /// `true` when the recognizer checked the value (a checksum, a date), else absent.
    validation_result: Option<bool>,
}

#[derive(Serialize)]
struct RecognitionMetadata<'a> {
    recognizer_name: &'a str,
    recognizer_identifier: &'a str,
}

/// How an `/analyze` request's findings are answered, in Presidio's order: scores raised
/// by the request's context words, then the score threshold and the entities asked for,
/// then the allow list.
pub(crate) struct Rules<'a> {
    threshold: Option<f32>,
    entities: Option<&'a [String]>,
    /// The request's context words, in lower case.
    context: Vec<String>,
    allowed: HashSet<&'a str>,
    own: Option<&'a Own>,
    explain: bool,
    /// Per recognizer (by its detector's address and its id), which of its context words
    /// the request's context holds: looked for once, not per finding.
    supporting: std::cell::RefCell<HashMap<(usize, u16), Option<usize>>>,
}

impl<'a> Rules<'a> {
    /// `req`'s rules, with what it brought of its own compiled in `own`.
    pub(crate) fn new(req: &'a AnalyzeRequest, own: Option<&'a Own>) -> Rules<'a> {
        Rules {
            threshold: req.score_threshold,
            entities: req.entities.as_deref(),
            context: req.context.iter().map(|w| w.to_lowercase()).collect(),
            allowed: match req.allow_list_match {
                AllowMatch::Exact => req.allow_list.iter().map(String::as_str).collect(),
                AllowMatch::Regex => HashSet::new(),
            },
            own,
            explain: req.return_decision_process,
            supporting: std::cell::RefCell::new(HashMap::new()),
        }
    }

    /// `f`'s score (a finding of `detector` in `text`), raised by the context
    /// boost when one of its recognizer's context words is part of one of the request's
    /// and none of them stood near it already (which raised it once); with the word that
    /// raised it.
    fn score<'s>(
        &self,
        detector: &'s LocalDetector,
        text: &str,
        f: &Finding,
    ) -> (f32, Option<&'s str>) {
        if self.context.is_empty() {
            return (f.score, None);
        }
        let words = detector.context_words(f.recognizer);
        let key = (std::ptr::from_ref(detector) as usize, f.recognizer.index());
        let supporting = *self.supporting.borrow_mut().entry(key).or_insert_with(|| {
            words.iter().position(|w| {
                let w = w.to_lowercase();
                self.context.iter().any(|c| c.contains(&w))
            })
        });
        match supporting.and_then(|i| words.get(i)) {
            Some(w) if !detector.context_near(f.recognizer, text, f.start, f.end) => (
                (f.score + sentinel_detect::CONTEXT_BOOST).min(1.0),
                Some(w.as_str()),
            ),
            _ => (f.score, None),
        }
    }

    /// Whether a finding of `entity` with `score`, over `value`, is answered.
    fn keeps(&self, entity: &str, score: f32, value: &str) -> bool {
        self.threshold.is_none_or(|t| score >= t)
            && self
                .entities
                .is_none_or(|es| es.iter().any(|e| e == entity))
            && !self.allowed.contains(value)
            && self
                .own
                .and_then(|o| o.allow.as_ref())
                .is_none_or(|r| !r.is_match(value))
    }
}

/// The results of `findings` (the detection stage's, in `text`) and of `extra` (the
/// request's own recognizers' findings that repeat none of them:
/// [`sentinel_client::Pipeline::analyze`] leaves those) that `rules` keep, in order of
/// start, as a list serialized one result at a time (a text dense with values has hundreds
/// of thousands; a JSON tree of them took about 600 bytes each).
pub(crate) fn analyze<'a>(
    detection: &'a Detection,
    rules: &'a Rules<'a>,
    text: &'a str,
    findings: &'a [Finding],
    extra: &'a [Finding],
) -> crate::Streamed<impl Iterator<Item = AnalyzeOut<'a>>> {
    let mut offsets = sentinel_detect::CharOffsets::new(text);
    let mut own = findings.iter().peekable();
    let ad_hoc = rules.own.and_then(|o| o.ad_hoc.as_ref());
    let mut extra = extra.iter().peekable();
    let local = detection.local();
    let stage = local.pattern_set();
    let merged = std::iter::from_fn(move || {
        let first_own = match (own.peek(), extra.peek()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => a.start <= b.start,
        };
        if first_own {
            let f = own.next()?;
            let name = detection.recognizer_name(f.recognizer);
            let made =
                (f.recognizer.as_usize() < stage.len()).then(|| stage.recognizer(f.recognizer));
            let pattern = made.map(|r| (name, r.pattern.as_str()));
            let validated = made.is_some_and(|r| r.validator.is_some());
            return Some((f, rules.score(local, text, f), name, pattern, validated));
        }
        let f = extra.next()?;
        Some(match ad_hoc {
            Some(a) => (
                f,
                rules.score(&a.detector, text, f),
                a.name(f),
                a.pattern(f),
                false,
            ),
            None => (f, (f.score, None), "ad_hoc", None, false),
        })
    });
    crate::Streamed::new(
        merged
            .filter(|(f, (score, _), _, _, _)| {
                rules.keeps(f.entity.as_str(), *score, &text[f.start..f.end])
            })
            .map(
                move |(f, (score, word), name, pattern, validated)| AnalyzeOut {
                    entity_type: f.entity.as_str(),
                    start: offsets.char_offset(f.start),
                    end: offsets.char_offset(f.end),
                    score,
                    analysis_explanation: rules.explain.then(|| Explanation {
                        recognizer: name,
                        pattern_name: pattern.map(|(n, _)| n),
                        pattern: pattern.map(|(_, p)| p),
                        original_score: f.score,
                        score,
                        textual_explanation: format!(
                            "Identified as {} by {name}",
                            f.entity.as_str()
                        ),
                        score_context_improvement: score - f.score,
                        supportive_context_word: word.unwrap_or_default(),
                        validation_result: validated.then_some(true),
                    }),
                    recognition_metadata: RecognitionMetadata {
                        recognizer_name: name,
                        recognizer_identifier: name,
                    },
                },
            ),
    )
}

/// The remote detector, when the detection stage asks one.
fn asked_remote(detection: &Detection) -> Option<&sentinel_client::RemoteDetector> {
    detection
        .remote()
        .filter(|_| detection.mode() != sentinel_client::DetectionMode::Local)
}

/// `GET /supportedentities`: the entity types `/analyze` reports, each once, sorted: the
/// local detector's recognizers' and deny lists', and the remote detector's own entity
/// types when the detection stage asks one. Any language (detection is language-neutral).
pub(crate) fn supported_entities(detection: &Detection) -> Vec<&str> {
    let mut entities: Vec<&str> = detection
        .local()
        .recognizers()
        .map(|(_, entity)| entity)
        .chain(
            asked_remote(detection)
                .into_iter()
                .flat_map(|r| r.settings().remote_entities.iter().map(String::as_str)),
        )
        .collect();
    entities.sort_unstable();
    entities.dedup();
    entities
}

/// `GET /recognizers`: the names `/analyze` results report as `recognizer_name`, in the
/// detector's order (`remote` last, when the detection stage asks a remote detector).
pub(crate) fn recognizers(detection: &Detection) -> Vec<&str> {
    detection
        .local()
        .recognizers()
        .map(|(name, _)| name)
        .chain(asked_remote(detection).map(|_| "remote"))
        .collect()
}

/// An anonymizer operator, as Presidio names them.
#[derive(Debug, Default, Deserialize, Clone)]
pub(crate) struct Operator {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    new_value: Option<String>,
    #[serde(default)]
    masking_char: Option<String>,
    #[serde(default)]
    chars_to_mask: Option<usize>,
    #[serde(default)]
    from_end: Option<bool>,
    #[serde(default)]
    hash_type: Option<String>,
    /// `encrypt` and `decrypt`: the AES key, 16, 24 or 32 bytes of UTF-8 (AES-128, -192
    /// or -256), as Presidio takes it.
    #[serde(default)]
    key: Option<String>,
}

/// `POST /anonymize` request.
#[derive(Debug, Deserialize)]
pub(crate) struct AnonymizeRequest {
    text: String,
    #[serde(default, deserialize_with = "or_default")]
    anonymizers: HashMap<String, Operator>,
    #[serde(default, deserialize_with = "or_default")]
    analyzer_results: Vec<AnalyzeResult>,
}

impl AnonymizeRequest {
    /// The text to anonymize, taken out of the request.
    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

/// `POST /deanonymize` request: a text `/anonymize` encrypted parts of, the items it
/// answered (`anonymizer_results`), and the `decrypt` operators with their keys.
#[derive(Debug, Deserialize)]
pub(crate) struct DeanonymizeRequest {
    text: String,
    #[serde(default, deserialize_with = "or_default")]
    deanonymizers: HashMap<String, Operator>,
    #[serde(default, deserialize_with = "or_default")]
    anonymizer_results: Vec<OperatorResult>,
}

/// One item an `/anonymize` answered, as `/deanonymize` takes it back (its `text` and
/// `operator`, if sent, are not needed).
#[derive(Debug, Deserialize)]
pub(crate) struct OperatorResult {
    start: usize,
    end: usize,
    entity_type: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct AnonymizeItem {
    start: usize,
    end: usize,
    entity_type: String,
    text: String,
    operator: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct AnonymizeResponse {
    text: String,
    items: Vec<AnonymizeItem>,
}

impl AnonymizeResponse {
    /// The text with the operators applied.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

/// `results` without conflicts, in order of start, as Presidio's anonymizer resolves them
/// (`merge_similar_or_contained`, then `remove_intersections`): results of one entity
/// type that overlap become one over both, with the higher score; a result inside
/// another goes (of two over the same span, the lower score); two results of different
/// types that still overlap are cut where they meet, the lower score giving way. Every
/// character some result covered stays covered, so no part of a value is left in clear.
fn without_conflicts(mut results: Vec<AnalyzeResult>) -> Vec<AnalyzeResult> {
    results.retain(|r| r.start < r.end);
    results.sort_by(|a, b| {
        a.entity_type
            .cmp(&b.entity_type)
            .then(a.start.cmp(&b.start))
    });
    let mut merged: Vec<AnalyzeResult> = Vec::with_capacity(results.len());
    for r in results {
        match merged.last_mut() {
            Some(m) if m.entity_type == r.entity_type && r.start < m.end => {
                m.end = m.end.max(r.end);
                m.score = m.score.max(r.score);
            }
            _ => merged.push(r),
        }
    }
    merged.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(b.score.total_cmp(&a.score))
    });
    // Every result kept so far starts at or before this one: the one reaching furthest
    // holds it whole when it reaches at least as far.
    let mut kept: Vec<AnalyzeResult> = Vec::with_capacity(merged.len());
    let mut reach = 0;
    for r in merged {
        if r.end <= reach {
            continue;
        }
        reach = r.end;
        kept.push(r);
    }
    // What overlaps now does so in part only (neither holds the other), and in order of
    // start the ends increase too: where two meet, the lower score gives way. One cut
    // short to nothing is covered by its neighbours, and the next is weighed against the
    // one before it.
    let mut out: Vec<AnalyzeResult> = Vec::with_capacity(kept.len());
    for mut next in kept {
        while let Some(cur) = out.last_mut() {
            if cur.end <= next.start {
                break;
            }
            if cur.score >= next.score {
                next.start = cur.end;
                break;
            }
            cur.end = next.start;
            if cur.start < cur.end {
                break;
            }
            out.pop();
        }
        if next.start < next.end {
            out.push(next);
        }
    }
    out
}

/// Why `/anonymize` or `/deanonymize` applied nothing: results that do not fit the text
/// (`invalid_analyzer_results`), or an operator that cannot be applied (`invalid_operator`:
/// an unknown type, a bad key, a text `decrypt` cannot open).
#[derive(Debug)]
pub(crate) enum Unapplied {
    Results(String),
    Operator(String),
}

impl Unapplied {
    /// The error code answered.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Unapplied::Results(_) => "invalid_analyzer_results",
            Unapplied::Operator(_) => "invalid_operator",
        }
    }
}

impl std::fmt::Display for Unapplied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unapplied::Results(m) | Unapplied::Operator(m) => f.write_str(m),
        }
    }
}

/// The results an `/anonymize` or `/deanonymize` applied: each as a finding over the value
/// in clear (byte offsets: in the request's text for an anonymization, in the answer's for
/// a decryption), with the operator applied.
pub(crate) type Applied = Vec<(Finding, &'static str)>;

/// The recognizer id of a caller's own `/anonymize` results: no recognizer of this
/// gateway's found them (their records hold only their spans' fingerprints).
const CALLERS_RESULT: sentinel_detect::RecognizerId =
    sentinel_detect::RecognizerId::from_index(u16::MAX - 2);

/// Applies the operators to the analyzer results (character offsets), their conflicts
/// resolved first ([`without_conflicts`]), as Presidio's replace/redact/mask/hash/keep and
/// encrypt do. Offsets in the answer are characters in the new text. Returns with it each
/// result applied, as a finding in `req`'s text (byte offsets), and its operator, for the
/// record.
pub(crate) fn anonymize(req: &AnonymizeRequest) -> Result<(AnonymizeResponse, Applied), Unapplied> {
    operate(
        &req.text,
        req.analyzer_results.clone(),
        &req.anonymizers,
        Operated::Anonymized,
    )
}

/// Decrypts what `/anonymize`'s `encrypt` made of the items `req` names (character
/// offsets in its text), as Presidio's `/deanonymize` does. Returns with the answer each
/// item decrypted, as a finding in the answer's text (byte offsets), for the record.
pub(crate) fn deanonymize(
    req: &DeanonymizeRequest,
) -> Result<(AnonymizeResponse, Applied), Unapplied> {
    let results = req
        .anonymizer_results
        .iter()
        .map(|r| AnalyzeResult {
            entity_type: r.entity_type.clone(),
            start: r.start,
            end: r.end,
            score: 1.0,
        })
        .collect();
    operate(
        &req.text,
        results,
        &req.deanonymizers,
        Operated::Deanonymized,
    )
}

/// The AES-CBC key of an `encrypt` or `decrypt` operator: its UTF-8 bytes, 16, 24 or 32 of
/// them. Errors never hold the key.
fn aes_key(op: &Operator) -> Result<&[u8], String> {
    let key = op.key.as_deref().map(str::as_bytes).unwrap_or_default();
    match key.len() {
        16 | 24 | 32 => Ok(key),
        n => Err(format!(
            "{}: key must be 128, 192 or 256 bits (16, 24 or 32 bytes), not {n} bytes",
            op.kind
        )),
    }
}

/// Presidio's `encrypt`: AES-CBC under `key` with PKCS#7 padding and a random IV, the IV
/// and the ciphertext in URL-safe base64 (with padding).
fn encrypt(key: &[u8], value: &str) -> Result<String, String> {
    use aes::cipher::{block_padding::Pkcs7, BlockModeEncrypt, KeyIvInit};
    let mut iv = [0u8; 16];
    getrandom::fill(&mut iv).map_err(|e| format!("encrypt: no random source ({e})"))?;
    let sealed = match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
            .map(|c| c.encrypt_padded_vec::<Pkcs7>(value.as_bytes())),
        24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, &iv)
            .map(|c| c.encrypt_padded_vec::<Pkcs7>(value.as_bytes())),
        _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
            .map(|c| c.encrypt_padded_vec::<Pkcs7>(value.as_bytes())),
    }
    .map_err(|_| "encrypt: the key is not an AES key".to_owned())?;
    let mut out = iv.to_vec();
    out.extend_from_slice(&sealed);
    Ok(base64::engine::general_purpose::URL_SAFE.encode(out))
}

/// Presidio's `decrypt`, the inverse of [`encrypt`]. Errors say what is wrong with the
/// text, never what it holds.
fn decrypt(key: &[u8], sealed: &str) -> Result<String, String> {
    use aes::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(sealed.trim())
        .map_err(|_| "decrypt: the text is not URL-safe base64".to_owned())?;
    if bytes.len() < 32 || bytes.len() % 16 != 0 {
        return Err("decrypt: the text is not an IV and whole AES blocks".to_owned());
    }
    let (iv, ct) = bytes.split_at(16);
    let opened = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map(|c| c.decrypt_padded_vec::<Pkcs7>(ct)),
        24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
            .map(|c| c.decrypt_padded_vec::<Pkcs7>(ct)),
        _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map(|c| c.decrypt_padded_vec::<Pkcs7>(ct)),
    }
    .map_err(|_| "decrypt: the key is not an AES key".to_owned())?
    .map_err(|_| "decrypt: wrong key, or not a text encrypt made (bad padding)".to_owned())?;
    String::from_utf8(opened)
        .map_err(|_| "decrypt: wrong key, or not a text encrypt made (not UTF-8)".to_owned())
}

/// Applies `operators` (by entity type, else `DEFAULT`; for anonymizing, `replace` when
/// neither) to `results` in `text`, the way `way` says.
fn operate(
    text: &str,
    results: Vec<AnalyzeResult>,
    operators: &HashMap<String, Operator>,
    way: Operated,
) -> Result<(AnonymizeResponse, Applied), Unapplied> {
    let mut bytes = ByteOffsets::new(text);
    let results = without_conflicts(results);
    let mut out = String::with_capacity(text.len());
    let mut items = Vec::new();
    let mut applied = Vec::new();
    let mut at_char = 0;
    let mut at_byte = 0;
    let mut out_chars = 0;
    let replace = Operator {
        kind: "replace".to_owned(),
        ..Operator::default()
    };
    for r in results {
        if r.start < at_char || r.end <= r.start {
            continue;
        }
        // In order of start, none overlapping: the offsets asked for only grow.
        let (Some(sb), Some(eb)) = (bytes.byte_of(r.start), bytes.byte_of(r.end)) else {
            return Err(Unapplied::Results(format!(
                "result {}..{} is outside the text",
                r.start, r.end
            )));
        };
        let before = &text[at_byte..sb];
        out.push_str(before);
        out_chars += before.chars().count();
        let value = &text[sb..eb];
        let op = match operators
            .get(&r.entity_type)
            .or_else(|| operators.get("DEFAULT"))
        {
            Some(op) => op,
            None if way == Operated::Anonymized => &replace,
            None => {
                return Err(Unapplied::Operator(format!(
                    "no deanonymizer for {} (and no DEFAULT)",
                    r.entity_type
                )))
            }
        };
        let (kind, replacement) =
            apply(way, op, &r.entity_type, value).map_err(Unapplied::Operator)?;
        let len = replacement.chars().count();
        items.push(AnonymizeItem {
            start: out_chars,
            end: out_chars + len,
            entity_type: r.entity_type.clone(),
            text: replacement.clone(),
            operator: kind.to_owned(),
        });
        let out_start = out.len();
        out.push_str(&replacement);
        out_chars += len;
        at_char = r.end;
        at_byte = eb;
        // On record is the value in clear: the text's going in, the answer's coming out.
        let (start, end) = match way {
            Operated::Anonymized => (sb, eb),
            Operated::Deanonymized => (out_start, out.len()),
        };
        let finding = Finding {
            entity: sentinel_detect::EntityType::new(&r.entity_type),
            start,
            end,
            score: r.score,
            recognizer: CALLERS_RESULT,
            escaped: false,
            folded: false,
        };
        applied.push((finding, kind));
    }
    out.push_str(&text[at_byte..]);
    Ok((AnonymizeResponse { text: out, items }, applied))
}

/// Byte offsets of character offsets asked for in increasing order, found by walking the
/// text once: a table of every character's offset took 16 bytes a character (half a
/// gigabyte for a 32 MiB body).
struct ByteOffsets<'t> {
    text: &'t str,
    at_char: usize,
    at_byte: usize,
}

impl<'t> ByteOffsets<'t> {
    fn new(text: &'t str) -> ByteOffsets<'t> {
        ByteOffsets {
            text,
            at_char: 0,
            at_byte: 0,
        }
    }

    /// The byte offset of character offset `c` (the text's length for one past its last
    /// character); `None` past that, or before an offset asked for already.
    fn byte_of(&mut self, c: usize) -> Option<usize> {
        if c < self.at_char {
            return None;
        }
        let mut chars = self.text[self.at_byte..].chars();
        while self.at_char < c {
            self.at_byte += chars.next()?.len_utf8();
            self.at_char += 1;
        }
        Some(self.at_byte)
    }
}

/// `op` applied to `value` (of type `entity`) the way `way` says: the operator's name and
/// what replaces the value. Errors never hold the value or a key.
fn apply(
    way: Operated,
    op: &Operator,
    entity: &str,
    value: &str,
) -> Result<(&'static str, String), String> {
    let applied = match (way, op.kind.as_str()) {
        (Operated::Deanonymized, "decrypt") => ("decrypt", decrypt(aes_key(op)?, value)?),
        (Operated::Deanonymized, other) => {
            return Err(format!("unknown deanonymizer type {other:?} (decrypt)"))
        }
        (Operated::Anonymized, "decrypt") => {
            return Err("decrypt is a deanonymizer: POST /deanonymize".to_owned())
        }
        (Operated::Anonymized, "encrypt") => ("encrypt", encrypt(aes_key(op)?, value)?),
        (Operated::Anonymized, "replace") => (
            "replace",
            op.new_value
                .clone()
                .unwrap_or_else(|| format!("<{entity}>")),
        ),
        (Operated::Anonymized, "redact") => ("redact", String::new()),
        (Operated::Anonymized, "keep") => ("keep", value.to_owned()),
        (Operated::Anonymized, "hash") => match op.hash_type.as_deref().unwrap_or("sha256") {
            "sha256" => ("hash", hex::encode(Sha256::digest(value.as_bytes()))),
            "sha512" => ("hash", hex::encode(sha2::Sha512::digest(value.as_bytes()))),
            other => return Err(format!("unknown hash_type {other:?} (sha256 or sha512)")),
        },
        (Operated::Anonymized, "mask") => {
            let mask = op
                .masking_char
                .as_deref()
                .and_then(|m| m.chars().next())
                .unwrap_or('*');
            let vc: Vec<char> = value.chars().collect();
            let n = op.chars_to_mask.unwrap_or(vc.len()).min(vc.len());
            let from_end = op.from_end.unwrap_or(false);
            let masked = vc
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let masked = if from_end { i >= vc.len() - n } else { i < n };
                    if masked {
                        mask
                    } else {
                        *c
                    }
                })
                .collect();
            ("mask", masked)
        }
        (Operated::Anonymized, other) => return Err(format!("unknown anonymizer type {other:?}")),
    };
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ad_hoc_default(req: &AnalyzeRequest) -> Result<Option<AdHoc>, String> {
        ad_hoc(req)
    }

    fn result(entity: &str, start: usize, end: usize, score: f32) -> AnalyzeResult {
        AnalyzeResult {
            entity_type: entity.to_owned(),
            start,
            end,
            score,
        }
    }

    fn spans(rs: &[AnalyzeResult]) -> Vec<(&str, usize, usize)> {
        rs.iter()
            .map(|r| (r.entity_type.as_str(), r.start, r.end))
            .collect()
    }

    #[test]
    fn conflicts_resolve_as_presidio_resolves_them() {
        // One type overlapping itself: one result over both, the higher score.
        let out = without_conflicts(vec![result("A", 0, 5, 0.3), result("A", 3, 9, 0.8)]);
        assert_eq!(spans(&out), [("A", 0, 9)]);
        assert!((out[0].score - 0.8).abs() < f32::EPSILON);
        // Inside another: gone, whatever the scores; the same span: the higher score.
        let out = without_conflicts(vec![
            result("URL", 0, 30, 0.5),
            result("EMAIL", 8, 20, 1.0),
            result("X", 40, 45, 0.2),
            result("Y", 40, 45, 0.9),
        ]);
        assert_eq!(spans(&out), [("URL", 0, 30), ("Y", 40, 45)]);
        // Overlapping in part: cut where they meet, the lower score giving way.
        let out = without_conflicts(vec![result("A", 0, 10, 0.9), result("B", 6, 14, 0.5)]);
        assert_eq!(spans(&out), [("A", 0, 10), ("B", 10, 14)]);
        let out = without_conflicts(vec![result("A", 0, 10, 0.4), result("B", 6, 14, 0.5)]);
        assert_eq!(spans(&out), [("A", 0, 6), ("B", 6, 14)]);
        // Empty and inverted results are nothing to replace.
        assert!(without_conflicts(vec![result("A", 4, 4, 1.0), result("A", 5, 2, 1.0)]).is_empty());
    }

    #[test]
    fn an_overlapping_result_leaves_no_part_of_its_value() {
        let req: AnonymizeRequest = serde_json::from_value(serde_json::json!({
            "text": "token eyJhbGciOiJIUzI1NiJ9.e30.sig-----BEGIN and more",
            "analyzer_results": [
                {"entity_type": "JWT", "start": 6, "end": 35, "score": 0.9},
                {"entity_type": "PRIVATE_KEY", "start": 30, "end": 44, "score": 0.85}
            ]
        }))
        .expect("request");
        let (out, applied) = anonymize(&req).expect("anonymized");
        assert_eq!(out.text, "token <JWT><PRIVATE_KEY> and more");
        // What was replaced, for the record: the resolved spans, with their operators.
        let spans: Vec<(&str, usize, usize, &str)> = applied
            .iter()
            .map(|(f, op)| (f.entity.as_str(), f.start, f.end, *op))
            .collect();
        assert_eq!(
            spans,
            [
                ("JWT", 6, 35, "replace"),
                ("PRIVATE_KEY", 35, 44, "replace")
            ]
        );
    }

    #[test]
    fn hashes_are_of_the_type_asked_for() {
        let hashed = |op: serde_json::Value| {
            let req: AnonymizeRequest = serde_json::from_value(serde_json::json!({
                "text": "id 42",
                "analyzer_results": [{"entity_type": "ID", "start": 3, "end": 5, "score": 1.0}],
                "anonymizers": {"DEFAULT": op}
            }))
            .expect("request");
            anonymize(&req).map(|(out, _)| out)
        };
        let sha256 = hashed(serde_json::json!({"type": "hash"})).expect("sha256");
        assert_eq!(sha256.text.len(), 3 + 64);
        let sha512 =
            hashed(serde_json::json!({"type": "hash", "hash_type": "sha512"})).expect("sha512");
        assert_eq!(sha512.text.len(), 3 + 128);
        let md5 = hashed(serde_json::json!({"type": "hash", "hash_type": "md5"}));
        assert!(md5.is_err_and(|e| e.to_string().contains("md5")));
    }

    #[test]
    fn character_offsets_become_byte_offsets_in_one_walk() {
        let text = "é✓a𝄞";
        let mut b = ByteOffsets::new(text);
        assert_eq!(b.byte_of(0), Some(0));
        assert_eq!(b.byte_of(1), Some(2));
        assert_eq!(b.byte_of(1), Some(2));
        assert_eq!(b.byte_of(3), Some(6));
        assert_eq!(b.byte_of(4), Some(text.len()));
        assert_eq!(b.byte_of(5), None);
        assert_eq!(b.byte_of(2), None, "behind what was asked");
        // Results past the end are refused; those around wide characters land on them.
        let req: AnonymizeRequest = serde_json::from_value(serde_json::json!({
            "text": "é✓ id 42 𝄞 id 7",
            "analyzer_results": [
                {"entity_type": "ID", "start": 14, "end": 15, "score": 1.0},
                {"entity_type": "ID", "start": 6, "end": 8, "score": 1.0}]
        }))
        .expect("request");
        assert_eq!(
            anonymize(&req).expect("applied").0.text,
            "é✓ id <ID> 𝄞 id <ID>"
        );
        let past: AnonymizeRequest = serde_json::from_value(serde_json::json!({
            "text": "é✓", "analyzer_results": [{"entity_type": "X", "start": 1, "end": 3, "score": 1.0}]
        }))
        .expect("request");
        assert!(anonymize(&past).is_err_and(|e| e.code() == "invalid_analyzer_results"));
    }

    #[test]
    fn encrypt_and_decrypt_are_presidios_aes_cbc() {
        // Made by `openssl enc -aes-128-cbc` / `-aes-256-cbc` (PKCS#7 padding, as
        // Presidio's `cryptography` code pads) with the IV 00..0f, in URL-safe base64.
        let made = [
            (
                "WmZq4t7w!z%C&F)J",
                "AAECAwQFBgcICQoLDA0ODz3MoL2ecG2i4gLJc6sTCQH3lxpBGwU3AeTRz79aL4LT",
                "María 4111 1111 1111 1111",
            ),
            (
                "0123456789abcdef0123456789abcdef",
                "AAECAwQFBgcICQoLDA0OD8RR_dDk6UddKPzgxvinw1kS8-KleHTEFA9zXEksM3yu",
                "jane@example.com",
            ),
        ];
        for (key, sealed, value) in made {
            assert_eq!(decrypt(key.as_bytes(), sealed).as_deref(), Ok(value));
            // Ours opens the same way, with an IV of its own every time.
            let ours = encrypt(key.as_bytes(), value).expect("encrypted");
            assert_ne!(ours, sealed);
            assert_ne!(ours, encrypt(key.as_bytes(), value).expect("encrypted"));
            assert_eq!(decrypt(key.as_bytes(), &ours).as_deref(), Ok(value));
        }
        // A 24-byte key, AES-192.
        let key = b"0123456789abcdef01234567";
        let sealed = encrypt(key, "536-22-1234").expect("encrypted");
        assert_eq!(decrypt(key, &sealed).as_deref(), Ok("536-22-1234"));
        // The wrong key, or a text encrypt did not make: an error that holds neither.
        for e in [
            decrypt(b"fedcba9876543210", &sealed).err(),
            decrypt(key, "not base64!").err(),
            decrypt(key, "AAECAwQFBgcICQoLDA0ODw==").err(),
        ] {
            let e = e.expect("refused");
            assert!(!e.contains("536") && !e.contains("0123"), "{e}");
        }
        let op = |key: &str| Operator {
            kind: "encrypt".to_owned(),
            key: Some(key.to_owned()),
            ..Operator::default()
        };
        let e = aes_key(&op("a secret not the right size")).expect_err("refused");
        assert!(e.contains("16, 24 or 32") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn deanonymize_undoes_what_anonymize_encrypted() {
        let text = "call Ana at 212-555-0100 ✓ or mail ana@example.com";
        let req: AnonymizeRequest = serde_json::from_value(serde_json::json!({
            "text": text,
            "analyzer_results": [
                {"entity_type": "PHONE_NUMBER", "start": 12, "end": 24, "score": 0.9},
                {"entity_type": "EMAIL_ADDRESS", "start": 35, "end": 50, "score": 1.0}],
            "anonymizers": {"DEFAULT": {"type": "encrypt", "key": "WmZq4t7w!z%C&F)J"},
                "PHONE_NUMBER": {"type": "mask", "chars_to_mask": 8}}
        }))
        .expect("request");
        let (out, applied) = anonymize(&req).expect("anonymized");
        assert!(
            out.text.starts_with("call Ana at ********0100 ✓ or mail "),
            "{}",
            out.text
        );
        assert!(!out.text.contains("ana@"));
        assert_eq!(applied[1].1, "encrypt");
        // Back: the answer's items, the key; the value in clear is in the answer.
        let back: DeanonymizeRequest = serde_json::from_value(serde_json::json!({
            "text": out.text,
            "anonymizer_results": [serde_json::to_value(&out.items[1]).expect("item")],
            "deanonymizers": {"EMAIL_ADDRESS": {"type": "decrypt", "key": "WmZq4t7w!z%C&F)J"}}
        }))
        .expect("request");
        let (back, opened) = deanonymize(&back).expect("decrypted");
        assert_eq!(
            back.text,
            "call Ana at ********0100 ✓ or mail ana@example.com"
        );
        assert_eq!(
            &back.text[opened[0].0.start..opened[0].0.end],
            "ana@example.com"
        );
        assert_eq!(back.items[0].operator, "decrypt");
        // Each operator its way only; an item without a deanonymizer is an error.
        let wrong: DeanonymizeRequest = serde_json::from_value(serde_json::json!({
            "text": "x", "anonymizer_results": [{"entity_type": "X", "start": 0, "end": 1}],
            "deanonymizers": {"X": {"type": "replace"}}}))
        .expect("request");
        assert!(deanonymize(&wrong).is_err_and(|e| e.to_string().contains("decrypt")));
        let none: DeanonymizeRequest = serde_json::from_value(serde_json::json!({
            "text": "x", "anonymizer_results": [{"entity_type": "X", "start": 0, "end": 1}]}))
        .expect("request");
        assert!(deanonymize(&none).is_err_and(|e| e.to_string().contains("no deanonymizer")));
        let decrypting: AnonymizeRequest = serde_json::from_value(serde_json::json!({
            "text": "x", "analyzer_results": [{"entity_type": "X", "start": 0, "end": 1, "score": 1.0}],
            "anonymizers": {"X": {"type": "decrypt", "key": "WmZq4t7w!z%C&F)J"}}})).expect("request");
        assert!(anonymize(&decrypting).is_err_and(|e| e.to_string().contains("/deanonymize")));
    }

    fn analyze_request(v: serde_json::Value) -> AnalyzeRequest {
        serde_json::from_value(v).expect("request")
    }

    fn found<'t>(text: &'t str, ad_hoc: &AdHoc) -> Vec<(&'t str, String, f32, String)> {
        ad_hoc
            .scan(text)
            .iter()
            .map(|f| {
                (
                    &text[f.start..f.end],
                    f.entity.as_str().to_owned(),
                    f.score,
                    ad_hoc.name(f).to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn ad_hoc_recognizers_match_as_presidio_matches_them() {
        let req = analyze_request(serde_json::json!({
            "text": "",
            "language": "en",
            "ad_hoc_recognizers": [
                {"name": "Zip code Recognizer", "supported_language": "en", "supported_entity": "ZIP",
                 "patterns": [{"name": "zip (weak)", "regex": "(\\b\\d{5}(?:\\-\\d{4})?\\b)", "score": 0.01}],
                 "context": ["zip", "code"]},
                {"name": "Titles recognizer", "supported_entity": "TITLE",
                 "deny_list": ["Mr.", "Mrs.", "Dr."], "deny_list_score": 0.5,
                 "context": ["dear"]},
                {"name": "Ticket", "supported_entity": "TICKET",
                 "patterns": [{"name": "t", "regex": "tck-[0-9]{4}", "score": 0.7}]},
                {"name": "German only", "supported_language": "de", "supported_entity": "PLZ",
                 "patterns": [{"name": "p", "regex": "\\d{5}", "score": 0.9}]}
            ]
        }));
        let ad_hoc = ad_hoc_default(&req).expect("compiled").expect("some apply");
        let text = "Dear dr. Smith, mrs.x, see TCK-1234; zip code 94105, ref 12345.";
        let got = found(text, &ad_hoc);
        // Deny lists as whole words, any case; patterns in any case; context raises a
        // score by 0.35 as Presidio's enhancer does; the German recognizer is not used.
        assert_eq!(
            got.iter()
                .map(|(v, e, _, n)| (*v, e.as_str(), n.as_str()))
                .collect::<Vec<_>>(),
            [
                ("dr.", "TITLE", "Titles recognizer"),
                ("TCK-1234", "TICKET", "Ticket"),
                ("94105", "ZIP", "Zip code Recognizer"),
                ("12345", "ZIP", "Zip code Recognizer"),
            ]
        );
        assert!((got[2].2 - 0.36).abs() < 1e-4, "{got:?}");
        // A deny list's context words count too: "Dear" before "dr.".
        assert!((got[0].2 - 0.85).abs() < 1e-4, "{got:?}");
        assert!((got[3].2 - 0.01).abs() < 1e-4, "{got:?}");

        // Flags as Python's: without IGNORECASE, case counts (patterns and deny lists).
        let strict = analyze_request(serde_json::json!({"text": "", "ad_hoc_recognizers": [
            {"name": "Case", "supported_entity": "T", "global_regex_flags": 0,
             "patterns": [{"name": "t", "regex": "TCK-[0-9]{4}", "score": 0.7}], "deny_list": ["Dr."]}]}));
        let strict = ad_hoc_default(&strict).expect("compiled").expect("applies");
        let got: Vec<&str> = found("tck-1234 TCK-5678 dr. Dr.", &strict)
            .iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(got, ["TCK-5678", "Dr."]);
        // VERBOSE: whitespace and comments are not part of the pattern.
        let verbose = analyze_request(serde_json::json!({"text": "", "ad_hoc_recognizers": [
            {"name": "Verbose", "supported_entity": "T", "global_regex_flags": 2 | 64,
             "patterns": [{"name": "t", "regex": "tck - [0-9]{4}  # a ticket", "score": 0.7}]}]}));
        let verbose = ad_hoc_default(&verbose)
            .expect("compiled")
            .expect("applies");
        assert_eq!(found("see tck-1234", &verbose)[0].0, "tck-1234");
        // A flag with no equivalent (re.LOCALE, 4) is refused by name.
        let locale = analyze_request(serde_json::json!({"text": "", "ad_hoc_recognizers": [
            {"name": "Locale", "supported_entity": "T", "global_regex_flags": 4,
             "patterns": [{"name": "t", "regex": "x", "score": 0.7}]}]}));
        assert!(ad_hoc_default(&locale)
            .err()
            .is_some_and(|e| e.contains("\"Locale\"")));

        // In German, only the German recognizer.
        let mut de = req;
        de.language = Some("de".to_owned());
        let ad_hoc = ad_hoc_default(&de).expect("compiled").expect("one applies");
        assert_eq!(found("PLZ 10115", &ad_hoc)[0].1, "PLZ");
        assert_ne!(
            own_key(&de),
            own_key(&analyze_request(
                serde_json::json!({"text": "", "ad_hoc_recognizers": de.ad_hoc_recognizers})
            ))
        );
    }

    #[test]
    fn ad_hoc_recognizers_that_cannot_be_taken_are_refused_by_name() {
        let refused = |recognizers: serde_json::Value| {
            let req =
                analyze_request(serde_json::json!({"text": "", "ad_hoc_recognizers": recognizers}));
            match ad_hoc_default(&req) {
                Err(e) => e,
                Ok(_) => panic!("taken: {:?}", req.ad_hoc_recognizers),
            }
        };
        // Python's lookaround has no equivalent here.
        let e = refused(serde_json::json!([{"name": "Look", "supported_entity": "X",
            "patterns": [{"name": "p", "regex": "(?<=id:)\\d+", "score": 0.5}]}]));
        assert!(e.contains("\"Look\"") && e.contains("look-around"), "{e}");
        let e = refused(serde_json::json!([{"name": "Nothing", "supported_entity": "X"}]));
        assert!(e.contains("\"Nothing\""), "{e}");
        let e = refused(serde_json::json!([{"name": "Loud", "supported_entity": "X",
            "patterns": [{"name": "p", "regex": "x", "score": 2.0}]}]));
        assert!(e.contains("\"Loud\"") && e.contains("score"), "{e}");
        let many: Vec<serde_json::Value> = (0..=AD_HOC_MAX_PROGRAMS)
            .map(|i| serde_json::json!({"supported_entity": "X", "patterns": [{"name": "p", "regex": format!("x{i}"), "score": 0.5}]}))
            .collect();
        assert!(refused(serde_json::Value::from(many)).contains("at most"));
        let long = "a".repeat(AD_HOC_MAX_PATTERN + 1);
        let e = refused(serde_json::json!([{"name": "Long", "supported_entity": "X",
            "patterns": [{"name": "p", "regex": long, "score": 0.5}]}]));
        assert!(e.contains("bytes"), "{e}");
        // Past the bytes a request's recognizers may compile to.
        let small = analyze_request(serde_json::json!({"text": "", "ad_hoc_recognizers": [
            {"name": "Big", "supported_entity": "X",
             "patterns": [{"name": "p", "regex": "[a-z]{4}-[0-9]{6}", "score": 0.5}]}]}));
        let e = super::own(&small, 64).err().expect("refused");
        assert!(e.contains("KiB"), "{e}");
        assert!(super::own(&small, AD_HOC_MAX_BYTES).is_ok());
        // None at all, or none in the request's language: nothing to compile.
        assert!(
            ad_hoc_default(&analyze_request(serde_json::json!({"text": ""})))
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn allow_lists_of_regular_expressions_are_compiled_with_the_request() {
        let req = |extra: serde_json::Value| {
            let mut v = serde_json::json!({"text": "", "allow_list": ["a.c", "x+"]});
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            analyze_request(v)
        };
        // Exact values need nothing compiled; regular expressions do, with their flags.
        assert!(own_key(&req(serde_json::json!({}))).is_none());
        let regex = req(serde_json::json!({"allow_list_match": "regex"}));
        let strict = req(serde_json::json!({"allow_list_match": "regex", "regex_flags": 0}));
        assert_ne!(own_key(&regex), own_key(&strict));
        let own = own(&regex, AD_HOC_MAX_BYTES).expect("compiled");
        assert!(!own.is_empty());
        let rules = Rules::new(&regex, Some(&own));
        // Searched in the value, in any case by default.
        assert!(!rules.keeps("X", 1.0, "zABCz"));
        assert!(rules.keeps("X", 1.0, "ab"));
        let own_strict = super::own(&strict, AD_HOC_MAX_BYTES).expect("compiled");
        assert!(Rules::new(&strict, Some(&own_strict)).keeps("X", 1.0, "ABC"));
        // Refused: flags with no equivalent, look-around, too long, too large.
        let e = super::own(
            &req(serde_json::json!({"allow_list_match": "regex", "regex_flags": 4})),
            AD_HOC_MAX_BYTES,
        )
        .err()
        .expect("refused");
        assert!(e.contains("regex_flags"), "{e}");
        let long = req(
            serde_json::json!({"allow_list_match": "regex", "allow_list": ["a".repeat(ALLOW_REGEX_MAX)]}),
        );
        assert!(super::own(&long, AD_HOC_MAX_BYTES).is_err_and(|e| e.contains("bytes")));
        assert!(super::own(&regex, 64).is_err_and(|e| e.contains("KiB")));
    }

    #[test]
    fn request_context_raises_a_score_once_before_the_threshold() {
        let req = analyze_request(serde_json::json!({"text": "", "context": ["Postal ZIP"],
            "score_threshold": 0.3, "ad_hoc_recognizers": [{"name": "Zip", "supported_entity": "ZIP",
            "context": ["zip"], "patterns": [{"name": "z", "regex": "\\b\\d{5}\\b", "score": 0.1}]}]}));
        let own = own(&req, AD_HOC_MAX_BYTES).expect("compiled");
        let rules = Rules::new(&req, Some(&own));
        let set = &own.ad_hoc.as_ref().expect("ad hoc").detector;
        let score = |text: &str| {
            let f = &own.scan(text)[0];
            rules.score(set, text, f)
        };
        // Raised by the request's words (naming the recognizer's word that raised it);
        // beside its own word, raised by the text only.
        let (raised, word) = score("ref 94105");
        assert!((raised - 0.45).abs() < 1e-4);
        assert_eq!(word, Some("zip"));
        let (raised, word) = score("zip 94105");
        assert!((raised - 0.45).abs() < 1e-4);
        assert_eq!(word, None);
        assert!(rules.keeps("ZIP", 0.45, "94105"));
        assert!(!rules.keeps("ZIP", 0.1, "94105"));
        // Words that do not hold a recognizer's: nothing.
        let other = analyze_request(serde_json::json!({"text": "", "context": ["code"]}));
        let (kept, word) =
            Rules::new(&other, Some(&own)).score(set, "ref 94105", &own.scan("ref 94105")[0]);
        assert!((kept - 0.1).abs() < 1e-4);
        assert_eq!(word, None);
    }

    proptest! {
        /// Whatever results a client sends, what is replaced covers every character they
        /// covered, and nothing twice.
        #[test]
        fn resolved_results_cover_what_was_sent_without_overlap(
            sent in proptest::collection::vec((0usize..4, 0usize..40, 1usize..15, 0u8..=10), 0..12)
        ) {
            let results: Vec<AnalyzeResult> = sent
                .iter()
                .map(|&(e, start, len, score)| result(["A", "B", "C", "D"][e], start, start + len, f32::from(score) / 10.0))
                .collect();
            let out = without_conflicts(results.clone());
            let covered = |rs: &[AnalyzeResult]| {
                let mut c = [false; 64];
                for r in rs {
                    for x in &mut c[r.start..r.end] {
                        *x = true;
                    }
                }
                c
            };
            prop_assert_eq!(covered(&out), covered(&results));
            for w in out.windows(2) {
                prop_assert!(w[0].end <= w[1].start, "{:?}", out);
            }
            prop_assert!(out.iter().all(|r| r.start < r.end));
        }
    }
}
