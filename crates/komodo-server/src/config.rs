//! Server configuration: where to listen, where state lives, and every
//! lifetime and limit, so that tests can shrink them (a device code that
//! expires in two seconds) without sleeping for minutes.

use std::path::PathBuf;
use std::time::Duration;

/// The address `komodo-server` listens on when nothing else is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// The audience of every access token unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "komodo";
/// Access-token lifetime unless configured otherwise: one hour, so that
/// clients which fetch a new token when less than 15 minutes remain (as
/// Komodo Health's SDK does) use each token for 45 minutes.
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Environment variable for `--listen`.
pub const ENV_LISTEN: &str = "KOMODO_SERVER_LISTEN";
/// Environment variable for `--data-dir`.
pub const ENV_DATA_DIR: &str = "KOMODO_SERVER_DATA_DIR";
/// Environment variable for `--database-url`.
pub const ENV_DATABASE_URL: &str = "KOMODO_SERVER_DATABASE_URL";
/// Environment variable for `--issuer`.
pub const ENV_ISSUER: &str = "KOMODO_SERVER_ISSUER";
/// Environment variable for `--signing-alg`.
pub const ENV_SIGNING_ALG: &str = "KOMODO_SERVER_SIGNING_ALG";
/// Environment variable for `--warehouse-dir`.
pub const ENV_WAREHOUSE_DIR: &str = "KOMODO_SERVER_WAREHOUSE_DIR";
/// Environment variable: claims generated for the `demo` account at bootstrap.
pub const ENV_DEMO_CLAIMS: &str = "KOMODO_SERVER_DEMO_CLAIMS";
/// Claims generated for the `demo` account at bootstrap by default.
pub const DEFAULT_DEMO_CLAIMS: u64 = 100_000;
/// Environment variable for `--log-format`.
pub const ENV_LOG_FORMAT: &str = "KOMODO_SERVER_LOG_FORMAT";
/// Environment variable for `--metrics-listen`.
pub const ENV_METRICS_LISTEN: &str = "KOMODO_SERVER_METRICS_LISTEN";
/// Environment variable for `--metrics-token` (better than the flag, which
/// other local users can read in the process list).
pub const ENV_METRICS_TOKEN: &str = "KOMODO_SERVER_METRICS_TOKEN";
/// How long a client may take to send a request's head by default.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body by default.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Open connections served at once by default (lowered to what the
/// process's open-file limit leaves room for).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// The largest gateway `login-request` body by default, decompressed.
pub const DEFAULT_LOGIN_BODY_MAX: usize = 1 << 20;
/// Wrong device user codes accepted per minute from all addresses together
/// by default.
pub const DEFAULT_USER_CODE_GUESSES_PER_MINUTE: u32 = 60;

/// The algorithm new signing keys are made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlg {
    /// ECDSA P-256 with SHA-256 (the default).
    #[default]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys, for clients that
    /// verify only RS256.
    Rs256,
}

impl SigningAlg {
    /// The JOSE name (`ES256` or `RS256`).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Es256 => "ES256",
            SigningAlg::Rs256 => "RS256",
        }
    }
}

impl std::str::FromStr for SigningAlg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "ES256" => Ok(SigningAlg::Es256),
            "RS256" => Ok(SigningAlg::Rs256),
            other => Err(format!("unsupported signing algorithm `{other}`: expected ES256 or RS256")),
        }
    }
}

/// A fixed-window rate limit: at most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed per window.
    pub max: u32,
    /// Window length.
    pub window: Duration,
}

/// The bearer token `/metrics` asks for. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsToken(zeroize::Zeroizing<String>);

impl MetricsToken {
    /// Wraps a token; `None` when it is empty or shorter than 16
    /// characters (too easy to guess for an endpoint without a lockout).
    pub fn new(token: impl Into<String>) -> Option<Self> {
        let token = token.into();
        (token.trim().len() >= 16 && token.trim() == token).then(|| MetricsToken(zeroize::Zeroizing::new(token)))
    }

    /// The token.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken([redacted])")
    }
}

/// Tuning of the gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// How long a session token is valid (renewed with the master token).
    pub session_token_ttl: Duration,
    /// How long a master token is valid (then the client logs in again).
    pub master_token_ttl: Duration,
    /// How long a synchronous query-request waits for its result before
    /// answering `333333` (the client then polls the result URL).
    pub sync_wait: Duration,
    /// How long a result poll waits for a running query.
    pub poll_wait: Duration,
    /// Largest result (Arrow IPC bytes) persisted for other replicas;
    /// results of synchronous queries are persisted only up to 1 MiB.
    pub persist_cap: usize,
    /// Memory for finished results on this replica.
    pub result_cache_bytes: usize,
    /// How long finished results stay in memory.
    pub result_ttl: Duration,
    /// How long query handles and persisted results are kept.
    pub history_ttl: Duration,
    /// How long the record of a quick synchronous query (answered from
    /// memory) waits to be written to the store together with others:
    /// one transaction per window instead of one per statement.
    pub history_window: Duration,
    /// The most rows an array binding may have (SECURITY.md F06).
    pub max_binding_rows: usize,
    /// The largest file `POST /komodo/v1/load` accepts, in bytes, after a
    /// gzip body is inflated: the file is written to the warehouse
    /// directory while it arrives, so this bounds disk, not memory.
    pub max_load_bytes: u64,
    /// Answer Snowflake connectors' `PUT` and `GET` as a local stage
    /// (`LOCAL_FS`): the connector copies files into or out of the stage's
    /// directory itself, which only works, and is only allowed, when
    /// clients share the platform's file system.
    pub local_stage_transfers: bool,
}

/// How the gateway uses accounts' upstream Snowflake warehouses.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamConfig {
    /// How long an account's backend, read from the store, is trusted
    /// before it is read again (a change by `set-warehouse` reaches every
    /// replica within it).
    pub backend_ttl: Duration,
    /// Attempts after the first for a call that did not reach the upstream
    /// (the same request id, a growing `retryCount`), within 10 s of the
    /// first (a call that timed out is not made again).
    pub retries: u32,
    /// The first pause between attempts (doubled each time).
    pub retry_pause: Duration,
    /// Consecutive failed calls that open an account's circuit breaker.
    pub breaker_threshold: u32,
    /// How long the breaker stays open before one call is let through.
    pub breaker_cooldown: Duration,
    /// How often upstream sessions are checked against their gateway
    /// sessions (revocation ends them) and idle ones ended.
    pub sweep_every: Duration,
    /// How long an upstream session of a bearer-token caller (no gateway
    /// session) lives unused.
    pub bearer_idle: Duration,
    /// How long relayed results' chunks stay fetchable.
    pub chunk_ttl: Duration,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            backend_ttl: Duration::from_secs(5),
            retries: 2,
            retry_pause: Duration::from_millis(250),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            sweep_every: Duration::from_secs(10),
            bearer_idle: Duration::from_secs(300),
            chunk_ttl: Duration::from_secs(6 * 3600),
        }
    }
}

/// The default of [`GatewayConfig::max_load_bytes`]: 1 GiB.
pub const DEFAULT_MAX_LOAD_BYTES: u64 = 1 << 30;

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            session_token_ttl: Duration::from_secs(3600),
            master_token_ttl: Duration::from_secs(4 * 3600),
            sync_wait: Duration::from_secs(25),
            poll_wait: Duration::from_secs(25),
            persist_cap: 64 << 20,
            result_cache_bytes: 4 << 30,
            result_ttl: Duration::from_secs(15 * 60),
            history_ttl: Duration::from_secs(24 * 3600),
            history_window: Duration::from_millis(20),
            max_binding_rows: 65_536,
            max_load_bytes: DEFAULT_MAX_LOAD_BYTES,
            local_stage_transfers: false,
        }
    }
}

/// Everything the platform needs to run. `Debug` redacts the password of
/// the database URL.
#[derive(Clone)]
pub struct Config {
    /// `HOST:PORT` to listen on; port 0 picks a free port.
    pub listen: String,
    /// Directory for the SQLite database (by default) and the master key file.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; `None` means SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// The issuer identifier; `None` means `http://<bound address>`.
    /// Replicas behind one name must all be given that name.
    pub issuer: Option<String>,
    /// The audience of access tokens when a request names none.
    pub audience: String,
    /// Further audiences the platform's own APIs (IAM, gateway) accept in
    /// access tokens and any client may ask for (`serve --audience`).
    pub audiences: Vec<String>,
    /// Algorithm for newly generated signing keys.
    pub signing_alg: SigningAlg,
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// ID token lifetime.
    pub id_token_ttl: Duration,
    /// Refresh token lifetime (each rotation starts a new one).
    pub refresh_token_ttl: Duration,
    /// Authorization code lifetime (capped at 60 s).
    pub auth_code_ttl: Duration,
    /// How long a login/consent page stays usable.
    pub auth_request_ttl: Duration,
    /// Device code lifetime (capped at 15 min).
    pub device_code_ttl: Duration,
    /// Minimum seconds between device polls (at least 1).
    pub device_poll_interval: Duration,
    /// How long a new signing key is published before it signs.
    pub key_publish_delay: Duration,
    /// Clock leeway when validating `exp` and `nbf`.
    pub clock_leeway: Duration,
    /// `Cache-Control: max-age` of the JWKS.
    pub jwks_max_age: Duration,
    /// How often a replica re-reads signing keys from the store.
    pub key_refresh_interval: Duration,
    /// Failed logins per email address.
    pub login_limit_per_account: RateLimit,
    /// Failed logins per client address.
    pub login_limit_per_address: RateLimit,
    /// User code entries per client address.
    pub user_code_limit_per_address: RateLimit,
    /// Wrong user code entries from all addresses together (F08).
    pub user_code_limit_platform: RateLimit,
    /// The longest a client may take to send a request's head (the request
    /// line and headers), also between requests on a kept-alive connection.
    pub header_read_timeout: Duration,
    /// The longest a client may take to send a request's body, from when
    /// its head arrived.
    pub body_read_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog, and
    /// connections without a request in flight (half-sent heads, idle
    /// kept-alive connections) are closed to make room. Lowered at start
    /// to what the open-file limit allows.
    pub max_connections: usize,
    /// The largest gateway `login-request` body, decompressed: that request
    /// carries no credential to check before its body is read.
    pub login_body_max: usize,
    /// Compressed or large gateway bodies decompressed and parsed at once,
    /// on blocking threads; `None`: half the cores (at least one).
    pub body_decode_threads: Option<usize>,
    /// Serve `/metrics` on this address only (`HOST:PORT`) instead of the
    /// main listener.
    pub metrics_listen: Option<String>,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    pub metrics_token: Option<MetricsToken>,
    /// Create the first admin, the `demo` organisation and account and the
    /// CLI client when the store is empty.
    pub bootstrap: bool,
    /// Email of the bootstrap admin.
    pub bootstrap_admin_email: String,
    /// Where the embedded warehouse keeps each account's Parquet files
    /// (default: `warehouse/` in the data directory). Replicas share it.
    pub warehouse_dir: Option<PathBuf>,
    /// Claims generated for the `demo` account at bootstrap (0: none).
    pub demo_claims: u64,
    /// Limits of the embedded warehouse (statement time limit, per-session
    /// memory limit, batch size, parallelism).
    pub engine: komodo_warehouse::EngineConfig,
    /// The connector gateway's tuning.
    pub gateway: GatewayConfig,
    /// How the gateway uses accounts' upstream Snowflake warehouses.
    pub upstream: UpstreamConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(crate::store::redact_url))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("audiences", &self.audiences)
            .field("signing_alg", &self.signing_alg)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("device_code_ttl", &self.device_code_ttl)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("login_body_max", &self.login_body_max)
            .field("body_decode_threads", &self.body_decode_threads)
            .field("metrics_listen", &self.metrics_listen)
            .field("metrics_token", &self.metrics_token)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// The defaults for a data directory: listen on [`DEFAULT_LISTEN`],
    /// SQLite, ES256, 1-hour access tokens, 30-day refresh tokens.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            listen: DEFAULT_LISTEN.to_owned(),
            data_dir: data_dir.into(),
            database_url: None,
            issuer: None,
            audience: DEFAULT_AUDIENCE.to_owned(),
            audiences: Vec::new(),
            signing_alg: SigningAlg::Es256,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            id_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            auth_code_ttl: Duration::from_secs(60),
            auth_request_ttl: Duration::from_secs(10 * 60),
            device_code_ttl: Duration::from_secs(10 * 60),
            device_poll_interval: Duration::from_secs(5),
            key_publish_delay: Duration::from_secs(10 * 60),
            clock_leeway: Duration::from_secs(30),
            jwks_max_age: Duration::from_secs(5 * 60),
            key_refresh_interval: Duration::from_secs(30),
            login_limit_per_account: RateLimit { max: 5, window: Duration::from_secs(15 * 60) },
            login_limit_per_address: RateLimit { max: 50, window: Duration::from_secs(15 * 60) },
            user_code_limit_per_address: RateLimit { max: 10, window: Duration::from_secs(15 * 60) },
            user_code_limit_platform: RateLimit {
                max: DEFAULT_USER_CODE_GUESSES_PER_MINUTE,
                window: Duration::from_secs(60),
            },
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            login_body_max: DEFAULT_LOGIN_BODY_MAX,
            body_decode_threads: None,
            metrics_listen: None,
            metrics_token: None,
            bootstrap: true,
            bootstrap_admin_email: "admin@komodo.local".to_owned(),
            warehouse_dir: None,
            demo_claims: DEFAULT_DEMO_CLAIMS,
            engine: komodo_warehouse::EngineConfig::default(),
            gateway: GatewayConfig::default(),
            upstream: UpstreamConfig::default(),
        }
    }

    /// The database URL in effect: the configured one or SQLite in the data dir.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("komodo.db").display()),
        }
    }

    /// The embedded warehouse's directory in effect.
    pub fn effective_warehouse_dir(&self) -> PathBuf {
        self.warehouse_dir.clone().unwrap_or_else(|| self.data_dir.join("warehouse"))
    }

    /// Bodies decoded at once: the configured number, else half the cores
    /// (at least one), so that the threads serving requests keep CPU.
    pub fn effective_body_decode_threads(&self) -> usize {
        self.body_decode_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map(usize::from).unwrap_or(1) / 2)
            .max(1)
    }

    /// The path of the master key file.
    pub fn master_key_path(&self) -> PathBuf {
        self.data_dir.join("master.key")
    }

    /// Lifetimes capped at what `SECURITY.md` allows (codes ≤ 60 s, device
    /// codes ≤ 15 min, poll interval ≥ 1 s).
    pub(crate) fn normalised(mut self) -> Self {
        self.auth_code_ttl = self.auth_code_ttl.min(Duration::from_secs(60));
        self.device_code_ttl = self.device_code_ttl.min(Duration::from_secs(15 * 60));
        self.device_poll_interval = self.device_poll_interval.max(Duration::from_secs(1));
        self.header_read_timeout = self.header_read_timeout.max(Duration::from_millis(100));
        self.body_read_timeout = self.body_read_timeout.max(Duration::from_millis(100));
        self.max_connections = self.max_connections.max(1);
        self.login_body_max = self.login_body_max.max(1024);
        self
    }

    /// Every audience the platform's APIs accept: the default first, then
    /// the further ones, each once.
    pub fn accepted_audiences(&self) -> Vec<String> {
        let mut all = vec![self.audience.clone()];
        for a in &self.audiences {
            if !all.contains(a) {
                all.push(a.clone());
            }
        }
        all
    }

    /// The longest a token signed by a key can stay valid after the key
    /// stops signing.
    pub(crate) fn max_token_lifetime(&self) -> Duration {
        self.access_token_ttl.max(self.id_token_ttl) + self.clock_leeway
    }
}

/// The default data directory: `$XDG_DATA_HOME/komodo-server`, else
/// `~/.local/share/komodo-server`, else `./komodo-server-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("komodo-server");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".local/share/komodo-server");
    }
    PathBuf::from("komodo-server-data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_capped() {
        let mut config = Config::new("/tmp/x");
        config.auth_code_ttl = Duration::from_secs(600);
        config.device_code_ttl = Duration::from_secs(3600);
        config.device_poll_interval = Duration::ZERO;
        let config = config.normalised();
        assert_eq!(config.auth_code_ttl, Duration::from_secs(60));
        assert_eq!(config.device_code_ttl, Duration::from_secs(900));
        assert_eq!(config.device_poll_interval, Duration::from_secs(1));
    }

    #[test]
    fn debug_redacts_the_database_password() {
        let mut config = Config::new("/tmp/x");
        config.database_url = Some("postgres://app:hunter2@db/komodo".into());
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("REDACTED"));
    }

    #[test]
    fn debug_redacts_the_metrics_token() {
        let mut config = Config::new("/tmp/x");
        config.metrics_token = MetricsToken::new("s3cret-metrics-token-value");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(MetricsToken::new("short").is_none());
        assert!(MetricsToken::new(" padded-metrics-token-value ").is_none());
    }

    #[test]
    fn signing_alg_parses() {
        assert_eq!("rs256".parse::<SigningAlg>().unwrap(), SigningAlg::Rs256);
        assert!("HS256".parse::<SigningAlg>().is_err());
    }
}
