//! When a shared store failed: skip it for a while, and say so once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Whether a shared store is marked down: after a failure it is skipped for `retry_after`
/// (the caller serves without it, instead of waiting out a timeout on every request), and
/// the failure is logged once per outage rather than once per request.
///
/// # Example: one failure, then skips
///
/// ```
/// use std::time::Duration;
/// let outage = sentinel_cache::Outage::new(Duration::from_secs(5));
/// assert!(outage.up());
/// outage.failed("redis", "connection refused", "serving from memory only");
/// assert!(!outage.up());
/// assert_eq!(outage.skips(), 1);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Outage {
    retry_after: Duration,
    epoch: Instant,
    /// Milliseconds since `epoch` until which the store is skipped (0: up).
    down_until_ms: AtomicU64,
    skips: AtomicU64,
}

impl Outage {
    /// Up, skipping a failed store for `retry_after`.
    pub fn new(retry_after: Duration) -> Outage {
        Outage {
            retry_after,
            epoch: Instant::now(),
            down_until_ms: AtomicU64::new(0),
            skips: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the store may be used now; a `false` counts as a skip.
    pub fn up(&self) -> bool {
        if self.down() {
            self.skips.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Whether the store is marked down now (counting nothing).
    pub fn down(&self) -> bool {
        self.now_ms() < self.down_until_ms.load(Ordering::Relaxed)
    }

    /// Marks the store down for `retry_after`; the first failure of an outage is logged
    /// as a warning naming `store`, the error `message` (which must hold no value) and
    /// what the caller does `meanwhile`.
    pub fn failed(&self, store: &str, message: &str, meanwhile: &str) {
        let until = self
            .now_ms()
            .saturating_add(u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX));
        let was = self.down_until_ms.swap(until, Ordering::Relaxed);
        if was <= self.now_ms() {
            tracing::warn!(
                store,
                error = message,
                retry_after_ms = u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX),
                "shared store unreachable; {meanwhile}"
            );
        }
    }

    /// Operations skipped while the store was down.
    pub fn skips(&self) -> u64 {
        self.skips.load(Ordering::Relaxed)
    }
}
