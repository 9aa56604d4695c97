//! Restore: the original values back into the model's answer, for the caller.
//!
//! The model rarely repeats a pseudonym byte for byte. Matching is therefore tolerant:
//! tokens match in any case, with or without their brackets or with other brackets
//! (`[EMAIL_ADDRESS_k7m2q9x4]`, `<email address k7m2q9x4>`, `EMAIL_ADDRESS_K7M2Q9X4`), with
//! spaces, underscores or hyphens between their words; derived surrogates match with other
//! separators between their digits (`4111-2345-...` for `4111 2345 ...`) and come back in
//! the model's layout. Only pseudonyms issued in the scope are restored; text shaped like a
//! token that the scope does not know (expired, another conversation, made up) is left as
//! it is and counted by entity type, so the caller and the audit log see it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use regex_automata::meta::Regex;
use regex_automata::Input;

use crate::pseudonym::{is_email_surrogate, TenantKey, ID_LEN};
use crate::vault::{Entry, Original};

/// What a restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreStats {
    /// Pseudonyms replaced by their original.
    pub restored: u32,
    /// Pseudonyms recognised but left in place because their rule does not restore.
    pub withheld: u32,
    /// Token-shaped text the scope cannot resolve, by entity type.
    pub unresolved: BTreeMap<String, u32>,
}

impl RestoreStats {
    /// How many tokens could not be resolved.
    pub fn unresolved_total(&self) -> u32 {
        self.unresolved.values().sum()
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &RestoreStats) {
        self.restored += other.restored;
        self.withheld += other.withheld;
        for (e, n) in &other.unresolved {
            *self.unresolved.entry(e.clone()).or_insert(0) += n;
        }
    }

    fn touched(&self) -> u32 {
        self.restored + self.withheld + self.unresolved_total()
    }
}

/// A restored text and what was done to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The text with originals back in place.
    pub text: String,
    /// The counts.
    pub stats: RestoreStats,
}

const SPACE: &str = r"\s{0,2}";

/// The words of an entity name joined by what a model may put between them.
fn entity_words(entity: &str) -> String {
    entity
        .split('_')
        .filter(|w| !w.is_empty())
        .map(regex_syntax::escape)
        .collect::<Vec<_>>()
        .join(r"[\s_-]{0,2}")
}

/// `core` inside any of the bracket pairs, with up to two spaces inside the brackets.
fn bracketed(core: &str) -> String {
    [("\\[", "\\]"), ("<", ">"), ("\\(", "\\)"), ("\\{", "\\}")]
        .iter()
        .map(|(open, close)| format!("{open}{SPACE}(?:{core}){SPACE}{close}"))
        .collect::<Vec<_>>()
        .join("|")
}

/// The tolerant pattern of one issued pseudonym.
fn entry_pattern(e: &Entry) -> String {
    let body = match &e.original {
        Original::Stored(_) if e.pseudonym.starts_with('[') => {
            let id = &e.pseudonym[e.pseudonym.len() - 1 - ID_LEN..e.pseudonym.len() - 1];
            let core = format!(
                r"{}[\s_:#-]{{0,2}}{}",
                entity_words(&e.entity),
                regex_syntax::escape(id)
            );
            format!(r"{}|\b(?:{core})\b", bracketed(&core))
        }
        // An e-mail surrogate is found glued to other text too: it ends in a top-level
        // domain the model may run on into a word, as the caller's two addresses written
        // without a space between them come back. Its id keeps it from matching anything
        // the scope did not issue.
        Original::Stored(_) if is_email_surrogate(&e.pseudonym) => {
            regex_syntax::escape(&e.pseudonym)
        }
        Original::Stored(_) => format!(r"\b{}\b", regex_syntax::escape(&e.pseudonym)),
        Original::Derived(_) => {
            let chars: Vec<String> = e
                .pseudonym
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_string())
                .collect();
            format!(r"\b{}\b", chars.join(r"[\s.()/-]{0,3}"))
        }
    };
    format!("(?i-u:{body})")
}

/// The longest text `pattern` can match.
fn max_len(pattern: &str) -> usize {
    regex_syntax::parse(pattern)
        .ok()
        .and_then(|h| h.properties().maximum_len())
        .unwrap_or(256)
}

/// The escape sequence of JSON text `b` that byte offset `at` falls inside (after its
/// backslash): its start and length (`\uXXXX` six bytes, the others two). A value found
/// or replaced in JSON text must not cut one.
///
/// ```
/// use sentinel_policy::json_escape_around;
/// assert_eq!(json_escape_around(br"a\njane", 2), Some((1, 2)));
/// assert_eq!(json_escape_around(br"a\\njane", 3), None); // `\\` is the escape
/// assert_eq!(json_escape_around(br"x\u00e9y", 4), Some((1, 6)));
/// ```
pub fn json_escape_around(b: &[u8], at: usize) -> Option<(usize, usize)> {
    // The nearest backslash within an escape's length before `at` decides.
    let i = (at.saturating_sub(5)..at.min(b.len()))
        .rev()
        .find(|&i| b[i] == b'\\')?;
    // It starts an escape when it ends an odd run of backslashes (`\\` is one escape;
    // past the second of a pair, `at` is past the escape).
    let run = b[..=i].iter().rev().take_while(|&&c| c == b'\\').count();
    if run % 2 == 0 {
        return None;
    }
    let len = if b.get(i + 1) == Some(&b'u') { 6 } else { 2 };
    (at < i + len).then_some((i, len))
}

/// A piece of JSON string text as what it stands for, when `json`.
fn decoded(piece: &str, json: bool) -> std::borrow::Cow<'_, str> {
    if !json || !piece.contains('\\') {
        return std::borrow::Cow::Borrowed(piece);
    }
    std::borrow::Cow::Owned(sentinel_detect::unescape_json(piece))
}

/// How many pseudonyms one compiled piece of a scope's matcher holds. A regex of a few
/// hundred tolerant patterns is searched by a DFA; one of thousands fell back to a search
/// that took seconds for a 1 KB answer (12 s at 3,000 pseudonyms, 1.6 s to build it).
/// Only pseudonyms no shape finds are compiled so (see [`Matcher`]).
const PIECE: usize = 128;

/// One compiled piece: the patterns of up to [`PIECE`] consecutive entries.
struct Piece {
    regex: Option<Regex>,
    /// The longest text a pattern of the piece can match.
    hold: usize,
}

/// The bytes a derived surrogate's characters may be apart by, as the model wrote them:
/// ASCII whitespace and `.()/-` (the tolerant pattern's `[\s.()/-]{0,3}`).
fn is_separator(b: u8) -> bool {
    matches!(
        b,
        b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | b'.' | b'(' | b')' | b'/' | b'-'
    )
}

/// A word character for `\b` on ASCII.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// How many derived surrogates one automaton of a scope's matcher holds: a new pseudonym
/// rebuilds one automaton of at most this many, not one of the whole scope (which most of
/// a conversation's turn went to building, in a profile at 3,000 pseudonyms).
const DERIVED_PIECE: usize = 256;

/// The letters and digits of up to [`DERIVED_PIECE`] derived surrogates, lowercase.
struct DerivedPiece {
    keys: Option<aho_corasick::AhoCorasick>,
}

impl DerivedPiece {
    fn new(keys: &[Vec<u8>]) -> DerivedPiece {
        // A contiguous NFA: built in a fraction of a DFA's time, and answers are short.
        let keys = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(keys)
            .ok();
        DerivedPiece { keys }
    }
}

/// A derived surrogate's letters and digits, lowercase: what it is looked up by.
fn derived_key(pseudonym: &str) -> Vec<u8> {
    pseudonym
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Each derived surrogate of `pieces` (holding the keys of `entries`, in order) in `text`
/// that stands as one: its characters, in any case, at most three separators apart, with no
/// word character on either side.
fn find_derived(
    pieces: &[Arc<DerivedPiece>],
    entries: &[usize],
    text: &str,
    hits: &mut Vec<(usize, usize, Hit)>,
) {
    let b = text.as_bytes();
    // Every derived surrogate holds digits (six at least): prose without them is passed
    // over without its letters gathered.
    if b.iter().filter(|c| c.is_ascii_digit()).take(6).count() < 6 {
        return;
    }
    // Offsets as u32, half the writing of usize: a text restored is far below 4 GiB
    // (bodies are bounded); one that is not has no derived surrogate restored.
    if u32::try_from(b.len()).is_err() {
        return;
    }
    let mut letters = vec![0u8; b.len()];
    let mut at = vec![0u32; b.len()];
    let mut n = 0;
    for (i, &c) in b.iter().enumerate() {
        // Written always, kept when a letter or digit: no branch in the loop.
        letters[n] = c.to_ascii_lowercase();
        // Below u32::MAX: the text's length is, checked above.
        at[n] = i as u32;
        n += usize::from(c.is_ascii_alphanumeric());
    }
    letters.truncate(n);
    at.truncate(n);
    let at = |j: usize| at[j] as usize;
    for (k, piece) in pieces.iter().enumerate() {
        let Some(keys) = &piece.keys else { continue };
        for m in keys.find_overlapping_iter(&letters) {
            let (p, q) = (m.start(), m.end());
            let (start, end) = (at(p), at(q - 1) + 1);
            let joined = (p..q - 1).all(|j| {
                let gap = &b[at(j) + 1..at(j + 1)];
                gap.len() <= 3 && gap.iter().all(|&c| is_separator(c))
            });
            let alone =
                (start == 0 || !is_word(b[start - 1])) && (end == b.len() || !is_word(b[end]));
            if joined && alone {
                let entry = entries[k * DERIVED_PIECE + m.pattern().as_usize()];
                hits.push((start, end, Hit::Entry(entry)));
            }
        }
    }
}

/// Pieces a matcher built before: of which of its entries (indices into `entries`), each
/// piece holding `size` of them in order.
struct Built<'b, P> {
    ids: &'b [usize],
    entries: &'b [Arc<Entry>],
    pieces: &'b [Arc<P>],
}

/// The pieces of `ids` (entries of `entries`) in chunks of `size`, each reused from
/// `before` when its piece held the same entries, else made by `make`.
fn pieces<P>(
    ids: &[usize],
    entries: &[Arc<Entry>],
    before: Option<Built<'_, P>>,
    size: usize,
    mut make: impl FnMut(&[usize]) -> P,
) -> Vec<Arc<P>> {
    ids.chunks(size)
        .enumerate()
        .map(|(k, part)| {
            // Piece `k` of `before` held the same entries, no more and no fewer.
            let kept = before.as_ref().and_then(|b| {
                let held = b.ids.chunks(size).nth(k)?;
                let same = held.len() == part.len()
                    && held
                        .iter()
                        .zip(part)
                        .all(|(&x, &y)| Arc::ptr_eq(&b.entries[x], &entries[y]));
                same.then(|| Arc::clone(&b.pieces[k]))
            });
            kept.unwrap_or_else(|| Arc::new(make(part)))
        })
        .collect()
}

/// Finds the pseudonyms issued in one scope.
///
/// Nothing of it is compiled per pseudonym where a shape does the finding: tokens and
/// e-mail surrogates are found by the policy's shapes ([`TokenShapes`], compiled once) and
/// looked up by what they spell; derived surrogates (cards, IBANs, SSNs, phone numbers) by
/// Aho-Corasick automata over their letters and digits ([`DERIVED_PIECE`] to each, a grown
/// scope reusing all but the last), searched in the text's. A scope of thousands costs hash
/// maps and automata built in a millisecond or two, and a restore is linear in the text.
/// Pseudonyms of another form (a token of an entity type the shapes do not know) are
/// compiled as tolerant patterns, in pieces of [`PIECE`] a grown scope reuses.
pub(crate) struct Matcher {
    entries: Vec<Arc<Entry>>,
    /// The shapes the tokens and e-mail surrogates are found by, as this matcher was built
    /// with (a reload's new shapes do not change what it finds).
    shapes: Arc<TokenShapes>,
    /// A token's entity name and id, squashed and lowercase (`emailaddressk7m2q9x4`).
    tokens: HashMap<String, usize>,
    /// An e-mail surrogate, lowercase.
    emails: HashMap<String, usize>,
    /// The derived surrogates' entries, in order, and their automata.
    derived: Vec<usize>,
    derived_pieces: Vec<Arc<DerivedPiece>>,
    /// The other entries, by index, and their compiled pieces.
    rest: Vec<usize>,
    pieces: Vec<Arc<Piece>>,
    hold: usize,
}

impl Matcher {
    /// The matcher of `entries`, reusing the compiled pieces of `before` (the scope's
    /// matcher before entries were added to it) whose entries are the same: a scope only
    /// grows, so a new pseudonym of a form without a shape costs one piece, not the whole
    /// scope.
    pub(crate) fn grown(
        before: Option<&Matcher>,
        entries: Vec<Arc<Entry>>,
        shapes: &Arc<TokenShapes>,
    ) -> Matcher {
        let mut tokens = HashMap::new();
        let mut emails = HashMap::new();
        let mut derived = Vec::new();
        let mut rest = Vec::new();
        // Were the shapes not to compile, every token would be compiled as its own pattern.
        let by_shape = shapes.lookup.is_some() && shapes.regex.is_some();
        let mut hold = 0;
        for (i, e) in entries.iter().enumerate() {
            match &e.original {
                Original::Derived(_) => {
                    // Its characters with three separators between each two.
                    let letters = e.pseudonym.bytes().filter(u8::is_ascii_alphanumeric);
                    hold = hold.max(letters.count() * 4);
                    derived.push(i);
                }
                Original::Stored(_) if by_shape && is_email_surrogate(&e.pseudonym) => {
                    emails.entry(e.pseudonym.to_ascii_lowercase()).or_insert(i);
                }
                Original::Stored(_)
                    if by_shape && e.pseudonym.starts_with('[') && shapes.knows(&e.entity) =>
                {
                    let id = &e.pseudonym[e.pseudonym.len() - 1 - ID_LEN..e.pseudonym.len() - 1];
                    let key = format!("{}{id}", squash(&e.entity)).to_ascii_lowercase();
                    tokens.entry(key).or_insert(i);
                }
                Original::Stored(_) => rest.push(i),
            }
        }
        let derived_pieces = pieces(
            &derived,
            &entries,
            before.map(|b| Built {
                ids: &b.derived,
                entries: &b.entries,
                pieces: &b.derived_pieces,
            }),
            DERIVED_PIECE,
            |part| {
                let keys: Vec<Vec<u8>> = part
                    .iter()
                    .map(|&i| derived_key(&entries[i].pseudonym))
                    .collect();
                DerivedPiece::new(&keys)
            },
        );
        let pieces = pieces(
            &rest,
            &entries,
            before.map(|b| Built {
                ids: &b.rest,
                entries: &b.entries,
                pieces: &b.pieces,
            }),
            PIECE,
            |part| {
                let patterns: Vec<String> =
                    part.iter().map(|&i| entry_pattern(&entries[i])).collect();
                let hold = patterns.iter().map(|p| max_len(p)).max().unwrap_or(0);
                // Every piece is escaped or fixed, so this compiles; were it not to,
                // nothing would be restored and every token would count as unresolved,
                // which is loud, not lossy.
                Piece {
                    regex: Regex::new_many(&patterns).ok(),
                    hold,
                }
            },
        );
        if !tokens.is_empty() || !emails.is_empty() {
            hold = hold.max(shapes.lookup_hold);
        }
        hold = pieces.iter().map(|p| p.hold).fold(hold, usize::max);
        Matcher {
            entries,
            shapes: Arc::clone(shapes),
            tokens,
            emails,
            derived,
            derived_pieces,
            rest,
            pieces,
            hold,
        }
    }

    /// Where issued pseudonyms are in `text`, in order, without overlaps: at one start the
    /// earliest issued wins, as one regex of all of them would choose. When it looked for
    /// tokens by shape, the token-shaped text the scope did not issue goes to `unknown` (as
    /// [`TokenShapes`]' own search would find it, which then need not run) and it returns
    /// true.
    fn find(
        &self,
        text: &str,
        hits: &mut Vec<(usize, usize, Hit)>,
        unknown: &mut Vec<(usize, usize)>,
    ) -> bool {
        let from = hits.len();
        let mut by_shape = false;
        if !self.tokens.is_empty() || !self.emails.is_empty() {
            if let (Some(re), Some(strict)) = (&self.shapes.lookup, &self.shapes.regex) {
                by_shape = true;
                for h in re.find_iter(Input::new(text)) {
                    let found = &text[h.range()];
                    let token = h.pattern().as_usize() == 0;
                    let entry = if token {
                        self.tokens.get(&squash(found).to_ascii_lowercase())
                    } else {
                        self.emails.get(&found.to_ascii_lowercase())
                    };
                    if let Some(&i) = entry {
                        hits.push((h.start(), h.end(), Hit::Entry(i)));
                    } else if token {
                        // The counted shapes are stricter (a bare token's id after `_`,
                        // `:`, `#` or `-`, not a space): the same text, or none of it.
                        let input = Input::new(text)
                            .span(h.range())
                            .anchored(regex_automata::Anchored::Yes);
                        if strict.find(input).is_some_and(|m| m.end() == h.end()) {
                            unknown.push((h.start(), h.end()));
                        }
                    }
                }
            }
        }
        if !self.derived.is_empty() {
            find_derived(&self.derived_pieces, &self.derived, text, hits);
        }
        for (k, piece) in self.pieces.iter().enumerate() {
            if let Some(re) = &piece.regex {
                for h in re.find_iter(Input::new(text)) {
                    let entry = self.rest[k * PIECE + h.pattern().as_usize()];
                    hits.push((h.start(), h.end(), Hit::Entry(entry)));
                }
            }
        }
        let found = &mut hits[from..];
        if found.len() > 1 {
            found.sort_by_key(|&(start, _, hit)| match hit {
                Hit::Entry(i) => (start, i),
                Hit::Unknown => (start, usize::MAX),
            });
            let mut end = 0;
            let mut kept = from;
            for i in from..hits.len() {
                if hits[i].0 >= end {
                    end = hits[i].1;
                    hits.swap(kept, i);
                    kept += 1;
                }
            }
            hits.truncate(kept);
        }
        by_shape
    }
}

/// Finds text shaped like any token (`[ENTITY_xxxxxxxx]` in its tolerated variants) for the
/// entity types a policy knows, so tokens no scope resolves are counted; and, more
/// tolerant, the tokens and e-mail surrogates a scope's [`Matcher`] looks up.
pub(crate) struct TokenShapes {
    regex: Option<Regex>,
    /// Pattern 0: a token as its own tolerant pattern reads it (the words and id apart by
    /// spaces too); pattern 1: an e-mail surrogate.
    lookup: Option<Regex>,
    names: Vec<(String, String)>,
    hold: usize,
    lookup_hold: usize,
}

impl std::fmt::Debug for TokenShapes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenShapes")
            .field("entities", &self.names.len())
            .finish_non_exhaustive()
    }
}

/// An entity name without separators, uppercase: what names are compared by.
fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

impl TokenShapes {
    /// The shapes for `entities`.
    pub(crate) fn new<'a>(entities: impl IntoIterator<Item = &'a str>) -> TokenShapes {
        let mut names: Vec<(String, String)> = entities
            .into_iter()
            .map(|e| (squash(e), e.to_owned()))
            .collect();
        names.sort();
        names.dedup();
        // Longer names first, so `US_BANK_NUMBER` is not cut to a shorter prefix.
        let mut alternatives: Vec<&str> = names.iter().map(|(_, e)| e.as_str()).collect();
        alternatives.sort_by_key(|e| std::cmp::Reverse(e.len()));
        let alternation = alternatives
            .iter()
            .map(|e| entity_words(e))
            .collect::<Vec<_>>()
            .join("|");
        let id = format!("[0-9a-z]{{{ID_LEN}}}");
        let core = format!(r"(?:{alternation})[\s_:#-]{{0,2}}{id}");
        let bare = format!(r"\b(?:{alternation})[_:#-]{id}\b");
        let pattern = format!("(?i-u:{}|{bare})", bracketed(&core));
        // As `entry_pattern` reads one token: bare, the id may follow spaces too.
        let token = format!(r"(?i-u:{}|\b(?:{core})\b)", bracketed(&core));
        let email = format!(r"(?i-u:user-{id}@example\.com)");
        TokenShapes {
            hold: max_len(&pattern),
            regex: Regex::new(&pattern).ok(),
            lookup_hold: max_len(&token).max(max_len(&email)),
            lookup: Regex::new_many(&[token, email]).ok(),
            names,
        }
    }

    /// Whether tokens of `entity` have a shape here.
    fn knows(&self, entity: &str) -> bool {
        let squashed = squash(entity);
        self.names
            .iter()
            .any(|(sq, e)| *sq == squashed && e == entity)
    }

    /// The entity type named in token-shaped `text`.
    fn entity_of(&self, text: &str) -> String {
        let letters = squash(text);
        self.names
            .iter()
            .filter(|(sq, _)| letters.starts_with(sq.as_str()))
            .max_by_key(|(sq, _)| sq.len())
            .map_or_else(|| "UNKNOWN".to_owned(), |(_, e)| e.clone())
    }
}

#[derive(Clone, Copy, Debug)]
enum Hit {
    Entry(usize),
    Unknown,
}

/// Puts original values back into the answers of one scope (a request or a conversation).
///
/// Get one from [`PolicyEngine::restorer`](crate::PolicyEngine::restorer). It is a snapshot:
/// pseudonyms issued after it was made are not known to it.
#[derive(Clone)]
pub struct Restorer {
    matcher: Option<Arc<Matcher>>,
    shapes: Arc<TokenShapes>,
    key: Option<Arc<TenantKey>>,
}

impl std::fmt::Debug for Restorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorer")
            .field(
                "pseudonyms",
                &self.matcher.as_ref().map_or(0, |m| m.entries.len()),
            )
            .finish_non_exhaustive()
    }
}

impl Restorer {
    pub(crate) fn new(
        matcher: Option<Arc<Matcher>>,
        shapes: Arc<TokenShapes>,
        key: Option<Arc<TenantKey>>,
    ) -> Restorer {
        Restorer {
            matcher,
            shapes,
            key,
        }
    }

    /// How many bytes a stream must hold back so a pseudonym split across chunks is still
    /// found: the longest text a pseudonym or token shape can match.
    pub fn hold_back(&self) -> usize {
        self.shapes
            .hold
            .max(self.matcher.as_ref().map_or(0, |m| m.hold))
    }

    /// [`Restorer::hits`], in JSON text when `json`: read unescaped
    /// ([`Unescaper`](sentinel_detect::Unescaper)), so an escape is no part of a word (a
    /// pseudonym after `\n` is found; `\b` would not see a boundary between `n` and it)
    /// and a pseudonym written with escapes (`\u0040`) is found too; hits cover whole
    /// escapes.
    fn hits_in(&self, text: &str, json: bool) -> Vec<(usize, usize, Hit)> {
        if !json || !text.contains('\\') {
            return self.hits(text);
        }
        let (read, back) = sentinel_detect::Unescaper::whole(text);
        let mut hits = self.hits(&read);
        for h in &mut hits {
            (h.0, h.1) = (back.raw_offset(h.0), back.raw_offset(h.1));
        }
        hits
    }

    /// The hits in `text`, in order, without overlaps; issued pseudonyms win over shapes.
    fn hits(&self, text: &str) -> Vec<(usize, usize, Hit)> {
        let mut hits = Vec::new();
        let mut unknown = Vec::new();
        let by_shape = self
            .matcher
            .as_ref()
            .is_some_and(|m| m.find(text, &mut hits, &mut unknown));
        let issued = hits.len();
        if !by_shape {
            if let Some(re) = &self.shapes.regex {
                unknown.extend(re.find_iter(Input::new(text)).map(|h| (h.start(), h.end())));
            }
        }
        for (start, end) in unknown {
            let overlaps = hits[..issued].iter().any(|&(s, e, _)| start < e && s < end);
            if !overlaps {
                hits.push((start, end, Hit::Unknown));
            }
        }
        if hits.len() > issued && issued > 0 {
            hits.sort_by_key(|h| h.0);
        }
        hits
    }

    /// Writes the replacement of one hit; with `json`, the original as it goes inside a
    /// JSON string (the text is JSON being streamed: a tool call's arguments).
    fn replace(
        &self,
        matched: &str,
        hit: Hit,
        json: bool,
        out: &mut String,
        stats: &mut RestoreStats,
    ) {
        let entry = match hit {
            Hit::Entry(i) => self.matcher.as_ref().and_then(|m| m.entries.get(i)),
            Hit::Unknown => None,
        };
        let Some(entry) = entry else {
            out.push_str(matched);
            *stats
                .unresolved
                .entry(self.shapes.entity_of(matched))
                .or_insert(0) += 1;
            return;
        };
        if !entry.restore {
            out.push_str(matched);
            stats.withheld += 1;
            return;
        }
        let original = match (&entry.written, &entry.original) {
            (Some(w), _) => Some(w.clone()),
            (None, Original::Stored(v)) => Some(v.clone()),
            // In JSON text a surrogate laid out with escapes (`\n` between its digit
            // groups) is revealed from what the escapes stand for.
            (None, Original::Derived(f)) => self
                .key
                .as_ref()
                .and_then(|k| k.reveal(*f, &decoded(matched, json))),
        };
        match original {
            Some(v) if json => {
                sentinel_detect::escape_json_into(&v, out);
                stats.restored += 1;
            }
            Some(v) => {
                out.push_str(&v);
                stats.restored += 1;
            }
            None => {
                out.push_str(matched);
                *stats.unresolved.entry(entry.entity.clone()).or_insert(0) += 1;
            }
        }
    }

    /// Restores `text`, appending to `out` and counting into `stats`.
    pub fn restore_into(&self, text: &str, out: &mut String, stats: &mut RestoreStats) {
        self.restore_into_as(text, false, out, stats);
    }

    /// [`Restorer::restore_into`], with originals written JSON-escaped when `json`.
    fn restore_into_as(&self, text: &str, json: bool, out: &mut String, stats: &mut RestoreStats) {
        let mut at = 0;
        for (s, e, hit) in self.hits_in(text, json) {
            out.push_str(&text[at..s]);
            self.replace(&text[s..e], hit, json, out, stats);
            at = e;
        }
        out.push_str(&text[at..]);
    }

    /// Restores `text`.
    pub fn restore(&self, text: &str) -> Restored {
        let mut out = String::with_capacity(text.len());
        let mut stats = RestoreStats::default();
        self.restore_into(text, &mut out, &mut stats);
        Restored { text: out, stats }
    }

    /// Restores every string in a JSON document, in place: message contents, and tool-call
    /// arguments, which are JSON inside a string (parsed, restored and written back, so a
    /// restored value with quotes or backslashes stays valid JSON). Object keys are left.
    pub fn restore_json(&self, value: &mut serde_json::Value, stats: &mut RestoreStats) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                let trimmed = s.trim_start();
                if trimmed.starts_with('{') || trimmed.starts_with('[') {
                    if let Ok(mut inner) = serde_json::from_str::<Value>(s) {
                        if inner.is_object() || inner.is_array() {
                            let mut inner_stats = RestoreStats::default();
                            self.restore_json(&mut inner, &mut inner_stats);
                            if inner_stats.restored > 0 {
                                *s = inner.to_string();
                            }
                            stats.merge(&inner_stats);
                            return;
                        }
                    }
                }
                let mut out = String::new();
                let mut local = RestoreStats::default();
                self.restore_into(s, &mut out, &mut local);
                if local.restored > 0 {
                    *s = out;
                }
                stats.merge(&local);
            }
            Value::Array(items) => {
                for v in items {
                    self.restore_json(v, stats);
                }
            }
            Value::Object(map) => {
                for v in map.values_mut() {
                    self.restore_json(v, stats);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// A restorer for text that arrives in chunks (streamed deltas): a pseudonym split
    /// across chunks is still found, at the cost of holding back [`Restorer::hold_back`]
    /// bytes until the next chunk or the end.
    pub fn stream(&self) -> StreamRestorer {
        StreamRestorer {
            restorer: self.clone(),
            buf: String::new(),
            stats: RestoreStats::default(),
            json: false,
        }
    }

    /// [`Restorer::stream`] for JSON text that arrives in chunks (a streamed tool call's
    /// arguments): an original goes in JSON-escaped, so one holding a quote, a backslash
    /// or a line break leaves the arguments valid JSON with the same keys.
    pub fn stream_json(&self) -> StreamRestorer {
        StreamRestorer {
            json: true,
            ..self.stream()
        }
    }
}

/// Restores a text that arrives in chunks. See [`Restorer::stream`].
#[derive(Debug)]
pub struct StreamRestorer {
    restorer: Restorer,
    buf: String,
    stats: RestoreStats,
    /// Originals are written JSON-escaped ([`Restorer::stream_json`]).
    json: bool,
}

impl StreamRestorer {
    /// Takes the next chunk and returns the restored text that is final so far (possibly
    /// empty). Everything pushed comes out, in order, by [`StreamRestorer::finish`].
    pub fn push(&mut self, chunk: &str) -> String {
        self.buf.push_str(chunk);
        // In JSON text a pseudonym may be written with escapes, six bytes a character.
        let hold = match self.json {
            true => self.restorer.hold_back() * 6,
            false => self.restorer.hold_back(),
        };
        let mut safe = self.buf.len().saturating_sub(hold);
        while !self.buf.is_char_boundary(safe) {
            safe -= 1;
        }
        if self.json {
            // Never cut an escape: the next push would see its letter as text.
            if let Some((start, _)) = json_escape_around(self.buf.as_bytes(), safe) {
                safe = start;
            }
        }
        let mut out = String::new();
        let mut at = 0;
        for (s, e, hit) in self.restorer.hits_in(&self.buf, self.json) {
            // A hit starting before `safe` is complete: no pseudonym is longer than the
            // hold-back, so it ends before the buffer does.
            if s >= safe {
                break;
            }
            out.push_str(&self.buf[at..s]);
            self.restorer
                .replace(&self.buf[s..e], hit, self.json, &mut out, &mut self.stats);
            at = e;
        }
        let cut = at.max(safe);
        out.push_str(&self.buf[at..cut]);
        self.buf.drain(..cut);
        out
    }

    /// The counts so far.
    pub fn stats(&self) -> &RestoreStats {
        &self.stats
    }

    /// Restores what is held back and returns it with the counts of the whole stream.
    pub fn finish(mut self) -> (String, RestoreStats) {
        let mut out = String::new();
        let buf = std::mem::take(&mut self.buf);
        self.restorer
            .restore_into_as(&buf, self.json, &mut out, &mut self.stats);
        (out, self.stats)
    }
}

impl RestoreStats {
    /// Whether anything was recognised at all.
    pub fn is_empty(&self) -> bool {
        self.touched() == 0
    }
}
