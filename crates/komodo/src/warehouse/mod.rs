//! Connections to the account's warehouse through the platform's connector
//! gateway, which speaks Snowflake's REST protocol.
//!
//! [`get_snowflake_connection`] takes the same credentials as the rest of
//! the SDK (`jwt` + `account_id`; `client_id` + `client_secret` +
//! `account_id`; `profile`; or nothing, for the `[default]` profile and
//! then a web login), validated by the same six rules and resolved by the
//! same chain, and opens a session on the selected account's warehouse:
//!
//! ```no_run
//! # async fn run() -> Result<(), komodo::Error> {
//! use komodo::warehouse::{Value, get_snowflake_connection};
//!
//! let conn = get_snowflake_connection().profile("production").database("DEMO").schema("HEALTHCARE").connect().await?;
//! let mut cursor = conn.cursor();
//! cursor.execute("SELECT COUNT(*) FROM CLAIMS WHERE claim_amount > ?", &[Value::from(100)]).await?;
//! let count = cursor.fetchone().await?;
//! println!("{count:?}");
//!
//! // Large results: Arrow record batches, downloaded ahead of the reader.
//! let mut cursor = conn.execute("SELECT * FROM CLAIMS", &[]).await?;
//! for batch in cursor.fetch_arrow_all().await? {
//!     println!("{} rows", batch.num_rows());
//! }
//! conn.close().await?;
//! # Ok(()) }
//! ```
//!
//! Results come as Arrow (the SDK asks for `QUERY_RESULT_FORMAT=ARROW`):
//! [`Cursor::fetch_arrow_batches`] hands the record batches over as they
//! arrived, and [`Cursor::fetchone`], [`fetchmany`](Cursor::fetchmany) and
//! [`fetchall`](Cursor::fetchall) convert rows to [`Value`]s.
//! [`Connection::stream_arrow`] streams a large result's batches while the
//! statement still runs, instead of after it ends (the gateway's one
//! extension to Snowflake's protocol; nothing of the result is kept on the
//! platform). Statement
//! errors are [`Error::Warehouse`] with Snowflake's
//! code and SQLSTATE; trouble reaching the gateway is
//! [`Error::Gateway`].
//!
//! [`Connection::load_file`] loads a CSV, Parquet or Arrow file into a
//! table of the account (created from the file's columns when asked), in
//! one commit, the file streamed from disk.
//!
//! A connection renews its session itself: an expired session token is
//! renewed with the master token, and an ended session is replaced by a
//! new login with a fresh access token from the credential source, so a
//! connection keeps working long after the access token it started with
//! expired.
//!
//! A cursor given `PUT file://... @stage` or `GET @stage file://...` moves
//! the files itself over the gateway's stage endpoints, streamed, and
//! answers the rows Snowflake's connectors answer
//! ([`Cursor::set_transfer_progress`] follows the bytes).
//!
//! Inside, each module uses only those below it: `http` (one request and
//! its answer) <- `session` (the login, its renewal, the calls made with the
//! session token) <- `stream`, `result` (reading results) and `transfer`
//! (`PUT` and `GET`) <- `connection` and `cursor` <- `load`.

mod connection;
mod cursor;
mod decode;
mod error;
mod http;
mod load;
mod query;
mod result;
mod session;
mod stream;
mod transfer;
mod value;

use std::fmt;
use std::sync::Arc;

pub use connection::Connection;
pub use cursor::{CancelHandle, Cursor};
pub use decode::ColumnDescription;
pub use error::{GatewayError, InterfaceError, WarehouseError};
pub use load::{LoadFormat, LoadOptions, LoadProgress, LoadSummary};
pub use query::{QueryId, QueryStatus};
pub use result::{ArrowBatches, PREFETCH_CHUNKS, Row};
pub use session::{CLIENT_APP_ID, SessionInfo};
pub use transfer::{TransferEvent, TransferProgress};
pub use value::{Decimal, ParseDecimalError, Value};

use crate::auth::{AuthArgs, WebLogin};
use crate::config::ProviderConfig;
use crate::{Client, Error};

/// A [`ConnectionBuilder`] on the process environment: the entry point,
/// named as in the Python package.
///
/// ```no_run
/// # async fn run() -> Result<(), komodo::Error> {
/// // The [default] profile (from `komodo login`), or a web login.
/// let conn = komodo::get_snowflake_connection().connect().await?;
/// // A JWT and an account.
/// let conn = komodo::get_snowflake_connection().jwt("eyJ...").account_id("123456789").connect().await?;
/// // A named profile holding service principal credentials.
/// let conn = komodo::get_snowflake_connection().profile("production").connect().await?;
/// # Ok(()) }
/// ```
pub fn get_snowflake_connection() -> ConnectionBuilder {
    ConnectionBuilder::new(ProviderConfig::from_process())
}

/// How a connection finds its credentials and where its session starts.
#[derive(Clone)]
pub struct ConnectionBuilder {
    config: ProviderConfig,
    args: AuthArgs,
    database: Option<String>,
    schema: Option<String>,
    web_login: WebLoginChoice,
}

#[derive(Clone)]
enum WebLoginChoice {
    /// The process-wide web login of the SDK.
    Default,
    /// No web login: running out of sources is "login required".
    Disabled,
    /// This one.
    Given(Arc<WebLogin>),
}

impl fmt::Debug for ConnectionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionBuilder")
            .field("args", &self.args)
            .field("database", &self.database)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl ConnectionBuilder {
    /// A builder resolving credentials with `config` (tests inject their
    /// environment, clock and HTTP client here).
    pub fn new(config: ProviderConfig) -> Self {
        Self { config, args: AuthArgs::new(), database: None, schema: None, web_login: WebLoginChoice::Default }
    }

    /// The account to connect to (needed with `jwt` or client credentials;
    /// alone, it selects the account for the `[default]` profile).
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.args = self.args.account_id(account_id);
        self
    }

    /// An access token (JWT); needs `account_id`.
    pub fn jwt(mut self, jwt: impl Into<String>) -> Self {
        self.args = self.args.jwt(jwt);
        self
    }

    /// A service principal's client id; needs `client_secret` and `account_id`.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.args = self.args.client_id(client_id);
        self
    }

    /// A service principal's client secret; needs `client_id` and `account_id`.
    pub fn client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.args = self.args.client_secret(client_secret);
        self
    }

    /// A named profile of the credentials file (service principal
    /// credentials; it holds the account).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.args = self.args.profile(profile);
        self
    }

    /// All the credential arguments at once (replacing those set before).
    pub fn args(mut self, args: AuthArgs) -> Self {
        self.args = args;
        self
    }

    /// The database the session starts in.
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// The schema the session starts in.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The interactive login to fall back to when no other source holds
    /// credentials: by default the SDK's process-wide web login; `None`
    /// makes running out of sources a "login required" error instead (what
    /// the CLI wants).
    pub fn web_login(mut self, login: Option<Arc<WebLogin>>) -> Self {
        self.web_login = match login {
            Some(login) => WebLoginChoice::Given(login),
            None => WebLoginChoice::Disabled,
        };
        self
    }

    /// Validates the arguments (before any I/O), resolves the credentials
    /// with the chain, obtains an access token and logs in to the gateway.
    pub async fn connect(self) -> Result<Connection, Error> {
        let mut builder = Client::builder(self.config.clone()).args(self.args).require_account(true);
        match self.web_login {
            WebLoginChoice::Default => builder = builder.web_login(WebLogin::process(&self.config)),
            WebLoginChoice::Given(login) => builder = builder.web_login(login),
            WebLoginChoice::Disabled => {}
        }
        let client = builder.build().await?;
        Connection::open(client, self.database.as_deref(), self.schema.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthError;
    use crate::env::Env;

    fn builder() -> ConnectionBuilder {
        // Nothing listens on port 9: a test that got past validation would fail differently.
        let env = Env::from_slice(&[("KOMODO_API_URL", "http://127.0.0.1:9"), ("HOME", "/nonexistent")]);
        ConnectionBuilder::new(ProviderConfig::new(env)).web_login(None)
    }

    #[tokio::test]
    async fn arguments_are_validated_before_any_io() {
        let cases = [
            (builder().jwt("j").client_id("c").account_id("a"), "cannot mix authentication methods"),
            (builder().profile("p").jwt("j"), "`profile` cannot be combined with `jwt`"),
            (builder().profile("p").account_id("a"), "the profile contains the account ID"),
            (builder().client_id("c").account_id("a"), "`client_id` was given without `client_secret`"),
            (builder().jwt("j"), "`jwt` requires `account_id`"),
            (builder().jwt("").account_id("a"), "`jwt` is empty"),
        ];
        for (builder, expected) in cases {
            let err = builder.connect().await.unwrap_err();
            assert!(matches!(err, Error::Auth(AuthError::InvalidArguments(_))), "{err:?}");
            assert!(err.to_string().contains(expected), "{err}");
        }
    }

    #[tokio::test]
    async fn no_credentials_without_web_login_is_login_required() {
        let err = builder().connect().await.unwrap_err();
        assert!(err.is_login_required(), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_gateway_is_a_gateway_error() {
        let err = builder().jwt("eyJ.e30.sig").account_id("a").connect().await.unwrap_err();
        assert!(matches!(err, Error::Gateway(GatewayError::Unavailable { .. })), "{err:?}");
        assert!(err.to_string().contains("POST /session/v1/login-request"), "{err}");
        assert!(!format!("{err:?}").contains("eyJ"), "{err:?}");
    }

    #[test]
    fn connections_are_shared_across_threads_and_cursors_move_between_them() {
        fn send_sync<T: Send + Sync + Clone>() {}
        fn send<T: Send + 'static>() {}
        send_sync::<Connection>();
        send_sync::<CancelHandle>();
        send::<Cursor>();
        send::<ArrowBatches>();
        send::<ConnectionBuilder>();
    }

    /// Every future of a connection and a cursor can run in a spawned task
    /// (checked at compile time; never called).
    #[allow(dead_code, clippy::let_underscore_future)]
    fn futures_can_be_spawned(conn: Connection, mut cursor: Cursor, mut batches: ArrowBatches, id: QueryId) {
        fn spawnable<T: std::future::Future + Send>(_: T) {}
        spawnable(ConnectionBuilder::new(ProviderConfig::from_process()).connect());
        spawnable(conn.execute("SELECT 1", &[]));
        spawnable(conn.query_status(&id));
        spawnable(conn.abort_query(&id));
        spawnable(conn.heartbeat());
        spawnable(conn.close());
        spawnable(cursor.cancel_handle().cancel());
        spawnable(async move {
            let _ = cursor.execute("SELECT ?", &[Value::from(1)]).await;
            let _ = cursor.executemany("SELECT ?", &[vec![Value::from(1)]]).await;
            let _ = cursor.execute_async("SELECT 1", &[]).await;
            let _ = cursor.get_results_from_query_id(&id).await;
            let _ = cursor.fetchone().await;
            let _ = cursor.fetchmany(10).await;
            let _ = cursor.fetchall().await;
            let _ = cursor.fetch_arrow_all().await;
            let _ = cursor.cancel().await;
        });
        spawnable(async move { batches.next_batch().await });
    }

    #[test]
    fn debug_never_shows_secrets() {
        let b = builder().client_id("c").client_secret("kmd_sp_SECRET").account_id("a");
        assert!(!format!("{b:?}").contains("SECRET"));
    }
}
