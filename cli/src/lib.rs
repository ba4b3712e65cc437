//! # agentctl
//!
//! The operator's command line for the migration from org-owned service accounts to agent
//! identities. It talks to the HTTP API, local (`agentid-local`) or deployed.
//!
//! - [`args`]: every command and flag, with the help text that teaches the six steps.
//! - [`config`]: where the API is and who the caller is (never a token on disk).
//! - [`client`]: the HTTP API over blocking HTTPS, retrying only what is safe to repeat.
//! - [`commands`]: one function per command.
//! - [`import`]: the inventory import: checked row by row, idempotent, resumable.
//! - [`status`]: the migration's state per account, and the HTML report with its charts.
//! - [`output`]: tables, sparklines and JSON.
//! - [`error`]: the one error type and the exit codes.

mod args;
mod client;
mod commands;
pub mod config;
pub mod error;
mod import;
mod output;
mod status;

use clap::Parser;

pub use error::{CliError, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE};

/// Runs the command line `argv` and returns the process's exit code. Failures are one line on
/// stderr; help and version go to stdout with code 0.
pub fn run<I, T>(argv: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match args::Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version.
            let _ = err.print();
            return EXIT_OK;
        }
        Err(err)
            if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            let _ = err.print();
            return EXIT_USAGE;
        }
        Err(err) => {
            // clap's first line says what is wrong; the usage block after it is for --help.
            let rendered = err.render().to_string();
            let first = rendered.lines().next().unwrap_or("bad command line");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("agentctl: error: {first} (agentctl --help shows the commands)");
            return EXIT_USAGE;
        }
    };
    match commands::run(&cli) {
        Ok(()) => EXIT_OK,
        Err(err) => {
            eprintln!("agentctl: error: {err}");
            err.exit_code()
        }
    }
}
