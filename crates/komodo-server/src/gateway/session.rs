//! Login, request authorisation, heartbeat, token renewal and close.
//!
//! A login turns a Komodo access token (`AUTHENTICATOR=OAUTH` + `TOKEN`, or
//! `Authorization: Bearer` + `x-account-id`) into a gateway session with a
//! session token and a master token, both random and stored only as
//! hashes. Every later request is authorised again: the session must be
//! open and unexpired, and its principal must still have the account (a
//! removed member, a deleted service principal or a revoked login stops
//! the session at once: T01, T02), with the credential it was opened with
//! still standing (a revoked access token, a password reset or a rotated
//! secret ends the session: F07).

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use komodo_protocol::gateway::{
    LoginQuery, LoginRequest, LoginResponseData, NameValue, SessionInfo, TokenRequest, TokenResponseData, codes,
};
use komodo_protocol::iam::{ACCOUNT_ID_HEADER, Role};
use komodo_protocol::secret::SessionToken;
use serde_json::json;

use super::wire::{Credential, GwError, GwJson, credential, ok};
use crate::clock::now;
use crate::crypto::{random_token, token_hash};
use crate::identity::access::{AccessError, account_access};
use crate::identity::{AuthError, Principal, authenticate};
use crate::keys::TokenError;
use crate::state::AppState;
use crate::store::gateway::{GatewaySessionRow, NewGatewaySession};

/// The path of the login request (the one gateway request without a
/// credential in its headers).
pub const LOGIN_PATH: &str = "/session/v1/login-request";
/// The path of a session token renewal (its credential is the master token).
pub const TOKEN_REQUEST_PATH: &str = "/session/token-request";

/// Who is calling, in which account and session.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account.
    pub account_id: String,
    /// The principal (`user:<id>` or `sp:<id>`).
    pub subject: String,
    /// The gateway session, or `None` for a request authenticated by a
    /// bearer token alone (it runs in a session of its own).
    pub session: Option<GatewaySessionRow>,
}

impl Caller {
    /// The session id queries are filed under.
    pub fn session_key(&self) -> String {
        match &self.session {
            Some(s) => s.id.clone(),
            None => format!("bearer:{}", self.subject),
        }
    }
}

fn session_parameters() -> Vec<NameValue> {
    let p = |name: &str, value: serde_json::Value| NameValue { name: name.to_owned(), value };
    vec![
        p("TIMEZONE", json!("UTC")),
        p("AUTOCOMMIT", json!(true)),
        p("CLIENT_STAGE_ARRAY_BINDING_THRESHOLD", json!(0)),
        p("CLIENT_SESSION_KEEP_ALIVE", json!(false)),
        p("CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY", json!(3600)),
        p("CLIENT_TELEMETRY_ENABLED", json!(false)),
        p("CLIENT_PREFETCH_THREADS", json!(4)),
        p("QUERY_CONTEXT_CACHE_SIZE", json!(5)),
        p("CLIENT_RESULT_CHUNK_SIZE", json!(160)),
    ]
}

fn token_failure(error: &TokenError) -> GwError {
    match error {
        TokenError::Expired => GwError::new(
            codes::OAUTH_TOKEN_EXPIRED,
            "OAuth access token expired. Get a fresh one (`komodo jwt` prints one) and connect again.",
        )
        .state("08001"),
        other => GwError::new(
            codes::INVALID_OAUTH_TOKEN,
            format!("Invalid OAuth access token: {other}. Pass a Komodo access token (`komodo jwt` prints one)."),
        )
        .state("08001"),
    }
}

/// Verifies a Komodo access token and the principal behind it.
async fn principal_of(state: &AppState, token: &str) -> Result<Principal, GwError> {
    authenticate(state.keys(), state.store(), token).await.map_err(|error| match error {
        AuthError::Token(rejected) => token_failure(&rejected),
        AuthError::Gone(why) => GwError::new(
            codes::INVALID_OAUTH_TOKEN,
            format!("Invalid OAuth access token: {why}. Log in again (`komodo login`)."),
        )
        .state("08001"),
        AuthError::Store(e) => e.into(),
    })
}

/// The account a principal names (id or slug) and the role it has there.
async fn account_for(state: &AppState, principal: &Principal, reference: &str) -> Result<(String, String), GwError> {
    let reference = reference.trim();
    if reference.is_empty() {
        return Err(GwError::new(
            codes::AUTHENTICATION_FAILED,
            "Account must be specified: pass the Komodo account id as `account`.",
        )
        .state("28000"));
    }
    let Some(account) = state.store().account_by_ref(reference).await? else {
        return Err(GwError::no_access());
    };
    let access = account_access(state.store(), principal, &account.id).await.map_err(|error| match error {
        AccessError::Store(e) => GwError::internal(e),
        _ => GwError::no_access(),
    })?;
    let role = match access.role {
        Some(Role::Admin) => "ADMIN",
        Some(Role::Member) => "MEMBER",
        None => "SERVICE_PRINCIPAL",
    };
    Ok((account.id, role.to_owned()))
}

/// `POST /session/v1/login-request`.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
    GwJson(body): GwJson<LoginRequest>,
) -> Result<Response, GwError> {
    let data = body.data;
    let bearer = match credential(&headers) {
        Credential::Bearer(token) => Some(token.to_owned()),
        _ => None,
    };
    let token = match (&data.token, &bearer) {
        (Some(t), _) if !t.is_empty() => t.expose_secret().to_owned(),
        (_, Some(t)) => t.clone(),
        _ => {
            return Err(GwError::new(
                codes::AUTHENTICATION_FAILED,
                "No access token: connect with authenticator='oauth' and token=<Komodo access token>, \
                 or send `Authorization: Bearer <token>`.",
            )
            .state("28000"));
        }
    };
    if let Some(authenticator) = data.authenticator.as_deref().filter(|a| !a.is_empty())
        && !authenticator.eq_ignore_ascii_case("OAUTH")
    {
        return Err(GwError::new(
            codes::AUTHENTICATION_FAILED,
            format!(
                "Authenticator {authenticator} is not supported: connect with authenticator='oauth' and \
                 token=<Komodo access token>."
            ),
        )
        .state("28000"));
    }
    let principal = principal_of(&state, &token).await?;
    let account_ref = if data.account_name.trim().is_empty() {
        headers.get(ACCOUNT_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    } else {
        data.account_name.clone()
    };
    let (account_id, role) = account_for(&state, &principal, &account_ref).await?;

    let gateway = state.gateway();
    let session_id = uuid::Uuid::new_v4().to_string();
    // The warehouse session itself opens with the first statement, on
    // whichever replica serves it, from the stored context.
    let database = query.database_name.as_deref().filter(|d| !d.trim().is_empty()).map(identifier);
    let schema = query.schema_name.as_deref().filter(|s| !s.trim().is_empty()).map(identifier);

    let session_token = SessionToken::new(format!("kmd_st_{}", random_token::<32>()));
    let master_token = SessionToken::new(format!("kmd_mt_{}", random_token::<32>()));
    let config = gateway.config();
    let issued = now();
    let numeric_id = i64::from_be_bytes(crate::crypto::random_bytes::<8>()) & 0x000f_ffff_ffff_ffff;
    let claims = principal.claims();
    state
        .store()
        .insert_gateway_session(&NewGatewaySession {
            id: &session_id,
            numeric_id,
            account_id: &account_id,
            subject: &claims.sub,
            token_family: claims.sid.as_deref(),
            token_jti: Some(&claims.jti),
            token_hash: &token_hash(session_token.expose_secret()),
            token_expires_at: issued + config.session_token_ttl.as_secs() as i64,
            master_hash: &token_hash(master_token.expose_secret()),
            master_expires_at: issued + config.master_token_ttl.as_secs() as i64,
            database_name: database.as_deref(),
            schema_name: schema.as_deref(),
            client_app: data.client_app_id.as_deref(),
        })
        .await?;
    tracing::info!(
        session = %session_id,
        account = %account_id,
        subject = %claims.sub,
        client = data.client_app_id.as_deref().unwrap_or(""),
        "gateway session opened"
    );
    Ok(ok(LoginResponseData {
        token: session_token,
        master_token,
        validity_in_seconds: config.session_token_ttl.as_secs(),
        master_validity_in_seconds: config.master_token_ttl.as_secs(),
        session_id: numeric_id,
        server_version: Some(format!("{} komodo", env!("CARGO_PKG_VERSION"))),
        session_info: Some(SessionInfo {
            database_name: database,
            schema_name: schema,
            warehouse_name: None,
            role_name: Some(role),
        }),
        parameters: session_parameters(),
    }))
}

/// A login's `databaseName`/`schemaName` as Snowflake resolves an
/// identifier: unquoted names upper-cased, quoted ones taken as written.
fn identifier(name: &str) -> String {
    let name = name.trim();
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_uppercase(),
    }
}

/// Authorises a request: a session token (open, unexpired, principal still
/// in the account) or a bearer token with `x-account-id`.
pub async fn authorize(state: &AppState, headers: &HeaderMap) -> Result<Caller, GwError> {
    Ok(authorize_request(state, headers, None).await?.0)
}

/// [`authorize`] for a request carrying the client's `request_id`: also
/// the query the session already submitted with it (a retry), when the
/// session's lookup can tell in the same round trip; `None` otherwise.
pub async fn authorize_request(
    state: &AppState,
    headers: &HeaderMap,
    request_id: Option<&str>,
) -> Result<(Caller, Option<Option<String>>), GwError> {
    match credential(headers) {
        Credential::Snowflake(token) => {
            let check = state.store().gateway_session_for_request(&token_hash(token), request_id).await?;
            let Some(crate::store::gateway::SessionCheck { session, allowed, prior_query }) = check else {
                return Err(GwError::session_gone());
            };
            if session.closed_at.is_some() {
                return Err(GwError::session_gone());
            }
            let t = now();
            if session.master_expires_at <= t {
                return Err(GwError::new(
                    codes::MASTER_TOKEN_EXPIRED,
                    "Authentication token has expired. The user must authenticate again.",
                )
                .state("08001"));
            }
            if session.token_expires_at <= t {
                return Err(GwError::new(codes::SESSION_EXPIRED, "Your session has expired. Please login again.")
                    .state("08001"));
            }
            if !allowed {
                return Err(GwError::no_access());
            }
            let caller = Caller {
                account_id: session.account_id.clone(),
                subject: session.subject.clone(),
                session: Some(session),
            };
            Ok((caller, Some(prior_query)))
        }
        Credential::Bearer(token) => {
            let principal = principal_of(state, token).await?;
            let reference = headers.get(ACCOUNT_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let (account_id, _) = account_for(state, &principal, reference).await?;
            Ok((Caller { account_id, subject: principal.claims().sub.clone(), session: None }, None))
        }
        Credential::None => Err(GwError::new(
            codes::AUTHENTICATION_FAILED,
            "Missing credentials: send `Authorization: Snowflake Token=\"<session token>\"` from a login, \
             or `Authorization: Bearer <access token>` with `x-account-id`.",
        )
        .state("28000")),
    }
}

/// Checks the credential of a gateway request to `path` from its headers
/// alone, before its body is read (F10): the master token of an open,
/// unexpired session for a token renewal, and for every other request
/// what [`authorize`] checks. The handler checks again with what the body
/// says.
pub async fn check_credential(state: &AppState, path: &str, headers: &HeaderMap) -> Result<(), GwError> {
    if path != TOKEN_REQUEST_PATH {
        return authorize(state, headers).await.map(|_| ());
    }
    let Credential::Snowflake(master) = credential(headers) else {
        return Err(master_token_invalid());
    };
    match state.store().gateway_session_by_master(&token_hash(master)).await? {
        Some(session) if session.closed_at.is_none() && session.master_expires_at > now() => Ok(()),
        Some(session) if session.closed_at.is_some() => Err(GwError::session_gone()),
        Some(_) => Err(master_token_expired()),
        None => Err(master_token_invalid()),
    }
}

fn master_token_invalid() -> GwError {
    GwError::new(codes::MASTER_TOKEN_INVALID, "Invalid master token. The user must authenticate again.").state("08001")
}

fn master_token_expired() -> GwError {
    GwError::new(codes::MASTER_TOKEN_EXPIRED, "Authentication token has expired. The user must authenticate again.")
        .state("08001")
}

/// `POST /session/heartbeat`: keeps the session alive (and checks it).
pub async fn heartbeat(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, GwError> {
    authorize(&state, &headers).await?;
    Ok(ok(serde_json::Value::Null))
}

/// `POST /session/token-request`: a new session token for the master
/// token in `Authorization`.
pub async fn token_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    GwJson(body): GwJson<TokenRequest>,
) -> Result<Response, GwError> {
    let invalid = master_token_invalid;
    let Credential::Snowflake(master) = credential(&headers) else {
        return Err(invalid());
    };
    if !body.request_type.eq_ignore_ascii_case("RENEW") {
        return Err(GwError::bad_request(format!("unsupported requestType `{}`; expected RENEW", body.request_type)));
    }
    let store = state.store();
    let Some(session) = store.gateway_session_by_master(&token_hash(master)).await? else {
        return Err(invalid());
    };
    if session.closed_at.is_some() {
        return Err(GwError::session_gone());
    }
    let t = now();
    if session.master_expires_at <= t {
        return Err(master_token_expired());
    }
    if !store.gateway_session_allowed(&session.id).await? {
        return Err(GwError::no_access());
    }
    let config = state.gateway().config();
    let fresh = SessionToken::new(format!("kmd_st_{}", random_token::<32>()));
    let old_hash = token_hash(body.old_session_token.expose_secret());
    let expires = t + config.session_token_ttl.as_secs() as i64;
    if !store.renew_gateway_session(&session.id, &old_hash, &token_hash(fresh.expose_secret()), expires).await? {
        // Only the holder of the current session token may renew it; a
        // stale token means another renewal won, which the client can
        // recover from by logging in again.
        return Err(invalid());
    }
    let master_left = (session.master_expires_at - t).max(0) as u64;
    Ok(ok(TokenResponseData {
        session_token: fresh,
        validity_in_seconds_s_t: config.session_token_ttl.as_secs(),
        master_token: SessionToken::new(master),
        validity_in_seconds_m_t: master_left,
        master_validity_in_seconds: master_left,
        session_id: session.numeric_id,
    }))
}

/// Query parameters of `POST /session`.
#[derive(Debug, serde::Deserialize)]
pub struct CloseQuery {
    /// Must be `true`.
    #[serde(default)]
    pub delete: Option<String>,
}

/// `POST /session?delete=true`: closes the session and drops its
/// temporary tables.
pub async fn close(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CloseQuery>,
) -> Result<Response, GwError> {
    if !query.delete.as_deref().is_some_and(|d| d.eq_ignore_ascii_case("true")) {
        return Err(GwError::bad_request("POST /session needs ?delete=true"));
    }
    let caller = authorize(&state, &headers).await?;
    if let Some(session) = &caller.session {
        state.store().close_gateway_session(&session.id).await?;
        state.gateway().drop_engine_session(&session.id);
        tracing::info!(session = %session.id, account = %session.account_id, "gateway session closed");
    }
    Ok(ok(serde_json::Value::Null))
}
