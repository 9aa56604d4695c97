//! DeepSentinel's measurements.
//!
//! - [`names`]: every metric and label name, in one module; nothing else in the workspace
//!   spells a metric name.
//! - [`Telemetry`]: records one finished request (every stage, caches, findings, tokens,
//!   errors) into the `metrics` facade, with handles resolved once so a request costs well
//!   under a microsecond, and into a [`Monitor`].
//! - [`prometheus_recorder`]: the Prometheus exporter (`metrics-exporter-prometheus`) with
//!   latency buckets from 50 us to 30 s; serve its [`PrometheusHandle::render`] at
//!   `/metrics`.
//! - [`Monitor`]: a one-minute sliding window (HDR histograms) giving p50/p95/p99/max per
//!   stage, requests per second, cache hit rates, per-model figures and errors, as the
//!   serde struct [`MonitorSnapshot`].
//! - [`stage_span`]: a `tracing` span per stage.
//!
//! Label values are bounded: routes from a fixed list, models and entity types through
//! [`BoundedLabels`] (at most a configured number of distinct values, the rest `other`,
//! sanitized), never user content.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use sentinel_metrics::{prometheus_recorder, CacheName, RequestRecord, Stage, Telemetry};
//! let recorder = prometheus_recorder()?;
//! let handle = recorder.handle();
//! let telemetry = metrics::with_local_recorder(&recorder, || {
//!     Telemetry::new(&["/v1/chat/completions"])
//! });
//! let mut r = RequestRecord::new("/v1/chat/completions", "gpt-4o", 200, Duration::from_micros(850));
//! r.stages[Stage::Detect.index()] = Some(Duration::from_micros(9));
//! r.cache = &[(CacheName::Detection, true)];
//! r.findings = &[("EMAIL_ADDRESS", "redact", 1)];
//! metrics::with_local_recorder(&recorder, || telemetry.record(&r));
//! let text = handle.render();
//! assert!(text.contains("deepsentinel_findings_total{entity=\"EMAIL_ADDRESS\",action=\"redact\"} 1"));
//! assert_eq!(telemetry.monitor().snapshot().requests, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};
pub use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};

mod monitor;
pub mod names;

pub use monitor::{CacheSummary, LatencySummary, ModelSummary, Monitor, MonitorSnapshot};

/// The handle maps, looked up several times a request. Their keys come from bounded label
/// sets, so a seeded fast hash serves: with it `Telemetry::record` counts 5.5 k
/// instructions per PII request against 6.4 k with SipHash (`cargo xtask bench
/// --instructions`, the kept profile).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A stage of the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Parsing the request into text segments.
    Parse,
    /// Detection (both directions, cache lookups excluded).
    Detect,
    /// Policy decisions and transforms, restore included.
    Policy,
    /// Handing the audit event to the log.
    Audit,
    /// Cache lookups and inserts.
    Cache,
    /// The upstream call, to the last byte.
    Upstream,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 6] = [
        Stage::Parse,
        Stage::Detect,
        Stage::Policy,
        Stage::Audit,
        Stage::Cache,
        Stage::Upstream,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Detect => "detect",
            Stage::Policy => "policy",
            Stage::Audit => "audit",
            Stage::Cache => "cache",
            Stage::Upstream => "upstream",
        }
    }

    /// The stage's position in [`Stage::ALL`] (and in [`RequestRecord::stages`]).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A cache that reports lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheName {
    /// Detection results.
    Detection,
    /// Responses.
    Response,
}

impl CacheName {
    pub(crate) const COUNT: usize = 2;
    /// Every cache.
    pub const ALL: [CacheName; 2] = [CacheName::Detection, CacheName::Response];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheName::Detection => "detection",
            CacheName::Response => "response",
        }
    }
}

/// What went wrong, as a bounded label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Malformed JSON, invalid UTF-8, a missing field.
    BadRequest,
    /// No or wrong API key.
    Unauthorized,
    /// A body over the limit.
    PayloadTooLarge,
    /// The concurrency limit's queue was full or timed out.
    Overloaded,
    /// The caller's key was past its rate (`[[key]] requests_per_minute`).
    RateLimited,
    /// The upstream could not be reached.
    UpstreamConnect,
    /// The upstream took too long.
    UpstreamTimeout,
    /// The upstream answered with an error status.
    UpstreamStatus,
    /// The upstream broke the protocol (reset mid-body, invalid JSON, too large).
    UpstreamProtocol,
    /// Every upstream endpoint's circuit was open.
    CircuitOpen,
    /// The detector failed (remote detector down, ...).
    Detector,
    /// The audit log could not record.
    Audit,
    /// The whole request took longer than the gateway allows.
    Timeout,
    /// Anything else.
    Internal,
}

impl ErrorKind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::UpstreamConnect => "upstream_connect",
            ErrorKind::UpstreamTimeout => "upstream_timeout",
            ErrorKind::UpstreamStatus => "upstream_status",
            ErrorKind::UpstreamProtocol => "upstream_protocol",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::Detector => "detector",
            ErrorKind::Audit => "audit",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal",
        }
    }
}

/// One finished request, as the pipeline hands it over.
#[derive(Clone, Debug)]
pub struct RequestRecord<'a> {
    /// The route.
    pub route: &'a str,
    /// The model as requested (bounded before it becomes a label).
    pub model: &'a str,
    /// The HTTP status answered.
    pub status: u16,
    /// The whole request.
    pub total: Duration,
    /// Time per stage, indexed by [`Stage::index`]; `None` for stages not run.
    pub stages: [Option<Duration>; 6],
    /// The error, if the request failed.
    pub error: Option<ErrorKind>,
    /// Whether policy refused it, and in which direction (`request`, `response`).
    pub blocked: Option<&'static str>,
    /// Cache lookups and whether each hit.
    pub cache: &'a [(CacheName, bool)],
    /// Findings counted by (entity type, action, how many): a request with many findings
    /// of a few kinds passes a few entries (a pair given twice counts twice).
    pub findings: &'a [(&'a str, &'a str, u64)],
    /// Tokens from the upstream's usage field: (prompt, completion).
    pub tokens: Option<(u64, u64)>,
    /// The tenant (counted per tenant when not empty and [`Telemetry::with_tenants`] is
    /// on).
    pub tenant: &'a str,
}

impl<'a> RequestRecord<'a> {
    /// A record with no stages, lookups or findings.
    pub fn new(route: &'a str, model: &'a str, status: u16, total: Duration) -> RequestRecord<'a> {
        RequestRecord {
            route,
            model,
            status,
            total,
            stages: [None; 6],
            error: None,
            blocked: None,
            cache: &[],
            findings: &[],
            tokens: None,
            tenant: "",
        }
    }
}

/// Keeps only letters, digits and `._-:/` (64 at most), so a label never carries markup or
/// newlines.
pub(crate) fn sanitize(value: &str) -> String {
    let s: String = value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/'))
        .take(64)
        .collect();
    if s.is_empty() {
        "unknown".to_owned()
    } else {
        s
    }
}

/// A label whose values come from outside (model names, entity types): at most `max`
/// distinct values are admitted, later ones become `other`; values are sanitized.
#[derive(Debug)]
pub struct BoundedLabels {
    max: usize,
    seen: RwLock<HashSet<String>>,
}

impl BoundedLabels {
    /// At most `max` distinct values.
    pub fn new(max: usize) -> BoundedLabels {
        BoundedLabels {
            max,
            seen: RwLock::new(HashSet::new()),
        }
    }

    /// The label value for `value`.
    pub fn label(&self, value: &str) -> String {
        let clean = sanitize(value);
        {
            let seen = self
                .seen
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if seen.contains(&clean) {
                return clean;
            }
            if seen.len() >= self.max {
                return "other".to_owned();
            }
        }
        let mut seen = self
            .seen
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() < self.max {
            seen.insert(clean.clone());
            clean
        } else if seen.contains(&clean) {
            clean
        } else {
            "other".to_owned()
        }
    }
}

/// Histogram buckets for latencies, in seconds: 50 us to 30 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A Prometheus recorder with [`LATENCY_BUCKETS`] for every `_seconds` histogram. Install it
/// with `metrics::set_global_recorder` (or use it locally in tests) and serve
/// `recorder.handle().render()`; call `run_upkeep` on the handle every few seconds.
///
/// # Errors
///
/// Only if the bucket list were empty.
pub fn prometheus_recorder() -> Result<PrometheusRecorder, BuildError> {
    Ok(PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)?
        .build_recorder())
}

/// Describes every metric (help text and unit) to the installed recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    use names::*;
    describe_counter!(
        REQUESTS_TOTAL,
        "Requests answered, by route, model and status."
    );
    describe_histogram!(
        REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Whole-request latency."
    );
    describe_histogram!(
        STAGE_DURATION_SECONDS,
        Unit::Seconds,
        "Latency of one pipeline stage."
    );
    describe_counter!(CACHE_LOOKUPS_TOTAL, "Cache lookups by cache and result.");
    describe_gauge!(CACHE_BYTES, Unit::Bytes, "Bytes held by a cache.");
    describe_gauge!(CACHE_ENTRIES, "Entries held by a cache.");
    describe_gauge!(
        CACHE_DEGRADED,
        "1 while a cache's shared level is unreachable."
    );
    describe_counter!(
        FINDINGS_TOTAL,
        "Sensitive values found, by entity type and action."
    );
    describe_counter!(BLOCKED_TOTAL, "Requests or responses refused by policy.");
    describe_counter!(RESTORED_TOTAL, "Pseudonyms restored in answers.");
    describe_counter!(
        RESTORE_UNRESOLVED_TOTAL,
        "Token-shaped text no pseudonym resolved."
    );
    describe_counter!(ERRORS_TOTAL, "Errors by kind.");
    describe_gauge!(
        CIRCUIT_STATE,
        "Circuit state: 0 closed, 1 half-open, 2 open."
    );
    describe_counter!(CIRCUIT_TRANSITIONS_TOTAL, "Circuit state changes.");
    describe_gauge!(POOL_CONNECTIONS, "Open upstream connections.");
    describe_counter!(UPSTREAM_RETRIES_TOTAL, "Upstream retries by reason.");
    describe_gauge!(INFLIGHT_REQUESTS, "Requests in flight.");
    describe_counter!(
        LARGE_REQUESTS_TOTAL,
        "Requests worked on off the serving threads for their large bodies."
    );
    describe_gauge!(
        LARGE_REQUESTS,
        "Requests in the large requests' lane now, by state."
    );
    describe_gauge!(
        BODY_BYTES_IN_FLIGHT,
        Unit::Bytes,
        "Bytes of request bodies held now, of the in-flight budget."
    );
    describe_counter!(
        OVERLOADED_TOTAL,
        "Requests refused by the concurrency limit."
    );
    describe_counter!(TOKENS_TOTAL, "Tokens reported by upstream usage fields.");
    describe_counter!(AUDIT_DROPPED_TOTAL, "Audit events not written.");
    describe_counter!(
        VAULT_SHARED_TOTAL,
        "Pseudonym vault scopes read from or written to the shared store, by op and result."
    );
    describe_counter!(
        AUDIT_REFUSALS_SKIPPED_TOTAL,
        "Refused requests (no or unknown key) over the audit log's per-second share, not written."
    );
    describe_counter!(
        CONFIG_RELOADS_TOTAL,
        "Configuration reloads (SIGHUP), by result (applied, failed)."
    );
    describe_gauge!(
        CONFIG_LAST_RELOAD_SUCCESSFUL,
        "1 when the last configuration reload applied (or none was asked for), 0 when it failed."
    );
    describe_gauge!(
        AUDIT_HEALTHY,
        "1 while the audit log writes, 0 while it fails."
    );
    describe_counter!(
        AUDIT_WRITTEN_TOTAL,
        "Records the audit log has written since it was opened."
    );
    describe_counter!(
        AUDIT_UNWRITTEN_TOTAL,
        "Events the audit log took and could not write (fail_open while failing, or a full queue)."
    );
    describe_gauge!(AUDIT_QUEUED, "Events waiting for the audit log's writer.");
    describe_counter!(
        AUDIT_ARCHIVED_FILES_TOTAL,
        "Rotated audit files moved to the archive directory."
    );
    describe_gauge!(
        AUDIT_ARCHIVE_HEALTHY,
        "0 while moving rotated audit files to the archive fails, else 1."
    );
    describe_counter!(
        TENANT_REQUESTS_TOTAL,
        "Requests per tenant by outcome (allowed, blocked, error)."
    );
    describe_counter!(TENANT_FINDINGS_TOTAL, "Findings per tenant by entity type.");
}

/// A `tracing` span for one stage (`stage` field), a child of the current span.
pub fn stage_span(stage: Stage) -> tracing::Span {
    tracing::debug_span!("stage", stage = stage.as_str())
}

struct RouteHandles {
    name: &'static str,
    total: Histogram,
    stages: [Histogram; 6],
}

/// Counter handles for one model: requests by (route, status), tokens.
struct ModelHandles {
    label: String,
    requests: HashMap<(usize, u16), Counter>,
    tokens: [Counter; 2],
}

/// Finding counters by entity type, then action.
type FindingCounters = HashMap<Box<str>, HashMap<Box<str>, Counter>>;

/// Counter handles for one tenant: requests by outcome, findings by entity type.
struct TenantHandles {
    label: String,
    /// `allowed`, `blocked`, `error`.
    outcomes: [Counter; 3],
    findings: HashMap<Box<str>, Counter>,
}

/// Raw model names and entity types whose handles are kept; past this, lookups take the
/// slow path (still bounded by [`BoundedLabels`]).
const MAX_CACHED_NAMES: usize = 256;

/// Records finished requests into the `metrics` facade and a [`Monitor`].
///
/// Handles are resolved once (route and stage histograms, cache counters at construction;
/// per-model and per-finding counters on first sight) against the recorder current then:
/// build it after installing the recorder.
pub struct Telemetry {
    routes: Vec<RouteHandles>,
    caches: [[Counter; 2]; 2],
    models: BoundedLabels,
    entities: BoundedLabels,
    per_model: RwLock<HashMap<Box<str>, ModelHandles>>,
    per_finding: RwLock<FindingCounters>,
    tenants: BoundedLabels,
    per_tenant: RwLock<HashMap<Box<str>, TenantHandles>>,
    /// Whether records are counted per tenant too ([`Telemetry::with_tenants`]).
    count_tenants: std::sync::atomic::AtomicBool,
    monitor: Arc<Monitor>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field(
                "routes",
                &self.routes.iter().map(|r| r.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[allow(clippy::match_overlapping_arm)] // reason: common codes first, then their classes
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        499 => "499",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // Every write is one insert, so a poisoned map is consistent.
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Telemetry {
    /// Telemetry for `routes` (other routes are labelled `other`).
    pub fn new(routes: &[&'static str]) -> Telemetry {
        use names::{label, CACHE_LOOKUPS_TOTAL, REQUEST_DURATION_SECONDS, STAGE_DURATION_SECONDS};
        let handles = |name: &'static str| RouteHandles {
            name,
            total: metrics::histogram!(REQUEST_DURATION_SECONDS, label::ROUTE => name),
            stages: Stage::ALL.map(|s| {
                metrics::histogram!(
                    STAGE_DURATION_SECONDS,
                    label::ROUTE => name,
                    label::STAGE => s.as_str()
                )
            }),
        };
        let mut all: Vec<RouteHandles> = routes.iter().map(|r| handles(r)).collect();
        all.push(handles("other"));
        let caches = CacheName::ALL.map(|c| {
            ["hit", "miss"].map(|result| {
                metrics::counter!(
                    CACHE_LOOKUPS_TOTAL,
                    label::CACHE => c.as_str(),
                    label::RESULT => result
                )
            })
        });
        Telemetry {
            routes: all,
            caches,
            models: BoundedLabels::new(64),
            entities: BoundedLabels::new(64),
            per_model: RwLock::new(HashMap::default()),
            per_finding: RwLock::new(HashMap::default()),
            tenants: BoundedLabels::new(64),
            per_tenant: RwLock::new(HashMap::default()),
            count_tenants: std::sync::atomic::AtomicBool::new(false),
            monitor: Arc::new(Monitor::new()),
        }
    }

    /// Counts requests and findings per tenant too (`deepsentinel_tenant_*`, off by
    /// default: `[metrics] per_tenant`), for every record that names its tenant.
    pub fn with_tenants(self, on: bool) -> Telemetry {
        self.set_tenants(on);
        self
    }

    /// Turns counting per tenant on or off from the next record on (a reload of
    /// `[metrics] per_tenant`). Series already counted stay.
    pub fn set_tenants(&self, on: bool) {
        self.count_tenants
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The monitor fed by [`Telemetry::record`].
    pub fn monitor(&self) -> &Arc<Monitor> {
        &self.monitor
    }

    fn count_request(&self, route: usize, model: &str, status: u16, tokens: Option<(u64, u64)>) {
        use names::{label, REQUESTS_TOTAL, TOKENS_TOTAL};
        let bump = |h: &ModelHandles, counter: &Counter| {
            counter.increment(1);
            if let Some((p, c)) = tokens {
                h.tokens[0].increment(p);
                h.tokens[1].increment(c);
            }
        };
        {
            let map = read(&self.per_model);
            if let Some(h) = map.get(model) {
                if let Some(c) = h.requests.get(&(route, status)) {
                    return bump(h, c);
                }
            }
        }
        let mut map = write(&self.per_model);
        let name: &str = if map.contains_key(model) || map.len() < MAX_CACHED_NAMES {
            model
        } else {
            "\0other"
        };
        let h = map.entry(name.into()).or_insert_with(|| {
            let label = if name == "\0other" {
                "other".to_owned()
            } else {
                self.models.label(model)
            };
            ModelHandles {
                tokens: ["prompt", "completion"].map(|kind| {
                    metrics::counter!(TOKENS_TOTAL, label::MODEL => label.clone(), label::KIND => kind)
                }),
                label,
                requests: HashMap::default(),
            }
        });
        let route_name = self.routes.get(route).map_or("other", |r| r.name);
        let label_value = h.label.clone();
        let c = h.requests.entry((route, status)).or_insert_with(|| {
            metrics::counter!(
                REQUESTS_TOTAL,
                label::ROUTE => route_name,
                label::MODEL => label_value,
                label::STATUS => status_label(status)
            )
        });
        c.increment(1);
        if let Some((p, c)) = tokens {
            h.tokens[0].increment(p);
            h.tokens[1].increment(c);
        }
    }

    fn count_finding(&self, entity: &str, action: &str, n: u64) {
        use names::{label, FINDINGS_TOTAL};
        {
            let map = read(&self.per_finding);
            if let Some(c) = map.get(entity).and_then(|a| a.get(action)) {
                return c.increment(n);
            }
        }
        let counter = metrics::counter!(
            FINDINGS_TOTAL,
            label::ENTITY => self.entities.label(entity),
            label::ACTION => sanitize(action)
        );
        counter.increment(n);
        let mut map = write(&self.per_finding);
        if map.len() < MAX_CACHED_NAMES {
            map.entry(entity.into())
                .or_default()
                .insert(action.into(), counter);
        }
    }

    /// Counts one request of `tenant` by outcome (an index into `allowed`, `blocked`,
    /// `error`), and its findings by entity type.
    fn count_tenant(&self, tenant: &str, outcome: usize, findings: &[(&str, &str, u64)]) {
        use names::{label, TENANT_FINDINGS_TOTAL, TENANT_REQUESTS_TOTAL};
        const OTHER: &str = "\0other";
        let count = |h: &TenantHandles| {
            h.outcomes[outcome].increment(1);
            for &(entity, _, n) in findings {
                if let Some(c) = h.findings.get(entity) {
                    c.increment(n);
                }
            }
        };
        {
            let map = read(&self.per_tenant);
            let h = map.get(tenant).or_else(|| {
                if map.len() >= MAX_CACHED_NAMES {
                    map.get(OTHER)
                } else {
                    None
                }
            });
            if let Some(h) = h.filter(|h| findings.iter().all(|f| h.findings.contains_key(f.0))) {
                return count(h);
            }
        }
        // First sight of the tenant or of one of its entity types: resolve the handles
        // (bounded: past the cap, tenants share one `other` entry).
        let mut map = write(&self.per_tenant);
        let name = if map.contains_key(tenant) || map.len() < MAX_CACHED_NAMES {
            tenant
        } else {
            OTHER
        };
        let h = map.entry(name.into()).or_insert_with(|| {
            let label = if name == OTHER {
                "other".to_owned()
            } else {
                self.tenants.label(tenant)
            };
            TenantHandles {
                outcomes: ["allowed", "blocked", "error"].map(|o| {
                    metrics::counter!(
                        TENANT_REQUESTS_TOTAL,
                        label::TENANT => label.clone(),
                        label::OUTCOME => o
                    )
                }),
                label,
                findings: HashMap::default(),
            }
        });
        for &(entity, _, _) in findings {
            if !h.findings.contains_key(entity) {
                let c = metrics::counter!(
                    TENANT_FINDINGS_TOTAL,
                    label::TENANT => h.label.clone(),
                    label::ENTITY => self.entities.label(entity)
                );
                h.findings.insert(entity.into(), c);
            }
        }
        count(h);
    }

    /// Records one finished request.
    pub fn record(&self, r: &RequestRecord<'_>) {
        use names::{label, BLOCKED_TOTAL, ERRORS_TOTAL};
        let route = self
            .routes
            .iter()
            .position(|h| h.name == r.route)
            .unwrap_or(self.routes.len() - 1);
        let h = &self.routes[route];
        h.total.record(r.total.as_secs_f64());
        for (hist, d) in h.stages.iter().zip(&r.stages) {
            if let Some(d) = d {
                hist.record(d.as_secs_f64());
            }
        }
        self.count_request(route, r.model, r.status, r.tokens);
        for &(cache, hit) in r.cache {
            self.caches[cache as usize][usize::from(!hit)].increment(1);
        }
        let findings = r.findings;
        for &(entity, action, n) in findings {
            self.count_finding(entity, action, n);
        }
        if let Some(direction) = r.blocked {
            metrics::counter!(BLOCKED_TOTAL, label::ROUTE => h.name, label::DIRECTION => direction)
                .increment(1);
        }
        if let Some(e) = r.error {
            metrics::counter!(ERRORS_TOTAL, label::KIND => e.as_str()).increment(1);
        }
        if self
            .count_tenants
            .load(std::sync::atomic::Ordering::Relaxed)
            && !r.tenant.is_empty()
        {
            let outcome = if r.blocked.is_some() {
                1
            } else if r.error.is_some() {
                2
            } else {
                0
            };
            self.count_tenant(r.tenant, outcome, findings);
        }
        self.monitor.record(r);
    }
}
