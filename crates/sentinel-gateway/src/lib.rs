//! DeepSentinel's gateway: the pipeline behind HTTP, so an application changes only its
//! base URL.
//!
//! Routes: every route of [`sentinel_client::Route::ALL`] through the pipeline (OpenAI's
//! chat completions, completions, embeddings, Responses and their stored responses,
//! moderations, images, audio, files, batches and conversations; Anthropic's messages,
//! token counts and message batches; streamed answers scanned and restored on the fly),
//! and with `[server] other_routes = "scan"` any other path under `/v1/`
//! ([`sentinel_client::Route::Other`]); `GET /v1/models` (passed through);
//! Presidio-compatible `POST /analyze` and `POST /anonymize`; `POST /v1/sentinel/scan`;
//! `GET /metrics` (Prometheus), `/healthz`, `/readyz`, `/v1/sentinel/stats` (the Monitor,
//! upstream circuits and audit health) and `/dashboard`.
//!
//! [`Gateway::reload`] applies a new configuration while it serves, all of it but the
//! audit log's settings, the listen address and the threads (`deepsentinel serve` calls
//! it on SIGHUP).
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use sentinel_client::SentinelConfig;
//! let config = SentinelConfig::from_toml("inline", "[network]\nupstream = \"http://127.0.0.1:8000/v1\"\n")?;
//! let gateway = sentinel_gateway::Gateway::new(&config, None)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! gateway.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod headers;
mod large;
mod presidio;
mod rate;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use headers::HeaderRules;
use large::{LaneError, LargeLane};
use rate::KeyRate;
use sentinel_client::{
    new_request_id, Auth, CacheSection, DetectionSource, LargeAnswer, NetworkSection, Operated,
    OtherRoutes, Pipeline, PipelineBody, PipelineError, PipelineRequest, Refusal, Route,
    SentinelConfig, ServerSection, Stages,
};
use sentinel_metrics::{ErrorKind, MonitorSnapshot, PrometheusHandle, RequestRecord};
use sentinel_policy::{Direction, PolicySet};
use sentinel_transport::{
    HttpTransport, LimitConfig, OutboundRequest, Priority, PriorityLimiter, ResponseBody,
    Transport, TransportError,
};

/// The body of every gateway response.
pub type GatewayBody = BoxBody<Bytes, std::io::Error>;

/// A gateway that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// The listener or TLS files.
    #[error("{0}")]
    Io(String),
}

struct KeyEntry {
    tenant: String,
    priority: Priority,
    /// `requests_per_minute` and `burst`, when set.
    rate: Option<KeyRate>,
}

/// By the SHA-256 of the key: a request's key is hashed and looked up, never hex-encoded.
type Keys = HashMap<[u8; 32], KeyEntry>;

/// What [`Gateway::reload`] replaces, swapped as one: a request loads it once, when it
/// arrives, and keeps it to the end (its answer too, streamed or not).
struct Live {
    pipeline: Arc<Pipeline>,
    /// The pipeline's policy, as built: a reload hands its pseudonym vault on.
    policy: Arc<PolicySet>,
    /// The pipeline's transport, as built: the stats page and `/readyz` read its pools,
    /// `/v1/models` goes through it.
    transport: Arc<HttpTransport>,
    keys: Keys,
    /// When callers' own upstream keys are forwarded: how the upstream takes a key.
    forward_client_key: Option<Auth>,
    /// `[server] max_body_bytes`.
    max_body: usize,
    /// `[server] large_body_bytes`; `None` when 0.
    large_body: Option<usize>,
    /// `[server] request_timeout_ms`.
    request_timeout: Duration,
    /// `[server] body_read_timeout_ms`.
    body_idle: Duration,
    /// The tenant of callers without a key (`tenant`, loopback callers when no key is
    /// configured).
    default_tenant: String,
    /// How connections accepted from now on are read (`[server]` header limits).
    connections: ConnectionLimits,
    /// `[server] shutdown_grace_ms` and `shutdown_delay_ms`, read when shutdown comes.
    grace: Duration,
    shutdown_delay: Duration,
    /// `[server] forward_request_headers` and `forward_response_headers`.
    headers: HeaderRules,
    /// `[server] other_routes`.
    other_routes: OtherRoutes,
}

impl Live {
    /// The snapshot of `config`'s settings over the stages built from it.
    fn new(
        config: &SentinelConfig,
        pipeline: Arc<Pipeline>,
        policy: Arc<PolicySet>,
        transport: Arc<HttpTransport>,
        keys: Keys,
        headers: HeaderRules,
    ) -> Live {
        let s = &config.server;
        let ms = |v: Option<u64>, default: u64| Duration::from_millis(v.unwrap_or(default));
        Live {
            pipeline,
            policy,
            transport,
            keys,
            forward_client_key: config
                .network
                .forward_client_key
                .then_some(config.network.auth),
            max_body: s.max_body_bytes.unwrap_or(32 << 20),
            large_body: Some(s.large_body_bytes.unwrap_or(1 << 20)).filter(|&n| n > 0),
            request_timeout: ms(s.request_timeout_ms, 600_000),
            body_idle: ms(s.body_read_timeout_ms, 30_000),
            default_tenant: config.tenant().to_owned(),
            connections: ConnectionLimits {
                header_read_timeout: ms(s.header_read_timeout_ms, 10_000),
                max_header_bytes: s.max_header_bytes.unwrap_or(64 << 10),
            },
            grace: ms(s.shutdown_grace_ms, 30_000),
            shutdown_delay: ms(s.shutdown_delay_ms, 0),
            headers,
            other_routes: s.other_routes,
        }
    }

    /// Whether a request takes the large requests' lane: its body (`len` bytes as read,
    /// `encoded` when it came with a `Content-Encoding`) is `large_body_bytes` or more, or
    /// compressed and a 256th of that, or its answer is a file read back
    /// ([`Route::answers_a_file`]).
    fn is_large(&self, method: &Method, path: &str, encoded: bool, len: usize) -> bool {
        self.large_body.is_some_and(|at| {
            len >= at
                || (encoded && len >= at / large::COMPRESSED_SHARE)
                || (method == Method::GET
                    && Route::of(method, path).is_some_and(|(r, _)| r.answers_a_file()))
        })
    }
}

/// `[server]`'s limits on reading a connection's request heads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ConnectionLimits {
    header_read_timeout: Duration,
    max_header_bytes: usize,
}

impl ConnectionLimits {
    /// The connection builder (HTTP/1.1 and HTTP/2) with these limits. hyper itself
    /// refuses heads over twice `max_header_bytes`, with a bare 431; up to that the
    /// gateway reads them and answers one over `max_header_bytes` with its error JSON
    /// ([`head_too_large`]).
    fn builder(self) -> auto::Builder<TokioExecutor> {
        let hyper_cap = self.max_header_bytes.saturating_mul(2);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_buf_size(hyper_cap.max(8192));
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(hyper_cap).unwrap_or(u32::MAX));
        builder
    }
}

/// Whether a request's head, as HTTP/1.1 writes it (request line and header lines), is
/// over `max` bytes (`[server] max_header_bytes`).
fn head_too_large(req: &Request<Incoming>, max: usize) -> bool {
    let uri = req.uri();
    let target = uri.path_and_query().map_or(1, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.scheme_str().map_or(0, |s| s.len() + 3);
    // `METHOD target HTTP/1.1\r\n`, each `name: value\r\n`, and the closing `\r\n`.
    let mut len = req.method().as_str().len() + target + 12 + 2;
    for (name, value) in req.headers() {
        len += name.as_str().len() + value.len() + 4;
        if len > max {
            return true;
        }
    }
    len > max
}

struct State {
    live: ArcSwap<Live>,
    /// Reconfigured by a reload (`[server] max_concurrent`).
    limiter: PriorityLimiter,
    /// Shutdown was asked for: `/readyz` answers 503 while connections are still taken
    /// (`[server] shutdown_delay_ms`).
    stopping: std::sync::atomic::AtomicBool,
    /// Set by [`Gateway::hurry_shutdown`]: a shutdown stops waiting.
    hurry: tokio::sync::watch::Sender<bool>,
    prometheus: Option<PrometheusHandle>,
    /// Bytes of request bodies that may be held at once (`[server]
    /// max_body_bytes_in_flight`), a permit a byte, taken as a body arrives and given back
    /// when its request is answered.
    bodies: Arc<tokio::sync::Semaphore>,
    /// The budget `bodies` started with.
    bodies_budget: usize,
    /// What `/analyze` requests brought of their own (ad-hoc recognizers, allow lists),
    /// compiled.
    ad_hoc: OwnCompiled,
    /// Where requests with large bodies are worked on (`[server] large_body_bytes`).
    large: LargeLane,
}

/// `[server] max_body_bytes_in_flight`: default 256 MiB, never below one body's limit (a
/// body that can never fit would only ever wait), within the semaphore's range.
fn body_budget(s: &ServerSection) -> usize {
    let max_body = s.max_body_bytes.unwrap_or(32 << 20);
    s.max_body_bytes_in_flight
        .unwrap_or(256 << 20)
        .max(max_body)
        .min(tokio::sync::Semaphore::MAX_PERMITS)
}

/// `[server] large_workers`: the large requests that use the CPU at once (default: the
/// cores less one, at least one); `0` is refused.
fn large_turns(s: &ServerSection) -> Result<usize, GatewayError> {
    match s.large_workers {
        Some(0) => Err(GatewayError::Config(
            "[server] large_workers must be at least 1".to_owned(),
        )),
        Some(n) => Ok(n),
        None => Ok(LargeLane::default_turns()),
    }
}

/// The limiter's limits from `[server] max_concurrent` (default 1024; four times as many
/// may wait, ten seconds at most).
fn limits(s: &ServerSection) -> LimitConfig {
    let max_concurrent = s.max_concurrent.unwrap_or(1024).max(1);
    LimitConfig {
        max_concurrent,
        max_queued: max_concurrent * 4,
        queue_timeout: Duration::from_secs(10),
    }
}

/// The gateway.
pub struct Gateway {
    state: Arc<State>,
    /// Swapped by a reload, read once per connection.
    tls: ArcSwapOption<tokio_rustls::TlsAcceptor>,
    /// What the running stages were built from; held through a reload, so that one
    /// builds on the one before.
    config: Mutex<InForce>,
}

/// What a reload compares the file with.
struct InForce {
    /// The configuration the process started with: the settings a reload cannot apply
    /// are compared with it ([`needs_restart`]).
    started: SentinelConfig,
    /// What the running detection stage was built from: a reload rebuilds the stage (and
    /// empties its cache) only when this changes.
    detection: DetectionSource,
    /// The running transport's `[network]` and the SHA-256 of the upstream key it sends
    /// (never the key): a reload builds a new transport only when either changes.
    network: NetworkSection,
    upstream_key: Option<[u8; 32]>,
    /// The running response cache's `[cache]`.
    cache: CacheSection,
}

/// The SHA-256 of an upstream key, as [`InForce`] keeps it.
fn upstream_key_digest(key: Option<&str>) -> Option<[u8; 32]> {
    key.map(|k| Sha256::digest(k.as_bytes()).into())
}

/// What a configuration gives the gateway that a reload can change: what
/// [`Gateway::check`] found, or [`Gateway::reload`] applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Gateway keys accepted.
    pub keys: usize,
    /// The policy's version (per tenant, the hash audit records carry) for the default
    /// tenant.
    pub policy_version: String,
    /// Whether TLS is on (a reload read its certificate and key again).
    pub tls: bool,
}

/// What [`Gateway::reload`] applied, and what it left for a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloaded {
    /// What applies to requests from now on.
    pub applied: Checked,
    /// Whether the detection stage was built again (`[detection]` or its recognizers
    /// file changed); its cache starts empty then. Unchanged, the stage and its cache
    /// carry on.
    pub detection_rebuilt: bool,
    /// Whether a new upstream transport was built (`[network]` or the upstream key
    /// changed): new requests go through its pools, with its circuits closed. Unchanged,
    /// the transport, its connections and its circuits' state carry on.
    pub upstream_rebuilt: bool,
    /// Whether the response cache was replaced by an empty one (`[cache]` changed, or the
    /// upstream did: its answers are not the new upstream's).
    pub responses_rebuilt: bool,
    /// Sections of the file that differ from those in force but take effect only at a
    /// restart (`audit`, `failure` for its audit stance, `server` for its listen address,
    /// threads and body budget), so they were not applied.
    pub needs_restart: Vec<&'static str>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("keys", &self.state.live.load().keys.len())
            .field("tls", &self.tls.load().is_some())
            .finish_non_exhaustive()
    }
}

/// The hex SHA-256 of a gateway key, as `[[key]] hash` stores it (`sha256:` prefix).
pub fn hash_key(key: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

fn priority(name: Option<&str>) -> Result<Priority, GatewayError> {
    Ok(match name.unwrap_or("normal") {
        "critical" => Priority::Critical,
        "high" => Priority::High,
        "normal" => Priority::Normal,
        "low" => Priority::Low,
        other => {
            return Err(GatewayError::Config(format!(
                "[[key]] priority {other:?}: critical, high, normal or low"
            )))
        }
    })
}

fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, GatewayError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let io = |what: &str, p: &std::path::Path, e: &dyn std::fmt::Display| {
        GatewayError::Io(format!("[server] {what} {}: {e}", p.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| io("tls_cert", cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| io("tls_key", key, &e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| GatewayError::Config(format!("TLS: {e}")))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| GatewayError::Config(format!("TLS: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The `[[key]]` entries by the SHA-256 of the key.
/// A reload passes the keys in force as `previous`, so that a key whose rate did not
/// change keeps its budget.
fn keys_of(config: &SentinelConfig, previous: Option<&Keys>) -> Result<Keys, GatewayError> {
    let mut keys = HashMap::new();
    for k in &config.keys {
        let mut digest = [0u8; 32];
        let parsed = k
            .hash
            .trim()
            .to_ascii_lowercase()
            .strip_prefix("sha256:")
            .map(|h| hex::decode_to_slice(h, &mut digest));
        if !matches!(parsed, Some(Ok(()))) {
            return Err(GatewayError::Config(format!(
                "[[key]] for tenant {}: hash must be sha256: and 64 hex digits",
                k.tenant
            )));
        }
        keys.insert(
            digest,
            KeyEntry {
                tenant: k.tenant.clone(),
                priority: priority(k.priority.as_deref())?,
                rate: KeyRate::of(
                    k,
                    previous
                        .and_then(|p| p.get(&digest))
                        .and_then(|e| e.rate.as_ref()),
                )?,
            },
        );
    }
    Ok(keys)
}

/// The TLS acceptor `[server]` asks for, if any.
fn tls_of(
    server: &sentinel_client::ServerSection,
) -> Result<Option<tokio_rustls::TlsAcceptor>, GatewayError> {
    match (&server.tls_cert, &server.tls_key) {
        (Some(c), Some(k)) => Ok(Some(tls_acceptor(c, k)?)),
        (None, None) => Ok(None),
        _ => Err(GatewayError::Config(
            "[server] tls_cert and tls_key go together".to_owned(),
        )),
    }
}

/// The sections of `file` with settings a running gateway cannot take that differ from
/// those it `started` with: the audit log's (`[audit]`, `[failure] audit`) and the
/// listener's and threads' (`[server] listen`, `workers`, `large_workers`,
/// `max_body_bytes_in_flight`).
fn needs_restart(started: &SentinelConfig, file: &SentinelConfig) -> Vec<&'static str> {
    let (a, b) = (&started.server, &file.server);
    [
        ("audit", started.audit == file.audit),
        ("failure", started.failure.audit == file.failure.audit),
        (
            "server",
            a.listen == b.listen
                && a.workers == b.workers
                && a.large_workers == b.large_workers
                && body_budget(a) == body_budget(b),
        ),
    ]
    .into_iter()
    .filter(|(_, same)| !same)
    .map(|(name, _)| name)
    .collect()
}

impl Gateway {
    /// A gateway from `config`; `prometheus` is the installed recorder's handle that
    /// `GET /metrics` renders (`None`: the route answers 404). Call within a Tokio runtime.
    ///
    /// # Errors
    ///
    /// Any layer, key or TLS file that cannot be used.
    pub fn new(
        config: &SentinelConfig,
        prometheus: Option<PrometheusHandle>,
    ) -> Result<Gateway, GatewayError> {
        // The cheap checks first: nothing is built, and no audit log opened, for a file
        // with a bad key or certificate.
        let keys = keys_of(config, None)?;
        let headers = HeaderRules::of(&config.server)?;
        let tls = tls_of(&config.server)?;
        let large_turns = large_turns(&config.server)?;
        let upstream_key = config
            .upstream_key()
            .map_err(|e| GatewayError::Config(e.to_string()))?;
        let transport = Arc::new(
            config
                .transport_with_key(upstream_key.as_deref())
                .map_err(|e| GatewayError::Config(e.to_string()))?,
        );
        let shared: Arc<dyn Transport> = transport.clone();
        let policy = Arc::new(
            config
                .policy_set()
                .map_err(|e| GatewayError::Config(e.to_string()))?,
        );
        let detection = config
            .detection_source()
            .map_err(|e| GatewayError::Config(e.to_string()))?;
        let pipeline = Arc::new(
            detection
                .build()
                .and_then(|stage| config.build_from(shared, stage, policy.clone()))
                .map_err(|e| GatewayError::Config(e.to_string()))?,
        );
        let bodies_budget = body_budget(&config.server);
        Ok(Gateway {
            state: Arc::new(State {
                live: ArcSwap::from_pointee(Live::new(
                    config, pipeline, policy, transport, keys, headers,
                )),
                limiter: PriorityLimiter::new(limits(&config.server)),
                stopping: std::sync::atomic::AtomicBool::new(false),
                hurry: tokio::sync::watch::Sender::new(false),
                prometheus,
                bodies: Arc::new(tokio::sync::Semaphore::new(bodies_budget)),
                bodies_budget,
                ad_hoc: OwnCompiled::new(),
                large: LargeLane::new(large_turns),
            }),
            tls: ArcSwapOption::from(tls.map(Arc::new)),
            config: Mutex::new(InForce {
                started: config.clone(),
                detection,
                network: config.network.clone(),
                upstream_key: upstream_key_digest(upstream_key.as_deref()),
                cache: config.cache.clone(),
            }),
        })
    }

    /// Applies `config`'s gateway keys, policy (its file read again), detection
    /// (`[detection]` and its recognizers file, read again; rebuilt only when either
    /// changed), upstream (`[network]` and the upstream key, its file or variable read
    /// again; a new transport only when either changed), `[server]` but for `listen` and
    /// `workers` (limits, header limits for connections accepted from then on, shutdown
    /// grace and delay), `tenant`, `[failure] detector`,
    /// `[metrics] per_tenant`, `[cache]` (a new, empty response cache, also when the
    /// upstream changed) and TLS certificate and key to the requests that arrive from now
    /// on; requests in flight finish as they
    /// started. The pseudonym vault, the audit log and the metrics carry on, and so do the
    /// detection cache, the upstream pools and the response cache unless they were
    /// rebuilt. Other sections are not applied: [`Reloaded::needs_restart`] names those
    /// that differ. Nothing changes when it fails.
    ///
    /// # Errors
    ///
    /// A key, the policy, the detection settings, the upstream settings or key, or a TLS
    /// file cannot be used, or TLS would be turned on or off (that takes a restart: the
    /// listener would change protocol).
    pub fn reload(&self, config: &SentinelConfig) -> Result<Reloaded, GatewayError> {
        let keys = keys_of(config, Some(&self.state.live.load().keys))?;
        let headers = HeaderRules::of(&config.server)?;
        let mut policy = config
            .policy_set()
            .map_err(|e| GatewayError::Config(e.to_string()))?;
        let tls = tls_of(&config.server)?;
        let source = config
            .detection_source()
            .map_err(|e| GatewayError::Config(e.to_string()))?;
        let upstream_key = config
            .upstream_key()
            .map_err(|e| GatewayError::Config(e.to_string()))?;
        let upstream_digest = upstream_key_digest(upstream_key.as_deref());
        if tls.is_some() != self.tls.load().is_some() {
            return Err(GatewayError::Config(
                "[server] tls_cert and tls_key: turning TLS on or off takes a restart".to_owned(),
            ));
        }
        // One reload at a time: each builds on the one before.
        let mut held = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        let detection = if source == held.detection {
            None
        } else {
            Some(
                source
                    .build()
                    .map_err(|e| GatewayError::Config(e.to_string()))?,
            )
        };
        let detection_rebuilt = detection.is_some();
        let transport = if held.network == config.network && held.upstream_key == upstream_digest {
            None
        } else {
            Some(Arc::new(
                config
                    .transport_with_key(upstream_key.as_deref())
                    .map_err(|e| GatewayError::Config(e.to_string()))?,
            ))
        };
        let upstream_rebuilt = transport.is_some();
        let responses = (upstream_rebuilt || held.cache != config.cache)
            .then(|| config.response_stage())
            .transpose()
            .map_err(|e| GatewayError::Config(e.to_string()))?;
        let responses_rebuilt = responses.as_ref().is_some_and(|r| r.cache.is_some());
        let current = self.state.live.load_full();
        policy.keep_vault(&current.policy);
        let policy = Arc::new(policy);
        let pipeline = Arc::new(current.pipeline.with_stages(Stages {
            detection,
            policy: Some(policy.clone()),
            transport: transport.clone().map(|t| t as Arc<dyn Transport>),
            detector_stance: Some(config.failure.detector),
            responses,
        }));
        let applied = Checked {
            keys: keys.len(),
            policy_version: pipeline.policy().version_hash(config.tenant()).to_string(),
            tls: tls.is_some(),
        };
        let transport = transport.unwrap_or_else(|| Arc::clone(&current.transport));
        self.state.live.store(Arc::new(Live::new(
            config, pipeline, policy, transport, keys, headers,
        )));
        self.state.limiter.reconfigure(limits(&config.server));
        current
            .pipeline
            .telemetry()
            .set_tenants(config.metrics.per_tenant);
        if let Some(t) = tls {
            self.tls.store(Some(Arc::new(t)));
        }
        held.detection = source;
        held.network.clone_from(&config.network);
        held.upstream_key = upstream_digest;
        held.cache.clone_from(&config.cache);
        Ok(Reloaded {
            applied,
            detection_rebuilt,
            upstream_rebuilt,
            responses_rebuilt,
            needs_restart: needs_restart(&held.started, config),
        })
    }

    /// Checks `config` as [`Gateway::new`] would use it, without serving, connecting or
    /// opening the audit log (which a running gateway holds): keys, policy, TLS files,
    /// detection, upstream, transport, cache and audit settings, and that `[server]
    /// listen` is an address (not that it is free: a running gateway holds it). What
    /// `deepsentinel serve --check` runs, before a start or a reload.
    ///
    /// # Errors
    ///
    /// What [`Gateway::new`] would refuse, but for the audit directory itself, and a
    /// listen address that does not resolve.
    pub fn check(config: &SentinelConfig) -> Result<Checked, GatewayError> {
        if let Some(listen) = &config.server.listen {
            std::net::ToSocketAddrs::to_socket_addrs(listen.as_str())
                .map_err(|e| GatewayError::Config(format!("[server] listen {listen:?}: {e}")))?;
        }
        let policy = config
            .check()
            .map_err(|e| GatewayError::Config(e.to_string()))?;
        let keys = keys_of(config, None)?;
        HeaderRules::of(&config.server)?;
        large_turns(&config.server)?;
        let tls = tls_of(&config.server)?;
        Ok(Checked {
            keys: keys.len(),
            policy_version: sentinel_policy::PolicyEngine::version_hash(&policy, config.tenant())
                .to_string(),
            tls: tls.is_some(),
        })
    }

    /// Ends a shutdown's waiting at once, or the next one's when it comes: the delay, the
    /// linger of idle connections and the grace for in-flight requests, which are cut
    /// off (`serve` returns; queued audit records are still written when the gateway is
    /// dropped). What a second SIGTERM or Ctrl-C asks for.
    pub fn hurry_shutdown(&self) {
        self.state.live.load().pipeline.cut_short();
        self.state.hurry.send_replace(true);
    }

    /// Whether callers need a key (with no `[[key]]`, only loopback callers are served).
    pub fn requires_keys(&self) -> bool {
        !self.state.live.load().keys.is_empty()
    }

    /// The pipeline requests arriving now go through (a reload replaces it).
    pub fn pipeline(&self) -> Arc<Pipeline> {
        Arc::clone(&self.state.live.load().pipeline)
    }

    /// Serves connections from `listener` until `shutdown` completes, then (after
    /// `[server] shutdown_delay_ms`, during which `/readyz` answers 503 and connections
    /// are still taken) stops accepting and gives in-flight requests the grace period to
    /// finish.
    ///
    /// # Errors
    ///
    /// The listener fails.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), GatewayError> {
        if !self.requires_keys() {
            tracing::warn!("no [[key]] configured: serving loopback callers only");
        }
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        // Built again when a reload changes the header limits, for connections from then on.
        let mut limits = self.state.live.load().connections;
        let mut builder = limits.builder();
        let shutdown = self.stop_accepting(shutdown);
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let wanted = self.state.live.load().connections;
            if wanted != limits {
                limits = wanted;
                builder = limits.builder();
            }
            let state = Arc::clone(&self.state);
            let service = service_fn(move |req: Request<Incoming>| {
                let state = Arc::clone(&state);
                async move {
                    let http1 = req.version() < http::Version::HTTP_2;
                    let mut response = route(Arc::clone(&state), req, peer).await;
                    // Stopping: the caller's next request goes on a new connection (to
                    // the next process, on a socket the service manager holds), instead
                    // of racing the close of this one.
                    if http1 && state.stopping.load(std::sync::atomic::Ordering::Relaxed) {
                        response
                            .headers_mut()
                            .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            match self.tls.load_full() {
                None => {
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
                Some(acceptor) => {
                    let acceptor = (*acceptor).clone();
                    let builder = builder.clone();
                    let watcher = graceful.watcher();
                    tokio::spawn(async move {
                        let Ok(Ok(tls)) =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                                .await
                        else {
                            return;
                        };
                        let conn = builder
                            .serve_connection_with_upgrades(TokioIo::new(tls), service)
                            .into_owned();
                        let _ = watcher.watch(conn).await;
                    });
                }
            }
        }
        self.drain(graceful).await;
        Ok(())
    }

    /// Completes when the accept loop is to stop: `shutdown`, then (unready from then on)
    /// `[server] shutdown_delay_ms` unless hurried.
    async fn stop_accepting(&self, shutdown: impl Future<Output = ()>) {
        shutdown.await;
        let state = &self.state;
        state
            .stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let delay = state.live.load().shutdown_delay;
        if !delay.is_zero() {
            tracing::info!(
                delay_ms = delay.as_millis(),
                "shutting down: not ready, still accepting until the delay is over"
            );
            let mut hurry = state.hurry.subscribe();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = hurry.wait_for(|h| *h) => {}
            }
        }
    }

    /// Closes the connections once the gateway stopped accepting: idle ones after a
    /// linger, the others as their requests finish or the grace period ends, or at once
    /// when hurried.
    async fn drain(&self, graceful: hyper_util::server::graceful::GracefulShutdown) {
        tracing::info!("shutting down: draining in-flight requests");
        // Closing an idle keep-alive connection races a request the client may be sending
        // on it, which then fails. Answers now carry `Connection: close`, so a connection
        // that takes one more request closes after it by itself; the idle ones get a
        // moment for that before the rest are closed.
        let grace = self.state.live.load().grace;
        let linger = tokio::time::Instant::now() + IDLE_LINGER.min(grace);
        let mut hurry = self.state.hurry.subscribe();
        while graceful.count() > 0
            && tokio::time::Instant::now() < linger
            && !*hurry.borrow_and_update()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::select! {
            drained = tokio::time::timeout(grace, graceful.shutdown()) => {
                if drained.is_err() {
                    self.state.live.load().pipeline.cut_short();
                    tracing::warn!("grace period over; closing the remaining connections");
                }
            }
            _ = hurry.wait_for(|h| *h) => {
                tracing::warn!("shutdown hurried; closing the remaining connections");
            }
        }
    }
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<GatewayBody> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn json_response(status: StatusCode, v: &impl Serialize) -> Response<GatewayBody> {
    full(
        status,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

/// 503 `overloaded` with `Retry-After: seconds`: a limit of the gateway's is full.
fn overloaded(message: &str, seconds: u64) -> Response<GatewayBody> {
    let mut r = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "overloaded",
        message,
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    r
}

/// An OpenAI-style error: `{"error": {"message", "type", "code"}}`.
fn error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response<GatewayBody> {
    json_response(
        status,
        &json!({"error": {"message": message, "type": kind, "code": code, "param": null}}),
    )
}

fn pipeline_error(e: &PipelineError) -> Response<GatewayBody> {
    match e {
        PipelineError::BadRequest { message } => error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_body",
            message,
        ),
        PipelineError::Blocked { direction, reasons } => {
            let names: Vec<Value> = reasons
                .iter()
                .map(|r| json!({"entity_type": r.entity, "rule": r.rule}))
                .collect();
            let list: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            json_response(
                StatusCode::FORBIDDEN,
                &json!({"error": {
                    "message": format!("DeepSentinel blocked the {direction}: it contains {}", list.join(", ")),
                    "type": "deepsentinel_blocked",
                    "code": if *direction == "request" { "sensitive_data_blocked" } else { "response_blocked" },
                    "param": null,
                    "reasons": names,
                }}),
            )
        }
        PipelineError::Upstream { status, body, .. } => {
            full(*status, "application/json", body.clone())
        }
        PipelineError::TimedOut { .. } => error(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "request_timeout",
            "the request took longer than the gateway allows",
        ),
        PipelineError::Transport(TransportError::Overloaded { retry_after }) => overloaded(
            "upstream capacity is full; retry later",
            retry_after.as_secs().max(1),
        ),
        other => error(
            other.status(),
            "upstream_error",
            other.kind().as_str(),
            &other.to_string(),
        ),
    }
}

/// How long idle HTTP/1.1 connections get, once the gateway stops accepting, to carry a
/// last request (answered with `Connection: close`) before they are closed.
const IDLE_LINGER: Duration = Duration::from_millis(250);

/// The header a caller can give its gateway key in, leaving `Authorization` and
/// `x-api-key` to its own upstream key (see `[network] forward_client_key`).
const GATEWAY_KEY_HEADER: &str = "x-deepsentinel-key";
/// The request id of a proxied request's audit records, on its response.
const REQUEST_ID_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-deepsentinel-request-id");
/// `hit` on a response the response cache answered.
const CACHE_HEADER: http::HeaderName = http::HeaderName::from_static("x-deepsentinel-cache");

/// The SHA-256 of a presented key, as the key table holds them.
fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.trim().as_bytes()).into()
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The keys a caller presents in the headers the providers' SDKs send them in, in this
/// order: `Authorization: Bearer` (OpenAI), `x-api-key` (Anthropic), `api-key` (Azure
/// OpenAI).
fn sdk_keys(headers: &http::HeaderMap) -> impl Iterator<Item = &str> {
    let named = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    [bearer(headers), named("x-api-key"), named("api-key")]
        .into_iter()
        .flatten()
}

/// The caller's own upstream key, when the gateway forwards callers' keys, in the form
/// the upstream takes: its `Authorization: Bearer` token, `x-api-key` or `api-key`,
/// whichever is present and not a gateway key. A gateway key is never forwarded.
fn client_credential(
    live: &Live,
    headers: &http::HeaderMap,
) -> Option<(http::HeaderName, HeaderValue)> {
    let auth = live.forward_client_key?;
    let own = sdk_keys(headers)
        .map(str::trim)
        .find(|k| !k.is_empty() && !live.keys.contains_key(&key_digest(k)))?;
    let (name, value) = match auth {
        Auth::Bearer => (header::AUTHORIZATION, format!("Bearer {own}")),
        Auth::XApiKey => (http::HeaderName::from_static("x-api-key"), own.to_owned()),
        Auth::ApiKey => (http::HeaderName::from_static("api-key"), own.to_owned()),
    };
    let mut value = HeaderValue::from_str(&value).ok()?;
    value.set_sensitive(true);
    Some((name, value))
}

/// The 429 of a key past its `requests_per_minute`, with `retry-after` in whole seconds
/// (at least 1), which the OpenAI and Anthropic SDKs wait for before they retry.
fn rate_limited(rate: &KeyRate, wait: Duration) -> Response<GatewayBody> {
    let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "requests",
        "rate_limit_exceeded",
        &format!(
            "this key's limit of {} requests a minute is spent; retry after {seconds} s",
            rate.per_minute(),
        ),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    r
}

/// The headers a proxy adds to say whom it relays a request for.
const RELAY_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// Why a caller was not let in.
enum Refused<'r> {
    /// No keys are configured and the caller is not on loopback, or is a proxy on
    /// loopback relaying a request from elsewhere (`relayed`).
    LoopbackOnly { relayed: bool },
    /// No key, or one that no `[[key]]` holds (`presented`).
    Unauthorized {
        presented: Option<std::borrow::Cow<'r, str>>,
    },
}

impl Refused<'_> {
    /// The audit record's outcome.
    fn reason(&self) -> &'static str {
        match self {
            Refused::LoopbackOnly { .. } => "loopback_only",
            Refused::Unauthorized { .. } => "unauthorized",
        }
    }

    fn response(&self) -> Response<GatewayBody> {
        match self {
            Refused::LoopbackOnly { relayed } => error(
                StatusCode::FORBIDDEN,
                "permission_error",
                "loopback_only",
                if *relayed {
                    "this gateway has no API keys configured and serves loopback callers only; a request a proxy relayed (Forwarded, X-Forwarded-For, X-Real-IP) comes from elsewhere: configure [[key]] entries to serve through a proxy"
                } else {
                    "this gateway has no API keys configured and serves loopback callers only"
                },
            ),
            Refused::Unauthorized { .. } => error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "a valid DeepSentinel API key is required (Authorization: Bearer KEY, or X-DeepSentinel-Key: KEY)",
            ),
        }
    }
}

/// Who is calling: the tenant, priority and rate of its key, or why it is refused.
fn authenticate<'s, 'r>(
    live: &'s Live,
    headers: &'r http::HeaderMap,
    peer: SocketAddr,
) -> Result<(&'s str, Priority, Option<&'s KeyRate>), Refused<'r>> {
    let keys = &live.keys;
    if keys.is_empty() {
        // A reverse proxy on the same host connects from loopback for callers anywhere:
        // what it relays is not a loopback caller's.
        let relayed = RELAY_HEADERS.iter().any(|h| headers.contains_key(*h));
        if peer.ip().is_loopback() && !relayed {
            return Ok((&live.default_tenant, Priority::Normal, None));
        }
        return Err(Refused::LoopbackOnly { relayed });
    }
    let key = headers
        .get(GATEWAY_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .or_else(|| sdk_keys(headers).next())
        .map(std::borrow::Cow::Borrowed)
        .or_else(|| basic_key(headers).map(std::borrow::Cow::Owned));
    match key.as_deref().and_then(|k| keys.get(&key_digest(k))) {
        Some(entry) => Ok((&entry.tenant, entry.priority, entry.rate.as_ref())),
        None => Err(Refused::Unauthorized { presented: key }),
    }
}

/// The key in `Authorization: Basic` credentials: the password, or the user name when
/// the password is empty. Clients configured with a base URL alone (LiteLLM's Presidio
/// guardrail, Presidio clients) can send a key this way, written into the URL
/// (`http://key:KEY@host/`, or `http://KEY@host/`); it is a gateway key only, never
/// forwarded upstream as the caller's own.
fn basic_key(headers: &http::HeaderMap) -> Option<String> {
    use base64::Engine as _;
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
    let key = if password.is_empty() { user } else { password };
    (!key.is_empty()).then(|| key.to_owned())
}

/// The route a path names, from the gateway's fixed list (the pipeline's routes, those on
/// a stored response named as `/v1/responses/{id}`, and the gateway's own), for a record of
/// a refused request: `other` for anything else, never the path as sent.
fn known_route(method: &Method, path: &str) -> &'static str {
    if let Some((route, _)) = Route::of(method, path) {
        return route.as_str();
    }
    const OWN: [&str; 10] = [
        "/v1/models",
        "/analyze",
        "/anonymize",
        "/deanonymize",
        "/supportedentities",
        "/recognizers",
        sentinel_client::SCAN_ROUTE,
        "/v1/sentinel/stats",
        "/metrics",
        "/dashboard",
    ];
    Route::ALL
        .into_iter()
        .map(Route::as_str)
        .chain(OWN)
        .find(|k| *k == path)
        .unwrap_or("other")
}

/// The methods a path the gateway serves takes, for a request that named it with another
/// (405 with `Allow`); empty for a path it does not serve (404).
fn allowed_methods(path: &str) -> Vec<&'static str> {
    let mut allowed = Vec::new();
    for (m, name) in [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
    ] {
        if Route::of(&m, path).is_some() {
            allowed.push(name);
        }
    }
    let get = matches!(
        path,
        "/healthz"
            | "/health"
            | "/readyz"
            | "/dashboard"
            | "/metrics"
            | "/v1/sentinel/stats"
            | "/supportedentities"
            | "/recognizers"
    ) || models_path(path).is_some();
    let post = matches!(
        path,
        "/analyze" | "/anonymize" | "/deanonymize" | sentinel_client::SCAN_ROUTE
    );
    for (serves, m) in [(get, "GET"), (post, "POST")] {
        if serves && !allowed.contains(&m) {
            allowed.push(m);
        }
    }
    allowed.sort_unstable();
    allowed
}

/// The upstream path of a model request: `/models` (the list) for `/v1/models`, or
/// `/models/{id}` for `/v1/models/{id}` (one model; an id of letters, digits and `.` `_`
/// `-` `:` `/`, without empty or dot segments, as fine-tuned and Hugging Face model names
/// are); `None` for any other path.
fn models_path(path: &str) -> Option<String> {
    if path == "/v1/models" {
        return Some("/models".to_owned());
    }
    let id = path.strip_prefix("/v1/models/")?;
    let valid = id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-/".contains(&b))
        && id
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    valid.then(|| format!("/models/{id}"))
}

/// Reads a request's body ([`ResponseBody`], as the transport reads answers): at most
/// `[server] max_body_bytes`, pausing at most `body_read_timeout_ms` between two parts and
/// done `request_timeout_ms` after the request began, so that a client that stops sending,
/// or trickles a byte at a time, is answered 408 and its connection closed instead of
/// held. Each part takes its bytes from `budget` (`max_body_bytes_in_flight`) before it is
/// kept: the permits come back with the body, to be held until the request is answered;
/// a part that finds no room within `body_read_timeout_ms` is answered 503.
async fn read_body(
    live: &Live,
    budget: &Arc<tokio::sync::Semaphore>,
    req: Request<Incoming>,
    started: std::time::Instant,
) -> Result<
    (
        http::request::Parts,
        Bytes,
        Option<tokio::sync::OwnedSemaphorePermit>,
    ),
    Box<Response<GatewayBody>>,
> {
    let max_body = live.max_body;
    let (parts, body) = req.into_parts();
    let deadline = tokio::time::Instant::from_std(started) + live.request_timeout;
    let mut body = ResponseBody::new(
        body,
        live.body_idle,
        deadline,
        live.request_timeout,
        max_body,
    );
    let mut first: Option<Bytes> = None;
    let mut joined: Option<bytes::BytesMut> = None;
    let mut held: Option<tokio::sync::OwnedSemaphorePermit> = None;
    while let Some(part) = body.chunk().await {
        let data = match part {
            Ok(data) => data,
            Err(TransportError::IdleTimeout { .. } | TransportError::TotalTimeout { .. }) => {
                return Err(closing(error(
                    StatusCode::REQUEST_TIMEOUT,
                    "invalid_request_error",
                    "body_read_timeout",
                    "the request body did not arrive in time",
                )));
            }
            Err(TransportError::BodyTooLarge { .. }) => {
                return Err(Box::new(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request_error",
                    "payload_too_large",
                    &format!("the body is larger than {max_body} bytes"),
                )))
            }
            Err(_) => {
                return Err(Box::new(error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "body_read_failed",
                    "the request body could not be read",
                )))
            }
        };
        let taken = take_budget(budget, data.len(), live.body_idle).await?;
        match &mut held {
            Some(h) => h.merge(taken),
            None => held = Some(taken),
        }
        match (&mut joined, &first) {
            (Some(all), _) => all.extend_from_slice(&data),
            (None, None) => first = Some(data),
            (None, Some(head)) => {
                let mut all = bytes::BytesMut::with_capacity(head.len() + data.len());
                all.extend_from_slice(head);
                all.extend_from_slice(&data);
                joined = Some(all);
            }
        }
    }
    let bytes = match joined {
        Some(all) => all.freeze(),
        None => first.unwrap_or_default(),
    };
    Ok((parts, bytes, held))
}

/// A body as read ([`read_body`]), decoded ([`decode_body`]) when it came `encoded`; what
/// decoding added takes its share of the budget too, held with the rest in `held`.
async fn decoded(
    live: &Live,
    budget: &Arc<tokio::sync::Semaphore>,
    parts: http::request::Parts,
    bytes: Bytes,
    encoded: bool,
    held: &mut Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<(http::request::Parts, Bytes), Box<Response<GatewayBody>>> {
    if !encoded {
        return Ok((parts, bytes));
    }
    let raw = bytes.len();
    let (parts, bytes) = decode_body(parts, bytes, live.max_body)?;
    if bytes.len() > raw {
        let taken = take_budget(budget, bytes.len() - raw, live.body_idle).await?;
        match held {
            Some(h) => h.merge(taken),
            None => *held = Some(taken),
        }
    }
    Ok((parts, bytes))
}

/// A body sent with `Content-Encoding` (gzip, deflate, br, zstd; [`decoded`] calls this
/// only for one that has the header), decoded, so that what
/// is scanned is what the provider would read; the header is dropped with it (the body
/// goes on as decoded). Codings applied one over another (`gzip, br`, or one header line
/// each) are undone last first, at most [`MAX_CODINGS`] of them. Each decoding stops at
/// `max_body` bytes (a decompression bomb gets 413 like a large body); an encoding the
/// gateway does not read gets 415, a corrupt body 400: never passed on unread.
fn decode_body(
    mut parts: http::request::Parts,
    mut bytes: Bytes,
    max_body: usize,
) -> Result<(http::request::Parts, Bytes), Box<Response<GatewayBody>>> {
    let mut codings = Vec::new();
    for value in parts.headers.get_all(header::CONTENT_ENCODING) {
        for coding in value.to_str().unwrap_or("?").split(',') {
            let coding = coding.trim().to_ascii_lowercase();
            if !coding.is_empty() && coding != "identity" {
                codings.push(coding);
            }
        }
    }
    let unsupported = |message: &str| {
        Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "unsupported_content_encoding",
            message,
        ))
    };
    if codings.len() > MAX_CODINGS {
        return Err(unsupported(&format!(
            "the body's content-encoding stacks more than {MAX_CODINGS} codings"
        )));
    }
    if !codings
        .iter()
        .all(|c| matches!(c.as_str(), "gzip" | "x-gzip" | "deflate" | "br" | "zstd"))
    {
        return Err(unsupported(
            "the body's content-encoding is not one of gzip, deflate, br, zstd",
        ));
    }
    for coding in codings.iter().rev() {
        bytes = match sentinel_transport::decode(coding, &bytes, max_body) {
            Ok(decoded) => decoded,
            Err(TransportError::BodyTooLarge { .. }) => {
                return Err(Box::new(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request_error",
                    "payload_too_large",
                    &format!("the decoded body is larger than {max_body} bytes"),
                )))
            }
            Err(_) => {
                return Err(Box::new(error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "invalid_body",
                    &format!("the body could not be decoded as {coding}"),
                )))
            }
        };
    }
    parts.headers.remove(header::CONTENT_ENCODING);
    if !codings.is_empty() {
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    Ok((parts, bytes))
}

/// The most content codings a request body may stack (`gzip, br` is two): each is a pass
/// over the whole body, bounded by `max_body_bytes`.
const MAX_CODINGS: usize = 4;

/// `r`, closing its connection: the rest of the request's body will not be read, so the
/// connection cannot carry another request.
fn closing(mut r: Response<GatewayBody>) -> Box<Response<GatewayBody>> {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Box::new(r)
}

/// `len` bytes of the body budget: at once when there is room (no timer), else waiting
/// at most `wait` for requests to finish; 503 `overloaded` when none do.
async fn take_budget(
    budget: &Arc<tokio::sync::Semaphore>,
    len: usize,
    wait: Duration,
) -> Result<tokio::sync::OwnedSemaphorePermit, Box<Response<GatewayBody>>> {
    // A part is at most `max_body_bytes`, which the budget is never below; a part over
    // `u32::MAX` bytes (never, from hyper) takes that much.
    let n = u32::try_from(len).unwrap_or(u32::MAX);
    if let Ok(p) = Arc::clone(budget).try_acquire_many_owned(n) {
        return Ok(p);
    }
    match tokio::time::timeout(wait, Arc::clone(budget).acquire_many_owned(n)).await {
        Ok(Ok(p)) => Ok(p),
        // Timed out, or (never) closed.
        _ => Err(closing(overloaded(
            "request bodies in flight fill the gateway's memory budget; retry later",
            1,
        ))),
    }
}

#[derive(Serialize)]
struct UpstreamStatus {
    name: String,
    circuit: &'static str,
    in_flight: usize,
    connections: usize,
    latency_ms: f64,
}

#[derive(Serialize)]
struct Stats {
    #[serde(flatten)]
    monitor: MonitorSnapshot,
    upstreams: Vec<UpstreamStatus>,
    audit: Option<sentinel_audit::AuditHealth>,
    /// What the caches hold, and whether their shared levels are down (`caches`, from
    /// the Monitor, holds their hit rates).
    cache_sizes: Vec<sentinel_client::CacheSize>,
    inflight: usize,
    queued: usize,
    /// The lane for large requests: running, waiting, since start, and how many run at
    /// once.
    large_requests: large::LaneStats,
    /// The policy in force, as its version hash for the default tenant (what audit
    /// records carry): a reload shows here.
    policy_version: Arc<str>,
    /// Gateway keys accepted.
    keys: usize,
}

/// Sets what is read rather than counted as it happens, at each scrape: requests in
/// flight, the caches' sizes and shared levels, the audit log's health.
fn publish_state(state: &State, live: &Live) {
    use sentinel_metrics::names::{
        label, BODY_BYTES_IN_FLIGHT, CACHE_BYTES, CACHE_DEGRADED, CACHE_ENTRIES, INFLIGHT_REQUESTS,
    };
    #[allow(clippy::cast_precision_loss)] // counts far below 2^53
    let f = |n: u64| n as f64;
    metrics::gauge!(INFLIGHT_REQUESTS).set(f(state.limiter.running() as u64));
    state.large.publish();
    let held = state.bodies_budget - state.bodies.available_permits().min(state.bodies_budget);
    metrics::gauge!(BODY_BYTES_IN_FLIGHT).set(f(held as u64));
    for c in live.pipeline.cache_sizes() {
        if let Some(bytes) = c.bytes {
            metrics::gauge!(CACHE_BYTES, label::CACHE => c.cache).set(f(bytes));
        }
        if let Some(entries) = c.entries {
            metrics::gauge!(CACHE_ENTRIES, label::CACHE => c.cache).set(f(entries));
        }
        if let Some(down) = c.degraded {
            metrics::gauge!(CACHE_DEGRADED, label::CACHE => c.cache).set(f(u64::from(down)));
        }
    }
    if let Some(audit) = live.pipeline.audit() {
        publish_audit_health(&audit.health());
    }
}

/// Sets the audit log's gauges and counters from its health, read at each scrape (the
/// log keeps the counts; a reload that opens a new log starts them again, which
/// Prometheus reads as a counter reset).
fn publish_audit_health(h: &sentinel_audit::AuditHealth) {
    use sentinel_metrics::names::{
        AUDIT_ARCHIVED_FILES_TOTAL, AUDIT_ARCHIVE_HEALTHY, AUDIT_HEALTHY, AUDIT_QUEUED,
        AUDIT_UNWRITTEN_TOTAL, AUDIT_WRITTEN_TOTAL,
    };
    let one = |ok: bool| if ok { 1.0 } else { 0.0 };
    metrics::gauge!(AUDIT_HEALTHY).set(one(h.healthy));
    metrics::gauge!(AUDIT_ARCHIVE_HEALTHY).set(one(h.archive_error.is_none()));
    #[allow(clippy::cast_precision_loss)] // a queue never nears 2^53 events
    metrics::gauge!(AUDIT_QUEUED).set(h.queued as f64);
    metrics::counter!(AUDIT_WRITTEN_TOTAL).absolute(h.written);
    metrics::counter!(AUDIT_UNWRITTEN_TOTAL).absolute(h.dropped);
    metrics::counter!(AUDIT_ARCHIVED_FILES_TOTAL).absolute(h.archived);
}

fn stats(state: &State, live: &Live) -> Stats {
    let upstreams = live
        .transport
        .pools()
        .iter()
        .flat_map(|p| p.endpoints())
        .map(|e| UpstreamStatus {
            name: e.endpoint.name.clone(),
            circuit: e.breaker.state().as_str(),
            in_flight: e.outstanding(),
            connections: e.connections(),
            latency_ms: e.latency_ewma().as_secs_f64() * 1000.0,
        })
        .collect();
    Stats {
        monitor: live.pipeline.telemetry().monitor().snapshot(),
        upstreams,
        audit: live.pipeline.audit().map(|a| a.health()),
        cache_sizes: live.pipeline.cache_sizes(),
        inflight: state.limiter.running(),
        queued: state.limiter.queued(),
        large_requests: state.large.stats(),
        policy_version: live.pipeline.policy().version_hash(&live.default_tenant),
        keys: live.keys.len(),
    }
}

/// Who counts a response in the metrics and the Monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tally {
    /// The gateway, after answering: it never reached the pipeline (a missing key, a body
    /// too large, a full queue, the request deadline, a body `/analyze` cannot read), or
    /// the pipeline has no part in it (`/v1/models`, Presidio's `/supportedentities` and
    /// `/recognizers`). The error is read from the status.
    Here,
    /// The gateway, with the error known where it happened (the upstream of `/v1/models`).
    Failed(ErrorKind),
    /// The pipeline counted it (`Pipeline::handle`, `Pipeline::scan`, `Pipeline::analyze`,
    /// `Pipeline::anonymized`).
    Pipeline,
    /// Not counted: the operator's own endpoints (health, Presidio's health probe, metrics,
    /// stats, dashboard), so the dashboard's polling does not show as traffic.
    Operator,
}

/// How [`route`] counts a response that [`answer`] gave.
struct Count<'s> {
    by: Tally,
    /// The caller's tenant once its key is known (empty before: a refused key has none).
    tenant: &'s str,
    /// When the request's head was read: its body's deadline counts from here.
    started: std::time::Instant,
}

async fn route(
    state: Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<GatewayBody> {
    let started = std::time::Instant::now();
    let path = req.uri().path().to_owned();
    // Keys and pipeline as they are now: a reload meanwhile does not change this request.
    let live = state.live.load_full();
    let mut count = Count {
        by: Tally::Here,
        tenant: "",
        started,
    };
    let response = answer(&state, &live, req, &path, peer, &mut count).await;
    let error = match count.by {
        Tally::Pipeline | Tally::Operator => return response,
        Tally::Here => error_kind(response.status()),
        Tally::Failed(kind) => Some(kind),
    };
    let status = response.status().as_u16();
    let mut record = RequestRecord::new(&path, "", status, started.elapsed());
    record.error = error;
    record.tenant = count.tenant;
    live.pipeline.telemetry().record(&record);
    response
}

/// The error a status the gateway answered on its own stands for.
fn error_kind(status: StatusCode) -> Option<ErrorKind> {
    Some(match status.as_u16() {
        0..=399 => return None,
        401 | 403 => ErrorKind::Unauthorized,
        429 => ErrorKind::RateLimited,
        413 => ErrorKind::PayloadTooLarge,
        503 => ErrorKind::Overloaded,
        400..=499 => ErrorKind::BadRequest,
        _ => ErrorKind::Internal,
    })
}

async fn answer<'s>(
    state: &'s Arc<State>,
    live: &'s Arc<Live>,
    req: Request<Incoming>,
    path: &str,
    peer: SocketAddr,
    count: &mut Count<'s>,
) -> Response<GatewayBody> {
    if head_too_large(&req, live.connections.max_header_bytes) {
        return *closing(error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "invalid_request_error",
            "request_header_fields_too_large",
            &format!(
                "the request head is larger than {} bytes",
                live.connections.max_header_bytes
            ),
        ));
    }
    let method = req.method().clone();
    if matches!(
        (method.as_str(), path),
        (
            "GET",
            "/healthz" | "/health" | "/readyz" | "/dashboard" | "/metrics" | "/v1/sentinel/stats"
        )
    ) {
        count.by = Tally::Operator;
    }
    match (method.as_str(), path) {
        ("GET", "/healthz") => return json_response(StatusCode::OK, &json!({"status": "ok"})),
        // Presidio's health probe, for its clients.
        ("GET", "/health") => {
            return full(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                "DeepSentinel's Presidio-compatible analyzer is up",
            )
        }
        ("GET", "/readyz") => {
            let audit_ok = live.pipeline.audit().is_none_or(|a| a.health().healthy);
            let upstream_ok = live
                .transport
                .pools()
                .iter()
                .flat_map(|p| p.endpoints())
                .any(|e| e.breaker.is_available());
            let stopping = state.stopping.load(std::sync::atomic::Ordering::Relaxed);
            let status = if audit_ok && upstream_ok && !stopping {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            return json_response(
                status,
                &json!({"audit": audit_ok, "upstream": upstream_ok, "stopping": stopping}),
            );
        }
        ("GET", "/dashboard") => {
            return full(
                StatusCode::OK,
                "text/html; charset=utf-8",
                include_str!("dashboard.html"),
            );
        }
        _ => {}
    }
    let (tenant, priority, rate) = match authenticate(live, req.headers(), peer) {
        Ok(t) => t,
        Err(refused) => {
            // A refused caller is traffic, whichever path it asked for, and on record.
            count.by = Tally::Here;
            let id = request_id(req.headers()).unwrap_or_else(new_request_id);
            let presented = match &refused {
                Refused::Unauthorized { presented } => presented.as_deref(),
                Refused::LoopbackOnly { .. } => None,
            };
            live.pipeline.record_refusal(&Refusal {
                request_id: &id,
                route: known_route(&method, path),
                reason: refused.reason(),
                credential: presented,
            });
            let mut r = refused.response();
            if let Ok(id) = HeaderValue::from_str(&id) {
                r.headers_mut().insert(REQUEST_ID_HEADER, id);
            }
            return r;
        }
    };
    count.tenant = tenant;
    // The operator's pages do no work for the key; everything else spends its budget.
    let operator = matches!(path, "/metrics" | "/v1/sentinel/stats");
    if let (Some(rate), false) = (rate, operator) {
        if let Err(wait) = rate.check() {
            return rate_limited(rate, wait);
        }
    }
    match (method.as_str(), path) {
        ("GET", "/metrics") => {
            return match &state.prometheus {
                Some(h) => {
                    publish_state(state, live);
                    full(StatusCode::OK, "text/plain; version=0.0.4", h.render())
                }
                None => error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "metrics_disabled",
                    "no metrics recorder installed",
                ),
            }
        }
        ("GET", "/v1/sentinel/stats") => return json_response(StatusCode::OK, &stats(state, live)),
        // Presidio's lists, for any `language` (detection is language-neutral).
        ("GET", "/supportedentities") => {
            let detection = live.pipeline.detection();
            return json_response(StatusCode::OK, &presidio::supported_entities(detection));
        }
        ("GET", "/recognizers") => {
            let detection = live.pipeline.detection();
            return json_response(StatusCode::OK, &presidio::recognizers(detection));
        }
        ("GET", p) if p == "/v1/models" || p.starts_with("/v1/models/") => {
            let Some(upstream_path) = models_path(p) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "unknown_route",
                    "no such route",
                );
            };
            let mut out = OutboundRequest::get(&upstream_path);
            out.headers = live.headers.outbound(req.headers());
            if let Some((name, value)) = client_credential(live, req.headers()) {
                out = out.with_credential(name, value);
            }
            let sent = match live.transport.send(out).await {
                Ok(mut r) => {
                    let status = r.status;
                    let headers = std::mem::take(&mut r.headers);
                    r.bytes().await.map(|b| (status, headers, b))
                }
                Err(e) => Err(e),
            };
            return match sent {
                Ok((status, headers, b)) => {
                    let mut r = full(status, "application/json", b);
                    live.headers.inbound(&headers, r.headers_mut());
                    r
                }
                Err(e) => {
                    let e = PipelineError::Transport(e);
                    count.by = Tally::Failed(e.kind());
                    pipeline_error(&e)
                }
            };
        }
        _ => {}
    }
    // Held until this request is answered: its body's share of the budget.
    let (parts, body, held) = match read_body(live, &state.bodies, req, count.started).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    // Looked up once: the lane's choice and the decoding both need it.
    let encoded = parts.headers.contains_key(header::CONTENT_ENCODING);
    if !live.is_large(&method, path, encoded, body.len()) {
        let read = Read {
            method,
            path,
            tenant,
            priority,
            parts,
            body,
            encoded,
            held,
            in_lane: false,
        };
        return handle_read(state, live, read, &mut count.by).await;
    }
    // A large body is worked on in the lane, while this thread answers others.
    let (lane_state, lane_live) = (Arc::clone(state), Arc::clone(live));
    let (path, tenant) = (path.to_owned(), tenant.to_owned());
    let work = async move {
        let read = Read {
            method,
            path: &path,
            tenant: &tenant,
            priority,
            parts,
            body,
            encoded,
            held,
            in_lane: true,
        };
        let mut by = Tally::Here;
        let r = handle_read(&lane_state, &lane_live, read, &mut by).await;
        (r, by)
    };
    // A place in the lane is waited for as long as the request may take.
    match state.large.run(Box::pin(work), live.request_timeout).await {
        Ok((r, by)) => {
            count.by = by;
            r
        }
        Err(e) => lane_failed(e),
    }
}

/// The answer to a request the large requests' lane did not finish: 503 `overloaded`
/// (with `Retry-After`) when no place came free in time, 500 when its work panicked.
fn lane_failed(e: LaneError) -> Response<GatewayBody> {
    match e {
        LaneError::Full => overloaded(
            "the gateway's lane for large requests is full; retry later",
            1,
        ),
        LaneError::Failed => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            "the request could not be handled",
        ),
    }
}

/// A request whose body has been read (not yet decoded), as [`answer`] hands it on.
struct Read<'r> {
    method: Method,
    path: &'r str,
    tenant: &'r str,
    priority: Priority,
    parts: http::request::Parts,
    body: Bytes,
    /// The body came with a `Content-Encoding`.
    encoded: bool,
    /// The body's share of the budget, held until the request is answered.
    held: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Already worked on in the large requests' lane.
    in_lane: bool,
}

/// Answers a request whose body has been read: decodes the body, then does the route's
/// work (the pipeline's, a scan's, Presidio's), counted in `by`.
async fn handle_read(
    state: &State,
    live: &Live,
    read: Read<'_>,
    by: &mut Tally,
) -> Response<GatewayBody> {
    let Read {
        method,
        path,
        tenant,
        priority,
        parts,
        body,
        encoded,
        mut held,
        in_lane,
    } = read;
    let (parts, body) = match decoded(live, &state.bodies, parts, body, encoded, &mut held).await {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let _held = held;
    let route = Route::of(&method, path).or_else(|| match live.other_routes {
        // A path no route names, through the pipeline with every string decided.
        OtherRoutes::Scan => Route::other(&method, path).map(|r| (r, Some(path))),
        OtherRoutes::Refuse => None,
    });
    let native = matches!(
        (method.as_str(), path),
        (
            "POST",
            "/analyze" | "/anonymize" | "/deanonymize" | "/v1/sentinel/scan"
        )
    );
    if route.is_none() && !native {
        let allowed = allowed_methods(path);
        if !allowed.is_empty() {
            let mut r = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                "method_not_allowed",
                // The path is not echoed: an id in it is the caller's.
                &format!("this route takes {}", allowed.join(", ")),
            );
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                r.headers_mut().insert(header::ALLOW, v);
            }
            return r;
        }
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "unknown_route",
            "no such route",
        );
    }
    // Scans take their turn with the proxied requests: they cost the same detection.
    let permit = match state.limiter.acquire(priority).await {
        Ok(p) => p,
        Err(e) => return pipeline_error(&PipelineError::Transport(e)),
    };
    let Some(route) = route else {
        return match path {
            "/analyze" => {
                let who = (tenant, request_id(&parts.headers));
                presidio_analyze(&live.pipeline, &state.ad_hoc, who, &body, by).await
            }
            "/anonymize" | "/deanonymize" => {
                let id = request_id(&parts.headers).unwrap_or_else(new_request_id);
                let who = (tenant, id.as_str());
                let what = match path {
                    "/anonymize" => Operated::Anonymized,
                    _ => Operated::Deanonymized,
                };
                presidio_anonymize(&live.pipeline, what, who, &body, by)
            }
            _ => {
                let id = request_id(&parts.headers).unwrap_or_else(new_request_id);
                native_scan(&live.pipeline, tenant, &id, &body, by).await
            }
        };
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (route, resource) = route;
    let mut preq = PipelineRequest::new(route, tenant, body);
    preq.resource = resource.map(str::to_owned);
    preq.query = parts.uri.query().map(str::to_owned);
    preq.priority = priority;
    preq.upstream_credential = client_credential(live, &parts.headers);
    preq.conversation = header("x-deepsentinel-conversation");
    preq.cache_control = header("cache-control");
    preq.cache_opt_in = header("x-deepsentinel-cache").as_deref() == Some("on");
    preq.content_type = header("content-type");
    preq.upstream_headers = live.headers.outbound(&parts.headers);
    if let Some(id) = request_id(&parts.headers) {
        preq.request_id = id;
    }
    // The id the audit records carry, for the caller to quote (printable ASCII, so a
    // valid header value).
    let id = HeaderValue::from_str(&preq.request_id).ok();
    // The pipeline keeps the deadline, so the exchange is counted and recorded as a
    // timeout there.
    preq.deadline = Some(live.request_timeout);
    // A whole answer that large moves the rest of the work to the lane, on routes whose
    // answers are not bounded by one model output (the generation routes, the busiest,
    // keep their futures unboxed).
    let moves = !in_lane && !route.answer_is_bounded();
    let handled = match live.large_body.filter(|_| moves) {
        Some(at) => {
            let large = LargeAnswer::new(at);
            preq.large_answer = Some(large.clone());
            let pipeline = Arc::clone(&live.pipeline);
            let work = Box::pin(async move { pipeline.handle(preq).await });
            state
                .large
                .run_from(work, move || large.came(), live.request_timeout)
                .await
        }
        None => Ok(live.pipeline.handle(preq).await),
    };
    // Work that panicked in the lane never reached the pipeline's count.
    let handled = match handled {
        Ok(h) => h,
        Err(e) => return lane_failed(e),
    };
    *by = Tally::Pipeline;
    let mut r = match handled {
        Err(e) => {
            let mut r = pipeline_error(&e);
            if let PipelineError::Upstream { headers, .. } = &e {
                live.headers.inbound(headers, r.headers_mut());
            }
            r
        }
        Ok(mut response) => {
            let upstream = std::mem::take(&mut response.upstream_headers);
            let cache_hit = response.cache_hit;
            let mut r = pipeline_response(response, permit);
            if cache_hit {
                r.headers_mut()
                    .insert(CACHE_HEADER, HeaderValue::from_static("hit"));
            }
            live.headers.inbound(&upstream, r.headers_mut());
            r
        }
    };
    if let Some(id) = id {
        r.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    r
}

/// The pipeline's answer as the caller's response; a streamed one holds `permit` (its
/// place in the concurrency limit) until it ends.
fn pipeline_response(
    response: sentinel_client::PipelineResponse,
    permit: sentinel_transport::Permit,
) -> Response<GatewayBody> {
    let content_type = response.content_type;
    match response.body {
        PipelineBody::Full(b) => full(response.status, &content_type, b),
        PipelineBody::Stream(mut stream) => {
            let (mut tx, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(16);
            tokio::spawn(async move {
                // The permit lives as long as the stream.
                let _permit = permit;
                while let Some(piece) = stream.next().await {
                    match piece {
                        Ok(b) => {
                            if tx.send_data(b).await.is_err() {
                                return; // the client went away
                            }
                        }
                        Err(e) => {
                            tx.abort(std::io::Error::other(e.to_string()));
                            return;
                        }
                    }
                }
            });
            let mut r = Response::new(body.boxed());
            *r.status_mut() = response.status;
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        }
    }
}

/// The caller's `X-Request-Id` ([`printable_id`]).
fn request_id(headers: &http::HeaderMap) -> Option<String> {
    Some(printable_id(headers.get("x-request-id")?.to_str().ok()?))
}

/// A caller's id for its request as the audit records and the `X-Request-Id` answered
/// carry it: printable ASCII only, at most 128 characters.
fn printable_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(128)
        .collect()
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response<GatewayBody>>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_body",
            &format!("body is not the expected JSON ({e})"),
        ))
    })
}

/// Presidio's `/analyze`, answered by the detection stage as configured (local, or with the
/// remote per the mode; each text on record and counted by [`Pipeline::analyze`] for
/// `who`, the tenant and the caller's `X-Request-Id`, else the request's `correlation_id`,
/// else a fresh id), and by the request's ad-hoc recognizers, with its context words and
/// allow list ([`presidio::Rules`]). What the request brings of its own is compiled off
/// the runtime's thread the first time it is sent ([`own_rules`]).
async fn presidio_analyze(
    pipeline: &Pipeline,
    compiled: &OwnCompiled,
    (tenant, header_id): (&str, Option<String>),
    body: &Bytes,
    tally: &mut Tally,
) -> Response<GatewayBody> {
    let req = match parse::<presidio::AnalyzeRequest>(body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let request_id = header_id
        .or_else(|| req.correlation_id.as_deref().map(printable_id))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(new_request_id);
    let request_id = request_id.as_str();
    let refused = match (req.text.as_slice().len(), req.context.len()) {
        (0, _) => Some("text is an empty list: nothing to analyze".to_owned()),
        (n, _) if n > presidio::MAX_TEXTS => Some(format!(
            "text is a list of {n}; at most {} are taken a request",
            presidio::MAX_TEXTS
        )),
        (_, n) if n > presidio::MAX_CONTEXT_WORDS => Some(format!(
            "context holds {n} words; at most {} are taken",
            presidio::MAX_CONTEXT_WORDS
        )),
        _ => None,
    };
    if let Some(message) = refused {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_body",
            &message,
        );
    }
    let (req, own) = match own_rules(compiled, req).await {
        Ok(x) => x,
        Err(message) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_ad_hoc_recognizer",
                &message,
            )
        }
    };
    *tally = Tally::Pipeline;
    let mut analyses = Vec::with_capacity(req.text.as_slice().len());
    for text in req.text.as_slice() {
        let mut extra = own.as_ref().map_or_else(Vec::new, |o| o.scan(text));
        match pipeline.analyze(tenant, request_id, text, &mut extra).await {
            Ok(found) => analyses.push((text.as_str(), found.findings, extra)),
            Err(e) => return pipeline_error(&e),
        }
    }
    let rules = presidio::Rules::new(&req, own.as_deref());
    let detection = pipeline.detection();
    let mut answers = analyses
        .iter()
        .map(|(text, findings, extra)| presidio::analyze(detection, &rules, text, findings, extra));
    match &req.text {
        // One text, one analysis (`Some`, written as the list it holds).
        presidio::Texts::One(_) => json_response(StatusCode::OK, &answers.next()),
        presidio::Texts::Many(_) => json_response(StatusCode::OK, &Streamed::new(answers)),
    }
}

/// What `req` brings of its own ([`presidio::Own`]), compiled: from `compiled` when it was
/// sent before, else on a blocking thread, one set at a time (`compiled`'s turn), while
/// requests that send the same set wait for it rather than compile it again. A set that
/// cannot be taken is kept too, with its error, so that it is refused without a second
/// compile.
async fn own_rules(
    compiled: &OwnCompiled,
    req: presidio::AnalyzeRequest,
) -> Result<(presidio::AnalyzeRequest, Option<Arc<presidio::Own>>), String> {
    let Some(key) = presidio::own_key(&req) else {
        return Ok((req, None));
    };
    let guard = match compiled.cache.get_value_or_guard_async(&key).await {
        Ok(kept) => return kept.map(|own| (req, own)).map_err(|e| e.to_string()),
        Err(guard) => guard,
    };
    let built = {
        let _turn = compiled.turn.acquire().await;
        tokio::task::spawn_blocking(move || {
            let own = presidio::own(&req, presidio::AD_HOC_MAX_BYTES)
                .map(|o| (!o.is_empty()).then(|| Arc::new(o)));
            (req, own)
        })
        .await
    };
    match built {
        Ok((req, own)) => {
            let kept = own.map_err(Arc::<str>::from);
            // Another request's insert in between is the same set's.
            let _ = guard.insert(kept.clone());
            kept.map(|own| (req, own)).map_err(|e| e.to_string())
        }
        // A compile that panicked: nothing kept, the request refused.
        Err(_) => Err("the ad-hoc recognizers could not be compiled".to_owned()),
    }
}

/// What `/analyze` requests brought of their own, compiled, and the turn their compiles
/// take.
struct OwnCompiled {
    cache: OwnCache,
    /// One compile at a time: a caller sending new heavy sets with every request spends
    /// one blocking thread's CPU, not all of the machine's.
    turn: tokio::sync::Semaphore,
}

impl OwnCompiled {
    fn new() -> OwnCompiled {
        OwnCompiled {
            cache: OwnCache::with_weighter(AD_HOC_KEPT, AD_HOC_KEPT_BYTES, OwnWeight),
            turn: tokio::sync::Semaphore::new(1),
        }
    }
}

/// A compiled set as kept: `None` when none of it applies to the request's language, an
/// error when it cannot be taken.
type Kept = Result<Option<Arc<presidio::Own>>, Arc<str>>;

/// Compiled sets by what was sent, weighed by the bytes they hold.
type OwnCache = quick_cache::sync::Cache<String, Kept, OwnWeight>;

/// An entry's weight in [`OwnCache`]: its key's bytes and its programs' (or its error's).
#[derive(Clone)]
struct OwnWeight;

impl quick_cache::Weighter<String, Kept> for OwnWeight {
    fn weight(&self, key: &String, kept: &Kept) -> u64 {
        let held = match kept {
            Ok(own) => own.as_ref().map_or(0, |o| o.bytes()),
            Err(e) => e.len(),
        };
        u64::try_from(key.len() + held).unwrap_or(u64::MAX).max(1)
    }
}

/// About how many sets of ad-hoc recognizers are kept compiled, and the most bytes they
/// hold together: callers sending many sets of large patterns cannot make the cache grow
/// past it.
const AD_HOC_KEPT: usize = 64;
const AD_HOC_KEPT_BYTES: u64 = 64 << 20;

/// Presidio's `/anonymize` and `/deanonymize` (`what`): the caller's results and
/// operators applied, on record and counted by [`Pipeline::anonymized`] for `who`, the
/// tenant and request id (a record that cannot be written under the fail-closed stance
/// withholds the answer).
fn presidio_anonymize(
    pipeline: &Pipeline,
    what: Operated,
    (tenant, request_id): (&str, &str),
    body: &Bytes,
    tally: &mut Tally,
) -> Response<GatewayBody> {
    let started = std::time::Instant::now();
    // The values in clear: in the request's text going in (taken out of the request, not
    // copied), in the answer's coming out.
    let (going_in, operated) = match what {
        Operated::Anonymized => match parse::<presidio::AnonymizeRequest>(body) {
            Ok(req) => {
                let operated = presidio::anonymize(&req);
                (Some(req.into_text()), operated)
            }
            Err(r) => return *r,
        },
        Operated::Deanonymized => match parse::<presidio::DeanonymizeRequest>(body) {
            Ok(req) => (None, presidio::deanonymize(&req)),
            Err(r) => return *r,
        },
    };
    let (out, applied) = match operated {
        Ok(x) => x,
        Err(unapplied) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request_error",
                unapplied.code(),
                &unapplied.to_string(),
            )
        }
    };
    *tally = Tally::Pipeline;
    let took = started.elapsed();
    let clear = going_in.as_deref().unwrap_or(out.text());
    match pipeline.anonymized(what, tenant, request_id, clear, &applied, took) {
        Ok(()) => json_response(StatusCode::OK, &out),
        Err(e) => pipeline_error(&e),
    }
}

#[derive(serde::Deserialize)]
struct ScanRequest {
    text: String,
    #[serde(default)]
    direction: Option<String>,
}

/// The native scan: the findings of the detection stage as configured, and the tenant's
/// decision on them, audited ([`sentinel_client::Pipeline::scan`]).
async fn native_scan(
    pipeline: &Pipeline,
    tenant: &str,
    request_id: &str,
    body: &Bytes,
    tally: &mut Tally,
) -> Response<GatewayBody> {
    let req = match parse::<ScanRequest>(body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let direction = if req.direction.as_deref() == Some("response") {
        Direction::Response
    } else {
        Direction::Request
    };
    *tally = Tally::Pipeline;
    let outcome = match pipeline
        .scan(tenant, request_id, &req.text, direction)
        .await
    {
        Ok(o) => o,
        Err(e) => return pipeline_error(&e),
    };
    #[derive(Serialize)]
    struct Record<'a> {
        entity_type: &'a str,
        start: usize,
        end: usize,
        score: f32,
        recognizer: &'a str,
    }
    #[derive(Serialize)]
    struct Why<'a> {
        entity_type: &'a str,
        rule: &'a str,
    }
    #[derive(Serialize)]
    struct Answer<'a, F: Serialize> {
        findings: F,
        decision: &'a str,
        text: Option<&'a str>,
        reasons: Vec<Why<'a>>,
        request_id: &'a str,
        policy_version: &'a str,
    }
    let mut offsets = sentinel_detect::CharOffsets::new(&req.text);
    let detection = pipeline.detection();
    let version = pipeline.policy().version_hash(tenant);
    // Each finding written as it is made: a dense text has hundreds of thousands.
    let findings = Streamed::new(outcome.findings.iter().map(|f| Record {
        entity_type: f.entity.as_str(),
        start: offsets.char_offset(f.start),
        end: offsets.char_offset(f.end),
        score: f.score,
        recognizer: detection.recognizer_name(f.recognizer),
    }));
    json_response(
        StatusCode::OK,
        &Answer {
            findings,
            decision: outcome.decision,
            text: outcome.text.as_deref(),
            reasons: outcome
                .reasons
                .iter()
                .map(|r| Why {
                    entity_type: &r.entity,
                    rule: &r.rule,
                })
                .collect(),
            request_id,
            policy_version: &version,
        },
    )
}

/// A list serialized from an iterator as it is written, so that a long one is never
/// held whole. Serialized once; a second time it is empty.
pub(crate) struct Streamed<I>(std::cell::RefCell<Option<I>>);

impl<I> Streamed<I> {
    pub(crate) fn new(items: I) -> Streamed<I> {
        Streamed(std::cell::RefCell::new(Some(items)))
    }
}

impl<I> Serialize for Streamed<I>
where
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.borrow_mut().take() {
            Some(items) => s.collect_seq(items),
            None => s.collect_seq(std::iter::empty::<I::Item>()),
        }
    }
}
