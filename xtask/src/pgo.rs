//! `cargo xtask pgo`: a profile-guided build of `deepsentinel`, written to
//! `target/pgo/deepsentinel`.
//!
//! 1. Build the binary instrumented (`-Cprofile-generate`, the `profiling` profile: release
//!    with fat LTO and one codegen unit), in `target/pgo/instrumented`.
//! 2. Train it: `serve` in front of the loopback upstream stub, driven by
//!    `deepsentinel loadtest` with a mix of requests written here ([`training_set`]: every
//!    proxied route, the scan and Presidio endpoints, short and long prompts, clean and full
//!    of values of many types, tools with schemas, a conversation), at 1, 16 and 64
//!    clients. It is not the gateway bench's prompt.
//! 3. Merge the profile with `llvm-profdata` (rustup's `llvm-tools` component, added when
//!    missing: its LLVM must be rustc's own).
//! 4. Build again with `-Cprofile-use`, in `target/pgo/optimized`.
//!
//! Why: at one client the gateway's requests run cache-cold (the load generator and the
//! upstream share the cores in between), and code layout decides much of their cost. The
//! figures are in docs/performance.md.
//!
//! `RUSTFLAGS` is set for both builds (an outer `RUSTFLAGS` is replaced), each in its own
//! target directory so that the usual build's cache stays valid.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::gateway_bench::{build_fixtures, fixture, start_fixture, start_gateway, Workers};
use crate::util::{self, cargo};

/// Where everything goes: `target/pgo`.
fn pgo_dir() -> PathBuf {
    util::root().join("target").join("pgo")
}

/// Builds the profile-guided binary (see the module's documentation) and returns its path.
pub(crate) fn build() -> Result<PathBuf> {
    let profdata = llvm_profdata()?;
    build_fixtures()?;
    let dir = pgo_dir();
    let raw = dir.join("train");
    let _ = std::fs::remove_dir_all(&raw);
    std::fs::create_dir_all(&raw)?;

    // Build scripts are instrumented too; their profiles go elsewhere and are not used.
    let scratch = dir.join("build-scripts");
    let instrumented = build_deepsentinel(
        "instrumented",
        &format!("-Cprofile-generate={}", scratch.display()),
    )?;
    train(&instrumented, &raw)?;

    let profraws: Vec<PathBuf> = std::fs::read_dir(&raw)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "profraw"))
        .collect();
    if profraws.is_empty() {
        bail!(
            "training wrote no profile in {} (did serve exit cleanly?)",
            raw.display()
        );
    }
    let merged = dir.join("deepsentinel.profdata");
    util::run(
        "merge the training profile",
        Command::new(&profdata)
            .arg("merge")
            .arg("-o")
            .arg(&merged)
            .args(&profraws),
    )?;

    let optimized =
        build_deepsentinel("optimized", &format!("-Cprofile-use={}", merged.display()))?;
    let out = dir.join("deepsentinel");
    std::fs::copy(&optimized, &out)
        .with_context(|| format!("cannot copy {} to {}", optimized.display(), out.display()))?;
    eprintln!("\nprofile-guided build: {}", out.display());
    Ok(out)
}

/// `cargo build --profile profiling -p deepsentinel` with `rustflags`, in
/// `target/pgo/{name}`; returns the binary's path.
fn build_deepsentinel(name: &str, rustflags: &str) -> Result<PathBuf> {
    let target_dir = pgo_dir().join(name);
    util::run(
        &format!("build deepsentinel ({name}: RUSTFLAGS={rustflags})"),
        cargo()
            .args([
                "build",
                "--profile",
                "profiling",
                "-p",
                "deepsentinel",
                "--bin",
                "deepsentinel",
            ])
            .arg("--target-dir")
            .arg(&target_dir)
            .env("RUSTFLAGS", rustflags)
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
    )?;
    Ok(target_dir.join("profiling").join("deepsentinel"))
}

/// Runs the instrumented `serve` under the training set; its profile is written to `raw`
/// when it exits.
fn train(instrumented: &Path, raw: &Path) -> Result<()> {
    let work = crate::gateway_bench::fresh_dir("pgo-training")?;
    let scenarios = write_training_set(&work)?;
    let (_stub, upstream) = start_fixture(Command::new(fixture("upstream-stub")).arg("1"))?;
    let mut serve = Command::new(instrumented);
    serve.env("LLVM_PROFILE_FILE", raw.join("serve-%p.profraw"));
    let (mut gateway, port) = start_gateway(
        serve,
        &upstream.to_string(),
        &work.join("deepsentinel.toml"),
        &work.join("audit"),
        Workers::Fixed(1),
        "",
    )?;
    for (clients, seconds) in [(1, "3"), (16, "4"), (64, "2")] {
        eprintln!("\n==> training: {clients} clients, {seconds} s");
        // loadtest exits with 1 when a request failed: the blocked scenario's all do.
        let out = Command::new(fixture("deepsentinel"))
            .args(["loadtest", "--scenarios"])
            .arg(&scenarios)
            .args(["--target", &format!("http://127.0.0.1:{port}")])
            .args(["--concurrency", &clients.to_string()])
            .args(["--duration", seconds, "--format", "json"])
            .output()
            .context("cannot run loadtest")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(&text)
            .with_context(|| format!("loadtest's JSON ({})", out.status))?;
        check_training(&v)?;
    }
    // A profile is written only by a process that exits.
    let status = gateway.interrupt()?;
    if !status.success() {
        bail!("serve exited with {status} when interrupted");
    }
    Ok(())
}

/// Every scenario of a training run succeeded, but `blocked`, whose requests were all
/// refused with 403 (the strict preset blocks card numbers and cloud keys).
fn check_training(report: &Value) -> Result<()> {
    let scenarios = report["scenarios"]
        .as_array()
        .context("loadtest's report has no scenarios")?;
    for s in scenarios {
        let name = s["name"].as_str().unwrap_or_default();
        let rate = s["success_rate"].as_f64().unwrap_or(-1.0);
        let ok = if name == "blocked" {
            let errors = s["errors"].as_object();
            rate == 0.0
                && errors.is_some_and(|e| !e.is_empty() && e.keys().all(|k| k == "status 403"))
        } else {
            rate == 1.0
        };
        if !ok {
            bail!("training scenario {name} did not go as expected: {s}");
        }
    }
    Ok(())
}

/// `llvm-profdata` of rustc's own LLVM (rustup's `llvm-tools`, added when missing).
fn llvm_profdata() -> Result<PathBuf> {
    // The rustc cargo builds with: `RUSTC` when set, else the one on the path, asked from
    // the workspace root so that a toolchain file there applies.
    let rustc = || {
        let mut c = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()));
        c.current_dir(util::root());
        c
    };
    let find = || -> Result<PathBuf> {
        let sysroot = util::output("rustc's sysroot", rustc().args(["--print", "sysroot"]))?;
        let version = util::output("rustc's host", rustc().arg("-vV"))?;
        let host = host_of(&version).context("rustc -vV names no host")?;
        Ok(Path::new(sysroot.trim())
            .join("lib")
            .join("rustlib")
            .join(host)
            .join("bin")
            .join("llvm-profdata"))
    };
    let path = find()?;
    if path.exists() {
        return Ok(path);
    }
    util::run(
        "add rustup's llvm-tools (llvm-profdata)",
        Command::new("rustup")
            .current_dir(util::root())
            .args(["component", "add", "llvm-tools"]),
    )
    .context("llvm-profdata of rustc's LLVM is needed: rustup component add llvm-tools")?;
    let path = find()?;
    if !path.exists() {
        bail!(
            "no llvm-profdata at {} after adding llvm-tools",
            path.display()
        );
    }
    Ok(path)
}

/// The `host:` line of `rustc -vV`.
fn host_of(version: &str) -> Option<&str> {
    version.lines().find_map(|l| l.strip_prefix("host: "))
}

/// Writes the training set's request bodies and its `loadtest` scenarios file into `dir`;
/// returns the scenarios file.
fn write_training_set(dir: &Path) -> Result<PathBuf> {
    let mut toml = String::new();
    for (name, weight, path, body) in training_set() {
        let file = format!("{name}.json");
        std::fs::write(dir.join(&file), body.to_string())?;
        toml.push_str(&format!(
            "[[scenario]]\nname = \"{name}\"\nweight = {weight}\npath = \"{path}\"\nbody_file = \"{file}\"\n\n"
        ));
    }
    let scenarios = dir.join("training.toml");
    std::fs::write(&scenarios, toml)?;
    Ok(scenarios)
}

/// The requests the instrumented build is trained on: (name, weight, path, body).
fn training_set() -> Vec<(&'static str, u32, &'static str, Value)> {
    let values = [
        "Write to maria.gonzalez@example.org",
        "call +44 20 7946 0958",
        "her SSN is 536-22-1234",
        "IBAN DE89 3704 0044 0532 0130 00",
        "from 203.0.113.42",
        "patient MRN 00123456",
        "born 1984-03-12",
    ];
    let prose = "The migration plan moves the billing service to the new cluster in three \
                 steps, with a rollback point after each one and a review on Thursday. ";
    let long_clean = prose.repeat(60);
    let dense: String = (0..40)
        .map(|i| format!("{} (case {i}). {prose}", values[i % values.len()]))
        .collect();
    let schema = json!({
        "type": "object",
        "properties": {
            "customer": {"type": "string", "description": "the customer's e-mail address"},
            "amount": {"type": "number", "minimum": 0},
            "reason": {"type": "string", "enum": ["late", "damaged", "other"]}
        },
        "required": ["customer", "amount"]
    });
    vec![
        (
            "chat-short",
            4,
            "/v1/chat/completions",
            json!({"model": "m", "messages": [{"role": "user", "content": "Summarise the plan in two lines."}]}),
        ),
        (
            "chat-long",
            3,
            "/v1/chat/completions",
            json!({"model": "m", "messages": [
                {"role": "system", "content": "You are a careful assistant."},
                {"role": "user", "content": long_clean}]}),
        ),
        (
            "chat-values",
            3,
            "/v1/chat/completions",
            json!({"model": "m", "messages": [{"role": "user", "content": dense}]}),
        ),
        (
            "chat-conversation",
            2,
            "/v1/chat/completions",
            json!({"model": "m", "user": "u-1842", "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": format!("{} about my refund", values[0])},
                {"role": "assistant", "content": "I can help with the refund."},
                {"role": "user", "content": values[4]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function",
                    "function": {"name": "refund", "arguments": "{\"customer\":\"maria.gonzalez@example.org\",\"amount\":20}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "refund 20 EUR queued"},
                {"role": "user", "content": prose}]}),
        ),
        (
            "chat-tools",
            2,
            "/v1/chat/completions",
            json!({"model": "m", "messages": [{"role": "user", "content": "Refund the order."}],
                "tools": [{"type": "function", "function": {"name": "refund",
                    "description": "Refunds an order", "parameters": schema}}],
                "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}}),
        ),
        (
            "blocked",
            1,
            "/v1/chat/completions",
            json!({"model": "m", "messages": [{"role": "user",
                "content": format!("{prose}card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE")}]}),
        ),
        (
            "completions",
            1,
            "/v1/completions",
            json!({"model": "m", "prompt": format!("{prose}{}", values[1])}),
        ),
        (
            "embeddings",
            2,
            "/v1/embeddings",
            json!({"model": "m", "input": [prose, values[2], values[4], long_clean]}),
        ),
        (
            "responses",
            2,
            "/v1/responses",
            json!({"model": "m", "instructions": "Be brief.", "input": [
                {"role": "user", "content": [{"type": "input_text", "text": dense}]}]}),
        ),
        (
            "messages",
            2,
            "/v1/messages",
            json!({"model": "m", "max_tokens": 64, "system": "Be brief.", "messages": [
                {"role": "user", "content": [{"type": "text", "text": format!("{prose}{}", values[5])}]}]}),
        ),
        ("scan", 1, "/v1/sentinel/scan", json!({"text": dense})),
        (
            "analyze",
            1,
            "/analyze",
            json!({"text": format!("{} and {}", values[0], values[2]), "language": "en"}),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_training_set_covers_every_route_with_json_objects() {
        let set = training_set();
        let paths: std::collections::BTreeSet<&str> = set.iter().map(|s| s.2).collect();
        for route in [
            "/v1/chat/completions",
            "/v1/completions",
            "/v1/embeddings",
            "/v1/responses",
            "/v1/messages",
            "/v1/sentinel/scan",
            "/analyze",
        ] {
            assert!(paths.contains(route), "{route}");
        }
        for (name, weight, _, body) in &set {
            assert!(body.is_object() && *weight > 0, "{name}");
        }
        let names: std::collections::BTreeSet<&str> = set.iter().map(|s| s.0).collect();
        assert_eq!(names.len(), set.len(), "scenario names are unique");
    }

    #[test]
    fn training_runs_pass_only_when_only_the_blocked_scenario_is_refused() {
        let report = |blocked: Value, other: Value| {
            json!({"scenarios": [
                {"name": "chat-short", "success_rate": other, "errors": {}},
                {"name": "blocked", "success_rate": 0.0, "errors": blocked}]})
        };
        assert!(check_training(&report(json!({"status 403": 9}), json!(1.0))).is_ok());
        assert!(check_training(&report(json!({"status 403": 9}), json!(0.99))).is_err());
        assert!(check_training(&report(json!({"status 502": 9}), json!(1.0))).is_err());
        assert!(check_training(&report(json!({}), json!(1.0))).is_err());
        assert!(check_training(&json!({})).is_err());
    }

    #[test]
    fn finds_the_host_in_rustc_version_output() {
        let v = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(host_of(v), Some("x86_64-unknown-linux-gnu"));
        assert_eq!(host_of("rustc 1.95.0\n"), None);
    }
}
