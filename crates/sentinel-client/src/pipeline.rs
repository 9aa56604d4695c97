//! The pipeline: request text -> detection (cached) -> policy -> audit -> response cache ->
//! transport -> restore and response scan -> metrics. The SDK runs it in-process; the
//! gateway runs it behind HTTP.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Fingerprinter;
use bytes::Bytes;
use http::StatusCode;
use sentinel_audit::{AuditEvent, AuditSink, Direction as AuditDirection, Fingerprint};
use sentinel_cache::{
    response_key_varying, Cacheability, CachedBody, CachedResponse, Flight, ResponseCachePolicy,
    SingleFlight, TieredCache,
};
use sentinel_detect::{EntityType, Finding, LocalDetector, RecognizerId, StreamScanner, Unescaper};
use sentinel_metrics::{stage_span, CacheName, ErrorKind, RequestRecord, Stage, Telemetry};
use sentinel_policy::{
    Action, Applied, Decision, DecisionContext, Direction, Numbering, PolicyEngine, Reason,
    RestoreStats, Restorer, StreamRestorer, UNREAD_AUDIO, UNREAD_FILE, UNREAD_IMAGE,
};
use sentinel_transport::sse::{write_event, SseEvent, SseParser};
use sentinel_transport::{OutboundRequest, Priority, ResponseBody, Transport, TransportError};
use serde_json::Value;
use tracing::Instrument as _;

use crate::chains::{self, answer_ids, ChainLink, Chains, Continues};
use crate::config::ResponseStage;
use crate::detection::{Detected, Detection, StreamWindow, UNREAD_RECOGNIZER};
use crate::files::{file_bytes, file_document, ChangedLines};
use crate::form::{self, Form, FILE_DOCUMENTS};
use crate::logprobs::{ListAt, TokenTrail};
use crate::refusal::{Refusal, RefusalWindow};
use crate::segments::{
    self, all_strings, parse_answer, request_segments, response_segments, responses_event_segments,
    Route, Segments, Step,
};
use crate::shared_vault::SharedVault;
use crate::{json_out, json_text};

/// What to do when a layer fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stance {
    /// Refuse the request (the default for compliance).
    #[default]
    FailClosed,
    /// Let it through and count it.
    FailOpen,
}

/// The pipeline's own settings.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// When the detector fails (the remote without a local fallback).
    pub detector_stance: Stance,
    /// When the audit log refuses an event.
    pub audit_stance: Stance,
    /// Which responses are cached.
    pub response_cache: ResponseCachePolicy,
    /// How long identical concurrent misses wait for the first one's answer.
    pub single_flight_wait: Duration,
    /// Bytes of a streamed answer held back so a value split across chunks is still seen
    /// (and a pseudonym still restored).
    pub stream_hold_back: usize,
    /// The key of the audit log's value fingerprints (HMAC-SHA256): the deployment's
    /// ([`SentinelConfig::fingerprint_key`](crate::SentinelConfig::fingerprint_key)), by
    /// default this process's ([`process_key`](crate::process_key)).
    pub fingerprint_key: Vec<u8>,
    /// The largest event in a streamed answer.
    pub max_event_bytes: usize,
}

impl Default for PipelineConfig {
    fn default() -> PipelineConfig {
        PipelineConfig {
            detector_stance: Stance::FailClosed,
            audit_stance: Stance::FailClosed,
            response_cache: ResponseCachePolicy::default(),
            single_flight_wait: Duration::from_secs(30),
            stream_hold_back: 256,
            fingerprint_key: crate::process_key().to_vec(),
            max_event_bytes: 1 << 20,
        }
    }
}

/// One request through the pipeline.
#[derive(Clone, Debug)]
pub struct PipelineRequest {
    /// The route.
    pub route: Route,
    /// The tenant.
    pub tenant: String,
    /// The client's body, as received: JSON, or for the routes that take one
    /// ([`Route::takes_form`]) a `multipart/form-data` upload.
    pub body: Bytes,
    /// The id of the stored resource the route acts on ([`Route::on_resource`]: the
    /// `{id}` of `/v1/responses/{id}`); letters, digits, `_` and `-` only.
    pub resource: Option<String>,
    /// The query sent on with a resource route's request (`stream=true&starting_after=4`,
    /// `include[]=...`), without the `?`.
    pub query: Option<String>,
    /// The body's `Content-Type` as the client sent it: read for a form (its boundary),
    /// and sent on with it. JSON bodies go as `application/json` whatever this says.
    pub content_type: Option<String>,
    /// The request id (audit records, pseudonym scope when there is no conversation).
    pub request_id: String,
    /// A conversation id: pseudonyms live in its scope across requests.
    pub conversation: Option<String>,
    /// The priority in the transport's concurrency limit.
    pub priority: Priority,
    /// The request's `Cache-Control` header.
    pub cache_control: Option<String>,
    /// Whether the caller opted in to caching a non-deterministic request.
    pub cache_opt_in: bool,
    /// The caller's own credential for the upstream, when the gateway forwards it: sent in
    /// place of the configured key ([`OutboundRequest::with_credential`]) and part of the
    /// response cache's key. Its value is marked sensitive, so `Debug` never prints it.
    pub upstream_credential: Option<(http::HeaderName, http::HeaderValue)>,
    /// Further headers for the upstream (a gateway forwarding its caller's
    /// `anthropic-beta` or `openai-project`). A name the pipeline sets itself
    /// (`content-type`) or the endpoint sends (its key) is not taken from here. They are
    /// part of the response cache's key: an answer is reused only for the same ones.
    pub upstream_headers: http::HeaderMap,
    /// The longest [`Pipeline::handle`] may take to the answer's head (a stream's first
    /// bytes): past it the exchange ends with [`PipelineError::TimedOut`], on record with
    /// the outcome `timeout`. `None` (the default): no limit but the transport's.
    pub deadline: Option<Duration>,
    /// Set by a server that can move a request's work off the thread it runs on (the
    /// gateway's large requests' lane): the pipeline says here when a whole answer of at
    /// least its size has come, before deciding it. `None` (the default): nobody asks.
    pub large_answer: Option<LargeAnswer>,
}

/// How the pipeline tells its caller that an answer is large, so that the caller can move
/// the rest of the request's work (parsing, scanning and deciding the answer) to another
/// thread ([`PipelineRequest::large_answer`]). When a whole answer (not a stream) of at
/// least `at` bytes has come, the pipeline raises the flag and yields once, before any of
/// that work: the caller's next poll of [`Pipeline::handle`]'s future sees
/// [`LargeAnswer::came`], and may go on polling it elsewhere.
///
/// # Example
///
/// ```
/// use sentinel_client::pipeline::LargeAnswer;
///
/// let large = LargeAnswer::new(1 << 20);
/// assert!(!large.came());
/// ```
#[derive(Clone, Debug)]
pub struct LargeAnswer {
    at: usize,
    came: Arc<AtomicBool>,
}

impl LargeAnswer {
    /// Asks to be told of answers of `at` bytes or more.
    pub fn new(at: usize) -> LargeAnswer {
        LargeAnswer {
            at,
            came: Arc::default(),
        }
    }

    /// Whether a large answer came.
    pub fn came(&self) -> bool {
        self.came.load(Ordering::Acquire)
    }

    /// An answer of `len` bytes is about to be decided: at `at` or more, the flag is
    /// raised (once) and the task yields, so that its caller's poll sees it.
    async fn weigh(&self, len: usize) {
        if len >= self.at && !self.came.swap(true, Ordering::AcqRel) {
            tokio::task::yield_now().await;
        }
    }
}

/// A fresh request id (`req-` and 16 random hex digits) for audit records.
pub fn new_request_id() -> String {
    format!("req-{:016x}", fastrand::u64(..))
}

impl PipelineRequest {
    /// A request with a generated id, normal priority and no cache directives.
    pub fn new(route: Route, tenant: &str, body: impl Into<Bytes>) -> PipelineRequest {
        PipelineRequest {
            route,
            tenant: tenant.to_owned(),
            body: body.into(),
            resource: None,
            query: None,
            content_type: None,
            request_id: new_request_id(),
            conversation: None,
            priority: Priority::Normal,
            cache_control: None,
            cache_opt_in: false,
            upstream_credential: None,
            upstream_headers: http::HeaderMap::new(),
            deadline: None,
            large_answer: None,
        }
    }
}

/// Why the pipeline refused or failed. Messages never hold request or response content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The body is not the JSON the route expects.
    #[error("bad request: {message}")]
    BadRequest {
        /// What is wrong (position and kind, never content).
        message: String,
    },
    /// Policy refused the request or the answer.
    #[error("blocked by policy ({direction}): {}", reasons.iter().map(Reason::to_string).collect::<Vec<_>>().join(", "))]
    Blocked {
        /// `request` or `response`.
        direction: &'static str,
        /// Entity types and rules, never values.
        reasons: Vec<Reason>,
    },
    /// The upstream answered with an error status; its body is passed on, decided as an
    /// answer is (its text scanned, transformed per the response policy, recorded).
    #[error("upstream answered {status}")]
    Upstream {
        /// The status.
        status: StatusCode,
        /// The upstream's body.
        body: Bytes,
        /// The upstream's headers (its `retry-after`, rate limits and request id), without
        /// `content-length` and `content-encoding`, which described its bytes.
        headers: Box<http::HeaderMap>,
    },
    /// The transport failed (timeouts, overload, open circuits, broken bodies).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Detection could not complete and the stance is fail-closed.
    #[error("detector unavailable: {message}")]
    Detector {
        /// Why.
        message: String,
    },
    /// The audit log refused the event and the stance is fail-closed.
    #[error("audit log unavailable: {message}")]
    Audit {
        /// Why.
        message: String,
    },
    /// The request's deadline ([`PipelineRequest::deadline`]) passed before its answer.
    #[error("the request took longer than {after:?}")]
    TimedOut {
        /// The deadline.
        after: Duration,
    },
}

impl PipelineError {
    /// The metric kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::BadRequest { .. } => ErrorKind::BadRequest,
            PipelineError::Blocked { .. } => ErrorKind::Internal,
            PipelineError::Upstream { .. } => ErrorKind::UpstreamStatus,
            PipelineError::Transport(e) => e.kind(),
            PipelineError::Detector { .. } => ErrorKind::Detector,
            PipelineError::Audit { .. } => ErrorKind::Audit,
            PipelineError::TimedOut { .. } => ErrorKind::Timeout,
        }
    }

    /// The HTTP status a gateway answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            PipelineError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            PipelineError::Blocked { .. } => StatusCode::FORBIDDEN,
            PipelineError::Upstream { status, .. } => *status,
            PipelineError::Transport(TransportError::Overloaded { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            PipelineError::Transport(
                TransportError::HeadersTimeout { .. }
                | TransportError::TotalTimeout { .. }
                | TransportError::ConnectTimeout { .. }
                | TransportError::IdleTimeout { .. },
            )
            | PipelineError::TimedOut { .. } => StatusCode::GATEWAY_TIMEOUT,
            PipelineError::Transport(_) => StatusCode::BAD_GATEWAY,
            PipelineError::Detector { .. } | PipelineError::Audit { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

/// The answer: whole, or a stream of event-stream bytes.
pub enum PipelineBody {
    /// A whole body.
    Full(Bytes),
    /// Server-sent events, scanned and restored as they pass.
    Stream(Box<ResponseStream>),
}

impl std::fmt::Debug for PipelineBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipelineBody::Full(b) => write!(f, "Full({} bytes)", b.len()),
            PipelineBody::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// The pipeline's answer.
#[derive(Debug)]
pub struct PipelineResponse {
    /// The status.
    pub status: StatusCode,
    /// The content type.
    pub content_type: String,
    /// The body.
    pub body: PipelineBody,
    /// Whether the response cache answered.
    pub cache_hit: bool,
    /// Values found in the request.
    pub findings: usize,
    /// Whether the request went upstream as the client sent it, byte for byte.
    pub forwarded_unchanged: bool,
    /// The upstream's headers (its rate limits and request id), without
    /// `content-length` and `content-encoding`, which described its bytes, not `body`.
    /// Empty when the response cache or another request's upstream call answered.
    pub upstream_headers: http::HeaderMap,
}

/// What [`Pipeline::with_stages`] puts in place of a pipeline's own; each `None` keeps
/// the pipeline's.
#[derive(Default)]
pub struct Stages {
    /// A detection stage, with its own (empty) cache.
    pub detection: Option<Detection>,
    /// A policy.
    pub policy: Option<Arc<dyn PolicyEngine>>,
    /// A transport, with its own pools and circuits.
    pub transport: Option<Arc<dyn Transport>>,
    /// What to do when the detector fails (`[failure] detector`).
    pub detector_stance: Option<Stance>,
    /// A response cache (new, so empty) and which answers it keeps.
    pub responses: Option<ResponseStage>,
}

impl std::fmt::Debug for Stages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stages")
            .field("detection", &self.detection.is_some())
            .field("policy", &self.policy.is_some())
            .field("transport", &self.transport.is_some())
            .field("detector_stance", &self.detector_stance)
            .field("responses", &self.responses.is_some())
            .finish()
    }
}

/// One cache's size and state ([`Pipeline::cache_sizes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CacheSize {
    /// The cache, as the `cache` label names it: `detection`, `remote_detection`,
    /// `response`, `vault`.
    pub cache: &'static str,
    /// Bytes held in memory, if the cache holds any here.
    pub bytes: Option<u64>,
    /// Entries held in memory, likewise.
    pub entries: Option<u64>,
    /// For a cache with a shared level (Redis): whether that level is marked down now, so
    /// that the cache serves from memory only.
    pub degraded: Option<bool>,
}

impl CacheSize {
    fn of(
        cache: &'static str,
        s: &sentinel_cache::CacheStats,
        degraded: Option<bool>,
    ) -> CacheSize {
        CacheSize {
            cache,
            bytes: Some(s.bytes),
            entries: Some(s.entries),
            degraded,
        }
    }
}

/// Everything that composes the pipeline.
pub struct Pipeline {
    detection: Arc<Detection>,
    policy: Arc<dyn PolicyEngine>,
    audit: Option<Arc<dyn AuditSink>>,
    responses: Option<Arc<TieredCache<CachedResponse>>>,
    flights: SingleFlight<CachedResponse>,
    transport: Arc<dyn Transport>,
    telemetry: Arc<Telemetry>,
    config: PipelineConfig,
    /// Keyed with `config.fingerprint_key`.
    fingerprinter: Fingerprinter,
    /// Audit fingerprints kept beside shared detection results (see [`Printed`]); shared
    /// by the pipelines a reload makes while the detection stage stays.
    printed: Arc<quick_cache::sync::Cache<usize, Arc<Printed>, PrintedWeight>>,
    /// Refusals recorded this second, shared by the pipelines a reload makes.
    refusals: Arc<RefusalWindow>,
    /// The pseudonym vault's shared level, if any.
    shared_vault: Option<Arc<SharedVault>>,
    /// The scopes of Responses API answers, shared by the pipelines a reload makes.
    chains: Arc<Chains>,
    /// Set by [`Pipeline::cut_short`]; shared by the pipelines a reload makes.
    stopping: Arc<AtomicBool>,
}

/// The entity type under which a refused request's presented key is fingerprinted.
const GATEWAY_KEY: &str = "GATEWAY_KEY";

/// An empty cache of fingerprints kept beside shared detection results.
fn printed_cache() -> Arc<quick_cache::sync::Cache<usize, Arc<Printed>, PrintedWeight>> {
    Arc::new(quick_cache::sync::Cache::with_weighter(
        4096,
        PRINTED_FINDINGS,
        PrintedWeight,
    ))
}

/// How many findings, in all, the kept fingerprints may describe: each entry also holds
/// its findings, so this bounds what it keeps alive (a result with thousands of findings
/// weighs as much, not as one entry).
const PRINTED_FINDINGS: u64 = 64 * 1024;

/// An entry of the fingerprint memo weighs its number of findings.
#[derive(Clone)]
struct PrintedWeight;

impl quick_cache::Weighter<usize, Arc<Printed>> for PrintedWeight {
    fn weight(&self, _: &usize, printed: &Arc<Printed>) -> u64 {
        printed.findings.len() as u64
    }
}

/// The audit fingerprints of one shared detection result (the detection cache's entry for
/// a text), found by the result's address. The entry holds the result, so the address
/// cannot be reused by another while it stays; equal addresses mean the same result, of
/// the same text (the cache's key), so the same values and fingerprints. A prompt that
/// repeats (a conversation's earlier turns, a system prompt) computes its HMACs once.
struct Printed {
    findings: Arc<[Finding]>,
    prints: Box<[Fingerprint]>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("detection", &self.detection)
            .finish_non_exhaustive()
    }
}

/// Stage times of one request, read as laps: each boundary between stages reads the
/// clock once, ending one stage and starting the next (a request used to read it twice
/// per stage, about 40 reads with the transport's; each costs tens of nanoseconds on a VM).
struct Timings {
    stages: [Option<Duration>; 6],
    /// When the request started.
    first: Instant,
    /// The last reading: where the next lap starts.
    last: Instant,
}

impl Timings {
    fn starting(at: Instant) -> Timings {
        Timings {
            stages: [None; 6],
            first: at,
            last: at,
        }
    }

    /// Ends a lap of `stage` now (the time since the last reading is added to it).
    fn lap(&mut self, stage: Stage) {
        let now = Instant::now();
        let slot = &mut self.stages[stage.index()];
        *slot = Some(slot.unwrap_or_default() + now.saturating_duration_since(self.last));
        self.last = now;
    }

    /// Starts the next lap now, the time since the last reading counted in no stage.
    fn restart(&mut self) {
        self.last = Instant::now();
    }
}

/// The most text (bytes, all segments together) decided as one joined text; more is
/// decided segment by segment ([`Pipeline::decide_segments`]). A request's prompts are far
/// below it; an uploaded batch file can be past it.
const JOIN_LIMIT: usize = 1 << 20;

/// A character no segment holds, to join several segments into the one text a decision
/// is made on (so numbering and blocks are per request); findings never span it. Private
/// use code points: a document holding the first gets the next.
fn separator(texts: &[&str]) -> Option<char> {
    (0xE000..0xE100)
        .filter_map(char::from_u32)
        .find(|c| !texts.iter().any(|t| t.contains(*c)))
}

/// Whom an audit event is about: the request's id and tenant, and the route.
#[derive(Clone, Copy)]
struct Who<'a> {
    request_id: &'a str,
    tenant: &'a str,
    route: &'static str,
}

impl Who<'_> {
    fn of(req: &PipelineRequest) -> Who<'_> {
        Who {
            request_id: &req.request_id,
            tenant: &req.tenant,
            route: req.route.as_str(),
        }
    }
}

/// What a response event records beside the decision.
#[derive(Default)]
struct AnswerNotes<'a> {
    /// Pseudonyms put back, and token-shaped text left unresolved.
    restore: Option<&'a RestoreStats>,
    /// Pseudonyms already put back in other scopes than the request's (the uploads whose
    /// files another route's answer quotes), counted with the answer's own.
    restored_before: u32,
    /// How the exchange ended, when not as decided (`AuditEvent::outcome`).
    outcome: &'static str,
    /// The upstream's error status.
    upstream_status: u16,
}

/// The response event a forwarded request is owed. Armed once the request's own event is
/// written and nothing blocked it; the answer's event settles it (a streamed answer records
/// its own). Dropped while armed, because the exchange failed before an answer could be
/// decided (a deadline passing included) or because its future was dropped (the caller
/// left, the gateway stopped), it records a response event with the decision `none` and
/// the `outcome`: every forwarded request has exactly one response event.
struct Owed<'a> {
    pipeline: &'a Pipeline,
    req: &'a PipelineRequest,
    /// The request's model, filled in by the parse.
    model: String,
    armed: bool,
    /// How the exchange ended, once it did; never set when its future was dropped.
    outcome: Option<&'static str>,
    started: Instant,
}

impl Owed<'_> {
    /// Settles the debt by how the exchange ended.
    fn settle(&mut self, result: &Result<PipelineResponse, PipelineError>) {
        match result {
            // Recorded already: the answer's event, its stream's, the response block's or
            // the upstream error body's; or the log refused the answer's event.
            Ok(_)
            | Err(
                PipelineError::Blocked { .. }
                | PipelineError::Upstream { .. }
                | PipelineError::Audit { .. },
            ) => self.armed = false,
            Err(e) => self.outcome = Some(e.kind().as_str()),
        }
    }
}

impl Drop for Owed<'_> {
    fn drop(&mut self) {
        if self.armed {
            let outcome = self
                .outcome
                .unwrap_or_else(|| Pipeline::dropped(&self.pipeline.stopping));
            self.pipeline.record_unanswered(
                Who::of(self.req),
                &self.model,
                outcome,
                self.started.elapsed(),
            );
        }
    }
}

/// The route audit records and decision contexts name for [`Pipeline::scan`].
pub const SCAN_ROUTE: &str = "/v1/sentinel/scan";

/// The route under which [`Pipeline::analyze`] records its analyses (a gateway's Presidio
/// `/analyze`).
pub const ANALYZE_ROUTE: &str = "/analyze";

/// The route under which [`Pipeline::anonymized`] records what a caller had anonymized (a
/// gateway's Presidio `/anonymize`).
pub const ANONYMIZE_ROUTE: &str = "/anonymize";

/// The route under which [`Pipeline::anonymized`] records what a caller had decrypted (a
/// gateway's Presidio `/deanonymize`).
pub const DEANONYMIZE_ROUTE: &str = "/deanonymize";

/// What a caller had done to values with its own results and operators (a gateway's
/// Presidio anonymizer routes), as [`Pipeline::anonymized`] records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operated {
    /// Values replaced, redacted, masked, hashed, encrypted or kept ([`ANONYMIZE_ROUTE`]).
    Anonymized,
    /// Values an anonymization encrypted, decrypted ([`DEANONYMIZE_ROUTE`]).
    Deanonymized,
}

impl Operated {
    /// The route its records and metrics name.
    pub fn route(self) -> &'static str {
        match self {
            Operated::Anonymized => ANONYMIZE_ROUTE,
            Operated::Deanonymized => DEANONYMIZE_ROUTE,
        }
    }

    /// Its records' outcome: `anonymized` or `deanonymized`.
    fn outcome(self) -> &'static str {
        match self {
            Operated::Anonymized => "anonymized",
            Operated::Deanonymized => "deanonymized",
        }
    }
}

/// What [`Pipeline::scan`] found and decided for one text.
#[derive(Debug)]
pub struct ScanOutcome {
    /// The findings (byte spans into the text, sorted by start).
    pub findings: Arc<[Finding]>,
    /// `allow`, `transform` or `block`.
    pub decision: &'static str,
    /// The text the policy would send instead, when it transforms.
    pub text: Option<String>,
    /// Why it blocks (entity types and rule names, never values), when it does.
    pub reasons: Vec<Reason>,
}

/// Findings counted by (entity type, action) for telemetry: a few entries however many
/// findings a request has (a text dense with values has hundreds of thousands).
#[derive(Debug, Default)]
struct Labels(Vec<(EntityType, &'static str, u64)>);

impl Labels {
    fn add(&mut self, entity: &EntityType, action: &'static str) {
        // One recognizer's findings share their entity's allocation, and actions are
        // constants: the addresses usually decide, the bytes otherwise.
        let same = |a: &str, b: &str| std::ptr::eq(a, b) || a == b;
        match self
            .0
            .iter_mut()
            .find(|(e, a, _)| same(a, action) && same(e.as_str(), entity.as_str()))
        {
            Some(t) => t.2 += 1,
            None => self.0.push((entity.clone(), action, 1)),
        }
    }
}

/// The result of deciding on all segments of one document.
struct SegmentsDecision {
    /// When anything was transformed, per segment its new text, or `None` where it
    /// stays as it is (so an unchanged segment is not copied).
    texts: Option<Vec<Option<String>>>,
    applied: Vec<Applied>,
    blocked: Option<Vec<Reason>>,
    shadow: Option<&'static str>,
}

impl SegmentsDecision {
    /// Adds what the decision did to the findings telemetry counts: each applied action,
    /// and `block` for each entity type that blocked.
    fn label_into(&self, labels: &mut Labels) {
        for a in &self.applied {
            labels.add(&a.entity, a.action.as_str());
        }
        for r in self.blocked.iter().flatten() {
            labels.add(&EntityType::new(&r.entity), "block");
        }
    }

    /// `block`, `transform` or `allow`.
    fn name(&self) -> &'static str {
        if self.blocked.is_some() {
            "block"
        } else if self.texts.is_some() {
            "transform"
        } else {
            "allow"
        }
    }
}

fn decision_name(d: &Decision) -> &'static str {
    match d {
        Decision::Allow { .. } => "allow",
        Decision::Transform { .. } => "transform",
        Decision::Block { .. } => "block",
    }
}

/// How much a decision named by [`decision_name`] does: allow < transform < block.
fn severity(name: &str) -> u8 {
    match name {
        "block" => 2,
        "transform" => 1,
        _ => 0,
    }
}

impl Pipeline {
    /// A pipeline from its layers.
    #[allow(clippy::too_many_arguments)] // reason: each layer is its own seam
    pub fn new(
        detection: Detection,
        policy: Arc<dyn PolicyEngine>,
        audit: Option<Arc<dyn AuditSink>>,
        responses: Option<Arc<TieredCache<CachedResponse>>>,
        transport: Arc<dyn Transport>,
        telemetry: Arc<Telemetry>,
        config: PipelineConfig,
    ) -> Pipeline {
        let fingerprinter = Fingerprinter::new(&config.fingerprint_key);
        Pipeline {
            fingerprinter,
            printed: printed_cache(),
            refusals: Arc::new(RefusalWindow::new()),
            shared_vault: None,
            chains: Arc::new(Chains::new()),
            stopping: Arc::new(AtomicBool::new(false)),
            flights: SingleFlight::new(config.single_flight_wait),
            detection: Arc::new(detection),
            policy,
            audit,
            responses,
            transport,
            telemetry,
            config,
        }
    }

    /// Says that the process is cutting its exchanges short (a second stop signal, or a
    /// drain whose grace ran out): an exchange dropped from now on before its answer was
    /// complete is recorded with the outcome `shutdown` instead of `abandoned` (which then
    /// means that its caller left).
    pub fn cut_short(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// The outcome of an exchange dropped before its answer was complete.
    fn dropped(stopping: &AtomicBool) -> &'static str {
        if stopping.load(Ordering::Relaxed) {
            "shutdown"
        } else {
            "abandoned"
        }
    }

    /// This pipeline keeping its conversation scopes in `shared` too (see
    /// [`SharedVault`]); `None` keeps them in this process only.
    #[must_use]
    pub fn with_shared_vault(mut self, shared: Option<Arc<SharedVault>>) -> Pipeline {
        self.shared_vault = shared;
        self
    }

    /// This pipeline with the stages `stages` gives in place of its own (see [`Stages`]):
    /// the same audit log, telemetry and fingerprint key, so a
    /// configuration loaded again while serving changes what is found, decided and where
    /// it is sent, and nothing else. Requests in flight finish with the pipeline they
    /// started in.
    pub fn with_stages(&self, stages: Stages) -> Pipeline {
        let mut config = self.config.clone();
        if let Some(stance) = stages.detector_stance {
            config.detector_stance = stance;
        }
        let (responses, shared_vault) = match stages.responses {
            Some(stage) => {
                config.response_cache = stage.policy;
                (stage.cache, stage.vault)
            }
            None => (self.responses.clone(), self.shared_vault.clone()),
        };
        Pipeline {
            fingerprinter: self.fingerprinter.clone(),
            refusals: Arc::clone(&self.refusals),
            shared_vault,
            chains: Arc::clone(&self.chains),
            stopping: Arc::clone(&self.stopping),
            flights: SingleFlight::new(self.config.single_flight_wait),
            // Kept with the detection stage whose results they describe.
            printed: if stages.detection.is_some() {
                printed_cache()
            } else {
                Arc::clone(&self.printed)
            },
            detection: stages
                .detection
                .map_or_else(|| Arc::clone(&self.detection), Arc::new),
            policy: stages.policy.unwrap_or_else(|| Arc::clone(&self.policy)),
            audit: self.audit.clone(),
            responses,
            transport: stages
                .transport
                .unwrap_or_else(|| Arc::clone(&self.transport)),
            telemetry: Arc::clone(&self.telemetry),
            config,
        }
    }

    /// The telemetry (its Monitor is what `/v1/sentinel/stats` shows).
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// The detection stage.
    pub fn detection(&self) -> &Detection {
        &self.detection
    }

    /// The policy.
    pub fn policy(&self) -> &Arc<dyn PolicyEngine> {
        &self.policy
    }

    /// The audit sink, if any.
    pub fn audit(&self) -> Option<&Arc<dyn AuditSink>> {
        self.audit.as_ref()
    }

    /// What the pipeline's caches hold now, and whether a shared level is down: the
    /// detection cache, the remote detector's (with a remote), the response cache (when
    /// on) and the pseudonym vault's shared level (`[cache] share_vault`, no sizes: its
    /// scopes are held per tenant by the policy). For gauges read at a scrape.
    pub fn cache_sizes(&self) -> Vec<CacheSize> {
        let (local, remote) = self.detection.cache_stats();
        let mut out = vec![CacheSize::of("detection", &local, None)];
        if let Some(remote) = remote {
            out.push(CacheSize::of("remote_detection", &remote, None));
        }
        if let Some(responses) = &self.responses {
            let s = responses.stats();
            out.push(CacheSize::of(
                "response",
                &s.memory,
                responses.has_shared().then_some(s.degraded),
            ));
        }
        if let Some(vault) = &self.shared_vault {
            out.push(CacheSize {
                cache: "vault",
                bytes: None,
                entries: None,
                degraded: Some(vault.degraded()),
            });
        }
        out
    }

    /// The transport.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// The response cache, if any.
    pub fn response_cache(&self) -> Option<&Arc<TieredCache<CachedResponse>>> {
        self.responses.as_ref()
    }

    fn fingerprint(&self, entity: &str, value: &str) -> Fingerprint {
        self.fingerprinter.print(entity, value)
    }

    /// Appends the fingerprints of the values `d` found in `text` to `out`; a shared
    /// result's come from beside it after the first time.
    fn fingerprints_into(&self, text: &str, d: &Detected, out: &mut Vec<Fingerprint>) {
        let compute = |out: &mut Vec<Fingerprint>| {
            // A finding without a value (content that was not read) has nothing to print.
            // An escaped or folded value (`jane\u0040...`, `jane%40...`) is printed as what
            // it reads as, as it would be written in plain prose.
            for f in d.findings.iter().filter(|f| f.start < f.end) {
                if text.get(f.start..f.end).is_some() {
                    out.push(self.fingerprint(f.entity.as_str(), &f.value(text)));
                }
            }
        };
        if !d.shared || d.findings.is_empty() {
            return compute(out);
        }
        let key = Arc::as_ptr(&d.findings).cast::<Finding>() as usize;
        if let Some(p) = self.printed.get(&key) {
            if Arc::ptr_eq(&p.findings, &d.findings) {
                out.extend_from_slice(&p.prints);
                return;
            }
        }
        let start = out.len();
        compute(out);
        let printed = Printed {
            findings: Arc::clone(&d.findings),
            prints: out[start..].into(),
        };
        self.printed.insert(key, Arc::new(printed));
    }

    /// Finds the sensitive values in one text as a request's texts are found: through the
    /// detection cache, with the remote per the mode, and the detector stance when the
    /// remote fails. For endpoints that scan a text on its own (`/v1/sentinel/scan`,
    /// `/analyze`).
    ///
    /// # Errors
    ///
    /// [`PipelineError::Detector`] when the remote failed under the fail-closed stance.
    pub async fn detect(&self, text: &str) -> Result<Detected, PipelineError> {
        let mut lookups = Vec::new();
        let mut found = self.detect_all(&[text], &mut lookups).await?;
        Ok(found.pop().unwrap_or_default())
    }

    /// Scans one text on its own, as the native scan endpoint does: detection as
    /// [`Pipeline::detect`], the tenant's decision for `direction` (and its shadow's), and
    /// an audit event under the [`SCAN_ROUTE`] with the audit stance, so a check an
    /// application makes before it sends a text itself is on record like a proxied one.
    /// Nothing is sent anywhere.
    ///
    /// # Errors
    ///
    /// [`PipelineError::Detector`] or [`PipelineError::Audit`] under their fail-closed
    /// stances.
    pub async fn scan(
        &self,
        tenant: &str,
        request_id: &str,
        text: &str,
        direction: Direction,
    ) -> Result<ScanOutcome, PipelineError> {
        let started = Instant::now();
        let mut t = Timings::starting(started);
        let mut lookups: Vec<(CacheName, bool)> = Vec::new();
        let mut found_labels = Labels::default();
        let result = self
            .scan_inner(
                tenant,
                request_id,
                text,
                direction,
                &mut t,
                &mut lookups,
                &mut found_labels,
            )
            .await;
        let status = match &result {
            Ok(_) => 200,
            Err(e) => e.status().as_u16(),
        };
        let mut record = RequestRecord::new(SCAN_ROUTE, "", status, started.elapsed());
        match &result {
            Ok(o) if o.decision == "block" => {
                record.blocked = Some(match direction {
                    Direction::Request => "request",
                    Direction::Response => "response",
                });
            }
            Ok(_) => {}
            Err(e) => record.error = Some(e.kind()),
        }
        self.report(record, tenant, &t, &lookups, &found_labels);
        result
    }

    /// Finds the values in `text` for a caller that decides on them itself (a gateway's
    /// Presidio `/analyze`, which LiteLLM's guardrail asks): detection as
    /// [`Pipeline::detect`], no policy, and an audit event under [`ANALYZE_ROUTE`] with
    /// the decision `none` and the outcome `analyzed` (the entity counts and fingerprints
    /// of what was found, `also` included: values the caller's own recognizers found), so a
    /// guardrail's checks are on record too; counted in the metrics like a request, its
    /// findings with the action `none`. Returns the detection stage's findings, and leaves
    /// in `also` only what they do not hold (the same type over the same span).
    ///
    /// # Errors
    ///
    /// [`PipelineError::Detector`] or [`PipelineError::Audit`] under their fail-closed
    /// stances.
    pub async fn analyze(
        &self,
        tenant: &str,
        request_id: &str,
        text: &str,
        also: &mut Vec<Finding>,
    ) -> Result<Detected, PipelineError> {
        let started = Instant::now();
        let mut t = Timings::starting(started);
        let mut lookups: Vec<(CacheName, bool)> = Vec::new();
        let mut labels = Labels::default();
        let result: Result<Detected, PipelineError> = async {
            let mut found = self.detect_all(&[text], &mut lookups).await?;
            let found = found.pop().unwrap_or_default();
            t.lap(Stage::Detect);
            // What the caller's recognizers found that the detection stage did not.
            also.retain(|x| {
                !found
                    .findings
                    .iter()
                    .any(|f| (f.start, f.end, &f.entity) == (x.start, x.end, &x.entity))
            });
            for f in found.findings.iter().chain(also.iter()) {
                labels.add(&f.entity, "none");
            }
            if self.audit.is_some() {
                let mut e = AuditEvent::new(request_id, tenant, AuditDirection::Request);
                e.route = ANALYZE_ROUTE.into();
                let also = Detected {
                    findings: Arc::from(also.as_slice()),
                    ..Detected::default()
                };
                self.found_into(&mut e, &[text, text], &[found.clone(), also]);
                e.decision = "none".into();
                e.outcome = "analyzed".into();
                e.latency_us = u64::try_from(t.last.saturating_duration_since(t.first).as_micros())
                    .unwrap_or(u64::MAX);
                e.policy_version = self.policy.version_hash(tenant);
                let appended = self.append(e);
                t.lap(Stage::Audit);
                appended?;
            }
            Ok(found)
        }
        .await;
        let status = match &result {
            Ok(_) => 200,
            Err(e) => e.status().as_u16(),
        };
        let mut record = RequestRecord::new(ANALYZE_ROUTE, "", status, started.elapsed());
        if let Err(e) = &result {
            record.error = Some(e.kind());
        }
        self.report(record, tenant, &t, &lookups, &labels);
        result
    }

    /// Records an anonymization (or its undoing) the caller asked for with its own results
    /// and operators (Presidio `/anonymize`, `/deanonymize`): no detection and no policy,
    /// but values changed all the same. `replaced` holds, for each result applied, the
    /// value's span in `text` (byte offsets; the text holding it in clear: the request's
    /// for an anonymization, the answer's for a decryption) and the operator applied
    /// (`replace`, `redact`, `mask`, `hash`, `encrypt`, `keep`; `decrypt`). An audit event
    /// under `what`'s route with the decision `transform` (`allow` when every operator was
    /// `keep`, or none applied), the outcome `anonymized` or `deanonymized`, the entity
    /// counts, the operators as actions and the values' fingerprints; counted in the
    /// metrics like a request, its findings with their operators as actions. `took` is the
    /// time the operators took.
    ///
    /// # Errors
    ///
    /// [`PipelineError::Audit`] under the fail-closed audit stance.
    pub fn anonymized(
        &self,
        what: Operated,
        tenant: &str,
        request_id: &str,
        text: &str,
        replaced: &[(Finding, &'static str)],
        took: Duration,
    ) -> Result<(), PipelineError> {
        let started = Instant::now();
        let mut t = Timings::starting(started);
        let mut labels = Labels::default();
        for (f, op) in replaced {
            labels.add(&f.entity, op);
        }
        let result = match self.audit.is_some() {
            false => Ok(()),
            true => {
                let mut e = AuditEvent::new(request_id, tenant, AuditDirection::Request);
                e.route = what.route().into();
                let found = Detected {
                    findings: replaced.iter().map(|(f, _)| f.clone()).collect(),
                    ..Detected::default()
                };
                self.found_into(&mut e, &[text], std::slice::from_ref(&found));
                for (_, op) in replaced {
                    e.count_action(op, 1);
                }
                let changed = replaced.iter().any(|(_, op)| *op != "keep");
                e.decision = if changed { "transform" } else { "allow" }.into();
                e.outcome = what.outcome().into();
                e.latency_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
                e.policy_version = self.policy.version_hash(tenant);
                let appended = self.append(e);
                t.lap(Stage::Audit);
                appended
            }
        };
        let status = match &result {
            Ok(()) => 200,
            Err(e) => e.status().as_u16(),
        };
        let mut record = RequestRecord::new(what.route(), "", status, took + started.elapsed());
        if let Err(e) = &result {
            record.error = Some(e.kind());
        }
        self.report(record, tenant, &t, &[], &labels);
        result
    }

    #[allow(clippy::too_many_arguments)] // reason: the scan's tallies, as `run` takes them
    async fn scan_inner(
        &self,
        tenant: &str,
        request_id: &str,
        text: &str,
        direction: Direction,
        t: &mut Timings,
        lookups: &mut Vec<(CacheName, bool)>,
        found_labels: &mut Labels,
    ) -> Result<ScanOutcome, PipelineError> {
        let found = self.detect_all(&[text], lookups).await?;
        let found: [Detected; 1] = found.try_into().unwrap_or_else(|_| [Detected::default()]);
        t.lap(Stage::Detect);
        let ctx = DecisionContext {
            tenant: Cow::Borrowed(tenant),
            direction,
            route: Cow::Borrowed(SCAN_ROUTE),
            model: Cow::Borrowed(""),
            scope: Some(Cow::Borrowed(request_id)),
        };
        let decision = self.decide_segments(&[text], &found, &ctx);
        decision.label_into(found_labels);
        t.lap(Stage::Policy);
        let who = Who {
            request_id,
            tenant,
            route: SCAN_ROUTE,
        };
        let audit_direction = match direction {
            Direction::Request => AuditDirection::Request,
            Direction::Response => AuditDirection::Response,
        };
        let audited = self.record_audit(
            who,
            "",
            audit_direction,
            &[text],
            &found,
            &decision,
            AnswerNotes::default(),
            t.last.saturating_duration_since(t.first),
        );
        t.lap(Stage::Audit);
        audited?;
        let [found] = found;
        Ok(ScanOutcome {
            findings: found.findings,
            decision: decision.name(),
            text: decision.texts.and_then(|mut t| t.pop()).flatten(),
            reasons: decision.blocked.unwrap_or_default(),
        })
    }

    /// Hands a finished request or scan to telemetry, with its stage times, cache lookups,
    /// findings and tenant.
    fn report(
        &self,
        record: RequestRecord<'_>,
        tenant: &str,
        t: &Timings,
        lookups: &[(CacheName, bool)],
        found_labels: &Labels,
    ) {
        let findings: Vec<(&str, &str, u64)> = found_labels
            .0
            .iter()
            .map(|(e, a, n)| (e.as_str(), *a, *n))
            .collect();
        let mut record: RequestRecord<'_> = record;
        record.stages = t.stages;
        record.cache = lookups;
        record.findings = &findings;
        record.tenant = tenant;
        self.telemetry.record(&record);
    }

    /// Detects in every segment (cache hits counted into `lookups`).
    async fn detect_all(
        &self,
        texts: &[&str],
        lookups: &mut Vec<(CacheName, bool)>,
    ) -> Result<Vec<Detected>, PipelineError> {
        let mut out = Vec::with_capacity(texts.len());
        for t in texts {
            let d = self.detection.detect(t).await;
            if self.detection.caches(t) {
                lookups.push((CacheName::Detection, d.cache_hit));
            }
            if d.remote_failed {
                remote_failed(self.config.detector_stance).map_err(|()| {
                    PipelineError::Detector {
                        message: "the remote detector did not answer".to_owned(),
                    }
                })?;
            }
            out.push(d);
        }
        Ok(out)
    }

    /// One decision over all segments (so numbering and blocking are per request).
    fn decide_segments(
        &self,
        texts: &[&str],
        found: &[Detected],
        ctx: &DecisionContext<'_>,
    ) -> SegmentsDecision {
        let none_found = found.iter().all(|d| d.findings.is_empty());
        let shadow_of = |text: &str, found: &[Finding]| {
            self.policy
                .decide_shadow(text, found, ctx)
                .map(|d| decision_name(&d))
        };
        if none_found {
            return SegmentsDecision {
                texts: None,
                applied: Vec::new(),
                blocked: None,
                shadow: shadow_of("", &[]),
            };
        }
        // Several segments are decided as one text joined by a separator; one (the usual
        // prompt) is decided as it is, without a copy or a search. A large document (an
        // uploaded batch file) segment by segment: joined, it would be held three times
        // over (the joined text, the transformed one and its parts) while decided.
        let sep = if texts.len() > 1 {
            if texts.iter().map(|t| t.len()).sum::<usize>() > JOIN_LIMIT {
                return self.decide_each(texts, found, ctx);
            }
            match separator(texts) {
                Some(c) => c,
                // Every candidate occurs: decide each segment on its own.
                None => return self.decide_each(texts, found, ctx),
            }
        } else {
            '\u{E000}'
        };
        let (joined, all): (Cow<'_, str>, Cow<'_, [Finding]>) = match (texts, found) {
            ([t], [d]) => (Cow::Borrowed(*t), Cow::Borrowed(&d.findings[..])),
            _ => {
                let mut joined = String::new();
                let mut all = Vec::new();
                for (i, (t, d)) in texts.iter().zip(found).enumerate() {
                    if i > 0 {
                        joined.push(sep);
                    }
                    let base = joined.len();
                    joined.push_str(t);
                    all.extend(d.findings.iter().map(|x| Finding {
                        start: x.start + base,
                        end: x.end + base,
                        ..x.clone()
                    }));
                }
                (Cow::Owned(joined), Cow::Owned(all))
            }
        };
        let shadow = shadow_of(&joined, &all);
        let decided = self.policy.decide(&joined, &all, ctx);
        drop(all);
        drop(joined);
        match decided {
            Decision::Allow { applied } => SegmentsDecision {
                texts: None,
                applied,
                blocked: None,
                shadow,
            },
            Decision::Block { reasons } => SegmentsDecision {
                texts: None,
                applied: Vec::new(),
                blocked: Some(reasons),
                shadow,
            },
            Decision::Transform { text, applied } => {
                // One segment (the usual prompt) needs no search for separators.
                let parts: Vec<Option<String>> = if let [_] = texts {
                    vec![Some(text)]
                } else {
                    let parts: Vec<&str> = text.split(sep).collect();
                    if parts.len() != texts.len() {
                        // A transform wrote the separator (a mask character chosen to be
                        // it): decide each segment on its own rather than send anything
                        // unchanged.
                        return self.decide_each(texts, found, ctx);
                    }
                    parts
                        .iter()
                        .zip(texts)
                        .map(|(new, was)| (new != was).then(|| (*new).to_owned()))
                        .collect()
                };
                SegmentsDecision {
                    texts: Some(parts),
                    applied,
                    blocked: None,
                    shadow,
                }
            }
        }
    }

    /// One decision per segment (the fallback when segments cannot be joined), numbered on
    /// from one segment to the next as the joined decision is, so a value keeps its number
    /// across the request. The shadow policy is decided per segment too, and the strongest
    /// of its decisions (block, then transform, then allow) is the request's.
    fn decide_each(
        &self,
        texts: &[&str],
        found: &[Detected],
        ctx: &DecisionContext<'_>,
    ) -> SegmentsDecision {
        let mut texts_out = Vec::new();
        let mut applied = Vec::new();
        let mut changed = false;
        let mut reasons = Vec::new();
        let mut numbering = Numbering::default();
        let mut shadow = None;
        for (t, d) in texts.iter().zip(found) {
            if let Some(s) = self.policy.decide_shadow(t, &d.findings, ctx) {
                if shadow.is_none_or(|was| severity(was) < severity(decision_name(&s))) {
                    shadow = Some(decision_name(&s));
                }
            }
            match self
                .policy
                .decide_numbered(t, &d.findings, ctx, &mut numbering)
            {
                Decision::Allow { applied: a } => {
                    applied.extend(a);
                    texts_out.push(None);
                }
                Decision::Transform { text, applied: a } => {
                    changed = true;
                    applied.extend(a);
                    texts_out.push(Some(text));
                }
                Decision::Block { reasons: r } => reasons.extend(r),
            }
        }
        // Each reason once, as one decision over the joined text gives them.
        reasons.sort_unstable();
        reasons.dedup();
        SegmentsDecision {
            texts: changed.then_some(texts_out),
            applied,
            blocked: (!reasons.is_empty()).then_some(reasons),
            shadow,
        }
    }

    /// Writes one audit event; applies the audit stance on failure.
    #[allow(clippy::too_many_arguments)] // reason: the event's fields
    fn record_audit(
        &self,
        who: Who<'_>,
        model: &str,
        direction: AuditDirection,
        texts: &[&str],
        found: &[Detected],
        decision: &SegmentsDecision,
        notes: AnswerNotes<'_>,
        latency: Duration,
    ) -> Result<(), PipelineError> {
        if self.audit.is_none() {
            return Ok(());
        }
        let mut e = AuditEvent::new(who.request_id, who.tenant, direction);
        e.route = who.route.into();
        e.model = model.to_owned();
        self.found_into(&mut e, texts, found);
        for a in &decision.applied {
            e.count_action(a.action.as_str(), 1);
        }
        if let Some(reasons) = &decision.blocked {
            e.count_action("block", u32::try_from(reasons.len()).unwrap_or(u32::MAX));
        }
        e.decision = decision.name().into();
        e.latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        e.policy_version = self.policy.version_hash(who.tenant);
        if let Some(s) = decision.shadow {
            e.shadow_decision = s.into();
        }
        if let Some(r) = notes.restore {
            e.restored = r.restored;
            e.unresolved = r.unresolved.clone();
        }
        e.outcome = notes.outcome.into();
        e.upstream_status = notes.upstream_status;
        self.append(e)
    }

    /// Counts `found` (the findings of `texts`) by entity type into `e`, with their
    /// fingerprints.
    fn found_into(&self, e: &mut AuditEvent, texts: &[&str], found: &[Detected]) {
        e.fingerprints
            .reserve(found.iter().map(|d| d.findings.len()).sum::<usize>());
        // Counted per entity type first: a name is looked up in the event once, not once
        // per finding.
        let mut counts: Vec<(&EntityType, u32)> = Vec::new();
        for (t, d) in texts.iter().zip(found) {
            for f in d.findings.iter() {
                match counts.iter_mut().find(|(e, _)| **e == f.entity) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((&f.entity, 1)),
                }
            }
            self.fingerprints_into(t, d, &mut e.fingerprints);
        }
        for (entity, n) in counts {
            e.count_entity(entity.as_str(), n);
        }
    }

    /// Records that a forwarded request got no answer it could pass on: a response event
    /// with the decision `none` and how the exchange ended (see [`Owed`]).
    fn record_unanswered(&self, who: Who<'_>, model: &str, outcome: &'static str, took: Duration) {
        if self.audit.is_none() {
            return;
        }
        let mut e = AuditEvent::new(who.request_id, who.tenant, AuditDirection::Response);
        e.route = who.route.into();
        e.model = model.to_owned();
        e.decision = "none".into();
        e.outcome = outcome.into();
        e.latency_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        e.policy_version = self.policy.version_hash(who.tenant);
        // Nobody is left to hand a refusal to: `append` has counted and logged it.
        let _ = self.append(e);
    }

    /// Records a request that was refused before it reached the pipeline because its
    /// caller could not be identified (a gateway's 401 or 403 `loopback_only`): a request
    /// event with no tenant, the decision `none` and the reason as its outcome, and the
    /// presented key as a fingerprint under `GATEWAY_KEY`. At most
    /// [`REFUSALS_PER_SECOND`](crate::REFUSALS_PER_SECOND) a second are written; the rest
    /// are counted in `deepsentinel_audit_refusals_skipped_total`. The request is refused
    /// either way, so a failing audit log is counted and logged, never returned.
    pub fn record_refusal(&self, refusal: &Refusal<'_>) {
        if self.audit.is_none() {
            return;
        }
        if !self.refusals.admit() {
            metrics::counter!(sentinel_metrics::names::AUDIT_REFUSALS_SKIPPED_TOTAL).increment(1);
            return;
        }
        let mut e = AuditEvent::new(refusal.request_id, "", AuditDirection::Request);
        e.route = refusal.route.into();
        e.decision = "none".into();
        e.outcome = refusal.reason.into();
        if let Some(key) = refusal.credential {
            e.count_entity(GATEWAY_KEY, 1);
            e.fingerprints.push(self.fingerprint(GATEWAY_KEY, key));
        }
        let _ = self.append(e);
    }

    /// Appends one event; on failure counts and logs it and applies the audit stance.
    fn append(&self, e: AuditEvent) -> Result<(), PipelineError> {
        let Some(sink) = &self.audit else {
            return Ok(());
        };
        match sink.append(e) {
            Ok(()) => Ok(()),
            Err(err) => {
                use sentinel_metrics::names::{label, AUDIT_DROPPED_TOTAL};
                let stance = self.config.audit_stance;
                metrics::counter!(AUDIT_DROPPED_TOTAL, label::POLICY => match stance {
                    Stance::FailClosed => "fail_closed",
                    Stance::FailOpen => "fail_open",
                })
                .increment(1);
                tracing::error!(error = %err, "audit log refused an event");
                match stance {
                    Stance::FailClosed => Err(PipelineError::Audit {
                        message: err.to_string(),
                    }),
                    Stance::FailOpen => Ok(()),
                }
            }
        }
    }

    /// The shared level, the vault and the scope of a request whose conversation scope is
    /// shared: a conversation's, in a tenant whose policy pseudonymizes, with a shared
    /// level configured.
    fn shared_scope<'r>(
        &'r self,
        req: &'r PipelineRequest,
    ) -> Option<(&'r SharedVault, &'r sentinel_policy::Vault, &'r str)> {
        let store = self.shared_vault.as_deref()?;
        let scope = req.conversation.as_deref()?;
        let vault = self.policy.pseudonym_vault(&req.tenant)?;
        Some((store, vault, scope))
    }

    /// The scope a Responses API request without a conversation id continues (see
    /// [`crate::chains`]): the scope of the stored conversation it names or of the answer
    /// it names as previous (remembered here, else in the shared store; one remembered
    /// nowhere starts a scope of its id), or for a first turn its own request id.
    async fn continued_scope(&self, req: &PipelineRequest) -> String {
        let continues = Continues::of(&req.body);
        if let Some(id) = continues.conversation() {
            return self.answer_scope(&req.tenant, id).await;
        }
        let Some(previous) = &continues.previous_response_id else {
            return req.request_id.clone();
        };
        self.answer_scope(&req.tenant, previous).await
    }

    /// The scope the Responses API answer `id` was given in: remembered here, else in the
    /// shared store; an answer remembered nowhere starts a scope of that id.
    async fn answer_scope(&self, tenant: &str, id: &str) -> String {
        match self.known_scope(tenant, id).await {
            Some(scope) => scope,
            None => id.to_owned(),
        }
    }

    /// The scope `tenant`'s answer `id` was remembered with, here or in the shared store.
    async fn known_scope(&self, tenant: &str, id: &str) -> Option<String> {
        if let Some(scope) = self.chains.scope_of(tenant, id) {
            return Some(scope.to_string());
        }
        let scope = self.shared_vault.as_ref()?.scope_of(tenant, id).await?;
        self.chains.remember(tenant, id, &scope);
        Some(scope)
    }

    /// The upstream request of a route without a body (a listing), on a stored resource or
    /// on another path ([`Route::Other`]): its method, the path with the id, and the
    /// caller's query. The id (or the other path) must be one the gateway's paths accept.
    fn resource_request(req: &PipelineRequest) -> Result<OutboundRequest, PipelineError> {
        let id = req.resource.as_deref().unwrap_or_default();
        if let Route::Other(_) = req.route {
            if Route::other(&req.route.method(), id) != Some(req.route) {
                return Err(PipelineError::BadRequest {
                    message: "the path must be one under /v1/ that no known route names, of \
                              letters, digits and '.' '_' '-' '~'"
                        .to_owned(),
                });
            }
        } else if Route::of(&req.route.method(), &req.route.path_for(id))
            != Some((req.route, req.route.on_resource().then_some(id)))
        {
            return Err(PipelineError::BadRequest {
                message: format!(
                    "{} needs the id of a stored resource (letters, digits, '_' and '-')",
                    req.route.as_str()
                ),
            });
        }
        let path = match req.route {
            Route::Other(_) => id.to_owned(),
            route => route.path_for(id),
        };
        let mut path = path.strip_prefix("/v1").unwrap_or(&path).to_owned();
        if let Some(q) = req.query.as_deref().filter(|q| !q.is_empty()) {
            path.push('?');
            path.push_str(q);
        }
        let mut out = OutboundRequest::get(&path);
        out.method = req.route.method();
        Ok(out)
    }

    /// Where the answer to `req` is remembered with its scope, for a request that names it
    /// later (a next turn, a conversation, a batch's input file, a batch's output file):
    /// on the routes [`chains::remembered`] names, in a tenant whose policy pseudonymizes.
    fn chain_link(&self, req: &PipelineRequest) -> Option<ChainLink> {
        chains::remembered(req.route)?;
        let vault = self.policy.pseudonym_vault(&req.tenant)?;
        Some(ChainLink {
            chains: Arc::clone(&self.chains),
            shared: self.shared_vault.clone(),
            ttl: vault.config().ttl,
            tenant: req.tenant.clone(),
            scope: Pipeline::scope(req).to_owned(),
        })
    }

    fn scope(req: &PipelineRequest) -> &str {
        req.conversation.as_deref().unwrap_or(&req.request_id)
    }

    fn context<'a>(
        req: &'a PipelineRequest,
        model: &'a str,
        direction: Direction,
    ) -> DecisionContext<'a> {
        DecisionContext {
            tenant: Cow::Borrowed(&req.tenant),
            direction,
            route: Cow::Borrowed(req.route.as_str()),
            model: Cow::Borrowed(model),
            scope: Some(Cow::Borrowed(Pipeline::scope(req))),
        }
    }

    /// Runs one request through every stage.
    ///
    /// # Errors
    ///
    /// See [`PipelineError`]; every error is also counted and, where the policy decided,
    /// audited.
    pub async fn handle(&self, req: PipelineRequest) -> Result<PipelineResponse, PipelineError> {
        let started = Instant::now();
        let mut req = req;
        if req.conversation.is_none() && self.policy.pseudonym_vault(&req.tenant).is_some() {
            if req.route == Route::Responses {
                req.conversation = Some(self.continued_scope(&req).await);
            } else if let (true, Some(id)) = (req.route.on_resource(), &req.resource) {
                // A stored response, batch, file or conversation is restored in the scope
                // of the request that made it.
                let owner = Route::resource_owner(id);
                req.conversation = Some(self.answer_scope(&req.tenant, owner).await);
            } else if req.route == Route::Batches {
                // A batch continues the scope its input file was uploaded in.
                if let Some(file) = chains::input_file_id(&req.body) {
                    req.conversation = Some(self.answer_scope(&req.tenant, &file).await);
                }
            } else if chains::remembered(req.route) == Some(chains::Remembered::Id) {
                // What this request stores (an upload, a conversation, a message batch) is
                // read back later, maybe on another replica: its scope is kept (and
                // shared) as a conversation's.
                req.conversation = Some(req.request_id.clone());
            }
        }
        let mut t = Timings::starting(started);
        let mut lookups: Vec<(CacheName, bool)> = Vec::new();
        let mut found_labels = Labels::default();
        let mut owed = Owed {
            pipeline: self,
            req: &req,
            model: String::new(),
            armed: false,
            outcome: None,
            started,
        };
        // At `debug`: at `info` the lines logged on a request's behalf are few and about
        // the deployment (an audit sink, a remote detector, a circuit), while the span
        // cost every request its fields' formatting and an enter and exit per poll (3-5%
        // of the gateway's throughput at 16 clients in two A/B runs; docs/performance.md).
        let span = tracing::debug_span!(
            "request",
            route = req.route.as_str(),
            request_id = %req.request_id
        );
        // Made where it is awaited: a future kept in a variable and then awaited (or
        // wrapped) is laid out twice in this one's state, and copied at every move.
        let run = || {
            self.run(
                &req,
                &mut t,
                &mut lookups,
                &mut found_labels,
                &mut owed.model,
                &mut owed.armed,
            )
            .instrument(span)
        };
        let result = match req.deadline {
            None => run().await,
            // Dropped at the deadline, the exchange ends here rather than in the caller:
            // counted and recorded as a timeout, not as abandoned.
            Some(after) => tokio::time::timeout(after, run())
                .await
                .unwrap_or(Err(PipelineError::TimedOut { after })),
        };
        owed.settle(&result);
        let model = &owed.model;
        let status = match &result {
            Ok(r) => r.status.as_u16(),
            Err(e) => e.status().as_u16(),
        };
        let mut record = RequestRecord::new(req.route.as_str(), model, status, started.elapsed());
        if let Err(e) = &result {
            match e {
                PipelineError::Blocked { direction, .. } => record.blocked = Some(direction),
                other => record.error = Some(other.kind()),
            }
        }
        self.report(record, &req.tenant, &t, &lookups, &found_labels);
        result
    }

    async fn run(
        &self,
        req: &PipelineRequest,
        t: &mut Timings,
        lookups: &mut Vec<(CacheName, bool)>,
        found_labels: &mut Labels,
        model_out: &mut String,
        owed: &mut bool,
    ) -> Result<PipelineResponse, PipelineError> {
        // Parse: JSON, a form's text fields as one object, or (a stored resource's route)
        // the request to the upstream, checked before anything is recorded.
        let other = matches!(req.route, Route::Other(_));
        let resource = if req.route.takes_body() && !req.route.on_resource() && !other {
            None
        } else {
            Some(Pipeline::resource_request(req)?)
        };
        // Another route's upload is read as a form too: its text fields, file names and
        // the files that are text.
        let reads_form = req.route.takes_form()
            || (other && req.content_type.as_deref().is_some_and(form::is_form));
        let mut form = if reads_form {
            let content_type = req.content_type.as_deref().unwrap_or_default();
            let form = Form::parse(content_type, req.body.clone())
                .await
                .map_err(|e| PipelineError::BadRequest {
                    message: e.to_string(),
                })?;
            Some(form)
        } else {
            None
        };
        let mut body: Value = match &form {
            Some(form) => {
                let mut fields = form.fields();
                // An upload's files, read as text when they are (never audio or images).
                if req.route == Route::Files || other {
                    fields[FILE_DOCUMENTS] = form.file_documents();
                }
                fields
            }
            // A listing or a stored resource's route: whatever body came is not sent on. On
            // another route, an empty body (a cancellation) is sent on as it came.
            None if !req.route.takes_body() || (other && req.body.is_empty()) => {
                Value::Object(serde_json::Map::new())
            }
            None => serde_json::from_slice(&req.body).map_err(|e| PipelineError::BadRequest {
                message: format!("body is not valid JSON ({e})"),
            })?,
        };
        if !body.is_object() {
            return Err(PipelineError::BadRequest {
                message: "body must be a JSON object".to_owned(),
            });
        }
        model_out.push_str(
            body.get("model")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let model: &str = model_out;
        let stream = match body.get("stream") {
            Some(Value::Bool(on)) => *on,
            // A form's fields are strings.
            Some(Value::String(on)) => form.is_some() && on == "true",
            // A stored response's events, streamed again.
            _ if req.route.on_resource() => req
                .query
                .as_deref()
                .is_some_and(|q| q.split('&').any(|p| p == "stream=true")),
            _ => false,
        };
        let segments = request_segments(req.route, &body);
        // Borrowed from the body: the body is only changed after the last use of these.
        let mut texts = segments.texts(&body);
        let unread = unread_findings(req.route, &segments, &body, form.as_ref(), |id| {
            self.chains.was_read(&req.tenant, id)
        });
        // An upload whose every file is read here as text: its id, once the upstream names
        // it, marks the file as read for the requests that name it later.
        let read_upload = req.route == Route::Files
            && body
                .get(FILE_DOCUMENTS)
                .and_then(Value::as_array)
                .is_some_and(|docs| !docs.is_empty() && docs.iter().all(|d| !d.is_null()));
        t.lap(Stage::Parse);

        // Detect.
        let mut findings = self
            .detect_all(&texts, lookups)
            .instrument(stage_span(Stage::Detect))
            .await?;
        // What was not read is decided with the texts, as findings without a value in an
        // empty text of its own (the policy allows, alerts on or blocks it).
        if !unread.is_empty() {
            texts.push("");
            findings.push(Detected {
                findings: unread.into(),
                ..Detected::default()
            });
        }
        t.lap(Stage::Detect);
        let found: usize = findings.iter().map(|d| d.findings.len()).sum();

        // What other replicas added to a shared conversation's scope.
        let shared = self.shared_scope(req);
        let mut held = 0;
        if let Some((store, vault, scope)) = shared {
            store.load(vault, &req.tenant, scope).await;
            held = vault.scope_len(&req.tenant, scope);
            t.lap(Stage::Cache);
        }

        // Decide.
        let ctx = Pipeline::context(req, model, Direction::Request);
        let decision = {
            let _span = stage_span(Stage::Policy).entered();
            self.decide_segments(&texts, &findings, &ctx)
        };
        decision.label_into(found_labels);
        t.lap(Stage::Policy);
        if let Some((store, vault, scope)) = shared {
            if vault.scope_len(&req.tenant, scope) > held {
                store.save(vault, &req.tenant, scope).await;
            }
            t.lap(Stage::Cache);
        }

        // Record (the decision's latency is up to the policy's lap).
        let audit_span = stage_span(Stage::Audit).entered();
        let audited = self.record_audit(
            Who::of(req),
            model,
            AuditDirection::Request,
            &texts,
            &findings,
            &decision,
            AnswerNotes::default(),
            t.last.saturating_duration_since(t.first),
        );
        drop(audit_span);
        t.lap(Stage::Audit);
        audited?;
        if let Some(reasons) = decision.blocked {
            return Err(PipelineError::Blocked {
                direction: "request",
                reasons,
            });
        }
        // From here on the request is on its way: its answer is owed a response event.
        *owed = true;
        let forwarded_unchanged = decision.texts.is_none();
        let outbound: Bytes = match decision.texts {
            None => req.body.clone(),
            Some(new_texts) => {
                // The files (and JSONL lines) whose texts changed; the others go as they
                // came.
                let mut changed_files = form::ChangedFiles::new();
                if form.is_some() {
                    let changed = segments
                        .paths()
                        .zip(&new_texts)
                        .filter(|(_, t)| t.is_some());
                    for (file, line) in changed.filter_map(|(path, _)| form::file_of(path)) {
                        changed_files.entry(file).or_default().extend(line);
                    }
                    for lines in changed_files.values_mut() {
                        lines.dedup();
                    }
                }
                // Moved, not copied, into the document.
                segments.replace(&mut body, new_texts);
                let bytes = match &mut form {
                    Some(form) => {
                        // The files read as text, written again from their documents,
                        // each dropped once written (nothing after reads them).
                        let docs = body.as_object_mut().and_then(|b| b.remove(FILE_DOCUMENTS));
                        if let Some(docs) = docs {
                            form.replace_file_documents(docs, &changed_files);
                        }
                        form.encode(&body).map_err(|e| PipelineError::BadRequest {
                            message: e.to_string(),
                        })?
                    }
                    None => Bytes::from(json_out::to_vec(&body, req.body.len() + 64)),
                };
                t.lap(Stage::Policy);
                bytes
            }
        };

        // Response cache.
        let cacheability = match &self.responses {
            // A form's key would need its files: uploads are not cached. A stored
            // response changes (a background one until it completes), as do listings, and
            // a batch is created once.
            Some(_) if form.is_some() => Cacheability::Bypass("form"),
            Some(_) if !req.route.cacheable() => Cacheability::Bypass("resource"),
            Some(_) => self.config.response_cache.cacheability(
                req.route.as_str(),
                &body,
                req.cache_control.as_deref(),
                req.cache_opt_in,
            ),
            None => Cacheability::Bypass("disabled"),
        };
        let store = matches!(cacheability, Cacheability::Use | Cacheability::Refresh)
            && self.responses.is_some();
        // Canonicalizing and hashing the request costs a few microseconds: only when the
        // cache may be used.
        let key = if store {
            let credential = req.upstream_credential.as_ref().map(|(_, v)| v.as_bytes());
            let mut vary: Vec<(&[u8], &[u8])> = req
                .upstream_headers
                .iter()
                .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()))
                .collect();
            vary.sort_unstable();
            response_key_varying(&req.tenant, credential, req.route.as_str(), &vary, &body)
        } else {
            sentinel_cache::Key::from_bytes([0; 16])
        };
        if let (Cacheability::Use, Some(cache)) = (cacheability, &self.responses) {
            let hit = cache.get(&key).await;
            lookups.push((CacheName::Response, hit.is_some()));
            t.lap(Stage::Cache);
            if let Some(cached) = hit {
                return self
                    .answer_from(req, model, cached, t, found, true, forwarded_unchanged)
                    .await;
            }
        }

        // Single flight for cacheable misses: one upstream call, the others share it.
        let guard = if store {
            match self.flights.join(key).await {
                Flight::Follower(shared) => {
                    // The wait for the leader is no stage's time.
                    t.restart();
                    return self
                        .answer_from(req, model, shared, t, found, true, forwarded_unchanged)
                        .await;
                }
                Flight::Leader(g) => Some(g),
                Flight::Alone => None,
            }
        } else {
            None
        };

        // Send (a single-flight wait, when there was one, is not the upstream's time).
        if guard.is_some() {
            t.restart();
        }
        let mut out = match resource {
            // A request on a resource with a body (new items, new metadata).
            Some(mut out) if req.route.takes_body() => {
                let json = http::HeaderValue::from_static("application/json");
                out.headers.insert(http::header::CONTENT_TYPE, json);
                out.body = outbound;
                out
            }
            Some(out) => out,
            None => OutboundRequest::post_json(req.route.upstream_path(), outbound),
        };
        if form.is_some() {
            // The form's own type, with its boundary (checked to be a valid header when the
            // caller sent it).
            if let Some(v) = req
                .content_type
                .as_deref()
                .and_then(|c| http::HeaderValue::from_str(c).ok())
            {
                out.headers.insert(http::header::CONTENT_TYPE, v);
            }
        }
        out.priority = req.priority;
        for name in req.upstream_headers.keys() {
            if !out.headers.contains_key(name) {
                for value in req.upstream_headers.get_all(name) {
                    out.headers.append(name.clone(), value.clone());
                }
            }
        }
        if let Some((name, value)) = &req.upstream_credential {
            out = out.with_credential(name.clone(), value.clone());
        }
        if !stream {
            out = out.accept_compressed();
        }
        let mut response = self
            .transport
            .send(out)
            .instrument(stage_span(Stage::Upstream))
            .await?;
        let status = response.status;
        let mut headers = std::mem::take(&mut response.headers);
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        // The body passed on is decoded, and may be changed.
        headers.remove(http::header::CONTENT_LENGTH);
        headers.remove(http::header::CONTENT_ENCODING);
        if !status.is_success() {
            let raw = response.bytes().await.unwrap_or_default();
            t.lap(Stage::Upstream);
            // An error body can carry text too (a provider echoing the input, a key in a
            // message): decided and recorded as an answer before it is passed on.
            let body = self
                .process_other(req, model, &raw, status.as_u16(), t.last)
                .await?;
            t.lap(Stage::Policy);
            return Err(PipelineError::Upstream {
                status,
                body,
                headers: Box::new(headers),
            });
        }
        let is_stream = content_type.starts_with("text/event-stream");
        if is_stream {
            t.lap(Stage::Upstream);
            drop(guard);
            let mut stream = ResponseStream::new(self, req, model, response.into_body());
            if store {
                if let Some(cache) = &self.responses {
                    // The upstream's events are kept (before restore and scanning) and stored
                    // when the stream completes, to be replayed through the same processing.
                    stream.recording = Some(Recording {
                        cache: Arc::clone(cache),
                        key,
                        ttl: self.config.response_cache.ttl,
                        status: status.as_u16(),
                        content_type: content_type.clone(),
                        limit: usize::try_from(cache.memory().max_entry_bytes())
                            .unwrap_or(usize::MAX),
                        chunks: Vec::new(),
                        size: 0,
                    });
                }
            }
            return Ok(PipelineResponse {
                status,
                content_type,
                body: PipelineBody::Stream(Box::new(stream)),
                cache_hit: false,
                findings: found,
                forwarded_unchanged,
                upstream_headers: headers,
            });
        }
        let raw = response.bytes().await?;
        t.lap(Stage::Upstream);
        if read_upload && status.is_success() {
            for uploaded in answer_ids(req.route, &raw) {
                self.chains.read_upload(&req.tenant, &uploaded.id);
            }
        }
        if let Some(link) = self.chain_link(req) {
            for chained in answer_ids(req.route, &raw) {
                match chained.owner {
                    None => link.remember(&chained.id).await,
                    // A listed batch's files continue the batch's scope, when it is known.
                    Some(batch) => {
                        if let Some(scope) = self.known_scope(&req.tenant, &batch).await {
                            link.remember_in(&chained.id, &scope).await;
                        }
                    }
                }
            }
        }
        let cached = CachedResponse {
            status: status.as_u16(),
            content_type: content_type.clone(),
            body: CachedBody::Full(raw),
        };
        if store {
            if let Some(cache) = &self.responses {
                cache
                    .insert(key, cached.clone(), Some(self.config.response_cache.ttl))
                    .await;
            }
            t.lap(Stage::Cache);
        }
        if let Some(g) = guard {
            g.complete(cached.clone());
        }
        let mut answer = self
            .answer_from(req, model, cached, t, found, false, forwarded_unchanged)
            .await?;
        answer.upstream_headers = headers;
        Ok(answer)
    }

    /// Restores and scans an upstream answer (fresh or cached) for the caller.
    #[allow(clippy::too_many_arguments)] // reason: the answer's context
    async fn answer_from(
        &self,
        req: &PipelineRequest,
        model: &str,
        cached: CachedResponse,
        t: &mut Timings,
        found: usize,
        cache_hit: bool,
        forwarded_unchanged: bool,
    ) -> Result<PipelineResponse, PipelineError> {
        let status = StatusCode::from_u16(cached.status).unwrap_or(StatusCode::OK);
        let body = match cached.body {
            CachedBody::Full(b) => {
                if let Some(large) = &req.large_answer {
                    large.weigh(b.len()).await;
                }
                b
            }
            CachedBody::Events(events) => {
                // A cached stream: replayed through the same response processing.
                let bytes: Vec<u8> = events.iter().flat_map(|e| e.iter().copied()).collect();
                let stream = ResponseStream::replay(self, req, model, Bytes::from(bytes));
                return Ok(PipelineResponse {
                    status,
                    content_type: cached.content_type,
                    body: PipelineBody::Stream(Box::new(stream)),
                    cache_hit,
                    findings: found,
                    forwarded_unchanged,
                    upstream_headers: http::HeaderMap::new(),
                });
            }
        };
        let other = matches!(req.route, Route::Other(_));
        let unread = (req.route == Route::AudioSpeech || other) && !is_text(&cached.content_type);
        let processed = if unread {
            // Speech, or a file's bytes on another route: passed on as it came (it is not
            // text), and the answer is on record like any other.
            let notes = AnswerNotes::default();
            let none = Segments::default();
            self.settle_answer(req, model, &mut Value::Null, &none, notes, t.last)
                .await?;
            body
        } else if matches!(
            req.route,
            Route::FilesContent | Route::MessagesBatchesResults
        ) {
            self.process_file(req, model, body, t.last).await?
        } else if other {
            // No walker knows the answer: every string of it, or all of it as text.
            self.process_other(req, model, &body, 0, t.last).await?
        } else {
            let body = gateway_results_urls(req.route, body);
            self.process_response(req, model, &body, t.last).await?
        };
        t.lap(Stage::Policy);
        Ok(PipelineResponse {
            status,
            content_type: cached.content_type,
            body: PipelineBody::Full(processed),
            cache_hit,
            findings: found,
            forwarded_unchanged,
            upstream_headers: http::HeaderMap::new(),
        })
    }

    /// Restore, then the response-direction scan and policy, over a whole JSON answer.
    async fn process_response(
        &self,
        req: &PipelineRequest,
        model: &str,
        body: &Bytes,
        started: Instant,
    ) -> Result<Bytes, PipelineError> {
        // Only the parts of the answer that hold text are parsed (the choices, not the ids
        // or usage; nothing of an embedding); the whole answer is parsed only to be changed.
        let Ok(mut v) = parse_answer(req.route, body) else {
            // Not a JSON object (a provider's plain error page on 200): all of it is text.
            return self.process_other(req, model, body, 0, started).await;
        };
        let segments = response_segments(req.route, &v);
        let notes = AnswerNotes::default();
        // A transcript's words first, while its text is as the model wrote it, so that
        // they are numbered as the text will be.
        let words = if matches!(
            req.route,
            Route::AudioTranscriptions | Route::AudioTranslations
        ) {
            self.settle_words(req, model, &mut v).await?
        } else {
            Words::default()
        };
        let changed = self
            .settle_answer(req, model, &mut v, &segments, notes, started)
            .await?
            | words.changed;
        // The text holds what the words spell, so its decision blocked first, on record;
        // should it not, the words still block.
        if let Some(reasons) = words.blocked {
            return Err(PipelineError::Blocked {
                direction: "response",
                reasons,
            });
        }
        if !changed {
            return Ok(body.clone());
        }
        // The final texts go into the whole answer by the same paths: the pruned one holds
        // the same subtrees under the same keys. Where a text changed, its logprobs go.
        let mut whole: Value =
            serde_json::from_slice(body).map_err(|e| PipelineError::BadRequest {
                message: e.to_string(),
            })?;
        segments.carry(&v, &mut whole);
        Ok(Bytes::from(json_out::to_vec(&whole, body.len() + 64)))
    }

    /// A file's content ([`Route::FilesContent`]), read as an upload's file is
    /// ([`file_document`]): restored, scanned and decided as an answer, and written again
    /// when it changed. A file that is not UTF-8 is passed on as it came, on record.
    async fn process_file(
        &self,
        req: &PipelineRequest,
        model: &str,
        body: Bytes,
        started: Instant,
    ) -> Result<Bytes, PipelineError> {
        let mut doc = file_document(&body).unwrap_or(Value::Null);
        let segments = response_segments(req.route, &doc);
        let notes = AnswerNotes::default();
        if !self
            .settle_answer(req, model, &mut doc, &segments, notes, started)
            .await?
        {
            return Ok(body);
        }
        Ok(file_bytes(&doc, &body, ChangedLines::All))
    }

    /// A transcript's list of words (`words`, with word timestamps), decided by what the
    /// words spell together: each word is decided on its own with the answer's texts, so
    /// a value read out over several words (a phone number in groups) is found here, in
    /// the words joined by spaces, and decided whole; its first word takes the decided
    /// text (with what the first word held before the value and the last after it: a
    /// bracket, a comma), and the others become empty, their timestamps kept. Redactions
    /// are numbered as in the transcript's text (decided here first, as the answer's first
    /// text, when a value spans words), so a value has one number in both. Run before the
    /// answer's texts are decided.
    async fn settle_words(
        &self,
        req: &PipelineRequest,
        model: &str,
        v: &mut Value,
    ) -> Result<Words, PipelineError> {
        let Some(Value::Array(words)) = v
            .get("words")
            .filter(|w| w.as_array().is_some_and(|w| w.len() >= 2))
        else {
            return Ok(Words::default());
        };
        let mut joined = String::new();
        let mut starts = Vec::with_capacity(words.len());
        for w in words {
            if !starts.is_empty() {
                joined.push(' ');
            }
            starts.push(joined.len());
            joined.push_str(w.get("word").and_then(Value::as_str).unwrap_or_default());
        }
        let found = self.detect_all(&[joined.as_str()], &mut Vec::new()).await?;
        // The values read out over several words: from the word each starts in to the one
        // it ends in.
        let spread: Vec<(&Finding, usize, usize)> = found
            .iter()
            .flat_map(|d| d.findings.iter())
            .map(|f| {
                let first = starts.partition_point(|&s| s <= f.start).saturating_sub(1);
                let last = starts.partition_point(|&s| s < f.end).saturating_sub(1);
                (f, first, last)
            })
            .filter(|(_, first, last)| first != last)
            .collect();
        if spread.is_empty() {
            return Ok(Words::default());
        }
        let ctx = Pipeline::context(req, model, Direction::Response);
        let mut numbering = Numbering::default();
        if let Some(text) = v.get("text").and_then(Value::as_str) {
            let found = self.detect_all(&[text], &mut Vec::new()).await?;
            if let Some(d) = found.first() {
                let _ = self
                    .policy
                    .decide_numbered(text, &d.findings, &ctx, &mut numbering);
            }
        }
        let Some(Value::Array(words)) = v.get_mut("words") else {
            return Ok(Words::default());
        };
        let mut out = Words::default();
        for (f, first, last) in spread {
            let value = &joined[f.start..f.end];
            let whole = Finding {
                start: 0,
                end: value.len(),
                ..f.clone()
            };
            let one = std::slice::from_ref(&whole);
            match self
                .policy
                .decide_numbered(value, one, &ctx, &mut numbering)
            {
                Decision::Allow { .. } => {}
                Decision::Transform { text, .. } => {
                    // What the first word held before the value, and the last after it
                    // (a bracket, a comma), stay, in the first word with the value.
                    let end_of_last = starts.get(last + 1).map_or(joined.len(), |s| s - 1);
                    let before = &joined[starts[first]..f.start];
                    let after = &joined[f.end..end_of_last];
                    words[first]["word"] = Value::String(format!("{before}{text}{after}"));
                    for w in &mut words[first + 1..=last] {
                        w["word"] = Value::String(String::new());
                    }
                    out.changed = true;
                }
                Decision::Block { reasons } => out.blocked.get_or_insert_default().extend(reasons),
            }
        }
        Ok(out)
    }

    /// Restore, the response-direction scan and policy over an answer the route's walker
    /// does not read: an upstream's error body (`upstream_status` set), a success answer
    /// that is not a JSON object, or any answer on another route ([`Route::Other`]). Every
    /// string of a JSON body is a text; any other body is one text (invalid UTF-8 read as
    /// U+FFFD, and written so only when something changed).
    /// Recorded as the answer's event, with the outcome `upstream_status` for an error.
    async fn process_other(
        &self,
        req: &PipelineRequest,
        model: &str,
        body: &Bytes,
        upstream_status: u16,
        started: Instant,
    ) -> Result<Bytes, PipelineError> {
        let (mut v, json) = unread_document(body);
        let segments = all_strings(&v);
        let restored_before = self.restore_file_scopes(req, model, &mut v).await;
        let notes = AnswerNotes {
            outcome: if upstream_status == 0 {
                ""
            } else {
                ErrorKind::UpstreamStatus.as_str()
            },
            upstream_status,
            restored_before,
            ..AnswerNotes::default()
        };
        if !self
            .settle_answer(req, model, &mut v, &segments, notes, started)
            .await?
        {
            return Ok(body.clone());
        }
        Ok(Bytes::from(unread_written(v, json, body.len())))
    }

    /// Puts back, in an answer no walker reads, the pseudonyms of the uploads it quotes:
    /// each JSON object naming a `file_id` whose upload's scope is known (a vector store's
    /// search result quoting a chunk of an uploaded file) has its strings restored in that
    /// scope. How many pseudonyms were put back (token-shaped text left is counted by the
    /// answer's own restore, after).
    async fn restore_file_scopes(&self, req: &PipelineRequest, model: &str, v: &mut Value) -> u32 {
        let mut ids: Vec<String> = Vec::new();
        file_ids(v, &mut ids);
        ids.sort_unstable();
        ids.dedup();
        // A restorer for each file whose upload's scope is known and is not the request's.
        let mut restorers = std::collections::HashMap::new();
        for id in ids {
            let Some(scope) = self.known_scope(&req.tenant, &id).await else {
                continue;
            };
            if scope == Pipeline::scope(req) {
                continue;
            }
            let mut ctx = Pipeline::context(req, model, Direction::Response);
            ctx.scope = Some(Cow::Owned(scope));
            let Some(restorer) = self.policy.restorer(&ctx) else {
                // The tenant's policy never pseudonymizes: nothing to put back anywhere.
                return 0;
            };
            restorers.insert(id, restorer);
        }
        let mut stats = RestoreStats::default();
        if !restorers.is_empty() {
            restore_in_file_scopes(v, &restorers, &mut stats);
        }
        stats.restored
    }

    /// Decides the texts `segments` name in an answer `v`: restores pseudonyms, scans and
    /// applies the response policy, records the answer's event (with `notes`, the restore
    /// counted in), and puts the decided texts in place. Whether `v` changed.
    ///
    /// # Errors
    ///
    /// [`PipelineError::Blocked`] for a blocked answer; detection or audit failures under
    /// their fail-closed stances.
    async fn settle_answer(
        &self,
        req: &PipelineRequest,
        model: &str,
        v: &mut Value,
        segments: &Segments,
        notes: AnswerNotes<'_>,
        started: Instant,
    ) -> Result<bool, PipelineError> {
        let ctx = Pipeline::context(req, model, Direction::Response);
        let mut stats = RestoreStats {
            restored: notes.restored_before,
            ..RestoreStats::default()
        };
        let mut changed = stats.restored > 0;
        if let Some(restorer) = self.policy.restorer(&ctx) {
            segments.each_mut(v, |slot| restorer.restore_json(slot, &mut stats));
            changed |= stats.restored > 0;
            count_restore(&stats);
        }
        let refs = segments.texts(v);
        let mut ignored = Vec::new();
        let findings = self.detect_all(&refs, &mut ignored).await?;
        let decision = self.decide_segments(&refs, &findings, &ctx);
        self.record_audit(
            Who::of(req),
            model,
            AuditDirection::Response,
            &refs,
            &findings,
            &decision,
            AnswerNotes {
                restore: Some(&stats),
                ..notes
            },
            started.elapsed(),
        )?;
        if let Some(reasons) = decision.blocked {
            return Err(PipelineError::Blocked {
                direction: "response",
                reasons,
            });
        }
        if let Some(new_texts) = decision.texts {
            segments.replace(v, new_texts);
            changed = true;
        }
        Ok(changed)
    }
}

/// The `file_id`s of the objects in `v`, in document order.
fn file_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("file_id") {
                out.push(id.clone());
            }
            map.values().for_each(|x| file_ids(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| file_ids(x, out)),
        _ => {}
    }
}

/// Restores each object of `v` that names a file of `restorers` (all of the object) with
/// that file's restorer, in one walk.
fn restore_in_file_scopes(
    v: &mut Value,
    restorers: &std::collections::HashMap<String, Restorer>,
    stats: &mut RestoreStats,
) {
    let named = v.get("file_id").and_then(Value::as_str);
    if let Some(restorer) = named.and_then(|id| restorers.get(id)) {
        return restorer.restore_json(v, stats);
    }
    match v {
        Value::Object(map) => map
            .values_mut()
            .for_each(|x| restore_in_file_scopes(x, restorers, stats)),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|x| restore_in_file_scopes(x, restorers, stats)),
        _ => {}
    }
}

/// What deciding a transcript's words did ([`Pipeline::settle_words`]).
#[derive(Default)]
struct Words {
    /// Whether a word changed.
    changed: bool,
    /// Why the words block the answer, if they do.
    blocked: Option<Vec<Reason>>,
}

/// What a request carries that the detectors cannot read, as findings of the `unread`
/// entity types (`UNREAD_IMAGE`, `UNREAD_AUDIO`, `UNREAD_FILE`) with an empty span: the
/// parts the walker found, and the files of a form that were not read as text (an audio
/// route's recording, an image edit's images, an upload that is not UTF-8). A file part
/// naming an upload that `was_read` says was read as text on its way up is not counted.
fn unread_findings(
    route: Route,
    segments: &Segments,
    body: &Value,
    form: Option<&Form>,
    was_read: impl Fn(&str) -> bool,
) -> Vec<Finding> {
    let mut kinds: Vec<&'static str> = segments
        .unread()
        .iter()
        .filter(|u| !u.file_id.as_deref().is_some_and(&was_read))
        .map(|u| u.kind)
        .collect();
    if let Some(form) = form {
        let files = form.file_count();
        match route {
            Route::AudioTranscriptions | Route::AudioTranslations => {
                kinds.extend(std::iter::repeat_n(UNREAD_AUDIO, files));
            }
            Route::ImagesEdits | Route::ImagesVariations => {
                kinds.extend(std::iter::repeat_n(UNREAD_IMAGE, files));
            }
            // An upload's files that were read as text have a document; the others not.
            _ => match body.get(FILE_DOCUMENTS).and_then(Value::as_array) {
                Some(docs) => {
                    kinds.extend(docs.iter().filter(|d| d.is_null()).map(|_| UNREAD_FILE))
                }
                None => kinds.extend(std::iter::repeat_n(UNREAD_FILE, files)),
            },
        }
    }
    kinds
        .into_iter()
        .map(|entity| Finding {
            entity: EntityType::new(entity),
            start: 0,
            end: 0,
            score: 1.0,
            recognizer: RecognizerId::from_index(UNREAD_RECOGNIZER),
            escaped: false,
            folded: false,
        })
        .collect()
}

/// An Anthropic message batch (or a list of them) with each `results_url` made the
/// gateway's own path (`/v1/messages/batches/{id}/results`): the SDKs fetch a batch's
/// results from that URL, relative to their base, so an absolute one naming the provider
/// would take them around the gateway and its scan. Other routes' answers, and answers
/// without one, as they came.
fn gateway_results_urls(route: Route, body: Bytes) -> Bytes {
    if !matches!(
        route,
        Route::MessagesBatches
            | Route::MessagesBatchesList
            | Route::MessagesBatchesRetrieve
            | Route::MessagesBatchesCancel
    ) || memchr::memmem::find(&body, b"\"results_url\"").is_none()
    {
        return body;
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let mut changed = false;
    let mut point = |batch: &mut Value| {
        let Some(id) = batch.get("id").and_then(Value::as_str) else {
            return;
        };
        let path = Route::MessagesBatchesResults.path_for(id);
        let valid = Route::of(&http::Method::GET, &path).is_some();
        match batch.get_mut("results_url") {
            Some(url @ Value::String(_)) if valid && url.as_str() != Some(&path) => {
                *url = Value::String(path);
                changed = true;
            }
            _ => {}
        }
    };
    match v.get_mut("data") {
        Some(Value::Array(batches)) => batches.iter_mut().for_each(&mut point),
        _ => point(&mut v),
    }
    if !changed {
        return body;
    }
    Bytes::from(json_out::to_vec(&v, body.len()))
}

/// A body no walker reads, as a document to decide every string of: its JSON, or else all
/// of it as one text (invalid UTF-8 read as U+FFFD); and whether it was JSON.
fn unread_document(body: &[u8]) -> (Value, bool) {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => (v, true),
        Err(_) => (
            Value::String(String::from_utf8_lossy(body).into_owned()),
            false,
        ),
    }
}

/// The body [`unread_document`] read, written again from its (decided) document; `len`
/// is the original's length, a capacity hint.
fn unread_written(v: Value, json: bool, len: usize) -> Vec<u8> {
    match v {
        Value::String(text) if !json => text.into_bytes(),
        v => json_out::to_vec(&v, len + 64),
    }
}

/// Whether a media type holds text: `text/*` and JSON (`application/json`, `+json`), or
/// none given.
fn is_text(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media.is_empty()
        || media
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("text/"))
        || media.eq_ignore_ascii_case("application/json")
        || media.to_ascii_lowercase().ends_with("+json")
}

/// Which streamed text a fragment belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TextKey {
    /// A chat or completions choice's text, by choice index.
    Choice(u64, ChoicePart),
    /// An Anthropic content block, by index.
    Block(u64),
    /// A Responses API text: output item, content part, kind (`output_text`, ...).
    Responses {
        output: u64,
        part: u64,
        kind: String,
    },
}

/// Which text of a choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ChoicePart {
    /// `delta.content`, or a completion's `text`.
    Content,
    /// A text streamed beside the content (one of [`CHOICE_TEXTS`]).
    Field(&'static str),
    /// A tool call's arguments, by tool call index.
    Tool(u64),
    /// A custom tool call's free-form input, by tool call index.
    Custom(u64),
    /// The transcript of an audio answer (`delta.audio.transcript`).
    Transcript,
}

/// Texts a chat choice streams beside its content: a refusal, and reasoning.
const CHOICE_TEXTS: [&str; 3] = ["refusal", "reasoning_content", "reasoning"];

/// Appends released text to `part` of a streamed choice, with its tokens (`tokens`: what
/// the text's [`TokenTrail`] let go with it) when the part has a token list.
fn append_to_choice(
    choice: &mut Value,
    part: ChoicePart,
    rest: String,
    tokens: Option<Vec<Value>>,
) {
    let list = match part {
        ChoicePart::Content => Some("content"),
        ChoicePart::Field("refusal") => Some("refusal"),
        _ => None,
    };
    match (list, tokens) {
        (Some(field), Some(tokens)) if choice.get("delta").is_some() => {
            append_tokens(choice, field, tokens);
        }
        _ if rest.is_empty() => {}
        // The choice's logprobs describe its own piece, not the held text added to it.
        _ => segments::drop_logprobs(choice, &[Step::Key("delta")]),
    }
    let Some(o) = choice.as_object_mut() else {
        return;
    };
    if part == ChoicePart::Content && !o.contains_key("delta") {
        // A completion's choice carries its text itself.
        return append_at(o, "text", rest);
    }
    let Some(d) = object_at(o, "delta") else {
        return;
    };
    match part {
        ChoicePart::Content => append_at(d, "content", rest),
        ChoicePart::Field(f) => append_at(d, f, rest),
        ChoicePart::Transcript => {
            if let Some(audio) = object_at(d, "audio") {
                append_at(audio, "transcript", rest);
            }
        }
        ChoicePart::Tool(t) | ChoicePart::Custom(t) => {
            let call = match part {
                ChoicePart::Custom(_) => serde_json::json!({"index": t, "custom": {"input": rest}}),
                _ => serde_json::json!({"index": t, "function": {"arguments": rest}}),
            };
            let calls = d
                .entry("tool_calls")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(arr) = calls.as_array_mut() {
                arr.push(call);
            }
        }
    }
}

/// Adds `tokens` to a streamed choice's `logprobs` list `field` (`content`, `refusal`).
fn append_tokens(choice: &mut Value, field: &str, tokens: Vec<Value>) {
    if tokens.is_empty() {
        return;
    }
    let Some(o) = choice.as_object_mut() else {
        return;
    };
    let logprobs = o.entry("logprobs").or_insert(Value::Null);
    if logprobs.is_null() {
        *logprobs = serde_json::json!({"content": null, "refusal": null});
    }
    let Some(lists) = logprobs.as_object_mut() else {
        return;
    };
    match lists.get_mut(field) {
        Some(Value::Array(list)) => list.extend(tokens),
        _ => {
            lists.insert(field.to_owned(), Value::Array(tokens));
        }
    }
}

/// The object at `key` in `o`, added empty when missing; `None` when it is not an object.
fn object_at<'o>(
    o: &'o mut serde_json::Map<String, Value>,
    key: &str,
) -> Option<&'o mut serde_json::Map<String, Value>> {
    o.entry(key)
        .or_insert_with(|| Value::Object(serde_json::Map::new()))
        .as_object_mut()
}

/// Appends `rest` to the string at `key` in `o` (a missing or non-string value counts as
/// empty).
fn append_at(o: &mut serde_json::Map<String, Value>, key: &str, rest: String) {
    match o.get_mut(key) {
        Some(Value::String(s)) => s.push_str(&rest),
        _ => {
            o.insert(key.to_owned(), Value::String(rest));
        }
    }
}

/// The fields of a chat completion chunk (one with `choices`) that every chunk of the
/// answer repeats; `None` for any other event.
fn chunk_envelope(v: &Value) -> Option<serde_json::Map<String, Value>> {
    let Value::Object(chunk) = v else {
        return None;
    };
    if !chunk.contains_key("choices") {
        return None;
    }
    Some(
        ["id", "object", "created", "model", "system_fingerprint"]
            .into_iter()
            .filter_map(|k| chunk.get(k).map(|x| (k.to_owned(), x.clone())))
            .collect(),
    )
}

/// A chat chunk carrying what a choice's text still held when the stream ended without
/// the choice's `finish_reason`: in the choice, and the field, the text came from.
fn chat_flush(index: u64, part: ChoicePart, rest: String, tokens: Option<Vec<Value>>) -> Value {
    let mut choice = serde_json::json!({ "index": index, "delta": {} });
    append_to_choice(&mut choice, part, rest, tokens);
    serde_json::json!({ "choices": [choice] })
}

/// The kind of an event of the Responses API (`output_text.delta` for
/// `response.output_text.delta`) or of a streamed transcription (`text.delta` for
/// `transcript.text.delta`): the event families that stream a text in `.delta` events and
/// carry texts whole in the others.
fn whole_event_kind(v: &Value) -> Option<&str> {
    let t = v.get("type")?.as_str()?;
    t.strip_prefix("response.")
        .or_else(|| t.strip_prefix("transcript."))
}

/// The text a Responses API (or transcription) event belongs to, and whether the event is
/// a delta (`response.output_text.delta`) or not (a `.done` event, or any other
/// `response.*` event, whose key names no text).
fn responses_key(v: &Value) -> Option<(TextKey, bool)> {
    let kind = whole_event_kind(v)?;
    let (kind, delta) = match kind.strip_suffix(".delta") {
        Some(k) => (k, true),
        None => (kind.strip_suffix(".done").unwrap_or(kind), false),
    };
    let key = TextKey::Responses {
        output: v.get("output_index").and_then(Value::as_u64).unwrap_or(0),
        part: v
            .get("content_index")
            .or_else(|| v.get("summary_index"))
            .and_then(Value::as_u64)
            .unwrap_or(0),
        kind: kind.to_owned(),
    };
    Some((key, delta))
}

fn count_restore(stats: &RestoreStats) {
    use sentinel_metrics::names::{label, RESTORED_TOTAL, RESTORE_UNRESOLVED_TOTAL};
    if stats.restored > 0 {
        metrics::counter!(RESTORED_TOTAL).increment(u64::from(stats.restored));
    }
    for (entity, n) in &stats.unresolved {
        metrics::counter!(RESTORE_UNRESOLVED_TOTAL, label::ENTITY => entity.clone())
            .increment(u64::from(*n));
    }
}

/// How a stream's texts are decided: the policy, the context, the redaction numbers the
/// whole answer shares (so a value keeps its number across pieces and texts), and the
/// detection stage with its stance for the remote.
struct Decider {
    policy: Arc<dyn PolicyEngine>,
    ctx: DecisionContext<'static>,
    numbering: Numbering,
    detection: Arc<Detection>,
    stance: Stance,
}

/// Why a streamed answer stops early.
enum Halt {
    /// The policy blocked it, for these reasons.
    Blocked(Vec<Reason>),
    /// The remote detector failed under the fail-closed stance.
    Detector,
}

/// Counts a remote detector failure; `Err` when the stance refuses to go on without it.
fn remote_failed(stance: Stance) -> Result<(), ()> {
    metrics::counter!(sentinel_metrics::names::ERRORS_TOTAL,
        sentinel_metrics::names::label::KIND => ErrorKind::Detector.as_str())
    .increment(1);
    match stance {
        Stance::FailClosed => Err(()),
        Stance::FailOpen => Ok(()),
    }
}

impl Decider {
    /// The findings of a streamed piece: the local scanner's (`local`), with the remote's
    /// per the detection mode.
    async fn refine(&self, text: &str, local: Vec<Finding>) -> Result<Vec<Finding>, Halt> {
        let (found, failed) = self.detection.refine(text, local).await;
        if failed {
            remote_failed(self.stance).map_err(|()| Halt::Detector)?;
        }
        Ok(found)
    }

    /// The findings of a text an event carries whole, through the detection stage.
    async fn detect(&self, text: &str) -> Result<Arc<[Finding]>, Halt> {
        let d = self.detection.detect(text).await;
        if d.remote_failed {
            remote_failed(self.stance).map_err(|()| Halt::Detector)?;
        }
        Ok(d.findings)
    }

    /// The text to send in place of `text` (collecting what was applied), or why the
    /// answer stops.
    fn settle(
        &mut self,
        text: String,
        findings: &[Finding],
        applied: &mut Vec<Applied>,
    ) -> Result<String, Halt> {
        match self
            .policy
            .decide_numbered(&text, findings, &self.ctx, &mut self.numbering)
        {
            Decision::Allow { applied: a } => {
                applied.extend(a);
                Ok(text)
            }
            Decision::Transform { text, applied: a } => {
                applied.extend(a);
                Ok(text)
            }
            Decision::Block { reasons } => Err(Halt::Blocked(reasons)),
        }
    }
}

/// Where to cut a held text at `cut` or before so that none of `found` spans the cut: the
/// start of a finding across it (again while that start is inside another), unless that
/// leaves nothing to release, when the cut stays (and the finding is cut with it).
fn cut_before(found: &[Finding], cut: usize) -> usize {
    let mut c = cut;
    while let Some(f) = found.iter().find(|f| f.start < c && f.end > c) {
        c = f.start;
    }
    if c == 0 {
        cut
    } else {
        c
    }
}

/// One text that arrives in fragments (a choice's content, a tool call's arguments):
/// restored, scanned with a bounded hold-back, decided on, released.
struct TextStream {
    restorer: Option<StreamRestorer>,
    scanner: Option<StreamScanner<Arc<LocalDetector>>>,
    buf: String,
    base: usize,
    pending: Vec<Finding>,
    /// What a flushing event must carry the text in (the Anthropic delta type).
    delta_type: Option<String>,
    /// The Responses API delta event the text came from (type, item, indices), with its
    /// `delta` to be replaced: how held text released on its own is sent.
    responses_event: Option<Value>,
    /// Whether text waits for the remote detector, and for how much of it.
    window: StreamWindow,
    /// The model's tokens for what the text holds, when the caller asked for them.
    tokens: TokenTrail,
    /// The text is JSON (a tool call's arguments): it is scanned unescaped, and findings
    /// cover whole escapes and are marked where they hold one.
    json: bool,
    /// JSON text not scanned yet: an escape whose rest has not arrived.
    escape_tail: String,
    /// How JSON text was read, and the way back to its offsets.
    unescaper: Unescaper,
}

impl TextStream {
    /// A text scanned by `detection`'s local detector with `hold` bytes of hold-back,
    /// waiting for its remote as [`Detection::stream_window`] says; restored as JSON
    /// text when `json` (a tool call's arguments).
    fn new(restorer: Option<&Restorer>, detection: &Detection, hold: usize, json: bool) -> Self {
        TextStream {
            restorer: restorer.map(|r| if json { r.stream_json() } else { r.stream() }),
            scanner: Some(StreamScanner::with_hold_back(detection.local_arc(), hold)),
            buf: String::new(),
            base: 0,
            pending: Vec::new(),
            delta_type: None,
            responses_event: None,
            window: detection.stream_window(),
            tokens: TokenTrail::default(),
            json,
            escape_tail: String::new(),
            unescaper: Unescaper::new(),
        }
    }

    async fn push(
        &mut self,
        piece: &str,
        decide: &mut Decider,
        applied: &mut Vec<Applied>,
    ) -> Result<String, Halt> {
        let restored = match &mut self.restorer {
            Some(r) => r.push(piece),
            None => piece.to_owned(),
        };
        self.feed(&restored);
        let upto = self.window_end(self.frontier());
        self.release(upto, decide, applied).await
    }

    /// Where to release up to, given the local scan's `frontier`: the frontier itself
    /// when nothing waits for the remote; else nothing until a window's worth is settled,
    /// then up to the last line or sentence end in its second half (else the last space,
    /// else all of it), so the remote sees whole sentences where it can.
    fn window_end(&self, frontier: usize) -> usize {
        let Some(window) = self.remote_window() else {
            return frontier;
        };
        let held = frontier.saturating_sub(self.base).min(self.buf.len());
        if held < window {
            return self.base;
        }
        let bytes = self.buf.as_bytes();
        let from = window / 2;
        // A cut follows an ASCII byte (a line end, or the space after a sentence's end, or
        // any space), so it is a character boundary.
        let sentence_end = (from..held).rev().find(|&i| {
            bytes[i] == b'\n'
                || (bytes[i].is_ascii_whitespace()
                    && i > 0
                    && matches!(bytes[i - 1], b'.' | b'!' | b'?'))
        });
        let space = || (from..held).rev().find(|&i| bytes[i].is_ascii_whitespace());
        self.base + sentence_end.or_else(space).map_or(held, |i| i + 1)
    }

    /// The window's size when released text waits for the remote now: always, or with a
    /// doubtful finding held; `None` when the local scan decides alone.
    fn remote_window(&self) -> Option<usize> {
        match self.window {
            StreamWindow::Off => None,
            StreamWindow::Always(bytes) => Some(bytes),
            StreamWindow::Doubtful { bytes, threshold } => self
                .pending
                .iter()
                .any(|f| f.score < threshold)
                .then_some(bytes),
        }
    }

    fn feed(&mut self, text: &str) {
        self.buf.push_str(text);
        let Some(s) = &mut self.scanner else {
            return;
        };
        if !self.json {
            return s.feed(text, &mut self.pending);
        }
        // JSON text is scanned unescaped; an escape cut by the piece's end waits for its
        // rest.
        self.escape_tail.push_str(text);
        self.read_json(true);
    }

    /// Scans the JSON text waiting in `escape_tail` unescaped, all of it unless `more` may
    /// complete an escape at its end (which then waits there), and takes the findings to
    /// the text's offsets.
    fn read_json(&mut self, more: bool) {
        let Some(s) = &mut self.scanner else {
            return;
        };
        let mut read = String::new();
        let used = self.unescaper.read(&self.escape_tail, more, &mut read);
        self.escape_tail.drain(..used);
        let from = self.pending.len();
        s.feed(&read, &mut self.pending);
        self.unescaper.to_raw(&mut self.pending[from..]);
        // What is settled is not asked about again.
        self.unescaper.forget_before(s.settled());
    }

    /// Where the local scan has settled, in the text's offsets.
    fn frontier(&self) -> usize {
        let settled = self.scanner.as_ref().map_or(0, StreamScanner::settled);
        match self.json {
            true => self.unescaper.raw_offset(settled),
            false => settled,
        }
    }

    async fn release(
        &mut self,
        upto: usize,
        decide: &mut Decider,
        applied: &mut Vec<Applied>,
    ) -> Result<String, Halt> {
        let mut cut = upto.saturating_sub(self.base).min(self.buf.len());
        for f in &self.pending {
            if f.start < self.base + cut && f.end > self.base + cut {
                cut = (f.end - self.base).min(self.buf.len());
            }
        }
        while !self.buf.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            return Ok(String::new());
        }
        let base = self.base;
        let held = |f: &Finding| Finding {
            start: f.start - base,
            end: f.end - base,
            ..f.clone()
        };
        let found: Vec<Finding> = if self.remote_window().is_none() {
            let end = base + cut;
            let (mine, rest): (Vec<Finding>, Vec<Finding>) =
                self.pending.drain(..).partition(|f| f.end <= end);
            self.pending = rest;
            mine.iter().filter(|f| f.start >= base).map(held).collect()
        } else {
            // The remote sees all that is held, past the cut too, so a name the cut would
            // split is seen whole; a finding across the cut moves the cut back to its start
            // and waits for the next window, which starts there.
            let local: Vec<Finding> = self
                .pending
                .iter()
                .filter(|f| f.start >= base)
                .map(held)
                .collect();
            let found = match self.json && self.buf.contains('\\') {
                // The remote reads JSON text unescaped, as it does a whole text (a name
                // after `\n` is a word of its own there). What is held starts where an
                // escape does: cuts fall on findings, on what the scan settled and after
                // spaces, never inside one.
                true => {
                    let (read, back) = Unescaper::whole(&self.buf);
                    let mut local = local;
                    back.to_read(&mut local);
                    let mut found = decide.refine(&read, local).await?;
                    back.to_raw(&mut found);
                    found
                }
                false => decide.refine(&self.buf, local).await?,
            };
            cut = cut_before(&found, cut);
            while !self.buf.is_char_boundary(cut) {
                cut -= 1;
            }
            self.pending.retain(|f| f.start >= base + cut);
            found
                .into_iter()
                .filter(|f| f.start < cut)
                .map(|f| Finding {
                    end: f.end.min(cut),
                    ..f
                })
                .collect()
        };
        let text: String = self.buf.drain(..cut).collect();
        self.base += cut;
        if found.is_empty() {
            return Ok(text);
        }
        let found = match self.json {
            true => json_text::settled(&text, found),
            false => found,
        };
        decide.settle(text, &found, applied)
    }

    async fn finish(
        &mut self,
        decide: &mut Decider,
        applied: &mut Vec<Applied>,
        stats: &mut RestoreStats,
    ) -> Result<String, Halt> {
        if let Some(r) = self.restorer.take() {
            let (tail, s) = r.finish();
            stats.merge(&s);
            self.feed(&tail);
        }
        if self.json {
            self.read_json(false);
        }
        if let Some(s) = self.scanner.take() {
            let from = self.pending.len();
            // The scanner was fed valid UTF-8 only.
            let _ = s.finish(&mut self.pending);
            if self.json {
                self.unescaper.to_raw(&mut self.pending[from..]);
            }
        }
        let all = self.base + self.buf.len();
        self.release(all, decide, applied).await
    }
}

/// An upstream stream being recorded for the response cache.
struct Recording {
    cache: Arc<TieredCache<CachedResponse>>,
    key: sentinel_cache::Key,
    ttl: Duration,
    status: u16,
    content_type: String,
    limit: usize,
    chunks: Vec<Bytes>,
    size: usize,
}

/// A streamed answer on its way to the caller: events are parsed, their text fragments
/// restored and scanned with a bounded hold-back, and written out again.
pub struct ResponseStream {
    recording: Option<Recording>,
    source: Option<ResponseBody>,
    replay: Option<Bytes>,
    parser: SseParser,
    texts: BTreeMap<TextKey, TextStream>,
    out: VecDeque<Bytes>,
    done: bool,
    restorer: Option<Restorer>,
    hold_back: usize,
    /// Decides every text of the answer (its detection stage scans them too).
    decider: Decider,
    applied: Vec<Applied>,
    stats: RestoreStats,
    audit: Option<Arc<dyn AuditSink>>,
    request_id: String,
    route: Route,
    policy_version: Arc<str>,
    started: Instant,
    /// For a Responses API answer in a tenant that pseudonymizes: where its id is
    /// remembered with its scope, taken when `response.created` names it.
    chain: Option<ChainLink>,
    /// The pipeline's [`Pipeline::cut_short`] flag.
    stopping: Arc<AtomicBool>,
    /// Audio a chat choice streams beside its transcript (`delta.audio.data`), by choice
    /// index, as events of their own: held until the choice ends, then passed on only if
    /// nothing in the answer was changed (the audio says what the transcript said before).
    spoken: BTreeMap<u64, Vec<Value>>,
    /// A chat chunk's fields besides its choices (`id`, `object`, `created`, `model`,
    /// `system_fingerprint`), from the first one: a chunk the gateway writes to release
    /// held text at the end carries them as the provider's own do.
    chunk_envelope: Option<serde_json::Map<String, Value>>,
}

impl Drop for ResponseStream {
    fn drop(&mut self) {
        // Dropped before its end (the caller left, the gateway stopped): what was passed
        // on so far is recorded. An ended stream has its event already.
        let outcome = Pipeline::dropped(&self.stopping);
        self.end("allow", outcome);
    }
}

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ResponseStream {
    fn new(p: &Pipeline, req: &PipelineRequest, model: &str, body: ResponseBody) -> ResponseStream {
        let mut s = ResponseStream::new_without_source(p, req, model);
        s.source = Some(body);
        s
    }

    fn replay(p: &Pipeline, req: &PipelineRequest, model: &str, bytes: Bytes) -> ResponseStream {
        let mut s = ResponseStream::new_without_source(p, req, model);
        s.replay = Some(bytes);
        s
    }

    fn new_without_source(p: &Pipeline, req: &PipelineRequest, model: &str) -> ResponseStream {
        let ctx = Pipeline::context(req, model, Direction::Response).into_owned();
        ResponseStream {
            recording: None,
            source: None,
            replay: None,
            parser: SseParser::new(p.config.max_event_bytes),
            texts: BTreeMap::new(),
            out: VecDeque::new(),
            done: false,
            restorer: p.policy.restorer(&ctx),
            hold_back: p.config.stream_hold_back,
            decider: Decider {
                policy: Arc::clone(&p.policy),
                ctx,
                numbering: Numbering::default(),
                detection: Arc::clone(&p.detection),
                stance: p.config.detector_stance,
            },
            applied: Vec::new(),
            stats: RestoreStats::default(),
            audit: p.audit.clone(),
            request_id: req.request_id.clone(),
            route: req.route,
            policy_version: p.policy.version_hash(&req.tenant),
            started: Instant::now(),
            chain: p.chain_link(req),
            stopping: Arc::clone(&p.stopping),
            spoken: BTreeMap::new(),
            chunk_envelope: None,
        }
    }

    /// Remembers the answer's id (a `response.created` event's) with its scope, once.
    async fn remember_answer(&mut self, created: &Value) {
        let Some(link) = self.chain.take() else {
            return;
        };
        if let Some(id) = created
            .get("response")
            .and_then(|r| r.get("id"))
            .and_then(Value::as_str)
        {
            link.remember(id).await;
        }
    }

    /// The next bytes for the caller; `None` at the end.
    ///
    /// # Errors
    ///
    /// The upstream body broke off or the stream is not a valid event stream; a block is
    /// not an error here: an error event is written and the stream ends.
    pub async fn next(&mut self) -> Option<Result<Bytes, PipelineError>> {
        loop {
            if let Some(b) = self.out.pop_front() {
                return Some(Ok(b));
            }
            if self.done {
                return None;
            }
            let chunk = if let Some(bytes) = self.replay.take() {
                Some(Ok(bytes))
            } else {
                match &mut self.source {
                    Some(body) => body.chunk().await,
                    None => None,
                }
            };
            match chunk {
                Some(Ok(bytes)) => {
                    if let Some(rec) = &mut self.recording {
                        rec.size += bytes.len();
                        if rec.size > rec.limit {
                            // Too large to cache: stop recording, keep streaming.
                            self.recording = None;
                        } else {
                            rec.chunks.push(bytes.clone());
                        }
                    }
                    let mut events = Vec::new();
                    if let Err(e) = self.parser.push(&bytes, &mut events) {
                        self.end("allow", ErrorKind::UpstreamProtocol.as_str());
                        return Some(Err(PipelineError::Transport(TransportError::Body {
                            message: e.to_string(),
                        })));
                    }
                    for e in events {
                        self.process(e).await;
                        if self.done {
                            break;
                        }
                    }
                }
                Some(Err(e)) => {
                    self.end("allow", e.kind().as_str());
                    return Some(Err(PipelineError::Transport(e)));
                }
                None => {
                    // The upstream ended without [DONE]: release what is held.
                    self.flush_all().await;
                    self.end("allow", "");
                }
            }
        }
    }

    fn emit(&mut self, event: &SseEvent) {
        let mut buf = Vec::new();
        write_event(event, &mut buf);
        self.out.push_back(Bytes::from(buf));
    }

    /// Ends the answer early: with a block's reasons, or because the remote detector
    /// failed under the fail-closed stance (recorded as a block: the rest is withheld).
    fn halt(&mut self, why: Halt) {
        match why {
            Halt::Blocked(reasons) => {
                let names: Vec<String> = reasons.iter().map(Reason::to_string).collect();
                let message = format!("DeepSentinel blocked the response: {}", names.join(", "));
                self.end_with_error(&message, "deepsentinel_blocked", "response_blocked");
            }
            Halt::Detector => self.end_with_error(
                "DeepSentinel withheld the rest of the response: the remote detector did not answer",
                "deepsentinel_unavailable",
                "detector_unavailable",
            ),
        }
    }

    /// Replaces what is queued with one error event and ends the stream.
    fn end_with_error(&mut self, message: &str, kind: &str, code: &str) {
        let error = serde_json::json!({
            "message": message,
            "type": kind,
            "code": code,
        });
        // In each provider's own error event, so its SDK raises: OpenAI chat reads `error`
        // from a data-only event, the Responses API and Anthropic send `event: error`.
        let event = match self.route {
            Route::Messages => SseEvent {
                event: Some("error".to_owned()),
                data: serde_json::json!({"type": "error", "error": error}).to_string(),
                ..SseEvent::default()
            },
            Route::Responses | Route::ResponsesRetrieve | Route::ResponsesCancel => SseEvent {
                event: Some("error".to_owned()),
                data: serde_json::json!({"type": "error", "code": code,
                    "message": message, "param": null, "error": error})
                .to_string(),
                ..SseEvent::default()
            },
            _ => SseEvent::data(serde_json::json!({ "error": error }).to_string()),
        };
        self.out.clear();
        self.emit(&event);
        self.end("block", "");
    }

    /// Ends the answer, the first time only, and writes its event: `decision` for what was
    /// passed on (`allow` becomes `transform` when something was changed), `outcome` when
    /// the stream did not reach its end. What is already queued for the caller still goes.
    fn end(&mut self, decision: &'static str, outcome: &'static str) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        count_restore(&self.stats);
        let Some(sink) = &self.audit else { return };
        // Tenant and model are the decision context's: the stream keeps them once.
        let ctx = &self.decider.ctx;
        let mut e = AuditEvent::new(&self.request_id, &ctx.tenant, AuditDirection::Response);
        e.route = self.route.as_str().into();
        e.model = ctx.model.to_string();
        for a in &self.applied {
            e.count_entity(a.entity.as_str(), 1);
            e.count_action(a.action.as_str(), 1);
        }
        e.decision = if decision == "allow"
            && self
                .applied
                .iter()
                .any(|a| !matches!(a.action, Action::Allow | Action::Alert))
        {
            "transform".into()
        } else {
            decision.into()
        };
        e.latency_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        e.policy_version = Arc::clone(&self.policy_version);
        e.restored = self.stats.restored;
        e.unresolved = self.stats.unresolved.clone();
        e.outcome = outcome.into();
        if let Err(err) = sink.append(e) {
            tracing::error!(error = %err, "audit log refused a streamed response's event");
        }
    }

    /// The text fragments of one event: (key, path to the text, delta type). Paths are
    /// steps, as for whole documents: nothing is formatted or parsed per event.
    fn fragments(&self, v: &Value) -> Vec<(TextKey, Vec<Step>, Option<String>)> {
        use Step::{Index, Key};
        let is_text = |x: Option<&Value>| x.is_some_and(Value::is_string);
        let mut out = Vec::new();
        if let Some(Value::Array(choices)) = v.get("choices") {
            for (i, c) in choices.iter().enumerate() {
                let idx = c.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
                let delta = c.get("delta");
                let field = |f: &str| delta.and_then(|d| d.get(f));
                let mut push = |part: ChoicePart, rest: &[Step]| {
                    let mut path = vec![Key("choices"), Index(i)];
                    path.extend_from_slice(rest);
                    out.push((TextKey::Choice(idx, part), path, None));
                };
                if is_text(field("content")) {
                    push(ChoicePart::Content, &[Key("delta"), Key("content")]);
                }
                if is_text(c.get("text")) {
                    push(ChoicePart::Content, &[Key("text")]);
                }
                // A refusal, and reasoning streamed beside the answer.
                for f in CHOICE_TEXTS {
                    if is_text(field(f)) {
                        push(ChoicePart::Field(f), &[Key("delta"), Key(f)]);
                    }
                }
                if is_text(field("audio").and_then(|a| a.get("transcript"))) {
                    push(
                        ChoicePart::Transcript,
                        &[Key("delta"), Key("audio"), Key("transcript")],
                    );
                }
                if let Some(Value::Array(calls)) = field("tool_calls") {
                    for (k, call) in calls.iter().enumerate() {
                        let tidx = call
                            .get("index")
                            .and_then(Value::as_u64)
                            .unwrap_or(k as u64);
                        // A function's arguments, a custom tool's input.
                        for (part, kind, text) in [
                            (ChoicePart::Tool(tidx), "function", "arguments"),
                            (ChoicePart::Custom(tidx), "custom", "input"),
                        ] {
                            if is_text(call.get(kind).and_then(|f| f.get(text))) {
                                let at = [Key("delta"), Key("tool_calls"), Index(k), Key(kind)];
                                push(part, &[&at[..], &[Key(text)]].concat());
                            }
                        }
                    }
                }
            }
        }
        if v.get("type").and_then(Value::as_str) == Some("content_block_delta") {
            let idx = v.get("index").and_then(Value::as_u64).unwrap_or(0);
            let delta = v.get("delta");
            for field in ["text", "partial_json", "thinking"] {
                if is_text(delta.and_then(|d| d.get(field))) {
                    let kind = delta
                        .and_then(|d| d.get("type"))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    out.push((TextKey::Block(idx), vec![Key("delta"), Key(field)], kind));
                }
            }
        }
        if let Some((key, true)) = responses_key(v) {
            if is_text(v.get("delta")) {
                out.push((key, vec![Key("delta")], None));
            }
        }
        out
    }

    /// Restores, scans and decides each text an event carries whole (a Responses API
    /// `.done` event's full text, an output item, the completed response); false when
    /// the stream was blocked.
    async fn scan_whole(&mut self, v: &mut Value, segments: &Segments) -> bool {
        let model_wrote: Vec<String> = segments.texts(v).into_iter().map(str::to_owned).collect();
        if let Some(r) = &self.restorer {
            let stats = &mut self.stats;
            segments.each_mut(v, |slot| r.restore_json(slot, stats));
        }
        let texts: Vec<String> = segments.texts(v).into_iter().map(str::to_owned).collect();
        let mut out: Vec<String> = Vec::with_capacity(texts.len());
        for t in texts {
            let decide = &mut self.decider;
            let settled = match decide.detect(&t).await {
                Ok(found) => decide.settle(t, &found, &mut self.applied),
                Err(halt) => Err(halt),
            };
            match settled {
                Ok(text) => out.push(text),
                Err(halt) => {
                    self.halt(halt);
                    return false;
                }
            }
        }
        for (path, (was, is)) in segments.paths().zip(model_wrote.iter().zip(&out)) {
            if was != is {
                segments::drop_logprobs(v, path);
            }
        }
        segments.replace(v, out.into_iter().map(Some));
        true
    }

    /// The upstream's stream completed: store what was recorded (a stream cut short is
    /// never cached).
    fn store_recording(&mut self) {
        if let Some(rec) = self.recording.take() {
            let value = CachedResponse {
                status: rec.status,
                content_type: rec.content_type,
                body: CachedBody::Events(rec.chunks),
            };
            tokio::spawn(async move { rec.cache.insert(rec.key, value, Some(rec.ttl)).await });
        }
    }

    async fn process(&mut self, event: SseEvent) {
        if event.is_done() {
            self.store_recording();
            self.flush_all().await;
            self.end("allow", "");
            self.emit(&event);
            return;
        }
        if let Route::Other(_) = self.route {
            return self.process_other(event).await;
        }
        let Ok(mut v) = serde_json::from_str::<Value>(&event.data) else {
            // Not JSON: passed on untouched (providers' keep-alives, unknown events).
            self.emit(&event);
            return;
        };
        if self.chain.is_some() && v.get("type").and_then(Value::as_str) == Some("response.created")
        {
            self.remember_answer(&v).await;
        }
        self.hold_spoken(&mut v);
        if self.chunk_envelope.is_none() {
            self.chunk_envelope = chunk_envelope(&v);
        }
        for (key, path, kind) in self.fragments(&v) {
            let piece = segments::get(&v, &path)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut applied = Vec::new();
            // A Responses text keeps its first delta event, to send held text in later.
            let template = (matches!(key, TextKey::Responses { .. })
                && self
                    .texts
                    .get(&key)
                    .is_none_or(|t| t.responses_event.is_none()))
            .then(|| v.clone());
            // The event's tokens for the piece, when it has a list beside it.
            let list_at = ListAt::of(&path);
            let tokens = list_at
                .and_then(|at| at.get(&v))
                .and_then(Value::as_array)
                .cloned();
            // Tool calls' arguments arrive as JSON text.
            let json = match &key {
                TextKey::Choice(_, part) => matches!(part, ChoicePart::Tool(_)),
                TextKey::Block(_) => kind.as_deref() == Some("input_json_delta"),
                TextKey::Responses { kind, .. } => kind.ends_with("_call_arguments"),
            };
            let released = {
                let ts = self.texts.entry(key).or_insert_with(|| {
                    TextStream::new(
                        self.restorer.as_ref(),
                        &self.decider.detection,
                        self.hold_back,
                        json,
                    )
                });
                if ts.delta_type.is_none() {
                    ts.delta_type = kind;
                }
                if ts.responses_event.is_none() {
                    ts.responses_event = template;
                }
                let pushed = ts.push(&piece, &mut self.decider, &mut applied).await;
                pushed.map(|text| {
                    let carried = match list_at {
                        Some(_) => ts.tokens.follow(&piece, tokens, &text),
                        None => None,
                    };
                    (text, carried)
                })
            };
            self.applied.extend(applied);
            match released {
                Ok((text, carried)) => {
                    // The tokens of what is released, never of text held back or changed.
                    match (carried, list_at) {
                        (Some(tokens), Some(at)) => {
                            if let Some(slot) = at.get_mut(&mut v) {
                                *slot = Value::Array(tokens);
                            }
                        }
                        (None, Some(_)) => segments::drop_logprobs(&mut v, &path),
                        (_, None) if text != piece => segments::drop_logprobs(&mut v, &path),
                        _ => {}
                    }
                    if let Some(slot) = segments::get_mut(&mut v, &path) {
                        *slot = Value::String(text);
                    }
                }
                Err(halt) => return self.halt(halt),
            }
        }
        // A choice that finishes releases what its texts hold, into this event.
        let finished: Vec<(usize, u64)> = match v.get("choices") {
            Some(Value::Array(choices)) => choices
                .iter()
                .enumerate()
                .filter(|(_, c)| c.get("finish_reason").is_some_and(|f| !f.is_null()))
                .map(|(i, c)| {
                    (
                        i,
                        c.get("index").and_then(Value::as_u64).unwrap_or(i as u64),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        for (i, idx) in finished {
            if !self.flush_choice(&mut v, i, idx).await {
                return;
            }
        }
        if v.get("type").and_then(Value::as_str) == Some("message_stop") {
            self.store_recording();
        }
        // A Responses API event that is not a delta: what the text's deltas still hold goes
        // out first as a delta of its own, then whatever text the event carries whole is
        // decided as a whole.
        if let Some((key, false)) = responses_key(&v) {
            self.flush_key(&key).await;
            if self.done {
                return;
            }
        }
        if whole_event_kind(&v).is_some_and(|k| !k.ends_with(".delta")) {
            let segments = responses_event_segments(&v);
            if !segments.is_empty() && !self.scan_whole(&mut v, &segments).await {
                return;
            }
            if v.get("type").and_then(Value::as_str) == Some("response.completed") {
                self.store_recording();
            }
        }
        // An Anthropic citation quotes its source whole (checked before any walk: every
        // streamed Anthropic text delta passes here).
        if v.get("delta").is_some_and(|d| d.get("citation").is_some()) {
            let segments = segments::anthropic_event_segments(&v);
            if !segments.is_empty() && !self.scan_whole(&mut v, &segments).await {
                return;
            }
        }
        // An Anthropic block that stops first gets its held text as a delta.
        if v.get("type").and_then(Value::as_str) == Some("content_block_stop") {
            let idx = v.get("index").and_then(Value::as_u64).unwrap_or(0);
            self.flush_key(&TextKey::Block(idx)).await;
            if self.done {
                return;
            }
        }
        self.emit(&SseEvent {
            data: json_out::to_string(&v),
            ..event
        });
    }

    /// An event of a stream on another route ([`Route::Other`]), whose shape no walker
    /// knows: every string of its JSON data, or its data as one text, decided whole (a
    /// value split across two events is not joined).
    async fn process_other(&mut self, event: SseEvent) {
        let (mut v, json) = unread_document(event.data.as_bytes());
        let segments = all_strings(&v);
        if !segments.is_empty() && !self.scan_whole(&mut v, &segments).await {
            return;
        }
        let written = unread_written(v, json, event.data.len());
        // JSON, or the event's own text: UTF-8 either way.
        let data = String::from_utf8(written).unwrap_or_default();
        self.emit(&SseEvent { data, ..event });
    }

    /// Takes the audio data out of each choice of chat chunk `v` and holds it, as a chunk
    /// of its own, until the choice ends ([`ResponseStream::release_spoken`]).
    fn hold_spoken(&mut self, v: &mut Value) {
        let Some(Value::Array(choices)) = v.get_mut("choices") else {
            return;
        };
        let mut held = Vec::new();
        for (i, c) in choices.iter_mut().enumerate() {
            let idx = c.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
            let audio = c.get_mut("delta").and_then(|d| d.get_mut("audio"));
            let Some(data) = audio.and_then(|a| a.as_object_mut()?.remove("data")) else {
                continue;
            };
            held.push((idx, data));
        }
        for (idx, data) in held {
            let mut chunk = v.clone();
            chunk["choices"] = serde_json::json!([{
                "index": idx,
                "delta": {"audio": {"data": data}},
                "finish_reason": null,
            }]);
            self.spoken.entry(idx).or_default().push(chunk);
        }
    }

    /// The end of choice `idx` (or of the answer, `None`): its held audio goes out if
    /// nothing in the answer was changed (no transform, nothing restored), else it is
    /// dropped: it says what the transcript said before the gateway changed it.
    fn release_spoken(&mut self, idx: Option<u64>) {
        let held: Vec<Value> = match idx {
            Some(idx) => self.spoken.remove(&idx).unwrap_or_default(),
            None => std::mem::take(&mut self.spoken)
                .into_values()
                .flatten()
                .collect(),
        };
        if held.is_empty() {
            return;
        }
        let unchanged = self.stats.restored == 0
            && self
                .applied
                .iter()
                .all(|a| matches!(a.action, Action::Allow | Action::Alert));
        if !unchanged {
            tracing::debug!(chunks = held.len(), "audio of a changed answer withheld");
            return;
        }
        for chunk in held {
            self.emit(&SseEvent::data(json_out::to_string(&chunk)));
        }
    }

    /// Releases the held text of choice `idx` into event `v` (at choice position `i`).
    async fn flush_choice(&mut self, v: &mut Value, i: usize, idx: u64) -> bool {
        let keys: Vec<TextKey> = self
            .texts
            .keys()
            .filter(|k| matches!(k, TextKey::Choice(index, _) if *index == idx))
            .cloned()
            .collect();
        for key in keys {
            let Some((mut ts, rest)) = self.finish_text(&key).await else {
                if self.done {
                    return false;
                }
                continue;
            };
            if let (TextKey::Choice(_, part), Some(choice)) =
                (key, v.get_mut("choices").and_then(|c| c.get_mut(i)))
            {
                let tokens = ts.tokens.release(&rest);
                append_to_choice(choice, part, rest, tokens);
            }
        }
        self.release_spoken(Some(idx));
        true
    }

    /// Finishes the text `key` names and takes it out: the text and what it still held
    /// (empty when nothing); `None` when there is no such text or it was blocked (the
    /// stream is then done).
    async fn finish_text(&mut self, key: &TextKey) -> Option<(TextStream, String)> {
        let mut ts = self.texts.remove(key)?;
        let mut applied = Vec::new();
        let result = ts
            .finish(&mut self.decider, &mut applied, &mut self.stats)
            .await;
        self.applied.extend(applied);
        match result {
            Ok(rest) => Some((ts, rest)),
            Err(halt) => {
                self.halt(halt);
                None
            }
        }
    }

    /// Releases one text's held part as a delta event of its own.
    async fn flush_key(&mut self, key: &TextKey) {
        let Some((mut ts, rest)) = self.finish_text(key).await else {
            return;
        };
        if rest.is_empty() {
            return;
        }
        match key {
            TextKey::Block(idx) => {
                let kind = ts.delta_type.unwrap_or_else(|| "text_delta".to_owned());
                let field = match kind.as_str() {
                    "input_json_delta" => "partial_json",
                    "thinking_delta" => "thinking",
                    _ => "text",
                };
                let data = serde_json::json!({
                    "type": "content_block_delta",
                    "index": idx,
                    "delta": {"type": kind, field: rest},
                });
                self.emit(&SseEvent {
                    event: Some("content_block_delta".to_owned()),
                    data: json_out::to_string(&data),
                    ..SseEvent::default()
                });
            }
            TextKey::Responses { .. } => {
                if let Some(mut event) = ts.responses_event.take() {
                    // The template's tokens were its first piece's: these are the rest's.
                    if let Some(list) = event.get_mut("logprobs") {
                        *list = Value::Array(ts.tokens.release(&rest).unwrap_or_default());
                    }
                    event["delta"] = Value::String(rest);
                    let name = event.get("type").and_then(Value::as_str).map(str::to_owned);
                    self.emit(&SseEvent {
                        event: name,
                        data: json_out::to_string(&event),
                        ..SseEvent::default()
                    });
                }
            }
            TextKey::Choice(index, part) => {
                let tokens = ts.tokens.release(&rest);
                let mut data = chat_flush(*index, *part, rest, tokens);
                if let (Some(envelope), Value::Object(chunk)) = (&self.chunk_envelope, &mut data) {
                    chunk.extend(envelope.clone());
                }
                self.emit(&SseEvent::data(json_out::to_string(&data)));
            }
        }
    }

    /// Releases everything still held (end of stream).
    async fn flush_all(&mut self) {
        let keys: Vec<TextKey> = self.texts.keys().cloned().collect();
        for key in keys {
            self.flush_key(&key).await;
            if self.done {
                return;
            }
        }
        self.release_spoken(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_separator_is_a_character_no_segment_holds() {
        assert_eq!(separator(&["a", "b"]), Some('\u{E000}'));
        assert_eq!(separator(&["a\u{E000}", "\u{E001}b"]), Some('\u{E002}'));
        let every: String = (0xE000..0xE100).filter_map(char::from_u32).collect();
        assert_eq!(separator(&[&every, "b"]), None);
    }

    #[test]
    fn a_remote_window_ends_at_a_sentence_else_a_space_else_where_the_scan_settled() {
        let held = |text: &str| TextStream {
            restorer: None,
            scanner: None,
            buf: text.to_owned(),
            base: 100,
            pending: Vec::new(),
            delta_type: None,
            responses_event: None,
            window: StreamWindow::Always(16),
            tokens: TokenTrail::default(),
            json: false,
            escape_tail: String::new(),
            unescaper: Unescaper::new(),
        };
        // Less than a window settled: nothing yet.
        assert_eq!(held("Alpha beta gamma. Delta").window_end(115), 100);
        // A sentence end in the window's second half wins over a later space.
        let t = held("Alpha beta gamma. Delta epsilon");
        assert_eq!(
            t.window_end(100 + t.buf.len()),
            100 + "Alpha beta gamma. ".len()
        );
        // Only what the scan settled counts: the same text settled up to "Delta" cuts
        // after the sentence too, and settled before it after the last space.
        assert_eq!(t.window_end(123), 100 + "Alpha beta gamma. ".len());
        assert_eq!(t.window_end(116), 100 + "Alpha beta ".len());
        // No sentence end: the last space.
        let t = held("Alpha beta gamma delta");
        assert_eq!(
            t.window_end(100 + t.buf.len()),
            100 + "Alpha beta gamma ".len()
        );
        // Neither: all that is settled (the release keeps to a character boundary).
        let t = held("ÄÄÄÄÄÄÄÄÄÄÄÄ");
        assert_eq!(t.window_end(500), 100 + t.buf.len());
        // No window: the frontier as it is.
        let t = TextStream {
            window: StreamWindow::Off,
            ..held("Alpha")
        };
        assert_eq!(t.window_end(103), 103);
        // Only doubtful findings wait for the remote: none held, the frontier as it is;
        // one scoring below the threshold held, a window as above.
        let finding = |score: f32| Finding {
            entity: sentinel_detect::EntityType::new("PHONE_NUMBER"),
            start: 102,
            end: 104,
            score,
            recognizer: sentinel_detect::RecognizerId::from_index(0),
            escaped: false,
            folded: false,
        };
        let doubtful = |score: f32| TextStream {
            window: StreamWindow::Doubtful {
                bytes: 16,
                threshold: 0.6,
            },
            pending: vec![finding(score)],
            ..held("Alpha beta gamma delta")
        };
        assert_eq!(doubtful(0.9).window_end(110), 110);
        assert_eq!(doubtful(0.4).window_end(110), 100);
        assert_eq!(
            doubtful(0.4).window_end(122),
            100 + "Alpha beta gamma ".len()
        );
    }

    #[test]
    fn a_cut_moves_back_before_a_finding_across_it_unless_nothing_is_left() {
        let at = |start: usize, end: usize| Finding {
            entity: sentinel_detect::EntityType::new("PERSON"),
            start,
            end,
            score: 0.85,
            recognizer: sentinel_detect::RecognizerId::from_index(0),
            escaped: false,
            folded: false,
        };
        assert_eq!(cut_before(&[at(2, 5), at(20, 30)], 25), 20);
        // Back again when the new cut is inside another finding.
        assert_eq!(cut_before(&[at(10, 22), at(20, 30)], 25), 10);
        // Findings that end at the cut or start after it leave it.
        assert_eq!(cut_before(&[at(20, 25), at(25, 30)], 25), 25);
        // A finding from the start across the cut: the cut stays.
        assert_eq!(cut_before(&[at(0, 30)], 25), 25);
    }

    #[test]
    fn held_chat_text_goes_back_to_its_choice_and_field() {
        let flush = |index: u64, part: ChoicePart| chat_flush(index, part, "x".to_owned(), None);
        assert_eq!(
            flush(0, ChoicePart::Content),
            serde_json::json!({"choices": [{"index": 0, "delta": {"content": "x"}}]})
        );
        let refusal = flush(2, ChoicePart::Field("refusal"));
        assert_eq!(refusal["choices"][0]["index"], 2);
        assert_eq!(refusal["choices"][0]["delta"]["refusal"], "x");
        let reasoning = flush(11, ChoicePart::Field("reasoning_content"));
        assert_eq!(reasoning["choices"][0]["index"], 11);
        assert_eq!(reasoning["choices"][0]["delta"]["reasoning_content"], "x");
        let spoken = flush(4, ChoicePart::Transcript);
        assert_eq!(spoken["choices"][0]["delta"]["audio"]["transcript"], "x");
        let tool = flush(1, ChoicePart::Tool(3));
        assert_eq!(tool["choices"][0]["index"], 1);
        assert_eq!(tool["choices"][0]["delta"]["tool_calls"][0]["index"], 3);
        assert_eq!(
            tool["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "x"
        );
    }
}
