//! Backoff with full jitter, `Retry-After`, and the retry budget.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;

use crate::RetryConfig;

/// The wait before retry number `attempt` (1-based): uniform in `0..min(max, base * 2^(n-1))`
/// ("full jitter": retries of many clients spread out instead of arriving together).
pub fn backoff(config: &RetryConfig, attempt: u32) -> Duration {
    let ceiling = config
        .base_backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(config.max_backoff);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(if nanos == 0 {
        0
    } else {
        fastrand::u64(0..nanos)
    })
}

/// The wait a `Retry-After` header asks for: delta seconds or an HTTP date (in the past:
/// zero). `None` when the header is absent or unparsable.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A token bucket limiting retries to a share of first attempts, plus a floor per second,
/// so retries cannot multiply the load on an upstream that is already failing.
pub struct RetryBudget {
    ratio: f64,
    min_per_second: f64,
    state: Mutex<BudgetState>,
}

struct BudgetState {
    tokens: f64,
    floor_tokens: f64,
    last: Instant,
}

impl std::fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ratio", &self.ratio)
            .field("min_per_second", &self.min_per_second)
            .finish_non_exhaustive()
    }
}

/// The most tokens the bucket holds, so a quiet hour does not bank a storm of retries.
const MAX_TOKENS: f64 = 100.0;

impl RetryBudget {
    /// A budget of `ratio` retries per first attempt plus `min_per_second`.
    pub fn new(ratio: f64, min_per_second: f64) -> RetryBudget {
        RetryBudget {
            ratio: ratio.max(0.0),
            min_per_second: min_per_second.max(0.0),
            state: Mutex::new(BudgetState {
                tokens: 0.0,
                floor_tokens: min_per_second.max(0.0),
                last: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BudgetState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a first attempt.
    pub fn deposit(&self) {
        let mut s = self.lock();
        s.tokens = (s.tokens + self.ratio).min(MAX_TOKENS);
    }

    /// Takes one retry, if the budget allows it.
    pub fn withdraw(&self) -> bool {
        let mut s = self.lock();
        let now = Instant::now();
        let elapsed = now.duration_since(s.last).as_secs_f64();
        s.last = now;
        s.floor_tokens = (s.floor_tokens + elapsed * self.min_per_second).min(self.min_per_second);
        // A little slack, so 10 deposits of 0.1 make one whole retry despite rounding.
        if s.tokens >= 1.0 - 1e-9 {
            s.tokens = (s.tokens - 1.0).max(0.0);
            true
        } else if s.floor_tokens >= 1.0 {
            s.floor_tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_grows() {
        let c = RetryConfig::default();
        for attempt in 1..10 {
            let ceiling = (c.base_backoff * (1 << (attempt - 1))).min(c.max_backoff);
            for _ in 0..100 {
                assert!(backoff(&c, attempt) < ceiling.max(Duration::from_nanos(1)));
            }
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        let now = SystemTime::now();
        assert_eq!(retry_after(&h, now), None);
        h.insert(http::header::RETRY_AFTER, "7".parse().expect("value"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = now + Duration::from_secs(30);
        h.insert(
            http::header::RETRY_AFTER,
            httpdate::fmt_http_date(later).parse().expect("value"),
        );
        let d = retry_after(&h, now).expect("date");
        assert!(
            d > Duration::from_secs(28) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(http::header::RETRY_AFTER, "soon".parse().expect("value"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn the_budget_caps_retries_to_a_share_of_requests() {
        let b = RetryBudget::new(0.1, 0.0);
        for _ in 0..100 {
            b.deposit();
        }
        let granted = (0..100).filter(|_| b.withdraw()).count();
        assert_eq!(granted, 10);
    }
}
