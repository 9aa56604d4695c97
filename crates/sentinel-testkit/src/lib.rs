//! Fixtures shared by DeepSentinel's tests and benchmarks (never a dependency of shipped
//! code): a loopback HTTP server that fake upstreams are built on, so each test suite
//! writes only what its upstream answers.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use bytes::Bytes;
//! let upstream = sentinel_testkit::spawn(|path: String, body: Bytes| async move {
//!     sentinel_testkit::json(200, format!("{{\"path\":\"{path}\",\"len\":{}}}", body.len()))
//! })
//! .await;
//! assert!(upstream.url().starts_with("http://127.0.0.1:"));
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{HeaderMap, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// What a fixture's handler answers with: any hyper body that can cross threads.
pub trait Answer:
    hyper::body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + 'static
{
}

impl<B> Answer for B
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
}

/// Serves `listener` (HTTP/1.1 with keep-alive, or HTTP/2 with prior knowledge; TCP_NODELAY
/// as a provider's front end would set it) until accepting fails or the task is dropped.
/// Each request's body is read whole, then `handler(path, body)` answers it.
///
/// # Errors
///
/// `accept` failed.
pub async fn serve<H, Fut, B>(listener: TcpListener, handler: H) -> std::io::Result<()>
where
    H: Fn(String, Bytes) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Answer,
{
    serve_with_headers(listener, move |path, _headers, body| handler(path, body)).await
}

/// As [`serve`], with the request's headers passed to `handler(path, headers, body)`
/// (for fixtures that check what a client sent, such as its credentials).
///
/// # Errors
///
/// `accept` failed.
pub async fn serve_with_headers<H, Fut, B>(listener: TcpListener, handler: H) -> std::io::Result<()>
where
    H: Fn(String, HeaderMap, Bytes) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Answer,
{
    serve_with_head(listener, move |head: hyper::http::request::Parts, body| {
        handler(head.uri.path().to_owned(), head.headers, body)
    })
    .await
}

/// As [`serve`], with the request's whole head (method, URI with its query, headers)
/// passed to `handler(head, body)`, for fixtures of routes told apart by method.
///
/// # Errors
///
/// `accept` failed.
pub async fn serve_with_head<H, Fut, B>(listener: TcpListener, handler: H) -> std::io::Result<()>
where
    H: Fn(hyper::http::request::Parts, Bytes) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Answer,
{
    let handler = Arc::new(handler);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let handler = Arc::clone(&handler);
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    Ok::<_, Infallible>(handler(parts, body).await)
                }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A server from [`spawn`]: stops when dropped.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds 127.0.0.1 on a free port and [`serve`]s it on the current runtime.
///
/// # Panics
///
/// When no loopback port can be bound (a fixture cannot run then).
pub async fn spawn<H, Fut, B>(handler: H) -> Server
where
    H: Fn(String, Bytes) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Answer,
{
    spawn_with_headers(move |path, _headers, body| handler(path, body)).await
}

/// As [`spawn`], serving with [`serve_with_headers`].
///
/// # Panics
///
/// When no loopback port can be bound.
pub async fn spawn_with_headers<H, Fut, B>(handler: H) -> Server
where
    H: Fn(String, HeaderMap, Bytes) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Answer,
{
    spawn_with_head(move |head: hyper::http::request::Parts, body| {
        handler(head.uri.path().to_owned(), head.headers, body)
    })
    .await
}

/// As [`spawn`], serving with [`serve_with_head`].
///
/// # Panics
///
/// When no loopback port can be bound.
pub async fn spawn_with_head<H, Fut, B>(handler: H) -> Server
where
    H: Fn(hyper::http::request::Parts, Bytes) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Answer,
{
    #[allow(clippy::expect_used)] // reason: a fixture without a port cannot run
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    #[allow(clippy::expect_used)] // reason: a bound listener has an address
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(serve_with_head(listener, handler));
    Server { addr, task }
}

/// A response with `status` and a JSON `body` (`Content-Type: application/json`).
pub fn json(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// A `redis-server` of its own on a free loopback port, without persistence, stopped on
/// drop (`cargo xtask ci` installs the package).
#[derive(Debug)]
pub struct RedisServer {
    child: std::process::Child,
    port: u16,
}

impl RedisServer {
    /// Starts one and waits (10 s at most) until it takes connections.
    ///
    /// # Panics
    ///
    /// When `redis-server` is not on `PATH` or does not start.
    pub fn start() -> RedisServer {
        use std::process::{Command, Stdio};
        use std::time::{Duration, Instant};
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server on PATH (cargo xtask ci installs it: apt-get install redis-server)",
            );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { child, port }
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it now (a test of what happens when Redis dies).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The records of an audit log directory (its `audit-NNNNNN.jsonl` files, in order), as
/// one text of JSON lines.
///
/// # Panics
///
/// When the directory or a file cannot be read (a test cannot go on then).
pub fn audit_log(dir: &std::path::Path) -> String {
    #[allow(clippy::expect_used)] // reason: a fixture that cannot read cannot check
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the audit directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            #[allow(clippy::expect_used)] // reason: as above
            std::fs::read_to_string(p).expect("an audit file")
        })
        .collect()
}
