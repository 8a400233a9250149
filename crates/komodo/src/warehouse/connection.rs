//! [`Connection`]: a gateway session opened with the credentials the chain
//! resolved, and every HTTP call made on it.
//!
//! Each call carries `Authorization: Snowflake Token="<session token>"`.
//! A call answered with `390112` (session expired) renews the session token
//! with the master token and is sent again; one answered with `390114`,
//! `390115` or `390111` (master token expired or invalid, session gone)
//! logs in again with a fresh access token from the credential source and
//! is sent again. So a connection outlives the access token it was opened
//! with, and the session token it was first given.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use komodo_protocol::gateway::{
    LoginRequest, LoginRequestData, LoginResponseData, MonitoringData, TokenRequest, TokenResponseData, codes,
};
use komodo_protocol::result_stream;
use komodo_protocol::secret::{AccessToken, SessionToken};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::de::DeserializeOwned;
use url::Url;

use super::cursor::Cursor;
use super::error::{GatewayError, InterfaceError, WarehouseError};
use super::result::ArrowBatches;
use super::value::Value;
use crate::auth::{Credential, Source};
use crate::{Client, Error};

/// The name the SDK logs in with (`CLIENT_APP_ID`).
pub const CLIENT_APP_ID: &str = "KomodoRust";

/// The media type Snowflake's connectors accept for statement calls.
const ACCEPT_SNOWFLAKE: &str = "application/snowflake";

/// A gateway response: `{"success", "code", "message", "data"}`.
pub(crate) type Envelope = komodo_protocol::gateway::Envelope<serde_json::Value>;

/// A connection to the selected account's warehouse: a gateway session
/// that renews itself. Cheap to clone; clones share the session. Open one
/// with [`get_snowflake_connection`](super::get_snowflake_connection).
///
/// ```no_run
/// # async fn run() -> Result<(), komodo::Error> {
/// let conn = komodo::get_snowflake_connection().profile("production").connect().await?;
/// let mut cursor = conn.execute("SELECT COUNT(*) FROM DEMO.HEALTHCARE.CLAIMS", &[]).await?;
/// println!("{:?}", cursor.fetchone().await?);
/// conn.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connection {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("api_url", &self.shared.api_url.as_str())
            .field("session", &self.session_info())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Where a session stands: its account, database, schema and role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The account (id or slug, as the credentials name it).
    pub account_id: String,
    /// The current database.
    pub database: Option<String>,
    /// The current schema.
    pub schema: Option<String>,
    /// The caller's role in the account.
    pub role: Option<String>,
    /// The gateway's numeric session id.
    pub session_id: i64,
}

/// The session tokens, replaced together by a renewal or a new login.
struct Tokens {
    session: SessionToken,
    master: SessionToken,
    /// Bumped on every replacement, so that concurrent callers that saw the
    /// same expired token renew it once.
    generation: u64,
}

/// What the clones of a [`Connection`] share.
pub(crate) struct Shared {
    client: Client,
    pub(crate) http: reqwest::Client,
    api_url: Url,
    account: String,
    tokens: tokio::sync::Mutex<Tokens>,
    info: Mutex<SessionInfo>,
    sequence: AtomicU64,
    closed: AtomicBool,
}

impl Connection {
    /// Opens a session on the warehouse of `client`'s account, starting in
    /// `database` and `schema` when given.
    pub async fn open(client: Client, database: Option<&str>, schema: Option<&str>) -> Result<Self, Error> {
        let account = client
            .account_id()
            .ok_or_else(|| {
                Error::Auth(crate::auth::AuthError::UnsetAccount { provenance: client.resolved().provenance.clone() })
            })?
            .to_owned();
        let http = client.config().http().clone();
        let api_url = client.api_url().clone();
        let (tokens, info) = login(&client, &http, &api_url, &account, database, schema).await?;
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                http,
                api_url,
                account,
                tokens: tokio::sync::Mutex::new(tokens),
                info: Mutex::new(info),
                sequence: AtomicU64::new(0),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// A new cursor on this connection.
    pub fn cursor(&self) -> Cursor {
        Cursor::new(self.clone())
    }

    /// Runs one statement with positional parameters (`?` or `:1`) and
    /// returns the cursor holding its result.
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<Cursor, Error> {
        let mut cursor = self.cursor();
        cursor.execute(sql, params).await?;
        Ok(cursor)
    }

    /// Runs one statement and streams its rows as Arrow record batches
    /// while the warehouse still produces them; see
    /// [`Cursor::stream_arrow`].
    pub async fn stream_arrow(&self, sql: &str, params: &[Value]) -> Result<ArrowBatches, Error> {
        self.cursor().stream_arrow(sql, params).await
    }

    /// The account, database, schema and role of the session.
    pub fn session_info(&self) -> SessionInfo {
        self.shared.info.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The account the session acts on.
    pub fn account_id(&self) -> &str {
        &self.shared.account
    }

    /// The session's current database.
    pub fn database(&self) -> Option<String> {
        self.session_info().database
    }

    /// The session's current schema.
    pub fn schema(&self) -> Option<String> {
        self.session_info().schema
    }

    /// The client holding the credentials (and their provenance).
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// The status of a statement, by its query id.
    pub async fn query_status(&self, query_id: &QueryId) -> Result<QueryStatus, Error> {
        Ok(self.query_status_entry(query_id).await?.0)
    }

    /// Like [`query_status`](Self::query_status), but a statement that
    /// failed or was cancelled is its error.
    pub async fn query_status_throw_if_error(&self, query_id: &QueryId) -> Result<QueryStatus, Error> {
        let (status, error) = self.query_status_entry(query_id).await?;
        match error {
            Some(error) if status.is_error() => Err(error.into()),
            _ => Ok(status),
        }
    }

    async fn query_status_entry(&self, query_id: &QueryId) -> Result<(QueryStatus, Option<WarehouseError>), Error> {
        let path = format!("monitoring/queries/{query_id}");
        let envelope = self.shared.call(Method::GET, &path, None).await?;
        let monitoring: MonitoringData = self.shared.success_data(envelope, &path)?;
        let Some(entry) = monitoring.queries.into_iter().next() else { return Ok((QueryStatus::NoData, None)) };
        let status = QueryStatus::from_str(&entry.status).unwrap_or_else(|never| match never {});
        let error = (!entry.error_code.is_empty() || !entry.error_message.is_empty()).then_some(WarehouseError {
            code: entry.error_code,
            sql_state: None,
            message: entry.error_message,
            query_id: Some(entry.id),
        });
        Ok((status, error))
    }

    /// Cancels a running statement by its query id. Returns whether the
    /// gateway accepted the request.
    pub async fn abort_query(&self, query_id: &QueryId) -> Result<bool, Error> {
        let path = format!("queries/{query_id}/abort-request");
        let envelope = self.shared.call(Method::POST, &path, Some(serde_json::json!({}))).await?;
        Ok(envelope.success)
    }

    /// Tells the gateway the session is still in use.
    pub async fn heartbeat(&self) -> Result<(), Error> {
        let path = format!("session/heartbeat?requestId={}", uuid::Uuid::new_v4());
        let envelope = self.shared.call(Method::POST, &path, None).await?;
        self.shared.success_data::<serde_json::Value>(envelope, "session/heartbeat").map(|_| ())
    }

    /// Closes the session. Later calls on this connection, its clones and
    /// its cursors fail with [`InterfaceError::Closed`]. Closing twice is
    /// not an error.
    pub async fn close(&self) -> Result<(), Error> {
        if self.shared.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let token = self.shared.tokens.lock().await.session.clone();
        let url = self.shared.endpoint("session?delete=true");
        let envelope = self.shared.send(Method::POST, url, Some(&token), Some(&serde_json::json!({}))).await?;
        match envelope.success {
            true => Ok(()),
            // A session that already ended is closed.
            false if is_session_end(envelope.code.as_deref()) => Ok(()),
            false => Err(self.shared.envelope_error(&envelope, "the gateway did not close the session").into()),
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }
}

fn is_session_end(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(codes::SESSION_GONE | codes::SESSION_EXPIRED | codes::MASTER_TOKEN_EXPIRED | codes::MASTER_TOKEN_INVALID)
    )
}

impl Drop for Shared {
    /// A connection dropped without [`Connection::close`] ends its session
    /// in the background, when a runtime is there to run the request.
    fn drop(&mut self) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        let (Ok(handle), Ok(tokens)) = (tokio::runtime::Handle::try_current(), self.tokens.try_lock()) else {
            return;
        };
        let (http, token, url) = (self.http.clone(), tokens.session.clone(), self.endpoint("session?delete=true"));
        handle.spawn(async move {
            let _ = authorized(http.post(url), &token).json(&serde_json::json!({})).send().await;
        });
    }
}

impl Shared {
    /// The next statement's `sequenceId` (1, 2, ...).
    pub(crate) fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// `path` (with its query string) under the platform URL.
    pub(crate) fn endpoint(&self, path: &str) -> Url {
        endpoint(&self.api_url, path)
    }

    /// A URL the gateway handed out (`getResultUrl`): a path under the
    /// platform URL, or an absolute URL on the same origin (the session
    /// token is never sent anywhere else).
    pub(crate) fn gateway_url(&self, given: &str) -> Result<Url, GatewayError> {
        match Url::parse(given) {
            Ok(url) if url.origin() == self.api_url.origin() => Ok(url),
            Ok(_) => Err(GatewayError::Protocol {
                endpoint: "getResultUrl".into(),
                reason: "the result URL points at another server".into(),
            }),
            Err(_) => Ok(self.endpoint(given)),
        }
    }

    /// Records the database and schema a statement left the session in.
    pub(crate) fn update_context(&self, database: Option<&str>, schema: Option<&str>) {
        let mut info = self.info.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(database) = database.filter(|d| !d.is_empty()) {
            info.database = Some(database.to_owned());
        }
        if let Some(schema) = schema.filter(|s| !s.is_empty()) {
            info.schema = Some(schema.to_owned());
        }
    }

    /// Sends a call with the session token, renewing the session or
    /// logging in again once when the gateway says so.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Envelope, Error> {
        self.call_url(method, self.endpoint(path), body).await
    }

    /// [`call`](Self::call) with a full URL.
    pub(crate) async fn call_url(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<Envelope, Error> {
        let endpoint = describe(&method, &url);
        self.call_answer(method, url, body).await?.envelope(endpoint)
    }

    /// [`call_url`](Self::call_url) for a statement that may be answered
    /// with a streamed result.
    pub(crate) async fn call_answer(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
    ) -> Result<Answer, Error> {
        let (mut renewed, mut logged_in) = (false, false);
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(InterfaceError::Closed.into());
            }
            let (token, generation) = {
                let tokens = self.tokens.lock().await;
                (tokens.session.clone(), tokens.generation)
            };
            let envelope = match send(&self.http, method.clone(), url.clone(), Some(&token), body.as_ref()).await? {
                Answer::Envelope(envelope) => envelope,
                stream @ Answer::Stream(_) => return Ok(stream),
            };
            if envelope.success {
                return Ok(Answer::Envelope(envelope));
            }
            match envelope.code.as_deref() {
                Some(codes::SESSION_EXPIRED) if !renewed => {
                    renewed = true;
                    self.renew(generation).await?;
                }
                Some(codes::MASTER_TOKEN_EXPIRED | codes::MASTER_TOKEN_INVALID | codes::SESSION_GONE) if !logged_in => {
                    logged_in = true;
                    self.relogin(generation).await?;
                }
                _ => return Ok(Answer::Envelope(envelope)),
            }
        }
    }

    /// Renews the session token with the master token, unless another
    /// call already replaced the tokens of `generation`. Falls back to a
    /// new login when the master token no longer works.
    async fn renew(&self, generation: u64) -> Result<(), Error> {
        let mut tokens = self.tokens.lock().await;
        if tokens.generation != generation {
            return Ok(());
        }
        tracing::debug!("the gateway session expired; renewing it with the master token");
        let url = self.endpoint(&format!("session/token-request?requestId={}", uuid::Uuid::new_v4()));
        let body = serde_json::to_value(TokenRequest {
            old_session_token: tokens.session.clone(),
            request_type: "RENEW".into(),
        })
        .map_err(|e| protocol_error("session/token-request", e))?;
        let master = tokens.master.clone();
        let envelope = self.send(Method::POST, url, Some(&master), Some(&body)).await?;
        if envelope.success {
            let renewed: TokenResponseData = self.success_data(envelope, "session/token-request")?;
            tokens.session = renewed.session_token;
            tokens.master = renewed.master_token;
            tokens.generation += 1;
            return Ok(());
        }
        if is_session_end(envelope.code.as_deref()) {
            return self.login_again(&mut tokens).await;
        }
        Err(self.envelope_error(&envelope, "the gateway did not renew the session").into())
    }

    /// Logs in again, unless another call already replaced the tokens of
    /// `generation`.
    async fn relogin(&self, generation: u64) -> Result<(), Error> {
        let mut tokens = self.tokens.lock().await;
        if tokens.generation != generation {
            return Ok(());
        }
        self.login_again(&mut tokens).await
    }

    async fn login_again(&self, tokens: &mut Tokens) -> Result<(), Error> {
        tracing::debug!("the gateway session ended; logging in again");
        let (database, schema) = {
            let info = self.info.lock().unwrap_or_else(|e| e.into_inner());
            (info.database.clone(), info.schema.clone())
        };
        let (fresh, info) =
            login(&self.client, &self.http, &self.api_url, &self.account, database.as_deref(), schema.as_deref())
                .await?;
        tokens.session = fresh.session;
        tokens.master = fresh.master;
        tokens.generation += 1;
        *self.info.lock().unwrap_or_else(|e| e.into_inner()) = info;
        Ok(())
    }

    /// Sends one request and decodes the envelope; HTTP statuses other
    /// than 200 and undecodable bodies are [`GatewayError`]s.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        token: Option<&SessionToken>,
        body: Option<&serde_json::Value>,
    ) -> Result<Envelope, Error> {
        let endpoint = describe(&method, &url);
        send(&self.http, method, url, token, body).await?.envelope(endpoint)
    }

    /// The `data` of a successful envelope, decoded; the error of a failed one.
    pub(crate) fn success_data<T: DeserializeOwned>(&self, envelope: Envelope, what: &str) -> Result<T, Error> {
        if !envelope.success {
            return Err(self.envelope_error(&envelope, &format!("the gateway refused {what}")).into());
        }
        let data = envelope.data.unwrap_or(serde_json::Value::Null);
        serde_json::from_value(data).map_err(|e| protocol_error(what, e).into())
    }

    pub(crate) fn envelope_error(&self, envelope: &Envelope, fallback: &str) -> WarehouseError {
        WarehouseError::from_envelope(
            envelope.code.as_deref(),
            envelope.message.as_deref(),
            envelope.data.as_ref(),
            fallback,
        )
    }
}

fn protocol_error(what: &str, err: impl fmt::Display) -> GatewayError {
    GatewayError::Protocol { endpoint: what.to_owned(), reason: format!("cannot decode the answer: {err}") }
}

pub(crate) fn endpoint(base: &Url, path: &str) -> Url {
    base.join(path.trim_start_matches('/')).unwrap_or_else(|_| base.clone())
}

/// `METHOD /path`, without the query string, for messages and logs.
pub(crate) fn describe(method: &Method, url: &Url) -> String {
    format!("{method} {}", url.path())
}

fn authorized(request: reqwest::RequestBuilder, token: &SessionToken) -> reqwest::RequestBuilder {
    let mut value = HeaderValue::from_str(&format!("Snowflake Token=\"{}\"", token.expose_secret()))
        .unwrap_or_else(|_| HeaderValue::from_static("Snowflake Token=\"invalid\""));
    value.set_sensitive(true);
    request.header(AUTHORIZATION, value)
}

/// What the gateway answered: an envelope, or a streamed result
/// (`komodo_protocol::result_stream`) to a statement that asked for one.
pub(crate) enum Answer {
    /// `{"success", "code", "message", "data"}`.
    Envelope(Envelope),
    /// The response whose body is the result stream.
    Stream(reqwest::Response),
}

impl Answer {
    /// The envelope; a result stream is a protocol error here.
    pub(crate) fn envelope(self, endpoint: String) -> Result<Envelope, Error> {
        match self {
            Answer::Envelope(envelope) => Ok(envelope),
            Answer::Stream(_) => {
                Err(GatewayError::Protocol { endpoint, reason: "a streamed result where none was asked for".into() }
                    .into())
            }
        }
    }
}

async fn send(
    http: &reqwest::Client,
    method: Method,
    url: Url,
    token: Option<&SessionToken>,
    body: Option<&serde_json::Value>,
) -> Result<Answer, Error> {
    let endpoint = describe(&method, &url);
    tracing::debug!(%endpoint, "gateway request");
    let mut request = http.request(method, url).header(ACCEPT, ACCEPT_SNOWFLAKE);
    if let Some(token) = token {
        request = authorized(request, token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let unavailable = |e: reqwest::Error| GatewayError::Unavailable {
        endpoint: endpoint.clone(),
        reason: error_text(&e.without_url()),
    };
    let response = request.send().await.map_err(unavailable)?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(GatewayError::Http { status: status.as_u16(), endpoint }.into());
    }
    let streamed = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(result_stream::CONTENT_TYPE.as_bytes()));
    if streamed {
        tracing::debug!(%endpoint, "gateway response: a result stream");
        return Ok(Answer::Stream(response));
    }
    let bytes = response.bytes().await.map_err(unavailable)?;
    let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|e| GatewayError::Protocol {
        endpoint: endpoint.clone(),
        reason: format!("not a gateway response: {e}"),
    })?;
    tracing::debug!(%endpoint, success = envelope.success, code = envelope.code.as_deref(), "gateway response");
    Ok(Answer::Envelope(envelope))
}

/// An error and its sources on one line.
pub(crate) fn error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

/// Whether the client can obtain a new access token when the gateway
/// refuses the current one (a token passed explicitly cannot be renewed).
fn renewable(client: &Client) -> bool {
    match &client.resolved().credential {
        Credential::ClientCredentials { .. } => true,
        Credential::Token { .. } => {
            matches!(client.resolved().provenance.winner(), Some((Source::DefaultProfile | Source::WebLogin, _)))
        }
    }
}

/// `POST /session/v1/login-request` with a fresh access token; a token the
/// gateway refuses is renewed once when the source can renew it.
async fn login(
    client: &Client,
    http: &reqwest::Client,
    api_url: &Url,
    account: &str,
    database: Option<&str>,
    schema: Option<&str>,
) -> Result<(Tokens, SessionInfo), Error> {
    let mut token = client.access_token().await?;
    let mut retried = false;
    loop {
        let mut url = endpoint(api_url, "session/v1/login-request");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("requestId", &uuid::Uuid::new_v4().to_string());
            if let Some(database) = database {
                query.append_pair("databaseName", database);
            }
            if let Some(schema) = schema {
                query.append_pair("schemaName", schema);
            }
        }
        let endpoint = describe(&Method::POST, &url);
        let envelope =
            send(http, Method::POST, url, None, Some(&login_body(account, &token)?)).await?.envelope(endpoint)?;
        if envelope.success {
            let data: LoginResponseData = serde_json::from_value(envelope.data.unwrap_or_default())
                .map_err(|e| protocol_error("session/v1/login-request", e))?;
            let info = data.session_info.unwrap_or_default();
            tracing::debug!(session_id = data.session_id, "logged in to the warehouse gateway");
            return Ok((
                Tokens { session: data.token, master: data.master_token, generation: 0 },
                SessionInfo {
                    account_id: account.to_owned(),
                    database: info.database_name,
                    schema: info.schema_name,
                    role: info.role_name,
                    session_id: data.session_id,
                },
            ));
        }
        let error = WarehouseError::from_envelope(
            envelope.code.as_deref(),
            envelope.message.as_deref(),
            envelope.data.as_ref(),
            "the warehouse gateway refused the login",
        );
        if error.is_token_rejected() && !retried && renewable(client) {
            retried = true;
            token = client.renew_after_rejection(&token).await?;
            continue;
        }
        return Err(error.into());
    }
}

fn login_body(account: &str, token: &AccessToken) -> Result<serde_json::Value, Error> {
    let request = LoginRequest {
        data: LoginRequestData {
            account_name: account.to_owned(),
            login_name: Some(String::new()),
            authenticator: Some("OAUTH".into()),
            token: Some(token.clone()),
            client_app_id: Some(CLIENT_APP_ID.into()),
            client_app_version: Some(env!("CARGO_PKG_VERSION").into()),
            session_parameters: None,
            client_environment: None,
        },
    };
    serde_json::to_value(request).map_err(|e| protocol_error("session/v1/login-request", e).into())
}

/// A statement's id, as the gateway hands it out (a UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueryId(String);

impl QueryId {
    /// Checks that `id` looks like a query id (letters, digits and dashes),
    /// so that it can go into a URL path as it is.
    pub fn new(id: impl Into<String>) -> Result<Self, InterfaceError> {
        let id = id.into();
        let valid = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid { Ok(Self(id)) } else { Err(InterfaceError::InvalidQueryId(id)) }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for QueryId {
    type Err = InterfaceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// Where a statement stands, as `GET /monitoring/queries/{id}` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryStatus {
    /// Waiting to run.
    Queued,
    /// Running.
    Running,
    /// Finished; its result can be fetched.
    Success,
    /// Failed.
    FailedWithError,
    /// Being cancelled.
    Aborting,
    /// Cancelled.
    Aborted,
    /// The gateway knows nothing about it (yet).
    NoData,
    /// Another of Snowflake's statuses (`BLOCKED`, `RESUMING_WAREHOUSE`, ...).
    Other(String),
}

impl QueryStatus {
    /// Whether the statement has not finished yet (as the connectors'
    /// `is_still_running`).
    pub fn is_still_running(&self) -> bool {
        match self {
            QueryStatus::Queued | QueryStatus::Running | QueryStatus::NoData => true,
            QueryStatus::Other(s) => {
                matches!(s.as_str(), "RESUMING_WAREHOUSE" | "QUEUED_REPARING_WAREHOUSE" | "BLOCKED")
            }
            _ => false,
        }
    }

    /// Whether the statement failed or was cancelled (as the connectors'
    /// `is_an_error`).
    pub fn is_error(&self) -> bool {
        match self {
            QueryStatus::FailedWithError | QueryStatus::Aborting | QueryStatus::Aborted => true,
            QueryStatus::Other(s) => matches!(s.as_str(), "FAILED_WITH_INCIDENT" | "DISCONNECTED"),
            _ => false,
        }
    }
}

impl FromStr for QueryStatus {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "QUEUED" => QueryStatus::Queued,
            "RUNNING" => QueryStatus::Running,
            "SUCCESS" => QueryStatus::Success,
            "FAILED_WITH_ERROR" => QueryStatus::FailedWithError,
            "ABORTING" => QueryStatus::Aborting,
            "ABORTED" => QueryStatus::Aborted,
            "NO_DATA" => QueryStatus::NoData,
            other => QueryStatus::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for QueryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryStatus::Queued => "QUEUED",
            QueryStatus::Running => "RUNNING",
            QueryStatus::Success => "SUCCESS",
            QueryStatus::FailedWithError => "FAILED_WITH_ERROR",
            QueryStatus::Aborting => "ABORTING",
            QueryStatus::Aborted => "ABORTED",
            QueryStatus::NoData => "NO_DATA",
            QueryStatus::Other(s) => s,
        })
    }
}

/// How long to wait before polling again after a poll that came back
/// at once (the gateway long-polls, so this only matters for gateways that
/// do not): 50 ms, doubling up to 1 s.
pub(crate) fn poll_backoff(attempt: u32) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << attempt.min(5)).min(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_ids_are_safe_in_paths() {
        assert_eq!(QueryId::new("01b5f0a2-0000-4a3b-0000-00000000000a").unwrap().as_str().len(), 36);
        for bad in ["", "../session", "a b", "x?y", "é"] {
            assert!(matches!(QueryId::new(bad), Err(InterfaceError::InvalidQueryId(_))), "{bad}");
        }
        assert!("abc-1".parse::<QueryId>().is_ok());
    }

    #[test]
    fn statuses_follow_the_connectors() {
        let parse = |s: &str| QueryStatus::from_str(s).unwrap();
        assert!(parse("RUNNING").is_still_running() && !parse("RUNNING").is_error());
        assert!(parse("QUEUED").is_still_running());
        assert!(parse("BLOCKED").is_still_running());
        assert!(parse("ABORTED").is_error() && !parse("ABORTED").is_still_running());
        assert!(parse("FAILED_WITH_ERROR").is_error());
        assert!(parse("FAILED_WITH_INCIDENT").is_error());
        assert!(!parse("SUCCESS").is_error() && !parse("SUCCESS").is_still_running());
        assert_eq!(parse("RESTARTED").to_string(), "RESTARTED");
        assert_eq!(parse("SUCCESS").to_string(), "SUCCESS");
    }

    #[test]
    fn endpoints_keep_the_base_path() {
        let base = Url::parse("https://platform.example.com/base/").unwrap();
        assert_eq!(endpoint(&base, "/queries/x/result").as_str(), "https://platform.example.com/base/queries/x/result");
        assert_eq!(
            endpoint(&base, "session?delete=true").as_str(),
            "https://platform.example.com/base/session?delete=true"
        );
        assert_eq!(describe(&Method::GET, &endpoint(&base, "a/b?sig=secret")), "GET /base/a/b");
    }

    #[test]
    fn login_body_has_the_contracts_fields() {
        let body = login_body("acme", &AccessToken::new("eyJ.x.y")).unwrap();
        let data = &body["data"];
        assert_eq!(data["ACCOUNT_NAME"], "acme");
        assert_eq!(data["AUTHENTICATOR"], "OAUTH");
        assert_eq!(data["TOKEN"], "eyJ.x.y");
        assert_eq!(data["CLIENT_APP_ID"], "KomodoRust");
        assert_eq!(data["CLIENT_APP_VERSION"], env!("CARGO_PKG_VERSION"));
        assert_eq!(data["LOGIN_NAME"], "");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(poll_backoff(0), Duration::from_millis(50));
        assert_eq!(poll_backoff(1), Duration::from_millis(100));
        assert_eq!(poll_backoff(30), Duration::from_secs(1));
    }
}
