//! `PatternSet`: every recognizer's pattern compiled into grouped multi-pattern programs,
//! with the prefilters that decide where they run.
//!
//! # How a scan runs
//!
//! 1. **Prefilter.** One pass of the byte-set prefilter (digits, `@`, `:`...) and one of
//!    the literal prefilter (key prefixes, context anchors) report triggers.
//! 2. **Windows.** Each trigger opens a window for its group: the run of bytes around it
//!    that the group's patterns can match at all (their alphabet), clipped to the longest
//!    match they can make. Windows of a group merge when they touch. A window shorter than
//!    the group's shortest match, or with fewer trigger bytes than any match needs, is
//!    dropped without running a pattern. Text with no trigger is never looked at again.
//! 3. **Which.** In each window, the group's multi-pattern program (one pass, all patterns,
//!    overlapping semantics) says which recognizers match there at all.
//! 4. **Confirm.** Only those recognizers' own programs find their matches in the window,
//!    and each candidate is checked (boundary, validator, context) before it is kept.
//!
//! Windows never lose a match: every match contains a trigger, lies in its alphabet, and
//! is no longer than the group's maximum, so it lies inside the window of that trigger;
//! a search restricted to a window still sees the bytes around it for `\b`. A property
//! test compares this path with running every pattern over the whole text.

use std::sync::Arc;

use regex_automata::dfa::{dense, Automaton};
use regex_automata::meta::Regex;
use regex_automata::nfa::thompson;
use regex_automata::util::captures::Captures;
use regex_automata::util::pool::Pool;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

use crate::context::{self, Context};
use crate::error::Error;
use crate::finding::{EntityType, Finding, RecognizerId};
use crate::prefilter::{ByteSet, Literals, Prefilter, Sink};
use crate::recognizer::{Boundary, Recognizer, Trigger};

/// NFA states up to which a pattern gets a full DFA.
const DFA_NFA_STATES: usize = 4_000;
/// Bytes a full DFA may take before meta falls back to the lazy DFA.
const DFA_BYTES: usize = 2 << 20;
/// NFA states above which a group's "which" DFA is not attempted.
const WHICH_NFA_STATES: usize = 256;
/// Longest match of a member for which a group's "which" DFA is attempted.
const WHICH_MAX_LEN: usize = 24;
/// Budget of a group's "which" DFA.
const WHICH_DFA_BYTES: usize = 1 << 20;
/// How many shorter matches are tried from the start of a rejected one.
const SHRINK_TRIES: usize = 8;
/// The most groups one set can hold; recognizers beyond it scan the whole text.
const MAX_GROUPS: usize = 64;

type Bytes256 = Box<[bool; 256]>;

/// The trigger after `Auto` is resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Resolved {
    Bytes(Vec<u8>),
    Literals(Vec<Vec<u8>>),
    Context,
    Always,
}

#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) spec: Recognizer,
    pub(crate) entity: EntityType,
    regex: Regex,
    context: Option<Context>,
    max_len: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Windows are runs of the alphabet around each trigger.
    Run,
    /// Windows surround a context word by the context reach plus the longest match.
    Context,
    /// One window: the whole text.
    Always,
}

#[derive(Debug)]
struct Group {
    kind: Kind,
    members: Vec<usize>,
    /// Per member: shortest match and fewest trigger bytes a match holds.
    member_min: Vec<(usize, usize)>,
    /// Per member: other bytes every match holds, with their least count (the `+` of an
    /// international phone number, the three dots of an IPv4 address).
    member_required: Vec<Vec<(u8, usize)>>,
    /// Classes (capitals, lower case, digits; none a trigger byte) of which some member's
    /// every match holds bytes: a window of digits and a dash (a date) holds no capital.
    classes: Vec<Bytes256>,
    /// Per class, the least count of its bytes over the members: a window with fewer is
    /// passed before any DFA runs.
    class_min: Vec<usize>,
    /// Per class, the most any member needs: counting stops there.
    class_max: Vec<usize>,
    /// Per member, per class, the count every match holds: a member a window has too few
    /// for is not tried there (IBAN's and the DNI's capitals, in a run of digits).
    member_class_min: Vec<Vec<usize>>,
    which: Option<dense::DFA<Vec<u32>>>,
    alphabet: Bytes256,
    triggers: Option<Bytes256>,
    min_triggers: usize,
    min_len: usize,
    max_len: Option<usize>,
    /// How far windows reach before and after a trigger.
    reach: (usize, usize),
}

/// Per-scan buffers, reused through a pool so a scan allocates nothing in the steady state.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    windows: Vec<Vec<(usize, usize)>>,
    which: Option<regex_automata::PatternSet>,
    captures: Vec<Option<Captures>>,
    pub(crate) candidates: Vec<Finding>,
    pub(crate) normalized: crate::normalize::Normalized,
}

/// The most entries a pooled scratch list keeps between scans. A scan of text dense with
/// values grows its lists to many times the text; kept at that size in the pool, one
/// large request would hold its memory for the life of the process.
const KEPT_ENTRIES: usize = 4096;

impl Scratch {
    /// Gives back what a large scan grew the lists to, past [`KEPT_ENTRIES`].
    fn trim(&mut self) {
        for w in &mut self.windows {
            w.shrink_to(KEPT_ENTRIES);
        }
        self.candidates.shrink_to(KEPT_ENTRIES);
        self.normalized.shrink_to(KEPT_ENTRIES * 16);
    }
}

#[derive(Debug)]
struct Inner {
    recognizers: Vec<Compiled>,
    groups: Vec<Group>,
    bytes: ByteSet,
    literals: Option<Literals>,
    max_len: Option<usize>,
    /// Whether some recognizer's finding may hold white space beside a lower-case letter
    /// (words of prose), other than a PEM block's (a pattern starting `-----BEGIN `).
    spans_words: bool,
    /// Whether some recognizer's finding may hold a letter of Chinese, Japanese or Korean.
    cjk: bool,
    memory: usize,
    pool: Pool<Scratch, fn() -> Scratch>,
}

/// Many recognizers compiled into grouped multi-pattern programs with their prefilters.
///
/// This is the concrete engine behind [`LocalDetector`](crate::LocalDetector); use it
/// directly to get every candidate before overlap resolution.
///
/// # Cloning
///
/// Cloning shares the compiled programs (a reference-count increment).
///
/// # Example: candidates before overlap resolution
///
/// ```
/// use sentinel_detect::{builtin, PatternSet};
/// let set = PatternSet::new(builtin())?;
/// let mut found = Vec::new();
/// set.candidates("SSN 536-22-1234", &mut found);
/// assert!(found.iter().any(|f| f.entity.as_str() == "US_SSN"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct PatternSet {
    inner: Arc<Inner>,
}

/// Engine choice for every program. Windows are short, so a lazy DFA spends its time
/// building states it uses once, clears its cache, and gives up for the PikeVM; a full DFA
/// built up front has no such cost. Meta builds one when the pattern's NFA is small enough
/// and falls back to the lazy DFA otherwise.
fn engine_config() -> regex_automata::meta::Config {
    Regex::config()
        .dfa_state_limit(Some(DFA_NFA_STATES))
        .dfa_size_limit(Some(DFA_BYTES))
}

/// A group's "which" program: one dense DFA over all its patterns with overlapping
/// semantics, answering in one pass which of them match in a window. Unanchored
/// overlapping search over bounded repetitions can need very many states; when the DFA
/// does not fit its budget the group goes without, and its members' own checks and
/// programs run instead (correct either way, only slower on windows that match nothing).
fn which_dfa(hirs: &[Hir]) -> Option<dense::DFA<Vec<u32>>> {
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .utf8(true)
                .which_captures(thompson::WhichCaptures::None),
        )
        .build_many_from_hir(hirs)
        .ok()?;
    // Determinizing a large overlapping NFA is where the time goes, and it is large NFAs
    // that blow the budget (the default numeric group: 437 states, 44 ms to fail), or long
    // matches over broad classes, whose overlapping partial matches multiply (IBAN's group
    // with the identifiers that join it: 120 states, 41 ms to fail): skip both.
    if nfa.states().len() > WHICH_NFA_STATES
        || hirs.iter().any(|h| {
            h.properties()
                .maximum_len()
                .is_none_or(|m| m > WHICH_MAX_LEN)
        })
    {
        return None;
    }
    dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                // Custom patterns write Unicode `\b`: the DFA handles it on ASCII text and
                // reports an error on other text, where every member then runs.
                .unicode_word_boundary(true)
                .dfa_size_limit(Some(WHICH_DFA_BYTES))
                .determinize_size_limit(Some(WHICH_DFA_BYTES)),
        )
        .build_from_nfa(&nfa)
        .ok()
}

fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(true).utf8(true)
}

fn parse(r: &Recognizer) -> Result<Hir, Error> {
    regex_syntax::ParserBuilder::new()
        .unicode(true)
        .utf8(true)
        .nest_limit(100)
        .build()
        .parse(&r.pattern)
        .map_err(|e| Error::pattern(&r.name, e))
}

/// What a match of `hir` reports: capture group `group` and every later one, any of which
/// may hold the value when the others did not take part (a value written quoted or bare);
/// the whole match without a group. Each with whether it is a [quoted] value.
fn value_parts(hir: &Hir, group: Option<usize>) -> Vec<(&Hir, bool)> {
    /// `prev`: the bytes that may stand just before `hir` in a match; `None` when that
    /// is not known (the text before the match).
    fn walk<'h>(hir: &'h Hir, from: u32, prev: Option<Bytes>, out: &mut Vec<(&'h Hir, bool)>) {
        match hir.kind() {
            HirKind::Capture(c) if c.index >= from => out.push((&c.sub, false)),
            HirKind::Capture(c) => walk(&c.sub, from, prev, out),
            HirKind::Repetition(r) => walk(&r.sub, from, None, out),
            HirKind::Alternation(v) => v.iter().for_each(|h| walk(h, from, prev, out)),
            HirKind::Concat(v) => {
                for (i, h) in v.iter().enumerate() {
                    match h.kind() {
                        HirKind::Capture(c) if c.index >= from => {
                            let quoted =
                                i > 0 && quoted(&v[i - 1], &v[..i - 1], prev, &c.sub, v.get(i + 1));
                            out.push((&c.sub, quoted));
                        }
                        _ => walk(h, from, last_bytes(&v[..i], prev), out),
                    }
                }
            }
            _ => {}
        }
    }
    let Some(from) = group.and_then(|g| u32::try_from(g).ok()) else {
        return vec![(hir, false)];
    };
    let mut out = Vec::new();
    walk(hir, from, None, &mut out);
    if out.is_empty() {
        out.push((hir, false));
    }
    out
}

/// A set of bytes, one flag each.
type Bytes = [bool; 256];

/// Whether a capture group `value`, after the literal `open` (itself after `before`, after
/// `prev`) and before `after` in a concatenation, is a value in quotes as a
/// [`StreamScanner`](crate::StreamScanner) follows them on its own: `open` ends in `"` or
/// `'`, after a byte that is no ASCII letter or digit; `after` starts with the same quote;
/// nothing in the value is that quote or a line end; and it fits in
/// [`QUOTE_LIMIT`](crate::stream::QUOTE_LIMIT) bytes with its quotes. Such a value may
/// span words (a passphrase) and leave the detector
/// [word-bounded](crate::Detector::word_bounded).
fn quoted(
    open: &Hir,
    before: &[Hir],
    prev: Option<Bytes>,
    value: &Hir,
    after: Option<&Hir>,
) -> bool {
    let (HirKind::Literal(open), Some(HirKind::Literal(close))) =
        (open.kind(), after.map(Hir::kind))
    else {
        return false;
    };
    let Some((&q, lead)) = open.0.split_last() else {
        return false;
    };
    if !matches!(q, b'"' | b'\'') || close.0.first() != Some(&q) {
        return false;
    }
    let before_quote = match lead.last() {
        Some(&b) => {
            let mut set = [false; 256];
            set[usize::from(b)] = true;
            Some(set)
        }
        None => last_bytes(before, prev),
    };
    let Some(before_quote) = before_quote else {
        return false;
    };
    let mut alpha = [false; 256];
    alphabet(value, &mut alpha);
    !(0..=255u8).any(|b| before_quote[usize::from(b)] && b.is_ascii_alphanumeric())
        && ![q, b'\n', b'\r'].iter().any(|&b| alpha[usize::from(b)])
        && value
            .properties()
            .maximum_len()
            .is_some_and(|m| m + 2 <= crate::stream::QUOTE_LIMIT)
}

/// The bytes a match of the concatenation `seq` may end with, those of `prev` (what may
/// stand before it) too when it may match nothing; `None` when that is not known.
fn last_bytes(seq: &[Hir], prev: Option<Bytes>) -> Option<Bytes> {
    /// Adds the bytes `hir` may end with to `set`; whether it may match nothing.
    fn last_of(hir: &Hir, set: &mut Bytes) -> bool {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => true,
            HirKind::Literal(lit) => {
                if let Some(&b) = lit.0.last() {
                    set[usize::from(b)] = true;
                }
                lit.0.is_empty()
            }
            HirKind::Class(_) => {
                alphabet(hir, set);
                false
            }
            HirKind::Repetition(r) => last_of(&r.sub, set) || r.min == 0,
            HirKind::Capture(c) => last_of(&c.sub, set),
            HirKind::Concat(v) => v.iter().rev().all(|h| last_of(h, set)),
            HirKind::Alternation(v) => {
                // Every branch's bytes, so no short cut.
                let mut empty = false;
                for h in v {
                    empty |= last_of(h, set);
                }
                empty
            }
        }
    }
    let mut set = [false; 256];
    if !seq.iter().rev().all(|h| last_of(h, &mut set)) {
        return Some(set);
    }
    let prev = prev?;
    set.iter_mut().zip(prev).for_each(|(s, p)| *s |= p);
    Some(set)
}

/// Whether `value` may match a letter of Chinese, Japanese or Korean
/// ([`CJK`](crate::stream::CJK)): a class holding one, a literal spelling one, or a class
/// of raw bytes past ASCII, which might spell one.
fn may_hold_cjk(value: &Hir) -> bool {
    use crate::stream::CJK;
    match value.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
            Ok(s) => crate::stream::holds_cjk(s),
            Err(_) => true,
        },
        HirKind::Class(Class::Bytes(c)) => c.ranges().iter().any(|r| r.end() >= 0x80),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .any(|r| CJK.iter().any(|&(lo, hi)| r.start() <= hi && lo <= r.end())),
        HirKind::Repetition(r) => may_hold_cjk(&r.sub),
        HirKind::Capture(c) => may_hold_cjk(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(may_hold_cjk),
    }
}

/// Whether `value` may hold ASCII white space and a letter of a word of prose: a
/// lower-case ASCII one or any byte past ASCII (`été` is prose to a stream scanner too).
fn spans_words(value: &Hir) -> bool {
    let mut alpha = [false; 256];
    alphabet(value, &mut alpha);
    b" \t\n\r\x0b\x0c".iter().any(|&b| alpha[usize::from(b)])
        && (alpha[usize::from(b'a')..=usize::from(b'z')]
            .iter()
            .any(|&x| x)
            || alpha[0x80..].iter().any(|&x| x))
}

fn alphabet(hir: &Hir, set: &mut [bool; 256]) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => lit.0.iter().for_each(|&b| set[usize::from(b)] = true),
        HirKind::Class(Class::Bytes(c)) => {
            for r in c.ranges() {
                (r.start()..=r.end()).for_each(|b| set[usize::from(b)] = true);
            }
        }
        HirKind::Class(Class::Unicode(c)) => {
            for r in c.ranges() {
                let (s, e) = (r.start() as u32, r.end() as u32);
                (s..=e.min(0x7F)).for_each(|b| set[b as usize] = true);
                if e >= 0x80 {
                    set[0x80..].iter_mut().for_each(|x| *x = true);
                }
            }
        }
        HirKind::Repetition(r) => alphabet(&r.sub, set),
        HirKind::Capture(c) => alphabet(&c.sub, set),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().for_each(|h| alphabet(h, set)),
    }
}

/// A lower bound on how many bytes of `trig` every match of `hir` contains.
fn min_count(hir: &Hir, trig: &[bool; 256]) -> usize {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 0,
        HirKind::Literal(lit) => lit.0.iter().filter(|&&b| trig[usize::from(b)]).count(),
        HirKind::Class(c) => {
            let mut set = [false; 256];
            alphabet(&Hir::class(c.clone()), &mut set);
            let inside = set.iter().zip(trig.iter()).all(|(&s, &t)| !s || t);
            usize::from(inside && set.iter().any(|&s| s))
        }
        HirKind::Repetition(r) => r.min as usize * min_count(&r.sub, trig),
        HirKind::Capture(c) => min_count(&c.sub, trig),
        HirKind::Concat(v) => v.iter().map(|h| min_count(h, trig)).sum(),
        HirKind::Alternation(v) => v.iter().map(|h| min_count(h, trig)).min().unwrap_or(0),
    }
}

fn resolve_trigger(r: &Recognizer, hir: &Hir) -> Resolved {
    match &r.trigger {
        Trigger::Bytes(b) => Resolved::Bytes(b.clone()),
        Trigger::Literals(l) => {
            Resolved::Literals(l.iter().map(|s| s.as_bytes().to_vec()).collect())
        }
        Trigger::Context if !r.context.is_empty() => Resolved::Context,
        Trigger::Context | Trigger::Always => Resolved::Always,
        Trigger::Auto => {
            let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
            match seq.literals() {
                Some(lits) if !lits.is_empty() && lits.iter().all(|l| !l.as_bytes().is_empty()) => {
                    if lits.len() <= 64 && lits.iter().all(|l| l.as_bytes().len() >= 2) {
                        Resolved::Literals(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
                    } else {
                        let mut first: Vec<u8> = lits.iter().map(|l| l.as_bytes()[0]).collect();
                        first.sort_unstable();
                        first.dedup();
                        Resolved::Bytes(first)
                    }
                }
                _ => Resolved::Always,
            }
        }
    }
}

fn set_of(bytes: &[u8]) -> Bytes256 {
    let mut s = Box::new([false; 256]);
    bytes.iter().for_each(|&b| s[usize::from(b)] = true);
    s
}

impl PatternSet {
    /// Compiles `recognizers` (in priority order).
    ///
    /// # Errors
    ///
    /// A pattern that does not compile, names that repeat, or a definition that does not
    /// hold together (score outside `0..=1`, a value group the pattern lacks); the error
    /// names the recognizer.
    pub fn new(recognizers: Vec<Recognizer>) -> Result<PatternSet, Error> {
        if recognizers.len() > usize::from(u16::MAX) {
            return Err(Error::invalid("*", "too many recognizers"));
        }
        let mut compiled = Vec::with_capacity(recognizers.len());
        let mut spans_words = false;
        let mut cjk = false;
        // (resolved trigger, alphabet key) -> group index, with hirs per group.
        let mut keys: Vec<(Resolved, Option<Vec<bool>>)> = Vec::new();
        let mut members: Vec<Vec<(usize, Hir)>> = Vec::new();
        for (i, r) in recognizers.into_iter().enumerate() {
            if r.name.is_empty() || r.entity.is_empty() {
                return Err(Error::invalid(&r.name, "name and entity must not be empty"));
            }
            if !(0.0..=1.0).contains(&r.score) {
                return Err(Error::invalid(&r.name, "score must be within 0.0..=1.0"));
            }
            if compiled.iter().any(|c: &Compiled| c.spec.name == r.name) {
                return Err(Error::new(crate::error::ErrorKind::DuplicateRecognizer {
                    recognizer: r.name.clone(),
                }));
            }
            let hir = parse(&r)?;
            let regex = Regex::builder()
                .syntax(syntax_config())
                .configure(engine_config().match_kind(MatchKind::LeftmostFirst))
                .build_from_hir(&hir)
                .map_err(|e| Error::pattern(&r.name, e))?;
            if let Some(g) = r.value_group {
                if g >= regex
                    .group_info()
                    .group_len(regex_automata::PatternID::ZERO)
                {
                    return Err(Error::invalid(
                        &r.name,
                        format!("the pattern has no group {g}"),
                    ));
                }
            }
            let mut alpha = [false; 256];
            alphabet(&hir, &mut alpha);
            let letters = alpha[usize::from(b'a')..=usize::from(b'z')]
                .iter()
                .any(|&x| x)
                || alpha[usize::from(b'A')..=usize::from(b'Z')]
                    .iter()
                    .any(|&x| x);
            let trigger = resolve_trigger(&r, &hir);
            // Patterns without letters share a group per trigger (one "which" pass for all
            // numeric recognizers); patterns with letters get windows of their own alphabet.
            let key_alpha = match trigger {
                Resolved::Bytes(_) | Resolved::Literals(_) if letters => Some(alpha.to_vec()),
                Resolved::Context => Some(r.context.iter().map(|w| w.len() % 2 == 0).collect()),
                _ => None,
            };
            let key = (trigger, key_alpha);
            let context_key_unique = matches!(key.0, Resolved::Context);
            // A pattern with letters triggered by bytes joins a group of the same trigger
            // bytes whose alphabet holds its own (an identifier of capitals and digits
            // joins IBAN's windows rather than opening windows of its own at every digit);
            // the group's windows are runs of the larger alphabet, which hold every run of
            // the smaller. Literal-triggered groups stay apart: a short pattern's windows
            // would take a long one's reach.
            let within = |k: &(Resolved, Option<Vec<bool>>)| match (&key, k) {
                ((Resolved::Bytes(_), Some(mine)), (trigger, Some(theirs)))
                    if *trigger == key.0 =>
                {
                    mine.iter().zip(theirs).all(|(m, t)| !m || *t)
                }
                _ => false,
            };
            let found = match context_key_unique {
                true => None,
                false => keys
                    .iter()
                    .position(|k| *k == key)
                    .or_else(|| keys.iter().position(within)),
            };
            let g = match found {
                Some(g) => g,
                None => {
                    keys.push(key);
                    members.push(Vec::new());
                    keys.len() - 1
                }
            };
            // A PEM block spans words, and a stream scanner holds it whole on its own.
            let pem = r.pattern.as_bytes().starts_with(crate::stream::PEM_BEGIN);
            for (value, quoted) in value_parts(&hir, r.value_group) {
                spans_words |= !pem && !quoted && self::spans_words(value);
                cjk |= may_hold_cjk(value);
            }
            members[g].push((i, hir.clone()));
            compiled.push(Compiled {
                entity: EntityType::new(&r.entity),
                context: Context::new(&r.context),
                max_len: hir.properties().maximum_len(),
                regex,
                spec: r,
            });
        }

        let mut groups = Vec::with_capacity(keys.len());
        let mut bytes = ByteSet::new();
        let mut literal_pairs: Vec<(Vec<u8>, usize)> = Vec::new();
        for (gi, ((trigger, _), hirs)) in keys.into_iter().zip(members).enumerate() {
            let mut kind = match trigger {
                Resolved::Bytes(_) | Resolved::Literals(_) => Kind::Run,
                Resolved::Context => Kind::Context,
                Resolved::Always => Kind::Always,
            };
            if gi >= MAX_GROUPS {
                kind = Kind::Always;
            }
            let mut alpha = Box::new([false; 256]);
            hirs.iter().for_each(|(_, h)| alphabet(h, &mut alpha));
            let min_len = hirs
                .iter()
                .map(|(_, h)| h.properties().minimum_len().unwrap_or(0))
                .min()
                .unwrap_or(0);
            let max_len = hirs
                .iter()
                .map(|(_, h)| h.properties().maximum_len())
                .try_fold(0usize, |acc, m| m.map(|m| acc.max(m)));
            let m = max_len.unwrap_or(usize::MAX);
            let reach = hirs
                .iter()
                .map(|&(i, _)| compiled[i].spec.trigger_reach.unwrap_or((m, m)))
                .fold((0, 0), |acc, r| (acc.0.max(r.0), acc.1.max(r.1)));
            let mut triggers = None;
            let mut min_triggers = 0;
            match (&trigger, kind) {
                (Resolved::Bytes(b), Kind::Run) => {
                    bytes.add(gi, b);
                    let set = set_of(b);
                    min_triggers = hirs
                        .iter()
                        .map(|(_, h)| min_count(h, &set))
                        .min()
                        .unwrap_or(0);
                    triggers = Some(set);
                }
                (Resolved::Literals(l), Kind::Run) => {
                    literal_pairs.extend(l.iter().map(|lit| (lit.clone(), gi)));
                }
                (Resolved::Context, Kind::Context) => {
                    for &(i, _) in &hirs {
                        for w in &compiled[i].spec.context {
                            literal_pairs
                                .extend(context::trigger_spellings(w).into_iter().map(|s| (s, gi)));
                        }
                    }
                }
                _ => {}
            }
            let which = if hirs.len() > 1 {
                let hs: Vec<Hir> = hirs.iter().map(|(_, h)| h.clone()).collect();
                which_dfa(&hs)
            } else {
                None
            };
            let member_min = hirs
                .iter()
                .map(|(_, h)| {
                    let len = h.properties().minimum_len().unwrap_or(0);
                    (len, triggers.as_ref().map_or(0, |t| min_count(h, t)))
                })
                .collect();
            let member_required = hirs
                .iter()
                .map(|(_, h)| {
                    let mut alpha = [false; 256];
                    alphabet(h, &mut alpha);
                    (0..=255u8)
                        .filter(|&b| {
                            alpha[usize::from(b)]
                                && triggers.as_ref().is_none_or(|t| !t[usize::from(b)])
                        })
                        .filter_map(|b| {
                            let mut one = [false; 256];
                            one[usize::from(b)] = true;
                            let n = min_count(h, &one);
                            (n > 0).then_some((b, n))
                        })
                        .collect()
                })
                .collect();
            let mut classes = Vec::new();
            let mut member_class_min = vec![Vec::new(); hirs.len()];
            for range in [b'A'..=b'Z', b'a'..=b'z', b'0'..=b'9'] {
                let mut class = Box::new([false; 256]);
                for b in range {
                    class[usize::from(b)] = triggers.as_ref().is_none_or(|t| !t[usize::from(b)]);
                }
                let counts: Vec<usize> = hirs.iter().map(|(_, h)| min_count(h, &class)).collect();
                if counts.iter().any(|&n| n > 0) {
                    classes.push(class);
                    for (m, n) in member_class_min.iter_mut().zip(counts) {
                        m.push(n);
                    }
                }
            }
            let class_min = (0..classes.len())
                .map(|c| member_class_min.iter().map(|m| m[c]).min().unwrap_or(0))
                .collect();
            let class_max = (0..classes.len())
                .map(|c| member_class_min.iter().map(|m| m[c]).max().unwrap_or(0))
                .collect();
            groups.push(Group {
                kind,
                members: hirs.iter().map(|(i, _)| *i).collect(),
                member_min,
                member_required,
                classes,
                class_min,
                class_max,
                member_class_min,
                which,
                alphabet: alpha,
                triggers,
                min_triggers,
                min_len,
                max_len,
                reach,
            });
        }
        let literals = Literals::new(&literal_pairs);
        let max_len = compiled
            .iter()
            .try_fold(0usize, |acc, c| c.max_len.map(|m| acc.max(m)));
        let memory = compiled
            .iter()
            .map(|c| c.regex.memory_usage() + c.context.as_ref().map_or(0, Context::memory_usage))
            .sum::<usize>()
            + groups
                .iter()
                .map(|g| g.which.as_ref().map_or(0, |d| d.memory_usage()) + 512)
                .sum::<usize>()
            + literals.as_ref().map_or(0, Literals::memory_usage)
            + 256 * 8;
        let create: fn() -> Scratch = Scratch::default;
        Ok(PatternSet {
            inner: Arc::new(Inner {
                recognizers: compiled,
                groups,
                bytes,
                literals,
                max_len,
                spans_words,
                cjk,
                memory,
                pool: Pool::new(create),
            }),
        })
    }

    /// How many recognizers the set holds.
    pub fn len(&self) -> usize {
        self.inner.recognizers.len()
    }

    /// Whether the set holds no recognizer.
    pub fn is_empty(&self) -> bool {
        self.inner.recognizers.is_empty()
    }

    /// The recognizer with this id.
    pub fn recognizer(&self, id: RecognizerId) -> &Recognizer {
        &self.inner.recognizers[id.as_usize()].spec
    }

    /// The context words of recognizer `id`; none for an id the set does not hold.
    pub(crate) fn context_words(&self, id: RecognizerId) -> &[String] {
        self.inner
            .recognizers
            .get(id.as_usize())
            .map_or(&[], |c| &c.spec.context)
    }

    /// Whether one of recognizer `id`'s context words is near `start..end` in `text` as a
    /// scan reads context: a finding there had its score raised by
    /// [`CONTEXT_BOOST`](crate::CONTEXT_BOOST).
    pub(crate) fn context_near(
        &self,
        id: RecognizerId,
        text: &str,
        start: usize,
        end: usize,
    ) -> bool {
        self.inner
            .recognizers
            .get(id.as_usize())
            .and_then(|c| c.context.as_ref())
            .is_some_and(|ctx| ctx.near(text, start, end))
    }

    /// Heap bytes held by the compiled programs and prefilters (not counting the lazy DFA
    /// caches, which grow per thread up to their capacity as text is scanned).
    pub fn memory_usage(&self) -> usize {
        self.inner.memory
    }

    /// The longest match any recognizer can make, in bytes; `None` if one is unbounded.
    pub fn max_match_len(&self) -> Option<usize> {
        self.inner.max_len
    }

    /// Whether a finding may hold words of prose: white space beside a lower-case or
    /// non-ASCII letter in what a recognizer reports (its value group's bytes, or its whole
    /// match's). A private key's PEM block does, and is left out (a pattern that starts
    /// `-----BEGIN `): a stream scanner follows PEM blocks on its own. Without such a recognizer every finding that spans white space is made
    /// of digits, capitals and separators, which is what lets a stream scanner release
    /// prose before its hold-back ([`StreamScanner`](crate::StreamScanner)).
    pub fn spans_words(&self) -> bool {
        self.inner.spans_words
    }

    /// Whether a finding may hold a letter of Chinese, Japanese or Korean: what some
    /// recognizer reports (its value group, or its whole match) may match one. Without
    /// such a recognizer a stream scanner settles text in those scripts, written without
    /// spaces, as it settles prose.
    pub fn holds_cjk(&self) -> bool {
        self.inner.cjk
    }

    /// How many prefilter groups the recognizers were compiled into.
    pub fn group_count(&self) -> usize {
        self.inner.groups.len()
    }

    pub(crate) fn with_scratch<R>(&self, f: impl FnOnce(&mut Scratch) -> R) -> R {
        let mut guard = self.inner.pool.get();
        let r = f(&mut guard);
        guard.trim();
        r
    }

    /// Appends every accepted candidate in `text` to `out`: boundary, validator and context
    /// applied, overlaps not yet resolved, in no particular order.
    pub fn candidates(&self, text: &str, out: &mut Vec<Finding>) {
        self.with_scratch(|s| self.candidates_with(text, s, out, false));
    }

    /// The same candidates found by running every pattern over the whole text, without
    /// prefilters or windows: the reference the windowed path is tested against, and the
    /// baseline it is benchmarked against. Matches that contain none of their recognizer's
    /// triggers are dropped, as the windowed path never sees them.
    #[doc(hidden)]
    pub fn candidates_exhaustive(&self, text: &str, out: &mut Vec<Finding>) {
        self.with_scratch(|s| self.candidates_with(text, s, out, true));
    }

    pub(crate) fn candidates_with(
        &self,
        text: &str,
        s: &mut Scratch,
        out: &mut Vec<Finding>,
        exhaustive: bool,
    ) {
        let inner = &*self.inner;
        let hay = text.as_bytes();
        s.windows.resize_with(inner.groups.len(), Vec::new);
        s.windows.iter_mut().for_each(Vec::clear);
        s.captures.resize_with(inner.recognizers.len(), || None);
        if exhaustive {
            for w in s.windows.iter_mut() {
                w.push((0, hay.len()));
            }
        } else {
            let mut builder = Windows {
                groups: &inner.groups,
                hay,
                windows: &mut s.windows,
            };
            if !inner.bytes.is_empty() {
                inner.bytes.find_all(hay, &mut builder);
            }
            if let Some(l) = &inner.literals {
                l.find_all(hay, &mut builder);
            }
            for (g, group) in inner.groups.iter().enumerate() {
                if group.kind == Kind::Always {
                    s.windows[g].push((0, hay.len()));
                }
            }
        }
        for (gi, group) in inner.groups.iter().enumerate() {
            for wi in 0..s.windows[gi].len() {
                let (mut a, mut b) = s.windows[gi][wi];
                while !text.is_char_boundary(a) {
                    a -= 1;
                }
                while !text.is_char_boundary(b) {
                    b += 1;
                }
                // Trigger bytes in the window, counted once: the group's least count decides
                // whether anything runs, each member's whether it does.
                let digits = match (&group.triggers, exhaustive) {
                    (Some(t), false) => hay[a..b].iter().filter(|&&x| t[usize::from(x)]).count(),
                    _ => usize::MAX,
                };
                if !exhaustive && (b - a < group.min_len || digits < group.min_triggers) {
                    continue;
                }
                // Bytes of each class in the window, counted once, as the trigger bytes are.
                let mut counts = [0usize; 3];
                if !exhaustive {
                    for ((count, class), &most) in
                        counts.iter_mut().zip(&group.classes).zip(&group.class_max)
                    {
                        *count = hay[a..b]
                            .iter()
                            .filter(|&&x| class[usize::from(x)])
                            .take(most)
                            .count();
                    }
                    if counts
                        .iter()
                        .zip(&group.class_min)
                        .any(|(have, need)| have < need)
                    {
                        continue;
                    }
                }
                let hits: u64 = match &group.which {
                    Some(dfa) if !exhaustive => {
                        let set = s
                            .which
                            .get_or_insert_with(|| regex_automata::PatternSet::new(0));
                        if set.capacity() < dfa.pattern_len() {
                            *set = regex_automata::PatternSet::new(dfa.pattern_len());
                        }
                        set.clear();
                        match dfa.try_which_overlapping_matches(&Input::new(hay).range(a..b), set) {
                            Ok(()) => set.iter().fold(0, |acc, p| acc | 1 << p.as_usize().min(63)),
                            Err(_) => u64::MAX,
                        }
                    }
                    _ => u64::MAX,
                };
                for (k, &r) in group.members.iter().enumerate() {
                    if k < 63 && hits & (1 << k) == 0 {
                        continue;
                    }
                    let (min_len, min_trig) = group.member_min[k];
                    if !exhaustive {
                        if b - a < min_len
                            || digits < min_trig
                            || counts
                                .iter()
                                .zip(&group.member_class_min[k])
                                .any(|(have, need)| have < need)
                        {
                            continue;
                        }
                        let w = &hay[a..b];
                        if group.member_required[k]
                            .iter()
                            .any(|&(byte, n)| memchr::memchr_iter(byte, w).take(n).count() < n)
                        {
                            continue;
                        }
                        let c = &inner.recognizers[r];
                        if c.spec.context_required
                            && !c.context.as_ref().is_some_and(|ctx| ctx.near(text, a, b))
                        {
                            continue;
                        }
                    }
                    self.confirm(r, text, a, b, s, out, exhaustive);
                }
            }
        }
    }

    /// Finds recognizer `r`'s matches in `a..b` and keeps the ones that pass its checks.
    /// A rejected match is first retried shorter from the same start (a greedy pattern may
    /// have run into the next number), then the search restarts one character later, so a
    /// longer false match cannot hide a true one that starts or ends inside it.
    #[allow(clippy::too_many_arguments)] // reason: the hot loop's state, kept off the heap
    fn confirm(
        &self,
        r: usize,
        text: &str,
        a: usize,
        b: usize,
        s: &mut Scratch,
        out: &mut Vec<Finding>,
        exhaustive: bool,
    ) {
        let c = &self.inner.recognizers[r];
        let hay = text.as_bytes();
        let mut pos = a;
        while pos < b {
            let Some(m) = c.regex.search(&Input::new(hay).range(pos..b)) else {
                break;
            };
            let (ms, me) = (m.start(), m.end());
            let mut accepted = if me > ms {
                self.accept(r, c, text, ms, me, s, exhaustive)
            } else {
                None
            };
            let mut end = me;
            let mut tries = 0;
            // A shorter match from the same start has the same left neighbour: retry only
            // when that neighbour is acceptable.
            let left_ok = left_boundary_ok(c.spec.boundary, hay, ms);
            while accepted.is_none() && left_ok && tries < SHRINK_TRIES && end > ms + 1 {
                tries += 1;
                let input = Input::new(hay)
                    .range(ms..end - 1)
                    .anchored(regex_automata::Anchored::Yes);
                let Some(shorter) = c.regex.search(&input) else {
                    break;
                };
                end = shorter.end();
                if end > ms {
                    accepted = self.accept(r, c, text, ms, end, s, exhaustive);
                }
            }
            match accepted {
                Some(f) => {
                    out.push(f);
                    pos = end;
                }
                None => {
                    // Start positions whose left neighbour fails the boundary would be
                    // rejected anyway (the inside of a longer number): skip them.
                    pos = ms + 1;
                    while pos < b
                        && (!text.is_char_boundary(pos)
                            || !left_boundary_ok(c.spec.boundary, hay, pos))
                    {
                        pos += 1;
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // reason: see `confirm`
    fn accept(
        &self,
        r: usize,
        c: &Compiled,
        text: &str,
        ms: usize,
        me: usize,
        s: &mut Scratch,
        exhaustive: bool,
    ) -> Option<Finding> {
        let hay = text.as_bytes();
        if !boundary_ok(c.spec.boundary, hay, ms, me) {
            return None;
        }
        if exhaustive && !self.has_trigger(r, hay, ms, me) {
            return None;
        }
        let (mut vs, mut ve) = (ms, me);
        if let Some(g) = c.spec.value_group {
            let caps = s.captures[r].get_or_insert_with(|| c.regex.create_captures());
            c.regex.search_captures(
                &Input::new(hay)
                    .range(ms..me)
                    .anchored(regex_automata::Anchored::Yes),
                caps,
            );
            // The value group, or the first later one that took part (a value written
            // in one of several ways).
            let span = (g..caps.group_len()).find_map(|i| caps.get_group(i))?;
            (vs, ve) = (span.start, span.end);
        }
        if !c.spec.trim_end.is_empty() {
            while ve > vs && c.spec.trim_end.as_bytes().contains(&hay[ve - 1]) {
                ve -= 1;
            }
        }
        if ve <= vs {
            return None;
        }
        let mut score = match c.spec.validator {
            Some(v) => v.check(&text[vs..ve], c.spec.score)?,
            None => c.spec.score,
        };
        if let Some(ctx) = &c.context {
            if ctx.near(text, vs, ve) {
                score = context::boosted(score);
            } else if c.spec.context_required {
                return None;
            }
        }
        Some(Finding {
            entity: c.entity.clone(),
            start: vs,
            end: ve,
            score: score.clamp(0.0, 1.0),
            recognizer: RecognizerId(r as u16),
            escaped: false,
            folded: false,
        })
    }

    /// Whether `ms..me` holds one of recognizer `r`'s triggers (for the exhaustive path).
    fn has_trigger(&self, r: usize, hay: &[u8], ms: usize, me: usize) -> bool {
        let inner = &*self.inner;
        let Some(group) = inner.groups.iter().find(|g| g.members.contains(&r)) else {
            return true;
        };
        match group.kind {
            Kind::Always => true,
            Kind::Context => {
                let c = &inner.recognizers[r];
                let lo = ms.saturating_sub(context::BEFORE);
                let hi = (me + context::AFTER).min(hay.len());
                c.spec
                    .context
                    .iter()
                    .flat_map(|w| context::trigger_spellings(w))
                    .any(|w| {
                        hay[lo..hi].windows(w.len()).enumerate().any(|(i, x)| {
                            x == w.as_slice()
                                && lo + i + w.len() <= hi
                                && lo + i + context::BEFORE >= ms
                        })
                    })
            }
            Kind::Run => match &group.triggers {
                Some(t) => hay[ms..me].iter().any(|&x| t[usize::from(x)]),
                None => {
                    let lits: Vec<Vec<u8>> = match &inner.recognizers[r].spec.trigger {
                        Trigger::Literals(l) => l.iter().map(|s| s.as_bytes().to_vec()).collect(),
                        _ => return true,
                    };
                    lits.iter()
                        .any(|l| hay[ms..me].windows(l.len()).any(|x| x == l.as_slice()))
                }
            },
        }
    }
}

/// Whether the byte before `start` may stand before a match.
fn left_boundary_ok(b: Boundary, hay: &[u8], start: usize) -> bool {
    if start == 0 {
        return true;
    }
    let p = hay[start - 1];
    match b {
        Boundary::None => true,
        Boundary::Token | Boundary::Address => {
            let word =
                p.is_ascii_alphanumeric() || p == b'_' || (b == Boundary::Address && p == b':');
            let continues =
                (p == b'.' || p == b'-') && start >= 2 && hay[start - 2].is_ascii_digit();
            !(word || continues)
        }
        Boundary::Key => !(p.is_ascii_alphanumeric() || matches!(p, b'_' | b'-' | b'+' | b'/')),
    }
}

fn boundary_ok(b: Boundary, hay: &[u8], start: usize, end: usize) -> bool {
    if !left_boundary_ok(b, hay, start) {
        return false;
    }
    match b {
        Boundary::None => true,
        Boundary::Token | Boundary::Address => {
            let colon = b == Boundary::Address;
            let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_' || (colon && x == b':');
            let joins = |x: u8| x == b'.' || x == b'-';
            end >= hay.len() || {
                let n = hay[end];
                let continues = joins(n) && end + 1 < hay.len() && hay[end + 1].is_ascii_digit();
                !(word(n) || continues)
            }
        }
        Boundary::Key => {
            let key =
                |x: u8| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'-' | b'+' | b'/' | b'=');
            end >= hay.len() || !key(hay[end])
        }
    }
}

/// Builds each group's windows from the triggers the prefilters report.
struct Windows<'a> {
    groups: &'a [Group],
    hay: &'a [u8],
    windows: &'a mut [Vec<(usize, usize)>],
}

impl Windows<'_> {
    /// Opens or extends group `g`'s window for a trigger at `p..q`. Returns the first
    /// position where another trigger could extend this group's windows.
    fn open(&mut self, g: usize, p: usize, q: usize) -> usize {
        let group = &self.groups[g];
        let hay = self.hay;
        let len = hay.len();
        let ws = &mut self.windows[g];
        let m = group.max_len.unwrap_or(usize::MAX);
        match group.kind {
            Kind::Always => len,
            Kind::Context => {
                let a = q.saturating_sub(context::AFTER.saturating_add(m));
                let b = p.saturating_add(context::BEFORE).saturating_add(m).min(len);
                match ws.last_mut() {
                    Some(last) if a <= last.1 => last.1 = last.1.max(b),
                    _ => ws.push((a, b)),
                }
                q
            }
            Kind::Run => {
                let alpha = &group.alphabet;
                let (before, after) = group.reach;
                let cap = q.saturating_add(after).min(len);
                let mut e = q.min(len);
                if let Some(last) = ws.last_mut() {
                    if p < last.1 {
                        e = e.max(last.1);
                        while e < cap && alpha[usize::from(hay[e])] {
                            e += 1;
                        }
                        last.1 = e;
                        // A window that ended on a byte outside the alphabet cannot grow
                        // from a trigger inside it; one clipped by the length can.
                        return if e < len && !alpha[usize::from(hay[e])] {
                            e
                        } else {
                            q
                        };
                    }
                }
                let floor = ws.last().map_or(0, |w| w.1).max(p.saturating_sub(before));
                let mut a = p;
                while a > floor && alpha[usize::from(hay[a - 1])] {
                    a -= 1;
                }
                while e < cap && alpha[usize::from(hay[e])] {
                    e += 1;
                }
                match ws.last_mut() {
                    Some(last) if a <= last.1 => last.1 = last.1.max(e),
                    _ => ws.push((a, e)),
                }
                if e < len && !alpha[usize::from(hay[e])] {
                    e
                } else {
                    q
                }
            }
        }
    }
}

impl Sink for Windows<'_> {
    #[inline]
    fn trigger(&mut self, groups: u64, start: usize, end: usize) -> usize {
        let mut g = groups;
        let mut resume = usize::MAX;
        while g != 0 {
            let i = g.trailing_zeros() as usize;
            g &= g - 1;
            resume = resume.min(self.open(i, start, end));
        }
        resume.max(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_groups_get_a_which_dfa_and_large_ones_skip_it() {
        let small = PatternSet::new(vec![
            Recognizer::new("a", "A", r"\b[0-9]{3}-[0-9]{4}\b"),
            Recognizer::new("b", "B", r"\b[0-9]{2}/[0-9]{2}\b"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(small.inner.groups.len(), 1);
        assert!(small.inner.groups[0].which.is_some());
        let mut found = Vec::new();
        small.candidates("call 555-1234 on 12/25, not 5551234", &mut found);
        let mut names: Vec<&str> = found.iter().map(|f| f.entity.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["A", "B"]);

        // The catalogue's numeric group is past the budget; the dashed Spanish
        // identifiers' two patterns share one.
        let default = PatternSet::new(crate::builtin()).unwrap_or_else(|e| panic!("{e}"));
        let largest = default.inner.groups.iter().max_by_key(|g| g.members.len());
        assert!(largest.is_some_and(|g| g.members.len() > 4 && g.which.is_none()));
        assert!(default
            .inner
            .groups
            .iter()
            .any(|g| g.members.len() == 2 && g.which.is_some()));
    }
}
