//! `cargo xtask bench --restarts`: what replacing a running gateway costs its callers, for
//! the three ways there are, each under `deepsentinel loadtest` (8 clients, the clean
//! 4 KB chat request through the stub upstream) with one slow request in flight (the
//! stub answers the model `slow` after 3 s), as an LLM stream would be:
//!
//! - `restart`: SIGTERM, then a new process binds the port again (no socket kept);
//! - `restart, socket kept`: the same, with the listening socket held here and passed to
//!   each process as systemd's socket activation passes it (`LISTEN_FDS`);
//! - `hand-over`: SIGUSR2, the running gateway hands over to a new process itself.
//!
//! Per way: requests, failures by kind, p50/p99/max latency, how long from the signal
//! until the old process was gone, the slow request's status, and whether the audit
//! chain verifies across both processes. The longest wait (`max_ms`) is the figure: a
//! drain that holds new connections back shows there as the slow request's remaining
//! time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::gateway_bench::{build_fixtures, fixture, fresh_dir, start_fixture, write_scenarios};

/// The ways to replace a gateway.
#[derive(Clone, Copy, Debug)]
enum Way {
    Restart,
    RestartKeepingSocket,
    HandOver,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Restart => "restart",
            Way::RestartKeepingSocket => "restart, socket kept",
            Way::HandOver => "hand-over (SIGUSR2)",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Way::Restart => "restart",
            Way::RestartKeepingSocket => "socket-kept",
            Way::HandOver => "hand-over",
        }
    }
}

/// One HTTP/1.1 exchange on a new connection: the status, if an answer came.
fn exchange(port: u16, request: &str, timeout: Duration) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split(' ').nth(1)?.parse().ok()
}

/// Waits (20 s at most) until `/healthz` answers 200 on a new connection.
fn wait_healthy(port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let get = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    while exchange(port, get, Duration::from_secs(5)) != Some(200) {
        if Instant::now() > deadline {
            bail!("the gateway on {port} did not answer /healthz");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Sends `signal` to `pid`.
fn signal(pid: u32, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()?;
    if !status.success() {
        bail!("kill {signal} {pid} failed");
    }
    Ok(())
}

/// Whether `pid` is gone (or a zombie nobody reaped).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// The process holding the audit log in `audit` (its lock file says `pid N`).
fn holder(audit: &Path) -> Result<u32> {
    let text = std::fs::read_to_string(audit.join("audit.lock"))?;
    text.trim()
        .strip_prefix("pid ")
        .and_then(|p| p.parse().ok())
        .context("the audit lock names no process")
}

/// A gateway process: ours (a child) or the one a hand-over started.
enum Running {
    Child(crate::gateway_bench::Guard),
    Adopted(u32),
}

impl Running {
    fn stop(self) -> Result<()> {
        match self {
            Running::Child(mut g) => {
                g.interrupt()?;
            }
            Running::Adopted(pid) => {
                signal(pid, "-INT")?;
                let deadline = Instant::now() + Duration::from_secs(20);
                while !gone(pid) {
                    if Instant::now() > deadline {
                        let _ = signal(pid, "-KILL");
                        bail!("the gateway {pid} did not stop");
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        Ok(())
    }
}

/// Starts `deepsentinel serve --config config`, on `socket` when given (as descriptor 3,
/// `LISTEN_FDS=1`).
fn start(config: &Path, socket: Option<&std::net::TcpListener>) -> Result<Running> {
    let mut cmd = Command::new(fixture("deepsentinel"));
    cmd.args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(s) = socket {
        use command_fds::{CommandFdExt, FdMapping};
        cmd.env("LISTEN_FDS", "1").fd_mappings(vec![FdMapping {
            parent_fd: s.try_clone()?.into(),
            child_fd: 3,
        }])?;
    }
    Ok(Running::Child(crate::gateway_bench::Guard(
        cmd.spawn().context("cannot start the gateway")?,
    )))
}

fn measure(way: Way, work: &Path, upstream: &str, scenarios: &Path, seconds: f64) -> Result<Value> {
    let dir = work.join(way.dir());
    std::fs::create_dir_all(&dir)?;
    let audit = dir.join("audit");
    let socket = match way {
        Way::RestartKeepingSocket => Some(std::net::TcpListener::bind("127.0.0.1:0")?),
        _ => None,
    };
    let port = match &socket {
        Some(s) => s.local_addr()?.port(),
        None => std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port(),
    };
    let config = dir.join("deepsentinel.toml");
    std::fs::write(
        &config,
        format!(
            "[network]\nupstream = \"http://{upstream}/v1\"\napi_key_env = \"DEEPSENTINEL_BENCH_NO_KEY\"\n\
             [server]\nlisten = \"127.0.0.1:{port}\"\nworkers = 1\n[audit]\ndir = \"{}\"\n",
            audit.display()
        ),
    )?;
    let mut gateway = start(&config, socket.as_ref())?;
    wait_healthy(port)?;

    eprintln!(
        "\n==> {}: load for {seconds} s, replaced after 1.5 s",
        way.name()
    );
    let load = Command::new(fixture("deepsentinel"))
        .args(["loadtest", "--scenarios"])
        .arg(scenarios)
        .args(["--target", &format!("http://127.0.0.1:{port}")])
        .args(["--concurrency", "8", "--duration", &seconds.to_string()])
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the load generator")?;
    std::thread::sleep(Duration::from_millis(1000));
    let body = r#"{"model":"slow","messages":[{"role":"user","content":"take your time"}]}"#;
    let slow_request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let slow = std::thread::spawn(move || exchange(port, &slow_request, Duration::from_secs(30)));
    std::thread::sleep(Duration::from_millis(500));

    let signalled = Instant::now();
    let Running::Child(mut old) = gateway else {
        bail!("the first gateway is ours")
    };
    let old_pid = old.0.id();
    let mut old_gone_ms = 0.0;
    let mut gone = |status: std::process::ExitStatus| -> Result<()> {
        old_gone_ms = signalled.elapsed().as_secs_f64() * 1000.0;
        if !status.success() {
            bail!("the old gateway exited with {status}");
        }
        Ok(())
    };
    gateway = match way {
        Way::Restart | Way::RestartKeepingSocket => {
            signal(old_pid, "-TERM")?;
            gone(old.0.wait()?)?;
            let next = start(&config, socket.as_ref())?;
            wait_healthy(port)?;
            next
        }
        Way::HandOver => {
            signal(old_pid, "-USR2")?;
            gone(old.0.wait()?)?;
            let pid = holder(&audit)?;
            if pid == old_pid {
                bail!("the audit log was not handed over");
            }
            Running::Adopted(pid)
        }
    };
    // Until the replacement serves (for a hand-over, the old one stops after that).
    let serving_ms = signalled.elapsed().as_secs_f64() * 1000.0;
    let out = load.wait_with_output()?;
    let slow_status = slow.join().ok().flatten();
    gateway.stop()?;
    let verified = Command::new(fixture("deepsentinel"))
        .args(["audit", "verify"])
        .arg(&audit)
        .stdout(Stdio::null())
        .status()?
        .success();
    let report: Value =
        serde_json::from_slice(&out.stdout).context("the load generator's report")?;
    Ok(json!({
        "way": way.name(),
        "requests": report["requests"],
        "success_rate": report["success_rate"],
        "errors": report["errors"],
        "p50_ms": report["p50_ms"],
        "p99_ms": report["p99_ms"],
        "max_ms": report["scenarios"][0]["max_ms"],
        "old_gone_after_ms": old_gone_ms,
        "replaced_after_ms": serving_ms,
        "slow_request_status": slow_status,
        "audit_chain_intact": verified,
    }))
}

pub(crate) fn run(quick: bool) -> Result<Value> {
    build_fixtures()?;
    let work = fresh_dir("restart-run")?;
    let (_stub, upstream) = start_fixture(Command::new(fixture("upstream-stub")).arg("1"))?;
    let scenarios = write_scenarios(&work, false)?;
    let seconds = if quick { 5.0 } else { 7.0 };
    let mut ways = Vec::new();
    for way in [Way::Restart, Way::RestartKeepingSocket, Way::HandOver] {
        ways.push(measure(
            way,
            &work,
            &upstream.to_string(),
            &scenarios,
            seconds,
        )?);
    }
    println!("\nReplacing a gateway under load (8 clients; a 3 s request in flight)");
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>10} {:>8} {:>6}",
        "way", "requests", "failed", "p99 ms", "max ms", "old gone", "slow", "chain"
    );
    for w in &ways {
        let requests = w["requests"].as_u64().unwrap_or(0);
        let ok = w["success_rate"].as_f64().unwrap_or(0.0);
        let failed = (requests as f64 * (1.0 - ok)).round();
        println!(
            "{:<22} {:>9} {:>9} {:>9.1} {:>9.1} {:>8.0}ms {:>8} {:>6}",
            w["way"].as_str().unwrap_or_default(),
            requests,
            failed,
            w["p99_ms"].as_f64().unwrap_or(0.0),
            w["max_ms"].as_f64().unwrap_or(0.0),
            w["old_gone_after_ms"].as_f64().unwrap_or(0.0),
            w["slow_request_status"],
            if w["audit_chain_intact"] == true {
                "ok"
            } else {
                "BROKEN"
            },
        );
    }
    Ok(json!({"quick": quick, "clients": 8, "seconds": seconds, "ways": ways}))
}
