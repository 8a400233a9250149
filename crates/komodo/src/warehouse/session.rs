//! A gateway session: logged in with the credentials the chain resolved,
//! and kept alive for every call made on it.
//!
//! Each call carries `Authorization: Snowflake Token="<session token>"`.
//! A call answered with `390112` (session expired) renews the session token
//! with the master token and is sent again; one answered with `390114`,
//! `390115` or `390111` (master token expired or invalid, session gone)
//! logs in again with a fresh access token from the credential source and
//! is sent again. So a connection outlives the access token it was opened
//! with, and the session token it was first given.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use komodo_protocol::gateway::{
    LoginRequest, LoginRequestData, LoginResponseData, TokenRequest, TokenResponseData, codes,
};
use komodo_protocol::secret::{AccessToken, SessionToken};
use parking_lot::Mutex;
use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{GatewayError, InterfaceError, WarehouseError};
use super::http::{Answer, Envelope, authorized, describe, endpoint, protocol_error, send, send_body};
use crate::{Client, Error};

/// The name the SDK logs in with (`CLIENT_APP_ID`).
pub const CLIENT_APP_ID: &str = "KomodoRust";

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

/// A gateway session: what the clones of a [`Connection`](super::Connection),
/// its cursors and its results share.
pub(crate) struct Session {
    client: Client,
    pub(crate) http: reqwest::Client,
    api_url: Url,
    account: String,
    tokens: tokio::sync::Mutex<Tokens>,
    info: Mutex<SessionInfo>,
    sequence: AtomicU64,
    closed: AtomicBool,
}

fn is_session_end(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(codes::SESSION_GONE | codes::SESSION_EXPIRED | codes::MASTER_TOKEN_EXPIRED | codes::MASTER_TOKEN_INVALID)
    )
}

impl Drop for Session {
    /// A connection dropped without [`Connection::close`](super::Connection::close) ends its session
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

impl Session {
    /// Logs in to the gateway for `client`'s account, starting in
    /// `database` and `schema` when given.
    pub(crate) async fn open(client: Client, database: Option<&str>, schema: Option<&str>) -> Result<Self, Error> {
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
            client,
            http,
            api_url,
            account,
            tokens: tokio::sync::Mutex::new(tokens),
            info: Mutex::new(info),
            sequence: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// The client holding the credentials.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The platform's base URL.
    pub(crate) fn api_url(&self) -> &Url {
        &self.api_url
    }

    /// The account the session acts on.
    pub(crate) fn account(&self) -> &str {
        &self.account
    }

    /// The account, database, schema and role of the session.
    pub(crate) fn info(&self) -> SessionInfo {
        self.info.lock().clone()
    }

    /// Whether the session was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Ends the session on the gateway (once; later calls do nothing).
    pub(crate) async fn close(&self) -> Result<(), Error> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let token = self.tokens.lock().await.session.clone();
        let url = self.endpoint("session?delete=true");
        let envelope = self.send(Method::POST, url, Some(&token), Some(&serde_json::json!({}))).await?;
        match envelope.success {
            true => Ok(()),
            // A session that already ended is closed.
            false if is_session_end(envelope.code.as_deref()) => Ok(()),
            false => Err(self.envelope_error(&envelope, "the gateway did not close the session").into()),
        }
    }

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
        let mut info = self.info.lock();
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
                stream @ (Answer::Stream(_) | Answer::File(_)) => return Ok(stream),
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

    /// Sends a file to `url` with the session token (a body from `body`,
    /// called again for each attempt), renewing the session or logging in
    /// again once when the gateway says so, as [`call`](Self::call) does.
    pub(crate) async fn upload(
        &self,
        url: Url,
        content_type: &'static str,
        body: &(dyn Fn() -> Result<reqwest::Body, Error> + Send + Sync),
    ) -> Result<Envelope, Error> {
        let endpoint = describe(&Method::POST, &url);
        let (mut renewed, mut logged_in) = (false, false);
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(InterfaceError::Closed.into());
            }
            let (token, generation) = {
                let tokens = self.tokens.lock().await;
                (tokens.session.clone(), tokens.generation)
            };
            let envelope =
                send_body(&self.http, url.clone(), &token, body()?, content_type).await?.envelope(endpoint.clone())?;
            if envelope.success {
                return Ok(envelope);
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
                _ => return Ok(envelope),
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
            let info = self.info.lock();
            (info.database.clone(), info.schema.clone())
        };
        let (fresh, info) =
            login(&self.client, &self.http, &self.api_url, &self.account, database.as_deref(), schema.as_deref())
                .await?;
        tokens.session = fresh.session;
        tokens.master = fresh.master;
        tokens.generation += 1;
        *self.info.lock() = info;
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

    /// The error of a `success: false` envelope.
    pub(crate) fn envelope_error(&self, envelope: &Envelope, fallback: &str) -> WarehouseError {
        WarehouseError::from_envelope(
            envelope.code.as_deref(),
            envelope.message.as_deref(),
            envelope.data.as_ref(),
            fallback,
        )
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
        if error.is_token_rejected() && !retried && client.renews_tokens() {
            retried = true;
            token = client.renew_after_rejection(&token).await?;
            continue;
        }
        return Err(error.into());
    }
}

/// The body of a login request with `token`.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
