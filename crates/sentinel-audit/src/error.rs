//! Audit errors.

/// An audit error: the sink cannot record, or a log cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
    #[source]
    source: Option<std::io::Error>,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The sink is failing (disk full, directory unwritable) and its policy is
    /// `fail_closed`: the caller must refuse the request.
    #[error("audit log unavailable: {0}")]
    Unavailable(String),
    /// The sink was closed.
    #[error("audit log closed")]
    Closed,
    /// Another writer holds the log directory's lock (`audit.lock`): another gateway or
    /// client process, or another sink in this one, with the same directory.
    #[error("audit log {path} is in use by another writer ({holder}); give each writer a directory of its own")]
    InUse {
        /// The directory.
        path: String,
        /// Who holds it, as its lock file says (`pid N`), if it says.
        holder: String,
    },
    /// The sink cannot do what was asked (a hand-over, for a sink without one).
    #[error("this audit sink cannot be handed over")]
    Unsupported,
    /// A file or directory could not be read or written.
    #[error("audit I/O error on {path}: {message}")]
    Io {
        /// The path involved.
        path: String,
        /// The operating system's message.
        message: String,
    },
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// An error of `kind`, for other [`AuditSink`](crate::AuditSink) implementations.
    pub fn new(kind: ErrorKind) -> Error {
        Error { kind, source: None }
    }

    pub(crate) fn io(path: &std::path::Path, e: std::io::Error) -> Error {
        Error {
            kind: ErrorKind::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            },
            source: Some(e),
        }
    }
}
