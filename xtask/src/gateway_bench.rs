//! `cargo xtask bench --gateway`: the gateway's added latency, measured in one run against
//! a loopback upstream directly, through DeepSentinel (scanning on, the strict preset),
//! through nginx as a plain reverse proxy with upstream keep-alive, and through the floor
//! (`proxy-floor`: hyper's server and the transport, no pipeline), at concurrency 1, 16
//! and 64, with a clean and a PII prompt. The targets are measured in rotating order
//! for several rounds and medians are reported (with the CPU time each proxy process used
//! per request, from `/proc`), because this machine's figures move by
//! tens of percent from run to run.
//!
//! All three run one worker by default: nginx one worker process, DeepSentinel and the
//! floor one thread (`[server] workers = 1`). `--workers N` or `--workers auto` (one per
//! core, `serve`'s default) gives each of them that many: nginx's `worker_processes`,
//! the others' threads. `--pgo` measures the profile-guided build of
//! `cargo xtask pgo` instead of the usual `profiling` one.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::util::{self, cargo};

/// Stops the process when dropped: SIGTERM, then SIGKILL if it is still there after
/// [`STOP_GRACE`]. SIGTERM first because nginx's master stops its worker processes on it;
/// killed outright, it left them running, one more orphan per bench run.
pub(crate) struct Guard(pub(crate) Child);

/// How long a guarded process gets to exit on SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

impl Guard {
    /// Sends SIGINT (`serve` drains and exits, writing what it writes at exit; the floor
    /// exits) and waits for the process: its exit status.
    pub(crate) fn interrupt(&mut self) -> Result<std::process::ExitStatus> {
        let pid = self.0.id().to_string();
        let status = Command::new("kill").args(["-INT", &pid]).status()?;
        if !status.success() {
            bail!("kill -INT {pid} failed");
        }
        Ok(self.0.wait()?)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Already waited for (after `interrupt`): its pid may belong to another process now.
        if matches!(self.0.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a benchmark fixture that prints its `127.0.0.1:PORT` on its first line.
pub(crate) fn start_fixture(cmd: &mut Command) -> Result<(Guard, std::net::SocketAddr)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    let mut line = String::new();
    let stdout = child.stdout.take().context("fixture stdout")?;
    let guard = Guard(child);
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line.trim().parse().context("the fixture's address")?;
    Ok((guard, addr))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_for(port: u16, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not start listening on {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// CPU time (user and system, in clock ticks) used so far by `pid` and its children's
/// threads (nginx's master forks the worker that does the work).
fn cpu_ticks(pid: u32) -> Ticks {
    let mut pids = vec![pid];
    if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|stat| {
            // Fields after the command's closing parenthesis start at field 3; utime and
            // stime are fields 14 and 15.
            let rest = stat.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(Ticks {
                user: f.get(11)?.parse().ok()?,
                system: f.get(12)?.parse().ok()?,
            })
        })
        .fold(Ticks::default(), |a, b| Ticks {
            user: a.user + b.user,
            system: a.system + b.system,
        })
}

/// CPU time in clock ticks.
#[derive(Clone, Copy, Debug, Default)]
struct Ticks {
    user: u64,
    system: u64,
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    v[v.len() / 2]
}

/// Builds the gateway, the floor and the upstream stub with the `profiling` profile.
pub(crate) fn build_fixtures() -> Result<()> {
    util::run(
        "build the gateway, the floor and the upstream stub (profiling profile)",
        cargo().args([
            "build",
            "--profile",
            "profiling",
            "-p",
            "deepsentinel",
            "-p",
            "benches",
            "--bin",
            "deepsentinel",
            "--bin",
            "upstream-stub",
            "--bin",
            "proxy-floor",
        ]),
    )
}

/// A binary [`build_fixtures`] built.
pub(crate) fn fixture(name: &str) -> PathBuf {
    util::root().join("target").join("profiling").join(name)
}

/// An empty `target/bench/{name}`.
pub(crate) fn fresh_dir(name: &str) -> Result<PathBuf> {
    let work = util::root().join("target").join("bench").join(name);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    Ok(work)
}

/// Threads a proxy under test serves with: `[server] workers`, or one per core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Workers {
    /// `[server] workers = N` (1: one current-thread runtime).
    Fixed(usize),
    /// One per core, `serve`'s default.
    Auto,
}

impl Workers {
    /// Parses `--workers`'s value: a count of at least 1, or `auto`.
    pub(crate) fn parse(s: &str) -> Result<Workers> {
        if s == "auto" {
            return Ok(Workers::Auto);
        }
        match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Workers::Fixed(n)),
            _ => bail!("--workers takes a count of at least 1 or `auto`, not {s:?}"),
        }
    }

    /// The form `proxy-floor` takes and reports carry.
    pub(crate) fn arg(self) -> String {
        match self {
            Workers::Fixed(n) => n.to_string(),
            Workers::Auto => "auto".to_owned(),
        }
    }
}

/// The gateway's configuration for a benchmark: the stub upstream, no key, its own audit
/// directory, `workers` threads, and `server` (lines of `[server]`) added.
fn gateway_config(
    upstream: &str,
    port: u16,
    audit: &Path,
    workers: Workers,
    server: &str,
) -> String {
    let threads = match workers {
        Workers::Fixed(n) => format!("workers = {n}\n"),
        Workers::Auto => String::new(),
    };
    format!(
        "[network]\nupstream = \"http://{upstream}/v1\"\napi_key_env = \"DEEPSENTINEL_BENCH_NO_KEY\"\n\
         [server]\nlisten = \"127.0.0.1:{port}\"\n{threads}{server}[audit]\ndir = \"{}\"\n",
        audit.display()
    )
}

/// Starts `deepsentinel serve` with the bench configuration (written to `config`, its
/// audit log in `audit`) on a free port, quiet, and waits until it listens. `cmd` is what
/// runs it: the fixture itself, or valgrind with the fixture as its first argument.
pub(crate) fn start_gateway(
    mut cmd: Command,
    upstream: &str,
    config: &Path,
    audit: &Path,
    workers: Workers,
    server: &str,
) -> Result<(Guard, u16)> {
    let port = free_port()?;
    std::fs::write(
        config,
        gateway_config(upstream, port, audit, workers, server),
    )?;
    cmd.args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "error");
    Ok((start_quiet(cmd, port, "deepsentinel serve")?, port))
}

/// Starts `cmd` with its output discarded and waits until it listens on `port`.
fn start_quiet(mut cmd: Command, port: u16, what: &str) -> Result<Guard> {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {what} ({:?})", cmd.get_program()))?;
    let guard = Guard(child);
    wait_for(port, what)?;
    Ok(guard)
}

/// Starts nginx as a plain reverse proxy to `upstream` with upstream keep-alive, on a free
/// port, its configuration, logs and temporary files in `dir`, and waits until it
/// listens. `cmd` runs it (nginx itself, or valgrind with nginx as its first argument);
/// `processes` is its `worker_processes`; without `master` one process does everything
/// (`master_process off`, for callgrind, which follows one process).
pub(crate) fn start_nginx(
    mut cmd: Command,
    dir: &Path,
    upstream: &str,
    processes: &str,
    master: bool,
) -> Result<(Guard, u16)> {
    let port = free_port()?;
    std::fs::create_dir_all(dir.join("logs"))?;
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes {processes};\ndaemon off;\nmaster_process {master};\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               upstream up {{ server {upstream}; keepalive 128; }}\n\
               server {{\n    listen 127.0.0.1:{port};\n    client_max_body_size 32m;\n\
                 location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }}\n  }}\n}}\n",
            d = dir.display(),
            master = if master { "on" } else { "off" },
        ),
    )?;
    cmd.arg("-c").arg(&conf).arg("-p").arg(dir);
    Ok((start_quiet(cmd, port, "nginx")?, port))
}

/// Writes the load generator's scenario file for the clean or the PII prompt.
pub(crate) fn write_scenarios(work: &Path, pii: bool) -> Result<PathBuf> {
    let path = work.join(if pii { "pii.toml" } else { "clean.toml" });
    std::fs::write(
        &path,
        format!(
            "[[scenario]]\nname = \"chat\"\npath = \"/v1/chat/completions\"\nbody = '{}'\n",
            prompt(pii)
        ),
    )?;
    Ok(path)
}

fn prompt(pii: bool) -> String {
    let filler =
        "Please summarise the quarterly report and list the three main risks for the board. ";
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 4000 {
        if pii && i % 4 == 1 {
            text.push_str(&format!(
                "Contact person{i}@example.com or +1 415 555 {:04} about account {}. ",
                1000 + i,
                i
            ));
        } else {
            text.push_str(filler);
        }
        i += 1;
    }
    json!({"model": "m", "messages": [{"role": "user", "content": text}]}).to_string()
}

/// Which build of DeepSentinel a bench measures.
pub(crate) enum Build {
    /// The `profiling` profile (release, fat LTO, one codegen unit).
    Profiling,
    /// The same, profile-guided (`cargo xtask pgo`): the binary at this path.
    ProfileGuided(PathBuf),
}

impl Build {
    fn binary(&self) -> PathBuf {
        match self {
            Build::Profiling => fixture("deepsentinel"),
            Build::ProfileGuided(path) => path.clone(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Build::Profiling => "profiling",
            Build::ProfileGuided(_) => "profiling + pgo",
        }
    }
}

pub(crate) fn run(quick: bool, workers: Workers, build: &Build) -> Result<Value> {
    crate::ci::ensure(&[("nginx", "nginx")])?;
    build_fixtures()?;
    let work = fresh_dir("gateway-run")?;

    // The upstream, and the floor: hyper's server and the transport without the pipeline.
    let (_stub, upstream) = start_fixture(Command::new(fixture("upstream-stub")).arg("1"))?;
    let (floor, floor_addr) = start_fixture(
        Command::new(fixture("proxy-floor"))
            .arg(format!("http://{upstream}"))
            .arg(workers.arg()),
    )?;
    let floor_pid = floor.0.id();

    // DeepSentinel.
    let (gateway, gw_port) = start_gateway(
        Command::new(build.binary()),
        &upstream.to_string(),
        &work.join("deepsentinel.toml"),
        &work.join("audit"),
        workers,
        "",
    )?;
    let gateway_pid = gateway.0.id();

    // nginx as a plain reverse proxy with upstream keep-alive, with as many worker
    // processes as the others have threads (`auto` is one per core for both).
    let (nginx, nginx_port) = start_nginx(
        Command::new("nginx"),
        &work.join("nginx"),
        &upstream.to_string(),
        &workers.arg(),
        true,
    )?;
    let nginx_pid = nginx.0.id();
    let _nginx = nginx;

    let targets = [
        ("direct", format!("http://{upstream}")),
        ("deepsentinel", format!("http://127.0.0.1:{gw_port}")),
        ("nginx", format!("http://127.0.0.1:{nginx_port}")),
        ("floor", format!("http://{floor_addr}")),
    ];
    const N: usize = 4;
    // The proxies' own CPU per request (the direct target has none).
    let proxy_pid = [None, Some(gateway_pid), Some(nginx_pid), Some(floor_pid)];
    let tck = clock_ticks_per_second();
    let (rounds, seconds) = if quick { (1, "1.5") } else { (3, "3") };
    let mut results: Vec<Value> = Vec::new();
    for pii in [false, true] {
        let scenarios = write_scenarios(&work, pii)?;
        for concurrency in [1usize, 16, 64] {
            let mut p50: [Vec<f64>; N] = Default::default();
            let mut rps: [Vec<f64>; N] = Default::default();
            let mut cpu: [Vec<f64>; N] = Default::default();
            let mut user: [Vec<f64>; N] = Default::default();
            for round in 0..rounds {
                for k in 0..N {
                    let t = (k + round) % N;
                    let before = proxy_pid[t].map(cpu_ticks);
                    let out = util::output(
                        &format!(
                            "loadtest {} c={concurrency} {}",
                            targets[t].0,
                            if pii { "pii" } else { "clean" }
                        ),
                        Command::new(fixture("deepsentinel"))
                            .args(["loadtest", "--scenarios"])
                            .arg(&scenarios)
                            .args(["--target", &targets[t].1])
                            .args(["--concurrency", &concurrency.to_string()])
                            .args(["--duration", seconds, "--warmup", "0.5", "--format", "json"]),
                    );
                    let out = match out {
                        Ok(o) => o,
                        Err(e) => bail!("{e}"),
                    };
                    let v: Value = serde_json::from_str(&out)?;
                    if v["success_rate"].as_f64() != Some(1.0) {
                        bail!("{} failed requests: {out}", targets[t].0);
                    }
                    p50[t].push(v["p50_ms"].as_f64().unwrap_or(0.0) * 1000.0);
                    let r = v["requests_per_second"].as_f64().unwrap_or(0.0);
                    rps[t].push(r);
                    if let (Some(pid), Some(before)) = (proxy_pid[t], before) {
                        // Requests in the warm-up count too: the ticks cover it.
                        let total = r * (seconds.parse::<f64>().unwrap_or(3.0) + 0.5);
                        let after = cpu_ticks(pid);
                        let in_user = after.user.saturating_sub(before.user) as f64 / tck;
                        let in_system = after.system.saturating_sub(before.system) as f64 / tck;
                        if total > 0.0 {
                            cpu[t].push((in_user + in_system) / total * 1e6);
                            user[t].push(in_user / total * 1e6);
                        }
                    }
                }
            }
            let p = p50.map(median);
            let r = rps.map(median);
            let c = cpu.map(median);
            let u = user.map(median);
            let (gw_added, nginx_added, floor_added) = (p[1] - p[0], p[2] - p[0], p[3] - p[0]);
            let row = json!({
                "prompt": if pii { "pii" } else { "clean" },
                "concurrency": concurrency,
                "p50_us": {"direct": p[0], "deepsentinel": p[1], "nginx": p[2], "floor": p[3]},
                "rps": {"direct": r[0], "deepsentinel": r[1], "nginx": r[2], "floor": r[3]},
                "added_p50_us": {"deepsentinel": gw_added, "nginx": nginx_added, "floor": floor_added},
                "proxy_cpu_us_per_request": {"deepsentinel": c[1], "nginx": c[2], "floor": c[3]},
                // The user-space part; the rest is the kernel's (sockets, wake-ups, the
                // audit log's writes).
                "proxy_user_cpu_us_per_request": {"deepsentinel": u[1], "nginx": u[2], "floor": u[3]},
                "throughput_vs_nginx": if r[2] > 0.0 { r[1] / r[2] } else { 0.0 },
                "added_p50_vs_nginx": if nginx_added > 0.0 { gw_added / nginx_added } else { 0.0 },
            });
            eprintln!(
                "{:<6} c={:<3} p50 us: direct {:>7.0}  deepsentinel {:>7.0} (+{:>5.0})  nginx {:>7.0} (+{:>5.0})  | req/s: direct {:>7.0}  deepsentinel {:>7.0}  nginx {:>7.0}  | vs nginx: throughput {:.2}x, added p50 {:.2}x  | proxy CPU/request (user part): deepsentinel {:.1} ({:.1}) us, nginx {:.1} ({:.1}) us  | floor (no pipeline): +{:.0} us, {:.0} req/s, {:.1} ({:.1}) us CPU",
                if pii { "pii" } else { "clean" },
                concurrency,
                p[0], p[1], gw_added, p[2], nginx_added, r[0], r[1], r[2],
                row["throughput_vs_nginx"].as_f64().unwrap_or(0.0),
                row["added_p50_vs_nginx"].as_f64().unwrap_or(0.0),
                c[1],
                u[1],
                c[2],
                u[2],
                floor_added,
                r[3],
                c[3],
                u[3],
            );
            results.push(row);
        }
    }
    Ok(json!({
        "rounds": rounds,
        "seconds_per_run": seconds,
        "workers": workers.arg(),
        "build": build.name(),
        "results": results
    }))
}

/// Writes a report as `target/bench/{kind}-{now}.json` and `{kind}-latest.json`.
pub(crate) fn write(kind: &str, text: &str, now: u64) -> Result<PathBuf> {
    let dir: &Path = &util::root().join("target").join("bench");
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(format!("{kind}-{now}.json")), text)?;
    std::fs::write(dir.join(format!("{kind}-latest.json")), text)?;
    Ok(dir.join(format!("{kind}-{now}.json")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether process `pid` still runs (Linux `/proc`; a zombie counts as gone).
    fn running(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                !stat
                    .rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('Z'))
            })
            .unwrap_or(false)
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_dropped_guard_lets_a_master_stop_its_workers() {
        // A master that forks a worker, prints its pid and stops it on SIGTERM, as nginx's
        // master does. The worker holds none of the test's pipes, so a failure here never
        // keeps the test run waiting on it.
        let mut child = Command::new("sh")
            .args([
                "-c",
                "sleep 60 </dev/null >/dev/null 2>&1 & w=$!; trap 'kill $w; exit 0' TERM; echo $w; wait",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the worker's pid");
        let worker = line.trim().to_owned();
        assert!(running(&worker), "the worker {worker} runs");
        drop(Guard(child));
        let deadline = Instant::now() + Duration::from_secs(10);
        while running(&worker) {
            assert!(Instant::now() < deadline, "the worker outlived its master");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
