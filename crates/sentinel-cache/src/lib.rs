//! DeepSentinel's caches: a cache hit is the fastest compliance check there is.
//!
//! - [`Cache`]: the seam; [`MemoryCache`] is the in-memory implementation on quick_cache
//!   (sharded CLOCK-Pro), weighted by bytes under a hard cap, with a TTL per entry and
//!   counters (hits, misses, inserts, evictions, expirations, bytes, entries).
//! - [`Key`]: 128-bit BLAKE3 digests of length-prefixed fields, and [`Key::for_text`], a
//!   fast per-process lookup key; [`CachedDetector`] keys findings by (detector
//!   fingerprint, text) and checks both against the entry ([`Scanned`]) on every hit, so a
//!   changed recognizer set never serves stale results and a shared key never another
//!   text's, and caches per message so a conversation's old turns are not rescanned.
//! - [`response_key`] and [`ResponseCachePolicy`]: answers keyed by tenant and the
//!   canonical request after policy transforms; only deterministic or opted-in requests,
//!   `Cache-Control: no-cache`/`no-store` honoured; a streamed answer is kept as its events
//!   ([`CachedBody::Events`]) to replay as a stream.
//! - [`SingleFlight`]: concurrent identical misses make one upstream call.
//! - [`TieredCache`]: memory in front of a [`SharedStore`] (Redis with the `redis`
//!   feature) shared by replicas, degrading to memory-only when the store is down.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use sentinel_cache::{response_key, Cache, CacheConfig, CachedBody, CachedResponse, MemoryCache};
//! let cache = MemoryCache::<CachedResponse>::new(CacheConfig::default());
//! let a: serde_json::Value = serde_json::from_str(r#"{"model":"m","temperature":0,"messages":[]}"#)?;
//! let b: serde_json::Value = serde_json::from_str(r#"{ "messages": [], "temperature": 0.0, "model": "m" }"#)?;
//! let answer = CachedResponse {
//!     status: 200,
//!     content_type: "application/json".into(),
//!     body: CachedBody::Full(bytes::Bytes::from_static(b"{}")),
//! };
//! cache.insert(response_key("acme", None, "/v1/chat/completions", &a), answer.clone(), None);
//! // Field order, whitespace and number spelling do not matter; the tenant does.
//! assert_eq!(cache.get(&response_key("acme", None, "/v1/chat/completions", &b)), Some(answer));
//! assert_eq!(cache.get(&response_key("globex", None, "/v1/chat/completions", &b)), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::time::Duration;

mod detection;
mod key;
mod memory;
mod outage;
#[cfg(feature = "redis")]
mod redis_store;
mod response;
#[cfg(feature = "redis")]
mod sealed;
mod single_flight;
mod tiered;
mod value;

pub use detection::{CachedDetector, Scanned, DEFAULT_MAX_CACHED_LEN, DEFAULT_MIN_CACHED_LEN};
pub use key::{Key, KeyBuilder};
pub use memory::{CacheConfig, MemoryCache};
pub use outage::Outage;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
pub use response::{
    response_key, response_key_varying, Cacheability, CachedBody, CachedResponse,
    ResponseCachePolicy,
};
#[cfg(feature = "redis")]
pub use sealed::SealedStore;
pub use single_flight::{Flight, FlightStats, LeaderGuard, SingleFlight};
pub use tiered::{
    BoxFuture, Fields, SharedStore, StoreError, TieredCache, TieredConfig, TieredStats,
};
pub use value::CacheValue;

/// A cache of `V` by [`Key`].
///
/// # Contract
///
/// A `get` never returns an entry past its TTL; the bytes held never exceed the cap the
/// implementation was built with; every call is safe from many threads at once.
pub trait Cache<V>: Send + Sync {
    /// The value under `key`, if present and fresh.
    fn get(&self, key: &Key) -> Option<V>;
    /// Stores `value` under `key` for `ttl` (the cache's default when `None`). A value too
    /// large for the cache is refused and counted.
    fn insert(&self, key: Key, value: V, ttl: Option<Duration>);
    /// Drops `key`'s entry.
    fn remove(&self, key: &Key);
    /// Drops every entry.
    fn clear(&self);
    /// Counters and sizes.
    fn stats(&self) -> CacheStats;
}

/// Counters and sizes of a cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered.
    pub hits: u64,
    /// Lookups not answered (absent or expired).
    pub misses: u64,
    /// Values stored.
    pub inserts: u64,
    /// Entries evicted to stay under the byte cap.
    pub evictions: u64,
    /// Entries found past their TTL and dropped.
    pub expirations: u64,
    /// Values refused for being larger than the cache admits.
    pub rejected: u64,
    /// Bytes held now.
    pub bytes: u64,
    /// Entries held now.
    pub entries: u64,
    /// The byte cap.
    pub max_bytes: u64,
}

impl CacheStats {
    /// Hits over lookups, 0 when there were none.
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}
