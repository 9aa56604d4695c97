//! Cache benchmarks: a hit and an insert on one thread, and gets and a get/insert mix with
//! two threads contending, for `MemoryCache` (quick_cache, striped counters) and, in the
//! same run, the baseline a team would write first: `Mutex<lru::LruCache>`. Also the cost
//! of the detection key for a 4 KB message.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use benches::texts;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use sentinel_cache::{Cache, CacheConfig, Key, MemoryCache};
use std::hint::black_box;

const ENTRIES: u64 = 10_000;

fn key(i: u64) -> Key {
    Key::builder("bench").field(&i.to_le_bytes()).finish()
}

/// The two caches behind one interface, so both run the same loops.
trait Subject: Sync {
    fn get(&self, k: &Key) -> Option<Bytes>;
    fn put(&self, k: Key, v: Bytes);
}

impl Subject for MemoryCache<Bytes> {
    fn get(&self, k: &Key) -> Option<Bytes> {
        Cache::get(self, k)
    }
    fn put(&self, k: Key, v: Bytes) {
        Cache::insert(self, k, v, None);
    }
}

struct MutexLru(Mutex<lru::LruCache<Key, Bytes>>);

impl Subject for MutexLru {
    fn get(&self, k: &Key) -> Option<Bytes> {
        self.0.lock().ok()?.get(k).cloned()
    }
    fn put(&self, k: Key, v: Bytes) {
        if let Ok(mut c) = self.0.lock() {
            c.put(k, v);
        }
    }
}

fn subjects() -> Vec<(&'static str, Arc<dyn Subject + Send>)> {
    let value = Bytes::from(vec![1u8; 512]);
    let memory = MemoryCache::<Bytes>::new(CacheConfig {
        max_bytes: 64 << 20,
        default_ttl: Duration::from_secs(600),
        estimated_entries: ENTRIES as usize,
    });
    let capacity = NonZeroUsize::new(ENTRIES as usize * 2).unwrap_or(NonZeroUsize::MIN);
    let lru = MutexLru(Mutex::new(lru::LruCache::new(capacity)));
    for i in 0..ENTRIES {
        memory.put(key(i), value.clone());
        lru.put(key(i), value.clone());
    }
    vec![
        ("memory_cache", Arc::new(memory)),
        ("mutex_lru", Arc::new(lru)),
    ]
}

/// Runs `per_thread(thread, iters)` on `threads` threads at once and returns the wall time.
fn contended(threads: u64, iters: u64, f: &(dyn Fn(u64, u64) + Sync)) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || f(t, iters));
        }
    });
    start.elapsed()
}

fn cache(c: &mut Criterion) {
    let keys: Vec<Key> = (0..ENTRIES).map(key).collect();
    let value = Bytes::from(vec![2u8; 512]);
    let mut g = c.benchmark_group("cache");
    for (name, subject) in subjects() {
        let mut i = 0usize;
        g.bench_function(format!("{name}/get_hit_1_thread"), |b| {
            b.iter(|| {
                i = (i + 7919) % keys.len();
                black_box(subject.get(&keys[i]))
            })
        });
        let mut n = ENTRIES;
        g.bench_function(format!("{name}/insert_1_thread"), |b| {
            b.iter(|| {
                n += 1;
                subject.put(key(n % (ENTRIES * 4)), value.clone())
            })
        });
        // Two threads: time per pair of operations (one on each thread), so throughput is
        // 2 / time.
        g.bench_function(format!("{name}/get_hit_2_threads"), |b| {
            b.iter_custom(|iters| {
                contended(2, iters, &|t, iters| {
                    let mut i = (t as usize) * 4999;
                    for _ in 0..iters {
                        i = (i + 7919) % keys.len();
                        black_box(subject.get(&keys[i]));
                    }
                })
            })
        });
        g.bench_function(format!("{name}/get_insert_80_20_2_threads"), |b| {
            b.iter_custom(|iters| {
                contended(2, iters, &|t, iters| {
                    let mut i = (t as usize) * 4999;
                    for n in 0..iters {
                        i = (i + 7919) % keys.len();
                        if n % 5 == 0 {
                            subject.put(keys[i], value.clone());
                        } else {
                            black_box(subject.get(&keys[i]));
                        }
                    }
                })
            })
        });
    }
    let fingerprint = [7u8; 16];
    let text = texts::prompt_clean();
    g.bench_function("detection_key_4kb_message", |b| {
        b.iter(|| Key::for_text(&fingerprint, black_box(&text)))
    });
    g.finish();
}

criterion_group!(benches, cache);
criterion_main!(benches);
