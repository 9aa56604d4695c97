//! Requests a gateway refused before they reached the pipeline (no key, an unknown key):
//! what [`Pipeline::record_refusal`](crate::Pipeline::record_refusal) writes, and the
//! window that bounds how many it writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Refusals recorded per second at most; more in the same second are counted in
/// `deepsentinel_audit_refusals_skipped_total` and not written, so that callers without a
/// key cannot fill the audit log's disk at the rate they can send requests.
pub const REFUSALS_PER_SECOND: u32 = 100;

/// A request refused because its caller could not be identified.
#[derive(Clone, Copy)]
pub struct Refusal<'a> {
    /// The request's id (the caller's `x-request-id`, else a fresh one).
    pub request_id: &'a str,
    /// The route asked for, from the gateway's fixed list (`other` for any other path,
    /// which is never written as sent: a path can carry anything).
    pub route: &'static str,
    /// Why: `unauthorized` (no key, or one no tenant holds) or `loopback_only` (no keys
    /// configured and the caller is not on loopback).
    pub reason: &'static str,
    /// The key the caller presented, if any: recorded as a keyed fingerprint under the
    /// entity type `GATEWAY_KEY`, so repeated attempts with one key (an old key left in a
    /// service after a rotation, a guessing run) can be told apart, never as the key.
    pub credential: Option<&'a str>,
}

impl std::fmt::Debug for Refusal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credential.
        f.debug_struct("Refusal")
            .field("request_id", &self.request_id)
            .field("route", &self.route)
            .field("reason", &self.reason)
            .field("credential", &self.credential.map(|_| "(presented)"))
            .finish()
    }
}

/// The refusals recorded in the current second: the second (since the window began) in
/// the high 32 bits, the count in the low 32, updated as one word.
#[derive(Debug)]
pub(crate) struct RefusalWindow {
    start: Instant,
    now: AtomicU64,
}

impl RefusalWindow {
    pub(crate) fn new() -> RefusalWindow {
        RefusalWindow {
            start: Instant::now(),
            now: AtomicU64::new(0),
        }
    }

    /// Whether one more refusal may be recorded now.
    pub(crate) fn admit(&self) -> bool {
        self.admit_in(self.start.elapsed().as_secs())
    }

    /// Whether one more refusal may be recorded in `second` (since the window began).
    fn admit_in(&self, second: u64) -> bool {
        let second = second & 0xffff_ffff;
        let mut current = self.now.load(Ordering::Relaxed);
        loop {
            // A caller that read the clock before another moved the window on counts
            // in the newer second.
            let next = if second <= current >> 32 {
                if current & 0xffff_ffff >= u64::from(REFUSALS_PER_SECOND) {
                    return false;
                }
                current + 1
            } else {
                (second << 32) | 1
            };
            match self.now.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_admits_its_share_and_the_next_starts_again() {
        let w = RefusalWindow::new();
        let admitted = (0..REFUSALS_PER_SECOND + 50)
            .filter(|_| w.admit_in(7))
            .count();
        assert_eq!(admitted, REFUSALS_PER_SECOND as usize);
        let next = (0..REFUSALS_PER_SECOND + 50)
            .filter(|_| w.admit_in(8))
            .count();
        assert_eq!(
            next, REFUSALS_PER_SECOND as usize,
            "a new second, a new share"
        );
        // A caller that read the clock in second 7 arrives late: it counts in second 8,
        // whose share is spent, and does not start second 7's again.
        assert!(!w.admit_in(7));
    }
}
