//! The gateway's side of an upstream Snowflake account's REST protocol:
//! a login with a key-pair JWT (`AUTHENTICATOR = SNOWFLAKE_JWT`), statements
//! with the session token, its renewal with the master token, and the
//! session's end.
//!
//! Nothing secret leaves this module in an error or a log: not the JWT,
//! not the tokens, not the private key (errors name the endpoint and
//! Snowflake's code and message).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use komodo_protocol::gateway::{Envelope, LoginRequest, LoginRequestData, NameValue, SessionInfo};
use komodo_protocol::secret::{AccessToken, SessionToken};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use super::keypair::SigningKey;
use super::relay::RawData;

/// The client name the gateway gives the upstream.
const CLIENT_APP_ID: &str = "KomodoGateway";

/// How long one call to the upstream may take before it is an error.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest answer the gateway reads from the upstream (a result's
/// first rows included; its chunks are streamed, never held).
pub const MAX_ANSWER_BYTES: usize = 256 << 20;

/// Where and as whom the gateway reaches an upstream account.
#[derive(Clone)]
pub struct UpstreamAccount {
    /// The account's URL (`https://<account>.snowflakecomputing.com`).
    pub host: url::Url,
    /// The Snowflake account name.
    pub account_name: String,
    /// The Snowflake user.
    pub user: String,
    /// The key that signs the login JWTs.
    pub key: Arc<SigningKey>,
    /// The role sessions use.
    pub role: Option<String>,
    /// The virtual warehouse sessions use.
    pub warehouse: Option<String>,
    /// The database sessions start in.
    pub database: Option<String>,
    /// The schema sessions start in.
    pub schema: Option<String>,
}

impl fmt::Debug for UpstreamAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamAccount")
            .field("host", &self.host.as_str())
            .field("account_name", &self.account_name)
            .field("user", &self.user)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Why a call to the upstream failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream could not be reached, or did not answer in time.
    #[error("the upstream Snowflake account is unreachable ({endpoint}): {reason}")]
    Unreachable {
        /// `METHOD /path`.
        endpoint: String,
        /// What failed (no URL, no header).
        reason: String,
    },
    /// The upstream answered with an HTTP error status (a 5xx or 429 is
    /// worth a retry).
    #[error("the upstream Snowflake account answered {endpoint} with HTTP status {status}")]
    Status {
        /// `METHOD /path`.
        endpoint: String,
        /// The status.
        status: u16,
    },
    /// The upstream answered with something that is not its protocol.
    #[error("the upstream Snowflake account answered {endpoint} with {reason}")]
    Protocol {
        /// `METHOD /path`.
        endpoint: String,
        /// What was wrong.
        reason: String,
    },
    /// The upstream refused, with Snowflake's code and message.
    #[error("{code}: {message}")]
    Refused {
        /// Snowflake's code (`390144`, `002003`, ...).
        code: String,
        /// Its message.
        message: String,
    },
    /// The login JWT could not be made.
    #[error("cannot sign the upstream login: {0}")]
    Key(String),
}

impl UpstreamError {
    /// Whether the call may succeed if made again: the upstream was not
    /// reached, or answered a server error or "too many requests".
    pub fn is_transient(&self) -> bool {
        match self {
            UpstreamError::Unreachable { .. } => true,
            UpstreamError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// What a login brings to the upstream session besides the account's
/// settings: where the session starts, its parameters, and the client
/// whose behaviour the upstream should assume (the connectors' result
/// formats follow the client's name).
#[derive(Debug, Clone, Default)]
pub struct LoginContext {
    /// The database to start in, instead of the account's default.
    pub database: Option<String>,
    /// The schema to start in, instead of the account's default.
    pub schema: Option<String>,
    /// Session parameters (`QUERY_TAG`, `TIMEZONE`, ...).
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// The client's application name and version (`PythonConnector`,
    /// `4.0.0`), else the gateway's own.
    pub client_app: Option<(String, String)>,
}

/// A call made with an upstream session (see [`UpstreamClient::call`]).
/// Each is safe to make again: the reads and the heartbeat change nothing,
/// an abort of an aborted request is a no-op, and the upstream matches a
/// statement's retries by its request id.
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    /// `POST /queries/v1/query-request?requestId=...` with this body.
    Query {
        /// The request body (`sqlText`, `bindings`, `parameters`, ...).
        body: &'a serde_json::Value,
        /// The request id, the same on every retry.
        request_id: &'a str,
    },
    /// `GET /queries/{id}/result`.
    Result(&'a str),
    /// `GET /monitoring/queries/{id}`.
    Monitoring(&'a str),
    /// `POST /queries/v1/abort-request` for a request id.
    Abort(&'a str),
    /// `POST /session/heartbeat`.
    Heartbeat,
}

/// An upstream session: its tokens, never shown by `Debug`.
#[derive(Clone)]
pub struct UpstreamSession {
    /// The session token (`Authorization: Snowflake Token="..."`).
    pub token: SessionToken,
    /// The master token, which renews it.
    pub master_token: SessionToken,
    /// The upstream's numeric session id.
    pub session_id: i64,
    /// Seconds the session token is valid.
    pub validity_in_seconds: u64,
    /// The session's parameters as the upstream listed them at login.
    pub parameters: Vec<NameValue>,
    /// Where the session started (database, schema, warehouse, role).
    pub session_info: Option<SessionInfo>,
}

impl fmt::Debug for UpstreamSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamSession").field("session_id", &self.session_id).finish_non_exhaustive()
    }
}

/// Calls one upstream account.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    http: reqwest::Client,
    account: UpstreamAccount,
}

impl UpstreamClient {
    /// A client of `account` over `http` (shared: one connection pool).
    pub fn new(http: reqwest::Client, account: UpstreamAccount) -> Self {
        Self { http, account }
    }

    /// The account it calls.
    pub fn account(&self) -> &UpstreamAccount {
        &self.account
    }

    /// Logs in with a fresh key-pair JWT, in `context`.
    pub async fn login(&self, context: &LoginContext) -> Result<UpstreamSession, UpstreamError> {
        let now = crate::clock::now().max(0).unsigned_abs();
        let jwt = self
            .account
            .key
            .jwt(&self.account.account_name, &self.account.user, now)
            .map_err(|e| UpstreamError::Key(e.to_string()))?;
        let body = LoginRequest {
            data: LoginRequestData {
                // As in the JWT: the account without its region.
                account_name: self.account.account_name.split('.').next().unwrap_or_default().to_ascii_uppercase(),
                login_name: Some(self.account.user.clone()),
                authenticator: Some("SNOWFLAKE_JWT".into()),
                token: Some(AccessToken::new(jwt)),
                client_app_id: Some(context.client_app.as_ref().map_or(CLIENT_APP_ID.into(), |(a, _)| a.clone())),
                client_app_version: Some(
                    context.client_app.as_ref().map_or(env!("CARGO_PKG_VERSION").into(), |(_, v)| v.clone()),
                ),
                // Always present, if empty (some upstreams require it).
                session_parameters: Some(context.parameters.clone()),
                client_environment: None,
            },
        };
        let mut url = self.endpoint("session/v1/login-request");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("requestId", &uuid::Uuid::new_v4().to_string());
            let database = context.database.as_ref().or(self.account.database.as_ref());
            let schema = context.schema.as_ref().or(self.account.schema.as_ref());
            for (name, value) in [
                ("databaseName", database),
                ("schemaName", schema),
                ("warehouse", self.account.warehouse.as_ref()),
                ("roleName", self.account.role.as_ref()),
            ] {
                if let Some(value) = value {
                    query.append_pair(name, value);
                }
            }
        }
        let body = serde_json::to_value(&body).map_err(|e| UpstreamError::Key(e.to_string()))?;
        let envelope = self.send(reqwest::Method::POST, url, None, Some(&body)).await?;
        let data: LoggedIn = success(envelope, "POST /session/v1/login-request")?;
        Ok(UpstreamSession {
            master_token: data.master_token.unwrap_or_else(|| data.token.clone()),
            token: data.token,
            session_id: data.session_id,
            validity_in_seconds: data.validity_in_seconds,
            parameters: data.parameters,
            session_info: data.session_info,
        })
    }

    /// Renews the session token with the master token
    /// (`POST /session/token-request`).
    pub async fn renew(&self, session: &UpstreamSession) -> Result<UpstreamSession, UpstreamError> {
        let mut url = self.endpoint("session/token-request");
        url.query_pairs_mut().append_pair("requestId", &uuid::Uuid::new_v4().to_string());
        let body = serde_json::json!({
            "oldSessionToken": session.token.expose_secret(),
            "requestType": "RENEW",
        });
        let envelope = self.send(reqwest::Method::POST, url, Some(&session.master_token), Some(&body)).await?;
        let data: Renewed = success(envelope, "POST /session/token-request")?;
        Ok(UpstreamSession {
            token: data.session_token,
            master_token: data.master_token.unwrap_or_else(|| session.master_token.clone()),
            session_id: session.session_id,
            validity_in_seconds: data.validity_in_seconds_s_t,
            parameters: session.parameters.clone(),
            session_info: session.session_info.clone(),
        })
    }

    /// Makes `call` with `session`; `retry` counts earlier attempts of the
    /// same call (sent as `retryCount`). The upstream's envelope as it
    /// answered (its `333333`/`333334` and its errors included), for the
    /// gateway to relay.
    pub async fn call(
        &self,
        session: &UpstreamSession,
        call: Call<'_>,
        retry: u32,
    ) -> Result<Envelope<RawData>, UpstreamError> {
        let (method, mut url, body) = match call {
            Call::Query { body, request_id } => {
                let mut url = self.endpoint("queries/v1/query-request");
                url.query_pairs_mut().append_pair("requestId", request_id);
                (reqwest::Method::POST, url, Some(body.clone()))
            }
            Call::Result(id) => (reqwest::Method::GET, self.endpoint(&format!("queries/{id}/result")), None),
            Call::Monitoring(id) => (reqwest::Method::GET, self.endpoint(&format!("monitoring/queries/{id}")), None),
            Call::Abort(request_id) => {
                let body = serde_json::json!({ "requestId": request_id });
                (reqwest::Method::POST, self.endpoint("queries/v1/abort-request"), Some(body))
            }
            Call::Heartbeat => (reqwest::Method::POST, self.endpoint("session/heartbeat"), None),
        };
        if retry > 0 {
            url.query_pairs_mut().append_pair("retryCount", &retry.to_string());
        }
        self.send(method, url, Some(&session.token), body.as_ref()).await
    }

    /// Fetches a result chunk from where the upstream keeps it, with the
    /// headers it named (or those its `qrmk` implies); the response, for
    /// its body to stream on. Only `https` URLs are followed (`http` on a
    /// loopback address, in tests).
    pub async fn chunk(
        &self,
        url: &url::Url,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<reqwest::Response, UpstreamError> {
        let endpoint = "GET <result chunk>".to_owned();
        if !chunk_url_allowed(url) {
            return Err(UpstreamError::Protocol { endpoint, reason: "a chunk URL that is not https".into() });
        }
        let response = self
            .http
            .get(url.clone())
            .timeout(CALL_TIMEOUT)
            .headers(headers.clone())
            .send()
            .await
            .map_err(|e| UpstreamError::Unreachable { endpoint: endpoint.clone(), reason: reason_of(e) })?;
        let status = response.status();
        if !status.is_success() {
            return Err(UpstreamError::Status { endpoint, status: status.as_u16() });
        }
        Ok(response)
    }

    /// Ends the session upstream.
    pub async fn close(&self, session: &UpstreamSession) -> Result<(), UpstreamError> {
        let mut url = self.endpoint("session");
        url.query_pairs_mut().append_pair("delete", "true");
        let envelope: Envelope<serde_json::Value> =
            self.send(reqwest::Method::POST, url, Some(&session.token), None).await?;
        match envelope.success {
            true => Ok(()),
            false => Err(refused(&envelope)),
        }
    }

    fn endpoint(&self, path: &str) -> url::Url {
        let mut url = self.account.host.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/{path}"));
        url
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: url::Url,
        token: Option<&SessionToken>,
        body: Option<&serde_json::Value>,
    ) -> Result<Envelope<T>, UpstreamError> {
        let endpoint = format!("{method} {}", url.path());
        let mut request = self
            .http
            .request(method, url)
            .timeout(CALL_TIMEOUT)
            .header(ACCEPT, "application/snowflake")
            .header(CONTENT_TYPE, "application/json");
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("Snowflake Token=\"{}\"", token.expose_secret()))
                .map_err(|_| UpstreamError::Protocol { endpoint: endpoint.clone(), reason: "a bad token".into() })?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let unreachable =
            |e: reqwest::Error| UpstreamError::Unreachable { endpoint: endpoint.clone(), reason: reason_of(e) };
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        // Read under a cap: large results come as chunks, fetched apart.
        let mut bytes = Vec::with_capacity(response.content_length().unwrap_or(0).min(1 << 20) as usize);
        while let Some(piece) = response.chunk().await.map_err(unreachable)? {
            if bytes.len() + piece.len() > MAX_ANSWER_BYTES {
                return Err(UpstreamError::Protocol {
                    endpoint,
                    reason: format!("an answer larger than {} MiB", MAX_ANSWER_BYTES >> 20),
                });
            }
            bytes.extend_from_slice(&piece);
        }
        match serde_json::from_slice::<Envelope<T>>(&bytes) {
            Ok(envelope) if status.is_success() => Ok(envelope),
            // An error status with Snowflake's envelope (a session the
            // upstream no longer knows, a failed statement): its answer.
            Ok(envelope) if !envelope.success && envelope.code.is_some() => Ok(envelope),
            _ if !status.is_success() => Err(UpstreamError::Status { endpoint, status: status.as_u16() }),
            Err(e) => Err(UpstreamError::Protocol { endpoint, reason: format!("not Snowflake's envelope: {e}") }),
            Ok(_) => Err(UpstreamError::Protocol { endpoint, reason: "an envelope without a code".into() }),
        }
    }
}

fn refused<T>(envelope: &Envelope<T>) -> UpstreamError {
    UpstreamError::Refused {
        code: envelope.code.clone().unwrap_or_else(|| "000000".into()),
        message: envelope.message.clone().unwrap_or_else(|| "the upstream refused without a message".into()),
    }
}

fn success<T: serde::de::DeserializeOwned>(
    envelope: Envelope<serde_json::Value>,
    endpoint: &str,
) -> Result<T, UpstreamError> {
    if !envelope.success {
        return Err(refused(&envelope));
    }
    let data = envelope.data.unwrap_or_default();
    serde_json::from_value(data)
        .map_err(|e| UpstreamError::Protocol { endpoint: endpoint.into(), reason: format!("unexpected data: {e}") })
}

/// The `data` of a login, as much of it as the gateway reads (upstreams
/// differ in what they list beyond the session token).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoggedIn {
    token: SessionToken,
    #[serde(default)]
    master_token: Option<SessionToken>,
    #[serde(default)]
    session_id: i64,
    #[serde(default)]
    validity_in_seconds: u64,
    #[serde(default)]
    parameters: Vec<NameValue>,
    #[serde(default)]
    session_info: Option<SessionInfo>,
}

/// The `data` of a renewal, as much of it as the gateway reads.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Renewed {
    session_token: SessionToken,
    #[serde(default)]
    master_token: Option<SessionToken>,
    #[serde(default)]
    validity_in_seconds_s_t: u64,
}

/// What failed in a call, without its URL (a chunk's URL is a credential).
fn reason_of(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", CALL_TIMEOUT.as_secs());
    }
    komodo_protocol::error_text(&error.without_url())
}

/// Whether the gateway follows a chunk URL: `https`, or `http` to a
/// loopback address.
fn chunk_url_allowed(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        },
        _ => false,
    }
}
