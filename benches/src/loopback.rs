//! A loopback HTTP/1.1 server for the benchmarks and the upstream stub: each request's body
//! is read whole, then `answer(path, body)` gives the JSON response body. Keep-alive and
//! TCP_NODELAY, as a provider's front end would have.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves `listener` until the task is dropped or accepting fails.
///
/// # Errors
///
/// `accept` failed.
pub async fn serve<F>(listener: TcpListener, answer: F) -> std::io::Result<()>
where
    F: Fn(&str, &[u8]) -> Bytes + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let answer = Arc::clone(&answer);
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let answer = Arc::clone(&answer);
                async move {
                    let path = req.uri().path().to_owned();
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let mut r = hyper::Response::new(Full::new(answer(&path, &body)));
                    r.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, Infallible>(r)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Binds 127.0.0.1 on a free port and serves it on the current runtime.
///
/// # Panics
///
/// When no loopback port can be bound (a benchmark cannot run then).
pub async fn spawn<F>(answer: F) -> SocketAddr
where
    F: Fn(&str, &[u8]) -> Bytes + Send + Sync + 'static,
{
    #[allow(clippy::expect_used)] // reason: a benchmark without a port cannot run
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    #[allow(clippy::expect_used)] // reason: a bound listener has an address
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(listener, answer));
    addr
}
