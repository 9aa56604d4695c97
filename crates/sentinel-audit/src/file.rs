//! `FileSink`: hash-chained JSON lines written by a background thread in batches.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};
use crate::event::{AuditEvent, Record};
use crate::sink::{AuditHealth, AuditSink};

/// The head file: the last committed sequence number and hash, rewritten at every sync.
pub(crate) const HEAD: &str = "audit.head";

/// The lock file: a writer holds an exclusive lock on it while the sink is open, so a
/// second writer (another process, or another sink in this one) cannot fork the chain.
pub const LOCK_FILE: &str = "audit.lock";

/// When written records reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `append` returns only after the record is written and fsynced.
    Always,
    /// fsync at most this often (the default, 100 ms): at most that window is lost on
    /// power loss; a process crash loses nothing that was written.
    Interval(Duration),
    /// Never fsync; the operating system decides.
    Never,
}

/// What happens while the log cannot be written (disk full, directory gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailurePolicy {
    /// `append` returns [`ErrorKind::Unavailable`]: the caller refuses the request.
    FailClosed,
    /// `append` succeeds; events that cannot be written are counted as dropped.
    FailOpen,
}

/// Configuration of a [`FileSink`].
#[derive(Clone, Debug)]
pub struct FileSinkConfig {
    /// The directory holding `audit-NNNNNN.jsonl` files.
    pub dir: PathBuf,
    /// When records reach the disk.
    pub durability: Durability,
    /// A file is rotated once it reaches this size (the chain continues in the next).
    pub max_file_bytes: u64,
    /// Events waiting for the writer at most.
    pub queue: usize,
    /// What to do while writes fail.
    pub on_failure: FailurePolicy,
    /// Whether `open` waits for another writer to release the directory (default: it
    /// fails at once with [`ErrorKind::InUse`]).
    pub lock_wait: Option<LockWait>,
    /// Where rotated files are moved, if anywhere ([`FileSinkConfig::archive_to`]).
    pub archive: Option<PathBuf>,
    /// How often the chain's head is logged as an anchor, if at all
    /// ([`FileSinkConfig::anchor_every`]).
    pub anchor_every: Option<Duration>,
}

/// How [`FileSink::open`] waits for a directory another writer holds: the process this
/// one replaces, which hands the log over ([`FileSink::hand_over`]) when told that the
/// new one is ready.
#[derive(Clone)]
pub struct LockWait {
    /// Waits at most this long, then fails with [`ErrorKind::InUse`].
    pub timeout: Duration,
    /// Called once, when the lock is found taken and the wait begins: everything before
    /// the lock is done (a hand-over tells the old process to hand over now).
    pub waiting: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for LockWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockWait")
            .field("timeout", &self.timeout)
            .field("waiting", &self.waiting.is_some())
            .finish()
    }
}

impl FileSinkConfig {
    /// Defaults: interval durability (100 ms), 64 MiB files, a queue of 65,536 events,
    /// fail closed.
    pub fn new(dir: impl Into<PathBuf>) -> FileSinkConfig {
        FileSinkConfig {
            dir: dir.into(),
            durability: Durability::Interval(Duration::from_millis(100)),
            max_file_bytes: 64 << 20,
            queue: 65_536,
            on_failure: FailurePolicy::FailClosed,
            lock_wait: None,
            archive: None,
            anchor_every: None,
        }
    }

    /// Logs the chain's committed head at most this often, when records were added since
    /// the last time: `audit anchor` at level info, with `records`, `hash` and `file`
    /// fields ([`crate::Anchor`]). Where logs go somewhere the log's writer cannot rewrite
    /// (journald, a log collector), [`crate::verify_anchored`] checks the log against them.
    pub fn anchor_every(mut self, every: Duration) -> FileSinkConfig {
        self.anchor_every = Some(every);
        self
    }

    /// Moves rotated files to the directory `to` as they are rotated, by [`archive`] on a
    /// thread of the sink's own (created with the log; never the file being written).
    /// Each rotation, and the sink's start, moves what is there to move; a failed move is
    /// tried again a minute later and at each rotation, and shows in
    /// [`AuditHealth::archive_error`] while it fails; writing goes on either way. The
    /// archive and the log verify as one chain ([`crate::verify_all`]).
    ///
    /// [`archive`]: crate::archive()
    pub fn archive_to(mut self, to: impl Into<PathBuf>) -> FileSinkConfig {
        self.archive = Some(to.into());
        self
    }

    /// Sets the durability.
    pub fn durability(mut self, d: Durability) -> FileSinkConfig {
        self.durability = d;
        self
    }

    /// Sets the rotation size.
    pub fn max_file_bytes(mut self, n: u64) -> FileSinkConfig {
        self.max_file_bytes = n.max(1);
        self
    }

    /// Sets the failure policy.
    pub fn on_failure(mut self, p: FailurePolicy) -> FileSinkConfig {
        self.on_failure = p;
        self
    }
}

enum Msg {
    Event(u64, Box<AuditEvent>),
}

#[derive(Default)]
struct Progress {
    /// Tickets up to this one have been handled (written or dropped).
    handled: u64,
    /// Ticket ranges whose events could not be written.
    failed: VecDeque<(u64, u64)>,
}

struct Shared {
    progress: Mutex<Progress>,
    done: Condvar,
    written: AtomicU64,
    dropped: AtomicU64,
    queued: AtomicU64,
    healthy: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// Files the archiver moved.
    archived: AtomicU64,
    /// The archiver's last error, while it fails.
    archive_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The production [`AuditSink`]: a background thread appends hash-chained JSON lines to
/// `audit-NNNNNN.jsonl` files in a directory, in batches, rotating by size.
///
/// Reopening a directory continues its chain. A torn last line (a crash mid-write) is left
/// as it is and the chain continues in a new file from the last complete record, so
/// [`verify`](crate::verify) reports it as a warning, not as tampering.
pub struct FileSink {
    sender: Mutex<Senders>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    config: FileSinkConfig,
    /// [`LOCK_FILE`], locked until the sink closes.
    held: Mutex<Option<File>>,
}

/// Takes the directory's writer lock ([`LOCK_FILE`]) and notes this process in it; with
/// `wait`, waits for the holder to let go.
fn lock_dir(dir: &Path, wait: Option<&LockWait>) -> Result<File, Error> {
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let mut result = file.try_lock();
    if let (Err(std::fs::TryLockError::WouldBlock), Some(w)) = (&result, wait) {
        if let Some(f) = &w.waiting {
            f();
        }
        let deadline = Instant::now() + w.timeout;
        while matches!(result, Err(std::fs::TryLockError::WouldBlock)) && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
            result = file.try_lock();
        }
    }
    match result {
        Ok(()) => {
            // Who holds it, for the next one's error message; the lock is what counts.
            let _ = file
                .set_len(0)
                .and_then(|()| writeln!(file, "pid {}", std::process::id()));
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            Err(Error::new(ErrorKind::InUse {
                path: dir.display().to_string(),
                holder: holder.trim().chars().take(64).collect(),
            }))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("dir", &self.config.dir)
            .finish_non_exhaustive()
    }
}

/// Where the chain stands.
struct Chain {
    seq: u64,
    prev: LineHash,
}

/// The SHA-256 of a line in lower-case hex, held on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineHash([u8; 64]);

impl LineHash {
    /// The `prev` of the very first record.
    pub(crate) const GENESIS: LineHash = LineHash([b'0'; 64]);

    /// The hash of `line`.
    pub(crate) fn of(line: &[u8]) -> LineHash {
        let mut out = [0u8; 64];
        // 32 bytes always fit 64 digits.
        let _ = hex::encode_to_slice(Sha256::digest(line), &mut out);
        LineHash(out)
    }

    /// The 64 digits.
    pub(crate) fn as_str(&self) -> &str {
        // Hex digits only, so always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// A hash written as [`LineHash::as_str`] writes it: 64 lowercase hex digits.
    pub(crate) fn parse(s: &str) -> Option<LineHash> {
        let digits: [u8; 64] = s.as_bytes().try_into().ok()?;
        digits
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .then_some(LineHash(digits))
    }
}

struct Writer {
    config: FileSinkConfig,
    shared: Arc<Shared>,
    chain: Chain,
    file: Option<(File, u64)>,
    index: u64,
    /// The number of the file the last record went to, for the head.
    last_file: u64,
    /// A batch's serialized lines, kept between batches so they need no allocation.
    lines: Vec<u8>,
    /// Where each of the batch's lines ends in `lines`, and its hash.
    ends: Vec<(usize, LineHash)>,
    last_sync: Instant,
    dirty: bool,
    /// Set when a file was closed for the next, until the archiver is told.
    rotated: bool,
    /// Tells the archiver thread to look (`[audit] archive_dir`); it ends with the writer.
    archiver: Option<(SyncSender<()>, JoinHandle<()>)>,
    /// When the head was last logged as an anchor, and how many records it held.
    anchored: (Instant, u64),
}

pub(crate) fn file_name(index: u64) -> String {
    format!("audit-{index:06}.jsonl")
}

/// The `audit-NNNNNN.jsonl` files of `dir`, sorted by number.
pub(crate) fn log_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, Error> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_prefix("audit-")
            .and_then(|r| r.strip_suffix(".jsonl"))
        {
            if let Ok(i) = n.parse::<u64>() {
                out.push((i, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a log file, at most its recorded length (a device posing as a file, such as
/// `/dev/full`, reads forever).
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, Error> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    f.take(len)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

/// Where a log resumes ([`resume`]).
struct Resumed {
    /// The chain after the last complete record.
    chain: Chain,
    /// The newest file's number.
    newest: u64,
    /// Whether that file ends cleanly (so appending is safe).
    clean: bool,
    /// The number of the file the last record is in (0 before the first).
    last_file: u64,
}

/// Where the log in `dir` resumes: after the last complete record (in the newest file
/// that holds one; with no such file, where the head says the chain stands).
fn resume(dir: &Path) -> Result<Resumed, Error> {
    let files = log_files(dir)?;
    let Some(&(newest, _)) = files.last() else {
        // No file: a new log, or one whose every file was moved to an archive. The head
        // says where the chain stands and which file was last written; the next one
        // follows it, so the archive and this directory still number as one log.
        return Ok(match head(dir) {
            Some((chain, file)) => Resumed {
                chain,
                newest: file + 1,
                clean: true,
                last_file: file,
            },
            None => Resumed {
                chain: Chain {
                    seq: 0,
                    prev: LineHash::GENESIS,
                },
                newest: 1,
                clean: true,
                last_file: 0,
            },
        });
    };
    let mut clean = true;
    for (i, (index, path)) in files.iter().enumerate().rev() {
        let bytes = read_bounded(path)?;
        if i + 1 == files.len() {
            clean = bytes.is_empty() || bytes.ends_with(b"\n");
        }
        let complete = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(end) => &bytes[..end],
            None => continue,
        };
        if let Some(last) = complete
            .rsplit(|&b| b == b'\n')
            .next()
            .filter(|l| !l.is_empty())
        {
            let rec: Record<String, serde_json::Value> =
                serde_json::from_slice(last).map_err(|e| {
                    Error::io(
                        path,
                        std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                    )
                })?;
            return Ok(Resumed {
                chain: Chain {
                    seq: rec.seq + 1,
                    prev: LineHash::of(last),
                },
                newest,
                clean,
                last_file: *index,
            });
        }
    }
    // No file holds a record: a new log, or one whose older files were moved to an
    // archive just after a rotation (the newest file still empty). The head, written at
    // every sync, says where the chain stands; without it the chain starts.
    let (chain, last_file) = head(dir).unwrap_or((
        Chain {
            seq: 0,
            prev: LineHash::GENESIS,
        },
        0,
    ));
    Ok(Resumed {
        chain,
        newest,
        clean,
        last_file,
    })
}

/// The chain as the head file records it (`audit.head`: records committed, the last
/// record's hash, and the number of the file it is in; older heads lack the file, taken
/// as 0), if there is a readable one that records any.
fn head(dir: &Path) -> Option<(Chain, u64)> {
    let text = std::fs::read_to_string(dir.join(HEAD)).ok()?;
    let head: serde_json::Value = serde_json::from_str(&text).ok()?;
    let seq = head["records"].as_u64()?;
    let prev = LineHash::parse(head["hash"].as_str()?)?;
    let file = head["file"].as_u64().unwrap_or(0);
    (seq > 0).then_some((Chain { seq, prev }, file))
}

impl FileSink {
    /// Opens (creating if needed) the log in `config.dir` and starts the writer thread.
    ///
    /// # Errors
    ///
    /// The directory cannot be created or read, its newest file is unreadable, or another
    /// writer holds it ([`ErrorKind::InUse`]: one writer per directory, see [`LOCK_FILE`]).
    pub fn open(config: FileSinkConfig) -> Result<FileSink, Error> {
        let shared = Arc::new(Shared {
            progress: Mutex::new(Progress::default()),
            done: Condvar::new(),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            healthy: AtomicBool::new(true),
            last_error: Mutex::new(None),
            archived: AtomicU64::new(0),
            archive_error: Mutex::new(None),
        });
        let (tx, thread, held) = start(&config, &shared, config.lock_wait.as_ref())?;
        Ok(FileSink {
            sender: Mutex::new(Senders {
                ticket: 0,
                file: Some(tx),
                forward: None,
            }),
            shared,
            thread: Mutex::new(Some(thread)),
            config,
            held: Mutex::new(Some(held)),
        })
    }

    /// Writes what is queued, fsyncs, and stops the writer. Appends after this fail.
    ///
    /// # Errors
    ///
    /// The final write failed (the events are counted as dropped).
    pub fn close(&self) -> Result<(), Error> {
        {
            let mut s = lock(&self.sender);
            s.file = None;
            s.forward = None;
        }
        self.join_thread()?;
        // The writer is gone: another may take the directory (closing the file unlocks).
        lock(&self.held).take();
        match lock(&self.shared.last_error).clone() {
            Some(e) if !self.shared.healthy.load(Ordering::Acquire) => {
                Err(Error::new(ErrorKind::Unavailable(e)))
            }
            _ => Ok(()),
        }
    }

    /// Hands the log over to the process that replaces this one: what is queued is written
    /// and synced, the directory's lock is released (the next writer, waiting in
    /// [`FileSink::open`] with a [`LockWait`], resumes the chain), and each event appended
    /// from then on is written to `to` as one JSON line, for the new writer to append
    /// ([`receive`]). Durability is then the receiver's: `append` returns once the event
    /// is queued for `to`. When writing to `to` fails, the sink turns unhealthy and the
    /// failure policy applies, as for a failing disk.
    ///
    /// # Errors
    ///
    /// The final write to the file failed, or the sink is closed.
    pub fn hand_over(&self, to: impl Write + Send + 'static) -> Result<(), Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Box<AuditEvent>>(self.config.queue.max(1));
        {
            let mut s = lock(&self.sender);
            if s.file.is_none() {
                return Err(Error::new(ErrorKind::Closed));
            }
            // From here on appends go to `to`; the file writer drains what it has.
            s.file = None;
            s.forward = Some(tx);
        }
        self.join_thread()?;
        lock(&self.held).take();
        let shared = Arc::clone(&self.shared);
        let thread = std::thread::Builder::new()
            .name("sentinel-audit-handover".to_owned())
            .spawn(move || forward(&rx, to, &shared))
            .map_err(|e| Error::io(&self.config.dir, e))?;
        *lock(&self.thread) = Some(thread);
        tracing::info!(dir = %self.config.dir.display(), "audit log handed over");
        Ok(())
    }

    /// Takes the log back after a hand-over the other process did not complete (it died
    /// before or after taking the lock; stop it first): waits up to 10 s for the lock,
    /// resumes the chain from what is on disk (what the other process wrote included)
    /// and writes events itself again, healthy. Events already passed to the other process
    /// that it did not write are lost (they were counted as written here); those that could
    /// not be passed on are counted as dropped.
    ///
    /// # Errors
    ///
    /// Nothing was handed over, or the directory cannot be taken (still locked, unreadable).
    pub fn take_back(&self) -> Result<(), Error> {
        if lock(&self.sender).forward.is_none() {
            return Err(Error::new(ErrorKind::Closed));
        }
        let wait = LockWait {
            timeout: Duration::from_secs(10),
            waiting: None,
        };
        let (tx, thread, held) = start(&self.config, &self.shared, Some(&wait))?;
        let forwarder = {
            let mut s = lock(&self.sender);
            s.forward = None;
            s.file = Some(tx);
            lock(&self.thread).replace(thread)
        };
        if let Some(f) = forwarder {
            let _ = f.join();
        }
        *lock(&self.held) = Some(held);
        *lock(&self.shared.last_error) = None;
        self.shared.healthy.store(true, Ordering::Release);
        tracing::warn!(dir = %self.config.dir.display(), "audit log taken back: the hand-over did not complete");
        Ok(())
    }

    fn unavailable(&self) -> Error {
        let why = lock(&self.shared.last_error)
            .clone()
            .unwrap_or_else(|| "writes are failing".to_owned());
        Error::new(ErrorKind::Unavailable(why))
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // Flush and fsync what is queued; errors are already counted and logged.
        let _ = self.close();
    }
}

impl AuditSink for FileSink {
    fn append(&self, event: AuditEvent) -> Result<(), Error> {
        let closed = self.config.on_failure == FailurePolicy::FailClosed;
        if closed && !self.shared.healthy.load(Ordering::Acquire) {
            return Err(self.unavailable());
        }
        let ticket = {
            let mut s = lock(&self.sender);
            let ticket = s.ticket + 1;
            let Some(tx) = s.file.as_ref() else {
                // Handed over: the process that took the log over records it.
                return match &s.forward {
                    Some(to) => self.enqueue(to, Box::new(event), closed).map(|_| ()),
                    None => Err(Error::new(ErrorKind::Closed)),
                };
            };
            if !self.enqueue(tx, Msg::Event(ticket, Box::new(event)), closed)? {
                return Ok(());
            }
            s.ticket = ticket;
            ticket
        };
        if self.config.durability != Durability::Always {
            return Ok(());
        }
        let mut p = lock(&self.shared.progress);
        while p.handled < ticket {
            p = self
                .shared
                .done
                .wait(p)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let failed = p.failed.iter().any(|&(a, b)| (a..=b).contains(&ticket));
        drop(p);
        if failed && closed {
            Err(self.unavailable())
        } else {
            Ok(())
        }
    }

    fn hand_over(&self, to: Box<dyn Write + Send>) -> Result<(), Error> {
        FileSink::hand_over(self, to)
    }

    fn take_back(&self) -> Result<(), Error> {
        FileSink::take_back(self)
    }

    fn health(&self) -> AuditHealth {
        let healthy = self.shared.healthy.load(Ordering::Acquire);
        AuditHealth {
            healthy,
            written: self.shared.written.load(Ordering::Acquire),
            dropped: self.shared.dropped.load(Ordering::Acquire),
            queued: self.shared.queued.load(Ordering::Acquire),
            last_error: if healthy {
                None
            } else {
                lock(&self.shared.last_error).clone()
            },
            archived: self.shared.archived.load(Ordering::Acquire),
            archive_error: lock(&self.shared.archive_error).clone(),
        }
    }
}

impl FileSink {
    /// Queues `msg` for the file's writer or the forwarder, as the failure policy says:
    /// fail-closed waits for room rather than lose the record; fail-open drops it when the
    /// queue is full (counted, logged) and says so with `Ok(false)`.
    fn enqueue<T>(&self, tx: &SyncSender<T>, msg: T, closed: bool) -> Result<bool, Error> {
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        let sent = if closed {
            tx.send(msg).map_err(|_| ())
        } else {
            match tx.try_send(msg) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) => {
                    self.shared.queued.fetch_sub(1, Ordering::AcqRel);
                    let n = self.shared.dropped.fetch_add(1, Ordering::AcqRel) + 1;
                    tracing::error!(dropped = n, "audit queue full: event dropped (fail_open)");
                    return Ok(false);
                }
                Err(TrySendError::Disconnected(_)) => Err(()),
            }
        };
        sent.map(|()| true).map_err(|()| {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            Error::new(ErrorKind::Closed)
        })
    }

    /// Waits for the writer's (or the forwarder's) thread to finish what it was given.
    fn join_thread(&self) -> Result<(), Error> {
        match lock(&self.thread).take() {
            Some(t) => t.join().map_err(|_| {
                Error::new(ErrorKind::Unavailable("audit writer panicked".to_owned()))
            }),
            None => Ok(()),
        }
    }
}

/// Locks `config.dir` (waiting as `wait` says), resumes its chain and starts a writer on
/// it: the writer's channel, its thread and the held lock.
fn start(
    config: &FileSinkConfig,
    shared: &Arc<Shared>,
    wait: Option<&LockWait>,
) -> Result<(SyncSender<Msg>, JoinHandle<()>, File), Error> {
    std::fs::create_dir_all(&config.dir).map_err(|e| Error::io(&config.dir, e))?;
    // Before reading the tail: a chain resumed beside another writer would fork.
    let held = lock_dir(&config.dir, wait)?;
    let Resumed {
        chain,
        newest: index,
        clean,
        last_file,
    } = resume(&config.dir)?;
    let (tx, rx) = std::sync::mpsc::sync_channel(config.queue.max(1));
    let resumed_at = chain.seq;
    let archiver = match &config.archive {
        Some(to) => Some(start_archiver(&config.dir, to, shared)?),
        None => None,
    };
    let writer = Writer {
        config: config.clone(),
        shared: Arc::clone(shared),
        chain,
        file: None,
        // A torn or unreadable tail is never appended to: continue in the next file.
        index: if clean { index } else { index + 1 },
        last_file,
        last_sync: Instant::now(),
        dirty: false,
        lines: Vec::new(),
        ends: Vec::new(),
        // Files rotated before this start are moved too.
        rotated: true,
        archiver,
        anchored: (Instant::now(), resumed_at),
    };
    let thread = std::thread::Builder::new()
        .name("sentinel-audit".to_owned())
        .spawn(move || writer.run(rx))
        .map_err(|e| Error::io(&config.dir, e))?;
    Ok((tx, thread, held))
}

/// How long a failed archive waits before it is tried again without a rotation.
const ARCHIVE_RETRY: Duration = Duration::from_secs(60);

/// Starts the thread that moves the rotated files of `dir` to `to` whenever it is told
/// (and, after a failure, every [`ARCHIVE_RETRY`] until it succeeds). It ends when the
/// sender is dropped. `to` is created if missing, and must not be `dir`.
fn start_archiver(
    dir: &Path,
    to: &Path,
    shared: &Arc<Shared>,
) -> Result<(SyncSender<()>, JoinHandle<()>), Error> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    let same = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?
        == std::fs::canonicalize(to).map_err(|e| Error::io(to, e))?;
    if same {
        return Err(Error::new(ErrorKind::Io {
            path: to.display().to_string(),
            message: "the archive cannot be the log's own directory".to_owned(),
        }));
    }
    let (tell, told) = std::sync::mpsc::sync_channel::<()>(1);
    let (dir, archive, shared) = (dir.to_path_buf(), to.to_path_buf(), Arc::clone(shared));
    let thread = std::thread::Builder::new()
        .name("sentinel-audit-archive".to_owned())
        .spawn(move || {
            let mut failing = false;
            loop {
                let next = if failing {
                    told.recv_timeout(ARCHIVE_RETRY)
                } else {
                    told.recv().map_err(|_| RecvTimeoutError::Disconnected)
                };
                if matches!(next, Err(RecvTimeoutError::Disconnected)) {
                    break;
                }
                failing = archive_once(&dir, &archive, &shared).is_err();
            }
        })
        .map_err(|e| Error::io(to, e))?;
    Ok((tell, thread))
}

/// One archive run for the archiver thread: counted, and its failure kept for
/// [`AuditHealth::archive_error`] and logged once (paths and the system's message only).
fn archive_once(dir: &Path, to: &Path, shared: &Shared) -> Result<(), ()> {
    match crate::archive::archive(dir, to) {
        Ok(report) => {
            shared
                .archived
                .fetch_add(report.moved.len() as u64, Ordering::AcqRel);
            if lock(&shared.archive_error).take().is_some() {
                tracing::warn!(archive = %to.display(), "archiving audit files again");
            }
            if !report.moved.is_empty() {
                tracing::info!(files = report.moved.len(), bytes = report.bytes, archive = %to.display(), "audit files archived");
            }
            Ok(())
        }
        Err(e) => {
            let msg = e.to_string();
            if lock(&shared.archive_error).replace(msg).is_none() {
                tracing::error!(error = %e, archive = %to.display(), "archiving audit files failing; tried again in a minute and at each rotation");
            }
            Err(())
        }
    }
}

/// Who `append` sends to: the file's writer, or after a hand-over the forwarder.
struct Senders {
    /// The last ticket given to an event for the file.
    ticket: u64,
    file: Option<SyncSender<Msg>>,
    forward: Option<SyncSender<Box<AuditEvent>>>,
}

/// Writes handed-over events to `to`, one JSON line each, a batch at a time.
fn forward(rx: &Receiver<Box<AuditEvent>>, mut to: impl Write, shared: &Shared) {
    let mut buf = Vec::with_capacity(64 << 10);
    while let Ok(first) = rx.recv() {
        let mut events = vec![first];
        events.extend(rx.try_iter().take(4095));
        buf.clear();
        for e in &events {
            // An event always serializes: plain fields, strings and maps of strings.
            let _ = serde_json::to_writer(&mut buf, &**e);
            buf.push(b'\n');
        }
        let n = events.len() as u64;
        shared.queued.fetch_sub(n, Ordering::AcqRel);
        match to.write_all(&buf).and_then(|()| to.flush()) {
            Ok(()) => {
                shared.written.fetch_add(n, Ordering::AcqRel);
            }
            Err(e) => {
                shared.dropped.fetch_add(n, Ordering::AcqRel);
                let msg = format!("handing over: {e}");
                if shared.healthy.swap(false, Ordering::AcqRel) {
                    tracing::error!(error = %msg, "audit log hand-over failing");
                }
                *lock(&shared.last_error) = Some(msg);
            }
        }
    }
}

/// Appends the events a [`FileSink::hand_over`] writes, one JSON line each, from `from` to
/// `into` until `from` ends; returns how many. A line that is not an event is skipped and
/// logged (never its content).
///
/// # Errors
///
/// Reading `from` failed, or `into` refused an event.
pub fn receive(from: impl std::io::BufRead, into: &dyn AuditSink) -> Result<u64, Error> {
    let mut n = 0;
    for (i, line) in from.lines().enumerate() {
        let line =
            line.map_err(|e| Error::new(ErrorKind::Unavailable(format!("hand-over: {e}"))))?;
        match serde_json::from_str::<AuditEvent>(&line) {
            Ok(e) => {
                into.append(e)?;
                n += 1;
            }
            Err(e) => {
                tracing::error!(line = i + 1, kind = ?e.classify(), "hand-over: not an audit event; skipped");
            }
        }
    }
    Ok(n)
}

/// The most buffer space the writer keeps between batches for serialized lines.
const KEPT_LINE_BYTES: usize = 1 << 20;

/// How long the writer waits after a batch before looking for the next one (durability
/// `interval` and `never`): at most this much is added to when an event reaches the file.
const LINGER: Duration = Duration::from_millis(2);

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        let tick = match self.config.durability {
            Durability::Interval(d) => d.max(Duration::from_millis(1)),
            _ => Duration::from_millis(200),
        };
        // `always` acknowledges only after the fsync, so its writer must not linger.
        let linger = match self.config.durability {
            Durability::Always => Duration::ZERO,
            _ => LINGER,
        };
        let mut batch = Vec::with_capacity(1024);
        loop {
            let first = match rx.recv_timeout(tick) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            batch.extend(first);
            while batch.len() < 4096 {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            let wrote = !batch.is_empty();
            if wrote {
                self.write_batch(&mut batch);
            }
            self.maybe_sync(false);
            self.maybe_anchor(false);
            if std::mem::take(&mut self.rotated) {
                if let Some((tell, _)) = &self.archiver {
                    // Full: the archiver has not looked since the last time it was told,
                    // and will see this file too.
                    let _ = tell.try_send(());
                }
            }
            if wrote && linger > Duration::ZERO {
                // Let events gather: a writer blocked in `recv` is woken (a futex wake and
                // a task switch) by every append, which on a busy two-core machine costs
                // the request path more than the write; sleeping briefly after a batch
                // means appends in the meantime wake nobody.
                std::thread::sleep(linger);
            }
        }
        self.maybe_sync(true);
        // The last head, so the next process's first anchor has one to follow.
        self.maybe_anchor(true);
        // What the archiver is moving is finished before the sink counts as closed (or
        // handed over), so no two archivers of one log run at once.
        if let Some((tell, thread)) = self.archiver.take() {
            drop(tell);
            let _ = thread.join();
        }
    }

    /// Logs the committed head as an anchor when `anchor_every` has passed (or `now`, as
    /// the writer stops) and records were committed since the last one.
    fn maybe_anchor(&mut self, now: bool) {
        let Some(every) = self.config.anchor_every else {
            return;
        };
        let (at, records) = self.anchored;
        // Only what is synced (`interval`: the last sync was after the last write;
        // `always` syncs each write; `never` never syncs, so what is written counts).
        let synced = match self.config.durability {
            Durability::Interval(_) => !self.dirty,
            Durability::Always | Durability::Never => true,
        };
        if !synced || self.chain.seq == records || (!now && at.elapsed() < every) {
            return;
        }
        tracing::info!(
            records = self.chain.seq,
            hash = self.chain.prev.as_str(),
            file = self.last_file,
            dir = %self.config.dir.display(),
            "audit anchor"
        );
        self.anchored = (Instant::now(), self.chain.seq);
    }

    fn fail(&self, what: &str, e: &std::io::Error) {
        let msg = format!("{what}: {e}");
        if self.shared.healthy.swap(false, Ordering::AcqRel) {
            tracing::error!(error = %msg, dir = %self.config.dir.display(), "audit log write failing");
        }
        *lock(&self.shared.last_error) = Some(msg);
    }

    fn current_file(&mut self) -> Result<&mut (File, u64), std::io::Error> {
        if self.file.is_none() {
            let path = self.config.dir.join(file_name(self.index));
            let f = OpenOptions::new().create(true).append(true).open(&path)?;
            let len = f.metadata()?.len();
            self.file = Some((f, len));
        }
        self.file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no file"))
    }

    fn write_batch(&mut self, batch: &mut Vec<Msg>) {
        let first_ticket = batch.first().map_or(0, |Msg::Event(t, _)| *t);
        let last_ticket = batch.last().map_or(0, |Msg::Event(t, _)| *t);
        let n = batch.len() as u64;
        // Lines are built on a copy of the chain, which advances only once they are written.
        // They are serialized one after another into one reused buffer (no allocation per
        // record); `ends` holds where each line ends and its hash, in hex.
        let mut seq = self.chain.seq;
        let mut lines = std::mem::take(&mut self.lines);
        let mut ends = std::mem::take(&mut self.ends);
        lines.clear();
        ends.clear();
        let mut prev = self.chain.prev;
        for Msg::Event(_, event) in batch.drain(..) {
            let start = lines.len();
            let rec = Record {
                seq,
                prev: prev.as_str(),
                event: &*event,
            };
            if serde_json::to_writer(&mut lines, &rec).is_err() {
                lines.truncate(start);
            }
            prev = LineHash::of(&lines[start..]);
            lines.push(b'\n');
            ends.push((lines.len(), prev));
            seq += 1;
        }
        let result = self.write_lines(&lines, &ends);
        // Kept for the next batch, but not at the size of a rare huge one.
        lines.shrink_to(KEPT_LINE_BYTES);
        self.lines = lines;
        self.ends = ends;
        self.shared.queued.fetch_sub(n, Ordering::AcqRel);
        match result {
            Ok(()) => {
                self.dirty = true;
                self.shared.written.fetch_add(n, Ordering::AcqRel);
                if !self.shared.healthy.swap(true, Ordering::AcqRel) {
                    tracing::warn!(dir = %self.config.dir.display(), "audit log writable again");
                }
            }
            Err(e) => {
                // What reached the file stays (a torn line at worst); the chain resumes
                // in a fresh file from the last record that was fully written.
                let written = self.chain.seq - (seq - n);
                self.shared.written.fetch_add(written, Ordering::AcqRel);
                self.shared.dropped.fetch_add(n - written, Ordering::AcqRel);
                self.fail("write", &e);
                // Move to a new file only when the failed write left bytes behind (a torn
                // line the chain must step around); an untouched file is retried, so a
                // full disk does not leave a trail of empty files.
                let path = self.config.dir.join(file_name(self.index));
                let recorded = self.file.as_ref().map(|(_, len)| *len);
                let actual = std::fs::metadata(&path).map(|m| m.len()).ok();
                self.file = None;
                if recorded.is_none() || actual != recorded {
                    self.index += 1;
                }
                let mut p = lock(&self.shared.progress);
                p.failed.push_back((first_ticket + written, last_ticket));
                while p.failed.len() > 1024 {
                    p.failed.pop_front();
                }
            }
        }
        let mut p = lock(&self.shared.progress);
        p.handled = last_ticket;
        drop(p);
        self.shared.done.notify_all();
    }

    /// Writes a batch's lines (`ends`: where each line ends in `lines`, and its hash), one
    /// write per file segment: lines are gathered until the file would exceed its size,
    /// then written together; the chain advances once a segment is written.
    fn write_lines(
        &mut self,
        lines: &[u8],
        ends: &[(usize, LineHash)],
    ) -> Result<(), std::io::Error> {
        let mut segment = 0; // where the unwritten segment starts in `lines`
        let mut pending: Option<(u64, LineHash)> = None; // its lines, the last one's hash
        let mut start = 0;
        for &(end, hash) in ends {
            let max = self.config.max_file_bytes;
            let len = self.current_file()?.1;
            let gathered = (start - segment) as u64;
            if len + gathered > 0 && len + gathered + (end - start) as u64 > max {
                self.write_segment(&lines[segment..start], pending.take())?;
                segment = start;
                if let Some((f, _)) = &self.file {
                    f.sync_data()?;
                }
                self.file = None;
                self.index += 1;
                self.rotated = true;
            }
            pending = Some((pending.map_or(0, |(n, _)| n) + 1, hash));
            start = end;
        }
        self.write_segment(&lines[segment..start], pending)?;
        if self.config.durability == Durability::Always {
            if let Some((f, _)) = &self.file {
                f.sync_data()?;
            }
            self.write_head()?;
        }
        Ok(())
    }

    /// Writes gathered lines to the current file and advances the chain past them: `lines`
    /// is how many records they are and the hash of the last.
    fn write_segment(
        &mut self,
        segment: &[u8],
        lines: Option<(u64, LineHash)>,
    ) -> Result<(), std::io::Error> {
        let Some((n, last)) = lines else {
            return Ok(());
        };
        let (file, len) = self.current_file()?;
        if let Err(e) = file.write_all(segment) {
            // Undo a partial write so no unchained record stays behind; if even that
            // fails, the caller moves to a new file and `verify` will show the spot.
            let _ = file.set_len(*len);
            return Err(e);
        }
        *len += segment.len() as u64;
        self.chain.seq += n;
        self.chain.prev = last;
        self.last_file = self.index;
        Ok(())
    }

    fn maybe_sync(&mut self, force: bool) {
        let due = match self.config.durability {
            Durability::Interval(d) => self.last_sync.elapsed() >= d,
            Durability::Never | Durability::Always => false,
        };
        if !(self.dirty && (due || force)) {
            return;
        }
        let result = (|| -> Result<(), std::io::Error> {
            if self.config.durability != Durability::Never {
                if let Some((f, _)) = &self.file {
                    f.sync_data()?;
                }
            }
            self.write_head()
        })();
        if let Err(e) = result {
            self.fail("sync", &e);
        }
        self.last_sync = Instant::now();
        self.dirty = false;
    }

    /// Records the committed chain head: `verify` uses it to detect a truncated tail.
    fn write_head(&self) -> Result<(), std::io::Error> {
        let head = serde_json::json!({
            "records": self.chain.seq,
            "hash": self.chain.prev.as_str(),
            "file": self.last_file,
        });
        let tmp = self.config.dir.join(format!("{HEAD}.tmp"));
        std::fs::write(&tmp, head.to_string())?;
        std::fs::rename(tmp, self.config.dir.join(HEAD))
    }
}
