//! The lane for large requests (`[server] large_body_bytes`, and files read back): their
//! CPU work (decoding, parsing, scanning, deciding, writing the body again, the answer's
//! decision) runs on a thread of tokio's blocking pool rather than on a thread that serves
//! requests, so that one 30 MB prompt does not hold up every small request behind it for
//! the hundred milliseconds its scan takes.
//!
//! The work is the same future the serving thread would have run, driven there by
//! [`Handle::block_on`](tokio::runtime::Handle::block_on): sockets and timers stay with the
//! runtime (its threads drive them; with one thread, the serving thread), tasks it spawns
//! (an upstream connection) are the runtime's, and only the polling, where the CPU goes,
//! moves. Each request in the lane has a blocking thread of its own, parked while it
//! waits (for the upstream, which may take a model's minute); a *turn* is held only
//! while the work is polled, so that a few large requests use the CPU at once
//! (`[server] large_workers`, by default the machine's cores less one, at least one) while
//! any number wait for their upstreams. At most [`MAX_JOBS`] requests are in the lane;
//! more wait for a place, on the serving thread, without holding it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A request body at least a 256th of `large_body_bytes` that comes compressed takes
/// the lane too: it may decode to that much (JSON compresses tenfold and more, a crafted
/// body a thousandfold), and decoding is CPU work of its own.
pub(crate) const COMPRESSED_SHARE: usize = 256;

/// The most requests in the lane at once, each holding a thread of tokio's blocking pool
/// (512 threads by default): half of it, so that the pool's other users (a reload, the
/// compiles of `/analyze`'s own recognizers) always find threads.
pub(crate) const MAX_JOBS: usize = 256;

/// The lane: its places, its turns and its counts.
pub(crate) struct LargeLane {
    places: Arc<Semaphore>,
    turns: Arc<Turns>,
    queued: AtomicUsize,
    total: AtomicU64,
}

/// Turns at the CPU, taken by a lane thread for each poll of its work and given back
/// after it: a blocking semaphore (only lane threads take them) that serves its waiters
/// first come, first served, so that a request's thread is never passed over by others
/// that keep coming back for a turn.
struct Turns {
    state: Mutex<TurnState>,
    freed: Condvar,
    size: usize,
}

/// The turns free, and the tickets: a waiting thread holds one, `served..next` are
/// those still waiting, and the oldest, `served`, is the next to take a turn.
struct TurnState {
    free: usize,
    served: u64,
    next: u64,
}

impl TurnState {
    fn waiting(&self) -> usize {
        usize::try_from(self.next - self.served).unwrap_or(usize::MAX)
    }
}

/// A turn taken, given back when dropped.
struct Turn<'t>(&'t Turns);

impl Turns {
    fn new(size: usize) -> Turns {
        Turns {
            state: Mutex::new(TurnState {
                free: size,
                served: 0,
                next: 0,
            }),
            freed: Condvar::new(),
            size,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TurnState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits, blocking the thread, for a free turn, after every thread that began to wait
    /// before it.
    fn take(&self) -> Turn<'_> {
        let mut state = self.state();
        if state.free > 0 && state.waiting() == 0 {
            state.free -= 1;
            return Turn(self);
        }
        let ticket = state.next;
        state.next += 1;
        while !(state.free > 0 && state.served == ticket) {
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.served += 1;
        state.free -= 1;
        // The next in line may find a turn free too.
        if state.free > 0 && state.waiting() > 0 {
            self.freed.notify_all();
        }
        Turn(self)
    }

    /// Turns taken now, and threads waiting for one.
    fn counts(&self) -> (usize, usize) {
        let state = self.state();
        (self.size - state.free, state.waiting())
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.free += 1;
        if state.waiting() > 0 {
            // Every waiter looks; only the first in line takes the turn.
            self.0.freed.notify_all();
        }
    }
}

/// Why work given to the lane did not finish there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LaneError {
    /// No place in the lane came free in time.
    Full,
    /// The work panicked (or its caller went away).
    Failed,
}

/// What the stats page shows of the lane (and the metrics, at each scrape).
#[derive(Debug, Serialize)]
pub(crate) struct LaneStats {
    /// Large requests in the lane now: being worked on, waiting for a turn or for their
    /// upstream.
    in_lane: usize,
    /// Turns taken now: large requests using the CPU.
    running: usize,
    /// Large requests waiting for a turn, or for a place in the lane.
    waiting: usize,
    /// Large requests since start.
    total: u64,
    /// How many use the CPU at once (`[server] large_workers`).
    turns: usize,
}

impl LargeLane {
    /// A lane of `turns` at the CPU (at least one).
    pub(crate) fn new(turns: usize) -> LargeLane {
        let size = turns.max(1);
        LargeLane {
            places: Arc::new(Semaphore::new(MAX_JOBS)),
            turns: Arc::new(Turns::new(size)),
            queued: AtomicUsize::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// The cores less one, at least one: the serving threads keep a core where there
    /// are two or more.
    pub(crate) fn default_turns() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
    }

    /// Runs `work` off the serving threads once there is a place in the lane (waiting
    /// `wait` at most), polling it in turns. A caller that goes away (its connection
    /// closed, the shutdown's grace over) stops it at its next wait: only a stretch of CPU
    /// work already begun runs to its end.
    ///
    /// # Errors
    ///
    /// No place came free within `wait` ([`LaneError::Full`]), or the work panicked.
    ///
    /// # Panics
    ///
    /// Called outside a tokio runtime.
    pub(crate) async fn run<T, F>(&self, work: Pin<Box<F>>, wait: Duration) -> Result<T, LaneError>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let place = self.place(wait).await.ok_or(LaneError::Full)?;
        self.work_in(place, work).await
    }

    /// A place in the lane, waiting `wait` at most.
    async fn place(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        self.queued.fetch_add(1, Ordering::Relaxed);
        let place = tokio::time::timeout(wait, Arc::clone(&self.places).acquire_owned()).await;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        // The semaphore is never closed.
        place.ok()?.ok()
    }

    /// Works on `work` in the lane, in `place`.
    async fn work_in<T, F>(
        &self,
        place: OwnedSemaphorePermit,
        mut work: Pin<Box<F>>,
    ) -> Result<T, LaneError>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.total.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(sentinel_metrics::names::LARGE_REQUESTS_TOTAL).increment(1);
        let runtime = tokio::runtime::Handle::current();
        let turns = Arc::clone(&self.turns);
        // Dropped with this future: the caller went away.
        let (_present, gone) = tokio::sync::oneshot::channel::<()>();
        let worked = tokio::task::spawn_blocking(move || {
            let _place = place;
            runtime.block_on(async move {
                // The CPU is taken in turns, poll by poll; a wait holds no turn.
                let in_turns = std::future::poll_fn(|cx| {
                    let _turn = turns.take();
                    work.as_mut().poll(cx)
                });
                tokio::select! {
                    biased;
                    out = in_turns => Some(out),
                    _ = gone => None,
                }
            })
        });
        worked.await.ok().flatten().ok_or(LaneError::Failed)
    }

    /// Polls `work` here until it finishes or `moves` says it has become large (its
    /// answer came whole and large: [`sentinel_client::LargeAnswer`]), then goes on with
    /// it in the lane as [`LargeLane::run`] does, waiting `wait` at most for a place.
    ///
    /// # Errors
    ///
    /// The work panicked in the lane. With no place free within `wait` it goes on here.
    pub(crate) async fn run_from<T, F>(
        &self,
        mut work: Pin<Box<F>>,
        moves: impl Fn() -> bool,
        wait: Duration,
    ) -> Result<T, LaneError>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let here = std::future::poll_fn(|cx| match work.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending if moves() => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        })
        .await;
        match here {
            Some(out) => Ok(out),
            // The upstream has answered: with no place free in time, the work goes on
            // here rather than lose the answer.
            None => match self.place(wait).await {
                Some(place) => self.work_in(place, work).await,
                None => Ok(work.await),
            },
        }
    }

    /// Sets the lane's gauges (`deepsentinel_large_requests{state}`) from its counts now.
    pub(crate) fn publish(&self) {
        use sentinel_metrics::names::{label, LARGE_REQUESTS};
        let now = self.stats();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^53
        for (state, n) in [
            ("in_lane", now.in_lane),
            ("running", now.running),
            ("waiting", now.waiting),
        ] {
            metrics::gauge!(LARGE_REQUESTS, label::STATE => state).set(n as f64);
        }
    }

    /// The lane's counts now.
    pub(crate) fn stats(&self) -> LaneStats {
        let (running, waiting) = self.turns.counts();
        LaneStats {
            in_lane: MAX_JOBS - self.places.available_permits().min(MAX_JOBS),
            running,
            waiting: self.queued.load(Ordering::Relaxed) + waiting,
            total: self.total.load(Ordering::Relaxed),
            turns: self.turns.size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Long enough never to run out in these tests.
    const WAIT: Duration = Duration::from_secs(60);

    #[tokio::test(flavor = "current_thread")]
    async fn work_runs_off_the_serving_thread_with_its_sockets_and_timers() {
        let lane = LargeLane::new(1);
        let serving = std::thread::current().id();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("test");
        let addr = listener.local_addr().expect("test");
        // The peer runs on the serving thread, the work on the lane's.
        let peer = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("test");
            tokio::io::AsyncWriteExt::write_all(&mut s, b"pong")
                .await
                .expect("test");
        });
        let (thread, read) = lane
            .run(
                Box::pin(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    let mut s = tokio::net::TcpStream::connect(addr).await.expect("test");
                    let mut buf = Vec::new();
                    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf)
                        .await
                        .expect("test");
                    (std::thread::current().id(), buf)
                }),
                WAIT,
            )
            .await
            .expect("test");
        peer.await.expect("test");
        assert_ne!(thread, serving);
        assert_eq!(read, b"pong");
        let stats = lane.stats();
        assert_eq!((stats.total, stats.running, stats.waiting), (1, 0, 0));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn work_that_becomes_large_goes_on_in_the_lane() {
        let lane = LargeLane::new(1);
        let serving = std::thread::current().id();
        for becomes_large in [false, true] {
            let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let raised = Arc::clone(&flag);
            let work = Box::pin(async move {
                let before = std::thread::current().id();
                if becomes_large {
                    raised.store(true, Ordering::Release);
                }
                tokio::task::yield_now().await;
                (before, std::thread::current().id())
            });
            let (before, after) = lane
                .run_from(work, || flag.load(Ordering::Acquire), WAIT)
                .await
                .expect("done");
            assert_eq!(before, serving);
            assert_eq!(after == serving, !becomes_large);
        }
        assert_eq!(lane.stats().total, 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_waiting_for_its_upstream_holds_no_turn() {
        let lane = Arc::new(LargeLane::new(1));
        let (answer, answered) = tokio::sync::oneshot::channel::<u32>();
        let waiting = {
            let lane = Arc::clone(&lane);
            tokio::spawn(async move {
                lane.run(Box::pin(async move { answered.await.ok() }), WAIT)
                    .await
            })
        };
        // The first is in the lane, waiting; a second one runs through its one turn.
        while lane.stats().in_lane == 0 {
            tokio::task::yield_now().await;
        }
        let second = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            lane.run(Box::pin(async { 2 }), WAIT),
        );
        assert_eq!(
            second.await,
            Ok(Ok(2)),
            "the second waited for the first's upstream"
        );
        let stats = lane.stats();
        assert_eq!((stats.in_lane, stats.running), (1, 0));
        answer.send(1).expect("waiting");
        assert_eq!(waiting.await.expect("joined"), Ok(Some(1)));
        assert_eq!(lane.stats().in_lane, 0);
    }

    #[test]
    fn turns_go_to_their_waiters_first_come_first_served() {
        let turns = Arc::new(Turns::new(1));
        let held = turns.take();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for k in 0..4 {
            let (mine, order) = (Arc::clone(&turns), Arc::clone(&order));
            waiters.push(std::thread::spawn(move || {
                let _turn = mine.take();
                order.lock().expect("test").push(k);
            }));
            // Each in line before the next comes.
            while turns.counts().1 < k + 1 {
                std::thread::yield_now();
            }
        }
        assert_eq!(turns.counts(), (1, 4));
        drop(held);
        for w in waiters {
            w.join().expect("test");
        }
        assert_eq!(*order.lock().expect("test"), vec![0, 1, 2, 3]);
        assert_eq!(turns.counts(), (0, 0));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn with_no_place_free_in_time_the_lane_is_full() {
        let lane = LargeLane::new(1);
        let held: Vec<_> = (0..MAX_JOBS)
            .map(|_| lane.places.clone().try_acquire_owned().expect("a place"))
            .collect();
        let wait = Duration::from_millis(50);
        assert_eq!(
            lane.run(Box::pin(async { 1 }), wait).await,
            Err(LaneError::Full)
        );
        // Work that became large goes on where it was instead.
        let work = Box::pin(async {
            tokio::task::yield_now().await;
            2
        });
        assert_eq!(lane.run_from(work, || true, wait).await, Ok(2));
        drop(held);
        assert_eq!(lane.run(Box::pin(async { 3 }), wait).await, Ok(3));
        assert_eq!(lane.stats().total, 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panic_is_an_error_and_gives_the_turn_back() {
        let lane = LargeLane::new(1);
        let panicked = lane
            .run(Box::pin(async { panic!("in the lane") }), WAIT)
            .await;
        assert_eq!(panicked, Err::<(), _>(LaneError::Failed));
        assert_eq!(lane.run(Box::pin(async { 7 }), WAIT).await, Ok(7));
        let stats = lane.stats();
        assert_eq!((stats.running, stats.in_lane), (0, 0));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_caller_gone_stops_the_work_at_its_next_wait() {
        struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                if let Some(tx) = self.0.take() {
                    let _ = tx.send(());
                }
            }
        }
        let lane = Arc::new(LargeLane::new(1));
        let (reached, reached_rx) = tokio::sync::oneshot::channel();
        let (dropped, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        let caller = {
            let lane = Arc::clone(&lane);
            tokio::spawn(async move {
                lane.run(
                    Box::pin(async move {
                        let _guard = OnDrop(Some(dropped));
                        let _ = reached.send(());
                        // Would wait for ever.
                        std::future::pending::<()>().await;
                    }),
                    WAIT,
                )
                .await
            })
        };
        reached_rx.await.expect("test");
        caller.abort();
        // The work's future was dropped, so its turn comes back.
        dropped_rx.await.expect("test");
        assert_eq!(lane.run(Box::pin(async { 1 }), WAIT).await, Ok(1));
    }
}
