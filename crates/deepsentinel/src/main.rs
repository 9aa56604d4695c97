//! The `deepsentinel` command line.
#![forbid(unsafe_code)]

/// `println!` that hands a failed write (a reader that closed the pipe) back as an error
/// instead of panicking; `main` ends quietly on a closed pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

mod audit;
#[cfg(unix)]
mod handover;
mod hashing;
mod loadtest;
mod policy;
mod scan;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// glibc's allocator took about a fifth of the gateway's CPU time under load (perf, 16
/// clients, PII prompts: malloc, free and the consolidation of freed 4 KB bodies);
/// mimalloc's per-thread free lists avoid most of it (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// DeepSentinel: find and redact PII, card data, health identifiers and secrets.
#[derive(Debug, Parser)]
#[command(name = "deepsentinel", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan files, directories or stdin for sensitive values.
    ///
    /// Exit status: 0 when nothing was found, 1 when something was, 2 on any error (a file
    /// that cannot be read or is not UTF-8, a bad record, a bad configuration). Matched
    /// values are printed only in text format and only with --show-values.
    Scan(scan::ScanArgs),
    /// Check and explain policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Work with the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Run the gateway: OpenAI- and Anthropic-compatible routes over the pipeline.
    Serve(serve::ServeArgs),
    /// Gateway API keys.
    #[command(subcommand)]
    Key(serve::KeyCommand),
    /// Load-test a gateway (or any HTTP server) with weighted scenarios.
    ///
    /// Exit status: 0 when every request succeeded, 1 when some failed, 2 on an error.
    Loadtest(loadtest::LoadtestArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Audit(cmd) => audit::run(&cmd),
        Command::Policy(cmd) => policy::run(&cmd),
        Command::Serve(args) => serve::run(&args),
        Command::Key(cmd) => serve::key(&cmd),
        Command::Loadtest(args) => loadtest::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            // The reader went away (`deepsentinel scan ... | head`): end as a process that
            // SIGPIPE ended would, without a message.
            ExitCode::from(141)
        }
        Err(e) => {
            #[allow(clippy::print_stderr)] // reason: the binary's error report
            {
                eprintln!("deepsentinel: error: {e:#}");
            }
            ExitCode::from(2)
        }
    }
}
