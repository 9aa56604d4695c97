//! `cargo xtask bench --large`: what a caller sending large prompts costs everyone else.
//! Sixteen clients send the clean 4 KB chat request through the gateway (one thread,
//! strict preset, audit log on, the stub upstream) while one more client sends 8 MiB chat
//! requests back to back (a long context with an e-mail address and a phone number in
//! every twentieth sentence; a scenario with `clients = 1` in the same `deepsentinel
//! loadtest`), three ways, in rotating order for several rounds:
//!
//! - `alone`: the small requests only, the reference;
//! - `large, lane`: with the large client, the gateway as shipped (`[server]
//!   large_body_bytes` at its default, 1 MiB: the large requests are worked on off the
//!   serving thread);
//! - `large, no lane`: the same with `large_body_bytes = 0`, every request on the
//!   serving thread.
//!
//! Per way, the medians over the rounds of the small requests' rate and p50/p99/max, and
//! of the large requests' rate and p50/p99.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use crate::gateway_bench::{
    build_fixtures, fixture, fresh_dir, start_fixture, start_gateway, write_scenarios, Workers,
};

/// The large request's body: about 8 MiB of chat text.
fn large_body() -> String {
    let filler =
        "Please summarise the quarterly report and list the three main risks for the board. ";
    let mut text = String::with_capacity(8 << 20);
    let mut i = 0usize;
    while text.len() < 8 << 20 {
        if i % 20 == 1 {
            text.push_str(&format!(
                "Contact person{i}@example.com or +1 415 555 {:04} about account {i}. ",
                1000 + i % 9000
            ));
        } else {
            text.push_str(filler);
        }
        i += 1;
    }
    json!({"model": "m", "messages": [{"role": "user", "content": text}]}).to_string()
}

/// The small requests' scenarios with the large client's added (its body in a file of
/// its own, sent by a client of its own), and the large body's size.
fn write_mixed(work: &Path, small: &Path) -> Result<(PathBuf, usize)> {
    let body = work.join("large.json");
    let text = large_body();
    std::fs::write(&body, &text)?;
    let path = work.join("mixed.toml");
    std::fs::write(
        &path,
        format!(
            "{}[[scenario]]\nname = \"large\"\nclients = 1\npath = \"/v1/chat/completions\"\nbody_file = \"{}\"\n",
            std::fs::read_to_string(small)?,
            body.display()
        ),
    )?;
    Ok((path, text.len()))
}

/// `deepsentinel loadtest` against `port` for `seconds`, after a second's warm-up.
fn loadtest(scenarios: &Path, port: u16, clients: usize, seconds: &str) -> Command {
    let mut cmd = Command::new(fixture("deepsentinel"));
    cmd.args(["loadtest", "--scenarios"])
        .arg(scenarios)
        .args(["--target", &format!("http://127.0.0.1:{port}")])
        .args(["--concurrency", &clients.to_string()])
        .args(["--duration", seconds, "--warmup", "1", "--format", "json"]);
    cmd
}

/// The median of `v` (0 when empty).
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One way's figures over the rounds.
#[derive(Default)]
struct Figures {
    small: [Vec<f64>; 4],
    large: [Vec<f64>; 3],
}

impl Figures {
    fn add(&mut self, small: &Value, large: Option<&Value>) {
        for (k, key) in ["requests_per_second", "p50_ms", "p99_ms", "max_ms"]
            .iter()
            .enumerate()
        {
            self.small[k].push(small[key].as_f64().unwrap_or(0.0));
        }
        if let Some(large) = large {
            for (k, key) in ["requests_per_second", "p50_ms", "p99_ms"]
                .iter()
                .enumerate()
            {
                self.large[k].push(large[key].as_f64().unwrap_or(0.0));
            }
        }
    }

    fn report(self, way: &str) -> Value {
        let [rps, p50, p99, max] = self.small.map(median);
        let large = (!self.large[0].is_empty()).then(|| {
            let [rps, p50, p99] = self.large.map(median);
            json!({"requests_per_second": rps, "p50_ms": p50, "p99_ms": p99})
        });
        json!({
            "way": way,
            "small": {"requests_per_second": rps, "p50_ms": p50, "p99_ms": p99, "max_ms": max},
            "large": large,
        })
    }
}

pub(crate) fn run(quick: bool) -> Result<Value> {
    build_fixtures()?;
    let work = fresh_dir("large-run")?;
    let (_stub, upstream) = start_fixture(Command::new(fixture("upstream-stub")).arg("1"))?;
    let upstream = upstream.to_string();
    let small = write_scenarios(&work, false)?;
    let (mixed, large_bytes) = write_mixed(&work, &small)?;
    let gateway = |name: &str, server: &str| {
        start_gateway(
            Command::new(fixture("deepsentinel")),
            &upstream,
            &work.join(format!("{name}.toml")),
            &work.join(format!("audit-{name}")),
            Workers::Fixed(1),
            server,
        )
    };
    let (_lane, lane_port) = gateway("lane", "max_body_bytes = 33554432\n")?;
    let (_no_lane, no_lane_port) = gateway(
        "no-lane",
        "max_body_bytes = 33554432\nlarge_body_bytes = 0\n",
    )?;
    let ways = [
        ("alone", lane_port, false),
        ("large, lane", lane_port, true),
        ("large, no lane", no_lane_port, true),
    ];
    let (rounds, seconds) = if quick { (1, "4") } else { (3, "6") };
    let mut figures: [Figures; 3] = Default::default();
    for round in 0..rounds {
        for k in 0..ways.len() {
            let w = (k + round) % ways.len();
            let (name, port, with_large) = ways[w];
            let scenarios = if with_large { &mixed } else { &small };
            let out = crate::util::output(
                &format!("{name}: 16 clients of 4 KB for {seconds} s"),
                &mut loadtest(scenarios, port, 16, seconds),
            )?;
            let report: Value =
                serde_json::from_str(&out).context("the load generator's report")?;
            let scenario = |n: &str| {
                report["scenarios"]
                    .as_array()
                    .and_then(|a| a.iter().find(|s| s["name"] == n))
                    .cloned()
            };
            let small_report = scenario("chat").context("no small requests in the report")?;
            figures[w].add(&small_report, scenario("large").as_ref());
        }
    }
    let reports: Vec<Value> = figures
        .into_iter()
        .zip(ways)
        .map(|(f, (name, _, _))| f.report(name))
        .collect();
    println!("\nSixteen clients of 4 KB, with one client of 8 MiB prompts (medians of {rounds})");
    println!(
        "{:<16} {:>10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}",
        "way", "small r/s", "p50 ms", "p99 ms", "max ms", "large r/s", "p50 ms", "p99 ms"
    );
    for r in &reports {
        let f = |v: &Value| v.as_f64().unwrap_or(0.0);
        println!(
            "{:<16} {:>10.0} {:>9.2} {:>9.2} {:>9.1} {:>10.1} {:>10.1} {:>10.1}",
            r["way"].as_str().unwrap_or_default(),
            f(&r["small"]["requests_per_second"]),
            f(&r["small"]["p50_ms"]),
            f(&r["small"]["p99_ms"]),
            f(&r["small"]["max_ms"]),
            f(&r["large"]["requests_per_second"]),
            f(&r["large"]["p50_ms"]),
            f(&r["large"]["p99_ms"]),
        );
    }
    Ok(json!({
        "quick": quick,
        "rounds": rounds,
        "seconds": seconds,
        "small_clients": 16,
        "large_clients": 1,
        "large_body_bytes": large_bytes,
        "ways": reports,
    }))
}
