//! `StreamScanner`: the same findings as a one-shot scan, for text that arrives in chunks.

use crate::detector::Detector;
use crate::finding::Finding;

/// Hold-back used when the detector cannot bound its reach (a custom unbounded pattern).
pub const DEFAULT_HOLD_BACK: usize = 16 * 1024;

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
/// (or at [`finish`](StreamScanner::finish)); the scanner keeps at most about three
/// hold-backs of text. The default hold-back is twice the detector's
/// [`max_reach`](Detector::max_reach) (the longest match plus the context read around it),
/// which makes the result equal to a one-shot scan. When the reach is unbounded, as for the
/// built-in catalogue (e-mail addresses, URLs and API keys have no fixed maximum length),
/// it is [`DEFAULT_HOLD_BACK`] (16 KiB), and the result equals a one-shot scan for every
/// value up to half of that long. A smaller hold-back
/// ([`with_hold_back`](StreamScanner::with_hold_back)) reports sooner but may miss or cut
/// a value longer than half of it that straddles a chunk boundary.
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
            detector,
            buf: String::new(),
            base: 0,
            emitted_to: 0,
            hold_back: hold_back.max(64),
            pending: Vec::new(),
            found: Vec::new(),
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
        self.buf.push_str(chunk);
        let frontier = self.position().saturating_sub(self.hold_back);
        // Rescan only after the frontier has moved by half a hold-back, so a stream of tiny
        // chunks costs a bounded number of passes per byte.
        if frontier < self.emitted_to + self.hold_back / 2 {
            return;
        }
        self.emit(frontier, out);
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

    /// Scans the buffer and reports findings starting in `emitted_to..frontier`.
    fn emit(&mut self, frontier: usize, out: &mut Vec<Finding>) {
        self.found.clear();
        self.detector.scan_into(&self.buf, &mut self.found);
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
    }
}
