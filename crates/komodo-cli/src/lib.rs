//! The `komodo` command-line interface.
//!
//! The CLI holds no authentication logic of its own: every command calls the
//! [`komodo`] SDK. This crate is a library with a thin `main` so that the
//! Python package's `komodo` console script runs exactly the same code.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// Command-line arguments of `komodo`.
#[derive(Debug, Parser)]
#[command(name = "komodo", version, about = "Authenticate with the Komodo platform and query your warehouse.")]
pub struct Cli {}

/// Runs the CLI with the given arguments (the first being the program name)
/// and returns the process exit code.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(Cli {}) => ExitCode::SUCCESS,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            ExitCode::from(code)
        }
    }
}
