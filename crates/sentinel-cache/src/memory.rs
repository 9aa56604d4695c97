//! The in-memory cache: quick_cache (CLOCK-Pro, sharded), weighted by bytes, with a TTL per
//! entry and counters that do not make threads fight over one cache line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use quick_cache::sync::Cache as Quick;
use quick_cache::{DefaultHashBuilder, Lifecycle, OptionsBuilder, Weighter};

use crate::{Cache, CacheStats, CacheValue, Key};

/// What an entry costs beyond its value: the key, the expiry, the cache's own bookkeeping.
const ENTRY_OVERHEAD: u64 = 64;

/// Limits of a [`MemoryCache`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// The cap on the bytes held (values plus a fixed overhead per entry). It holds: the
    /// cache evicts before it grows past it.
    pub max_bytes: u64,
    /// The TTL of entries inserted without one.
    pub default_ttl: Duration,
    /// About how many entries the cache will hold (sizes its tables up front).
    pub estimated_entries: usize,
}

impl Default for CacheConfig {
    /// 64 MiB, 10 minutes, 16 384 entries.
    fn default() -> CacheConfig {
        CacheConfig {
            max_bytes: 64 << 20,
            default_ttl: Duration::from_secs(600),
            estimated_entries: 16_384,
        }
    }
}

/// Counters spread over cache lines, so threads counting hits do not contend.
pub(crate) struct Striped {
    cells: [Padded; 16],
}

#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

thread_local! {
    static STRIPE: usize = {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        (NEXT.fetch_add(1, Ordering::Relaxed) % 16) as usize
    };
}

impl Default for Striped {
    fn default() -> Striped {
        Striped {
            cells: std::array::from_fn(|_| Padded::default()),
        }
    }
}

impl Striped {
    pub(crate) fn add(&self, n: u64) {
        let i = STRIPE.with(|s| *s);
        self.cells[i].0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.cells.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }
}

#[derive(Default)]
struct Counters {
    hits: Striped,
    misses: Striped,
    inserts: Striped,
    evictions: AtomicU64,
    expirations: AtomicU64,
    rejected: AtomicU64,
}

#[derive(Clone)]
struct Slot<V> {
    value: V,
    /// Milliseconds since the cache's epoch.
    expires_ms: u64,
    weight: u64,
}

#[derive(Clone, Copy)]
struct ByWeight;

impl<V> Weighter<Key, Slot<V>> for ByWeight {
    fn weight(&self, _key: &Key, slot: &Slot<V>) -> u64 {
        slot.weight
    }
}

#[derive(Clone)]
struct CountEvictions(Arc<Counters>);

impl<V> Lifecycle<Key, Slot<V>> for CountEvictions {
    type RequestState = ();
    fn on_evict(&self, _state: &mut (), _key: Key, _slot: Slot<V>) {
        self.0.evictions.fetch_add(1, Ordering::Relaxed);
    }
}

/// A byte-bounded in-memory cache with a TTL per entry.
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use sentinel_cache::{Cache, CacheConfig, Key, MemoryCache};
/// let cache = MemoryCache::<Bytes>::new(CacheConfig { max_bytes: 1 << 20, ..CacheConfig::default() });
/// let key = Key::builder("example").field(b"question").finish();
/// cache.insert(key, Bytes::from_static(b"answer"), Some(Duration::from_secs(60)));
/// assert_eq!(cache.get(&key).as_deref(), Some(&b"answer"[..]));
/// assert_eq!(cache.stats().hits, 1);
/// ```
pub struct MemoryCache<V: CacheValue> {
    inner: Quick<Key, Slot<V>, ByWeight, DefaultHashBuilder, CountEvictions>,
    counters: Arc<Counters>,
    config: CacheConfig,
    epoch: Instant,
}

impl<V: CacheValue> std::fmt::Debug for MemoryCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<V: CacheValue> MemoryCache<V> {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> MemoryCache<V> {
        let counters = Arc::new(Counters::default());
        // Fewer shards for small caches, so a large value (a long response) still fits a
        // shard: each shard holds at least 1 MiB unless the whole cache is smaller.
        let mut shards = std::thread::available_parallelism()
            .map_or(4, usize::from)
            .saturating_mul(4)
            .next_power_of_two()
            .min(64);
        while shards > 1 && config.max_bytes / (shards as u64) < (1 << 20) {
            shards /= 2;
        }
        let options = OptionsBuilder::new()
            .estimated_items_capacity(config.estimated_entries.max(1))
            .weight_capacity(config.max_bytes.max(1))
            .shards(shards)
            .build();
        #[allow(clippy::expect_used)] // reason: every option above is set within range
        let options = options.expect("valid cache options");
        MemoryCache {
            inner: Quick::with_options(
                options,
                ByWeight,
                DefaultHashBuilder::default(),
                CountEvictions(Arc::clone(&counters)),
            ),
            counters,
            config,
            epoch: Instant::now(),
        }
    }

    /// The limits.
    pub fn config(&self) -> CacheConfig {
        self.config
    }

    /// The largest entry (value plus overhead) the cache admits: larger ones are refused
    /// and counted as `rejected`.
    pub fn max_entry_bytes(&self) -> u64 {
        self.inner.shard_capacity()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The remaining TTL of `key`'s entry, if it is present and fresh.
    pub fn ttl_of(&self, key: &Key) -> Option<Duration> {
        let slot = self.inner.peek(key)?;
        let now = self.now_ms();
        (slot.expires_ms > now).then(|| Duration::from_millis(slot.expires_ms - now))
    }
}

impl<V: CacheValue> Cache<V> for MemoryCache<V> {
    fn get(&self, key: &Key) -> Option<V> {
        let Some(slot) = self.inner.get(key) else {
            self.counters.misses.add(1);
            return None;
        };
        let now = self.now_ms();
        if slot.expires_ms <= now {
            if self.inner.remove_if(key, |s| s.expires_ms <= now).is_some() {
                self.counters.expirations.fetch_add(1, Ordering::Relaxed);
            }
            self.counters.misses.add(1);
            return None;
        }
        self.counters.hits.add(1);
        Some(slot.value)
    }

    fn insert(&self, key: Key, value: V, ttl: Option<Duration>) {
        let weight = value.weight().saturating_add(ENTRY_OVERHEAD);
        if weight > self.inner.shard_capacity() {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let ttl = ttl.unwrap_or(self.config.default_ttl);
        let expires_ms = self
            .now_ms()
            .saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        self.inner.insert(
            key,
            Slot {
                value,
                expires_ms,
                weight,
            },
        );
        self.counters.inserts.add(1);
    }

    fn remove(&self, key: &Key) {
        self.inner.remove(key);
    }

    fn clear(&self) {
        self.inner.clear();
    }

    fn stats(&self) -> CacheStats {
        let c = &self.counters;
        CacheStats {
            hits: c.hits.get(),
            misses: c.misses.get(),
            inserts: c.inserts.get(),
            evictions: c.evictions.load(Ordering::Relaxed),
            expirations: c.expirations.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            bytes: self.inner.weight(),
            entries: self.inner.len() as u64,
            max_bytes: self.config.max_bytes,
        }
    }
}
