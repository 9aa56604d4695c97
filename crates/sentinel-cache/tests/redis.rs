//! Against a real redis-server, started here on 127.0.0.1 and stopped on drop. `cargo xtask
//! ci` installs redis-server and runs these with `--all-features`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sentinel_cache::{
    CacheConfig, Key, MemoryCache, RedisStore, SharedStore, TieredCache, TieredConfig,
};

use sentinel_testkit::RedisServer;

fn tiered(store: &RedisStore, config: TieredConfig) -> TieredCache<Bytes> {
    let shared: Arc<dyn SharedStore> = Arc::new(store.clone());
    TieredCache::new(
        Arc::new(MemoryCache::new(CacheConfig::default())),
        Some(shared),
        config,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_through_redis_with_server_side_ttl_and_degrade_when_it_dies() {
    let mut server = RedisServer::start();
    let store = RedisStore::new(&server.url(), "ds-test:").expect("url");
    let config = TieredConfig {
        max_value_bytes: 1024,
        timeout: Duration::from_millis(500),
        retry_after: Duration::from_millis(300),
    };
    let (a, b) = (tiered(&store, config), tiered(&store, config));
    let key = Key::builder("t").field(b"request").finish();
    a.insert(
        key,
        Bytes::from_static(b"answer"),
        Some(Duration::from_secs(30)),
    )
    .await;
    assert_eq!(b.get(&key).await.as_deref(), Some(&b"answer"[..]));
    assert_eq!(b.stats().shared_hits, 1);

    // The TTL lives on the server.
    let client = redis::Client::open(server.url()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let pttl: i64 = redis::cmd("PTTL")
        .arg(format!("ds-test:{}", key.to_hex()))
        .query_async(&mut conn)
        .await
        .expect("pttl");
    assert!(pttl > 25_000 && pttl <= 30_000, "{pttl}");

    // Values over the cap stay out of Redis.
    let big = Key::builder("t").field(b"big").finish();
    a.insert(big, Bytes::from(vec![0u8; 4096]), None).await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(format!("ds-test:{}", big.to_hex()))
        .query_async(&mut conn)
        .await
        .expect("exists");
    assert_eq!(exists, 0);
    assert_eq!(a.stats().too_large, 1);

    // Redis dies: memory keeps serving, the failure is counted and the store skipped.
    server.stop();
    let fresh = Key::builder("t").field(b"after").finish();
    assert_eq!(b.get(&fresh).await, None);
    let s = b.stats();
    assert!(s.degraded && s.shared_errors >= 1, "{s:?}");
    b.insert(fresh, Bytes::from_static(b"memory"), None).await;
    assert_eq!(b.get(&fresh).await.as_deref(), Some(&b"memory"[..]));
    assert_eq!(
        b.get(&key).await.as_deref(),
        Some(&b"answer"[..]),
        "memory still has it"
    );
}

/// A map's fields set by two writers both stay (where `set` keeps the last value), the TTL
/// is the server's, and sealed values open only under their own key and field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maps_merge_writers_field_by_field_and_seal_each_value() {
    use sentinel_cache::SealedStore;

    let server = RedisServer::start();
    let redis = Arc::new(RedisStore::new(&server.url(), "ds-map:").expect("url"));
    let (a, b) = (
        SealedStore::new(redis.clone(), b"the replicas' secret"),
        SealedStore::new(redis.clone(), b"the replicas' secret"),
    );
    let key = Key::builder("vault").field(b"conv-1").finish();
    let ttl = Duration::from_secs(60);
    let field = |name: &str, value: &str| (name.as_bytes().to_vec(), value.as_bytes().to_vec());
    // Each writer holds only its own: neither read the other's first.
    a.set_fields(&key, vec![field("[EMAIL_1]", "jane@example.com")], ttl)
        .await
        .expect("a");
    b.set_fields(&key, vec![field("[IP_1]", "10.20.30.40")], ttl)
        .await
        .expect("b");
    let mut read = a.get_fields(&key).await.expect("read");
    read.sort();
    assert_eq!(
        read,
        [
            field("[EMAIL_1]", "jane@example.com"),
            field("[IP_1]", "10.20.30.40")
        ]
    );
    // Setting a field again replaces it; nothing to set sends nothing.
    b.set_fields(&key, vec![field("[IP_1]", "10.0.0.1")], ttl)
        .await
        .expect("again");
    b.set_fields(&key, Vec::new(), ttl).await.expect("none");
    assert_eq!(a.get_fields(&key).await.expect("read").len(), 2);
    let other = Key::builder("vault").field(b"conv-2").finish();
    assert!(a.get_fields(&other).await.expect("read").is_empty());

    // In Redis: a hash with the server's TTL, each value sealed.
    let client = redis::Client::open(server.url()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let name = format!("ds-map:{}", key.to_hex());
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&name)
        .query_async(&mut conn)
        .await
        .expect("pttl");
    assert!(pttl > 55_000 && pttl <= 60_000, "{pttl}");
    let raw = redis.get_fields(&key).await.expect("raw");
    assert!(raw
        .iter()
        .all(|(_, v)| !v.windows(4).any(|w| w == b"jane" || w == b"10.2")));
    // A value moved under another field does not open, and is counted.
    let (_, sealed) = raw
        .iter()
        .find(|(n, _)| n == b"[EMAIL_1]")
        .expect("the field")
        .clone();
    let _: () = redis::cmd("HSET")
        .arg(&name)
        .arg("[EMAIL_2]")
        .arg(sealed)
        .query_async(&mut conn)
        .await
        .expect("hset");
    assert_eq!(a.get_fields(&key).await.expect("read").len(), 2);
    assert_eq!(a.refused(), 1);
}
