//! `cargo xtask bench [--quick]`: every benchmark, then one JSON record.
//!
//! Runs the criterion benches (`benches/benches/*.rs`) and the detection report (MB/s on
//! three large generated files beside the baseline, build time, memory, clean-prompt
//! latency, precision/recall/F1 per entity type), all built with the `profiling` profile
//! (release plus line tables, fat LTO, one codegen unit). Writes
//! `target/bench/detect-<unix time>.json` and `target/bench/detect-latest.json` with the
//! host, the revision and the time, and prints a summary. `--quick` shortens every
//! measurement (under five minutes in all on a 2-core machine). Then the gateway against
//! nginx (`gateway_bench`). `--gateway` runs only that; `--instructions` runs only the
//! instruction count per request under callgrind (`instructions`), the figure that shows
//! changes too small for this machine's timings. `--workers N|auto` sets the threads
//! DeepSentinel and the floor serve with in the gateway bench (default 1, as nginx's one
//! worker process there). `--restarts` runs only the cost of replacing a running gateway
//! under load (`restart_bench`); `--large` only what a client of large prompts costs the
//! small requests beside it, with the large requests' lane and without (`large_bench`).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::gateway_bench::Workers;
use crate::util::{self, cargo, output, root};

fn host() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    json!({
        "hostname": read("/proc/sys/kernel/hostname").trim(),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": cpu,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
    })
}

/// Criterion's median estimate (ns) for every benchmark under `target/criterion`.
fn criterion_medians() -> Value {
    let mut out = serde_json::Map::new();
    let base = root().join("target/criterion");
    let mut stack = vec![base.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") {
                    let est = p.join("estimates.json");
                    if let Ok(text) = std::fs::read_to_string(&est) {
                        if let Ok(v) = serde_json::from_str::<Value>(&text) {
                            let id = dir
                                .strip_prefix(&base)
                                .map(|d| d.display().to_string())
                                .unwrap_or_default();
                            out.insert(id, v["median"]["point_estimate"].clone());
                        }
                    }
                } else if p.file_name().is_none_or(|n| n != "report") {
                    stack.push(p);
                }
            }
        }
    }
    Value::Object(out)
}

fn summary(report: &Value, criterion: &Value) {
    println!("\nDetection (one thread; see docs/performance.md for the machine)");
    println!(
        "{:<22} {:>14} {:>14} {:>8}",
        "input", "deepsentinel", "baseline", "ratio"
    );
    for t in report["throughput"].as_array().into_iter().flatten() {
        println!(
            "{:<22} {:>9.0} MB/s {:>9.1} MB/s {:>7.1}x",
            t["input"].as_str().unwrap_or(""),
            t["deepsentinel_mb_s"].as_f64().unwrap_or(0.0),
            t["baseline_mb_s"].as_f64().unwrap_or(0.0),
            t["ratio"].as_f64().unwrap_or(0.0)
        );
    }
    for p in report["prompts"].as_array().into_iter().flatten() {
        println!(
            "{:<22} {:>11.2} us {:>11.1} us  ({} findings)",
            p["input"].as_str().unwrap_or(""),
            p["deepsentinel_us"].as_f64().unwrap_or(0.0),
            p["baseline_us"].as_f64().unwrap_or(0.0),
            p["findings"]
        );
    }
    println!(
        "default set: {} recognizers in {} groups, built in {:.0} ms (median), {:.1} MB",
        report["recognizers"],
        report["groups"],
        report["build_ms_median"].as_f64().unwrap_or(0.0),
        report["memory_bytes"].as_f64().unwrap_or(0.0) / 1e6
    );
    println!(
        "\nAccuracy on {} generated documents ({} labelled values):",
        report["corpus"]["documents"], report["corpus"]["labels"]
    );
    println!(
        "{:<18} {:>6} {:>6} {:>6} {:>9} {:>7} {:>6}",
        "entity", "tp", "fp", "fn", "precision", "recall", "F1"
    );
    if let Some(m) = report["corpus"]["by_entity"].as_object() {
        for (e, c) in m {
            println!(
                "{e:<18} {:>6} {:>6} {:>6} {:>9.3} {:>7.3} {:>6.3}",
                c["tp"],
                c["fp"],
                c["fn"],
                c["precision"].as_f64().unwrap_or(0.0),
                c["recall"].as_f64().unwrap_or(0.0),
                c["f1"].as_f64().unwrap_or(0.0)
            );
        }
    }
    if let Some(m) = criterion.as_object() {
        println!("\nCriterion medians:");
        for (id, ns) in m {
            println!("{id:<58} {:>12.0} ns", ns.as_f64().unwrap_or(0.0));
        }
    }
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut gateway_only = false;
    let mut instructions_only = false;
    let mut restarts_only = false;
    let mut large_only = false;
    let mut pgo = false;
    // nginx in the gateway bench runs one worker process; the proxies under test match it.
    let mut workers = Workers::Fixed(1);
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--gateway" => gateway_only = true,
            "--instructions" => instructions_only = true,
            "--restarts" => restarts_only = true,
            "--large" => large_only = true,
            "--pgo" => pgo = true,
            "--workers" => {
                let value = rest
                    .next()
                    .context("--workers needs a value: a count, or auto")?;
                workers = Workers::parse(value)?;
            }
            bad => anyhow::bail!(
                "unknown option {bad} (cargo xtask bench [--quick] [--pgo] [--gateway [--workers N|auto] | --instructions | --restarts | --large])"
            ),
        }
    }
    if instructions_only {
        return instructions();
    }
    if restarts_only {
        return keep("restarts", crate::restart_bench::run(quick)?);
    }
    if large_only {
        return keep("large", crate::large_bench::run(quick)?);
    }
    if gateway_only {
        return gateway(quick, workers, pgo);
    }
    let timing: &[&str] = if quick {
        &[
            "--warm-up-time",
            "0.5",
            "--measurement-time",
            "1.5",
            "--sample-size",
            "20",
        ]
    } else {
        &["--warm-up-time", "2", "--measurement-time", "5"]
    };
    for name in [
        "detect",
        "policy",
        "audit",
        "cache",
        "metrics",
        "transport",
        "pipeline",
    ] {
        let mut bench = cargo();
        bench
            .args(["bench", "-p", "benches", "--bench", name, "--"])
            .args(timing);
        util::run(&format!("criterion: {name}"), &mut bench)?;
    }

    let mut report_cmd = cargo();
    report_cmd.args([
        "run",
        "--quiet",
        "--profile",
        "profiling",
        "-p",
        "benches",
        "--bin",
        "detect-report",
        "--",
    ]);
    if quick {
        report_cmd.arg("--quick");
    }
    let report: Value = serde_json::from_str(&output("detection report", &mut report_cmd)?)
        .context("the report is not JSON")?;
    let criterion = criterion_medians();

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let record = json!({
        "timestamp": now,
        "revision": revision(),
        "host": host(),
        "profile": "profiling",
        "quick": quick,
        "detect": report,
        "criterion_median_ns": criterion,
    });
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let text = serde_json::to_string_pretty(&record)?;
    std::fs::write(dir.join(format!("detect-{now}.json")), &text)?;
    std::fs::write(dir.join("detect-latest.json"), &text)?;
    summary(&report, &criterion);
    println!("\nwritten: target/bench/detect-{now}.json");
    gateway(quick, workers, pgo)?;
    keep("restarts", crate::restart_bench::run(quick)?)?;
    keep("large", crate::large_bench::run(quick)?)
}

/// The commit measured.
fn revision() -> String {
    util::revision().unwrap_or_else(|| "unknown".to_owned())
}

/// The gateway against nginx and the bare upstream (see `gateway_bench`): the usual
/// `profiling` build, or with `pgo` the profile-guided one (`cargo xtask pgo`).
fn gateway(quick: bool, workers: Workers, pgo: bool) -> Result<()> {
    let build = if pgo {
        crate::gateway_bench::Build::ProfileGuided(crate::pgo::build()?)
    } else {
        crate::gateway_bench::Build::Profiling
    };
    keep(
        "gateway",
        crate::gateway_bench::run(quick, workers, &build)?,
    )
}

/// Instructions per request in the gateway, the floor and nginx (see `instructions`).
fn instructions() -> Result<()> {
    keep("instructions", crate::instructions::run()?)
}

/// Writes `report` under `kind` with the time, the revision and the host.
fn keep(kind: &str, report: Value) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut record = json!({"timestamp": now, "revision": revision(), "host": host()});
    record[kind] = report;
    let text = serde_json::to_string_pretty(&record)?;
    let path = crate::gateway_bench::write(kind, &text, now)?;
    println!("written: {}", path.display());
    Ok(())
}
