//! The detection cache: a detector whose results are looked up before it scans.

use std::sync::Arc;

use sentinel_detect::{Detector, Finding, RecognizerId};

use crate::{Cache, Key};

/// Texts shorter than this are scanned, not looked up: hashing and a lookup would cost
/// about as much as the scan.
pub const DEFAULT_MIN_CACHED_LEN: usize = 64;

/// Texts longer than this are scanned, not kept: an entry holds its text, so a
/// multi-megabyte document would cost its size again and push out the many short
/// messages that do repeat (turns of a conversation), to save a scan that is rarely asked
/// for twice.
pub const DEFAULT_MAX_CACHED_LEN: usize = 1 << 20;

/// A [`Detector`] that answers from a cache keyed by (its inner detector's fingerprint,
/// text), and scans on a miss. The key is a fast hash ([`Key::for_text`]); each entry
/// keeps its text and fingerprint, and a hit counts only when both are equal, so no text
/// is ever answered with another's findings.
///
/// Scan each message of a conversation separately: turn N then finds turns 1..N-1 in the
/// cache and scans only the new message.
///
/// ```
/// use std::sync::Arc;
/// use sentinel_cache::{CacheConfig, CachedDetector, MemoryCache};
/// use sentinel_detect::{Detector, LocalDetector};
/// let cache = Arc::new(MemoryCache::new(CacheConfig::default()));
/// let detector = CachedDetector::new(LocalDetector::new(), cache.clone());
/// let text = "Please write to jane.doe@example.com about the refund we discussed.";
/// let first = detector.scan(text);
/// let second = detector.scan(text); // from the cache
/// assert_eq!(first, second);
/// assert_eq!(sentinel_cache::Cache::stats(&*cache).hits, 1);
/// ```
pub struct CachedDetector<D> {
    inner: D,
    cache: Arc<dyn Cache<Scanned>>,
    fingerprint: [u8; 16],
    min_len: usize,
    max_len: usize,
}

/// A detection cache entry: a text's findings, with the text and the detector
/// fingerprint they were found with, compared on every hit.
#[derive(Clone, Debug)]
pub struct Scanned {
    pub(crate) text: Arc<str>,
    pub(crate) fingerprint: [u8; 16],
    pub(crate) findings: Arc<[Finding]>,
}

impl Scanned {
    /// The findings.
    pub fn findings(&self) -> &Arc<[Finding]> {
        &self.findings
    }
}

impl<D: Detector> std::fmt::Debug for CachedDetector<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDetector")
            .field("min_len", &self.min_len)
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}

impl<D: Detector> CachedDetector<D> {
    /// Wraps `inner` with `cache`.
    pub fn new(inner: D, cache: Arc<dyn Cache<Scanned>>) -> CachedDetector<D> {
        let fingerprint = inner.fingerprint();
        CachedDetector {
            inner,
            cache,
            fingerprint,
            min_len: DEFAULT_MIN_CACHED_LEN,
            max_len: DEFAULT_MAX_CACHED_LEN,
        }
    }

    /// Texts shorter than `len` bytes bypass the cache.
    #[must_use]
    pub fn min_cached_len(mut self, len: usize) -> CachedDetector<D> {
        self.min_len = len;
        self
    }

    /// Whether `text` is looked up and kept in the cache (its length is within the bounds): then
    /// [`scan_cached`](Self::scan_cached) answers with the cache's own entry, the same
    /// allocation for equal texts while it stays cached.
    pub fn caches(&self, text: &str) -> bool {
        (self.min_len..=self.max_len).contains(&text.len())
    }

    /// Texts longer than `len` bytes bypass the cache (default
    /// [`DEFAULT_MAX_CACHED_LEN`]).
    #[must_use]
    pub fn max_cached_len(mut self, len: usize) -> CachedDetector<D> {
        self.max_len = len;
        self
    }

    /// The wrapped detector.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<dyn Cache<Scanned>> {
        &self.cache
    }

    /// The findings for `text`, shared with the cache, and whether they came from it.
    pub fn scan_cached(&self, text: &str) -> (Arc<[Finding]>, bool) {
        if !self.caches(text) {
            return (self.inner.scan(text).into(), false);
        }
        let key = Key::for_text(&self.fingerprint, text);
        if let Some(hit) = self.cache.get(&key) {
            // The key only finds the entry; the entry must be this text's.
            if hit.fingerprint == self.fingerprint && *hit.text == *text {
                return (hit.findings, true);
            }
        }
        let found: Arc<[Finding]> = self.inner.scan(text).into();
        let entry = Scanned {
            text: text.into(),
            fingerprint: self.fingerprint,
            findings: Arc::clone(&found),
        };
        self.cache.insert(key, entry, None);
        (found, false)
    }
}

impl<D: Detector> Detector for CachedDetector<D> {
    fn scan_into(&self, text: &str, out: &mut Vec<Finding>) {
        if !self.caches(text) {
            return self.inner.scan_into(text, out);
        }
        out.extend(self.scan_cached(text).0.iter().cloned());
    }

    fn recognizer_name(&self, id: RecognizerId) -> &str {
        self.inner.recognizer_name(id)
    }

    fn max_reach(&self) -> Option<usize> {
        self.inner.max_reach()
    }

    fn fingerprint(&self) -> [u8; 16] {
        self.fingerprint
    }
}

#[cfg(test)]
mod tests {
    use sentinel_detect::LocalDetector;

    use super::*;
    use crate::{CacheConfig, CacheValue, MemoryCache};

    #[test]
    fn an_entry_answers_only_for_its_own_text_and_detector() {
        let cache = Arc::new(MemoryCache::new(CacheConfig::default()));
        let detector = CachedDetector::new(LocalDetector::new(), cache.clone());
        let text = "Please write to jane.doe@example.com about the refund we discussed today.";
        let key = Key::for_text(&detector.fingerprint, text);
        // Under this text's key, an entry for another text, as two texts sharing a key
        // would leave it: its (empty) findings must not be this text's.
        let other = Scanned {
            text: "Nothing sensitive here, only a text long enough to be cached.".into(),
            fingerprint: detector.fingerprint,
            findings: Arc::from(Vec::new()),
        };
        cache.insert(key, other.clone(), None);
        let (found, hit) = detector.scan_cached(text);
        assert!(!hit);
        assert_eq!(found.len(), 1, "{found:?}");
        // The entry is now this text's, and answers it.
        let (again, hit) = detector.scan_cached(text);
        assert!(hit);
        assert_eq!(again, found);
        // Found with another detector's configuration: not used either.
        let stale = Scanned {
            fingerprint: [7; 16],
            ..other
        };
        cache.insert(
            key,
            Scanned {
                text: text.into(),
                ..stale
            },
            None,
        );
        assert!(!detector.scan_cached(text).1);
    }

    #[test]
    fn only_texts_within_the_bounds_are_kept() {
        let cache = Arc::new(MemoryCache::new(CacheConfig::default()));
        let detector = CachedDetector::new(LocalDetector::new(), cache.clone()).max_cached_len(200);
        let long = "mail jane.doe@example.com ".repeat(10);
        let short = "mail jane.doe@example.com, about the refund we discussed on Monday";
        for text in [short, "hi", long.as_str(), short, long.as_str()] {
            let _ = detector.scan_cached(text);
        }
        let stats = crate::Cache::stats(&*cache);
        assert_eq!(
            (stats.inserts, stats.hits),
            (1, 1),
            "only the short text: {stats:?}"
        );
        assert!(!detector.caches(&long) && detector.caches(short));
        assert_eq!(
            detector.scan_cached(&long).0.len(),
            10,
            "scanned all the same"
        );
    }

    #[test]
    fn an_entry_round_trips_through_bytes() {
        let entry = Scanned {
            text: "mail jane@example.com".into(),
            fingerprint: [3; 16],
            findings: LocalDetector::new().scan("mail jane@example.com").into(),
        };
        let back = Scanned::decode(&entry.encode()).expect("decodes");
        assert_eq!(
            (back.text, back.fingerprint, back.findings),
            (entry.text, entry.fingerprint, entry.findings)
        );
        assert!(Scanned::decode(b"\x01\x00").is_none());
    }
}
