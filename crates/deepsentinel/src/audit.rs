//! `deepsentinel audit verify [ARCHIVE...] DIR` and `deepsentinel audit archive DIR ARCHIVE`.

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
    /// Move an audit log's rotated files (all but the newest) into an archive directory,
    /// then check the archive and the log together as one chain.
    ///
    /// Safe while the gateway runs: it only writes the newest file. Exit status: 0 moved
    /// (or nothing to move) and intact, 1 the chain is broken, 2 a directory cannot be read
    /// or written, or the archive holds a different file of the same name.
    Archive {
        /// The audit log directory.
        dir: PathBuf,
        /// The archive: an existing directory, on this or another file system.
        archive: PathBuf,
    },
}

pub(crate) fn run(cmd: &AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { dirs } => verify(dirs),
        AuditCommand::Archive { dir, archive } => {
            let report = sentinel_audit::archive(dir, archive).with_context(|| {
                format!(
                    "cannot archive {} into {}",
                    dir.display(),
                    archive.display()
                )
            })?;
            outln!(
                "moved {} files ({} bytes) from {} to {}",
                report.moved.len(),
                report.bytes,
                dir.display(),
                archive.display()
            );
            verify(&[archive.clone(), dir.clone()])
        }
    }
}

fn verify(dirs: &[PathBuf]) -> Result<ExitCode> {
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
