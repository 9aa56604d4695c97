//! The `Transport` seam and its production implementation over a pooled hyper client.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::time::Instant;

use crate::balance::{EndpointState, Pool};
use crate::body::{decode, error_chain, gzip, ResponseBody};
use crate::counted::{Counted, Origins};
use crate::limit::{Priority, PriorityLimiter};
use crate::retry::{backoff, retry_after, RetryBudget};
use crate::{TransportConfig, TransportError, Upstream};

/// A boxed future, so [`Transport`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request for an upstream, relative to whichever endpoint serves it.
#[derive(Clone, Debug)]
pub struct OutboundRequest {
    /// The method.
    pub method: Method,
    /// Path and query appended to the endpoint's base (`/chat/completions`).
    pub path: String,
    /// Headers (the endpoint's own, such as its key, are added).
    pub headers: HeaderMap,
    /// The body, kept whole so a retry can send it again.
    pub body: Bytes,
    /// The priority in the concurrency limit.
    pub priority: Priority,
    /// The caller's own credential for the upstream (a gateway forwarding its client's
    /// key): sent in place of the endpoint's header of the same name. Set it with
    /// [`OutboundRequest::with_credential`], which marks the value sensitive so `Debug`
    /// never prints it.
    pub credential: Option<(HeaderName, HeaderValue)>,
}

impl OutboundRequest {
    /// A `POST` of JSON `body` to `path`.
    pub fn post_json(path: &str, body: impl Into<Bytes>) -> OutboundRequest {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        OutboundRequest {
            method: Method::POST,
            path: path.to_owned(),
            headers,
            body: body.into(),
            priority: Priority::Normal,
            credential: None,
        }
    }

    /// A `GET` of `path`.
    pub fn get(path: &str) -> OutboundRequest {
        OutboundRequest {
            method: Method::GET,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            priority: Priority::Normal,
            credential: None,
        }
    }

    /// Sends `value` in header `name` in place of the endpoint's own header of that name
    /// (its key), marked sensitive.
    #[must_use]
    pub fn with_credential(mut self, name: HeaderName, mut value: HeaderValue) -> OutboundRequest {
        value.set_sensitive(true);
        self.credential = Some((name, value));
        self
    }

    /// Asks for a compressed answer (gzip, br, zstd), which [`UpstreamResponse::bytes`]
    /// decodes. For answers read whole; a stream is better left uncompressed.
    #[must_use]
    pub fn accept_compressed(mut self) -> OutboundRequest {
        self.headers.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br, zstd"),
        );
        self
    }
}

/// An upstream's answer: status and headers now, the body as it arrives.
#[derive(Debug)]
pub struct UpstreamResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The endpoint that answered.
    pub endpoint: String,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    body: ResponseBody,
    max_decoded: usize,
}

impl UpstreamResponse {
    /// The body, to stream.
    pub fn into_body(self) -> ResponseBody {
        self.body
    }

    /// The whole body, decoded per `Content-Encoding`.
    ///
    /// # Errors
    ///
    /// Body errors, [`TransportError::BodyTooLarge`] (raw or decoded), and
    /// [`TransportError::Decode`].
    pub async fn bytes(self) -> Result<Bytes, TransportError> {
        let encoding = self
            .headers
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let raw = self.body.collect().await?;
        decode(&encoding, &raw, self.max_decoded)
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    ///
    /// As [`UpstreamResponse::bytes`], and [`TransportError::InvalidJson`].
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, TransportError> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| TransportError::InvalidJson {
            message: format!(
                "{} at line {} column {}",
                classify(&e),
                e.line(),
                e.column()
            ),
        })
    }
}

fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Eof => "unexpected end",
    }
}

/// Sends requests to upstreams.
///
/// # Contract
///
/// `send` returns once response headers arrive; the body streams from
/// [`UpstreamResponse::into_body`]. No retry happens after the response is returned, so a
/// caller that has forwarded any byte never sees the request sent again.
pub trait Transport: Send + Sync {
    /// Sends `request`.
    fn send(
        &self,
        request: OutboundRequest,
    ) -> BoxFuture<'_, Result<UpstreamResponse, TransportError>>;
}

type HyperClient = Client<Counted<HttpsConnector<HttpConnector>>, Full<Bytes>>;

/// The production transport: a pooled hyper client over rustls, behind a priority
/// concurrency limit, a chain of load-balanced upstreams with a circuit breaker per
/// endpoint, and retries with backoff, `Retry-After` and a budget.
pub struct HttpTransport {
    client: HyperClient,
    chain: Vec<Pool>,
    config: TransportConfig,
    budget: RetryBudget,
    limiter: Option<PriorityLimiter>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("chain", &self.chain)
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

fn config_error(message: String) -> TransportError {
    TransportError::Config { message }
}

/// The rustls client configuration: webpki roots, extra CAs, optional client certificate.
fn tls_config(config: &TransportConfig) -> Result<rustls::ClientConfig, TransportError> {
    let tls = &config.tls;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &tls.extra_ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| config_error(format!("extra_ca_file {}: {e}", path.display())))?;
        for cert in certs {
            let cert =
                cert.map_err(|e| config_error(format!("extra_ca_file {}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| config_error(format!("extra_ca_file {}: {e}", path.display())))?;
        }
    }
    for der in &tls.test_roots {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| config_error(format!("test root: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    match &tls.client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| config_error(format!("client certificate {}: {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| config_error(format!("client key {}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| config_error(format!("client certificate: {e}")))
        }
    }
}

/// The endpoint's URI for `path`.
fn target(base: &Uri, path: &str) -> Result<Uri, TransportError> {
    let invalid = || TransportError::InvalidRequest {
        message: "path does not form a valid URL".to_owned(),
    };
    let base_path = base.path().trim_end_matches('/');
    // Only the path is built and parsed; scheme and authority are the base's, shared.
    let mut joined = String::with_capacity(base_path.len() + path.len() + 1);
    joined.push_str(base_path);
    if !path.starts_with('/') {
        joined.push('/');
    }
    joined.push_str(path);
    // A base's query goes after the path (Azure OpenAI's `?api-version=`).
    if let Some(query) = base.query() {
        joined.push(if path.contains('?') { '&' } else { '?' });
        joined.push_str(query);
    }
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(base.scheme().cloned().unwrap_or(http::uri::Scheme::HTTPS));
    parts.authority = Some(base.authority().cloned().ok_or_else(invalid)?);
    parts.path_and_query = Some(http::uri::PathAndQuery::try_from(joined).map_err(|_| invalid())?);
    Uri::from_parts(parts).map_err(|_| invalid())
}

/// Turns a client error into the transport's kind.
fn classify_send_error(
    e: &hyper_util::client::legacy::Error,
    endpoint: &str,
    connect_timeout: Duration,
) -> TransportError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut timed_out = false;
    let mut too_large = false;
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            too_large |= h.is_parse_too_large();
            if h.is_parse() || h.is_parse_too_large() {
                return TransportError::Protocol {
                    endpoint: endpoint.to_owned(),
                    message: error_chain(e),
                };
            }
        }
        source = s.source();
    }
    if e.is_connect() {
        if timed_out {
            return TransportError::ConnectTimeout {
                endpoint: endpoint.to_owned(),
                after: connect_timeout,
            };
        }
        return TransportError::Connect {
            endpoint: endpoint.to_owned(),
            message: error_chain(e),
        };
    }
    if too_large {
        return TransportError::Protocol {
            endpoint: endpoint.to_owned(),
            message: "headers too large".to_owned(),
        };
    }
    TransportError::Body {
        message: error_chain(e),
    }
}

impl HttpTransport {
    /// A transport to `chain`: the first upstream serves while any of its endpoints is
    /// available, then the next.
    ///
    /// # Errors
    ///
    /// An empty chain or upstream, or a TLS file that cannot be read. Call within a Tokio
    /// runtime.
    pub fn new(
        config: TransportConfig,
        chain: Vec<Upstream>,
    ) -> Result<HttpTransport, TransportError> {
        if chain.is_empty() || chain.iter().any(|u| u.endpoints.is_empty()) {
            return Err(config_error(
                "every upstream needs at least one endpoint".to_owned(),
            ));
        }
        let tls = tls_config(&config)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.timeouts.connect));
        http.set_keepalive(config.pool.tcp_keepalive);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_max_idle_per_host(config.pool.max_idle_per_host)
            .pool_idle_timeout(config.pool.idle_timeout)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .http1_max_buf_size(config.limits.max_header_bytes.max(8192))
            .http2_max_header_list_size(
                u32::try_from(config.limits.max_header_bytes).unwrap_or(u32::MAX),
            )
            .http2_only(config.pool.http2_prior_knowledge);
        if let Some(interval) = config.pool.http2_keepalive {
            builder
                .http2_keep_alive_interval(interval)
                .http2_keep_alive_while_idle(true);
        }
        let origins = Origins::new(&chain);
        let pools = chain
            .iter()
            .map(|u| Pool::counted(u, &config.breaker, &origins))
            .collect();
        let client = builder.build(Counted::new(https, origins));
        Ok(HttpTransport {
            client,
            chain: pools,
            budget: RetryBudget::new(
                config.retry.budget_ratio,
                config.retry.budget_min_per_second,
            ),
            limiter: config.concurrency.map(PriorityLimiter::new),
            config,
        })
    }

    /// The upstream pools, in fallback order (for health pages and tests).
    pub fn pools(&self) -> &[Pool] {
        &self.chain
    }

    /// The concurrency limiter, if one is configured.
    pub fn limiter(&self) -> Option<&PriorityLimiter> {
        self.limiter.as_ref()
    }

    fn build(
        &self,
        req: &OutboundRequest,
        state: &EndpointState,
    ) -> Result<Request<Full<Bytes>>, TransportError> {
        let endpoint = &state.endpoint;
        let uri = target(&endpoint.base, &req.path)?;
        let mut builder = Request::builder().method(req.method.clone()).uri(uri);
        let mut body = req.body.clone();
        let mut headers = req.headers.clone();
        // HTTP/2 carries the authority in `:authority`; a matching `Host` is allowed
        // there, but only HTTP/1.1 needs it, so prior-knowledge HTTP/2 goes without.
        if !self.config.pool.http2_prior_knowledge {
            if let Some(host) = &state.host {
                headers
                    .entry(http::header::HOST)
                    .or_insert_with(|| host.clone());
            }
        }
        for (k, v) in &endpoint.default_headers {
            headers.entry(k).or_insert_with(|| v.clone());
        }
        for (k, v) in &endpoint.headers {
            headers.insert(k.clone(), v.clone());
        }
        if let Some((k, v)) = &req.credential {
            headers.insert(k.clone(), v.clone());
        }
        if self.config.compress_requests
            && body.len() >= 1024
            && !headers.contains_key(CONTENT_ENCODING)
        {
            if let Some(gz) = gzip(&body) {
                body = gz;
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                headers.remove(CONTENT_LENGTH);
            }
        }
        if let Some(h) = builder.headers_mut() {
            *h = headers;
        }
        builder
            .body(Full::new(body))
            .map_err(|e| TransportError::InvalidRequest {
                message: e.to_string(),
            })
    }

    async fn send_inner(&self, req: OutboundRequest) -> Result<UpstreamResponse, TransportError> {
        use sentinel_metrics::names::{label, UPSTREAM_RETRIES_TOTAL};
        let permit = match &self.limiter {
            Some(l) => Some(l.acquire(req.priority).await?),
            None => None,
        };
        let timeouts = self.config.timeouts;
        let retry = &self.config.retry;
        let begun = Instant::now();
        let deadline = begun + timeouts.total;
        self.budget.deposit();
        // Endpoints tried so far, per upstream; filled only when a request is retried, so
        // the usual single attempt allocates nothing for it.
        let mut tried: Vec<Vec<usize>> = Vec::new();
        let mut attempt: u32 = 0;
        let mut last_error: Option<TransportError> = None;
        loop {
            attempt += 1;
            // The first upstream with an available endpoint, preferring endpoints not yet
            // tried for this request.
            let picked = self.chain.iter().enumerate().find_map(|(p, pool)| {
                let i = pool.pick(tried.get(p).map_or(&[], Vec::as_slice))?;
                let admission = pool.endpoints()[i].breaker.try_acquire()?;
                Some((p, i, admission))
            });
            let Some((p, i, admission)) = picked else {
                return Err(last_error.unwrap_or(TransportError::CircuitOpen));
            };
            let pool = &self.chain[p];
            let state = Arc::clone(&pool.endpoints()[i]);
            let name = state.endpoint.name.clone();
            let remember = |tried: &mut Vec<Vec<usize>>| {
                if tried.len() <= p {
                    tried.resize_with(p + 1, Vec::new);
                }
                tried[p].push(i);
            };
            let request = self.build(&req, &state)?;
            let inflight = pool.start(i);
            // The first attempt starts when the exchange did (one clock read fewer).
            let started = if attempt == 1 { begun } else { Instant::now() };
            let wait = timeouts
                .headers
                .min(deadline.saturating_duration_since(started));
            let can_retry = |this: &HttpTransport| {
                attempt <= retry.max_retries && Instant::now() < deadline && this.budget.withdraw()
            };
            match tokio::time::timeout(wait, self.client.request(request)).await {
                Err(_) => {
                    state.breaker.record(admission, false);
                    return Err(if Instant::now() >= deadline {
                        TransportError::TotalTimeout {
                            after: timeouts.total,
                        }
                    } else {
                        TransportError::HeadersTimeout {
                            endpoint: name,
                            after: timeouts.headers,
                        }
                    });
                }
                Ok(Err(e)) => {
                    state.breaker.record(admission, false);
                    let err = classify_send_error(&e, &name, timeouts.connect);
                    drop(inflight);
                    if err.is_retryable() && can_retry(self) {
                        metrics::counter!(UPSTREAM_RETRIES_TOTAL, label::UPSTREAM => name, label::REASON => "connect")
                            .increment(1);
                        let pause = backoff(retry, attempt)
                            .min(deadline.saturating_duration_since(Instant::now()));
                        tokio::time::sleep(pause).await;
                        last_error = Some(err);
                        remember(&mut tried);
                        continue;
                    }
                    return Err(err);
                }
                Ok(Ok(response)) => {
                    state.observe(started.elapsed());
                    let status = response.status();
                    state
                        .breaker
                        .record(admission, !state.breaker.is_failure_status(status.as_u16()));
                    let (parts, incoming) = response.into_parts();
                    if retry.statuses.contains(&status.as_u16()) {
                        let asked = retry_after(&parts.headers, SystemTime::now());
                        let honoured = asked.is_none_or(|d| d <= retry.max_retry_after);
                        let pause = asked.unwrap_or_else(|| backoff(retry, attempt));
                        let fits = Instant::now() + pause < deadline;
                        if honoured && fits && can_retry(self) {
                            metrics::counter!(UPSTREAM_RETRIES_TOTAL, label::UPSTREAM => name, label::REASON => "status")
                                .increment(1);
                            // Read a little of the failed body so the connection can be
                            // reused, then let it go.
                            let mut body = ResponseBody::new(
                                incoming,
                                Duration::from_millis(200),
                                deadline,
                                timeouts.total,
                                64 << 10,
                            );
                            while let Some(Ok(_)) = body.chunk().await {}
                            drop(inflight);
                            tokio::time::sleep(pause).await;
                            remember(&mut tried);
                            continue;
                        }
                    }
                    let body = ResponseBody::new(
                        incoming,
                        timeouts.idle,
                        deadline,
                        timeouts.total,
                        self.config.limits.max_body_bytes,
                    )
                    .hold(permit, inflight);
                    return Ok(UpstreamResponse {
                        status,
                        headers: parts.headers,
                        endpoint: name,
                        attempts: attempt,
                        body,
                        max_decoded: self.config.limits.max_decoded_bytes,
                    });
                }
            }
        }
    }
}

impl Transport for HttpTransport {
    fn send(
        &self,
        request: OutboundRequest,
    ) -> BoxFuture<'_, Result<UpstreamResponse, TransportError>> {
        Box::pin(self.send_inner(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(base: &str, path: &str) -> String {
        target(&base.parse().expect("base"), path)
            .expect("target")
            .to_string()
    }

    #[test]
    fn a_path_joins_the_base_path_with_one_slash() {
        assert_eq!(
            joined("http://127.0.0.1:8000/v1", "/chat/completions"),
            "http://127.0.0.1:8000/v1/chat/completions"
        );
        assert_eq!(
            joined("https://api.example.com/v1/", "chat/completions?x=1"),
            "https://api.example.com/v1/chat/completions?x=1"
        );
        assert_eq!(
            joined("http://localhost:11434", "/v1/models"),
            "http://localhost:11434/v1/models"
        );
        // A base's query (Azure OpenAI's api-version) follows the path.
        assert_eq!(
            joined(
                "https://r.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21",
                "/chat/completions"
            ),
            "https://r.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            joined("https://r.example/v1?api-version=1", "/models?limit=2"),
            "https://r.example/v1/models?limit=2&api-version=1"
        );
    }

    #[test]
    fn a_path_that_is_no_url_path_is_refused() {
        let base: Uri = "http://127.0.0.1:8000/v1".parse().expect("base");
        assert!(matches!(
            target(&base, "/chat completions"),
            Err(TransportError::InvalidRequest { .. })
        ));
    }
}
