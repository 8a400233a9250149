//! The command line: `komodo-server [serve] ...` and `komodo-server admin ...`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use komodo_protocol::iam::Role;
use komodo_protocol::oauth::CLI_CLIENT_ID;
use komodo_protocol::secret::Password;
use serde_json::json;

use crate::admin::Admin;
use crate::config::{self, Config, SigningAlg};
use crate::server::{Server, shutdown_signal};
use crate::telemetry::{LogFormat, init_tracing};

/// `komodo-server`.
#[derive(Debug, Parser)]
#[command(
    name = "komodo-server",
    version,
    about = "The Komodo platform: OAuth 2.0 / OpenID Connect provider and IAM API"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the platform (the default).
    Serve(ServeArgs),
    /// Administer the platform's store (works while a server runs).
    Admin(AdminArgs),
}

/// Where the state lives.
#[derive(Debug, Clone, Args)]
struct StoreArgs {
    /// Data directory (SQLite database and master key); default
    /// `$XDG_DATA_HOME/komodo-server`, else `~/.local/share/komodo-server`.
    #[arg(long, env = config::ENV_DATA_DIR)]
    data_dir: Option<PathBuf>,
    /// Database URL (`sqlite://...` or `postgres://...`); default SQLite in the data directory.
    #[arg(long, env = config::ENV_DATABASE_URL, hide_env_values = true)]
    database_url: Option<String>,
    /// Directory of the embedded warehouse's Parquet files; default
    /// `warehouse/` in the data directory. Replicas must share it.
    #[arg(long, env = config::ENV_WAREHOUSE_DIR)]
    warehouse_dir: Option<PathBuf>,
}

impl StoreArgs {
    fn config(&self) -> Config {
        let mut config = Config::new(self.data_dir.clone().unwrap_or_else(config::default_data_dir));
        config.database_url = self.database_url.clone();
        config.warehouse_dir = self.warehouse_dir.clone();
        config
    }
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// Address to listen on (`HOST:PORT`; port 0 picks a free port).
    #[arg(long, env = config::ENV_LISTEN, default_value = config::DEFAULT_LISTEN)]
    listen: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Public URL of the platform (the token issuer), used exactly as given
    /// (a trailing slash is kept in `iss` and discovery); default
    /// `http://<listen address>`.
    #[arg(long, env = config::ENV_ISSUER)]
    issuer: Option<String>,
    /// A further audience the platform's APIs accept and any client may
    /// ask for with `audience` or `resource` (repeatable); tokens asking
    /// for none get `komodo`.
    #[arg(long = "audience", value_name = "AUDIENCE")]
    audiences: Vec<String>,
    /// Algorithm for new signing keys.
    #[arg(long, env = config::ENV_SIGNING_ALG, default_value = "ES256", value_parser = clap::value_parser!(SigningAlgArg))]
    signing_alg: SigningAlgArg,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = config::DEFAULT_ACCESS_TOKEN_TTL.as_secs())]
    access_token_ttl: u64,
    /// Claims of demo data generated for the `demo` account on the first
    /// start (0: none).
    #[arg(long, env = config::ENV_DEMO_CLAIMS, default_value_t = config::DEFAULT_DEMO_CLAIMS)]
    demo_claims: u64,
    /// Statement time limit of the embedded warehouse, in seconds.
    #[arg(long, default_value_t = 300)]
    statement_timeout: u64,
    /// Memory a warehouse session's statements and held results may use at
    /// once, in MiB.
    #[arg(long, default_value_t = 512)]
    session_memory_mib: usize,
    /// Memory all warehouse sessions together may use, in MiB.
    #[arg(long, default_value_t = 1024)]
    server_memory_mib: usize,
    /// Statements one account may run at once on the warehouse (more wait
    /// their turn).
    #[arg(long, default_value_t = 4)]
    account_concurrency: usize,
    /// The most rows an array binding (`executemany`) may have.
    #[arg(long, default_value_t = 65_536)]
    max_binding_rows: usize,
    /// The largest file a load (`POST /komodo/v1/load`, `komodo load`,
    /// `write_pandas`) may send, in MiB, after gzip is inflated; it is
    /// written to the warehouse directory while it arrives.
    #[arg(long, default_value_t = config::DEFAULT_MAX_LOAD_BYTES >> 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_load_mib: u64,
    /// Answer `PUT` and `GET` from Snowflake's connectors as a local stage:
    /// the connector copies files into the stage's directory on this
    /// machine itself. Only for clients that share this file system (tests,
    /// one machine); the komodo clients send files over HTTP without it.
    #[arg(long)]
    local_stage_transfers: bool,
    /// Seconds a client may take to send a request's headers (also the
    /// longest a kept-alive connection waits idle for its next request).
    #[arg(long, default_value_t = config::DEFAULT_HEADER_READ_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout: u64,
    /// Seconds a client may take to send a request's body, from its headers.
    #[arg(long, default_value_t = config::DEFAULT_BODY_READ_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    body_read_timeout: u64,
    /// Connections served at once (lowered to what the open-file limit
    /// allows); when all are taken, connections without a request in
    /// flight for a second are closed and new ones wait.
    #[arg(long, default_value_t = config::DEFAULT_MAX_CONNECTIONS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
    /// The largest gateway `login-request` body, decompressed, in KiB.
    #[arg(long, default_value_t = config::DEFAULT_LOGIN_BODY_MAX >> 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65536))]
    login_body_max_kib: usize,
    /// Compressed or large gateway request bodies decompressed and parsed
    /// at once (default: half the cores).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    body_decode_threads: Option<usize>,
    /// Wrong device user codes accepted per minute from all addresses
    /// together; then every entry is refused until the minute is over.
    #[arg(long, default_value_t = config::DEFAULT_USER_CODE_GUESSES_PER_MINUTE, value_parser = clap::value_parser!(u32).range(1..))]
    user_code_guesses_per_minute: u32,
    /// Serve `/metrics` only on this address (`HOST:PORT`), not on `--listen`.
    #[arg(long, env = config::ENV_METRICS_LISTEN)]
    metrics_listen: Option<String>,
    /// Answer `/metrics` only with `Authorization: Bearer <token>` (at least
    /// 16 characters). Prefer the environment variable: arguments show in
    /// the process list.
    #[arg(long, env = config::ENV_METRICS_TOKEN, hide_env_values = true, value_parser = secret_arg)]
    metrics_token: Option<SecretArg>,
    /// Log format.
    #[arg(long, env = config::ENV_LOG_FORMAT, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// A secret given as an argument: `Debug` does not show it, and it is
/// checked after parsing so that no parse error repeats it.
#[derive(Clone)]
struct SecretArg(zeroize::Zeroizing<String>);

impl std::fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

fn secret_arg(value: &str) -> Result<SecretArg, std::convert::Infallible> {
    Ok(SecretArg(zeroize::Zeroizing::new(value.to_owned())))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SigningAlgArg {
    #[value(name = "ES256", alias = "es256")]
    Es256,
    #[value(name = "RS256", alias = "rs256")]
    Rs256,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
enum Output {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
struct AdminArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text, global = true)]
    output: Output,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an organisation.
    CreateOrg {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Unique slug.
        #[arg(long)]
        slug: String,
    },
    /// Create an account in an organisation; prints its account_id.
    CreateAccount {
        /// The organisation's slug.
        #[arg(long)]
        org: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Unique slug.
        #[arg(long)]
        slug: String,
    },
    /// Create a user; the password is read from standard input.
    CreateUser {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Add a user to an account (or change their role).
    AddMember {
        /// Account slug or id.
        #[arg(long)]
        account: String,
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Role: `admin` (also manages service principals), `member` (reads,
        /// and writes the account's own databases) or `reader` (only reads).
        #[arg(long, value_parser = ["admin", "member", "reader"])]
        role: String,
    },
    /// Create a service principal; prints its client secret once.
    CreateServicePrincipal {
        /// Account slug or id.
        #[arg(long)]
        account: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Set a user's password; read from standard input.
    ResetPassword {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Start a staged signing-key rotation.
    RotateKeys,
    /// Register an OAuth client under a given id (for example the id an
    /// SDK has compiled in). A confidential client's secret is printed once.
    CreateClient {
        /// The client id, kept as given.
        #[arg(long)]
        client_id: String,
        /// Display name (shown on the consent page).
        #[arg(long)]
        name: String,
        /// A public client (no secret), like a CLI or SDK on a user's machine.
        #[arg(long)]
        public: bool,
        /// A grant it may use (repeatable); default: device and
        /// refresh_token, plus authorization_code with a redirect URI.
        #[arg(long = "grant", value_name = "GRANT", value_parser = ["device", "authorization_code", "refresh_token"])]
        grants: Vec<String>,
        /// Accept redirects to http://127.0.0.1 and http://[::1] on any
        /// port, path `/callback` (native apps, RFC 8252).
        #[arg(long)]
        redirect_loopback: bool,
        /// An exact redirect URI (repeatable).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// An audience it may ask for besides the platform's (repeatable).
        #[arg(long = "audience", value_name = "AUDIENCE")]
        audiences: Vec<String>,
    },
    /// List the registered OAuth clients.
    ListClients,
    /// Delete an OAuth client; the sessions it was issued end.
    DeleteClient {
        /// The client id.
        #[arg(long)]
        client_id: String,
    },
    /// Generate the synthetic healthcare data set (DEMO.HEALTHCARE:
    /// PATIENTS, PROVIDERS, CLAIMS, PRESCRIPTIONS) for an account.
    LoadDemo {
        /// Account slug or id.
        #[arg(long)]
        account: String,
        /// Number of claims; the other tables scale with it.
        #[arg(long, default_value_t = config::DEFAULT_DEMO_CLAIMS)]
        claims: u64,
        /// Seed of the generator (the same seed gives the same data).
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Set an account's warehouse: the embedded one (the default), or an
    /// upstream Snowflake account the gateway fronts.
    SetWarehouse {
        /// Account slug or id.
        #[arg(long)]
        account: String,
        /// The backend.
        #[command(subcommand)]
        backend: WarehouseBackend,
    },
    /// Show an account's warehouse (for Snowflake: its settings and the
    /// key's fingerprint, never the key).
    ShowWarehouse {
        /// Account slug or id.
        #[arg(long)]
        account: String,
    },
}

/// An account's warehouse backend.
#[derive(Debug, Subcommand)]
enum WarehouseBackend {
    /// The embedded warehouse.
    Embedded,
    /// An upstream Snowflake account, reached with key-pair authentication
    /// (register the key's public half with the user: `ALTER USER ... SET
    /// RSA_PUBLIC_KEY = '...'`).
    Snowflake {
        /// The account's URL, `https://<account>.snowflakecomputing.com`.
        #[arg(long)]
        host: String,
        /// The Snowflake account name (`xy12345`, `myorg-myaccount`).
        #[arg(long)]
        account_name: String,
        /// The Snowflake user the gateway logs in as.
        #[arg(long)]
        user: String,
        /// The user's private key (PEM: PKCS#8, encrypted PKCS#8 or PKCS#1).
        #[arg(long)]
        private_key_file: PathBuf,
        /// Read the key's passphrase from standard input.
        #[arg(long)]
        private_key_passphrase_stdin: bool,
        /// The role sessions use (else the user's default role).
        #[arg(long)]
        role: Option<String>,
        /// The virtual warehouse sessions use.
        #[arg(long)]
        warehouse: Option<String>,
        /// The database sessions start in.
        #[arg(long)]
        database: Option<String>,
        /// The schema sessions start in.
        #[arg(long)]
        schema: Option<String>,
    },
}

/// Runs the command line and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::Admin(args)) => admin(args).await,
            Some(Command::Serve(args)) => serve(args).await,
            None => serve(cli.serve).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    init_tracing(args.log_format);
    let mut config = args.store.config();
    config.listen = args.listen.clone();
    config.issuer = args.issuer.clone();
    for audience in &args.audiences {
        if audience.is_empty() || audience.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("invalid --audience `{audience}`: it must be non-empty, without spaces"));
        }
    }
    config.audiences = args.audiences.clone();
    config.signing_alg = match args.signing_alg {
        SigningAlgArg::Es256 => SigningAlg::Es256,
        SigningAlgArg::Rs256 => SigningAlg::Rs256,
    };
    config.access_token_ttl = Duration::from_secs(args.access_token_ttl.max(1));
    config.demo_claims = args.demo_claims;
    config.engine.statement_timeout = Duration::from_secs(args.statement_timeout.max(1));
    config.engine.session_memory_limit = args.session_memory_mib.max(16) << 20;
    config.engine.server_memory_limit = args.server_memory_mib.max(16) << 20;
    config.engine.account_concurrency = args.account_concurrency.max(1);
    config.gateway.max_binding_rows = args.max_binding_rows.max(1);
    config.gateway.max_load_bytes = args.max_load_mib.saturating_mul(1 << 20);
    config.gateway.local_stage_transfers = args.local_stage_transfers;
    config.header_read_timeout = Duration::from_secs(args.header_read_timeout);
    config.body_read_timeout = Duration::from_secs(args.body_read_timeout);
    config.max_connections = args.max_connections;
    config.login_body_max = args.login_body_max_kib << 10;
    config.body_decode_threads = args.body_decode_threads;
    config.user_code_limit_platform.max = args.user_code_guesses_per_minute;
    config.metrics_listen = args.metrics_listen.clone();
    config.metrics_token = match &args.metrics_token {
        None => None,
        // Long enough to resist guessing: the endpoint has no lockout.
        Some(SecretArg(token)) => Some(config::MetricsToken::new(token.as_str()).ok_or(
            "the metrics token must be at least 16 characters with no surrounding spaces: set \
             KOMODO_SERVER_METRICS_TOKEN to a long random value (`openssl rand -hex 32`)",
        )?),
    };
    let data_dir = config.data_dir.clone();
    let mut server = Server::bind(config).await.map_err(|e| e.to_string())?;
    if let Some(report) = server.take_bootstrap_report() {
        eprintln!(
            "created the first admin user {} with the one-time password {}\n  (shown only this once; set a new one with `komodo-server admin reset-password --email {} --password-stdin`)",
            report.admin_email,
            report.admin_password.expose_secret(),
            report.admin_email
        );
        eprintln!("created the organisation `demo` with the account `demo` ({})", report.account_id);
    }
    tracing::info!(data_dir = %data_dir.display(), issuer = %server.state().issuer(), cli_client_id = CLI_CLIENT_ID, "platform ready");
    eprintln!("listening on {}", server.url());
    server.run(shutdown_signal()).await.map_err(|e| e.to_string())
}

fn read_password() -> Result<Password, String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let trimmed = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    let password = Password::new(trimmed);
    zeroize::Zeroize::zeroize(&mut text);
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(password)
}

/// A registered client as the admin commands show it (never its secret's
/// hash).
fn client_json(client: &crate::store::iam::ClientRow) -> serde_json::Value {
    json!({
        "client_id": client.client_id,
        "name": client.name,
        "type": if client.is_public() { "public" } else { "confidential" },
        "grants": client.grants,
        "redirect_uris": client.redirect_uris,
        "audiences": client.audiences,
        "created_at": crate::clock::rfc3339(client.created_at),
    })
}

fn print(output: Output, value: serde_json::Value) {
    match output {
        Output::Json => println!("{value}"),
        Output::Text => {
            if let Some(map) = value.as_object() {
                for (k, v) in map {
                    match v {
                        serde_json::Value::String(s) => println!("{k}: {s}"),
                        serde_json::Value::Null => {}
                        other => println!("{k}: {other}"),
                    }
                }
            }
        }
    }
}

async fn admin(args: AdminArgs) -> Result<(), String> {
    let config = args.store.config();
    let admin = Admin::open(&config).await.map_err(|e| e.to_string())?;
    let output = args.output;
    let value = match args.command {
        AdminCommand::CreateOrg { name, slug } => {
            let org = admin.create_org(&name, &slug).await.map_err(|e| e.to_string())?;
            json!({"organization_id": org.id, "slug": org.slug, "name": org.name})
        }
        AdminCommand::CreateAccount { org, name, slug } => {
            let account = admin.create_account(&org, &name, &slug).await.map_err(|e| e.to_string())?;
            json!({"account_id": account.id, "slug": account.slug, "name": account.name})
        }
        AdminCommand::CreateUser { email, name, password_stdin: _ } => {
            let password = read_password()?;
            let user = admin.create_user(&email, name.as_deref(), &password).await.map_err(|e| e.to_string())?;
            json!({"user_id": user.id, "email": user.email})
        }
        AdminCommand::AddMember { account, email, role } => {
            let role: Role = role.parse()?;
            let (account, user) = admin.add_member(&account, &email, role).await.map_err(|e| e.to_string())?;
            json!({"account_id": account.id, "user_id": user.id, "email": user.email, "role": role.as_str()})
        }
        AdminCommand::CreateServicePrincipal { account, name, description } => {
            let created = admin
                .create_service_principal(&account, &name, description.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            // The one command whose job is to print the secret (S03).
            json!({
                "service_principal_id": created.service_principal_id,
                "client_id": created.client_id,
                "client_secret": created.client_secret.expose_secret(),
                "account_id": created.account_id,
                "name": created.name,
            })
        }
        AdminCommand::ResetPassword { email, password_stdin: _ } => {
            let password = read_password()?;
            let reset = admin.reset_password(&email, &password).await.map_err(|e| e.to_string())?;
            json!({
                "email": crate::store::iam::normalise_email(&email),
                "password_reset": true,
                "logins_ended": reset.logins_ended,
                "sessions_ended": reset.sessions_ended,
            })
        }
        AdminCommand::LoadDemo { account, claims, seed } => {
            let options = komodo_warehouse::demo::DemoOptions { claims, seed, ..Default::default() };
            let (account, summary) = admin.load_demo(&account, options).await.map_err(|e| e.to_string())?;
            let tables: serde_json::Map<String, serde_json::Value> =
                summary.tables.iter().map(|(t, n)| (format!("DEMO.HEALTHCARE.{t}"), json!(n))).collect();
            json!({
                "account_id": account.id,
                "tables": tables,
                "rows": summary.rows,
                "seconds": summary.elapsed.as_secs_f64(),
                "rows_per_second": summary.rows_per_second().round(),
            })
        }
        AdminCommand::CreateClient { client_id, name, public, grants, redirect_loopback, redirect_uris, audiences } => {
            let new = crate::admin::NewClient {
                client_id,
                name,
                public,
                grants,
                redirect_loopback,
                redirect_uris,
                audiences,
            };
            let created = admin.create_client(&new).await.map_err(|e| e.to_string())?;
            let mut value = client_json(&created.client);
            // The one command whose job is to print the secret (S03).
            if let Some(secret) = &created.secret {
                value["client_secret"] = json!(secret.expose_secret());
            }
            value
        }
        AdminCommand::ListClients => {
            let clients = admin.list_clients().await.map_err(|e| e.to_string())?;
            let listed: Vec<serde_json::Value> = clients.iter().map(client_json).collect();
            if matches!(output, Output::Text) {
                for client in &listed {
                    print(output, client.clone());
                    println!();
                }
                admin.store().close().await;
                return Ok(());
            }
            json!({"clients": listed})
        }
        AdminCommand::DeleteClient { client_id } => {
            admin.delete_client(&client_id).await.map_err(|e| e.to_string())?;
            json!({"client_id": client_id, "deleted": true})
        }
        AdminCommand::SetWarehouse { account, backend } => {
            let view = match backend {
                WarehouseBackend::Embedded => admin.set_warehouse_embedded(&account).await,
                WarehouseBackend::Snowflake {
                    host,
                    account_name,
                    user,
                    private_key_file,
                    private_key_passphrase_stdin,
                    role,
                    warehouse,
                    database,
                    schema,
                } => {
                    let pem = std::fs::read_to_string(&private_key_file)
                        .map_err(|e| format!("cannot read --private-key-file {}: {e}", private_key_file.display()))?;
                    let passphrase = match private_key_passphrase_stdin {
                        true => Some(zeroize::Zeroizing::new(read_password()?.expose_secret().to_owned())),
                        false => None,
                    };
                    let backend = crate::admin::SnowflakeBackend {
                        host,
                        account_name,
                        user,
                        private_key_pem: zeroize::Zeroizing::new(pem),
                        passphrase,
                        role,
                        warehouse,
                        database,
                        schema,
                    };
                    admin.set_warehouse_snowflake(&account, &backend).await
                }
            };
            serde_json::to_value(view.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?
        }
        AdminCommand::ShowWarehouse { account } => {
            let view = admin.show_warehouse(&account).await.map_err(|e| e.to_string())?;
            serde_json::to_value(view).map_err(|e| e.to_string())?
        }
        AdminCommand::RotateKeys => {
            let (kid, active_from) = admin.rotate_keys().await.map_err(|e| e.to_string())?;
            json!({"kid": kid, "active_from": crate::clock::rfc3339(active_from)})
        }
    };
    print(output, value);
    admin.store().close().await;
    Ok(())
}
