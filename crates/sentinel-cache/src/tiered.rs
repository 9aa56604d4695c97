//! Two levels: the in-memory cache in front of a shared store (Redis) used by several
//! gateway replicas, with the same keys and degradation to memory-only when the store is
//! unreachable.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::{Cache, CacheStats, CacheValue, Key, MemoryCache, Outage};

/// A boxed future, for the object-safe [`SharedStore`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A shared store failed (unreachable, timed out, refused).
#[derive(Debug, thiserror::Error)]
#[error("shared cache store {store}: {message}")]
pub struct StoreError {
    /// The store's name.
    pub store: &'static str,
    /// What went wrong (never a key or value).
    pub message: String,
}

/// A map's fields as a [`SharedStore`] reads and writes them: each name with its value.
pub type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// A second cache level shared by replicas. Entries expire on the store's side.
pub trait SharedStore: Send + Sync {
    /// The store's name, for logs and metrics.
    fn name(&self) -> &'static str;
    /// The bytes under `key`, if any.
    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    /// Stores `value` under `key` for `ttl`.
    fn set<'a>(
        &'a self,
        key: &'a Key,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Sets `fields` (name, value) in the map under `key`, leaving its other fields as
    /// they are, and keeps the map for `ttl` from now: writers that set different fields
    /// at once all keep them, where [`SharedStore::set`] keeps the last writer's value.
    fn set_fields<'a>(
        &'a self,
        key: &'a Key,
        fields: Fields,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Every field of the map under `key`, in no order; none when there is no map.
    fn get_fields<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Fields, StoreError>>;
}

/// Limits of the shared level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TieredConfig {
    /// Values larger than this (encoded) stay in memory only.
    pub max_value_bytes: usize,
    /// Each store operation gives up after this long.
    pub timeout: Duration,
    /// After a failure the store is skipped for this long (memory-only), then tried again.
    pub retry_after: Duration,
}

impl Default for TieredConfig {
    /// 1 MiB, 50 ms, 5 s.
    fn default() -> TieredConfig {
        TieredConfig {
            max_value_bytes: 1 << 20,
            timeout: Duration::from_millis(50),
            retry_after: Duration::from_secs(5),
        }
    }
}

/// Counters of both levels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TieredStats {
    /// The memory level.
    pub memory: CacheStats,
    /// Hits in the shared store (after a memory miss).
    pub shared_hits: u64,
    /// Misses in the shared store.
    pub shared_misses: u64,
    /// Failed store operations (each also logged).
    pub shared_errors: u64,
    /// Operations skipped because the store was marked down (memory-only).
    pub degraded_skips: u64,
    /// Values kept out of the store for their size.
    pub too_large: u64,
    /// Whether the store is marked down now.
    pub degraded: bool,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    too_large: AtomicU64,
}

/// The memory cache in front of an optional shared store.
pub struct TieredCache<V: CacheValue> {
    memory: Arc<MemoryCache<V>>,
    shared: Option<Arc<dyn SharedStore>>,
    config: TieredConfig,
    outage: Outage,
    counters: Counters,
}

impl<V: CacheValue> std::fmt::Debug for TieredCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TieredCache")
            .field("shared", &self.shared.as_ref().map(|s| s.name()))
            .field("stats", &self.stats())
            .finish()
    }
}

impl<V: CacheValue> TieredCache<V> {
    /// `memory` alone, or in front of `shared`.
    pub fn new(
        memory: Arc<MemoryCache<V>>,
        shared: Option<Arc<dyn SharedStore>>,
        config: TieredConfig,
    ) -> TieredCache<V> {
        TieredCache {
            memory,
            shared,
            outage: Outage::new(config.retry_after),
            config,
            counters: Counters::default(),
        }
    }

    /// The memory level.
    pub fn memory(&self) -> &Arc<MemoryCache<V>> {
        &self.memory
    }

    /// Whether the cache has a shared level (a store behind memory).
    pub fn has_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The store, unless it is marked down.
    fn store(&self) -> Option<&Arc<dyn SharedStore>> {
        let shared = self.shared.as_ref()?;
        self.outage.up().then_some(shared)
    }

    fn failed(&self, store: &dyn SharedStore, message: &str) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        self.outage
            .failed(store.name(), message, "the cache serves from memory only");
    }

    /// Looks `key` up in memory, then in the shared store (filling memory on a hit).
    pub async fn get(&self, key: &Key) -> Option<V> {
        if let Some(v) = self.memory.get(key) {
            return Some(v);
        }
        let store = self.store()?;
        match tokio::time::timeout(self.config.timeout, store.get(key)).await {
            Ok(Ok(Some(bytes))) => match V::decode(&bytes) {
                Some(v) => {
                    self.counters.hits.fetch_add(1, Ordering::Relaxed);
                    self.memory.insert(*key, v.clone(), None);
                    Some(v)
                }
                None => {
                    self.counters.misses.fetch_add(1, Ordering::Relaxed);
                    None
                }
            },
            Ok(Ok(None)) => {
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            Ok(Err(e)) => {
                self.failed(store.as_ref(), &e.message);
                None
            }
            Err(_) => {
                self.failed(store.as_ref(), "timed out");
                None
            }
        }
    }

    /// Stores `value` in memory and in the shared store (when it is up and the value is
    /// small enough), both for `ttl` (the memory default when `None`).
    pub async fn insert(&self, key: Key, value: V, ttl: Option<Duration>) {
        let ttl = ttl.unwrap_or(self.memory.config().default_ttl);
        let bytes = self.shared.is_some().then(|| value.encode());
        self.memory.insert(key, value, Some(ttl));
        let Some(bytes) = bytes else { return };
        if bytes.len() > self.config.max_value_bytes {
            self.counters.too_large.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(store) = self.store() else { return };
        match tokio::time::timeout(self.config.timeout, store.set(&key, bytes, ttl)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.failed(store.as_ref(), &e.message),
            Err(_) => self.failed(store.as_ref(), "timed out"),
        }
    }

    /// Counters of both levels.
    pub fn stats(&self) -> TieredStats {
        let c = &self.counters;
        TieredStats {
            memory: self.memory.stats(),
            shared_hits: c.hits.load(Ordering::Relaxed),
            shared_misses: c.misses.load(Ordering::Relaxed),
            shared_errors: c.errors.load(Ordering::Relaxed),
            degraded_skips: self.outage.skips(),
            too_large: c.too_large.load(Ordering::Relaxed),
            degraded: self.shared.is_some() && self.outage.down(),
        }
    }
}
