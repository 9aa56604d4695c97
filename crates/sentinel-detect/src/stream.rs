//! `StreamScanner`: the same findings as a one-shot scan, for text that arrives in chunks.

use crate::detector::Detector;
use crate::finding::Finding;

/// Hold-back used when the detector cannot bound its reach (a custom unbounded pattern).
pub const DEFAULT_HOLD_BACK: usize = 16 * 1024;

/// The longest value still open at the end of the text that a scanner waits for whole,
/// past its hold-back: a run of printable ASCII (keys, tokens, JWTs, URLs, addresses) or a
/// PEM block begun and not yet ended. A longer one is reported as the hold-back sees it.
pub const OPEN_VALUE_LIMIT: usize = 16 * 1024;

/// The longest quoted value a scanner follows, its quotes included: a `"` or `'` after a
/// byte that is no ASCII letter or digit opens it, and the same quote or a line end closes
/// it. Until then, or until this many bytes have followed it, text from the quote on is not
/// released, so a value a recognizer reads between quotes (a passphrase after `password:`)
/// may hold words of prose and the detector still be
/// [word-bounded](Detector::word_bounded). The catalogue's quoted values are at most 200
/// bytes of ASCII; an opening quote that is never closed holds text back no further.
pub const QUOTE_LIMIT: usize = 256;

/// How much prose must follow text for it to be released before the hold-back: a context
/// word after a value counts when it ends within 8 bytes of the value, and then not when a
/// number follows that word within 16 bytes (it labels the number), so what decides a
/// value reaches 24 bytes past its end (found by the prose property test at 16).
const PROSE_MARGIN: usize = 24;
/// How far the frontier moves before a rescan when prose releases text early.
const PROSE_STEP: usize = 32;

/// Whether `token` is a word of prose: letters (an apostrophe inside), one of them lower
/// case at least, with punctuation around (`"Well,`, `done.`, `¿Qué`, `a`, `à`); any
/// script that has case (`été`, `Größe`). No finding of a word-bounded detector spans one
/// ([`Detector::word_bounded`]): those that hold white space hold no lower-case letter.
/// A word in capitals (`I`, `WEST`) may be part of a value and is not prose.
fn is_prose(token: &[u8]) -> bool {
    let Ok(token) = std::str::from_utf8(token) else {
        return false;
    };
    let word = token
        .trim_start_matches(['(', '"', '\'', '¿', '¡', '«', '“', '‘'])
        .trim_end_matches([',', '.', ';', ':', '!', '?', '\'', '"', ')', '»', '”', '’']);
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_alphabetic() || c == '\'' || c == '’')
        && word.chars().any(char::is_lowercase)
}

/// The letters and punctuation of Chinese, Japanese and Korean that normalization leaves
/// as they are: CJK punctuation, kana, bopomofo and Hangul letters, ideographs, Hangul
/// syllables, compatibility ideographs, half-width katakana. Not the ideographic space
/// (white space) nor the full-width forms (read as ASCII).
pub(crate) const CJK: &[(char, char)] = &[
    ('\u{3001}', '\u{303F}'),
    ('\u{3040}', '\u{30FF}'),
    ('\u{3100}', '\u{318F}'),
    ('\u{3400}', '\u{4DBF}'),
    ('\u{4E00}', '\u{9FFF}'),
    ('\u{AC00}', '\u{D7AF}'),
    ('\u{F900}', '\u{FAFF}'),
    ('\u{FF61}', '\u{FF9F}'),
    ('\u{20000}', '\u{2FFFF}'),
];

/// Whether `c` is one of [`CJK`].
fn in_cjk(c: char) -> bool {
    CJK.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Whether `text` holds a character of [`CJK`].
pub(crate) fn holds_cjk(text: &str) -> bool {
    text.chars().any(in_cjk)
}

/// What a character is to the prose frontier.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// White space.
    Space,
    /// A letter of Chinese, Japanese or Korean, a word of its own.
    Letter,
    /// Part of a word.
    Other,
}

/// Whether `c` is one of [`CJK`], not a numeral (`〇` may be read as a digit).
pub(crate) fn is_cjk_letter(c: char) -> bool {
    c >= CJK[0].0 && in_cjk(c) && !c.is_numeric()
}

/// What ends at byte `at` of `text` (not before `from`), for the prose frontier: where it
/// starts, and what it is. ASCII, nearly all of it, is one byte; past ASCII, a character
/// is read whole only when letters of Chinese, Japanese or Korean count (`cjk`), and is
/// otherwise one byte of a word, as before.
#[inline(always)]
fn kind_before(text: &str, from: usize, at: usize, cjk: bool) -> Option<(usize, Kind)> {
    if at <= from {
        return None;
    }
    let b = text.as_bytes()[at - 1];
    if b.is_ascii_whitespace() {
        return Some((at - 1, Kind::Space));
    }
    if b.is_ascii() || !cjk {
        return Some((at - 1, Kind::Other));
    }
    let c = text[..at].chars().next_back()?;
    let kind = match c {
        '\u{3000}' => Kind::Space,
        c if is_cjk_letter(c) => Kind::Letter,
        _ => Kind::Other,
    };
    Some((at - c.len_utf8(), kind))
}

/// The markers of a PEM block (a private key's, whose body spans lines). A scanner holds
/// text from the first to the end of the second, so a pattern that starts with the first
/// may span words ([`PatternSet::spans_words`](crate::PatternSet::spans_words)).
pub(crate) const PEM_BEGIN: &[u8] = b"-----BEGIN ";
const PEM_END: &[u8] = b"-----END ";
/// How far before new text to look for markers: more than the longest end line.
const PEM_LOOK_BACK: usize = 64;

/// The searcher for [`PEM_BEGIN`] from the end, built once: `memmem::rfind` builds one per
/// call, and a stream asks at every chunk: a fifth of the instructions of a 4 KB answer
/// scanned four bytes a chunk.
fn pem_begin_finder() -> &'static memchr::memmem::FinderRev<'static> {
    static FINDER: std::sync::LazyLock<memchr::memmem::FinderRev<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::FinderRev::new(PEM_BEGIN));
    &FINDER
}

/// Where the last complete PEM end line in `text` ends (`-----END `, a label, `-----`).
fn last_pem_end(text: &[u8]) -> Option<usize> {
    memchr::memmem::rfind_iter(text, PEM_END).find_map(|at| {
        let label = &text[at + PEM_END.len()..];
        let dashes = memchr::memmem::find(label, b"-----")?;
        (!label[..dashes].contains(&b'\n')).then_some(at + PEM_END.len() + dashes + 5)
    })
}

/// Invalid UTF-8 in a byte stream, at an absolute byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid UTF-8 at byte offset {offset}")]
pub struct StreamUtf8Error {
    /// Offset of the first invalid byte from the start of the stream.
    pub offset: usize,
}

/// Scans text fed in chunks of any size and reports findings with absolute byte offsets,
/// the same ones a one-shot scan of the whole text reports.
///
/// # Hold-back
///
/// A finding is reported once the text has run `hold_back` bytes past where it starts
/// (or at [`finish`](StreamScanner::finish)), and not while a value the text's end may
/// still extend is open: a run of printable ASCII reaching the end of what arrived (an API
/// key, a JWT, a URL, an e-mail address in the making) or a PEM block begun and not ended,
/// up to [`OPEN_VALUE_LIMIT`]. Text before such a value is settled; the value waits whole
/// however short the hold-back, so a token longer than the hold-back is not cut into a
/// released head and a held tail (a hold-back of twice the limit or more sees such values
/// whole already, and skips this). The scanner keeps at most about three hold-backs of text
/// besides an open value. The default hold-back is twice the detector's
/// [`max_reach`](Detector::max_reach) (the longest match plus the context read around it),
/// which makes the result equal to a one-shot scan. When the reach is unbounded, as for the
/// built-in catalogue (e-mail addresses, URLs and API keys have no fixed maximum length),
/// it is [`DEFAULT_HOLD_BACK`] (16 KiB), and the result equals a one-shot scan for every
/// value up to half of that long. A smaller hold-back
/// ([`with_hold_back`](StreamScanner::with_hold_back)) reports sooner but may miss or cut
/// a value longer than half of it that straddles a chunk boundary and holds spaces or
/// text beyond ASCII (an open printable run or PEM block is waited for, as above).
///
/// # Prose
///
/// With a [word-bounded](Detector::word_bounded) detector (the built-in catalogue), text
/// followed by a run of prose words is settled sooner: up to 24 bytes before that run's
/// end, whatever the hold-back, since no finding crosses prose and what a value reads
/// after it has arrived. A streamed answer then goes out a few words behind its end.
///
/// # Example: chunks give the one-shot findings
///
/// ```
/// use sentinel_detect::{Detector, LocalDetector, StreamScanner};
/// let d = LocalDetector::new();
/// let text = "card 4111 1111 1111 1111, mail a.b@example.com";
/// let mut s = StreamScanner::new(&d);
/// let mut found = Vec::new();
/// for chunk in ["card 4111 11", "11 1111 1111, mail a.b@ex", "ample.com"] {
///     s.feed(chunk, &mut found);
/// }
/// s.finish(&mut found);
/// assert_eq!(found, d.scan(text));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StreamScanner<D> {
    detector: D,
    buf: String,
    /// Absolute offset of `buf[0]`.
    base: usize,
    /// Every finding starting before this absolute offset has been reported.
    emitted_to: usize,
    hold_back: usize,
    pending: Vec<u8>,
    found: Vec<Finding>,
    /// Absolute offset where the run of printable ASCII at the end of the text begins.
    run_from: usize,
    /// Absolute offset of a PEM block's `-----BEGIN ` not yet followed by its end.
    pem_from: Option<usize>,
    /// Absolute offsets of a `"` and of a `'` that open a quoted value not yet closed
    /// (see [`QUOTE_LIMIT`]).
    quotes: [Option<usize>; 2],
    /// The detector's findings never span words of prose: prose followed by enough of it
    /// is settled before the hold-back.
    word_bounded: bool,
    /// Besides, no finding holds a letter of Chinese, Japanese or Korean: text in those
    /// scripts is prose too.
    cjk_bounded: bool,
}

impl<D: Detector> StreamScanner<D> {
    /// A scanner with the hold-back that makes chunked results equal to one-shot ones.
    pub fn new(detector: D) -> StreamScanner<D> {
        let hold_back = detector
            .max_reach()
            .map_or(DEFAULT_HOLD_BACK, |r| r.saturating_mul(2));
        StreamScanner::with_hold_back(detector, hold_back)
    }

    /// A scanner with an explicit hold-back in bytes (at least 64).
    pub fn with_hold_back(detector: D, hold_back: usize) -> StreamScanner<D> {
        StreamScanner {
            word_bounded: detector.word_bounded(),
            cjk_bounded: detector.cjk_bounded(),
            detector,
            buf: String::new(),
            base: 0,
            emitted_to: 0,
            hold_back: hold_back.max(64),
            pending: Vec::new(),
            found: Vec::new(),
            run_from: 0,
            pem_from: None,
            quotes: [None; 2],
        }
    }

    /// The hold-back in bytes.
    pub fn hold_back(&self) -> usize {
        self.hold_back
    }

    /// Every finding that starts before this absolute offset has been reported.
    pub fn settled(&self) -> usize {
        self.emitted_to
    }

    /// Bytes fed so far.
    pub fn position(&self) -> usize {
        self.base + self.buf.len()
    }

    /// Feeds a chunk; findings that are now final are appended to `out`.
    pub fn feed(&mut self, chunk: &str, out: &mut Vec<Finding>) {
        let before = self.buf.len();
        self.buf.push_str(chunk);
        let mut frontier = self.position().saturating_sub(self.hold_back);
        // A hold-back of twice the limit already sees every such value whole.
        let mut open = None;
        if self.hold_back < 2 * OPEN_VALUE_LIMIT || self.word_bounded {
            self.follow_open_values(before);
            open = self.open_from();
        }
        if let (Some(open), true) = (open, self.hold_back < 2 * OPEN_VALUE_LIMIT) {
            frontier = frontier.min(open).max(self.emitted_to);
        }
        // Rescan only after the frontier has moved by half a hold-back, so a stream of tiny
        // chunks costs a bounded number of passes per byte; prose settles sooner, at a
        // rescan every few words.
        let mut step = self.hold_back / 2;
        if let Some(prose) = self.prose_frontier() {
            let prose = open.map_or(prose, |o| prose.min(o));
            if prose > frontier {
                frontier = prose;
                step = step.min(PROSE_STEP);
            }
        }
        if frontier < self.emitted_to + step {
            return;
        }
        let frontier = self.emit(frontier, out);
        let keep_from = frontier.saturating_sub(self.hold_back).max(self.base);
        let mut cut = keep_from - self.base;
        while !self.buf.is_char_boundary(cut) {
            cut -= 1;
        }
        self.buf.drain(..cut);
        self.base += cut;
    }

    /// Feeds raw bytes, carrying an incomplete UTF-8 sequence over to the next call.
    ///
    /// # Errors
    ///
    /// Invalid UTF-8, with its absolute offset; the valid text before it was fed.
    pub fn feed_bytes(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<Finding>,
    ) -> Result<(), StreamUtf8Error> {
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(bytes);
        match std::str::from_utf8(&data) {
            Ok(s) => {
                self.feed(s, out);
                Ok(())
            }
            Err(e) => {
                let valid = e.valid_up_to();
                let (good, rest) = data.split_at(valid);
                self.feed(std::str::from_utf8(good).unwrap_or_default(), out);
                match e.error_len() {
                    None => {
                        self.pending = rest.to_vec();
                        Ok(())
                    }
                    Some(_) => Err(StreamUtf8Error {
                        offset: self.position(),
                    }),
                }
            }
        }
    }

    /// Ends the stream: reports every finding not yet reported.
    ///
    /// # Errors
    ///
    /// The stream ended inside a UTF-8 sequence fed through `feed_bytes`.
    pub fn finish(mut self, out: &mut Vec<Finding>) -> Result<(), StreamUtf8Error> {
        let end = self.position() + 1;
        self.emit(end, out);
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(StreamUtf8Error {
                offset: self.position(),
            })
        }
    }

    /// Follows what the text from `buf[from..]` opened or closed: the printable run at
    /// the end, and PEM blocks (a marker cut between chunks is found whole; a block is
    /// closed once its `-----END ...-----` line has arrived).
    fn follow_open_values(&mut self, from: usize) {
        let bytes = self.buf.as_bytes();
        if let Some(i) = bytes[from..].iter().rposition(|b| !b.is_ascii_graphic()) {
            self.run_from = self.base + from + i + 1;
        }
        // The last quote or line end of each kind in the new text decides: a quote after
        // a byte that is no letter or digit opens (the buffer's first byte may follow
        // anything: it opens), any other closes. A plain loop from the end: chunks are a
        // few bytes, where `memrchr3` cost more to call than reading them (a 4 KB answer
        // fed four bytes a chunk: the scanner +17% with it, +5% with this loop).
        let mut decided = [false; 2];
        for at in (from..bytes.len()).rev() {
            let kind = match bytes[at] {
                b'"' => 0,
                b'\'' => 1,
                b'\n' | b'\r' => 2,
                _ => continue,
            };
            if kind == 2 {
                for (open, done) in self.quotes.iter_mut().zip(decided) {
                    if !done {
                        *open = None;
                    }
                }
                break;
            }
            if !decided[kind] {
                decided[kind] = true;
                let opens = at == 0 || !bytes[at - 1].is_ascii_alphanumeric();
                self.quotes[kind] = opens.then_some(self.base + at);
            }
            if decided == [true; 2] {
                break;
            }
        }
        let look = from.saturating_sub(PEM_LOOK_BACK);
        let region = &bytes[look..];
        let begin = pem_begin_finder().rfind(region);
        if begin.is_none() && self.pem_from.is_none() {
            // Nothing open and nothing opened: no end line to look for.
            return;
        }
        match last_pem_end(region) {
            Some(closed) => {
                self.pem_from = begin.filter(|&b| b >= closed).map(|b| self.base + look + b);
            }
            None => {
                if let Some(b) = begin {
                    self.pem_from = self.pem_from.or(Some(self.base + look + b));
                }
            }
        }
    }

    /// With a word-bounded detector, how far the text is settled by the prose in it: up to
    /// [`PROSE_MARGIN`] bytes before the end of the last run of prose words at least that
    /// long, ahead of the last word (which may still grow). No finding spans such a run,
    /// so none before it can still change: what follows a value within the margin (a
    /// context word, a label's number) has arrived. `None` without such a run.
    ///
    /// With a [CJK-bounded](Detector::cjk_bounded) detector too, a letter of Chinese,
    /// Japanese or Korean is a word of prose on its own (those scripts leave no spaces
    /// between words, and no finding holds such a letter), and the ideographic space is
    /// white space.
    fn prose_frontier(&self) -> Option<usize> {
        // Not worth a look until it could move the frontier by a step.
        if !self.word_bounded || self.position() < self.emitted_to + PROSE_STEP + PROSE_MARGIN {
            return None;
        }
        let text = self.buf.as_str();
        let mut lo = self.emitted_to.saturating_sub(self.base).min(text.len());
        while !text.is_char_boundary(lo) {
            lo += 1;
        }
        let cjk = self.cjk_bounded;
        let before = |at: usize| kind_before(text, lo, at, cjk);
        // Where a word starts: after white space or such a letter, or at such a letter.
        let starts_word = |at: usize| {
            kind_before(text, 0, at, cjk).is_none_or(|(_, k)| k != Kind::Other)
                || (cjk && text[at..].chars().next().is_some_and(is_cjk_letter))
        };
        // The start of the run of other characters that ends at `at`.
        let word_start = |mut at: usize| {
            while let Some((start, Kind::Other)) = before(at) {
                at = start;
            }
            at
        };
        // The last word may still grow (a letter of those scripts is whole).
        let mut i = word_start(text.len());
        // Where the run of prose being read ends: where the word after it starts.
        let mut run_end = i;
        loop {
            let mut j = i;
            while let Some((start, Kind::Space)) = before(j) {
                j = start;
            }
            let end = j;
            let prose = match before(j) {
                // Nothing further back to read.
                None => return None,
                Some((start, Kind::Letter)) => {
                    j = start;
                    true
                }
                Some(_) => {
                    j = word_start(j);
                    is_prose(&text.as_bytes()[j..end])
                }
            };
            // A word cut by what is settled: nothing further back to read.
            if j == lo && lo > 0 && !starts_word(lo) {
                return None;
            }
            if !prose {
                run_end = j;
            } else if run_end - j >= PROSE_MARGIN {
                // Settled up to the word holding the margin's first byte.
                let mut f = run_end - PROSE_MARGIN;
                while f > j && !(text.is_char_boundary(f) && starts_word(f)) {
                    f -= 1;
                }
                return Some(self.base + f);
            }
            i = j;
        }
    }

    /// Where the earliest value still open at the end of the text begins, if one is
    /// (within [`OPEN_VALUE_LIMIT`]; a quoted one within [`QUOTE_LIMIT`]).
    fn open_from(&self) -> Option<usize> {
        let end = self.position();
        let within = |at: usize| end - at <= OPEN_VALUE_LIMIT;
        let run = Some(self.run_from).filter(|&at| at < end);
        run.into_iter()
            .chain(self.pem_from)
            .filter(|&at| within(at))
            .chain(self.open_quote())
            .min()
    }

    /// Where a quote still open at the end of the text stands (see [`QUOTE_LIMIT`]): the
    /// last `"` (or `'`), with no line end after it, when it opens one and the last
    /// [`QUOTE_LIMIT`] bytes hold it. A quote of either kind may be open; the earlier
    /// counts.
    fn open_quote(&self) -> Option<usize> {
        let end = self.position();
        self.quotes
            .iter()
            .flatten()
            .copied()
            .filter(|&at| end - at <= QUOTE_LIMIT)
            .min()
    }

    /// Scans the buffer and reports findings starting in `emitted_to..frontier`, less
    /// any that runs past the frontier: it waits, with everything after its start, for
    /// what follows to decide between it and what it overlaps there (a token glued to a
    /// PEM block that has not ended). Returns where reporting stopped.
    fn emit(&mut self, frontier: usize, out: &mut Vec<Finding>) -> usize {
        self.found.clear();
        self.detector.scan_into(&self.buf, &mut self.found);
        let mut frontier = frontier;
        while let Some(start) = self
            .found
            .iter()
            .map(|f| (self.base + f.start, self.base + f.end))
            .filter(|&(start, end)| start >= self.emitted_to && start < frontier && end > frontier)
            .map(|(start, _)| start)
            .min()
        {
            frontier = start;
        }
        for f in &self.found {
            let start = self.base + f.start;
            if start >= self.emitted_to && start < frontier {
                out.push(Finding {
                    start,
                    end: self.base + f.end,
                    ..f.clone()
                });
            }
        }
        self.emitted_to = frontier;
        frontier
    }
}

#[cfg(test)]
mod tests {
    use super::is_prose;

    #[test]
    fn words_of_prose_and_what_is_not() {
        for word in [
            "hello",
            "Well,",
            "\"done.\"",
            "don't",
            "été",
            "Größe",
            "¿Qué",
            "(see",
            "a",
            "à",
            "x",
            "Mr",
        ] {
            assert!(is_prose(word.as_bytes()), "{word}");
        }
        // Capitals, digits, separators and what normalization reads as them are not.
        for token in [
            "IBAN",
            "WEST",
            "A",
            "I",
            "ab1",
            "4111",
            "+44",
            "jane@example.com",
            "a%40b",
            "&nbsp;",
            "ＧＢ８２",
            "4111\u{a0}1111",
            "ja\u{200b}ne",
            "well-known",
        ] {
            assert!(!is_prose(token.as_bytes()), "{token}");
        }
    }
}
