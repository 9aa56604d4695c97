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
    /// With `--anchors`, the chain is also checked against anchors kept outside the log
    /// (copies of `audit.head`, or the gateway's `audit anchor` log lines): this catches a
    /// log rewritten whole, head and all, by someone who could write its directory.
    ///
    /// Exit status: 0 when the chain is intact (a torn last line from a crash is reported
    /// as a warning), 1 when any record was edited, removed, reordered or truncated, a
    /// file is missing, or an anchor does not match, 2 when a directory or an anchors file
    /// cannot be read or the anchors file holds none.
    Verify {
        /// A file of anchors: lines holding `records` and `hash` (copies of `audit.head`,
        /// or log lines `audit anchor records=N hash=H`); other lines are skipped. May be
        /// given more than once; `-` reads standard input.
        #[arg(long = "anchors", value_name = "FILE")]
        anchors: Vec<PathBuf>,
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
    /// Print the audit fingerprint of each value read from standard input (one a line),
    /// under the deployment's key, to search a log for a value without the log holding it
    /// (a data subject's address, a leaked key): `grep` the printed `hmac:...` in the log.
    ///
    /// The key comes from the configuration's `[audit] fingerprint_key_file` or
    /// `fingerprint_key_env` (default `DEEPSENTINEL_FINGERPRINT_KEY`), as the gateway reads
    /// it; without one there is nothing to compare with (each gateway process then used a
    /// random key of its own), and the command fails. Values are never printed or logged.
    Fingerprint {
        /// The entity type the values were found as (`EMAIL_ADDRESS`, `US_SSN`, ...): the
        /// fingerprint covers it.
        #[arg(long)]
        entity: String,
        /// The gateway's configuration file (for its `[audit]` key settings).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub(crate) fn run(cmd: &AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Fingerprint { entity, config } => fingerprint(entity, config.as_deref()),
        AuditCommand::Verify { anchors, dirs } => verify(dirs, &read_anchors(anchors)?),
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
            verify(&[archive.clone(), dir.clone()], &[])
        }
    }
}

/// Prints the fingerprint of each line of standard input, as `entity` values.
fn fingerprint(entity: &str, config: Option<&std::path::Path>) -> Result<ExitCode> {
    let config = match config {
        Some(path) => sentinel_client::SentinelConfig::load(path)?,
        None => sentinel_client::SentinelConfig::default(),
    };
    let Some(key) = config.fingerprint_key()? else {
        anyhow::bail!(
            "no fingerprint key: set DEEPSENTINEL_FINGERPRINT_KEY (or [audit] fingerprint_key_file or fingerprint_key_env) as the gateway has it; a gateway without one used a random key of its own"
        );
    };
    let f = sentinel_client::Fingerprinter::new(&key);
    let input = std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?;
    for value in input.lines().filter(|l| !l.is_empty()) {
        outln!("{}", f.print(entity, value));
    }
    Ok(ExitCode::SUCCESS)
}

/// The anchors the files hold (their other lines skipped); an error when a file cannot be
/// read or the files hold none (a wrong file would otherwise check nothing).
fn read_anchors(files: &[PathBuf]) -> Result<Vec<sentinel_audit::Anchor>> {
    let mut anchors = Vec::new();
    for f in files {
        let text = if f.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).context("cannot read anchors from stdin")?
        } else {
            std::fs::read_to_string(f)
                .with_context(|| format!("cannot read anchors from {}", f.display()))?
        };
        anchors.extend(text.lines().filter_map(sentinel_audit::Anchor::parse_line));
    }
    if !files.is_empty() && anchors.is_empty() {
        let named: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        anyhow::bail!(
            "{}: no anchor (a line with records=N and hash=H, or a copy of audit.head)",
            named.join(", ")
        );
    }
    Ok(anchors)
}

fn verify(dirs: &[PathBuf], anchors: &[sentinel_audit::Anchor]) -> Result<ExitCode> {
    for dir in dirs {
        if !dir.is_dir() {
            anyhow::bail!("{}: not a directory", dir.display());
        }
    }
    let named: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let named = named.join(" + ");
    let paths: Vec<&std::path::Path> = dirs.iter().map(PathBuf::as_path).collect();
    let report = sentinel_audit::verify_anchored(&paths, anchors)
        .with_context(|| format!("cannot verify {named}"))?;
    outln!(
        "{named}: {} records in {} files",
        report.records,
        report.files
    );
    if !anchors.is_empty() {
        outln!(
            "{} of {} anchors checked",
            report.anchors,
            anchors.iter().filter(|a| a.records > 0).count()
        );
    }
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
