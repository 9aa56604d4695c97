//! `SentinelConfig`: one TOML file for the SDK and the gateway, and building the pipeline
//! from it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use sentinel_audit::{AuditSink, Durability, FailurePolicy, FileSink, FileSinkConfig};
use sentinel_cache::{
    CacheConfig, CachedResponse, MemoryCache, ResponseCachePolicy, TieredCache, TieredConfig,
};
use sentinel_detect::{DetectionConfig, LocalDetector};
use sentinel_metrics::Telemetry;
use sentinel_policy::{PolicyEngine, PolicySet};
use sentinel_transport::{
    Endpoint, HttpTransport, LimitConfig, Limits, PoolConfig, RetryConfig, Timeouts, Transport,
    TransportConfig, Upstream,
};

use crate::detection::{Detection, DetectionMode, RemoteDetector, RemoteSettings};
use crate::pipeline::{Pipeline, PipelineConfig, Stance};
use crate::segments::Route;
use crate::shared_vault::SharedVault;

/// A configuration that cannot be used; messages name the section and key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The whole configuration.
///
/// ```toml
/// tenant = "default"                 # the SDK's tenant (the gateway maps keys to tenants)
///
/// [detection]
/// mode = "local"                     # local | hybrid | remote_first
/// recognizers = "detection.toml"     # custom recognizers, allow/deny lists (optional)
/// cache_max_bytes = 67108864
/// [detection.remote]                 # Presidio Analyzer (or a DeepSentinel gateway)
/// url = "http://127.0.0.1:5002"
/// threshold = 0.6
/// entities = ["PERSON", "LOCATION"]
/// timeout_ms = 2000
/// stream_window_bytes = 512          # streamed answers go to the remote in such windows
///
/// [policy]
/// preset = "strict"                  # or: file = "policy.toml"
///
/// [cache]
/// response = false                   # cache answers of deterministic requests
/// max_bytes = 67108864
/// ttl_seconds = 300
///
/// [network]
/// upstream = "https://api.openai.com/v1"
/// api_key_env = "OPENAI_API_KEY"     # the environment variable, never the key
/// # api_key_file = "/run/secrets/openai"  # or a file holding it (read again on reload)
/// auth = "bearer"                    # bearer | x-api-key (Anthropic)
/// forward_client_key = false         # the gateway sends callers' own upstream keys
/// timeout_ms = 600000
/// max_retries = 2
/// max_concurrent = 256
///
/// [audit]
/// dir = "./deepsentinel-audit"       # absent: no audit log
/// sync = "interval"                  # always | interval | never
/// archive_dir = "/archive/audit"     # rotated files moved there; absent: they stay
/// anchor_interval_seconds = 300      # head logged as an anchor; 0: never
///
/// [failure]
/// detector = "fail_closed"           # or fail_open
/// audit = "fail_closed"
///
/// [metrics]
/// per_tenant = false                 # deepsentinel_tenant_* counters
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The SDK's tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Detection.
    #[serde(default)]
    pub detection: DetectionSection,
    /// Policy.
    #[serde(default)]
    pub policy: PolicySection,
    /// Caches.
    #[serde(default)]
    pub cache: CacheSection,
    /// The upstream.
    #[serde(default)]
    pub network: NetworkSection,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditSection,
    /// Failure stances.
    #[serde(default)]
    pub failure: FailureSection,
    /// The gateway's HTTP server (`deepsentinel serve`).
    #[serde(default)]
    pub server: ServerSection,
    /// Gateway API keys, stored hashed, each mapping to a tenant.
    #[serde(default, rename = "key")]
    pub keys: Vec<KeySection>,
    /// Metrics.
    #[serde(default)]
    pub metrics: MetricsSection,
}

/// `[metrics]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Count requests (by outcome) and findings (by entity) per tenant too (default
    /// false). Tenants come from the configuration (keys, the SDK's tenant), never from
    /// what a caller sends; at most 64 are named, the rest counted as `other`.
    #[serde(default)]
    pub per_tenant: bool,
}

/// `[server]`: the gateway's listener and limits.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// The address to listen on (default `127.0.0.1:8080`).
    #[serde(default)]
    pub listen: Option<String>,
    /// A PEM certificate chain: with `tls_key`, the gateway serves HTTPS (HTTP/1.1 and
    /// HTTP/2 by ALPN).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// The largest request body (default 32 MiB: long contexts, inline images).
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// The bodies of all requests being read or handled at once, together (default
    /// 256 MiB, at least `max_body_bytes`): past it, a body waits for room as it arrives,
    /// and is answered 503 when none comes within `body_read_timeout_ms`. Read at start.
    #[serde(default)]
    pub max_body_bytes_in_flight: Option<usize>,
    /// A request whose body is at least this many bytes (default 1 MiB; `0`: none), or
    /// comes compressed and is at least a 256th of it (it may decode to that much), is
    /// decoded, parsed, scanned, decided and written again on a thread of its own, so
    /// that the threads serving requests keep answering small ones meanwhile. As many
    /// such requests are worked on at once as `large_workers` says; more wait their turn.
    pub large_body_bytes: Option<usize>,
    /// How many large requests use the CPU at once (default: the cores less one, at least
    /// one); more wait their turn, and one waiting for its upstream holds none. Must be at
    /// least 1. Read at start.
    pub large_workers: Option<usize>,
    /// The largest request head (default 64 KiB).
    #[serde(default)]
    pub max_header_bytes: Option<usize>,
    /// Milliseconds a client has to send its request head (default 10 000).
    #[serde(default)]
    pub header_read_timeout_ms: Option<u64>,
    /// Milliseconds a request body may pause between two of its parts (default 30 000);
    /// the whole body has `request_timeout_ms`. A client past either gets 408.
    #[serde(default)]
    pub body_read_timeout_ms: Option<u64>,
    /// Milliseconds a request may take, upstream included (default 600 000).
    #[serde(default)]
    pub request_timeout_ms: Option<u64>,
    /// Requests handled at once; more wait by tenant priority (default 1024).
    #[serde(default)]
    pub max_concurrent: Option<usize>,
    /// Milliseconds in-flight requests get to finish at shutdown (default 30 000).
    #[serde(default)]
    pub shutdown_grace_ms: Option<u64>,
    /// Milliseconds the gateway keeps accepting after SIGTERM, with `/readyz` answering
    /// 503, before it stops accepting and drains (default 0). Behind a load balancer that
    /// polls readiness (Kubernetes), this lets it stop sending before the port closes.
    #[serde(default)]
    pub shutdown_delay_ms: Option<u64>,
    /// Threads that serve requests (default: one per core). `1` serves every request on
    /// one thread, with no work stealing and no wake-ups between threads, as nginx's
    /// `worker_processes 1` does: the least CPU per request, for a gateway given one core
    /// or sharing a small machine. Requests past `large_body_bytes` are worked on beside
    /// them, on threads of their own. Must be at least 1.
    #[serde(default)]
    pub workers: Option<usize>,
    /// Headers of a caller's request the gateway sends on to the upstream: names, or
    /// prefixes ending in `*` (default `openai-beta`, `anthropic-version`,
    /// `anthropic-beta`; `[]` sends none). Add `openai-organization` and `openai-project`
    /// only where callers may pick whom the provider bills (their own keys, or a key
    /// scoped to one project). Credentials, cookies, framing and the gateway's own
    /// `x-deepsentinel-` headers never pass.
    #[serde(default)]
    pub forward_request_headers: Option<Vec<String>>,
    /// Headers of the upstream's answer the gateway passes on to the caller, likewise
    /// (default `x-request-id`, `request-id`, `retry-after`, `retry-after-ms`,
    /// `x-ratelimit-*`, `openai-*`, `anthropic-*`; `[]` passes none). `set-cookie`,
    /// framing and `x-deepsentinel-` headers never pass.
    #[serde(default)]
    pub forward_response_headers: Option<Vec<String>>,
    /// What happens to a request on a path under `/v1/` that none of the gateway's routes
    /// names (default `refuse`).
    #[serde(default)]
    pub other_routes: OtherRoutes,
}

/// `[server] other_routes`: requests on paths the gateway has no route for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtherRoutes {
    /// 404 `unknown_route`: nothing the gateway cannot read reaches the provider.
    #[default]
    Refuse,
    /// Through the pipeline as [`Route::Other`](crate::Route::Other): every string of the
    /// JSON body (or a form's text fields, file names and text files) and of the answer
    /// is decided; any other body gets 400.
    Scan,
}

impl ServerSection {
    /// The runtime `workers` asks for: one thread (a current-thread runtime, so no work
    /// stealing and no wake-ups between threads), that many threads, or one per core.
    ///
    /// # Errors
    ///
    /// `workers = 0`, or the runtime cannot start.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let mut builder = match self.workers {
            Some(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "[server] workers must be at least 1",
                ))
            }
            Some(1) => tokio::runtime::Builder::new_current_thread(),
            Some(n) => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(n);
                b
            }
            None => tokio::runtime::Builder::new_multi_thread(),
        };
        builder.enable_all().build()
    }
}

/// `[[key]]`: one gateway API key.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySection {
    /// `sha256:` and the hex SHA-256 of the key (`deepsentinel key hash` prints it).
    pub hash: String,
    /// The tenant the key belongs to.
    pub tenant: String,
    /// The tenant's priority when the gateway is busy: critical, high, normal, low.
    #[serde(default)]
    pub priority: Option<String>,
    /// Requests this key may make a minute (default: no limit); past it the gateway
    /// answers 429 `rate_limit_exceeded` with `retry-after`. Each key has its own budget.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Requests the key may make at once after being idle (default: `requests_per_minute`);
    /// only with `requests_per_minute`.
    #[serde(default)]
    pub burst: Option<u32>,
}

/// `[detection]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionSection {
    /// The mode.
    #[serde(default)]
    pub mode: DetectionMode,
    /// A detection TOML file (custom recognizers, allow and deny lists).
    #[serde(default)]
    pub recognizers: Option<PathBuf>,
    /// The detection cache's byte cap (default 64 MiB).
    #[serde(default)]
    pub cache_max_bytes: Option<u64>,
    /// The remote detector.
    #[serde(default)]
    pub remote: Option<RemoteSection>,
}

/// `[detection.remote]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteSection {
    /// The Presidio Analyzer base URL.
    pub url: String,
    /// Hybrid: ask when a local finding scores below this (default 0.6).
    #[serde(default)]
    pub threshold: Option<f32>,
    /// Entity types only the remote knows (default PERSON, LOCATION).
    #[serde(default)]
    pub entities: Option<Vec<String>>,
    /// Milliseconds to wait (default 2000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Seconds remote answers are reused (default 600).
    #[serde(default)]
    pub cache_ttl_seconds: Option<u64>,
    /// Presidio's language (default `en`).
    #[serde(default)]
    pub language: Option<String>,
    /// Bytes of a streamed answer's text sent to the remote at a time (default 512).
    #[serde(default)]
    pub stream_window_bytes: Option<usize>,
}

/// `[policy]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// A preset (default `strict`).
    #[serde(default)]
    pub preset: Option<String>,
    /// A policy file (wins over `preset`).
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// `[cache]`.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// Cache answers (default false).
    #[serde(default)]
    pub response: bool,
    /// The response cache's byte cap (default 64 MiB).
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Seconds an answer is reused (default 300).
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// Only deterministic requests unless opted in (default true).
    #[serde(default)]
    pub deterministic_only: Option<bool>,
    /// Routes whose answers may be cached (default all).
    #[serde(default)]
    pub routes: Vec<String>,
    /// Models whose answers may be cached (default all).
    #[serde(default)]
    pub models: Vec<String>,
    /// A Redis level behind the memory, shared by replicas:
    /// `redis://[:PASSWORD@]HOST:PORT/DB` (feature `redis`; default none). What goes there
    /// is sealed under the secret `redis_key_env` names.
    #[serde(default)]
    pub redis_url: Option<String>,
    /// The environment variable holding the secret that seals answers in Redis, the same
    /// on every replica (default `DEEPSENTINEL_CACHE_KEY`).
    #[serde(default)]
    pub redis_key_env: Option<String>,
    /// Redis entries are named this and the key in hex (default `deepsentinel:response:`).
    #[serde(default)]
    pub redis_prefix: Option<String>,
    /// Each Redis operation gives up after this long (default 50); a failure serves from
    /// memory only for 5 s.
    #[serde(default)]
    pub redis_timeout_ms: Option<u64>,
    /// Keep the pseudonym vault's conversation scopes in the Redis level too, sealed, so
    /// that a conversation restores its pseudonyms on any replica and after a restart
    /// (default false; needs `redis_url`). Entries are named `redis_prefix` and `vault:`
    /// and the key (default `deepsentinel:vault:`), kept for the vault's `ttl_seconds`.
    #[serde(default)]
    pub share_vault: bool,
}

impl std::fmt::Debug for CacheSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheSection")
            .field("response", &self.response)
            .field("max_bytes", &self.max_bytes)
            .field("ttl_seconds", &self.ttl_seconds)
            .field("deterministic_only", &self.deterministic_only)
            .field("routes", &self.routes)
            .field("models", &self.models)
            // A URL may carry a password: only whether there is one.
            .field("redis_url", &self.redis_url.as_ref().map(|_| "(set)"))
            .field("redis_key_env", &self.redis_key_env)
            .field("redis_prefix", &self.redis_prefix)
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .field("share_vault", &self.share_vault)
            .finish()
    }
}

/// The sealed shared stores of a level: the pseudonym vault's, the response cache's.
type LevelStores = (
    Option<Arc<dyn sentinel_cache::SharedStore>>,
    Option<Arc<dyn sentinel_cache::SharedStore>>,
);

/// The Redis level `[cache]` describes, checked: URL, sealing secret, prefix, timeout.
/// Without the `redis` feature there is none: [`SharedLevel::check_url`] refuses every URL.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
struct SharedLevel {
    url: String,
    secret: Vec<u8>,
    /// `redis_prefix` as given, if it was.
    prefix: Option<String>,
    timeout: Duration,
}

impl SharedLevel {
    /// Whether `url` is a Redis URL the client accepts (parsed, not connected; the error
    /// never repeats it, it may hold a password).
    #[cfg(feature = "redis")]
    fn check_url(url: &str) -> Result<(), ConfigError> {
        sentinel_cache::RedisStore::check_url(url)
            .map_err(|e| ConfigError(format!("[cache] redis_url: {e}")))
    }

    #[cfg(not(feature = "redis"))]
    fn check_url(_url: &str) -> Result<(), ConfigError> {
        Err(SharedLevel::unsupported())
    }

    #[cfg(not(feature = "redis"))]
    fn unsupported() -> ConfigError {
        ConfigError(
            "[cache] redis_url: this build has no Redis support (feature `redis`)".to_owned(),
        )
    }

    /// Where the response cache's entries are named.
    #[cfg(feature = "redis")]
    fn response_prefix(&self) -> String {
        self.prefix
            .clone()
            .unwrap_or_else(|| "deepsentinel:response:".to_owned())
    }

    /// Where the vault's scopes are named.
    #[cfg(feature = "redis")]
    fn vault_prefix(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}vault:"),
            None => "deepsentinel:vault:".to_owned(),
        }
    }

    /// The sealed Redis stores for the pseudonym vault and the response cache, those
    /// asked for, over one connection whose task runs on the current Tokio runtime.
    #[cfg(feature = "redis")]
    fn stores(&self, vault: bool, responses: bool) -> Result<LevelStores, ConfigError> {
        if !vault && !responses {
            return Ok((None, None));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError(
                "[cache] redis_url: build the client within a Tokio runtime".to_owned(),
            ));
        }
        let base = sentinel_cache::RedisStore::new(&self.url, &self.response_prefix())
            .map_err(|e| ConfigError(format!("[cache] redis_url: {e}")))?;
        let sealed = |store: sentinel_cache::RedisStore| -> Arc<dyn sentinel_cache::SharedStore> {
            Arc::new(sentinel_cache::SealedStore::new(
                Arc::new(store),
                &self.secret,
            ))
        };
        Ok((
            vault.then(|| sealed(base.with_prefix(&self.vault_prefix()))),
            responses.then(|| sealed(base)),
        ))
    }

    #[cfg(not(feature = "redis"))]
    fn stores(&self, vault: bool, responses: bool) -> Result<LevelStores, ConfigError> {
        if vault || responses {
            return Err(SharedLevel::unsupported());
        }
        Ok((None, None))
    }
}

/// How the upstream key is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// `Authorization: Bearer KEY` (OpenAI and compatible servers).
    #[default]
    Bearer,
    /// `x-api-key: KEY` and `anthropic-version` (Anthropic).
    XApiKey,
    /// `api-key: KEY` (Azure OpenAI; give the deployment's URL with its `?api-version=`
    /// as the upstream).
    ApiKey,
}

/// `[network]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// The upstream base URL (default `https://api.openai.com/v1`).
    #[serde(default)]
    pub upstream: Option<String>,
    /// The environment variable with the upstream key (default `OPENAI_API_KEY`).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// A file holding the upstream key instead (surrounding whitespace ignored), read at
    /// start and at each reload, so that a key rotated in place (a mounted secret) takes
    /// effect without a restart. Giving `api_key_env` too is an error.
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// How the key is sent.
    #[serde(default)]
    pub auth: Auth,
    /// The gateway forwards a caller's own upstream key (its `Authorization: Bearer` or
    /// `x-api-key` that is not a gateway key) in place of the configured one (default
    /// false: callers' keys are never forwarded).
    #[serde(default)]
    pub forward_client_key: bool,
    /// Connect timeout in milliseconds (default 5000).
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// Whole-exchange timeout in milliseconds (default 600000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Time to response headers in milliseconds (default 120000).
    #[serde(default)]
    pub headers_timeout_ms: Option<u64>,
    /// Retries (default 2).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// Requests to the upstream at once (default 256).
    #[serde(default)]
    pub max_concurrent: Option<usize>,
    /// Idle upstream connections kept per host (default: `max_concurrent`, so a steady
    /// load never closes a connection only to open another).
    #[serde(default)]
    pub max_idle_connections: Option<usize>,
    /// Requests waiting for a slot (default 1024).
    #[serde(default)]
    pub max_queued: Option<usize>,
    /// Milliseconds a request waits for a slot (default 5000).
    #[serde(default)]
    pub queue_timeout_ms: Option<u64>,
    /// The most of an answer read from the upstream, as it comes (default 64 MiB;
    /// decompressed, twice that), whole or streamed: past it the answer is an error (502,
    /// or a stream's error event) rather than memory the gateway cannot spare. A batch's
    /// output file is read whole, so give it room for the largest one expected.
    #[serde(default)]
    pub max_answer_bytes: Option<usize>,
}

/// `[audit]`. Two are equal when their settings are (`lock_wait` is how one start goes,
/// not a setting: a reload does not find `[audit]` changed by it).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// The log directory; no audit log without it.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// `always`, `interval` (default) or `never`.
    #[serde(default)]
    pub sync: Option<String>,
    /// The size at which a log file is closed and the next begun (default 64 MiB): what
    /// moves to an archive at a time.
    #[serde(default)]
    pub max_file_bytes: Option<u64>,
    /// Where rotated log files are moved as they rotate (created if missing; not the log's
    /// own directory); absent: they stay until moved by `deepsentinel audit archive`.
    #[serde(default)]
    pub archive_dir: Option<PathBuf>,
    /// How often the chain's committed head is logged as an anchor (`audit anchor
    /// records=N hash=H`, level info), when records were added (default 300; 0: never).
    /// Kept where the log's writer cannot rewrite them, they let `deepsentinel audit
    /// verify --anchors` catch a chain rewritten whole.
    #[serde(default)]
    pub anchor_interval_seconds: Option<u64>,
    /// The environment variable holding the key of the values' fingerprints (default
    /// `DEEPSENTINEL_FINGERPRINT_KEY`; at least 16 bytes): the same for every replica and
    /// every start, so that one value has one fingerprint in every record, and `deepsentinel
    /// audit fingerprint` can tell whether a value is in the log. Unset or empty (the
    /// default variable only): a random key of the process's own, so that fingerprints
    /// correlate within one run only. Read at start; a reload keeps the key (as it keeps
    /// the rest of `[audit]`).
    #[serde(default)]
    pub fingerprint_key_env: Option<String>,
    /// A file holding that key instead (a mounted secret; a trailing line break is not part
    /// of it). Giving `fingerprint_key_env` too is an error.
    #[serde(default)]
    pub fingerprint_key_file: Option<PathBuf>,
    /// Not read from the file: set by a program that takes the log over from the process
    /// it replaces (`deepsentinel serve` in a hand-over), so that opening the log waits for
    /// the old writer instead of failing.
    #[serde(skip)]
    pub lock_wait: Option<sentinel_audit::LockWait>,
}

impl PartialEq for AuditSection {
    fn eq(&self, other: &AuditSection) -> bool {
        self.dir == other.dir
            && self.sync == other.sync
            && self.max_file_bytes == other.max_file_bytes
            && self.archive_dir == other.archive_dir
            && self.anchor_interval_seconds == other.anchor_interval_seconds
            && self.fingerprint_key_env == other.fingerprint_key_env
            && self.fingerprint_key_file == other.fingerprint_key_file
    }
}

/// `[failure]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSection {
    /// When the remote detector fails.
    #[serde(default)]
    pub detector: Stance,
    /// When the audit log cannot record.
    #[serde(default)]
    pub audit: Stance,
}

fn ms(v: Option<u64>, default: u64) -> Duration {
    Duration::from_millis(v.unwrap_or(default))
}

impl SentinelConfig {
    /// Parses a configuration; `origin` names it in errors.
    ///
    /// # Errors
    ///
    /// TOML errors with line and column, unknown keys.
    pub fn from_toml(origin: &str, text: &str) -> Result<SentinelConfig, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map_or((0, 0), |s| sentinel_detect::line_column(text, s.start));
            ConfigError(format!("{origin}:{line}:{col}: {}", e.message()))
        })
    }

    /// Reads a configuration file.
    ///
    /// # Errors
    ///
    /// An unreadable file, or as [`SentinelConfig::from_toml`].
    pub fn load(path: &std::path::Path) -> Result<SentinelConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        SentinelConfig::from_toml(&path.display().to_string(), &text)
    }

    /// The SDK's tenant (`default` when unset).
    pub fn tenant(&self) -> &str {
        self.tenant.as_deref().unwrap_or("default")
    }

    /// The transport configuration of `[network]`.
    pub fn transport_config(&self) -> TransportConfig {
        let n = &self.network;
        let max_concurrent = n.max_concurrent.unwrap_or(256).max(1);
        TransportConfig {
            timeouts: Timeouts {
                connect: ms(n.connect_timeout_ms, 5_000),
                headers: ms(n.headers_timeout_ms, 120_000),
                total: ms(n.timeout_ms, 600_000),
                ..Timeouts::default()
            },
            retry: RetryConfig {
                max_retries: n.max_retries.unwrap_or(2),
                ..RetryConfig::default()
            },
            concurrency: Some(LimitConfig {
                max_concurrent,
                max_queued: n.max_queued.unwrap_or(1024),
                queue_timeout: ms(n.queue_timeout_ms, 5_000),
            }),
            pool: PoolConfig {
                max_idle_per_host: n.max_idle_connections.unwrap_or(max_concurrent),
                ..PoolConfig::default()
            },
            limits: match n.max_answer_bytes {
                Some(max) => Limits {
                    max_body_bytes: max.max(1),
                    max_decoded_bytes: max.max(1).saturating_mul(2),
                    ..Limits::default()
                },
                None => Limits::default(),
            },
            ..TransportConfig::default()
        }
    }

    /// The upstream key: the content of `[network] api_key_file`, or the environment
    /// variable `api_key_env` names (`OPENAI_API_KEY` by default; unset or empty: none).
    /// Errors name the file or variable, never the key.
    ///
    /// # Errors
    ///
    /// Both are given, or the file cannot be read or is empty.
    pub fn upstream_key(&self) -> Result<Option<String>, ConfigError> {
        let n = &self.network;
        match (&n.api_key_file, &n.api_key_env) {
            (Some(_), Some(_)) => Err(ConfigError(
                "[network] api_key_file and api_key_env: give one".to_owned(),
            )),
            (Some(path), None) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("[network] api_key_file {}: {e}", path.display()))
                })?;
                let key = text.trim();
                if key.is_empty() {
                    return Err(ConfigError(format!(
                        "[network] api_key_file {}: the file is empty",
                        path.display()
                    )));
                }
                Ok(Some(key.to_owned()))
            }
            (None, var) => Ok(std::env::var(var.as_deref().unwrap_or("OPENAI_API_KEY"))
                .ok()
                .filter(|k| !k.is_empty())),
        }
    }

    /// The deployment's fingerprint key: the content of `[audit] fingerprint_key_file`, or
    /// of the environment variable `fingerprint_key_env` names
    /// (`DEEPSENTINEL_FINGERPRINT_KEY` by default); `None` when that default variable is
    /// unset or empty (a process's own key is used: [`crate::process_key`]). Errors name the
    /// file or variable, never the key.
    ///
    /// # Errors
    ///
    /// Both are given; the file cannot be read; a variable named in the configuration is
    /// unset; the key is shorter than [`crate::MIN_FINGERPRINT_KEY`] bytes.
    pub fn fingerprint_key(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        let a = &self.audit;
        let (key, from) = match (&a.fingerprint_key_file, &a.fingerprint_key_env) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(
                    "[audit] fingerprint_key_file and fingerprint_key_env: give one".to_owned(),
                ))
            }
            (Some(path), None) => {
                let mut key = std::fs::read(path).map_err(|e| {
                    ConfigError(format!(
                        "[audit] fingerprint_key_file {}: {e}",
                        path.display()
                    ))
                })?;
                while key.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                    key.pop();
                }
                (key, format!("fingerprint_key_file {}", path.display()))
            }
            (None, Some(var)) => match std::env::var_os(var) {
                Some(v) => (v.into_encoded_bytes(), format!("fingerprint_key_env {var}")),
                None => {
                    return Err(ConfigError(format!(
                        "[audit] fingerprint_key_env {var}: the variable is not set"
                    )))
                }
            },
            (None, None) => match std::env::var_os("DEEPSENTINEL_FINGERPRINT_KEY") {
                Some(v) if !v.is_empty() => (
                    v.into_encoded_bytes(),
                    "DEEPSENTINEL_FINGERPRINT_KEY".to_owned(),
                ),
                _ => return Ok(None),
            },
        };
        if key.len() < crate::MIN_FINGERPRINT_KEY {
            return Err(ConfigError(format!(
                "[audit] {from}: the key is {} bytes; at least {} are taken",
                key.len(),
                crate::MIN_FINGERPRINT_KEY
            )));
        }
        Ok(Some(key))
    }

    /// The upstream endpoint of `[network]`, with its key ([`SentinelConfig::upstream_key`]).
    ///
    /// # Errors
    ///
    /// A bad URL, or a key that cannot be read or is not a valid header value.
    pub fn upstream(&self) -> Result<Upstream, ConfigError> {
        self.upstream_with_key(self.upstream_key()?.as_deref())
    }

    /// [`SentinelConfig::upstream`] with a key read already.
    fn upstream_with_key(&self, key: Option<&str>) -> Result<Upstream, ConfigError> {
        let n = &self.network;
        let url = n
            .upstream
            .clone()
            .unwrap_or_else(|| "https://api.openai.com/v1".to_owned());
        let mut endpoint = Endpoint::new("upstream", &url)
            .map_err(|e| ConfigError(format!("[network] upstream: {e}")))?;
        if let Some(key) = key {
            let bad = || {
                ConfigError("[network] the upstream key (api_key_file or api_key_env) is not a valid header value".to_owned())
            };
            match n.auth {
                Auth::Bearer => {
                    let mut v =
                        http::HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| bad())?;
                    v.set_sensitive(true);
                    endpoint = endpoint.header(http::header::AUTHORIZATION, v);
                }
                Auth::ApiKey => {
                    let mut v = http::HeaderValue::from_str(key).map_err(|_| bad())?;
                    v.set_sensitive(true);
                    endpoint = endpoint.header(http::HeaderName::from_static("api-key"), v);
                }
                Auth::XApiKey => {
                    let mut v = http::HeaderValue::from_str(key).map_err(|_| bad())?;
                    v.set_sensitive(true);
                    endpoint = endpoint
                        .header(http::HeaderName::from_static("x-api-key"), v)
                        .default_header(
                            http::HeaderName::from_static("anthropic-version"),
                            http::HeaderValue::from_static("2023-06-01"),
                        );
                }
            }
        }
        Ok(Upstream::single(endpoint))
    }

    /// Builds the pipeline: detector, policy, audit log, caches, transport, telemetry.
    /// Call within a Tokio runtime.
    ///
    /// # Errors
    ///
    /// Any layer that cannot be built, named by its section.
    pub fn build(&self) -> Result<Pipeline, ConfigError> {
        self.build_with(Arc::new(self.transport()?))
    }

    /// The upstream transport `[network]` describes: [`SentinelConfig::transport_config`]
    /// over [`SentinelConfig::upstream`]. Nothing connects until a request is sent.
    ///
    /// # Errors
    ///
    /// The upstream URL, its key or a TLS setting cannot be used.
    pub fn transport(&self) -> Result<HttpTransport, ConfigError> {
        self.transport_with_key(self.upstream_key()?.as_deref())
    }

    /// [`SentinelConfig::transport`] with the upstream key read already
    /// ([`SentinelConfig::upstream_key`]): a gateway that reloads compares the key it read
    /// with the one in use and builds with the same.
    ///
    /// # Errors
    ///
    /// As [`SentinelConfig::transport`].
    pub fn transport_with_key(&self, key: Option<&str>) -> Result<HttpTransport, ConfigError> {
        HttpTransport::new(self.transport_config(), vec![self.upstream_with_key(key)?])
            .map_err(|e| ConfigError(format!("[network] {e}")))
    }

    /// Builds the pipeline over a given transport (tests, custom transports).
    ///
    /// # Errors
    ///
    /// As [`SentinelConfig::build`].
    pub fn build_with(&self, transport: Arc<dyn Transport>) -> Result<Pipeline, ConfigError> {
        self.build_from(
            transport,
            self.detection_stage()?,
            Arc::new(self.policy_set()?),
        )
    }

    /// The policy set `[policy]` names: its file, read now, or a preset (`strict` when
    /// neither is given). A gateway that reloads its configuration builds the new one
    /// with this.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or it or the preset name is invalid.
    pub fn policy_set(&self) -> Result<PolicySet, ConfigError> {
        match (&self.policy.file, &self.policy.preset) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("[policy] file {}: {e}", path.display())))?;
                PolicySet::from_toml(&path.display().to_string(), &text)
            }
            (None, preset) => PolicySet::preset(preset.as_deref().unwrap_or("strict")),
        }
        .map_err(|e| ConfigError(format!("[policy] {e}")))
    }

    /// The detection stage `[detection]` describes: the local detector compiled (with the
    /// recognizers file, if any), its cache, and the remote detector.
    fn detection_stage(&self) -> Result<Detection, ConfigError> {
        self.detection_source()?.build()
    }

    /// What the detection stage is built from: `[detection]` and the recognizers file's
    /// text, read now. A gateway that reloads its configuration compares it with the
    /// source of the stage it runs, and rebuilds (emptying the detection cache) only when
    /// the two differ.
    ///
    /// # Errors
    ///
    /// The recognizers file cannot be read.
    pub fn detection_source(&self) -> Result<DetectionSource, ConfigError> {
        let recognizers = match &self.detection.recognizers {
            None => None,
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!("[detection] recognizers {}: {e}", path.display()))
            })?),
        };
        Ok(DetectionSource {
            section: self.detection.clone(),
            recognizers,
        })
    }

    /// The Redis level of the response cache, when `[cache] redis_url` asks for one: its
    /// settings checked (the URL parsed, the secret present), nothing connected.
    fn shared_level(&self) -> Result<Option<SharedLevel>, ConfigError> {
        let c = &self.cache;
        let Some(url) = &c.redis_url else {
            if c.share_vault {
                return Err(ConfigError(
                    "[cache] share_vault: the vault is shared through the Redis level; set redis_url"
                        .to_owned(),
                ));
            }
            return Ok(None);
        };
        SharedLevel::check_url(url)?;
        let var = c
            .redis_key_env
            .as_deref()
            .unwrap_or("DEEPSENTINEL_CACHE_KEY");
        let secret = std::env::var(var).unwrap_or_default();
        if secret.trim().len() < 16 {
            return Err(ConfigError(format!(
                "[cache] redis_url: answers in Redis are sealed; set {var} to the same secret \
                 (at least 16 characters; `openssl rand -hex 32`) on every replica"
            )));
        }
        Ok(Some(SharedLevel {
            url: url.clone(),
            secret: secret.trim().as_bytes().to_vec(),
            prefix: c.redis_prefix.clone(),
            timeout: Duration::from_millis(c.redis_timeout_ms.unwrap_or(50)),
        }))
    }

    /// The response cache `[cache]` describes, new and empty, and which answers it keeps.
    /// A gateway that reloads builds a new one when `[cache]` or the upstream changed.
    /// With `redis_url`, call it within a Tokio runtime (the Redis connection's task is
    /// spawned on it; it connects at first use).
    ///
    /// # Errors
    ///
    /// A Redis level that cannot be used: no Redis support in this build, an unparsable
    /// URL, no sealing secret, or no Tokio runtime to run its connection on.
    pub fn response_stage(&self) -> Result<ResponseStage, ConfigError> {
        let c = &self.cache;
        let policy = ResponseCachePolicy {
            enabled: c.response,
            routes: c.routes.clone(),
            models: c.models.clone(),
            deterministic_only: c.deterministic_only.unwrap_or(true),
            ttl: Duration::from_secs(c.ttl_seconds.unwrap_or(300)),
            ..ResponseCachePolicy::default()
        };
        let level = self.shared_level()?;
        let (vault_store, response_store) = match &level {
            Some(level) => level.stores(c.share_vault, c.response)?,
            None => (None, None),
        };
        let timeout = level.as_ref().map(|l| l.timeout);
        let vault = vault_store
            .zip(timeout)
            .map(|(store, timeout)| Arc::new(SharedVault::new(store, timeout)));
        if !c.response {
            return Ok(ResponseStage {
                policy,
                cache: None,
                vault,
            });
        }
        let mut tiers = TieredConfig::default();
        if let Some(timeout) = timeout {
            tiers.timeout = timeout;
        }
        let shared = response_store;
        let cache = Arc::new(TieredCache::new(
            Arc::new(MemoryCache::new(CacheConfig {
                max_bytes: c.max_bytes.unwrap_or(64 << 20),
                default_ttl: policy.ttl,
                ..CacheConfig::default()
            })),
            shared,
            tiers,
        ));
        Ok(ResponseStage {
            policy,
            cache: Some(cache),
            vault,
        })
    }

    /// The audit log's settings (`[audit]`, `[failure] audit`), not yet opened.
    fn audit_sink_config(&self) -> Result<Option<FileSinkConfig>, ConfigError> {
        Ok(match &self.audit.dir {
            None => None,
            Some(dir) => {
                let mut c = FileSinkConfig::new(dir.clone());
                c.durability = match self.audit.sync.as_deref() {
                    None | Some("interval") => Durability::Interval(Duration::from_millis(100)),
                    Some("always") => Durability::Always,
                    Some("never") => Durability::Never,
                    Some(other) => {
                        return Err(ConfigError(format!(
                            "[audit] sync: unknown value {other:?} (always, interval, never)"
                        )))
                    }
                };
                c.on_failure = match self.failure.audit {
                    Stance::FailClosed => FailurePolicy::FailClosed,
                    Stance::FailOpen => FailurePolicy::FailOpen,
                };
                c.lock_wait.clone_from(&self.audit.lock_wait);
                match self.audit.max_file_bytes {
                    Some(n) if n < 4096 => {
                        return Err(ConfigError(format!(
                            "[audit] max_file_bytes: {n} is less than a record can take (at least 4096)"
                        )))
                    }
                    Some(n) => c = c.max_file_bytes(n),
                    None => {}
                }
                if let Some(to) = &self.audit.archive_dir {
                    if to == dir {
                        return Err(ConfigError(
                            "[audit] archive_dir: the archive cannot be the log's own directory"
                                .to_owned(),
                        ));
                    }
                    c = c.archive_to(to.clone());
                }
                match self.audit.anchor_interval_seconds.unwrap_or(300) {
                    0 => {}
                    s => c = c.anchor_every(Duration::from_secs(s)),
                }
                Some(c)
            }
        })
    }

    /// Checks everything [`SentinelConfig::build`] would use, without opening the audit
    /// log or anything else with effects outside the process: the detection stage
    /// compiles, the policy loads, the upstream, transport, cache and audit settings are
    /// valid. The policy set it built is returned (a report can name its version).
    ///
    /// # Errors
    ///
    /// What [`SentinelConfig::build`] would refuse, but for the audit directory itself
    /// (created, locked and read only by `build`).
    pub fn check(&self) -> Result<PolicySet, ConfigError> {
        self.detection_stage()?;
        self.audit_sink_config()?;
        self.fingerprint_key()?;
        self.transport()?;
        self.shared_level()?;
        self.policy_set()
    }

    /// Builds the pipeline over a given transport, with a detection stage and a policy
    /// built already (by [`DetectionSource::build`] and [`SentinelConfig::policy_set`], or
    /// any [`PolicyEngine`]). A gateway that reloads builds them itself, to keep their
    /// sources.
    ///
    /// # Errors
    ///
    /// As [`SentinelConfig::build`], but for detection and the policy.
    pub fn build_from(
        &self,
        transport: Arc<dyn Transport>,
        detection: Detection,
        policy: Arc<dyn PolicyEngine>,
    ) -> Result<Pipeline, ConfigError> {
        let audit: Option<Arc<dyn AuditSink>> = match self.audit_sink_config()? {
            None => None,
            Some(c) => Some(Arc::new(
                FileSink::open(c).map_err(|e| ConfigError(format!("[audit] {e}")))?,
            )),
        };
        let ResponseStage {
            policy: response_cache,
            cache: responses,
            vault,
        } = self.response_stage()?;
        let mut routes: Vec<&'static str> = Route::ALL.iter().map(|r| r.as_str()).collect();
        // The native scan, and what the gateway answers without the pipeline and counts
        // itself (the Presidio endpoints, the model list).
        routes.extend([
            crate::SCAN_ROUTE,
            "/analyze",
            "/anonymize",
            "/deanonymize",
            "/supportedentities",
            "/recognizers",
            "/v1/models",
        ]);
        let telemetry = Arc::new(Telemetry::new(&routes).with_tenants(self.metrics.per_tenant));
        Ok(Pipeline::new(
            detection,
            policy,
            audit,
            responses,
            transport,
            telemetry,
            PipelineConfig {
                detector_stance: self.failure.detector,
                audit_stance: self.failure.audit,
                response_cache,
                fingerprint_key: match self.fingerprint_key()? {
                    Some(key) => key,
                    None => crate::process_key().to_vec(),
                },
                ..PipelineConfig::default()
            },
        )
        .with_shared_vault(vault))
    }
}

/// The response cache of a pipeline ([`SentinelConfig::response_stage`]): which answers
/// are kept, and the cache (none when `[cache] response` is off).
#[derive(Debug)]
pub struct ResponseStage {
    /// Which answers are cached, and for how long.
    pub policy: ResponseCachePolicy,
    /// The cache.
    pub cache: Option<Arc<TieredCache<CachedResponse>>>,
    /// The pseudonym vault's shared level (`[cache] share_vault`), built from the same
    /// section.
    pub vault: Option<Arc<SharedVault>>,
}

/// What a detection stage is built from ([`SentinelConfig::detection_source`]): the
/// `[detection]` section and the text of its recognizers file. Equal sources build stages
/// that find the same.
#[derive(Clone, PartialEq)]
pub struct DetectionSource {
    section: DetectionSection,
    recognizers: Option<String>,
}

impl std::fmt::Debug for DetectionSource {
    /// The section and the file's length: its deny lists may name what must not leak.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectionSource")
            .field("section", &self.section)
            .field(
                "recognizers_bytes",
                &self.recognizers.as_ref().map(String::len),
            )
            .finish()
    }
}

impl DetectionSource {
    /// Compiles the local detector (with the recognizers, if any) and builds the stage
    /// with a new, empty detection cache and the remote detector.
    ///
    /// # Errors
    ///
    /// The recognizers do not compile, or the mode needs a remote detector that is not
    /// configured or whose URL cannot be used.
    pub fn build(&self) -> Result<Detection, ConfigError> {
        let mut builder = LocalDetector::builder();
        if let (Some(path), Some(text)) = (&self.section.recognizers, &self.recognizers) {
            let cfg = DetectionConfig::from_toml(&path.display().to_string(), text)
                .map_err(|e| ConfigError(format!("[detection] {e}")))?;
            builder = cfg
                .apply(builder)
                .map_err(|e| ConfigError(format!("[detection] {e}")))?;
        }
        let local = Arc::new(
            builder
                .build()
                .map_err(|e| ConfigError(format!("[detection] {e}")))?,
        );
        let remote = match &self.section.remote {
            None => None,
            Some(r) => {
                let defaults = RemoteSettings::default();
                let settings = RemoteSettings {
                    threshold: r.threshold.unwrap_or(defaults.threshold),
                    remote_entities: r.entities.clone().unwrap_or(defaults.remote_entities),
                    language: r.language.clone().unwrap_or(defaults.language),
                    timeout: r.timeout_ms.map_or(defaults.timeout, Duration::from_millis),
                    cache_ttl: r
                        .cache_ttl_seconds
                        .map_or(defaults.cache_ttl, Duration::from_secs),
                    stream_window: r
                        .stream_window_bytes
                        .unwrap_or(defaults.stream_window)
                        .max(1),
                };
                let endpoint = Endpoint::new("presidio", &r.url)
                    .map_err(|e| ConfigError(format!("[detection.remote] url: {e}")))?;
                let t = HttpTransport::new(
                    TransportConfig {
                        retry: RetryConfig {
                            max_retries: 0,
                            ..RetryConfig::default()
                        },
                        ..TransportConfig::default()
                    },
                    vec![Upstream::single(endpoint)],
                )
                .map_err(|e| ConfigError(format!("[detection.remote] {e}")))?;
                Some(RemoteDetector::new(Arc::new(t), settings))
            }
        };
        if self.section.mode != DetectionMode::Local && remote.is_none() {
            return Err(ConfigError(
                "[detection] mode hybrid and remote_first need [detection.remote]".to_owned(),
            ));
        }
        let detection_cache = Arc::new(MemoryCache::new(CacheConfig {
            max_bytes: self.section.cache_max_bytes.unwrap_or(64 << 20),
            ..CacheConfig::default()
        }));
        Ok(Detection::new(
            local,
            detection_cache,
            self.section.mode,
            remote,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_upstream_connections_follow_the_upstream_concurrency_unless_set() {
        let pool = |toml: &str| {
            SentinelConfig::from_toml("t", toml)
                .expect("config")
                .transport_config()
                .pool
                .max_idle_per_host
        };
        assert_eq!(pool(""), 256);
        assert_eq!(pool("[network]\nmax_concurrent = 64\n"), 64);
        assert_eq!(
            pool("[network]\nmax_concurrent = 64\nmax_idle_connections = 8\n"),
            8
        );
    }

    #[test]
    fn audit_files_rotate_at_the_size_given() {
        let sink = |toml: &str| {
            SentinelConfig::from_toml("t", &format!("[audit]\ndir = \"/tmp/x\"\n{toml}"))
                .expect("config")
                .audit_sink_config()
        };
        let size = |toml: &str| sink(toml).expect("valid").expect("a log").max_file_bytes;
        assert_eq!(size(""), 64 << 20);
        assert_eq!(size("max_file_bytes = 1048576\n"), 1 << 20);
        let e = sink("max_file_bytes = 100\n").expect_err("too small");
        assert!(e.to_string().contains("max_file_bytes"), "{e}");
        let archive = |toml: &str| sink(toml).expect("valid").expect("a log").archive;
        assert_eq!(archive(""), None);
        assert_eq!(
            archive("archive_dir = \"/archive/audit\"\n"),
            Some("/archive/audit".into())
        );
        let e = sink("archive_dir = \"/tmp/x\"\n").expect_err("the log itself");
        assert!(e.to_string().contains("archive_dir"), "{e}");
        let anchors = |toml: &str| sink(toml).expect("valid").expect("a log").anchor_every;
        assert_eq!(anchors(""), Some(Duration::from_secs(300)));
        assert_eq!(anchors("anchor_interval_seconds = 0\n"), None);
        assert_eq!(
            anchors("anchor_interval_seconds = 5\n"),
            Some(Duration::from_secs(5))
        );
    }
}
