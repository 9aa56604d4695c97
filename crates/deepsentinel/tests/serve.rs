//! `deepsentinel serve` as a process: it starts, answers, and stops on SIGTERM after
//! draining; `deepsentinel key hash`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::run;

/// A raw HTTP/1.1 GET; the status code and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    exchange(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
}

/// A raw HTTP/1.1 POST of JSON; the status code and body.
fn post(port: u16, path: &str, body: &str) -> Option<(u16, String)> {
    exchange(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// Sends one request on a new connection; the status code and body of the answer.
fn exchange(port: u16, request: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    Some((
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned(),
    ))
}

/// Starts `deepsentinel serve` on a free port in a temporary directory, with an upstream
/// nobody listens on; waits for `/healthz`.
fn start_serve() -> (std::process::Child, u16, tempfile::TempDir) {
    start_serve_with(None)
}

/// [`start_serve`], with a configuration file holding `config` when given.
#[allow(clippy::zombie_processes)] // reason: the child is returned; every caller waits on it
fn start_serve_with(config: Option<&str>) -> (std::process::Child, u16, tempfile::TempDir) {
    start_serve_logging(config, "warn", &[])
}

/// [`start_serve_with`], logging at `level` (`RUST_LOG`), with more arguments.
fn start_serve_logging(
    config: Option<&str>,
    level: &str,
    args: &[&str],
) -> (std::process::Child, u16, tempfile::TempDir) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("tmp");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deepsentinel"));
    cmd.arg("serve");
    if let Some(c) = config {
        let path = dir.path().join("deepsentinel.toml");
        std::fs::write(&path, c).expect("write config");
        cmd.arg("--config").arg(path);
    }
    let mut child = cmd
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--upstream", "http://127.0.0.1:9/v1"])
        .args(args)
        .current_dir(dir.path())
        .env("RUST_LOG", level)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    wait_ready(&mut child, port);
    (child, port, dir)
}

/// Waits (20 s at most) until `/healthz` on `port` answers 200; kills `child` and fails
/// the test if it does not.
fn wait_ready(child: &mut std::process::Child, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some((200, _)) = get(port, "/healthz") {
            return;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the gateway did not come up");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn loadtest_reports_rates_percentiles_and_errors() {
    let (mut child, port, dir) = start_serve();
    let scenarios = dir.path().join("scenarios.toml");
    std::fs::write(
        &scenarios,
        format!(
            r#"target = "http://127.0.0.1:{port}"
[[scenario]]
name = "health"
method = "GET"
path = "/healthz"
[[scenario]]
name = "scan"
weight = 3
path = "/v1/sentinel/scan"
body = '{{"text": "mail jane@example.com"}}'
[[scenario]]
name = "missing"
method = "GET"
path = "/nope"
"#
        ),
    )
    .expect("write");
    let (code, out) = run(&[
        "loadtest",
        "--scenarios",
        &scenarios.display().to_string(),
        "--concurrency",
        "4",
        "--requests",
        "250",
        "--format",
        "json",
    ]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, Some(1), "some requests failed (404): {out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json report");
    assert_eq!(v["requests"], 250);
    let by_name = |n: &str| {
        v["scenarios"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == n))
            .cloned()
            .unwrap_or_default()
    };
    let (health, scan, missing) = (by_name("health"), by_name("scan"), by_name("missing"));
    assert_eq!(health["success_rate"], 1.0);
    assert_eq!(scan["success_rate"], 1.0);
    assert_eq!(missing["success_rate"], 0.0);
    assert_eq!(missing["errors"]["status 404"], missing["requests"]);
    // The run's own figures carry the error breakdown of every scenario together.
    assert_eq!(v["errors"]["status 404"], missing["requests"]);
    // Weighted 1:3:1.
    let n = |s: &serde_json::Value| s["requests"].as_u64().unwrap_or(0);
    assert!(n(&scan) > n(&health) && n(&scan) > n(&missing), "{out}");
    assert!(v["p50_ms"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(v["requests_per_second"].as_f64().unwrap_or(0.0) > 0.0);
}

/// A scenario with `clients` of its own is sent only by them, beside the shared clients,
/// which draw the others by weight; `clients = 0` is refused.
#[test]
fn loadtest_gives_a_scenario_clients_of_its_own() {
    let (mut child, port, dir) = start_serve();
    let scenarios = dir.path().join("scenarios.toml");
    let write = |bulk_clients: usize| {
        std::fs::write(
            &scenarios,
            format!(
                r#"target = "http://127.0.0.1:{port}"
[[scenario]]
name = "health"
method = "GET"
path = "/healthz"
[[scenario]]
name = "bulk"
weight = 1000
clients = {bulk_clients}
path = "/v1/sentinel/scan"
body = '{{"text": "mail jane@example.com"}}'
"#
            ),
        )
        .expect("write");
    };
    let args = [
        "loadtest",
        "--scenarios",
        &scenarios.display().to_string(),
        "--concurrency",
        "2",
        "--duration",
        "1",
        "--format",
        "json",
    ];
    write(1);
    let (code, out) = run(&args);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json report");
    assert_eq!(v["concurrency"], 3, "{out}");
    let n = |name: &str| {
        v["scenarios"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name))
            .map_or(0, |s| s["requests"].as_u64().unwrap_or(0))
    };
    // Weight 1000 would have taken nearly every shared draw: the bulk scenario's
    // requests are its one client's only, and the two shared clients sent health checks.
    assert!(n("bulk") > 0 && n("health") > n("bulk"), "{out}");
    write(0);
    let (code, out) = run(&args);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("scenario bulk: clients must be at least 1"),
        "{out}"
    );
}

/// Sends SIGTERM and waits (20 s at most) for a clean exit.
fn stop(child: &mut std::process::Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "exit status {status}");
            return;
        }
        assert!(Instant::now() < deadline, "the gateway did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// All a stopped child wrote to its piped stderr.
fn stderr_of(child: &mut std::process::Child) -> String {
    let mut out = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut out);
    }
    out
}

/// How many of `pid`'s threads are tokio's runtime workers (Linux: `/proc`).
fn runtime_workers(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.trim() == "tokio-rt-worker")
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn workers_sets_the_runtime_threads() {
    let (mut child, _port, _dir) = start_serve_with(Some("[server]\nworkers = 3\n"));
    if cfg!(target_os = "linux") {
        assert_eq!(runtime_workers(child.id()), 3);
    }
    stop(&mut child);
}

#[test]
fn one_worker_serves_concurrent_requests_and_stops() {
    let (mut child, port, _dir) = start_serve_with(Some("[server]\nworkers = 1\n"));
    if cfg!(target_os = "linux") {
        // The whole gateway runs on the main thread: no runtime worker threads.
        assert_eq!(runtime_workers(child.id()), 0);
    }
    // Eight callers at once on the one thread: each gets its own scan's answer.
    let callers: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let body = format!(r#"{{"text": "mail user{i}@example.com"}}"#);
                post(port, "/v1/sentinel/scan", &body).expect("answer")
            })
        })
        .collect();
    for c in callers {
        let (status, out) = c.join().expect("caller");
        assert_eq!(status, 200, "{out}");
        assert!(out.contains("EMAIL_ADDRESS"), "{out}");
    }
    stop(&mut child);
}

#[test]
fn zero_workers_is_a_configuration_error() {
    for key in ["workers", "large_workers"] {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("deepsentinel.toml");
        std::fs::write(&path, format!("[server]\n{key} = 0\n")).expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
            .args(["serve", "--config"])
            .arg(&path)
            .current_dir(dir.path())
            .output()
            .expect("runs");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("[server] {key} must be at least 1")),
            "{stderr}"
        );
    }
}

#[test]
fn serve_starts_answers_and_stops_on_sigterm() {
    let (mut child, port, dir) = start_serve();
    let (status, body) = get(port, "/v1/sentinel/stats").expect("stats");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"upstreams\""));
    let (status, body) = get(port, "/metrics").expect("metrics");
    assert_eq!(status, 200, "{body}");
    // The embedded default writes the audit log in ./deepsentinel-audit.
    assert!(dir.path().join("deepsentinel-audit").is_dir());

    stop(&mut child);
    let stderr = stderr_of(&mut child);
    assert!(
        stderr.contains("loopback"),
        "it says it serves loopback callers only: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes where stderr is no terminal: {stderr:?}"
    );
}

/// A request past `[server] large_body_bytes` is worked on in the large requests' lane,
/// on one serving thread (a current-thread runtime) as on several, and counted in the
/// metrics and on the stats page.
#[test]
fn large_requests_take_their_lane_on_one_thread_and_on_many() {
    for (workers, turns) in [("workers = 1", 3), ("workers = 2", 1)] {
        let config =
            format!("[server]\nlarge_body_bytes = 4096\nlarge_workers = {turns}\n{workers}\n");
        let (mut child, port, _dir) = start_serve_with(Some(&config));
        let big = format!(
            r#"{{"text": "write to jane.doe@example.com {}"}}"#,
            "and so on ".repeat(800)
        );
        let (status, answer) = post(port, "/v1/sentinel/scan", &big).expect("answer");
        assert_eq!(status, 200, "{workers}: {answer}");
        assert!(answer.contains("EMAIL_ADDRESS"), "{workers}: {answer}");
        let (status, answer) =
            post(port, "/v1/sentinel/scan", r#"{"text": "small"}"#).expect("answer");
        assert_eq!(status, 200, "{workers}: {answer}");
        let (_, stats) = get(port, "/v1/sentinel/stats").expect("stats");
        let stats: serde_json::Value = serde_json::from_str(&stats).expect("json");
        assert_eq!(stats["large_requests"]["total"], 1, "{workers}: {stats}");
        assert_eq!(
            stats["large_requests"]["turns"], turns,
            "{workers}: {stats}"
        );
        let (_, text) = get(port, "/metrics").expect("metrics");
        stop(&mut child);
        assert!(
            text.lines()
                .any(|l| l == "deepsentinel_large_requests_total 1"),
            "{workers}: {text}"
        );
        for state in ["in_lane", "running", "waiting"] {
            let line = format!("deepsentinel_large_requests{{state=\"{state}\"}} 0");
            assert!(
                text.lines().any(|l| l == line),
                "{workers}: {line} in {text}"
            );
        }
    }
}

#[test]
fn per_tenant_metrics_count_requests_and_findings_when_turned_on() {
    let body =
        r#"{"model": "m", "messages": [{"role": "user", "content": "key AKIAIOSFODNN7EXAMPLE"}]}"#;
    for on in [true, false] {
        let config = format!("[metrics]\nper_tenant = {on}\n[server]\nmax_body_bytes = 4096\n");
        let (mut child, port, _dir) = start_serve_with(Some(&config));
        let (status, answer) = post(port, "/v1/chat/completions", body).expect("answer");
        assert_eq!(status, 403, "{answer}");
        // Refused by the gateway itself, after the caller's tenant is known.
        let (status, _) = post(port, "/v1/nowhere", "{}").expect("answer");
        assert_eq!(status, 404);
        let big = format!(r#"{{"text": "{}"}}"#, "x".repeat(8192));
        let (status, _) = post(port, "/v1/sentinel/scan", &big).expect("answer");
        assert_eq!(status, 413);
        let (status, text) = get(port, "/metrics").expect("metrics");
        assert_eq!(status, 200);
        stop(&mut child);
        let lines = [
            "deepsentinel_tenant_requests_total{tenant=\"default\",outcome=\"blocked\"} 1",
            "deepsentinel_tenant_requests_total{tenant=\"default\",outcome=\"error\"} 2",
            "deepsentinel_tenant_findings_total{tenant=\"default\",entity=\"AWS_ACCESS_KEY\"} 1",
        ];
        for line in lines {
            assert_eq!(
                text.contains(line),
                on,
                "per_tenant = {on}: {line} in\n{text}"
            );
        }
        assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"));
    }
}

#[test]
fn key_hash_prints_the_config_form() {
    use sha2::{Digest, Sha256};
    let (code, out) = run(&["key", "hash", "sk-abc"]);
    assert_eq!(code, Some(0));
    let want: String = Sha256::digest(b"sk-abc")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(out.trim(), format!("sha256:{want}"));
}

/// SIGHUP reads the file again: new keys apply to the next requests, and a file that does
/// not load leaves the running configuration serving, with the failure logged.
#[cfg(unix)]
#[test]
fn sighup_reloads_keys_and_a_broken_file_changes_nothing() {
    use sha2::{Digest, Sha256};
    let keys = |key: &str| {
        let hash: String = Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("[[key]]\nhash = \"sha256:{hash}\"\ntenant = \"acme\"\n")
    };
    let scan = |port: u16, key: &str| {
        let body = r#"{"text": "hello"}"#;
        exchange(
            port,
            &format!(
                "POST /v1/sentinel/scan HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
        .map(|(status, _)| status)
    };
    let (mut child, port, dir) = start_serve_with(Some(&keys("sk-first")));
    // The log, read as it comes (the reload's outcome is only seen there).
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stderr = child.stderr.take().expect("stderr");
    let sink = std::sync::Arc::clone(&log);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .expect("lock")
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let hup = |child: &std::process::Child| {
        let sent = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
    };
    let wait_until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(scan(port, "sk-first"), Some(200));
    assert_eq!(scan(port, "sk-second"), Some(401));

    // New keys, and counting per tenant turned on.
    let path = dir.path().join("deepsentinel.toml");
    let counted = format!("{}[metrics]\nper_tenant = true\n", keys("sk-second"));
    std::fs::write(&path, counted).expect("write");
    hup(&child);
    wait_until("the new key is taken", &|| {
        scan(port, "sk-second") == Some(200)
    });
    assert_eq!(scan(port, "sk-first"), Some(401));

    std::fs::write(&path, "[[key]]\nhash = \"not a hash\"\ntenant = \"acme\"\n").expect("write");
    hup(&child);
    wait_until("the failed reload is logged", &|| {
        log.lock().expect("lock").contains("reload failed")
    });
    assert_eq!(scan(port, "sk-second"), Some(200));
    let metrics = exchange(
        port,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer sk-second\r\nConnection: close\r\n\r\n",
    )
    .map(|(_, body)| body)
    .unwrap_or_default();
    for line in [
        "deepsentinel_config_reloads_total{result=\"applied\"} 1",
        "deepsentinel_config_reloads_total{result=\"failed\"} 1",
        "deepsentinel_config_last_reload_successful 0",
        "deepsentinel_tenant_requests_total{tenant=\"acme\",outcome=\"allowed\"}",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }

    stop(&mut child);
    let _ = reader.join();
    let log = log.lock().expect("lock");
    assert!(log.contains("hash must be sha256"), "{log}");
    assert!(
        !log.contains("sk-second") && !log.contains("sk-first"),
        "{log}"
    );
}

/// A second gateway on the same audit directory would fork its chain: it does not start,
/// and says why.
#[test]
fn a_second_gateway_on_the_same_audit_directory_does_not_start() {
    let (mut child, _port, dir) = start_serve();
    let out = Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--upstream", "http://127.0.0.1:9/v1"])
        .current_dir(dir.path())
        .output()
        .expect("runs");
    stop(&mut child);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is in use by another writer") && stderr.contains("pid "),
        "{stderr}"
    );
}

/// `serve --check` says whether a configuration would start, without serving or touching
/// the audit log: it passes beside a running gateway that holds the log's lock, and a
/// broken file fails with the reason.
#[test]
fn serve_check_validates_without_touching_the_audit_log() {
    let (mut child, _port, dir) = start_serve();
    let check = |config: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_deepsentinel"));
        cmd.args(["serve", "--check"]).current_dir(dir.path());
        if let Some(c) = config {
            let path = dir.path().join("check.toml");
            std::fs::write(&path, c).expect("write");
            cmd.arg("--config").arg(path);
        }
        cmd.output().expect("runs")
    };
    let ok = check(None);
    assert!(ok.status.success(), "{ok:?}");
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.starts_with("configuration OK: 0 gateway keys, policy "),
        "{out}"
    );
    for (config, reason) in [
        ("[policy]\npreset = \"no-such\"\n", "unknown preset"),
        ("[server]\nworkers = 0\n", "workers must be at least 1"),
        (
            "[server]\nlisten = \"nonsense\"\n",
            "[server] listen \"nonsense\"",
        ),
    ] {
        let bad = check(Some(config));
        assert_eq!(bad.status.code(), Some(2));
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(err.contains(reason), "{err}");
    }
    stop(&mut child);

    // Nothing is created where the configuration points the audit log.
    let fresh = tempfile::tempdir().expect("tmp");
    let audit = fresh.path().join("audit-here");
    let out = Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
        .args(["serve", "--check", "--config"])
        .arg({
            let p = fresh.path().join("c.toml");
            std::fs::write(&p, format!("[audit]\ndir = \"{}\"\n", audit.display())).expect("write");
            p
        })
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    assert!(!audit.exists());
}

/// Starts `deepsentinel serve` in `dir` on `socket`, passed as systemd's socket activation
/// passes it (descriptor 3, `LISTEN_FDS=1`); the test holds the socket as the service
/// manager would, across restarts.
#[cfg(unix)]
fn start_on_socket(socket: &TcpListener, dir: &std::path::Path) -> std::process::Child {
    use command_fds::{CommandFdExt, FdMapping};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deepsentinel"));
    cmd.args(["serve", "--upstream", "http://127.0.0.1:9/v1"])
        .current_dir(dir)
        .env("LISTEN_FDS", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .fd_mappings(vec![FdMapping {
            parent_fd: socket.try_clone().expect("dup").into(),
            child_fd: 3,
        }])
        .expect("one mapping");
    cmd.spawn().expect("starts")
}

/// `LISTEN_FDS` without a listening TCP socket at descriptor 3 is an error that says so,
/// not a gateway on some other address.
#[cfg(unix)]
#[test]
fn a_passed_descriptor_that_is_no_tcp_listener_is_an_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
        .args(["serve", "--upstream", "http://127.0.0.1:9/v1"])
        .current_dir(dir.path())
        .env("LISTEN_FDS", "1")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the socket passed in (LISTEN_FDS) is not a TCP listener"),
        "{stderr}"
    );
}

/// A restart (a new binary) on a socket the service manager keeps open refuses no
/// connection: one made while no gateway runs waits in the kernel's queue and is answered
/// by the next, and the audit chain continues across the two.
#[cfg(unix)]
#[test]
#[allow(clippy::zombie_processes)] // reason: both children are stopped and waited on
fn a_restart_on_a_passed_socket_refuses_no_connection() {
    let socket = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tmp");
    let scan = |port| {
        post(
            port,
            "/v1/sentinel/scan",
            r#"{"text": "mail ann@example.com"}"#,
        )
    };

    let mut first = start_on_socket(&socket, dir.path());
    wait_ready(&mut first, port);
    let (status, body) = scan(port).expect("answer");
    assert_eq!(status, 200, "{body}");
    stop(&mut first);

    // Nobody serves now; the connection is made and the request sent regardless.
    let request = r#"{"text": "mail bob@example.com"}"#;
    let mut waiting = TcpStream::connect(("127.0.0.1", port)).expect("connects while down");
    waiting
        .write_all(
            format!(
                "POST /v1/sentinel/scan HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{request}",
                request.len()
            )
            .as_bytes(),
        )
        .expect("sends while down");
    let mut second = start_on_socket(&socket, dir.path());
    waiting
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut answer = String::new();
    let read = waiting.read_to_string(&mut answer);
    stop(&mut second);
    read.expect("the queued request is answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("EMAIL_ADDRESS"), "{answer}");

    let log = stderr_of(&mut first);
    assert!(
        log.contains("serving the socket passed in (by the service manager"),
        "{log}"
    );
    let audit = dir.path().join("deepsentinel-audit");
    let (code, out) = run(&["audit", "verify", audit.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{out}");
}

/// `deepsentinel loadtest` against `port` for `seconds` at 8 clients, each request a scan
/// of a text with an address (its scenario file in `dir`).
fn scan_load(dir: &std::path::Path, port: u16, seconds: u32) -> std::process::Child {
    let scenarios = dir.join("scan.toml");
    std::fs::write(
        &scenarios,
        "[[scenario]]\nname = \"scan\"\npath = \"/v1/sentinel/scan\"\n\
         body = '{\"text\": \"mail jane@example.com\"}'\n",
    )
    .expect("write");
    Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
        .args(["loadtest", "--scenarios"])
        .arg(&scenarios)
        .args(["--target", &format!("http://127.0.0.1:{port}")])
        .args(["--concurrency", "8", "--duration", &seconds.to_string()])
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("loadtest starts")
}

/// The JSON report of a [`scan_load`], and its text (for messages).
fn load_report(load: std::process::Child) -> (serde_json::Value, String) {
    let out = load.wait_with_output().expect("loadtest ends");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (serde_json::from_str(&text).expect("json"), text)
}

/// Restarts under load, on a socket the service manager keeps open, fail no request: a
/// caller's next request on a kept-alive connection is answered (with `Connection: close`)
/// rather than cut off when the old gateway closes, and new connections wait for the next
/// gateway.
#[cfg(unix)]
#[test]
#[allow(clippy::zombie_processes)] // reason: every gateway is stopped and waited on
fn restarts_under_load_fail_no_request() {
    let socket = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tmp");
    let mut gateway = start_on_socket(&socket, dir.path());
    wait_ready(&mut gateway, port);
    let load = scan_load(dir.path(), port, 4);
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(1200));
        stop(&mut gateway);
        gateway = start_on_socket(&socket, dir.path());
    }
    let (v, text) = load_report(load);
    wait_ready(&mut gateway, port);
    stop(&mut gateway);
    assert!(v["requests"].as_u64().unwrap_or(0) > 100, "{text}");
    assert_eq!(v["success_rate"], 1.0, "{text}");
}

/// SIGTERM drains: a request still waiting for its upstream keeps the gateway up through
/// the grace period. A second SIGTERM stops the wait, and the gateway exits at once.
#[cfg(unix)]
#[test]
#[allow(clippy::zombie_processes)] // reason: the child is stopped and waited on
fn a_second_sigterm_cuts_the_drain_short() {
    // An upstream that takes connections (the kernel's queue) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--upstream",
            &format!("http://{}/v1", silent.local_addr().expect("addr")),
        ])
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    wait_ready(&mut child, port);
    let waiting = std::thread::spawn(move || {
        post(
            port,
            "/v1/chat/completions",
            r#"{"model": "m", "messages": [{"role": "user", "content": "hello"}]}"#,
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let term = |child: &std::process::Child| {
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
    };
    term(&child);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the first SIGTERM waits for the request in flight"
    );
    let hurried = Instant::now();
    term(&child);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        // Well before the caller's own 10 s timeout would close its connection.
        assert!(
            hurried.elapsed() < Duration::from_secs(4),
            "the second SIGTERM did not end the drain"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    // The caller's connection was closed without an answer.
    assert!(waiting.join().expect("caller").is_none());
    let log = stderr_of(&mut child);
    assert!(log.contains("second signal"), "{log}");
    drop(silent);
    // The request that was cut is on record: its answer's event says the gateway stopped.
    let audit = sentinel_testkit::audit_log(&dir.path().join("deepsentinel-audit"));
    let events: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("a JSON line")["event"].clone()
        })
        .collect();
    assert_eq!(events.len(), 2, "{audit}");
    assert_eq!(events[0]["direction"], "request");
    assert_eq!(events[1]["direction"], "response");
    assert_eq!(events[1]["request_id"], events[0]["request_id"]);
    assert_eq!(events[1]["decision"], "none");
    assert_eq!(events[1]["outcome"], "shutdown");
}

/// However a hand-over test ends, no gateway outlives it: the first, and whichever
/// process holds the audit log in the directory given.
#[cfg(unix)]
struct Reaper(u32, std::path::PathBuf);
#[cfg(unix)]
impl Drop for Reaper {
    fn drop(&mut self) {
        // A test that passed stopped both already (and their ids may be reused).
        if !std::thread::panicking() {
            return;
        }
        let holder = std::fs::read_to_string(self.1.join("audit.lock")).unwrap_or_default();
        for pid in [
            Some(self.0.to_string()),
            holder.trim().strip_prefix("pid ").map(str::to_owned),
        ]
        .into_iter()
        .flatten()
        {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    }
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
#[cfg(unix)]
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // `pid (comm) S ...`: the state follows the command's closing parenthesis.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// SIGUSR2 replaces the gateway with a new process on the same socket: under load no
/// request fails, the old process exits, the new one serves and holds the audit log, and
/// the log is one intact chain holding every request, the old process's last ones too.
#[cfg(unix)]
#[test]
#[allow(clippy::zombie_processes)] // reason: the first gateway is waited on, the second stopped
fn sigusr2_hands_over_to_a_new_process_without_failing_a_request() {
    // Small files moved to an archive as they rotate: both processes' archivers run, one
    // after the other (the old one's finishes its move before it lets the log go).
    let (mut old, port, dir) = start_serve_with(Some(
        "[audit]\ndir = \"./deepsentinel-audit\"\nmax_file_bytes = 65536\narchive_dir = \"./archive\"\n",
    ));
    let _reaper = Reaper(old.id(), dir.path().join("deepsentinel-audit"));
    let load = scan_load(dir.path(), port, 5);
    std::thread::sleep(Duration::from_millis(1200));
    let sent = Command::new("kill")
        .args(["-USR2", &old.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = old.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "the old gateway did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let (v, text) = load_report(load);
    let requests = v["requests"].as_u64().unwrap_or(0);
    assert!(requests > 100, "{text}");
    assert_eq!(v["success_rate"], 1.0, "{text}");

    // The new process serves, and holds the audit log.
    assert_eq!(get(port, "/healthz").map(|r| r.0), Some(200));
    let audit = dir.path().join("deepsentinel-audit");
    let holder = std::fs::read_to_string(audit.join("audit.lock")).expect("lock file");
    let pid: u32 = holder
        .trim()
        .strip_prefix("pid ")
        .and_then(|p| p.parse().ok())
        .expect("pid N");
    assert_ne!(pid, old.id());
    let stopped = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !gone(pid) {
        assert!(Instant::now() < deadline, "the new gateway did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Both wrote to the same stderr, which ends once both are gone.
    let log = stderr_of(&mut old);
    assert!(!log.contains("ERROR"), "{log}");
    let archive = dir.path().join("archive");
    let (code, report) = run(&[
        "audit",
        "verify",
        archive.to_str().expect("utf-8"),
        audit.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(0), "{report}");
    // One record per scan: those the load generator counted, and at most the eight it
    // still had in flight when it stopped counting.
    let files = |d: &std::path::Path| {
        std::fs::read_dir(d)
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect::<Vec<_>>()
    };
    assert!(
        files(&archive)
            .iter()
            .any(|p| p.extension().is_some_and(|x| x == "jsonl")),
        "rotated files were archived"
    );
    let records: u64 = files(&archive)
        .into_iter()
        .chain(files(&audit))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| std::fs::read_to_string(p).expect("read").lines().count() as u64)
        .sum();
    assert!(
        (requests..=requests + 8).contains(&records),
        "{records} records for {requests} requests"
    );
}

/// A hand-over to a process that cannot start (the file broke since) hands nothing over:
/// the running gateway says so, keeps serving and recording, and its chain stays intact.
#[cfg(unix)]
#[test]
#[allow(clippy::zombie_processes)] // reason: the gateway is stopped and waited on
fn a_failed_hand_over_leaves_the_running_gateway_serving() {
    let (mut child, port, dir) = start_serve_with(Some("[server]\nmax_concurrent = 64\n"));
    let scan = || {
        post(
            port,
            "/v1/sentinel/scan",
            r#"{"text": "mail ann@example.com"}"#,
        )
    };
    assert_eq!(scan().map(|r| r.0), Some(200));
    std::fs::write(dir.path().join("deepsentinel.toml"), "[server\nbroken").expect("write");
    let sent = Command::new("kill")
        .args(["-USR2", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    // The new process fails on the file at once; give the old one time to notice.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().expect("wait").is_none(), "still running");
    assert_eq!(scan().map(|r| r.0), Some(200));
    let audit = dir.path().join("deepsentinel-audit");
    let holder = std::fs::read_to_string(audit.join("audit.lock")).expect("lock");
    assert_eq!(holder.trim(), format!("pid {}", child.id()));
    stop(&mut child);
    let log = stderr_of(&mut child);
    assert!(log.contains("hand-over failed; still serving"), "{log}");
    let (code, report) = run(&["audit", "verify", audit.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("2 records"), "{report}");
}

/// Under systemd's `Type=notify` (`NOTIFY_SOCKET`, here a socket of the test's): the
/// gateway says it is ready and which process is the service's; after a hand-over the new
/// process says so for itself, the old one does not say it stops (the service goes on),
/// and a SIGTERM then says `STOPPING=1`.
#[cfg(unix)]
#[test]
#[allow(clippy::zombie_processes)] // reason: the first gateway is waited on, the second stopped
fn the_service_manager_is_told_readiness_and_the_main_process_across_a_hand_over() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("notify.sock");
    let manager = UnixDatagram::bind(&path).expect("bind");
    manager
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let said = || {
        let mut buf = [0u8; 512];
        let n = manager.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut old = Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--upstream", "http://127.0.0.1:9/v1"])
        .current_dir(dir.path())
        .env("NOTIFY_SOCKET", &path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let _reaper = Reaper(old.id(), dir.path().join("deepsentinel-audit"));
    assert_eq!(said(), format!("MAINPID={}\nREADY=1\n", old.id()));
    wait_ready(&mut old, port);
    let sent = Command::new("kill")
        .args(["-USR2", &old.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let next = said();
    let pid: u32 = next
        .strip_prefix("MAINPID=")
        .and_then(|rest| rest.strip_suffix("\nREADY=1\n"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{next:?}"));
    assert_ne!(pid, old.id());
    let status = old.wait().expect("the old one exits");
    assert!(status.success(), "{status}");
    assert_eq!(get(port, "/healthz").map(|r| r.0), Some(200));
    let stopped = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    // The next word is the new process's: the old one stopped without one.
    assert_eq!(said(), "STOPPING=1\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !gone(pid) {
        assert!(Instant::now() < deadline, "the new gateway did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of an unlabelled series in a Prometheus page.
fn series(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `[audit] archive_dir`: the gateway moves its rotated files there itself, `/metrics`
/// shows the log's health read from the log (and the other values read at a scrape), and
/// the archive and the log verify as one.
#[test]
fn the_gateway_archives_rotated_audit_files_and_shows_the_log_in_its_metrics() {
    let config = "[audit]\ndir = \"./log\"\nmax_file_bytes = 4096\narchive_dir = \"./archive\"\n";
    let (mut child, port, dir) = start_serve_with(Some(config));
    let _reaper = Reaper(child.id(), dir.path().join("log"));
    let body = r#"{"text": "write to jane.doe@example.com"}"#;
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        for _ in 0..20 {
            let (status, answer) = post(port, "/v1/sentinel/scan", body).expect("answer");
            assert_eq!(status, 200, "{answer}");
        }
        let (status, page) = get(port, "/metrics").expect("metrics");
        assert_eq!(status, 200);
        if series(&page, "deepsentinel_audit_archived_files_total").is_some_and(|n| n > 0.0) {
            break page;
        }
        assert!(Instant::now() < deadline, "nothing archived:\n{page}");
    };
    assert_eq!(
        series(&page, "deepsentinel_audit_healthy"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        series(&page, "deepsentinel_audit_archive_healthy"),
        Some(1.0)
    );
    assert!(
        series(&page, "deepsentinel_audit_written_total").is_some_and(|n| n > 0.0),
        "{page}"
    );
    assert_eq!(
        series(&page, "deepsentinel_audit_unwritten_total"),
        Some(0.0)
    );
    // Other values read at the scrape: requests in flight, the detection cache's size,
    // and the bytes of a body still arriving.
    assert!(
        series(&page, "deepsentinel_inflight_requests").is_some(),
        "{page}"
    );
    let mut slow = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    std::io::Write::write_all(
        &mut slow,
        format!(
            "POST /v1/sentinel/scan HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{}",
            " ".repeat(600)
        )
        .as_bytes(),
    )
    .expect("send");
    std::thread::sleep(Duration::from_millis(200));
    let (_, held) = get(port, "/metrics").expect("metrics");
    assert!(
        series(&held, "deepsentinel_body_bytes_in_flight").is_some_and(|n| n >= 600.0),
        "{held}"
    );
    drop(slow);
    for name in ["bytes", "entries"] {
        let gauge = format!("deepsentinel_cache_{name}{{cache=\"detection\"}}");
        assert!(series(&page, &gauge).is_some(), "{gauge} in {page}");
    }
    assert!(!page.contains("jane.doe"));
    stop(&mut child);
    let archived = std::fs::read_dir(dir.path().join("archive"))
        .expect("created")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
        .count();
    assert!(archived > 0);
    let out = Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
        .args(["audit", "verify"])
        .arg(dir.path().join("archive"))
        .arg(dir.path().join("log"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A log whose disk is full, under `fail_open`: requests go on, and `/metrics` says the log
/// is failing and counts what it could not write.
#[test]
fn a_failing_audit_log_shows_in_the_metrics() {
    let log = tempfile::tempdir().expect("tmp");
    for i in 1..=64 {
        std::os::unix::fs::symlink("/dev/full", log.path().join(format!("audit-{i:06}.jsonl")))
            .expect("symlink");
    }
    let config = format!(
        "[audit]\ndir = \"{}\"\n[failure]\naudit = \"fail_open\"\n",
        log.path().display()
    );
    let (mut child, port, _dir) = start_serve_with(Some(&config));
    let _reaper = Reaper(child.id(), log.path().to_owned());
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        let (status, answer) =
            post(port, "/v1/sentinel/scan", r#"{"text": "hello"}"#).expect("answer");
        assert_eq!(status, 200, "fail_open: {answer}");
        let (_, page) = get(port, "/metrics").expect("metrics");
        if series(&page, "deepsentinel_audit_healthy") == Some(0.0) {
            break page;
        }
        assert!(Instant::now() < deadline, "never unhealthy:\n{page}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        series(&page, "deepsentinel_audit_unwritten_total").is_some_and(|n| n >= 1.0),
        "{page}"
    );
    let (_, stats) = get(port, "/v1/sentinel/stats").expect("stats");
    assert!(stats.contains("\"healthy\":false"), "{stats}");
    stop(&mut child);
}

/// `[audit] anchor_interval_seconds`: the gateway logs its chain's head as it goes; kept
/// apart (here, its log), those lines let `audit verify --anchors` catch records cut off
/// the end with the head rewritten to match, which `verify` alone cannot.
#[test]
fn anchors_the_gateway_logs_catch_a_log_cut_short_with_its_head() {
    use sha2::{Digest, Sha256};
    let config = "[audit]\ndir = \"./log\"\nanchor_interval_seconds = 1\n";
    let (mut child, port, dir) =
        start_serve_logging(Some(config), "info", &["--log-format", "json"]);
    let _reaper = Reaper(child.id(), dir.path().join("log"));
    for round in 0..2 {
        for i in 0..5 {
            let body = format!(r#"{{"text": "round {round} request {i}"}}"#);
            let (status, answer) = post(port, "/v1/sentinel/scan", &body).expect("answer");
            assert_eq!(status, 200, "{answer}");
        }
        // Past the interval, so that each round's records are anchored.
        std::thread::sleep(Duration::from_millis(1300));
    }
    stop(&mut child);
    let log = stderr_of(&mut child);
    let anchors: Vec<&str> = log.lines().filter(|l| l.contains("audit anchor")).collect();
    assert!(anchors.len() >= 2, "{log}");
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("--log-format json: {e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    assert!(
        anchors.iter().all(|l| !l.contains("round")),
        "no record content in an anchor"
    );
    let kept = dir.path().join("anchors.log");
    std::fs::write(&kept, &log).expect("write");
    let verify = |dir: &std::path::Path| {
        crate::util::run(&[
            "audit",
            "verify",
            "--anchors",
            &kept.display().to_string(),
            &dir.display().to_string(),
        ])
    };
    let audit = dir.path().join("log");
    let (code, out) = verify(&audit);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("{n} of {n} anchors checked", n = anchors.len())),
        "{out}"
    );

    // The last two records cut off, and the head rewritten to the new last line.
    let file = audit.join("audit-000001.jsonl");
    let text = std::fs::read_to_string(&file).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.truncate(lines.len() - 2);
    std::fs::write(
        &file,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .expect("write");
    let last = lines.last().expect("a record");
    let head = format!(
        r#"{{"records":{},"hash":"{}","file":1}}"#,
        lines.len(),
        hex::encode(Sha256::digest(last.as_bytes()))
    );
    std::fs::write(audit.join("audit.head"), head).expect("head");
    let (code, out) = crate::util::run(&["audit", "verify", &audit.display().to_string()]);
    assert_eq!(code, Some(0), "consistent on its own: {out}");
    let (code, out) = verify(&audit);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("TAMPERED") && out.contains("truncated"),
        "{out}"
    );

    // A file without anchors is an error, not a pass.
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "nothing here\n").expect("write");
    let (code, out) = crate::util::run(&[
        "audit",
        "verify",
        "--anchors",
        &empty.display().to_string(),
        &audit.display().to_string(),
    ]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no anchor"), "{out}");
}

/// With a fingerprint key configured, a value has one fingerprint in every process's
/// records (a restart, a replica), and `deepsentinel audit fingerprint` prints it from the
/// value under the same configuration, so a log can be searched for a value it does not
/// hold; without one, the gateway says at start that fingerprints are its own, and the
/// command refuses.
#[test]
fn fingerprints_hold_across_processes_and_can_be_searched_for() {
    let keys = tempfile::tempdir().expect("tmp");
    let key = keys.path().join("fingerprint.key");
    std::fs::write(&key, "a deployment's fingerprint key\n").expect("write key");
    let config = format!(
        "[audit]\ndir = \"./deepsentinel-audit\"\nfingerprint_key_file = \"{}\"\n",
        key.display()
    );
    let printed_by_a_gateway = || {
        let (mut child, port, dir) = start_serve_with(Some(&config));
        let (status, body) = post(
            port,
            "/v1/sentinel/scan",
            r#"{"text": "mail jane@example.com"}"#,
        )
        .expect("answer");
        assert_eq!(status, 200, "{body}");
        stop(&mut child);
        let log = sentinel_testkit::audit_log(&dir.path().join("deepsentinel-audit"));
        assert!(!log.contains("jane@"), "{log}");
        let event: serde_json::Value = log
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|r| r["event"].clone())
            .find(|e| e["route"] == "/v1/sentinel/scan")
            .expect("the scan on record");
        event["fingerprints"][0]
            .as_str()
            .expect("a fingerprint")
            .to_owned()
    };
    let first = printed_by_a_gateway();
    assert_eq!(first, printed_by_a_gateway(), "the same across processes");

    let config_file = keys.path().join("deepsentinel.toml");
    std::fs::write(&config_file, &config).expect("write config");
    let fingerprint = |config: &std::path::Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
            .args([
                "audit",
                "fingerprint",
                "--entity",
                "EMAIL_ADDRESS",
                "--config",
            ])
            .arg(config)
            .env_remove("DEEPSENTINEL_FINGERPRINT_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        // A command that refuses (no key) exits before it reads: the pipe may be closed.
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"jane@example.com\nbob@example.com\n");
        child.wait_with_output().expect("output")
    };
    let out = fingerprint(&config_file);
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 2, "{printed}");
    assert_eq!(lines[0], first);
    assert_ne!(lines[1], first);
    assert!(!printed.contains("example.com"));

    // No key: the command has nothing to compare with.
    let keyless = keys.path().join("keyless.toml");
    std::fs::write(&keyless, "[audit]\ndir = \"./deepsentinel-audit\"\n").expect("write");
    let out = fingerprint(&keyless);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DEEPSENTINEL_FINGERPRINT_KEY"));
    // A key too short is refused by name, without the key.
    std::fs::write(&key, "short").expect("write key");
    let out = fingerprint(&config_file);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fingerprint_key_file") && !err.contains("short"),
        "{err}"
    );
}
