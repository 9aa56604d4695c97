//! `cargo xtask bench --instructions`: the user-space instructions one request costs in
//! the gateway, in the floor (`proxy-floor`: hyper's server and the transport, no
//! pipeline) and in nginx as the gateway bench runs it (one process here), counted by
//! valgrind's callgrind.
//!
//! Timings on this machine move by tens of percent from run to run; an instruction count
//! moves by a few percent, so it is what shows a change of a few microseconds. Each
//! target runs twice under callgrind, serving 200 and then 1,200 requests (the
//! `deepsentinel loadtest` client, 4 at a time); the difference over 1,000 is the cost of a
//! request with start-up, warm-up and shutdown taken out. The count covers every thread
//! (the audit writer too) but not the kernel. nginx's count is what the floor is measured
//! against: the same requests through a proxy written for the job. All run on one thread (`[server] workers =
//! 1`, and the floor likewise): with two runtime workers, how often idle workers wake and
//! look for work depends on timing and moved the count by 5%. Valgrind emulates a CPU without SHA
//! extensions or AVX-512, so SHA-256 (audit chain, fingerprints) counts as software
//! rounds and BLAKE3 as AVX2: those parts weigh more here than on the machine. Each
//! run's profile stays in `target/bench/instructions-run/` (`gateway-clean-1200.callgrind`
//! and so on) for `callgrind_annotate`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::gateway_bench::{
    build_fixtures, fixture, fresh_dir, start_fixture, start_gateway, start_nginx, write_scenarios,
    Workers,
};
use crate::util;

/// Requests in the short and the long run; their difference is what is reported.
const SHORT: u64 = 200;
const LONG: u64 = 1_200;

/// The `Collected : N` total callgrind prints when the program ends.
fn collected(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
}

/// Drives `requests` requests of `scenarios` at `target`.
fn drive(scenarios: &Path, target: &str, requests: u64) -> Result<()> {
    let out = util::output(
        &format!("loadtest {requests} requests against {target}"),
        Command::new(fixture("deepsentinel"))
            .args(["loadtest", "--scenarios"])
            .arg(scenarios)
            .args(["--target", target, "--concurrency", "4"])
            .args(["--requests", &requests.to_string(), "--warmup", "0"])
            .args(["--format", "json"]),
    )?;
    let v: Value = serde_json::from_str(&out)?;
    if v["success_rate"].as_f64() != Some(1.0) {
        bail!("failed requests against {target}: {out}");
    }
    Ok(())
}

/// A run's name (`gateway-clean-1200`): its log and its callgrind profile (kept, for
/// `callgrind_annotate --inclusive=yes`) are named after it.
fn run_name(target: &str, scenarios: &Path, requests: u64) -> String {
    let prompt = scenarios
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("prompt");
    format!("{target}-{prompt}-{requests}")
}

/// Where the runs' profiles, logs and configurations go.
fn work_dir() -> PathBuf {
    util::root()
        .join("target")
        .join("bench")
        .join("instructions-run")
}

/// `valgrind --tool=callgrind` for the run named `run`: its profile and log are kept
/// under [`work_dir`] by that name. The program and its arguments follow.
fn callgrind(run: &str) -> Command {
    let work = work_dir();
    let mut c = Command::new("valgrind");
    c.arg("--tool=callgrind")
        .arg(format!(
            "--callgrind-out-file={}",
            work.join(format!("{run}.callgrind")).display()
        ))
        .arg(format!(
            "--log-file={}",
            work.join(format!("{run}.log")).display()
        ));
    c
}

/// The instruction total of a finished run (valgrind writes its log before it exits).
fn total(run: &str) -> Result<u64> {
    let log = work_dir().join(format!("{run}.log"));
    let text = std::fs::read_to_string(&log)?;
    collected(&text).with_context(|| format!("no instruction total in {}", log.display()))
}

/// Instructions of one run of the gateway serving `requests` requests.
fn gateway_run(upstream: &str, scenarios: &Path, requests: u64) -> Result<u64> {
    let work = work_dir();
    let audit = work.join(format!("audit-{requests}"));
    let _ = std::fs::remove_dir_all(&audit);
    let run = run_name("gateway", scenarios, requests);
    let mut under_callgrind = callgrind(&run);
    under_callgrind.arg(fixture("deepsentinel"));
    let (mut guard, port) = start_gateway(
        under_callgrind,
        upstream,
        &work.join(format!("deepsentinel-{requests}.toml")),
        &audit,
        Workers::Fixed(1),
        "",
    )?;
    let served = drive(scenarios, &format!("http://127.0.0.1:{port}"), requests);
    guard.interrupt()?;
    served?;
    total(&run)
}

/// Instructions of one run of the floor serving `requests` requests.
fn floor_run(upstream: &str, scenarios: &Path, requests: u64) -> Result<u64> {
    let run = run_name("floor", scenarios, requests);
    let (mut guard, addr) = start_fixture(
        callgrind(&run)
            .arg(fixture("proxy-floor"))
            .arg(format!("http://{upstream}"))
            .arg(Workers::Fixed(1).arg()),
    )?;
    let served = drive(scenarios, &format!("http://{addr}"), requests);
    guard.interrupt()?;
    served?;
    total(&run)
}

/// Instructions of one run of nginx (one process, no master) serving `requests` requests.
fn nginx_run(upstream: &str, scenarios: &Path, requests: u64) -> Result<u64> {
    let run = run_name("nginx", scenarios, requests);
    let mut under_callgrind = callgrind(&run);
    under_callgrind.arg("nginx");
    let (mut guard, port) = start_nginx(
        under_callgrind,
        &work_dir().join(format!("nginx-{requests}")),
        upstream,
        "1",
        false,
    )?;
    let served = drive(scenarios, &format!("http://127.0.0.1:{port}"), requests);
    guard.interrupt()?;
    served?;
    total(&run)
}

pub(crate) fn run() -> Result<Value> {
    crate::ci::ensure(&[("valgrind", "valgrind"), ("nginx", "nginx")])?;
    build_fixtures()?;
    let work = fresh_dir("instructions-run")?;
    let (_stub, upstream) = start_fixture(Command::new(fixture("upstream-stub")).arg("1"))?;
    let upstream = upstream.to_string();
    let mut results = Vec::new();
    for pii in [false, true] {
        let name = if pii { "pii" } else { "clean" };
        let scenarios = write_scenarios(&work, pii)?;
        let per_request = |short: u64, long: u64| long.saturating_sub(short) / (LONG - SHORT);
        let gateway = per_request(
            gateway_run(&upstream, &scenarios, SHORT)?,
            gateway_run(&upstream, &scenarios, LONG)?,
        );
        let floor = per_request(
            floor_run(&upstream, &scenarios, SHORT)?,
            floor_run(&upstream, &scenarios, LONG)?,
        );
        let nginx = per_request(
            nginx_run(&upstream, &scenarios, SHORT)?,
            nginx_run(&upstream, &scenarios, LONG)?,
        );
        eprintln!(
            "{name:<6} instructions per request: deepsentinel {gateway}, floor {floor}, pipeline {}, nginx {nginx}",
            gateway.saturating_sub(floor)
        );
        results.push(json!({
            "prompt": name,
            "instructions_per_request": {"deepsentinel": gateway, "floor": floor, "nginx": nginx},
        }));
    }
    Ok(json!({
        "method": "callgrind, user space, all threads; (1200-request run - 200-request run) / 1000",
        "results": results,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_callgrinds_total() {
        let log = "==12== Events    : Ir\n==12== Collected : 123456789\n==12==\n==12== I   refs:      123,456,789\n";
        assert_eq!(collected(log), Some(123_456_789));
        assert_eq!(collected("no total"), None);
    }
}
