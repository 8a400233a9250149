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

use komodo_protocol::gateway::{
    Envelope, LoginRequest, LoginRequestData, LoginResponseData, QueryRequest, QueryResponseData,
};
use komodo_protocol::secret::{AccessToken, SessionToken};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use super::keypair::SigningKey;

/// The client name the gateway gives the upstream.
const CLIENT_APP_ID: &str = "KomodoGateway";

/// How long one call to the upstream may take before it is an error.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

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

    /// Logs in with a fresh key-pair JWT; `parameters` are session
    /// parameters (`QUERY_TAG`, ...).
    pub async fn login(
        &self,
        parameters: serde_json::Map<String, serde_json::Value>,
    ) -> Result<UpstreamSession, UpstreamError> {
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
                client_app_id: Some(CLIENT_APP_ID.into()),
                client_app_version: Some(env!("CARGO_PKG_VERSION").into()),
                session_parameters: (!parameters.is_empty()).then_some(parameters),
                client_environment: None,
            },
        };
        let mut url = self.endpoint("session/v1/login-request");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("requestId", &uuid::Uuid::new_v4().to_string());
            for (name, value) in [
                ("databaseName", &self.account.database),
                ("schemaName", &self.account.schema),
                ("warehouse", &self.account.warehouse),
                ("roleName", &self.account.role),
            ] {
                if let Some(value) = value {
                    query.append_pair(name, value);
                }
            }
        }
        let body = serde_json::to_value(&body).map_err(|e| UpstreamError::Key(e.to_string()))?;
        let envelope = self.send(reqwest::Method::POST, url, None, Some(&body)).await?;
        let data: LoginResponseData = success(envelope, "POST /session/v1/login-request")?;
        Ok(UpstreamSession {
            token: data.token,
            master_token: data.master_token,
            session_id: data.session_id,
            validity_in_seconds: data.validity_in_seconds,
        })
    }

    /// Submits a statement; the upstream's envelope as it answered (its
    /// `333333`/`333334` included), for the gateway to relay.
    pub async fn query(
        &self,
        session: &UpstreamSession,
        request: &QueryRequest,
        request_id: &str,
        retry: u32,
    ) -> Result<Envelope<QueryResponseData>, UpstreamError> {
        let mut url = self.endpoint("queries/v1/query-request");
        url.query_pairs_mut().append_pair("requestId", request_id);
        if retry > 0 {
            url.query_pairs_mut().append_pair("retryCount", &retry.to_string());
        }
        let body = serde_json::to_value(request).map_err(|e| UpstreamError::Key(e.to_string()))?;
        let envelope = self.send(reqwest::Method::POST, url, Some(&session.token), Some(&body)).await?;
        typed(envelope, "POST /queries/v1/query-request")
    }

    /// Ends the session upstream.
    pub async fn close(&self, session: &UpstreamSession) -> Result<(), UpstreamError> {
        let mut url = self.endpoint("session");
        url.query_pairs_mut().append_pair("delete", "true");
        let envelope = self.send(reqwest::Method::POST, url, Some(&session.token), None).await?;
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

    async fn send(
        &self,
        method: reqwest::Method,
        url: url::Url,
        token: Option<&SessionToken>,
        body: Option<&serde_json::Value>,
    ) -> Result<Envelope<serde_json::Value>, UpstreamError> {
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
        let unreachable = |e: reqwest::Error| UpstreamError::Unreachable {
            endpoint: endpoint.clone(),
            reason: komodo_protocol::error_text(&e.without_url()),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(UpstreamError::Protocol { endpoint, reason: format!("HTTP status {}", status.as_u16()) });
        }
        let bytes = response.bytes().await.map_err(unreachable)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| UpstreamError::Protocol { endpoint, reason: format!("not Snowflake's envelope: {e}") })
    }
}

fn refused(envelope: &Envelope<serde_json::Value>) -> UpstreamError {
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

fn typed(envelope: Envelope<serde_json::Value>, endpoint: &str) -> Result<Envelope<QueryResponseData>, UpstreamError> {
    let data = envelope
        .data
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| UpstreamError::Protocol { endpoint: endpoint.into(), reason: format!("unexpected data: {e}") })?;
    Ok(Envelope { data, code: envelope.code, message: envelope.message, success: envelope.success })
}
