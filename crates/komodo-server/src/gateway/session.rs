//! Login, heartbeat, token renewal and close.
//!
//! A login turns a Komodo access token (`AUTHENTICATOR=OAUTH` + `TOKEN`, or
//! `Authorization: Bearer` + `x-account-id`, which is how Komodo Health's
//! connector logs in with `AUTHENTICATOR=SNOWFLAKE_JWT`) into a gateway
//! session with a session token and a master token, both random and stored
//! only as hashes. Every later request is authorised again by its
//! [`Caller`] extractor.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use komodo_protocol::gateway::{
    LoginQuery, LoginRequest, LoginResponseData, NameValue, SessionInfo, TokenRequest, TokenResponseData, codes,
};
use komodo_protocol::iam::ACCOUNT_ID_HEADER;
use komodo_protocol::secret::SessionToken;
use serde_json::json;

use super::body::GwJson;
use super::caller::{Caller, account_for, master_token_expired, master_token_invalid, principal_of};
use super::wire::{Credential, credential, ok};
use crate::clock::{expires_after, now};
use crate::crypto::{random_token, token_hash};
use crate::queries::error::GwError;
use crate::state::AppState;
use crate::store::gateway::NewGatewaySession;

/// The authenticator Komodo Health's connector names: its access token
/// comes as `Authorization: Bearer`, with no `TOKEN` in the body.
pub const BEARER_JWT_AUTHENTICATOR: &str = "SNOWFLAKE_JWT";

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
    let authenticator = data.authenticator.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let body_token = data.token.as_ref().filter(|t| !t.is_empty());
    let token = match authenticator {
        None => None,
        Some(a) if a.eq_ignore_ascii_case("OAUTH") => None,
        Some(a) if a.eq_ignore_ascii_case(BEARER_JWT_AUTHENTICATOR) => {
            if body_token.is_some() {
                return Err(GwError::new(
                    codes::AUTHENTICATION_FAILED,
                    "Key-pair authentication is not supported: with authenticator SNOWFLAKE_JWT send the Komodo \
                     access token as `Authorization: Bearer <token>` and no TOKEN, or connect with \
                     authenticator='oauth' and token=<Komodo access token>.",
                )
                .state("28000"));
            }
            let Some(token) = bearer.clone() else {
                return Err(GwError::new(
                    codes::AUTHENTICATION_FAILED,
                    "No access token: with authenticator SNOWFLAKE_JWT send the Komodo access token as \
                     `Authorization: Bearer <token>` with `x-account-id`.",
                )
                .state("28000"));
            };
            Some(token)
        }
        Some(other) => {
            return Err(GwError::new(
                codes::AUTHENTICATION_FAILED,
                format!(
                    "Authenticator {other} is not supported: connect with authenticator='oauth' and \
                     token=<Komodo access token>."
                ),
            )
            .state("28000"));
        }
    };
    let bearer_login = token.is_some();
    let token = match (token, body_token, &bearer) {
        (Some(t), _, _) => t,
        (None, Some(t), _) => t.expose_secret().to_owned(),
        (None, None, Some(t)) => t.clone(),
        (None, None, None) => {
            return Err(GwError::new(
                codes::AUTHENTICATION_FAILED,
                "No access token: connect with authenticator='oauth' and token=<Komodo access token>, \
                 or send `Authorization: Bearer <token>`.",
            )
            .state("28000"));
        }
    };
    let principal = principal_of(&state, &token).await?;
    if bearer_login
        && let Some(login_name) = data.login_name.as_deref().map(str::trim).filter(|n| !n.is_empty())
        && !login_name_matches(login_name, &principal.claims().sub)
    {
        return Err(GwError::new(
            codes::AUTHENTICATION_FAILED,
            "LOGIN_NAME does not name the principal of the access token: send the id of the user or \
             service principal the token was issued to, or no LOGIN_NAME.",
        )
        .state("28000"));
    }
    let header_account =
        headers.get(ACCOUNT_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::trim).filter(|a| !a.is_empty());
    let account_ref = match (data.account_name.trim(), header_account) {
        ("", Some(header)) => header.to_owned(),
        (body, _) => body.to_owned(),
    };
    let (account_id, role) = account_for(&state, &principal, &account_ref).await?;
    if let Some(header) = header_account
        && !data.account_name.trim().is_empty()
        && account_for(&state, &principal, header).await?.0 != account_id
    {
        return Err(GwError::new(
            codes::AUTHENTICATION_FAILED,
            "ACCOUNT_NAME and the x-account-id header name different accounts: send one account.",
        )
        .state("28000"));
    }

    // The session parameters it asks for that the gateway keeps (the
    // result format), checked before the session opens.
    let parameters = super::query::request::login_parameters(data.session_parameters.as_ref())?;

    let gateway = state.gateway();
    let upstream = super::upstream::backend(&state, &account_id).await?;
    let session_id = uuid::Uuid::new_v4().to_string();
    // The warehouse session itself opens with the first statement, on
    // whichever replica serves it, from the stored context.
    let database = query.database_name.as_deref().filter(|d| !d.trim().is_empty()).map(identifier);
    let schema = query.schema_name.as_deref().filter(|s| !s.trim().is_empty()).map(identifier);

    let session_token = SessionToken::new(format!("kmd_st_{}", random_token::<32>()));
    let master_token = SessionToken::new(format!("kmd_mt_{}", random_token::<32>()));
    let config = gateway.config();
    let numeric_id = i64::from_be_bytes(crate::crypto::random_bytes::<8>()) & 0x000f_ffff_ffff_ffff;
    let claims = principal.claims();
    let mut parameters_out = session_parameters();
    let mut session_info = SessionInfo {
        database_name: database.clone(),
        schema_name: schema.clone(),
        warehouse_name: None,
        role_name: None,
    };
    if let Some(client) = &upstream {
        // The upstream session opens with the gateway's: a refusal or an
        // unreachable upstream fails this login, before anything is stored.
        let start = (database.clone(), schema.clone());
        let (upstream_parameters, info) =
            super::upstream::open_session(&state, client, &session_id, &account_id, &claims.sub, &data, start).await?;
        parameters_out = merged_parameters(upstream_parameters);
        if let Some(info) = info {
            session_info = SessionInfo { role_name: None, ..info };
        }
    }
    let inserted = state
        .store()
        .insert_gateway_session(&NewGatewaySession {
            id: &session_id,
            numeric_id,
            account_id: &account_id,
            subject: &claims.sub,
            token_family: claims.sid.as_deref(),
            token_jti: Some(&claims.jti),
            token_hash: &token_hash(session_token.expose_secret()),
            token_expires_at: expires_after(config.session_token_ttl),
            master_hash: &token_hash(master_token.expose_secret()),
            master_expires_at: expires_after(config.master_token_ttl),
            database_name: database.as_deref(),
            schema_name: schema.as_deref(),
            client_app: data.client_app_id.as_deref(),
        })
        .await;
    if let Err(error) = inserted {
        state.upstreams().close(&session_id).await;
        return Err(error.into());
    }
    if let Some(parameters) = &parameters {
        state.store().set_gateway_session_parameters(&session_id, Some(parameters)).await?;
    }
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
        session_info: Some(SessionInfo { role_name: Some(role), ..session_info }),
        parameters: parameters_out,
    }))
}

/// The parameters a login on an upstream account answers: the upstream
/// session's, with the gateway's where the gateway decides (no array
/// binding through a stage, no telemetry), and the gateway's defaults for
/// what the upstream did not list.
fn merged_parameters(upstream: Vec<NameValue>) -> Vec<NameValue> {
    const GATEWAY_DECIDES: [&str; 2] = ["CLIENT_STAGE_ARRAY_BINDING_THRESHOLD", "CLIENT_TELEMETRY_ENABLED"];
    let mut merged: Vec<NameValue> =
        upstream.into_iter().filter(|p| !GATEWAY_DECIDES.iter().any(|n| p.name.eq_ignore_ascii_case(n))).collect();
    for ours in session_parameters() {
        if !merged.iter().any(|p| p.name.eq_ignore_ascii_case(&ours.name)) {
            merged.push(ours);
        }
    }
    merged
}

/// Whether a login's `LOGIN_NAME` names the principal `sub` stands for:
/// its id (what Komodo Health's connector sends), or the whole `sub`,
/// compared exactly.
fn login_name_matches(login_name: &str, sub: &str) -> bool {
    let id = sub.split_once(':').map(|(_, id)| id).unwrap_or(sub);
    login_name == id || login_name == sub
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

/// `POST /session/heartbeat`: keeps the session alive (and checks it),
/// and its upstream session, if it has one.
pub async fn heartbeat(State(state): State<AppState>, caller: Caller) -> Result<Response, GwError> {
    super::upstream::heartbeat(&state, &caller).await;
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
    let expires = expires_after(config.session_token_ttl);
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
    Query(query): Query<CloseQuery>,
    caller: Caller,
) -> Result<Response, GwError> {
    if !query.delete.as_deref().is_some_and(|d| d.eq_ignore_ascii_case("true")) {
        return Err(GwError::bad_request("POST /session needs ?delete=true"));
    }
    if let Some(session) = &caller.session {
        state.store().close_gateway_session(&session.id).await?;
        state.gateway().drop_engine_session(&session.id);
        state.upstreams().close(&session.id).await;
        tracing::info!(session = %session.id, account = %session.account_id, "gateway session closed");
    }
    Ok(ok(serde_json::Value::Null))
}
