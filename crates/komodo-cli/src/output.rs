//! Everything the CLI prints: data on stdout (a table or one JSON
//! document), messages on stderr, one error renderer, colours only when
//! wanted.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use comfy_table::{ContentArrangement, Table, presets};
use indicatif::{ProgressBar, ProgressStyle};
use komodo::auth::AuthError;
use komodo::{Error, ErrorKind};

use crate::cli::OutputFormat;

/// Exit codes, documented in the README.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// A failure not covered below.
    pub const FAILURE: u8 = 1;
    /// The command line is wrong (unknown flag, missing argument).
    pub const USAGE: u8 = 2;
    /// The arguments or the environment break a credential rule, or the
    /// credentials file or a profile is invalid.
    pub const CONFIG: u8 = 3;
    /// Login required: no usable credentials, or the saved login expired.
    pub const LOGIN_REQUIRED: u8 = 4;
    /// The platform refused the request (not allowed, not found).
    pub const REFUSED: u8 = 5;
    /// The platform could not be reached.
    pub const UNAVAILABLE: u8 = 6;
    /// Interrupted (Ctrl-C).
    pub const INTERRUPTED: u8 = 130;
}

/// A failure to report: a message, its causes, a hint, an exit code.
#[derive(Debug)]
pub struct Failure {
    /// The `error:` line.
    pub message: String,
    /// The `caused by:` lines.
    pub causes: Vec<String>,
    /// The `hint:` line.
    pub hint: Option<String>,
    /// The exit code.
    pub code: u8,
}

impl Failure {
    /// A failure with a message and an exit code.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self { message: message.into(), causes: Vec::new(), hint: None, code }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl Failure {
    /// The exit code of an SDK error of `kind`.
    pub fn exit_code(kind: ErrorKind) -> u8 {
        match kind {
            ErrorKind::InvalidArguments | ErrorKind::Configuration => exit::CONFIG,
            ErrorKind::LoginRequired => exit::LOGIN_REQUIRED,
            ErrorKind::Refused => exit::REFUSED,
            ErrorKind::Unreachable | ErrorKind::ServerError => exit::UNAVAILABLE,
            ErrorKind::Cancelled => exit::INTERRUPTED,
            _ => exit::FAILURE,
        }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        let kind = err.kind();
        let code = Failure::exit_code(kind);
        // A hint only where the SDK's message does not name the fix already.
        let hint = match &err {
            Error::Auth(
                AuthError::UnsetAccount { .. } | AuthError::LoginRequired { .. } | AuthError::LoginExpired { .. },
            ) => None,
            Error::Auth(AuthError::ProfileHoldsToken { .. }) => {
                Some("create service principal credentials with `komodo service-principal create --save-profile NAME`")
            }
            Error::Auth(AuthError::ProfileNotFound { .. }) => Some("run `komodo profile list` to see the profiles"),
            Error::Iam(e) if e.is_forbidden() => Some("only account admins can manage service principals"),
            Error::Warehouse(e) if e.is_access_denied() => {
                Some("check the account with `komodo account get`; you need to be a member of it")
            }
            _ if kind == ErrorKind::LoginRequired => Some("run `komodo login`"),
            _ => None,
        };
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        Failure { message: err.to_string(), causes, hint: hint.map(str::to_owned), code }
    }
}

/// Where and how the CLI prints.
#[derive(Debug, Clone)]
pub struct Ui {
    /// The data format.
    pub format: OutputFormat,
    color: bool,
    interactive: bool,
}

impl Ui {
    /// A UI for `format`, colouring stderr only when it is a terminal and
    /// `NO_COLOR` is unset.
    pub fn new(format: OutputFormat) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { format, color: stderr_tty && !no_color, interactive: stderr_tty }
    }

    /// Whether the format is JSON.
    pub fn json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    /// Prints a line of data on stdout.
    pub fn data(&self, line: impl fmt::Display) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }

    /// Prints one JSON document on stdout.
    pub fn json_data(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        self.data(text);
    }

    /// Prints a table on stdout.
    pub fn table(&self, headers: &[&str], rows: Vec<Vec<String>>) {
        let mut table = Table::new();
        table.load_style(presets::NOTHING).set_content_arrangement(ContentArrangement::Dynamic);
        table.set_header(headers.iter().map(|h| h.to_uppercase()));
        for row in rows {
            table.add_row(row);
        }
        let text = table.to_string();
        self.data(text.lines().map(str::trim_end).collect::<Vec<_>>().join("\n"));
    }

    /// A message for the user on stderr.
    pub fn message(&self, text: impl fmt::Display) {
        eprintln!("{text}");
    }

    /// A success message on stderr.
    pub fn success(&self, text: impl fmt::Display) {
        eprintln!("{} {text}", self.paint("✓", "32"));
    }

    /// A warning on stderr.
    pub fn warn(&self, text: impl fmt::Display) {
        eprintln!("{} {text}", self.paint("warning:", "33;1"));
    }

    /// Renders a failure on stderr and returns its exit code.
    pub fn fail(&self, failure: &Failure) -> u8 {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{} {}", self.paint("error:", "31;1"), failure.message);
        for cause in &failure.causes {
            let _ = writeln!(err, "  {} {cause}", self.paint("caused by:", "2"));
        }
        if let Some(hint) = &failure.hint {
            let _ = writeln!(err, "{} {hint}", self.paint("hint:", "36;1"));
        }
        failure.code
    }

    /// A progress bar on stderr for `total` bytes (nothing when stderr is
    /// not a terminal).
    pub fn bytes_bar(&self, total: u64, message: &str) -> ProgressBar {
        if !self.interactive {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// A spinner on stderr while waiting (nothing when stderr is not a terminal).
    pub fn spinner(&self, message: &str) -> ProgressBar {
        if !self.interactive {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    /// Whether stderr is a terminal (spinners and summaries are shown).
    pub fn is_terminal(&self) -> bool {
        self.interactive
    }

    /// Whether stdin and stderr are terminals (prompts are possible).
    pub fn can_prompt(&self) -> bool {
        self.interactive && std::io::stdin().is_terminal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_kind_of_error_as_the_readme_documents() {
        let cases = [
            (ErrorKind::InvalidArguments, 3),
            (ErrorKind::Configuration, 3),
            (ErrorKind::LoginRequired, 4),
            (ErrorKind::Refused, 5),
            (ErrorKind::Unreachable, 6),
            (ErrorKind::ServerError, 6),
            (ErrorKind::Cancelled, 130),
            (ErrorKind::LoginFailed, 1),
            (ErrorKind::Protocol, 1),
            (ErrorKind::Statement, 1),
            (ErrorKind::Interface, 1),
        ];
        for (kind, code) in cases {
            assert_eq!(Failure::exit_code(kind), code, "{kind:?}");
        }
    }

    #[test]
    fn causes_are_printed_as_they_are_and_known_fixes_once() {
        use komodo::auth::{LoginError, TokenError};
        let err = Error::Auth(AuthError::from(LoginError::Token(TokenError::Unavailable("refused".into()))));
        let failure = Failure::from(err);
        assert_eq!(failure.message, "login failed");
        assert_eq!(failure.causes, ["cannot reach the platform: refused"]);
        assert_eq!(failure.code, exit::UNAVAILABLE);
        let unset = Failure::from(Error::Auth(AuthError::UnsetAccount { provenance: Default::default() }));
        assert!(unset.message.contains("run `komodo account set`") && unset.hint.is_none(), "{unset:?}");
        let expired = Failure::from(Error::Auth(AuthError::TokenExpired { origin: "`jwt`".into(), at: "then".into() }));
        assert_eq!((expired.code, expired.hint.as_deref()), (exit::LOGIN_REQUIRED, Some("run `komodo login`")));
    }
}
