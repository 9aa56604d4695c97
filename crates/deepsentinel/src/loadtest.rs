//! `deepsentinel loadtest`: weighted scenarios from a file, a number of concurrent
//! clients (and clients of their own for a scenario that sets `clients`: a bulk caller
//! beside interactive ones), for a duration or a request count; then success rate,
//! requests per second, p50/p95/p99 per scenario and an error breakdown, as text and JSON.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use sentinel_transport::{
    Endpoint, HttpTransport, OutboundRequest, RetryConfig, Transport, TransportConfig, Upstream,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Args)]
pub(crate) struct LoadtestArgs {
    /// The scenarios file (TOML: `target`, then `[[scenario]]` with `name`, `weight`,
    /// `method`, `path`, `body` or `body_file`, `headers`, `clients`).
    #[arg(long)]
    scenarios: PathBuf,
    /// The base URL (overrides the file's `target`).
    #[arg(long)]
    target: Option<String>,
    /// Concurrent clients sharing the weighted scenarios (those without `clients`).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// How long to run, in seconds (unless --requests is given).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many requests instead.
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds of warm-up before measuring (connections opened, caches filled).
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(default)]
    target: Option<String>,
    #[serde(rename = "scenario")]
    scenarios: Vec<Scenario>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    name: String,
    #[serde(default = "one")]
    weight: u32,
    #[serde(default = "post")]
    method: String,
    path: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_file: Option<PathBuf>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Clients of its own that send only this scenario, back to back, beside the
    /// `--concurrency` clients, which then leave it out of their weighted draw.
    #[serde(default)]
    clients: Option<usize>,
}

fn one() -> u32 {
    1
}

fn post() -> String {
    "POST".to_owned()
}

struct Prepared {
    name: String,
    weight: u32,
    /// Clients of its own (0: drawn by weight by the shared clients).
    clients: usize,
    request: OutboundRequest,
}

struct Tally {
    latency: Histogram<u64>,
    ok: u64,
    failed: u64,
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: histogram(),
            ok: 0,
            failed: 0,
            errors: BTreeMap::new(),
        }
    }

    fn add(&mut self, other: &Tally) {
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        self.failed += other.failed;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_insert(0) += v;
        }
    }
}

/// The figures of a scenario or of the whole run.
#[derive(Debug, Serialize)]
pub(crate) struct Figures {
    requests: u64,
    success_rate: f64,
    requests_per_second: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: BTreeMap<String, u64>,
}

impl Figures {
    fn of(t: &Tally, seconds: f64) -> Figures {
        let n = t.ok + t.failed;
        Figures {
            requests: n,
            success_rate: if n == 0 { 0.0 } else { t.ok as f64 / n as f64 },
            requests_per_second: n as f64 / seconds,
            p50_ms: ms(t.latency.value_at_quantile(0.5)),
            p95_ms: ms(t.latency.value_at_quantile(0.95)),
            p99_ms: ms(t.latency.value_at_quantile(0.99)),
            max_ms: ms(t.latency.max()),
            errors: t.errors.clone(),
        }
    }
}

/// One scenario's figures.
#[derive(Debug, Serialize)]
pub(crate) struct ScenarioReport {
    name: String,
    #[serde(flatten)]
    figures: Figures,
}

/// The run's figures (every scenario together), then each scenario's.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    target: String,
    concurrency: usize,
    seconds: f64,
    #[serde(flatten)]
    figures: Figures,
    scenarios: Vec<ScenarioReport>,
}

fn prepare(file: &ScenarioFile, base: &std::path::Path) -> Result<Vec<Prepared>> {
    if file.scenarios.is_empty() {
        bail!("the scenarios file has no [[scenario]]");
    }
    file.scenarios
        .iter()
        .map(|s| {
            let body = match (&s.body, &s.body_file) {
                (Some(b), None) => Bytes::from(b.clone()),
                (None, Some(f)) => {
                    Bytes::from(std::fs::read(base.join(f)).with_context(|| {
                        format!("scenario {}: body_file {}", s.name, f.display())
                    })?)
                }
                (None, None) => Bytes::new(),
                (Some(_), Some(_)) => bail!("scenario {}: body and body_file both given", s.name),
            };
            let mut request = OutboundRequest::post_json(&s.path, body);
            request.method = s
                .method
                .parse()
                .with_context(|| format!("scenario {}: method {}", s.name, s.method))?;
            for (k, v) in &s.headers {
                let name: http::HeaderName = k
                    .parse()
                    .with_context(|| format!("scenario {}: header {k}", s.name))?;
                let value: http::HeaderValue = v
                    .parse()
                    .with_context(|| format!("scenario {}: header {k}", s.name))?;
                request.headers.insert(name, value);
            }
            if s.weight == 0 {
                bail!("scenario {}: weight must be at least 1", s.name);
            }
            if s.clients == Some(0) {
                bail!("scenario {}: clients must be at least 1", s.name);
            }
            Ok(Prepared {
                name: s.name.clone(),
                weight: s.weight,
                clients: s.clients.unwrap_or(0),
                request,
            })
        })
        .collect()
}

/// A shared client's next scenario: drawn by weight among those without clients of their
/// own (`total` is their weights' sum).
fn pick(scenarios: &[Prepared], total: u32) -> usize {
    let mut r = fastrand_u32(total);
    let shared = || scenarios.iter().enumerate().filter(|(_, s)| s.clients == 0);
    for (i, s) in shared() {
        if r < s.weight {
            return i;
        }
        r -= s.weight;
    }
    shared().last().map_or(0, |(i, _)| i)
}

fn fastrand_u32(below: u32) -> u32 {
    // A small xorshift per thread is enough to spread scenarios by weight.
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(
            u64::from(std::process::id()) ^ 0x9E37_79B9_7F4A_7C15
                ^ (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)),
        );
    }
    STATE.with(|s| {
        let mut x = s.get() | 1;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        u32::try_from(x % u64::from(below.max(1))).unwrap_or(0)
    })
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Runs the load test against `target` and returns the report (shared with `cargo xtask
/// bench`, which drives this command).
async fn execute(
    target: &str,
    scenarios: Vec<Prepared>,
    concurrency: usize,
    duration: Duration,
    limit: Option<u64>,
    warmup: Duration,
) -> Result<Report> {
    let transport = Arc::new(HttpTransport::new(
        TransportConfig {
            retry: RetryConfig {
                max_retries: 0,
                ..RetryConfig::default()
            },
            ..TransportConfig::default()
        },
        vec![Upstream::single(Endpoint::new("target", target)?)],
    )?);
    let scenarios = Arc::new(scenarios);
    let total_weight: u32 = scenarios
        .iter()
        .filter(|s| s.clients == 0)
        .map(|s| s.weight)
        .sum();
    // The shared clients draw by weight; a scenario with clients of its own has them.
    let shared = if total_weight > 0 {
        concurrency.max(1)
    } else {
        0
    };
    let own = scenarios
        .iter()
        .enumerate()
        .flat_map(|(i, s)| std::iter::repeat_n(Some(i), s.clients));
    let clients: Vec<Option<usize>> = std::iter::repeat_n(None, shared).chain(own).collect();
    let tallies: Arc<Vec<Mutex<Tally>>> =
        Arc::new(scenarios.iter().map(|_| Mutex::new(Tally::new())).collect());
    let issued = Arc::new(AtomicU64::new(0));
    let warm_until = Instant::now() + warmup;
    let stop_at = warm_until + duration;
    let mut workers = Vec::new();
    for &fixed in &clients {
        let (transport, scenarios, tallies, issued) = (
            Arc::clone(&transport),
            Arc::clone(&scenarios),
            Arc::clone(&tallies),
            Arc::clone(&issued),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let now = Instant::now();
                if limit.is_none() && now >= stop_at {
                    return;
                }
                let measuring = now >= warm_until;
                if measuring {
                    if let Some(max) = limit {
                        if issued.fetch_add(1, Ordering::Relaxed) >= max {
                            return;
                        }
                    }
                }
                let i = fixed.unwrap_or_else(|| pick(&scenarios, total_weight));
                let started = Instant::now();
                let outcome = match transport.send(scenarios[i].request.clone()).await {
                    Ok(r) => {
                        let status = r.status;
                        match r.bytes().await {
                            Ok(_) if status.is_success() => Ok(()),
                            Ok(_) => Err(format!("status {}", status.as_u16())),
                            Err(e) => Err(e.kind().as_str().to_owned()),
                        }
                    }
                    Err(e) => Err(e.kind().as_str().to_owned()),
                };
                if !measuring {
                    continue;
                }
                let us = u64::try_from(started.elapsed().as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                let mut t = tallies[i]
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let _ = t.latency.record(us.min(600_000_000));
                match outcome {
                    Ok(()) => t.ok += 1,
                    Err(kind) => {
                        t.failed += 1;
                        *t.errors.entry(kind).or_insert(0) += 1;
                    }
                }
            }
        }));
    }
    let measure_start = warm_until;
    for w in workers {
        let _ = w.await;
    }
    let seconds = Instant::now()
        .saturating_duration_since(measure_start)
        .as_secs_f64()
        .max(1e-9);
    let mut all = Tally::new();
    let mut reports = Vec::new();
    for (s, t) in scenarios.iter().zip(tallies.iter()) {
        let t = t.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        all.add(&t);
        reports.push(ScenarioReport {
            name: s.name.clone(),
            figures: Figures::of(&t, seconds),
        });
    }
    Ok(Report {
        target: target.to_owned(),
        concurrency: clients.len(),
        seconds,
        figures: Figures::of(&all, seconds),
        scenarios: reports,
    })
}

fn histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)] // reason: fixed bounds within hdrhistogram's range
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds")
}

pub(crate) fn run(args: &LoadtestArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.scenarios)
        .with_context(|| format!("cannot read {}", args.scenarios.display()))?;
    let file: ScenarioFile = toml::from_str(&text)
        .with_context(|| format!("{}: not a scenarios file", args.scenarios.display()))?;
    let base = args
        .scenarios
        .parent()
        .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
    let scenarios = prepare(&file, &base)?;
    let Some(target) = args.target.clone().or(file.target.clone()) else {
        bail!("no target: give --target or `target` in the scenarios file");
    };
    if (args.duration.is_nan() || args.duration <= 0.0) && args.requests.is_none() {
        bail!("--duration must be positive");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let report = runtime.block_on(execute(
        &target,
        scenarios,
        args.concurrency,
        Duration::from_secs_f64(args.duration.max(0.0)),
        args.requests,
        Duration::from_secs_f64(args.warmup.max(0.0)),
    ))?;
    if args.format == "json" {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!(
            "target {}  concurrency {}  {:.1} s  {} requests  {:.1} req/s  success {:.2}%",
            report.target,
            report.concurrency,
            report.seconds,
            report.figures.requests,
            report.figures.requests_per_second,
            report.figures.success_rate * 100.0
        );
        outln!(
            "{:<24} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  errors",
            "scenario",
            "requests",
            "ok %",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms"
        );
        let rows = std::iter::once(("(all)", &report.figures)).chain(
            report
                .scenarios
                .iter()
                .map(|s| (s.name.as_str(), &s.figures)),
        );
        for (name, f) in rows {
            outln!(
                "{:<24} {:>9} {:>9.2} {:>9.1} {:>9.3} {:>9.3} {:>9.3}  {}",
                name,
                f.requests,
                f.success_rate * 100.0,
                f.requests_per_second,
                f.p50_ms,
                f.p95_ms,
                f.p99_ms,
                f.errors
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    Ok(
        if report.figures.success_rate >= 1.0 || report.figures.requests == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}
