use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sentinel_cache::{Cache, CacheConfig, CacheValue, CachedDetector, Key, MemoryCache};
use sentinel_detect::{Detector, Finding, LocalDetector};

fn key(i: u64) -> Key {
    Key::builder("test").field(&i.to_le_bytes()).finish()
}

#[test]
fn the_byte_cap_holds_far_past_it() {
    let cap = 1 << 20;
    let cache = MemoryCache::<Bytes>::new(CacheConfig {
        max_bytes: cap,
        ..CacheConfig::default()
    });
    let value = Bytes::from(vec![7u8; 1000]);
    for i in 0..20_000 {
        cache.insert(key(i), value.clone(), None);
        if i % 1000 == 0 {
            assert!(cache.stats().bytes <= cap, "over the cap at {i}");
        }
    }
    let s = cache.stats();
    assert!(s.bytes <= cap, "{s:?}");
    assert!(s.bytes > cap / 2, "the cache is used: {s:?}");
    assert_eq!(s.inserts, 20_000);
    assert!(s.evictions >= 20_000 - s.entries, "{s:?}");
    assert!(s.entries < 1100, "{s:?}");
}

#[test]
fn ttl_expires_and_stats_count() {
    let cache = MemoryCache::<Bytes>::new(CacheConfig::default());
    cache.insert(
        key(1),
        Bytes::from_static(b"one"),
        Some(Duration::from_secs(60)),
    );
    cache.insert(key(2), Bytes::from_static(b"two"), Some(Duration::ZERO));
    assert_eq!(cache.get(&key(1)).as_deref(), Some(&b"one"[..]));
    assert_eq!(cache.get(&key(2)), None, "a zero TTL is already expired");
    assert_eq!(cache.get(&key(3)), None);
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.inserts, s.expirations), (1, 2, 2, 1));
    assert_eq!(s.entries, 1, "the expired entry was dropped");
    assert!((s.hit_rate() - 1.0 / 3.0).abs() < 1e-9);
    let ttl = cache.ttl_of(&key(1)).expect("fresh");
    assert!(ttl > Duration::from_secs(59) && ttl <= Duration::from_secs(60));
    cache.remove(&key(1));
    assert_eq!(cache.get(&key(1)), None);
}

#[test]
fn values_larger_than_a_shard_are_refused_and_counted() {
    let cache = MemoryCache::<Bytes>::new(CacheConfig {
        max_bytes: 64 << 10,
        ..CacheConfig::default()
    });
    let big = Bytes::from(vec![
        0u8;
        usize::try_from(cache.max_entry_bytes()).expect("fits")
    ]);
    cache.insert(key(1), big, None);
    assert_eq!(cache.get(&key(1)), None);
    assert_eq!(cache.stats().rejected, 1);
    assert!(cache.stats().bytes == 0);
}

#[test]
fn keys_separate_fields_and_domains() {
    let a = Key::builder("d").field(b"ab").field(b"c").finish();
    let b = Key::builder("d").field(b"a").field(b"bc").finish();
    let c = Key::builder("e").field(b"ab").field(b"c").finish();
    assert_ne!(a, b);
    assert_ne!(a, c);
    assert_eq!(a, Key::builder("d").field(b"ab").field(b"c").finish());
    assert_eq!(a.to_hex().len(), 32);
    // Detection keys pad short texts: trailing zero bytes and lengths still tell them apart.
    let fp = [1u8; 16];
    assert_ne!(Key::for_text(&fp, "x"), Key::for_text(&fp, "x\0"));
    assert_ne!(Key::for_text(&fp, ""), Key::for_text(&fp, "\0"));
    assert_ne!(Key::for_text(&fp, "x"), Key::for_text(&[2u8; 16], "x"));
    assert_eq!(Key::for_text(&fp, "x"), Key::for_text(&fp, "x"));
    let long = "y".repeat(70_000);
    assert_ne!(Key::for_text(&fp, &long), Key::for_text(&fp, &long[1..]));
}

const MESSAGE: &str = "Please send the invoice to jane.doe@example.com and call +1 415 555 2671.";

#[test]
fn the_detection_cache_serves_per_message_and_never_stale_results() {
    let cache: Arc<MemoryCache<sentinel_cache::Scanned>> =
        Arc::new(MemoryCache::new(CacheConfig::default()));
    let detector = CachedDetector::new(LocalDetector::new(), cache.clone());
    let direct = LocalDetector::new().scan(MESSAGE);
    assert!(!direct.is_empty());
    assert_eq!(detector.scan(MESSAGE), direct);
    let (again, hit) = detector.scan_cached(MESSAGE);
    assert!(hit);
    assert_eq!(&*again, &direct[..]);

    // A conversation resends earlier turns: only the new message is scanned.
    let turn2 = "And what about the second invoice for the same customer, please?";
    let before = cache.stats();
    let (_, hit1) = detector.scan_cached(MESSAGE);
    let (_, hit2) = detector.scan_cached(turn2);
    assert!(hit1 && !hit2);
    assert_eq!(cache.stats().inserts, before.inserts + 1);

    // Another recognizer set has another fingerprint: no result of the first is served.
    let emails_only = LocalDetector::builder()
        .entities(["EMAIL_ADDRESS"])
        .build()
        .expect("detector");
    let other = CachedDetector::new(emails_only, cache.clone());
    let (found, hit) = other.scan_cached(MESSAGE);
    assert!(!hit, "a different configuration must miss");
    assert!(found.iter().all(|f| f.entity.as_str() == "EMAIL_ADDRESS"));

    // Short texts bypass the cache.
    let s = cache.stats();
    let (_, hit) = detector.scan_cached("ssn 536-22-1234");
    assert!(!hit);
    assert_eq!(cache.stats().inserts, s.inserts);
}

#[test]
fn findings_round_trip_through_bytes() {
    let found: Arc<[Finding]> = LocalDetector::new().scan(MESSAGE).into();
    let back = <Arc<[Finding]> as CacheValue>::decode(&found.encode()).expect("decodes");
    assert_eq!(&*back, &*found);
    // A value read through a fold keeps its mark.
    let folded: Arc<[Finding]> = LocalDetector::new()
        .scan("mail jane%40example.com or ssn 536-22-1234")
        .into();
    assert_eq!(
        folded.iter().map(|f| f.folded).collect::<Vec<_>>(),
        [true, false]
    );
    let back = <Arc<[Finding]> as CacheValue>::decode(&folded.encode()).expect("decodes");
    assert_eq!(&*back, &*folded);
    // Entries written before the mark (version 1) read as misses.
    let mut old = found.encode();
    old[0] = 1;
    assert!(<Arc<[Finding]> as CacheValue>::decode(&old).is_none());
    assert!(<Arc<[Finding]> as CacheValue>::decode(b"\x01\xff").is_none());
    assert!(<Arc<[Finding]> as CacheValue>::decode(&[]).is_none());
}
