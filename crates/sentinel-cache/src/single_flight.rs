//! Single flight: concurrent identical misses make one upstream call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::Key;

/// Deduplicates concurrent work by key: the first caller leads and does the work; callers
/// arriving while it runs wait (at most `wait`) and receive a clone of its result. A
/// follower whose leader fails, is dropped, or takes longer than `wait` is told to do the
/// work itself, so a slow or failed leader never strands its followers.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use sentinel_cache::{Flight, Key, SingleFlight};
/// let flights = SingleFlight::<String>::new(Duration::from_secs(5));
/// let key = Key::builder("example").field(b"request").finish();
/// match flights.join(key).await {
///     Flight::Leader(guard) => guard.complete("fresh answer".to_owned()),
///     Flight::Follower(answer) => println!("shared: {answer}"),
///     Flight::Alone => { /* do the work without sharing */ }
/// }
/// # });
/// ```
pub struct SingleFlight<V: Clone + Send + Sync + 'static> {
    inflight: Arc<Mutex<HashMap<Key, watch::Receiver<Option<V>>>>>,
    wait: Duration,
    stats: Arc<FlightCounters>,
}

#[derive(Default)]
struct FlightCounters {
    leaders: AtomicU64,
    followers: AtomicU64,
    alone: AtomicU64,
}

/// Single-flight counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlightStats {
    /// Calls that led (did the work).
    pub leaders: u64,
    /// Calls served by a leader's result.
    pub followers: u64,
    /// Followers that did the work themselves (leader failed, dropped or too slow).
    pub alone: u64,
}

/// A caller's part in a flight.
pub enum Flight<V: Clone + Send + Sync + 'static> {
    /// Do the work, then [`LeaderGuard::complete`] with the result to share it (or drop
    /// the guard to release the followers to do it themselves).
    Leader(LeaderGuard<V>),
    /// The leader's result.
    Follower(V),
    /// Do the work without sharing it.
    Alone,
}

impl<V: Clone + Send + Sync + 'static> std::fmt::Debug for Flight<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Flight::Leader(_) => "Leader",
            Flight::Follower(_) => "Follower",
            Flight::Alone => "Alone",
        })
    }
}

/// Held by the leader; shares its result with the followers.
pub struct LeaderGuard<V: Clone + Send + Sync + 'static> {
    key: Key,
    tx: Option<watch::Sender<Option<V>>>,
    inflight: Arc<Mutex<HashMap<Key, watch::Receiver<Option<V>>>>>,
}

impl<V: Clone + Send + Sync + 'static> std::fmt::Debug for SingleFlight<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingleFlight")
            .field("wait", &self.wait)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<V: Clone + Send + Sync + 'static> std::fmt::Debug for LeaderGuard<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderGuard")
            .field("key", &self.key)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is one map operation, so a poisoned map is consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<V: Clone + Send + Sync + 'static> LeaderGuard<V> {
    /// Shares `value` with the followers.
    pub fn complete(mut self, value: V) {
        lock(&self.inflight).remove(&self.key);
        if let Some(tx) = self.tx.take() {
            // No follower listening is fine.
            let _ = tx.send(Some(value));
        }
    }
}

impl<V: Clone + Send + Sync + 'static> Drop for LeaderGuard<V> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            // Dropped without a result: the followers see the channel close and go alone.
            lock(&self.inflight).remove(&self.key);
        }
    }
}

impl<V: Clone + Send + Sync + 'static> SingleFlight<V> {
    /// Followers wait at most `wait` for a leader.
    pub fn new(wait: Duration) -> SingleFlight<V> {
        SingleFlight {
            inflight: Arc::new(Mutex::new(HashMap::new())),
            wait,
            stats: Arc::new(FlightCounters::default()),
        }
    }

    /// Joins the flight for `key`.
    pub async fn join(&self, key: Key) -> Flight<V> {
        let mut rx = {
            let mut map = lock(&self.inflight);
            match map.get(&key) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    map.insert(key, rx);
                    self.stats.leaders.fetch_add(1, Ordering::Relaxed);
                    return Flight::Leader(LeaderGuard {
                        key,
                        tx: Some(tx),
                        inflight: Arc::clone(&self.inflight),
                    });
                }
            }
        };
        let waited = tokio::time::timeout(self.wait, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(v)) => {
                if let Some(v) = v.clone() {
                    self.stats.followers.fetch_add(1, Ordering::Relaxed);
                    return Flight::Follower(v);
                }
                self.stats.alone.fetch_add(1, Ordering::Relaxed);
                Flight::Alone
            }
            _ => {
                self.stats.alone.fetch_add(1, Ordering::Relaxed);
                Flight::Alone
            }
        }
    }

    /// The counters.
    pub fn stats(&self) -> FlightStats {
        FlightStats {
            leaders: self.stats.leaders.load(Ordering::Relaxed),
            followers: self.stats.followers.load(Ordering::Relaxed),
            alone: self.stats.alone.load(Ordering::Relaxed),
        }
    }
}
