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
        Err(err) => {
            let code = if err.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            };
            let _ = err.print();
            return code;
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
