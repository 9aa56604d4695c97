//! `deepsentinel audit verify [ARCHIVE...] DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain of an audit log directory across rotated files.
    ///
    /// Rotated files moved to an archive (to free the log's disk) are checked with it:
    /// name the archive directories first, oldest first, and the log last; the chain must
    /// run through all of them without a gap.
    ///
    /// Exit status: 0 when the chain is intact (a torn last line from a crash is reported
    /// as a warning), 1 when any record was edited, removed, reordered or truncated, or a
    /// file is missing, 2 when a directory cannot be read.
    Verify {
        /// The audit log directory, after the archives of its older files, if any.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

pub(crate) fn run(cmd: &AuditCommand) -> Result<ExitCode> {
    let AuditCommand::Verify { dirs } = cmd;
    for dir in dirs {
        if !dir.is_dir() {
            anyhow::bail!("{}: not a directory", dir.display());
        }
    }
    let named: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let named = named.join(" + ");
    let paths: Vec<&std::path::Path> = dirs.iter().map(PathBuf::as_path).collect();
    let report =
        sentinel_audit::verify_all(&paths).with_context(|| format!("cannot verify {named}"))?;
    outln!(
        "{named}: {} records in {} files",
        report.records,
        report.files
    );
    for (file, line) in &report.torn {
        outln!("warning: {file}:{line}: incomplete last line (a writer stopped mid-record); the chain continues");
    }
    match &report.first_break {
        None => {
            outln!("chain intact");
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            outln!("TAMPERED: {}:{}: {}", b.file, b.line, b.reason);
            Ok(ExitCode::from(1))
        }
    }
}
