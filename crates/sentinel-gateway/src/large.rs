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
//! moves. A few large requests run at once (`[server] large_workers`, by default the
//! machine's cores less one, at least one); more wait their turn, on the serving thread,
//! without holding it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;

use serde::Serialize;
use tokio::sync::Semaphore;

/// A request body at least a 256th of `large_body_bytes` that comes compressed takes
/// the lane too: it may decode to that much (JSON compresses tenfold and more, a crafted
/// body a thousandfold), and decoding is CPU work of its own.
pub(crate) const COMPRESSED_SHARE: usize = 256;

/// The lane: its turns and its counts.
pub(crate) struct LargeLane {
    turns: Arc<Semaphore>,
    size: usize,
    waiting: AtomicUsize,
    total: AtomicU64,
}

/// What the stats page shows of the lane.
#[derive(Debug, Serialize)]
pub(crate) struct LaneStats {
    /// Large requests being worked on now.
    running: usize,
    /// Large requests waiting for a turn.
    waiting: usize,
    /// Large requests since start.
    total: u64,
    /// How many run at once.
    turns: usize,
}

impl LargeLane {
    /// A lane of `turns` requests at once (at least one).
    pub(crate) fn new(turns: usize) -> LargeLane {
        let size = turns.max(1);
        LargeLane {
            turns: Arc::new(Semaphore::new(size)),
            size,
            waiting: AtomicUsize::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// The cores less one, at least one: the serving threads keep a core where there
    /// are two or more.
    pub(crate) fn default_turns() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
    }

    /// Runs `work` off the serving threads once a turn is free; `None` when it panicked.
    /// A caller that goes away (its connection closed, the shutdown's grace over) stops
    /// it at its next wait: only a stretch of CPU work already begun runs to its end.
    ///
    /// # Panics
    ///
    /// Called outside a tokio runtime.
    pub(crate) async fn run<T, F>(&self, work: F) -> Option<T>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let turn = Arc::clone(&self.turns).acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        // Never closed.
        let turn = turn.ok()?;
        self.total.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(sentinel_metrics::names::LARGE_REQUESTS_TOTAL).increment(1);
        let runtime = tokio::runtime::Handle::current();
        // Dropped with this future: the caller went away.
        let (_present, gone) = tokio::sync::oneshot::channel::<()>();
        let worked = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            runtime.block_on(async move {
                tokio::select! {
                    biased;
                    out = work => Some(out),
                    _ = gone => None,
                }
            })
        });
        worked.await.ok().flatten()
    }

    /// Polls `work` here until it finishes or `moves` says it has become large (its
    /// answer came whole and large: [`sentinel_client::LargeAnswer`]), then goes on with
    /// it in the lane as [`LargeLane::run`] does; `None` when it panicked there.
    pub(crate) async fn run_from<T, F>(
        &self,
        mut work: Pin<Box<F>>,
        moves: impl Fn() -> bool,
    ) -> Option<T>
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
            Some(out) => Some(out),
            None => self.run(work).await,
        }
    }

    /// The lane's counts now.
    pub(crate) fn stats(&self) -> LaneStats {
        LaneStats {
            running: self.size - self.turns.available_permits().min(self.size),
            waiting: self.waiting.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            turns: self.size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            .run(async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                let mut s = tokio::net::TcpStream::connect(addr).await.expect("test");
                let mut buf = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut s, &mut buf)
                    .await
                    .expect("test");
                (std::thread::current().id(), buf)
            })
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
                .run_from(work, || flag.load(Ordering::Acquire))
                .await
                .expect("done");
            assert_eq!(before, serving);
            assert_eq!(after == serving, !becomes_large);
        }
        assert_eq!(lane.stats().total, 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panic_is_none_and_gives_the_turn_back() {
        let lane = LargeLane::new(1);
        assert_eq!(lane.run(async { panic!("in the lane") }).await, None::<()>);
        assert_eq!(lane.run(async { 7 }).await, Some(7));
        assert_eq!(lane.stats().running, 0);
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
                lane.run(async move {
                    let _guard = OnDrop(Some(dropped));
                    let _ = reached.send(());
                    // Would wait for ever.
                    std::future::pending::<()>().await;
                })
                .await
            })
        };
        reached_rx.await.expect("test");
        caller.abort();
        // The work's future was dropped, so its turn comes back.
        dropped_rx.await.expect("test");
        assert_eq!(lane.run(async { 1 }).await, Some(1));
    }
}
