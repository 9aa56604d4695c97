//! `cargo xtask ci`: the whole test suite, as CI runs it on a fresh machine.
//!
//! Formatting, lints with warnings denied, every test (unit, integration, property,
//! doc tests, and each criterion bench run once in test mode), the docs with warnings
//! denied, and the main job as a smoke test. Every cargo step runs with `--all-features`,
//! so feature-gated code (the Redis cache level) is built, linted and tested.
//!
//! Set-up comes first: programs the tests start for themselves on 127.0.0.1 (redis-server)
//! or run (headless chromium) are installed from the distribution's packages when missing
//! (`apt-get`, as root or through `sudo -n`), and a Python virtual environment in
//! `target/e2e-venv` gets the official `openai` and `anthropic` packages and `litellm` from
//! PyPI; the gateway's end-to-end tests (feature `e2e`) use them. Nothing else needs the
//! network.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context as _, Result};

use crate::util::{self, cargo};

/// Programs the tests need, and the Debian package of each.
const TOOLS: &[(&str, &str)] = &[("redis-server", "redis-server"), ("chromium", "chromium")];

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

/// Installs the packages of missing [`TOOLS`].
fn set_up() -> Result<()> {
    ensure(TOOLS)
}

/// Installs the Debian packages of the missing programs in `tools` (program, package).
pub(crate) fn ensure(tools: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Command {
        let mut c = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    // The package lists may be empty on a fresh machine; an update failure is not fatal
    // when the packages are already known.
    let _ = util::run("apt-get update", &mut apt(&["update", "-q"]));
    let mut install = apt(&["install", "-y", "-q"]);
    install.args(&missing);
    util::run(
        &format!("apt-get install {}", missing.join(" ")),
        &mut install,
    )
    .with_context(|| {
        format!(
            "the tests need {}; install them and rerun",
            missing.join(", ")
        )
    })?;
    for (program, _) in tools {
        if !on_path(program) {
            bail!("{program} is still not on PATH after installing its package");
        }
    }
    Ok(())
}

/// A Python virtual environment with the official `openai` and `anthropic` packages and
/// `litellm` (whose Presidio guardrail the gateway's Presidio routes are tested with), for
/// the gateway's end-to-end tests; returns its interpreter.
fn python_venv() -> Result<std::path::PathBuf> {
    // Not canonicalized: the venv's python is a symlink to the base interpreter, and
    // resolving it would lose the venv (and its packages).
    let venv = util::root().join("target").join("e2e-venv");
    let python = venv.join("bin").join("python");
    let has_sdks = |p: &Path| {
        Command::new(p)
            .args(["-c", "import openai, anthropic, litellm"])
            .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.is_file() && has_sdks(&python) {
        return Ok(python);
    }
    let create = |venv: &Path| {
        Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !create(&venv) {
        // Debian splits venv support out of python3.
        let mut apt = Command::new("apt-get");
        apt.args(["install", "-y", "-q", "python3-venv"])
            .env("DEBIAN_FRONTEND", "noninteractive");
        util::run("apt-get install python3-venv", &mut apt)?;
        if !create(&venv) {
            bail!(
                "cannot create a Python virtual environment in {}",
                venv.display()
            );
        }
    }
    util::run(
        "pip install openai anthropic litellm (for the gateway's end-to-end tests)",
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "-q",
            "openai",
            "anthropic",
            "litellm",
        ]),
    )?;
    if !has_sdks(&python) {
        bail!("the openai, anthropic and litellm packages did not install");
    }
    Ok(python)
}

/// Free space a clean run needs, in MiB: a clean clone's run left 2.2 GB in `target/`
/// (5.4 GB before incremental state and dependency debug info were dropped); the rest is
/// room for the registry cache and the distribution packages the tests install.
const NEEDS_MIB: u64 = 4 * 1024;

/// Fails early, with a message that says why, when the disk holding `target/` has less
/// free space than a clean run writes; a build that runs out of disk half-way fails with
/// a compiler error that names a random object file instead.
fn check_disk() -> Result<()> {
    let target = util::root().join("target");
    let at = if target.is_dir() {
        target
    } else {
        util::root()
    };
    let Ok(out) = Command::new("df").arg("-Pm").arg(&at).output() else {
        // No df: nothing to check with; the build reports a full disk itself.
        return Ok(());
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // POSIX format: a header line, then "filesystem blocks used available capacity mount".
    let free = text
        .lines()
        .nth(1)
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|n| n.parse::<u64>().ok());
    match free {
        Some(free) if free < NEEDS_MIB => bail!(
            "only {free} MiB free on the disk holding {}; a clean CI run writes up to \
             {NEEDS_MIB} MiB there. Free some space (old target/ directories, clones) and rerun",
            at.display()
        ),
        _ => Ok(()),
    }
}

/// `cargo` for CI: incremental compilation off, since a CI build is never rebuilt and
/// its incremental state would take gigabytes of disk for nothing.
fn cargo_ci() -> Command {
    let mut c = cargo();
    c.env("CARGO_INCREMENTAL", "0");
    c
}

/// The seed of the property tests' random cases: `PROPTEST_RNG_SEED` when set, else one
/// taken from the commit, so a run of one commit draws the same cases wherever it runs (a
/// failure CI finds reproduces with `cargo xtask ci`, or with the printed seed and `cargo
/// test`) while every new commit draws new ones. `None` outside a git checkout: random.
fn property_seed() -> Option<String> {
    if let Ok(seed) = std::env::var("PROPTEST_RNG_SEED") {
        return Some(seed);
    }
    let commit = util::revision()?;
    let seed = u64::from_str_radix(commit.get(..16)?, 16).ok()?;
    Some(seed.to_string())
}

pub(crate) fn run_all() -> Result<()> {
    check_disk()?;
    set_up()?;
    let python = python_venv()?;
    util::run(
        "cargo fmt --check",
        cargo_ci().args(["fmt", "--all", "--", "--check"]),
    )?;
    util::run(
        "cargo clippy (warnings denied)",
        cargo_ci().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    let mut tests = cargo_ci();
    tests
        .args(["test", "--workspace", "--all-targets", "--all-features"])
        .env("DEEPSENTINEL_TEST_PYTHON", &python)
        .env("DEEPSENTINEL_TEST_CHROMIUM", "chromium");
    if let Some(seed) = property_seed() {
        eprintln!("\n==> property tests seeded: PROPTEST_RNG_SEED={seed}");
        tests.env("PROPTEST_RNG_SEED", seed);
    }
    util::run("cargo test (all targets, benches once)", &mut tests)?;
    util::run(
        "cargo test --doc",
        cargo_ci().args(["test", "--workspace", "--doc", "--all-features"]),
    )?;
    util::run(
        "cargo doc (warnings denied)",
        cargo_ci()
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    // The README's main job: findings in the shipped example mean exit status 1.
    eprintln!("\n==> deepsentinel scan examples/prompt.txt (expects exit status 1)");
    let status = cargo_ci()
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
