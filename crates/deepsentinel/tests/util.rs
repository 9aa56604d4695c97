//! Helpers shared by the binary's tests.

use std::process::Command;

/// Runs the binary with `args` (no stdin) and returns its exit code and all it printed.
pub(crate) fn run(args: &[&str]) -> (Option<i32>, String) {
    run_env(args, &[])
}

/// [`run`] with extra environment variables.
pub(crate) fn run_env(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_deepsentinel"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("runs");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), out)
}
