//! Moving a log's rotated files to an archive, so that its disk does not fill.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;

use crate::error::{Error, ErrorKind};
use crate::file::log_files;

/// What [`archive`] moved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// The files moved, oldest first (their names, the same in the archive).
    pub moved: Vec<String>,
    /// Bytes moved.
    pub bytes: u64,
}

/// Moves every rotated file of the log in `dir` (all but the newest, which a writer may
/// be appending to) into the directory `to`, oldest first, keeping their names: renamed
/// when both are on one file system, else copied, synced and then removed. The log and
/// its writer go on as they were; [`crate::verify_all`] checks `to` and `dir` together
/// as one chain.
///
/// Safe while a writer runs: it only ever writes the newest file, and a rotation makes
/// a new newest file only once the one before is complete. A file already in `to` with
/// the same bytes (an archive run that stopped between copying and removing) is taken
/// as moved; with other bytes the archive stops there, moving nothing over it.
///
/// Runs on one archive take turns: each holds [`ARCHIVE_LOCK`] in `to` while it moves
/// (a file system without locks is archived without). A gateway archiving by itself
/// (`[audit] archive_dir`) and a run from cron therefore never move the same file at once.
///
/// # Example
///
/// ```
/// use sentinel_audit::{archive, verify_all, AuditEvent, AuditSink, Direction, FileSink, FileSinkConfig};
/// let (log, to) = (tempfile::tempdir()?, tempfile::tempdir()?);
/// let config = FileSinkConfig::new(log.path()).max_file_bytes(1024);
/// let sink = FileSink::open(config.clone())?;
/// for i in 0..40 {
///     sink.append(AuditEvent::new(&format!("req-{i}"), "acme", Direction::Request))?;
/// }
/// sink.close()?;
/// let moved = archive(log.path(), to.path())?;
/// assert!(!moved.moved.is_empty());
/// // The log goes on where it was.
/// let sink = FileSink::open(config)?;
/// sink.append(AuditEvent::new("req-40", "acme", Direction::Request))?;
/// sink.close()?;
/// let both = verify_all(&[to.path(), log.path()])?;
/// assert!(both.is_intact());
/// assert_eq!(both.records, 41);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// A directory cannot be read or written, or `to` already holds one of the files with
/// other bytes ([`ErrorKind::Io`]); the files moved before that stay moved.
pub fn archive(dir: &Path, to: &Path) -> Result<ArchiveReport, Error> {
    if !to.is_dir() {
        return Err(Error::io(
            to,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        ));
    }
    let lock_path = to.join(ARCHIVE_LOCK);
    let held = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
    match held.lock() {
        Ok(()) => {}
        // Not every file system locks (some network mounts): move without.
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {}
        Err(e) => return Err(Error::io(&lock_path, e)),
    }
    // Listed under the lock: what an earlier run moved is gone from the list.
    let mut files = log_files(dir)?;
    // The newest may be being written.
    files.pop();
    let mut report = ArchiveReport::default();
    for (_, from) in files {
        let Some(name) = from.file_name() else {
            continue;
        };
        let dest = to.join(name);
        let len = match std::fs::metadata(&from) {
            Ok(m) => m.len(),
            // Moved since the list was made (by hand, or a run without the lock).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&from, e)),
        };
        if dest.exists() {
            // Compared only when both read: two failures are not two equal files.
            let same = matches!(
                (std::fs::read(&dest), std::fs::read(&from)),
                (Ok(archived), Ok(here)) if archived == here
            );
            if !same {
                return Err(Error::new(ErrorKind::Io {
                    path: dest.display().to_string(),
                    message: "the archive holds a different file of this name; nothing is \
                              moved over it"
                        .to_owned(),
                }));
            }
            std::fs::remove_file(&from).map_err(|e| Error::io(&from, e))?;
        } else if std::fs::rename(&from, &dest).is_err() {
            // Another file system: a copy under a temporary name, synced, then renamed,
            // so the archive never holds half a file under a log file's name.
            let tmp = to.join(format!(".{}.tmp", name.to_string_lossy()));
            copy_synced(&from, &tmp)?;
            std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))?;
            sync_dir(to)?;
            std::fs::remove_file(&from).map_err(|e| Error::io(&from, e))?;
        }
        report.moved.push(name.to_string_lossy().into_owned());
        report.bytes += len;
    }
    drop(held);
    Ok(report)
}

/// The lock file an [`archive`] run holds in the archive directory.
pub const ARCHIVE_LOCK: &str = ".archive.lock";

fn copy_synced(from: &Path, to: &Path) -> Result<(), Error> {
    let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
    let mut f = File::create(to).map_err(|e| Error::io(to, e))?;
    f.write_all(&bytes).map_err(|e| Error::io(to, e))?;
    f.sync_all().map_err(|e| Error::io(to, e))
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}
