//! Per-key request rates (`[[key]] requests_per_minute` and `burst`): governor's GCRA, one
//! limiter a key, so one tenant's client in a loop cannot spend the provider quota that
//! every tenant behind the gateway shares.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sentinel_client::KeySection;

use crate::GatewayError;

/// One key's rate and the limiter that holds it to it.
pub(crate) struct KeyRate {
    per_minute: NonZeroU32,
    burst: NonZeroU32,
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl KeyRate {
    /// The rate `key` asks for, if any. A `previous` rate that is the same (a reload that
    /// kept the key and its numbers) hands on its limiter, so a reload neither resets a
    /// key's budget nor spends it.
    ///
    /// # Errors
    ///
    /// A rate or burst of 0, or a burst without a rate.
    pub(crate) fn of(
        key: &KeySection,
        previous: Option<&KeyRate>,
    ) -> Result<Option<KeyRate>, GatewayError> {
        let bad =
            |why: &str| GatewayError::Config(format!("[[key]] for tenant {}: {why}", key.tenant));
        let Some(per_minute) = key.requests_per_minute else {
            if key.burst.is_some() {
                return Err(bad("burst needs requests_per_minute"));
            }
            return Ok(None);
        };
        let per_minute = NonZeroU32::new(per_minute)
            .ok_or_else(|| bad("requests_per_minute must be at least 1"))?;
        let burst = match key.burst {
            None => per_minute,
            Some(b) => NonZeroU32::new(b).ok_or_else(|| bad("burst must be at least 1"))?,
        };
        if let Some(p) = previous.filter(|p| p.per_minute == per_minute && p.burst == burst) {
            return Ok(Some(KeyRate {
                per_minute,
                burst,
                limiter: Arc::clone(&p.limiter),
            }));
        }
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Ok(Some(KeyRate {
            per_minute,
            burst,
            limiter: Arc::new(RateLimiter::direct(quota)),
        }))
    }

    /// Takes one request from the budget, or how long until the next is admitted.
    pub(crate) fn check(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// The rate, for the refusal's message.
    pub(crate) fn per_minute(&self) -> u32 {
        self.per_minute.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(rate: Option<u32>, burst: Option<u32>) -> KeySection {
        KeySection {
            hash: String::new(),
            tenant: "acme".to_owned(),
            requests_per_minute: rate,
            burst,
            ..KeySection::default()
        }
    }

    #[test]
    fn a_key_gets_its_burst_then_waits_and_a_reload_keeps_its_budget() {
        assert!(KeyRate::of(&key(None, None), None).expect("ok").is_none());
        let rate = KeyRate::of(&key(Some(60), Some(2)), None)
            .expect("ok")
            .expect("a rate");
        assert_eq!(rate.check(), Ok(()));
        assert_eq!(rate.check(), Ok(()));
        let wait = rate.check().expect_err("the burst is spent");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Reloaded with the same numbers: the same budget, still spent.
        let kept = KeyRate::of(&key(Some(60), Some(2)), Some(&rate))
            .expect("ok")
            .expect("a rate");
        assert!(kept.check().is_err());
        // Other numbers: a new budget.
        let changed = KeyRate::of(&key(Some(120), Some(2)), Some(&rate))
            .expect("ok")
            .expect("a rate");
        assert_eq!(changed.check(), Ok(()));
    }

    #[test]
    fn zero_and_a_burst_alone_are_refused() {
        for (rate, burst, why) in [
            (Some(0), None, "at least 1"),
            (Some(10), Some(0), "at least 1"),
            (None, Some(5), "needs requests_per_minute"),
        ] {
            let e = KeyRate::of(&key(rate, burst), None)
                .err()
                .expect("refused")
                .to_string();
            assert!(e.contains(why) && e.contains("acme"), "{e}");
        }
    }
}
