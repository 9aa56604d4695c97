//! Transport configuration.

use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Uri};

/// Timeouts, each reported as its own error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect (and TLS handshake).
    pub connect: Duration,
    /// From sending the request to the response headers (a model thinking before its first
    /// token counts here).
    pub headers: Duration,
    /// The longest silence between two pieces of a streamed body.
    pub idle: Duration,
    /// The whole exchange, body included.
    pub total: Duration,
}

impl Default for Timeouts {
    /// 5 s, 120 s, 60 s, 600 s.
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            headers: Duration::from_secs(120),
            idle: Duration::from_secs(60),
            total: Duration::from_secs(600),
        }
    }
}

/// The connection pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Idle connections kept per host. Below the requests in flight at steady load, each
    /// answer beyond it closes its connection and a later request opens a new one.
    pub max_idle_per_host: usize,
    /// How long an idle connection is kept.
    pub idle_timeout: Duration,
    /// TCP keep-alive probes interval (`None`: off).
    pub tcp_keepalive: Option<Duration>,
    /// HTTP/2 PING interval on idle connections (`None`: off).
    pub http2_keepalive: Option<Duration>,
    /// Speak HTTP/2 without negotiation: h2c to plain-text `http://` upstreams (vLLM and
    /// others can serve it), and HTTP/2 only over TLS.
    pub http2_prior_knowledge: bool,
}

impl Default for PoolConfig {
    /// 256 idle per host (the gateway's default upstream concurrency) for 90 s, TCP
    /// keep-alive 60 s, HTTP/2 PING 30 s, negotiated
    /// protocol (ALPN, HTTP/2 preferred, HTTP/1.1 fallback).
    fn default() -> PoolConfig {
        PoolConfig {
            max_idle_per_host: 256,
            idle_timeout: Duration::from_secs(90),
            tcp_keepalive: Some(Duration::from_secs(60)),
            http2_keepalive: Some(Duration::from_secs(30)),
            http2_prior_knowledge: false,
        }
    }
}

/// Retries of failed attempts.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryConfig {
    /// Attempts after the first (0: no retries).
    pub max_retries: u32,
    /// Statuses that are retried.
    pub statuses: Vec<u16>,
    /// The first backoff's ceiling; each retry doubles it (full jitter: the wait is
    /// uniform in `0..ceiling`).
    pub base_backoff: Duration,
    /// The largest backoff.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries.
    pub max_retry_after: Duration,
    /// Retries allowed per first attempt over time (0.2: retries add at most 20% load).
    pub budget_ratio: f64,
    /// Retries always allowed per second, whatever the ratio.
    pub budget_min_per_second: f64,
}

impl Default for RetryConfig {
    /// 2 retries of 429, 500, 502, 503, 504; 100 ms doubling to 2 s; Retry-After up to
    /// 30 s; budget 20% plus 5 per second.
    fn default() -> RetryConfig {
        RetryConfig {
            max_retries: 2,
            statuses: vec![429, 500, 502, 503, 504],
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(30),
            budget_ratio: 0.2,
            budget_min_per_second: 5.0,
        }
    }
}

/// The circuit breaker of each endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerConfig {
    /// The sliding window outcomes are counted over.
    pub window: Duration,
    /// Outcomes needed in the window before the failure rate can open the circuit.
    pub min_requests: u32,
    /// The failure rate (0..=1) that opens it.
    pub failure_rate: f64,
    /// How long it stays open before half-open probes.
    pub open_for: Duration,
    /// Probes allowed at once while half-open; that many successes close it.
    pub half_open_probes: u32,
    /// Statuses that count as failures (besides connection errors and timeouts).
    pub failure_statuses: Vec<u16>,
}

impl Default for BreakerConfig {
    /// 30 s window, 20 requests, 50%, open 15 s, 3 probes; 429 and 5xx gateway errors
    /// count as failures.
    fn default() -> BreakerConfig {
        BreakerConfig {
            window: Duration::from_secs(30),
            min_requests: 20,
            failure_rate: 0.5,
            open_for: Duration::from_secs(15),
            half_open_probes: 3,
            failure_statuses: vec![429, 500, 502, 503, 504],
        }
    }
}

/// TLS to upstreams (rustls; no OpenSSL).
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    /// A PEM file of extra CA certificates, trusted besides the webpki roots.
    pub extra_ca_file: Option<PathBuf>,
    /// A PEM certificate chain and private key for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// DER certificates to trust, for tests against a self-signed server. Not for
    /// production: use `extra_ca_file`.
    #[doc(hidden)]
    pub test_roots: Vec<Vec<u8>>,
}

/// Sizes the transport refuses to exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A response body read whole (`bytes`, `json`), before decoding.
    pub max_body_bytes: usize,
    /// A decoded (decompressed) body: the guard against decompression bombs.
    pub max_decoded_bytes: usize,
    /// Response headers (HTTP/1.1 read buffer; HTTP/2 header list).
    pub max_header_bytes: usize,
}

impl Default for Limits {
    /// 64 MiB body, 128 MiB decoded, 64 KiB headers.
    fn default() -> Limits {
        Limits {
            max_body_bytes: 64 << 20,
            max_decoded_bytes: 128 << 20,
            max_header_bytes: 64 << 10,
        }
    }
}

/// Everything the transport is built from, except the upstreams.
#[derive(Clone, Debug, Default)]
pub struct TransportConfig {
    /// Timeouts.
    pub timeouts: Timeouts,
    /// The pool.
    pub pool: PoolConfig,
    /// Retries.
    pub retry: RetryConfig,
    /// Circuit breakers.
    pub breaker: BreakerConfig,
    /// TLS.
    pub tls: TlsConfig,
    /// Sizes.
    pub limits: Limits,
    /// Gzip request bodies of at least 1 KiB to upstreams that accept it (off by default:
    /// most providers do not).
    pub compress_requests: bool,
    /// The concurrency limit (`None`: unlimited).
    pub concurrency: Option<crate::LimitConfig>,
}

/// How requests are spread over a pool's endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Strategy {
    /// In turn.
    #[default]
    RoundRobin,
    /// In turn, in proportion to the endpoints' weights (smooth, as nginx does it).
    WeightedRoundRobin,
    /// The endpoint with the fewest requests in flight.
    LeastOutstanding,
    /// Of two endpoints picked at random, the one with the lower latency EWMA times
    /// requests in flight.
    PowerOfTwoChoices,
}

/// One endpoint: a deployment, region or key of a provider.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// A name for logs and metrics (`openai-eu`, `azure-2`).
    pub name: String,
    /// The base URL; request paths are appended to its path.
    pub base: Uri,
    /// Weight for weighted round robin (default 1).
    pub weight: u32,
    /// Headers sent with every request to it (the provider key, from the environment),
    /// in place of a request's own header of the same name.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Headers sent with a request that does not carry its own of the same name (an API
    /// version a caller may ask for by name, such as `anthropic-version`).
    pub default_headers: Vec<(HeaderName, HeaderValue)>,
}

impl Endpoint {
    /// An endpoint named `name` at `base`, weight 1, no headers.
    ///
    /// # Errors
    ///
    /// A base that is not an absolute `http` or `https` URL.
    pub fn new(name: &str, base: &str) -> Result<Endpoint, crate::TransportError> {
        let uri: Uri = base.parse().map_err(|_| crate::TransportError::Config {
            message: format!("endpoint {name}: not a URL"),
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(crate::TransportError::Config {
                message: format!("endpoint {name}: needs an absolute http:// or https:// URL"),
            });
        }
        Ok(Endpoint {
            name: name.to_owned(),
            base: uri,
            weight: 1,
            headers: Vec::new(),
            default_headers: Vec::new(),
        })
    }

    /// The same endpoint with `weight`.
    #[must_use]
    pub fn weight(mut self, weight: u32) -> Endpoint {
        self.weight = weight.max(1);
        self
    }

    /// The same endpoint sending `name: value` with every request.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Endpoint {
        self.headers.push((name, value));
        self
    }

    /// The same endpoint sending `name: value` with every request that does not carry a
    /// `name` header of its own.
    ///
    /// # Example: an API version a caller may override, and a key it may not
    ///
    /// ```
    /// use http::{HeaderName, HeaderValue};
    /// let e = sentinel_transport::Endpoint::new("anthropic", "https://api.anthropic.com/v1")?
    ///     .header(HeaderName::from_static("x-api-key"), HeaderValue::from_static("sk-ant-..."))
    ///     .default_header(
    ///         HeaderName::from_static("anthropic-version"),
    ///         HeaderValue::from_static("2023-06-01"),
    ///     );
    /// assert_eq!(e.default_headers.len(), 1);
    /// Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn default_header(mut self, name: HeaderName, value: HeaderValue) -> Endpoint {
        self.default_headers.push((name, value));
        self
    }
}

/// A provider: endpoints and how to spread requests over them. A transport holds a chain
/// of these; when every endpoint of one is unavailable, the next serves.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// A name for logs.
    pub name: String,
    /// The endpoints.
    pub endpoints: Vec<Endpoint>,
    /// The strategy.
    pub strategy: Strategy,
}

impl Upstream {
    /// An upstream of one endpoint, named after it.
    pub fn single(endpoint: Endpoint) -> Upstream {
        Upstream {
            name: endpoint.name.clone(),
            endpoints: vec![endpoint],
            strategy: Strategy::RoundRobin,
        }
    }
}
