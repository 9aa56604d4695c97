//! `cargo xtask`: the project's automation, one file per task.
//!
//! - `cargo xtask ci`: everything CI checks, in the order a failure is cheapest to see.
//! - `cargo xtask bench [--quick]`: every benchmark, with a JSON record of the results;
//!   `--gateway` the gateway against nginx only, `--instructions` instructions per request
//!   under callgrind only, `--restarts` replacing a gateway under load only, `--large`
//!   small requests beside a client of large ones only; `--pgo` measures the
//!   profile-guided build in the gateway bench.
//! - `cargo xtask pgo`: the profile-guided build of `deepsentinel` (`target/pgo/deepsentinel`).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // reason: a command-line tool's output

mod bench;
mod ci;
mod gateway_bench;
mod instructions;
mod large_bench;
mod pgo;
mod restart_bench;
mod util;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("pgo") if args.len() == 1 => pgo::build().map(|_| ()),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | bench [--quick] [--gateway [--pgo] | --instructions | --restarts | --large] | pgo>"
            );
            std::process::exit(2);
        }
    }
}
