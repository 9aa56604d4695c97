//! The `Detector` seam: anything that finds sensitive values in text.

use crate::finding::{Finding, RecognizerId};

/// Finds sensitive values in text.
///
/// The one production implementation is [`LocalDetector`](crate::LocalDetector); the seam
/// exists so that a remote or hybrid detector can stand in its place, and so that callers
/// (policies, caches, the gateway) can be tested against a detector of their own.
///
/// # Contract
///
/// * Findings are returned sorted by `start`, do not overlap each other, and every span
///   lies on `char` boundaries of the scanned text.
/// * The same text always gives the same findings from the same detector.
/// * A detector never logs, stores or returns the values it finds, only spans.
///
/// # Example: scanning a prompt
///
/// ```
/// use sentinel_detect::{Detector, LocalDetector};
/// let detector = LocalDetector::new();
/// let text = "Mail jane.doe@example.com the card 4111 1111 1111 1111";
/// let findings = detector.scan(text);
/// let types: Vec<&str> = findings.iter().map(|f| f.entity.as_str()).collect();
/// assert_eq!(types, ["EMAIL_ADDRESS", "CREDIT_CARD"]);
/// assert_eq!(&text[findings[1].span()], "4111 1111 1111 1111");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Detector: Send + Sync {
    /// Scans `text` and appends its findings to `out`, sorted by start.
    ///
    /// Findings already in `out` are left alone; the new ones are appended after them.
    fn scan_into(&self, text: &str, out: &mut Vec<Finding>);

    /// Scans `text` and returns its findings, sorted by start.
    fn scan(&self, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        self.scan_into(text, &mut out);
        out
    }

    /// The name of the recognizer behind a finding, for reports.
    fn recognizer_name(&self, id: RecognizerId) -> &str;

    /// The longest value, in bytes, that this detector can report, including the context
    /// it reads around a value; `None` when unbounded. A streaming scanner holds back this
    /// much text (see [`StreamScanner`](crate::StreamScanner)).
    fn max_reach(&self) -> Option<usize> {
        None
    }

    /// Whether every finding that holds white space is made of digits, capitals and
    /// separators, never of words of prose (a private key's PEM block aside): then a
    /// [`StreamScanner`](crate::StreamScanner) may release prose as soon as enough of it
    /// follows, rather than only a hold-back behind. `false` (the default) when a finding
    /// may span words (a deny-list phrase, a custom pattern over words, a remote's names).
    fn word_bounded(&self) -> bool {
        false
    }

    /// Whether no finding holds a letter of Chinese, Japanese or Korean: then, when it is
    /// also [word-bounded](Detector::word_bounded), a
    /// [`StreamScanner`](crate::StreamScanner) may release text in those scripts, written
    /// without spaces between words, as it releases prose. `false` (the default) when a
    /// finding may hold such a letter (a custom pattern over ideographs, a name's).
    fn cjk_bounded(&self) -> bool {
        false
    }

    /// A digest of everything that decides this detector's output (recognizers, patterns,
    /// scores, lists, options). Caches key results by it, so a changed configuration never
    /// serves stale findings.
    fn fingerprint(&self) -> [u8; 16];
}

/// Forwards the trait through a pointer type, so `&D`, `Box<D>` and `Arc<D>` (and
/// `Box<dyn Detector>`) are detectors too.
macro_rules! forward {
    ($($ptr:ty),*) => {$(
        impl<D: Detector + ?Sized> Detector for $ptr {
            fn scan_into(&self, text: &str, out: &mut Vec<Finding>) {
                (**self).scan_into(text, out)
            }
            fn recognizer_name(&self, id: RecognizerId) -> &str {
                (**self).recognizer_name(id)
            }
            fn max_reach(&self) -> Option<usize> {
                (**self).max_reach()
            }
            fn word_bounded(&self) -> bool {
                (**self).word_bounded()
            }
            fn cjk_bounded(&self) -> bool {
                (**self).cjk_bounded()
            }
            fn fingerprint(&self) -> [u8; 16] {
                (**self).fingerprint()
            }
        }
    )*};
}

forward!(&D, Box<D>, std::sync::Arc<D>);

#[cfg(test)]
mod tests {
    use super::*;

    // The seam must stay object safe: the pipeline holds a `Box<dyn Detector>`.
    #[test]
    fn detector_is_object_safe() {
        fn takes(d: Box<dyn Detector>) -> usize {
            d.scan("nothing here").len()
        }
        assert_eq!(takes(Box::new(crate::LocalDetector::new())), 0);
    }
}
