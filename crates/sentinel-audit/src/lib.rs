//! DeepSentinel's audit log: every decision recorded so that an auditor can trust the
//! record, and no record holds a raw sensitive value.
//!
//! # Why a chain, and why a background writer
//!
//! Each line is one JSON object that carries the SHA-256 of the line before it, so editing,
//! deleting, reordering or dropping records (or whole files) breaks the chain, and
//! [`verify`] says where. The [`AuditSink`] seam lets the pipeline record without knowing
//! where records go; [`FileSink`] is the production implementation: events are handed to a
//! background thread that writes them in batches (group commit), so the request path never
//! waits for the disk unless durability `always` asks it to.
//!
//! # Example: record, close, verify
//!
//! ```
//! use sentinel_audit::{AuditEvent, AuditSink, Direction, FileSink, FileSinkConfig};
//! let dir = tempfile::tempdir()?;
//! let sink = FileSink::open(FileSinkConfig::new(dir.path()))?;
//! let mut event = AuditEvent::new("req-1", "acme", Direction::Request);
//! event.decision = "transform".into();
//! event.entities.insert("EMAIL_ADDRESS".into(), 1);
//! sink.append(event)?;
//! sink.close()?;
//! let report = sentinel_audit::verify(dir.path())?;
//! assert_eq!(report.records, 1);
//! assert!(report.is_intact());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod archive;
mod error;
mod event;
mod file;
mod sink;
mod verify;

pub use archive::{archive, ArchiveReport, ARCHIVE_LOCK};
pub use error::{Error, ErrorKind};
pub use event::{AuditEvent, Direction, Fingerprint, FingerprintParseError};
pub use file::{receive, Durability, FailurePolicy, FileSink, FileSinkConfig, LockWait, LOCK_FILE};
pub use sink::{AuditHealth, AuditSink};
pub use verify::{verify, verify_all, verify_anchored, Anchor, Break, VerifyReport};
