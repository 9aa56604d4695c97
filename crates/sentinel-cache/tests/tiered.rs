use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sentinel_cache::{
    BoxFuture, CacheConfig, Key, MemoryCache, SharedStore, StoreError, TieredCache, TieredConfig,
};

/// A shared store in the test process, which can be switched off.
#[derive(Default)]
struct FakeStore {
    map: Mutex<HashMap<Key, Vec<u8>>>,
    down: AtomicBool,
}

impl SharedStore for FakeStore {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn get<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError {
                    store: "fake",
                    message: "connection refused".into(),
                });
            }
            Ok(self.map.lock().expect("lock").get(key).cloned())
        })
    }
    fn set<'a>(
        &'a self,
        key: &'a Key,
        value: Vec<u8>,
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError {
                    store: "fake",
                    message: "connection refused".into(),
                });
            }
            self.map.lock().expect("lock").insert(*key, value);
            Ok(())
        })
    }
    // Maps are not used by the tiered cache.
    fn set_fields<'a>(
        &'a self,
        _: &'a Key,
        _: sentinel_cache::Fields,
        _: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { unreachable!("the tiered cache sets no maps") })
    }
    fn get_fields<'a>(
        &'a self,
        _: &'a Key,
    ) -> BoxFuture<'a, Result<sentinel_cache::Fields, StoreError>> {
        Box::pin(async move { unreachable!("the tiered cache reads no maps") })
    }
}

fn replica(store: &Arc<FakeStore>, config: TieredConfig) -> TieredCache<Bytes> {
    let shared: Arc<dyn SharedStore> = store.clone();
    TieredCache::new(
        Arc::new(MemoryCache::new(CacheConfig::default())),
        Some(shared),
        config,
    )
}

fn key(s: &str) -> Key {
    Key::builder("t").field(s.as_bytes()).finish()
}

#[tokio::test]
async fn replicas_share_entries_and_degrade_to_memory_when_the_store_is_down() {
    let store = Arc::new(FakeStore::default());
    let config = TieredConfig {
        max_value_bytes: 100,
        retry_after: Duration::from_millis(200),
        ..TieredConfig::default()
    };
    let (a, b) = (replica(&store, config), replica(&store, config));
    a.insert(key("x"), Bytes::from_static(b"shared"), None)
        .await;
    assert_eq!(b.get(&key("x")).await.as_deref(), Some(&b"shared"[..]));
    assert_eq!(b.stats().shared_hits, 1);
    // Now in b's memory too.
    assert_eq!(b.stats().memory.entries, 1);

    // Too large for the store: memory only.
    a.insert(key("big"), Bytes::from(vec![1u8; 500]), None)
        .await;
    assert_eq!(b.get(&key("big")).await, None);
    assert_eq!(a.stats().too_large, 1);

    // The store goes down: errors are counted once, then it is skipped; memory serves.
    store.down.store(true, Ordering::SeqCst);
    assert_eq!(b.get(&key("y")).await, None);
    let s = b.stats();
    assert!(s.degraded && s.shared_errors == 1, "{s:?}");
    assert_eq!(b.get(&key("z")).await, None);
    assert_eq!(b.stats().degraded_skips, 1);
    b.insert(key("m"), Bytes::from_static(b"mem"), None).await;
    assert_eq!(b.get(&key("m")).await.as_deref(), Some(&b"mem"[..]));

    // It comes back and is used again after `retry_after`.
    store.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(250)).await;
    a.insert(key("later"), Bytes::from_static(b"again"), None)
        .await;
    assert_eq!(b.get(&key("later")).await.as_deref(), Some(&b"again"[..]));
    assert!(!b.stats().degraded);
}

/// What a [`sentinel_cache::SealedStore`] puts in the store is sealed, and opens only
/// under the same secret and the same key.
#[cfg(feature = "redis")]
#[tokio::test]
async fn values_are_sealed_in_the_store_and_open_only_under_their_key_and_secret() {
    use sentinel_cache::SealedStore;
    let plain = Arc::new(FakeStore::default());
    let held = |k: &Key| plain.map.lock().expect("lock")[k].clone();
    let put = |k: Key, v: Vec<u8>| {
        plain.map.lock().expect("lock").insert(k, v);
    };
    let store: Arc<dyn SharedStore> = plain.clone();
    let a = SealedStore::new(Arc::clone(&store), b"shared secret");
    let (k1, k2) = (Key::from_bytes([1; 16]), Key::from_bytes([2; 16]));
    let answer = b"the SSN on file is 536-22-1234".to_vec();
    let ttl = Duration::from_secs(1);
    a.set(&k1, answer.clone(), ttl).await.expect("set");
    let first = held(&k1);
    assert!(!first.windows(11).any(|w| w == b"536-22-1234"), "sealed");
    assert_eq!(first.len(), 2 + 24 + answer.len() + 16);
    // The same value again: a fresh nonce, so other bytes.
    a.set(&k1, answer.clone(), ttl).await.expect("set");
    assert_ne!(held(&k1), first);
    // Another replica with the same secret opens it.
    let b = SealedStore::new(Arc::clone(&store), b"shared secret");
    assert_eq!(b.get(&k1).await.expect("get"), Some(answer.clone()));
    assert_eq!(b.get(&k2).await.expect("get"), None);
    // Another secret does not, nor the entry moved under another key, nor a flipped
    // bit, nor a value that was never sealed, nor a short one: each a miss, counted.
    let other = SealedStore::new(Arc::clone(&store), b"another secret");
    assert_eq!(other.get(&k1).await.expect("get"), None);
    assert_eq!(other.refused(), 1);
    let moved = held(&k1);
    put(k2, moved.clone());
    assert_eq!(b.get(&k2).await.expect("get"), None);
    let mut flipped = moved;
    *flipped.last_mut().expect("bytes") ^= 1;
    put(k2, flipped);
    assert_eq!(b.get(&k2).await.expect("get"), None);
    put(k2, answer.clone());
    assert_eq!(b.get(&k2).await.expect("get"), None);
    put(k2, b"s1short".to_vec());
    assert_eq!(b.get(&k2).await.expect("get"), None);
    assert_eq!(b.refused(), 4);
}
