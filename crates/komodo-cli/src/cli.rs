//! The command line, as clap parses it.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Authenticate with the Komodo platform and manage access to your account.
#[derive(Debug, Parser)]
#[command(name = "komodo", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Options every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Use this named profile (service principal credentials) of the credentials file.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// How to print data on stdout.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// How data is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text and tables.
    Table,
    /// One JSON document.
    Json,
    /// Comma-separated values with a header row (`komodo sql` only).
    Csv,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in with your browser and save the login to the [default] profile.
    Login(LoginArgs),
    /// Revoke the saved login and remove its tokens from the credentials file.
    Logout,
    /// Print the current access token (refreshed if needed) on stdout.
    Jwt,
    /// Show or choose the account commands act on.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Create and manage service principals (machine credentials) of your account.
    #[command(subcommand, name = "service-principal", alias = "sp")]
    ServicePrincipal(ServicePrincipalCommand),
    /// Explain which credentials are used, and why.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Same as `komodo auth describe`.
    Whoami(DescribeArgs),
    /// Inspect the profiles of the credentials file.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Run SQL on your account's warehouse and print the results.
    Sql(SqlArgs),
    /// Load a CSV, Parquet or Arrow file into a table of your account's warehouse.
    Load(LoadArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `komodo login`.
#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// Log in with a code entered on any device (no browser on this machine needed).
    #[arg(long)]
    pub device: bool,
    /// Do not open a browser; print the address to open instead.
    #[arg(long)]
    pub no_browser: bool,
    /// Listen for the browser's redirect on this port of 127.0.0.1 (for SSH port forwarding).
    #[arg(long, value_name = "N", conflicts_with = "device")]
    pub port: Option<u16>,
}

/// `komodo sql`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Statements are separated by `;` (outside quotes and comments) and run in order; \
                       the first that fails stops the run. Without SQL or --file, statements are read from stdin.\n\n\
                       Output: `table` (default), `csv` (a header row, then RFC 4180 rows; NULL is an empty field, \
                       an empty string is \"\"; result sets separated by an empty line), or `json` (per statement, \
                       a JSON array of row objects, one row per line). Ctrl-C cancels the running statement.")]
pub struct SqlArgs {
    /// The SQL to run: one or more statements separated by `;`.
    #[arg(value_name = "SQL")]
    pub sql: Option<String>,
    /// Read the statements from this file (`-` for stdin).
    #[arg(long, short = 'f', value_name = "PATH", conflicts_with = "sql")]
    pub file: Option<std::path::PathBuf>,
    /// The database the session starts in.
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
    /// The schema the session starts in.
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,
}

/// `komodo load`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "The format comes from the file's extension: .csv (a header row naming the columns; \
                       types are inferred from the first rows), .parquet, or .arrow (an Arrow IPC stream). \
                       The file's columns are matched to the table's by name (exactly, then ignoring case) \
                       and the table's other columns are left NULL. The rows are written in one commit: \
                       a load that fails leaves the table as it was.")]
pub struct LoadArgs {
    /// The file to load.
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// The table: NAME, SCHEMA.NAME or DATABASE.SCHEMA.NAME (unquoted names are upper-cased;
    /// quote a part, `'"Mixed"'`, to keep its case).
    #[arg(long, short = 't', value_name = "TABLE")]
    pub table: String,
    /// Create the table from the file's columns when it does not exist.
    #[arg(long)]
    pub create: bool,
    /// Replace the table's rows with the file's instead of appending.
    #[arg(long)]
    pub overwrite: bool,
    /// The database the table is in (else the name's, or the session's default).
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
    /// The schema the table is in (else the name's, or PUBLIC with --database).
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,
}

/// `komodo account ...`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Print the selected account.
    Get,
    /// List the accounts you belong to.
    List,
    /// Select the account to act on (interactively when no account is given).
    Set {
        /// The account's id or slug.
        #[arg(value_name = "ACCOUNT_ID_OR_SLUG")]
        account: Option<String>,
    },
}

/// `komodo service-principal ...`.
#[derive(Debug, Subcommand)]
pub enum ServicePrincipalCommand {
    /// Create a service principal; its secret is shown once.
    Create {
        /// Its name.
        #[arg(long)]
        name: String,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
        /// Also save its credentials as a named profile of the credentials file.
        #[arg(long, value_name = "NAME")]
        save_profile: Option<String>,
    },
    /// List the service principals of the account.
    List,
    /// Delete a service principal; its tokens stop working at once.
    Delete {
        /// The service principal's id.
        id: String,
    },
    /// Give a service principal a new secret; the old one stops working.
    RotateSecret {
        /// The service principal's id.
        id: String,
        /// Save the new secret in this named profile.
        #[arg(long, value_name = "NAME")]
        save_profile: Option<String>,
    },
}

/// `komodo auth ...`.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Show which source's credentials are used, what they shadow, and for whom.
    Describe(DescribeArgs),
}

/// `komodo auth describe`.
#[derive(Debug, Clone, Args)]
pub struct DescribeArgs {
    /// Also ask the platform who the credentials belong to, and where the
    /// account's statements run (its warehouse backend).
    #[arg(long)]
    pub check: bool,
}

/// `komodo profile ...`.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List the profiles of the credentials file.
    List,
    /// Show one profile, secrets redacted.
    Show {
        /// The profile's name.
        name: String,
    },
}
