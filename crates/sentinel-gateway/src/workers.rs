//! Serving on several threads without work stealing: one current-thread runtime per
//! worker, all accepting from one listening socket.
//!
//! Tokio's multi-thread runtime lets idle workers steal tasks, which wakes threads and
//! moves a request's work between cores; on a busy small machine that cost more CPU per
//! request than the work itself (docs/performance.md). Here each worker runs the
//! connections it accepted, start to end, on its own thread, and the transport gives each
//! thread its own upstream connections; the pipeline, caches, audit log and metrics are
//! shared.

use std::future::Future;
use std::pin::Pin;

use tokio::runtime::Runtime;
use tokio::sync::watch;

/// Resolves when the workers are told to stop: give it to [`Gateway::serve`] as its
/// shutdown.
///
/// [`Gateway::serve`]: crate::Gateway::serve
pub type Stopping = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A serving thread's runtime: current-thread, with I/O and timers.
///
/// # Errors
///
/// The runtime cannot start.
pub fn worker_runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs `serve` on `workers` threads, each with its own current-thread runtime and its own
/// handle on `listener`: the calling thread is the first worker, on `first`; the others
/// are named `sentinel-worker`. Each call gets a [`Stopping`] that resolves once
/// `shutdown` completes (awaited on the first worker), or once any worker has returned an
/// error or a thread could not start; then every worker drains and returns. Returns when
/// all have, with the first error.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let first = sentinel_gateway::worker_runtime()?;
/// sentinel_gateway::serve_on_workers(2, &first, listener, std::future::pending(), |l, stop| async move {
///     tokio::select! {
///         _ = l.accept() => {}
///         () = stop => {}
///     }
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// `workers` is 0, the listener cannot be shared or registered, a thread or runtime
/// cannot start, or a worker's `serve` fails.
pub fn serve_on_workers<F, Fut, E>(
    workers: usize,
    first: &Runtime,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()>,
    serve: F,
) -> Result<(), E>
where
    F: Fn(tokio::net::TcpListener, Stopping) -> Fut + Sync,
    Fut: Future<Output = Result<(), E>>,
    E: From<std::io::Error> + Send,
{
    if workers == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "[server] workers must be at least 1",
        )
        .into());
    }
    listener.set_nonblocking(true)?;
    let mut others = Vec::with_capacity(workers - 1);
    for _ in 1..workers {
        others.push(listener.try_clone()?);
    }
    let (stop, stopped) = watch::channel(false);
    let stopping = || -> Stopping {
        let mut stopped = stopped.clone();
        // A dropped sender stops the workers too.
        Box::pin(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
    };
    let (stop, stopping, serve) = (&stop, &stopping, &serve);
    // One worker's life on its runtime: register its listener, serve until told to stop.
    // One worker ending, for whatever reason, ends them all.
    let worker = |listener: std::net::TcpListener| async move {
        let result = async {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            serve(listener, stopping()).await
        }
        .await;
        stop.send_replace(true);
        result
    };
    std::thread::scope(|s| {
        let mut threads = Vec::with_capacity(others.len());
        let mut result = Ok(());
        for listener in others {
            let started = std::thread::Builder::new()
                .name("sentinel-worker".to_owned())
                .spawn_scoped(s, move || worker_runtime()?.block_on(worker(listener)));
            match started {
                Ok(t) => threads.push(t),
                Err(e) => {
                    stop.send_replace(true);
                    result = Err(E::from(e));
                    break;
                }
            }
        }
        if result.is_ok() {
            // The first worker also waits for `shutdown`, and stops everyone when it comes.
            let signal = async {
                tokio::select! {
                    () = shutdown => { stop.send_replace(true); }
                    () = stopping() => {}
                }
            };
            result = first.block_on(async { tokio::join!(worker(listener), signal).0 });
        }
        for t in threads {
            let theirs = t.join().unwrap_or_else(|_| {
                Err(E::from(std::io::Error::other("a worker thread panicked")))
            });
            if result.is_ok() {
                result = theirs;
            }
        }
        result
    })
}
