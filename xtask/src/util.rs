//! Running commands from the workspace root, loudly.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root (the parent of this crate's directory).
pub(crate) fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// `cargo` as the one running us.
pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    c.current_dir(root());
    c
}

/// Runs `cmd`, echoing it; fails when it fails.
pub(crate) fn run(what: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("\n==> {what}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start: {what}"))?;
    if !status.success() {
        bail!("failed: {what} ({status})");
    }
    Ok(())
}

/// Runs `cmd` and returns its standard output.
pub(crate) fn output(what: &str, cmd: &mut Command) -> Result<String> {
    eprintln!("\n==> {what}");
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start: {what}"))?;
    if !out.status.success() {
        bail!("failed: {what} ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The commit checked out (`git rev-parse HEAD`), or `None` outside a git checkout.
pub(crate) fn revision() -> Option<String> {
    output(
        "git revision",
        Command::new("git")
            .current_dir(root())
            .args(["rev-parse", "HEAD"]),
    )
    .ok()
    .map(|s| s.trim().to_owned())
}
