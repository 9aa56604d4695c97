//! The `AuditSink` seam.

use crate::error::Error;
use crate::event::AuditEvent;

/// Where audit events go.
///
/// # Contract
///
/// `append` either records the event (with the sink's durability) or returns an error the
/// caller must act on (refuse the request when the policy is `fail_closed`); a sink never
/// loses an event silently: drops are counted in [`AuditHealth`].
pub trait AuditSink: Send + Sync {
    /// Records one event.
    ///
    /// # Errors
    ///
    /// The sink is unavailable under a `fail_closed` policy, or closed.
    fn append(&self, event: AuditEvent) -> Result<(), Error>;

    /// The sink's health, for `/readyz`, metrics and operators.
    fn health(&self) -> AuditHealth;

    /// Hands the log over to the process replacing this one, which takes the log's
    /// storage from here on; events appended later are written to `to`, one JSON line
    /// each, for that process to record ([`crate::receive`]). See
    /// [`FileSink::hand_over`](crate::FileSink::hand_over).
    ///
    /// # Errors
    ///
    /// The sink cannot be handed over: [`ErrorKind::Unsupported`](crate::ErrorKind) by
    /// default, or what the sink's own hand-over returns.
    fn hand_over(&self, to: Box<dyn std::io::Write + Send>) -> Result<(), Error> {
        drop(to);
        Err(Error::new(crate::ErrorKind::Unsupported))
    }

    /// Takes the log back after a hand-over the other process did not complete. See
    /// [`FileSink::take_back`](crate::FileSink::take_back).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Unsupported`](crate::ErrorKind) by default, or what the sink's own
    /// take-back returns.
    fn take_back(&self) -> Result<(), Error> {
        Err(Error::new(crate::ErrorKind::Unsupported))
    }
}

/// What an operator needs to know about a sink.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditHealth {
    /// False while writes are failing.
    pub healthy: bool,
    /// Events written so far.
    pub written: u64,
    /// Events accepted but not written (disk full, queue full under `fail_open`).
    pub dropped: u64,
    /// Events waiting for the writer.
    pub queued: u64,
    /// The last write error, if the sink is unhealthy.
    pub last_error: Option<String>,
    /// Rotated files moved to the archive by the sink itself (`archive_to`).
    pub archived: u64,
    /// The last archiving error, while moving rotated files fails (the log is written
    /// regardless).
    pub archive_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_is_object_safe() {
        fn takes(s: Box<dyn AuditSink>) -> bool {
            s.health().healthy
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sink = crate::FileSink::open(crate::FileSinkConfig::new(dir.path()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(takes(Box::new(sink)));
    }
}
