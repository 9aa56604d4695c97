//! The Monitor: what a person (or the SDK) asks "how is it doing right now?" — a sliding
//! window of latencies per stage with percentiles, throughput, cache hit rates, models,
//! findings and errors.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::{CacheName, RequestRecord, Stage};

/// Slots in the window and their length: 12 x 5 s = one minute.
const SLOTS: usize = 12;
const SLOT_SECS: u64 = 5;
/// Latencies are recorded in microseconds, up to an hour, with 2 significant digits.
const MAX_MICROS: u64 = 3_600_000_000;
/// Distinct model names kept per slot.
const MAX_MODELS: usize = 64;

fn histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)] // reason: fixed bounds within hdrhistogram's range
    Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("valid bounds")
}

#[derive(Default, Clone)]
struct ModelAgg {
    requests: u64,
    latency_us: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
}

struct Slot {
    /// The slot's number (seconds since start / SLOT_SECS); `u64::MAX` when unused.
    index: u64,
    total: Histogram<u64>,
    stages: Vec<Histogram<u64>>,
    requests: u64,
    blocked: u64,
    statuses: BTreeMap<u16, u64>,
    errors: BTreeMap<&'static str, u64>,
    caches: [(u64, u64); CacheName::COUNT],
    models: BTreeMap<String, ModelAgg>,
    /// Entity type -> action -> count.
    findings: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            index: u64::MAX,
            total: histogram(),
            stages: (0..Stage::ALL.len()).map(|_| histogram()).collect(),
            requests: 0,
            blocked: 0,
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            caches: [(0, 0); CacheName::COUNT],
            models: BTreeMap::new(),
            findings: BTreeMap::new(),
        }
    }

    fn reset(&mut self, index: u64) {
        self.index = index;
        self.total.reset();
        for h in &mut self.stages {
            h.reset();
        }
        self.requests = 0;
        self.blocked = 0;
        self.statuses.clear();
        self.errors.clear();
        self.caches = [(0, 0); CacheName::COUNT];
        self.models.clear();
        self.findings.clear();
    }
}

/// Latency percentiles of one stage, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Samples in the window.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

/// One cache's lookups in the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheSummary {
    /// Hits.
    pub hits: u64,
    /// Misses.
    pub misses: u64,
    /// Hits over lookups (0 without lookups).
    pub hit_rate: f64,
}

/// One model's requests in the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// Requests.
    pub requests: u64,
    /// Mean whole-request latency.
    pub avg_latency_ms: f64,
    /// Prompt tokens reported by the upstream.
    pub prompt_tokens: u64,
    /// Completion tokens reported by the upstream.
    pub completion_tokens: u64,
    /// Mean tokens (prompt + completion) per request.
    pub avg_tokens: f64,
}

/// The Monitor's summary of the last minute: what `GET /v1/sentinel/stats` returns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorSnapshot {
    /// Seconds the summary covers (up to 60; less just after start).
    pub window_seconds: f64,
    /// Seconds since the Monitor started.
    pub uptime_seconds: f64,
    /// Requests in the window.
    pub requests: u64,
    /// Requests per second over the window.
    pub requests_per_second: f64,
    /// Whole-request latency.
    pub total: LatencySummary,
    /// Latency per stage (`parse`, `detect`, `policy`, `audit`, `cache`, `upstream`).
    pub stages: BTreeMap<String, LatencySummary>,
    /// Lookups per cache (`detection`, `response`).
    pub caches: BTreeMap<String, CacheSummary>,
    /// Requests per model.
    pub models: BTreeMap<String, ModelSummary>,
    /// Requests per HTTP status.
    pub statuses: BTreeMap<String, u64>,
    /// Errors by kind.
    pub errors: BTreeMap<String, u64>,
    /// Requests refused by policy.
    pub blocked: u64,
    /// Findings: entity type -> action -> count.
    pub findings: BTreeMap<String, BTreeMap<String, u64>>,
}

/// A sliding one-minute window of what the pipeline recorded.
///
/// ```
/// use std::time::Duration;
/// use sentinel_metrics::{Monitor, RequestRecord, Stage};
/// let monitor = Monitor::new();
/// let mut r = RequestRecord::new("/v1/chat/completions", "gpt-4o", 200, Duration::from_micros(900));
/// r.stages[Stage::Detect.index()] = Some(Duration::from_micros(12));
/// monitor.record(&r);
/// let s = monitor.snapshot();
/// assert_eq!(s.requests, 1);
/// assert!(s.stages["detect"].p50_ms > 0.011 && s.stages["detect"].p50_ms < 0.013);
/// ```
pub struct Monitor {
    started: Instant,
    skew_secs: AtomicU64,
    slots: Mutex<Vec<Slot>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("uptime", &self.started.elapsed())
            .finish_non_exhaustive()
    }
}

impl Default for Monitor {
    fn default() -> Monitor {
        Monitor::new()
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS)
}

/// `map[key]`, inserted with its default when absent; the key is copied only then, so the
/// per-request path does not allocate for names it has seen.
fn entry<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    #[allow(clippy::expect_used)] // reason: inserted just above
    map.get_mut(key).expect("present")
}

fn summary(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    LatencySummary {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        mean_ms: h.mean() / 1000.0,
    }
}

impl Monitor {
    /// An empty monitor.
    pub fn new() -> Monitor {
        Monitor {
            started: Instant::now(),
            skew_secs: AtomicU64::new(0),
            slots: Mutex::new((0..SLOTS).map(|_| Slot::new()).collect()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Slot>> {
        // Each update leaves the slots consistent, so a poisoned lock is usable.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64() + self.skew_secs.load(Ordering::Relaxed) as f64
    }

    fn slot_now(&self) -> u64 {
        self.elapsed_secs() as u64 / SLOT_SECS
    }

    /// Moves the monitor's clock forward, for tests of the window.
    #[doc(hidden)]
    pub fn advance_clock(&self, by: Duration) {
        self.skew_secs.fetch_add(by.as_secs(), Ordering::Relaxed);
    }

    /// Records one finished request.
    pub fn record(&self, r: &RequestRecord<'_>) {
        let findings = r.findings;
        let index = self.slot_now();
        let mut slots = self.lock();
        let slot = &mut slots[(index % SLOTS as u64) as usize];
        if slot.index != index {
            slot.reset(index);
        }
        slot.requests += 1;
        // Values are clamped into the histogram's range, so recording cannot fail.
        let _ = slot.total.record(micros(r.total));
        for (h, d) in slot.stages.iter_mut().zip(&r.stages) {
            if let Some(d) = d {
                let _ = h.record(micros(*d));
            }
        }
        *slot.statuses.entry(r.status).or_insert(0) += 1;
        if let Some(e) = r.error {
            *slot.errors.entry(e.as_str()).or_insert(0) += 1;
        }
        if r.blocked.is_some() {
            slot.blocked += 1;
        }
        for &(cache, hit) in r.cache {
            let c = &mut slot.caches[cache as usize];
            if hit {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
        if !r.model.is_empty() {
            // Bounded: past MAX_MODELS names per slot, the rest count as `other`. Names
            // already in the slot are found without allocating.
            let m = if slot.models.contains_key(r.model) {
                entry(&mut slot.models, r.model)
            } else if slot.models.len() < MAX_MODELS {
                entry(&mut slot.models, &crate::sanitize(r.model))
            } else {
                entry(&mut slot.models, "other")
            };
            m.requests += 1;
            m.latency_us += micros(r.total);
            if let Some((p, c)) = r.tokens {
                m.prompt_tokens += p;
                m.completion_tokens += c;
            }
        }
        for &(entity, action, n) in findings {
            *entry(entry(&mut slot.findings, entity), action) += n;
        }
    }

    /// The summary of the window.
    pub fn snapshot(&self) -> MonitorSnapshot {
        let now = self.slot_now();
        let slots = self.lock();
        let live: Vec<&Slot> = slots
            .iter()
            .filter(|s| s.index != u64::MAX && now.saturating_sub(s.index) < SLOTS as u64)
            .collect();
        let mut total = histogram();
        let mut stages: Vec<Histogram<u64>> = Stage::ALL.iter().map(|_| histogram()).collect();
        let mut out = MonitorSnapshot::default();
        let mut caches = [(0u64, 0u64); CacheName::COUNT];
        let mut models: BTreeMap<String, ModelAgg> = BTreeMap::new();
        for s in &live {
            let _ = total.add(&s.total);
            for (acc, h) in stages.iter_mut().zip(&s.stages) {
                let _ = acc.add(h);
            }
            out.requests += s.requests;
            out.blocked += s.blocked;
            for (status, n) in &s.statuses {
                *out.statuses.entry(status.to_string()).or_insert(0) += n;
            }
            for (kind, n) in &s.errors {
                *out.errors.entry((*kind).to_owned()).or_insert(0) += n;
            }
            for (acc, c) in caches.iter_mut().zip(&s.caches) {
                acc.0 += c.0;
                acc.1 += c.1;
            }
            for (name, m) in &s.models {
                let acc = models.entry(name.clone()).or_default();
                acc.requests += m.requests;
                acc.latency_us += m.latency_us;
                acc.prompt_tokens += m.prompt_tokens;
                acc.completion_tokens += m.completion_tokens;
            }
            for (entity, actions) in &s.findings {
                let acc = entry(&mut out.findings, entity);
                for (action, n) in actions {
                    *entry(acc, action) += n;
                }
            }
        }
        let uptime = self.elapsed_secs();
        let window = uptime.min((SLOTS as u64 * SLOT_SECS) as f64).max(1.0);
        out.window_seconds = window;
        out.uptime_seconds = uptime;
        out.requests_per_second = out.requests as f64 / window;
        out.total = summary(&total);
        for (stage, h) in Stage::ALL.iter().zip(&stages) {
            out.stages.insert(stage.as_str().to_owned(), summary(h));
        }
        for (name, (hits, misses)) in CacheName::ALL.iter().zip(caches) {
            let lookups = hits + misses;
            out.caches.insert(
                name.as_str().to_owned(),
                CacheSummary {
                    hits,
                    misses,
                    hit_rate: if lookups == 0 {
                        0.0
                    } else {
                        hits as f64 / lookups as f64
                    },
                },
            );
        }
        for (name, m) in models {
            let n = m.requests.max(1) as f64;
            out.models.insert(
                name,
                ModelSummary {
                    requests: m.requests,
                    avg_latency_ms: m.latency_us as f64 / n / 1000.0,
                    prompt_tokens: m.prompt_tokens,
                    completion_tokens: m.completion_tokens,
                    avg_tokens: (m.prompt_tokens + m.completion_tokens) as f64 / n,
                },
            );
        }
        out
    }
}
