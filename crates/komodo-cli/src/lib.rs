//! The `komodo` command-line interface.
//!
//! The CLI holds no authentication logic of its own: every command calls the
//! [`komodo`] SDK. This crate is a library with a thin `main` so that the
//! Python package's `komodo` console script runs exactly the same code.
//!
//! Data goes to stdout (a table, or one JSON document with `--output
//! json`; `komodo sql` also prints CSV); messages, warnings, spinners and
//! errors go to stderr. Exit codes
//! are listed in [`output::exit`].

pub mod cli;
mod commands;
pub mod output;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use komodo::auth::{AuthArgs, ResolvedCredentials};
use komodo::client::ClientBuilder;
use komodo::config::ProviderConfig;
use komodo::credentials::CredentialsStore;
use komodo::{Client, Error};

use crate::cli::{Cli, Command, GlobalArgs};
use crate::output::{Failure, Ui, exit};

/// What every command works with.
#[derive(Debug)]
pub(crate) struct Context {
    pub ui: Ui,
    pub config: ProviderConfig,
    pub global: GlobalArgs,
}

impl Context {
    /// The explicit credentials of the command line (`--profile`).
    pub fn args(&self) -> AuthArgs {
        match &self.global.profile {
            Some(profile) => AuthArgs::new().profile(profile.clone()),
            None => AuthArgs::new(),
        }
    }

    /// A client for the credentials the chain picks.
    pub async fn client(&self, require_account: bool) -> Result<Client, Failure> {
        Ok(self.client_builder(require_account).build().await?)
    }

    /// The credentials the chain picks, without a client (no platform URL
    /// needed yet).
    pub async fn resolve(&self, require_account: bool) -> Result<ResolvedCredentials, Failure> {
        Ok(self.client_builder(require_account).resolve().await?)
    }

    fn client_builder(&self, require_account: bool) -> ClientBuilder {
        Client::builder(self.config.clone()).args(self.args()).require_account(require_account)
    }

    /// The credentials file.
    pub fn store(&self) -> Result<CredentialsStore, Failure> {
        CredentialsStore::locate(self.config.env()).map_err(|e| Failure::from(Error::Credentials(e)))
    }

    /// Refuses `--profile` for commands that only act on the `[default]` login.
    pub fn default_only(&self, command: &str) -> Result<(), Failure> {
        match &self.global.profile {
            Some(profile) => Err(Failure::new(
                exit::USAGE,
                format!("`komodo {command}` acts on your login in [default], not on profile [{profile}]"),
            )
            .hint(format!("run `komodo {command}` without --profile"))),
            None => Ok(()),
        }
    }
}

/// Runs the CLI with the given arguments (the first being the program name)
/// and returns the process exit code.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    ExitCode::from(run_code(args))
}

/// Like [`run`], with the exit code as a number (for embedders such as the
/// Python package's console script).
pub fn run_code<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { exit::USAGE } else { exit::OK };
        }
    };
    init_logging();
    let ui = Ui::new(cli.global.output);
    let ctx = Context { ui: ui.clone(), config: ProviderConfig::from_process(), global: cli.global };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return ui.fail(&Failure::new(exit::FAILURE, format!("cannot start: {err}"))),
    };
    let result = runtime.block_on(async {
        // `komodo sql` handles Ctrl-C itself: it cancels the running
        // statement on the platform before exiting.
        if handles_interrupt(&cli.command) {
            return commands::dispatch(&ctx, cli.command).await;
        }
        tokio::select! {
            result = commands::dispatch(&ctx, cli.command) => result,
            _ = tokio::signal::ctrl_c() => Err(Failure::new(exit::INTERRUPTED, "interrupted")),
        }
    });
    match result {
        Ok(()) => exit::OK,
        Err(failure) => ui.fail(&failure),
    }
}

/// Whether a command handles Ctrl-C itself.
fn handles_interrupt(command: &Command) -> bool {
    matches!(command, Command::Sql(_))
}

/// Whether a command reads the credentials file (and so should warn about
/// its permissions).
pub(crate) fn reads_credentials(command: &Command) -> bool {
    !matches!(command, Command::Completions { .. })
}

/// Logs to stderr at the level `KOMODO_LOG` names (`debug`, `trace`, or a
/// tracing filter); nothing is set up when it is unset, which keeps start-up
/// fast.
fn init_logging() {
    let Some(filter) = std::env::var("KOMODO_LOG").ok().filter(|f| !f.is_empty()) else { return };
    let filter =
        tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("debug"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).without_time().try_init();
}
