//! `cargo xtask ci`: the whole test suite, as CI runs it on a fresh machine.
//!
//! Formatting, lints with warnings denied, every test (unit, integration, property,
//! doc tests, and each criterion bench run once in test mode), the docs with warnings
//! denied, and the main job as a smoke test. Nothing here needs the network: issue 2's
//! layer needs no service; later layers add their set-up (redis, a Python venv) here.

use anyhow::{bail, Result};

use crate::util::{self, cargo};

pub(crate) fn run_all() -> Result<()> {
    util::run(
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    util::run(
        "cargo clippy (warnings denied)",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    util::run(
        "cargo test (all targets, benches once)",
        cargo().args(["test", "--workspace", "--all-targets"]),
    )?;
    util::run(
        "cargo test --doc",
        cargo().args(["test", "--workspace", "--doc"]),
    )?;
    util::run(
        "cargo doc (warnings denied)",
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    // The README's main job: findings in the shipped example mean exit status 1.
    eprintln!("\n==> deepsentinel scan examples/prompt.txt (expects exit status 1)");
    let status = cargo()
        .args([
            "run",
            "--quiet",
            "-p",
            "deepsentinel",
            "--",
            "scan",
            "examples/prompt.txt",
        ])
        .status()?;
    if status.code() != Some(1) {
        bail!("the main job should report findings (exit 1), got {status}");
    }
    eprintln!("\nci: all checks passed");
    Ok(())
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    if let Some(a) = args.first() {
        bail!("cargo xtask ci takes no arguments (got {a})");
    }
    run_all()
}
