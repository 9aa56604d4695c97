//! `deepsentinel serve`: the gateway, and `deepsentinel key hash` for its key list.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use sentinel_client::SentinelConfig;

#[derive(Clone, Debug, Args)]
pub(crate) struct ServeArgs {
    /// The configuration file (the SDK's TOML plus [server] and [[key]]); without it the
    /// embedded defaults apply: 127.0.0.1:8080, OpenAI with OPENAI_API_KEY, local
    /// detection, the strict preset, in-memory caches, audit log in ./deepsentinel-audit.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen here instead (overrides [server] listen). A socket passed in by systemd's
    /// socket activation (LISTEN_FDS) is served instead of either.
    #[arg(long)]
    listen: Option<String>,
    /// Send to this OpenAI-compatible base URL instead (vLLM, Ollama, llama.cpp...).
    #[arg(long)]
    upstream: Option<String>,
    /// Check the configuration and exit (0: `serve` would start with it, or a running
    /// one would reload it), without serving, connecting or touching the audit log.
    #[arg(long)]
    check: bool,
    /// How log lines are written to standard error: `text` (colours only at a terminal),
    /// or `json`, one object a line, for a log collector.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line (`timestamp`, `level`, `target`, `fields`).
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Print the `hash` to put in a [[key]] entry for KEY (read from stdin when absent).
    Hash {
        /// The key.
        key: Option<String>,
    },
}

pub(crate) fn key(cmd: &KeyCommand) -> Result<ExitCode> {
    let KeyCommand::Hash { key } = cmd;
    let key = match key {
        Some(k) => k.clone(),
        None => {
            let mut s = String::new();
            std::io::stdin().read_line(&mut s)?;
            s.trim().to_owned()
        }
    };
    outln!("{}", sentinel_gateway::hash_key(&key));
    Ok(ExitCode::SUCCESS)
}

/// The configuration `args` name: the file (or the embedded defaults) with the command
/// line's overrides and the default audit directory. Read at start and on SIGHUP.
fn load_config(args: &ServeArgs) -> Result<SentinelConfig> {
    let mut config = match &args.config {
        Some(path) => SentinelConfig::load(path)?,
        None => SentinelConfig::default(),
    };
    if let Some(l) = &args.listen {
        config.server.listen = Some(l.clone());
    }
    if let Some(u) = &args.upstream {
        config.network.upstream = Some(u.clone());
    }
    if config.audit.dir.is_none() {
        config.audit.dir = Some(PathBuf::from("./deepsentinel-audit"));
    }
    Ok(config)
}

/// Reads the configuration again and applies what a running gateway can take: all of it
/// but the audit log's settings, the listen address and the threads
/// ([`sentinel_gateway::Gateway::reload`]). A file that does not load changes nothing.
/// Counted in `deepsentinel_config_reloads_total` by result, and the last result kept in
/// `deepsentinel_config_last_reload_successful`, so a failed reload can be alerted on.
fn reload(args: &ServeArgs, gateway: &sentinel_gateway::Gateway) {
    use sentinel_metrics::names::{label, CONFIG_LAST_RELOAD_SUCCESSFUL, CONFIG_RELOADS_TOTAL};
    let result = load_config(args)
        .map_err(|e| format!("{e:#}"))
        .and_then(|c| gateway.reload(&c).map_err(|e| e.to_string()));
    // Counted before it is logged: whoever reads the log line finds the count too.
    let outcome = if result.is_ok() { "applied" } else { "failed" };
    metrics::counter!(CONFIG_RELOADS_TOTAL, label::RESULT => outcome).increment(1);
    metrics::gauge!(CONFIG_LAST_RELOAD_SUCCESSFUL).set(if result.is_ok() { 1.0 } else { 0.0 });
    match result {
        Ok(r) => {
            tracing::info!(
                keys = r.applied.keys,
                policy_version = %r.applied.policy_version,
                tls = r.applied.tls,
                detection_rebuilt = r.detection_rebuilt,
                upstream_rebuilt = r.upstream_rebuilt,
                responses_rebuilt = r.responses_rebuilt,
                "configuration reloaded: what it changed applies to new requests"
            );
            if !r.needs_restart.is_empty() {
                tracing::warn!(
                    sections = %r.needs_restart.join(", "),
                    "these sections changed but take effect only at a restart"
                );
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "reload failed; the running configuration stays");
        }
    }
}

/// The listening socket a service manager passed in, if any: systemd's socket activation
/// (`LISTEN_FDS`, and `LISTEN_PID` when set), its first socket. Serving a socket that
/// outlives the process is what lets a restart (a new binary) queue connections in the
/// kernel instead of refusing them. Taking it clears the variables, a process-wide change,
/// so it runs before the runtime starts threads.
fn passed_listener() -> Result<Option<std::net::TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() > 1 {
        tracing::warn!(
            passed = fds.len(),
            "more than one socket passed in; serving the first"
        );
    }
    fds.take_tcp_listener(0)
        .context("the socket passed in (LISTEN_FDS) is not a TCP listener")
}

/// Tells the service manager `states` when it asked to be told (`NOTIFY_SOCKET`, systemd's
/// `Type=notify`); a failure is logged, never fatal.
#[cfg(unix)]
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify the service manager (NOTIFY_SOCKET)");
    }
}

/// SIGTERM and SIGINT (Ctrl-C), installed when made: not at a future's first poll (which
/// comes only once serving starts), so that a signal arriving while the gateway starts up
/// drains it instead of killing it.
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(StopSignals {
                term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
                int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    /// The next SIGTERM or SIGINT.
    async fn next(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {},
                _ = self.int.recv() => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub(crate) fn run(args: &ServeArgs) -> Result<ExitCode> {
    use std::io::IsTerminal as _;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    let _ = match args.log_format {
        // Colours only for a person at a terminal: a journal or a file gets plain text.
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => logs.json().try_init(),
    };
    let mut config = load_config(args)?;
    let passed = if args.check { None } else { passed_listener()? };
    // Started to replace a running gateway (its SIGUSR2): connected to it now, before the
    // runtime's threads (this reads and clears a variable).
    #[cfg(unix)]
    let successor = if args.check {
        None
    } else {
        crate::handover::Successor::from_env()?
    };
    #[cfg(unix)]
    if let Some(s) = &successor {
        s.prepare(&mut config);
    }
    let listen = config
        .server
        .listen
        .clone()
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    // Built before a check too: it validates `[server] workers`.
    let runtime = config
        .server
        .runtime()
        .context("cannot start the runtime")?;
    if args.check {
        let c = sentinel_gateway::Gateway::check(&config)?;
        outln!(
            "configuration OK: {} gateway keys, policy {}, TLS {}",
            c.keys,
            c.policy_version,
            if c.tls { "on" } else { "off" }
        );
        return Ok(ExitCode::SUCCESS);
    }
    runtime.block_on(async move {
        // First, before the slow part of start-up (compiling detection): a SIGTERM from
        // here on is kept and ends the gateway cleanly as soon as it serves, instead of
        // killing it half-built.
        let mut signals = StopSignals::install()?;
        // Likewise SIGUSR2, whose default action would kill a gateway still starting.
        #[cfg(unix)]
        let mut usr2 =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined2())
                .context("cannot listen for SIGUSR2")?;
        let recorder = sentinel_metrics::prometheus_recorder()?;
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder)
            .map_err(|_| anyhow::anyhow!("a metrics recorder is already installed"))?;
        sentinel_metrics::describe();
        // The configuration it starts with loaded: the reload gauge starts at 1.
        metrics::gauge!(sentinel_metrics::names::CONFIG_LAST_RELOAD_SUCCESSFUL).set(1.0);
        let upkeep = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                upkeep.run_upkeep();
            }
        });
        let gateway = std::sync::Arc::new(sentinel_gateway::Gateway::new(&config, Some(handle))?);
        if matches!(config.fingerprint_key(), Ok(None)) {
            tracing::warn!(
                "no audit fingerprint key (DEEPSENTINEL_FINGERPRINT_KEY, or [audit] fingerprint_key_file): values are fingerprinted under this process's own random key, so records correlate only until it stops, and `deepsentinel audit fingerprint` cannot check a value"
            );
        }
        #[cfg(unix)]
        if let Some(s) = successor {
            s.take_over(&gateway)?;
        }
        #[cfg(unix)]
        {
            let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .context("cannot listen for SIGHUP")?;
            let gateway = std::sync::Arc::clone(&gateway);
            let args = args.clone();
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    // Reading files and building the policy is blocking work.
                    let (args, gateway) = (args.clone(), std::sync::Arc::clone(&gateway));
                    let _ = tokio::task::spawn_blocking(move || reload(&args, &gateway)).await;
                }
            });
        }
        let (listener, listen) = match passed {
            Some(socket) => {
                socket
                    .set_nonblocking(true)
                    .context("cannot use the socket passed in")?;
                let listener = tokio::net::TcpListener::from_std(socket)
                    .context("cannot use the socket passed in")?;
                let addr = listener
                    .local_addr()
                    .map_or_else(|_| "?".to_owned(), |a| a.to_string());
                tracing::info!(
                    listen = %addr,
                    "serving the socket passed in (by the service manager, or by the gateway this one replaces); [server] listen and --listen are not used"
                );
                (listener, addr)
            }
            None => (
                tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?,
                listen,
            ),
        };
        tracing::info!(
            listen = %listen,
            upstream = config.network.upstream.as_deref().unwrap_or("https://api.openai.com/v1"),
            keys = config.keys.len(),
            "deepsentinel gateway ready"
        );
        // Under systemd with `Type=notify`: started, and (after a hand-over, with
        // `NotifyAccess=all`) the process to follow from now on.
        #[cfg(unix)]
        notify(&[
            sd_notify::NotifyState::MainPid(std::process::id()),
            sd_notify::NotifyState::Ready,
        ]);
        // The first signal drains; a second one stops waiting for what is in flight.
        let stop = std::sync::Arc::new(tokio::sync::Notify::new());
        {
            let (gateway, stop) = (std::sync::Arc::clone(&gateway), std::sync::Arc::clone(&stop));
            tokio::spawn(async move {
                signals.next().await;
                // Not said when a hand-over stops this process: the service goes on.
                #[cfg(unix)]
                notify(&[sd_notify::NotifyState::Stopping]);
                stop.notify_one();
                signals.next().await;
                tracing::warn!("second signal: requests still in flight are cut off");
                gateway.hurry_shutdown();
            });
        }
        // SIGUSR2: a new process takes over on this socket; this one then stops.
        #[cfg(unix)]
        {
            use std::os::fd::AsFd as _;
            let socket = listener
                .as_fd()
                .try_clone_to_owned()
                .context("cannot keep the listening socket for a hand-over")?;
            let (gateway, stop) = (std::sync::Arc::clone(&gateway), std::sync::Arc::clone(&stop));
            tokio::spawn(async move {
                let socket = std::sync::Arc::new(socket);
                while usr2.recv().await.is_some() {
                    let (socket, handing) =
                        (std::sync::Arc::clone(&socket), std::sync::Arc::clone(&gateway));
                    let done = tokio::task::spawn_blocking(move || {
                        crate::handover::replace_self(&socket, &handing)
                    })
                    .await
                    .unwrap_or_else(|e| Err(anyhow::anyhow!("the hand-over task failed: {e}")));
                    match done {
                        Ok(()) => {
                            stop.notify_one();
                            return;
                        }
                        Err(e) => {
                            tracing::error!(error = %format!("{e:#}"), "hand-over failed; still serving");
                        }
                    }
                }
            });
        }
        gateway
            .serve(listener, async move {
                stop.notified().await;
            })
            .await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
