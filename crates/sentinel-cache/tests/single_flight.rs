use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sentinel_cache::{Flight, Key, SingleFlight};

fn key() -> Key {
    Key::builder("t").field(b"same request").finish()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_misses_make_one_call() {
    let flights = Arc::new(SingleFlight::<String>::new(Duration::from_secs(5)));
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (flights, calls) = (flights.clone(), calls.clone());
        tasks.push(tokio::spawn(async move {
            match flights.join(key()).await {
                Flight::Leader(guard) => {
                    calls.fetch_add(1, Ordering::SeqCst);
                    // The upstream call: long enough for every caller to arrive.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    guard.complete("answer".to_owned());
                    "answer".to_owned()
                }
                Flight::Follower(v) => v,
                Flight::Alone => {
                    calls.fetch_add(1, Ordering::SeqCst);
                    "alone".to_owned()
                }
            }
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), "answer");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let s = flights.stats();
    assert_eq!((s.leaders, s.followers, s.alone), (1, 19, 0));
    // Once done, the next miss leads again.
    assert!(matches!(flights.join(key()).await, Flight::Leader(_)));
}

#[tokio::test]
async fn a_failed_or_slow_leader_releases_its_followers() {
    let flights = Arc::new(SingleFlight::<u32>::new(Duration::from_millis(100)));
    let leader = match flights.join(key()).await {
        Flight::Leader(g) => g,
        other => panic!("{other:?}"),
    };
    let f2 = flights.clone();
    let follower = tokio::spawn(async move { f2.join(key()).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(leader); // failed: no result to share
    assert!(matches!(follower.await.expect("task"), Flight::Alone));

    // A leader slower than the wait: the follower goes alone after the bound.
    let _slow = match flights.join(key()).await {
        Flight::Leader(g) => g,
        other => panic!("{other:?}"),
    };
    let started = std::time::Instant::now();
    assert!(matches!(flights.join(key()).await, Flight::Alone));
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(flights.stats().alone, 2);
}
