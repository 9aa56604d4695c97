//! Replacing a running gateway without a pause (`kill -USR2 PID`), as nginx's binary
//! upgrade does: the running process starts its executable again (the same path and
//! arguments, so a binary replaced on disk is the new version) on the same listening
//! socket, and the two agree on a hand-over through a Unix socket:
//!
//! 1. the new process checks its configuration, compiles detection and builds everything
//!    up to the audit log, whose lock the old one holds, and says `waiting`;
//! 2. the old one hands the audit log over ([`sentinel_audit::AuditSink::hand_over`]): it
//!    writes what it has queued, releases the lock, and from then on sends its events to
//!    the new process through the same socket, one JSON line each;
//! 3. the new process takes the lock, resumes the chain, says `serving` and accepts on
//!    the shared socket, appending the old one's events as they come
//!    ([`sentinel_audit::receive`]);
//! 4. the old one stops as on SIGTERM: unready, no more accepting, a drain of what is in
//!    flight, whose audit events still reach the one chain through the new process.
//!
//! Connections never queue behind a drain or a start-up: until the old process stops
//! accepting, the new one already does. If the new process fails before it says
//! `waiting`, nothing was handed over and the old one carries on; if it fails after, it
//! is stopped and the old one takes the log back ([`sentinel_audit::AuditSink::take_back`])
//! and carries on.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use sentinel_client::SentinelConfig;
use sentinel_gateway::Gateway;

/// The variable naming the hand-over socket in the new process.
const ENV: &str = "DEEPSENTINEL_HANDOVER";

/// How long the old process waits for the new one to reach each step.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// This executable: a binary replaced on disk (a package upgrade renames over it) is
/// named by its path, not by the deleted file the running process came from.
fn executable() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let name = exe.to_string_lossy();
    Ok(match name.strip_suffix(" (deleted)") {
        Some(path) => PathBuf::from(path),
        None => exe,
    })
}

/// The old process's side: starts the new one on `socket` and leads it through the
/// hand-over. `Ok` once the new process serves (the caller then stops as on SIGTERM);
/// an error when it did not get that far, with this process still serving. Blocking: run
/// it off the runtime's threads.
pub(crate) fn replace_self(socket: &OwnedFd, gateway: &Gateway) -> Result<()> {
    use command_fds::{CommandFdExt, FdMapping};
    let path = std::env::temp_dir().join(format!(
        "deepsentinel-handover-{}-{}.sock",
        std::process::id(),
        fastrand::u32(..)
    ));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).context("cannot make the hand-over socket")?;
    listener.set_nonblocking(true)?;
    let exe = executable()?;
    let mut command = std::process::Command::new(&exe);
    command
        .args(std::env::args_os().skip(1))
        .env(ENV, &path)
        .env("LISTEN_FDS", "1")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDS_FIRST_FD")
        .stdin(std::process::Stdio::null());
    command
        .fd_mappings(vec![FdMapping {
            parent_fd: socket
                .try_clone()
                .context("cannot share the listening socket")?,
            child_fd: 3,
        }])
        .context("cannot pass the listening socket")?;
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    tracing::info!(pid = child.id(), exe = %exe.display(), "hand-over: started the new process");
    let mut handed = false;
    let result = lead(&listener, &mut child, gateway, &mut handed);
    let _ = std::fs::remove_file(&path);
    if result.is_err() {
        // The new process must not serve beside this one.
        let _ = child.kill();
        let _ = child.wait();
        if handed {
            // It failed holding the log, or about to take it: the log comes back here.
            if let Some(sink) = gateway.pipeline().audit() {
                match sink.take_back() {
                    Ok(()) => tracing::warn!(
                        "hand-over: the audit log is back with this process, which keeps serving"
                    ),
                    Err(e) => tracing::error!(
                        error = %e,
                        "hand-over: cannot take the audit log back; this process cannot \
                         record (fail_closed refuses requests): restart the gateway"
                    ),
                }
            }
        }
    }
    result
}

/// Polls `attempt` every 100 ms until it gives a value, the new process exits, or the
/// step's time is up.
fn within<T>(
    child: &mut std::process::Child,
    what: &str,
    mut attempt: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(v) = attempt()? {
            return Ok(v);
        }
        if let Some(status) = child.try_wait()? {
            bail!("the new process exited ({status}) before {what}");
        }
        if Instant::now() > deadline {
            bail!("the new process did not get to {what} within {STEP_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads the new process's next word.
fn step(
    from: &mut BufReader<UnixStream>,
    child: &mut std::process::Child,
    expect: &str,
) -> Result<()> {
    let mut line = String::new();
    let said = within(child, expect, || match from.read_line(&mut line) {
        Ok(0) => bail!("the new process closed the hand-over before {expect:?}"),
        Ok(_) => Ok(Some(std::mem::take(&mut line))),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    })?;
    if said.trim_end() != expect {
        bail!("the new process said {:?}, not {expect:?}", said.trim_end());
    }
    Ok(())
}

fn lead(
    listener: &UnixListener,
    child: &mut std::process::Child,
    gateway: &Gateway,
    handed: &mut bool,
) -> Result<()> {
    let stream = within(child, "connecting", || match listener.accept() {
        Ok((s, _)) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e.into()),
    })?;
    // Blocking, with a short read timeout to watch the process between reads; the
    // audit forwarder writes to a second descriptor of the same socket.
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    let events = stream.try_clone()?;
    let mut from = BufReader::new(stream);
    step(&mut from, child, "waiting")?;
    if let Some(sink) = gateway.pipeline().audit() {
        sink.hand_over(Box::new(events))
            .context("cannot hand the audit log over")?;
        *handed = true;
    }
    step(&mut from, child, "serving")?;
    tracing::info!(
        pid = child.id(),
        "hand-over: the new process serves; stopping"
    );
    Ok(())
}

/// The new process's side, when it was started by a hand-over: connected to the old
/// process before the slow part of start-up.
pub(crate) struct Successor {
    stream: Arc<Mutex<UnixStream>>,
    said_waiting: Arc<AtomicBool>,
}

impl Successor {
    /// The hand-over this process was started for, if any (the variable is cleared).
    pub(crate) fn from_env() -> Result<Option<Successor>> {
        let Some(path) = std::env::var_os(ENV) else {
            return Ok(None);
        };
        std::env::remove_var(ENV);
        let stream = UnixStream::connect(&path).context("cannot reach the process to replace")?;
        Ok(Some(Successor {
            stream: Arc::new(Mutex::new(stream)),
            said_waiting: Arc::new(AtomicBool::new(false)),
        }))
    }

    fn say(stream: &Mutex<UnixStream>, word: &str) -> std::io::Result<()> {
        let mut s = stream
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.write_all(format!("{word}\n").as_bytes())
    }

    /// Makes opening the audit log wait for the old process, saying `waiting` when it
    /// starts to.
    pub(crate) fn prepare(&self, config: &mut SentinelConfig) {
        let (stream, said) = (Arc::clone(&self.stream), Arc::clone(&self.said_waiting));
        config.audit.lock_wait = Some(sentinel_audit::LockWait {
            timeout: STEP_TIMEOUT,
            waiting: Some(Arc::new(move || {
                if !said.swap(true, Ordering::AcqRel) {
                    let _ = Successor::say(&stream, "waiting");
                }
            })),
        });
    }

    /// Built and about to accept: takes the log over (when the lock was free, the old
    /// process is told `waiting` now), says `serving`, and appends the old process's
    /// events as they come, on a thread of their own, until it exits.
    pub(crate) fn take_over(self, gateway: &Gateway) -> Result<()> {
        if !self.said_waiting.swap(true, Ordering::AcqRel) {
            Successor::say(&self.stream, "waiting")?;
        }
        Successor::say(&self.stream, "serving")?;
        let incoming = self
            .stream
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .try_clone()?;
        let sink = gateway.pipeline().audit().cloned();
        std::thread::Builder::new()
            .name("deepsentinel-handover".to_owned())
            .spawn(move || {
                let from = BufReader::new(incoming);
                let received = match &sink {
                    Some(sink) => sentinel_audit::receive(from, sink.as_ref()),
                    None => Ok(from.lines().count() as u64),
                };
                match received {
                    Ok(n) => tracing::info!(
                        events = n,
                        "hand-over: the replaced process is gone; its events are recorded"
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "hand-over: recording the replaced process's events failed");
                    }
                }
            })
            .context("cannot start the hand-over thread")?;
        tracing::info!("hand-over: took over from the replaced process");
        Ok(())
    }
}
