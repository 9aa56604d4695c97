//! Loopback test servers: HTTP/1.1 and h2c (auto-detected), or TLS with ALPN, counting
//! accepted connections and requests. Each stops when dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

pub(crate) type Body = BoxBody<Bytes, std::io::Error>;
pub(crate) type Handler = Arc<
    dyn Fn(Request<Incoming>, usize) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>>
        + Send
        + Sync,
>;

pub(crate) fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed()
}

pub(crate) fn respond(status: u16, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = http::StatusCode::from_u16(status).expect("status");
    r
}

/// Builds a handler from an async closure.
pub(crate) fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request<Incoming>, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    Arc::new(move |req, n| Box::pin(f(req, n)))
}

pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) accepted: Arc<AtomicUsize>,
    pub(crate) requests: Arc<AtomicUsize>,
    /// HTTP versions seen, in order.
    pub(crate) versions: Arc<std::sync::Mutex<Vec<http::Version>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn https_url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub(crate) fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A plain-text server speaking HTTP/1.1 and h2c (prior knowledge).
pub(crate) async fn start(h: Handler) -> TestServer {
    start_inner(h, None).await
}

/// A TLS server for `localhost` with ALPN `alpn`; returns it and its certificate (DER).
pub(crate) async fn start_tls(h: Handler, alpn: &[&[u8]]) -> (TestServer, Vec<u8>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let der = cert.cert.der().to_vec();
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).expect("key");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![der.clone().into()], key)
    .expect("server config");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    (start_inner(h, Some(acceptor)).await, der)
}

/// A TLS server with a given configuration (client authentication, ALPN...).
pub(crate) async fn start_tls_with(h: Handler, config: rustls::ServerConfig) -> TestServer {
    start_inner(h, Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
}

async fn start_inner(h: Handler, tls: Option<tokio_rustls::TlsAcceptor>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let versions = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (a, r, v) = (accepted.clone(), requests.clone(), versions.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            a.fetch_add(1, Ordering::SeqCst);
            let (h, r, v, tls) = (h.clone(), r.clone(), v.clone(), tls.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let n = r.fetch_add(1, Ordering::SeqCst);
                    v.lock().expect("lock").push(req.version());
                    let h = h.clone();
                    async move { Ok::<_, std::convert::Infallible>(h(req, n).await) }
                });
                let builder = auto::Builder::new(TokioExecutor::new());
                match tls {
                    None => {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                }
            });
        }
    });
    TestServer {
        addr,
        accepted,
        requests,
        versions,
        task,
    }
}
