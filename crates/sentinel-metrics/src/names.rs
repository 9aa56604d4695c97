//! Every metric name and label DeepSentinel records: crates use these constants, never
//! string literals. docs/metrics.md is the table of the same.

/// Requests answered, by `route`, `model`, `status` (HTTP status code).
pub const REQUESTS_TOTAL: &str = "deepsentinel_requests_total";
/// Whole-request latency in seconds, by `route`.
pub const REQUEST_DURATION_SECONDS: &str = "deepsentinel_request_duration_seconds";
/// Latency of one stage in seconds, by `route` and `stage`.
pub const STAGE_DURATION_SECONDS: &str = "deepsentinel_stage_duration_seconds";
/// Cache lookups, by `cache` (`detection`, `response`) and `result` (`hit`, `miss`).
pub const CACHE_LOOKUPS_TOTAL: &str = "deepsentinel_cache_lookups_total";
/// Bytes held by a cache, by `cache`.
pub const CACHE_BYTES: &str = "deepsentinel_cache_bytes";
/// Entries held by a cache, by `cache`.
pub const CACHE_ENTRIES: &str = "deepsentinel_cache_entries";
/// 1 while a cache's shared level is unreachable and it serves from memory only, by `cache`.
pub const CACHE_DEGRADED: &str = "deepsentinel_cache_degraded";
/// Values found, by `entity` and the `action` taken.
pub const FINDINGS_TOTAL: &str = "deepsentinel_findings_total";
/// Requests or responses refused by policy, by `route` and `direction`.
pub const BLOCKED_TOTAL: &str = "deepsentinel_blocked_total";
/// Pseudonyms restored in answers.
pub const RESTORED_TOTAL: &str = "deepsentinel_restored_total";
/// Token-shaped text in answers that no pseudonym resolved, by `entity`.
pub const RESTORE_UNRESOLVED_TOTAL: &str = "deepsentinel_restore_unresolved_total";
/// Errors, by `kind` (see [`crate::ErrorKind`]).
pub const ERRORS_TOTAL: &str = "deepsentinel_errors_total";
/// Circuit state per upstream endpoint: 0 closed, 1 half-open, 2 open; by `upstream`.
pub const CIRCUIT_STATE: &str = "deepsentinel_upstream_circuit_state";
/// Circuit state changes, by `upstream` and the state entered (`to`).
pub const CIRCUIT_TRANSITIONS_TOTAL: &str = "deepsentinel_upstream_circuit_transitions_total";
/// Open upstream connections, by `upstream`.
pub const POOL_CONNECTIONS: &str = "deepsentinel_upstream_pool_connections";
/// Upstream retries, by `upstream` and `reason` (`connect`, `status`).
pub const UPSTREAM_RETRIES_TOTAL: &str = "deepsentinel_upstream_retries_total";
/// Bytes of request bodies held now, of `[server] max_body_bytes_in_flight` (read at each
/// scrape).
pub const BODY_BYTES_IN_FLIGHT: &str = "deepsentinel_body_bytes_in_flight";
/// Requests in flight.
pub const INFLIGHT_REQUESTS: &str = "deepsentinel_inflight_requests";
/// Requests worked on off the serving threads because their bodies are large (`[server]
/// large_body_bytes`).
pub const LARGE_REQUESTS_TOTAL: &str = "deepsentinel_large_requests_total";
/// Requests in the large requests' lane now, by `state`: `in_lane` (all of them),
/// `running` (using the CPU), `waiting` (for a turn or a place); read at each scrape.
pub const LARGE_REQUESTS: &str = "deepsentinel_large_requests";
/// Requests refused because the concurrency limit's queue was full or timed out, by
/// `priority`.
pub const OVERLOADED_TOTAL: &str = "deepsentinel_overloaded_total";
/// Tokens reported in upstream usage fields, by `model` and `kind` (`prompt`, `completion`).
pub const TOKENS_TOTAL: &str = "deepsentinel_tokens_total";
/// Audit events the log refused to take (it was failing or closed), by `policy`: under
/// `fail_closed` each refused its request, under `fail_open` the request went on. Events
/// the log took and then could not write are [`AUDIT_UNWRITTEN_TOTAL`].
pub const AUDIT_DROPPED_TOTAL: &str = "deepsentinel_audit_dropped_total";
/// Refused requests (no key, an unknown key) not written to the audit log because more
/// than `sentinel_client::REFUSALS_PER_SECOND` came in one second.
pub const AUDIT_REFUSALS_SKIPPED_TOTAL: &str = "deepsentinel_audit_refusals_skipped_total";
/// Conversation scopes of the pseudonym vault read from or written to the shared store
/// (`[cache] share_vault`), and the scopes of Responses API answers (`chain` read,
/// `remember` written), by `op` (`load`, `save`, `chain`, `remember`) and `result` (`hit`,
/// `miss`, `ok`, `error`, `skipped` while the store is marked down after a failure).
pub const VAULT_SHARED_TOTAL: &str = "deepsentinel_vault_shared_total";
/// 1 while the audit log is healthy, 0 while writes fail (read from the log at each
/// scrape).
pub const AUDIT_HEALTHY: &str = "deepsentinel_audit_healthy";
/// Records the audit log has written since it was opened (at each scrape).
pub const AUDIT_WRITTEN_TOTAL: &str = "deepsentinel_audit_written_total";
/// Events the audit log took and could not write (a failing disk under `fail_open`, or its
/// queue full), since it was opened (at each scrape).
pub const AUDIT_UNWRITTEN_TOTAL: &str = "deepsentinel_audit_unwritten_total";
/// Events waiting for the audit log's writer (at each scrape).
pub const AUDIT_QUEUED: &str = "deepsentinel_audit_queued";
/// Rotated audit files moved to `[audit] archive_dir` since the log was opened.
pub const AUDIT_ARCHIVED_FILES_TOTAL: &str = "deepsentinel_audit_archived_files_total";
/// 0 while moving rotated audit files to `[audit] archive_dir` fails, else 1.
pub const AUDIT_ARCHIVE_HEALTHY: &str = "deepsentinel_audit_archive_healthy";
/// Requests per `tenant` (at most 64 named, the rest `other`) by `outcome` (`allowed`,
/// `blocked`, `error`).
pub const TENANT_REQUESTS_TOTAL: &str = "deepsentinel_tenant_requests_total";
/// Findings per `tenant` by `entity`.
pub const TENANT_FINDINGS_TOTAL: &str = "deepsentinel_tenant_findings_total";
/// Configuration reloads (`deepsentinel serve` on SIGHUP) by `result` (`applied`,
/// `failed`).
pub const CONFIG_RELOADS_TOTAL: &str = "deepsentinel_config_reloads_total";
/// Gauge: 1 when the last configuration reload applied (or none was asked for), 0 when it
/// failed; it stays until the next reload, so an alert on it lasts while the file is bad.
pub const CONFIG_LAST_RELOAD_SUCCESSFUL: &str = "deepsentinel_config_last_reload_successful";

/// Every metric name above, for documentation checks and exporters.
pub const ALL: &[&str] = &[
    REQUESTS_TOTAL,
    REQUEST_DURATION_SECONDS,
    STAGE_DURATION_SECONDS,
    CACHE_LOOKUPS_TOTAL,
    CACHE_BYTES,
    CACHE_ENTRIES,
    CACHE_DEGRADED,
    FINDINGS_TOTAL,
    BLOCKED_TOTAL,
    RESTORED_TOTAL,
    RESTORE_UNRESOLVED_TOTAL,
    ERRORS_TOTAL,
    CIRCUIT_STATE,
    CIRCUIT_TRANSITIONS_TOTAL,
    POOL_CONNECTIONS,
    UPSTREAM_RETRIES_TOTAL,
    INFLIGHT_REQUESTS,
    LARGE_REQUESTS_TOTAL,
    LARGE_REQUESTS,
    BODY_BYTES_IN_FLIGHT,
    OVERLOADED_TOTAL,
    TOKENS_TOTAL,
    AUDIT_DROPPED_TOTAL,
    AUDIT_REFUSALS_SKIPPED_TOTAL,
    VAULT_SHARED_TOTAL,
    AUDIT_HEALTHY,
    AUDIT_WRITTEN_TOTAL,
    AUDIT_UNWRITTEN_TOTAL,
    AUDIT_QUEUED,
    AUDIT_ARCHIVED_FILES_TOTAL,
    AUDIT_ARCHIVE_HEALTHY,
    TENANT_REQUESTS_TOTAL,
    TENANT_FINDINGS_TOTAL,
    CONFIG_RELOADS_TOTAL,
    CONFIG_LAST_RELOAD_SUCCESSFUL,
];

/// Label names.
pub mod label {
    /// The route (`/v1/chat/completions`, ...), from a fixed list; `other` for the rest.
    pub const ROUTE: &str = "route";
    /// The model, bounded (see [`crate::BoundedLabels`]).
    pub const MODEL: &str = "model";
    /// The HTTP status code.
    pub const STATUS: &str = "status";
    /// The pipeline stage (see [`crate::Stage`]).
    pub const STAGE: &str = "stage";
    /// The cache (`detection`, `response`).
    pub const CACHE: &str = "cache";
    /// A lookup's result (`hit`, `miss`).
    pub const RESULT: &str = "result";
    /// The entity type.
    pub const ENTITY: &str = "entity";
    /// The policy action.
    pub const ACTION: &str = "action";
    /// `request` or `response`.
    pub const DIRECTION: &str = "direction";
    /// The error kind.
    pub const KIND: &str = "kind";
    /// The upstream endpoint's configured name.
    pub const UPSTREAM: &str = "upstream";
    /// A circuit state entered.
    pub const TO: &str = "to";
    /// Why a retry happened.
    pub const REASON: &str = "reason";
    /// A request priority.
    pub const PRIORITY: &str = "priority";
    /// The tenant (per-tenant counters; at most 64 named, the rest `other`).
    pub const TENANT: &str = "tenant";
    /// `allowed`, `blocked` or `error` (per-tenant requests).
    pub const OUTCOME: &str = "outcome";
    /// The audit failure policy (`fail_open`, `fail_closed`).
    pub const POLICY: &str = "policy";
    /// A shared store operation (`load`, `save`, `chain`, `remember`).
    pub const OP: &str = "op";
    /// Where the large requests' lane's requests are (`in_lane`, `running`, `waiting`).
    pub const STATE: &str = "state";
}
