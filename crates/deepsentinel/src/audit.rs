//! `deepsentinel audit verify DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain of an audit log directory across rotated files.
    ///
    /// Exit status: 0 when the chain is intact (a torn last line from a crash is reported
    /// as a warning), 1 when any record was edited, removed, reordered or truncated, 2 when
    /// the directory cannot be read.
    Verify {
        /// The audit log directory.
        dir: PathBuf,
    },
}

pub(crate) fn run(cmd: &AuditCommand) -> Result<ExitCode> {
    let AuditCommand::Verify { dir } = cmd;
    if !dir.is_dir() {
        anyhow::bail!("{}: not a directory", dir.display());
    }
    let report =
        sentinel_audit::verify(dir).with_context(|| format!("cannot verify {}", dir.display()))?;
    outln!(
        "{}: {} records in {} files",
        dir.display(),
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
