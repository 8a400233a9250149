//! Who a gateway request comes from, as axum extractors: [`Caller`] for
//! every request after the login, [`Submitter`] for a statement (which also
//! learns whether its `requestId` was submitted before), and the check
//! that a request's body reader runs before it reads a compressed or large
//! body ([`check_credential`], F10).
//!
//! A request authenticates with a session token (the session open and
//! unexpired, and its principal still in the account, with the credential
//! the session was opened with still standing: T01, T02, F07) or with a
//! bearer access token and `x-account-id` (the principal checked as the IAM
//! API checks it).

use axum::extract::{FromRequestParts, Query};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use komodo_protocol::gateway::codes;
use komodo_protocol::iam::{ACCOUNT_ID_HEADER, Role};

use super::wire::{Credential, credential};
use crate::clock::now;
use crate::crypto::token_hash;
use crate::identity::access::{AccessError, account_access};
use crate::identity::{AuthError, Principal, authenticate};
use crate::keys::TokenError;
use crate::queries::error::GwError;
use crate::state::AppState;
use crate::store::gateway::{GatewaySessionRow, SessionCheck};

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
    /// Whether the caller may only read the account's data (a user with
    /// the `reader` role), as its role stands at this request.
    pub read_only: bool,
}

impl Caller {
    /// What the caller's statements may do with the account's own data.
    pub fn access(&self) -> komodo_warehouse::Access {
        match self.read_only {
            true => komodo_warehouse::Access::ReadOnly,
            false => komodo_warehouse::Access::ReadWrite,
        }
    }
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

/// Marks a request whose credential an extractor has checked, so that the
/// body reader does not check it again.
#[derive(Debug, Clone, Copy)]
pub struct CredentialChecked;

impl FromRequestParts<AppState> for Caller {
    type Rejection = GwError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = authorize(state, &parts.headers).await?;
        parts.extensions.insert(CredentialChecked);
        Ok(caller)
    }
}

/// Query parameters carrying the client's request id.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestIdQuery {
    /// The client's id for this request (kept across retries).
    #[serde(default, alias = "request_id")]
    pub request_id: Option<String>,
}

/// The caller of a statement submission, with the client's `requestId`
/// (kept across retries) and, when the session's lookup could tell in the
/// same round trip, the query the session already submitted with it:
/// `Some(Some(id))` for a retry, `Some(None)` for a new request, `None`
/// when unknown (a bearer caller).
#[derive(Debug, Clone)]
pub struct Submitter {
    /// Who submits.
    pub caller: Caller,
    /// The client's request id, if it sent one.
    pub request_id: Option<String>,
    /// The query already submitted with that request id, when known.
    pub prior: Option<Option<String>>,
}

impl FromRequestParts<AppState> for Submitter {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Query(query) =
            Query::<RequestIdQuery>::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let request_id = query.request_id.filter(|r| !r.is_empty());
        let (caller, prior) = authorize_request(state, &parts.headers, request_id.as_deref())
            .await
            .map_err(IntoResponse::into_response)?;
        parts.extensions.insert(CredentialChecked);
        Ok(Submitter { caller, request_id, prior })
    }
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
pub(super) async fn principal_of(state: &AppState, token: &str) -> Result<Principal, GwError> {
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

/// The account a principal names (id or slug) and the role it has there
/// (as the login response names it).
pub(super) async fn account_for(
    state: &AppState,
    principal: &Principal,
    reference: &str,
) -> Result<(String, String), GwError> {
    let (account, role) = account_role(state, principal, reference).await?;
    let role = match role {
        Some(Role::Admin) => "ADMIN",
        Some(Role::Member) => "MEMBER",
        Some(Role::Reader) => "READER",
        None => "SERVICE_PRINCIPAL",
    };
    Ok((account, role.to_owned()))
}

/// The account a principal names (id or slug) and its role there (`None`
/// for a service principal, which acts with member rights).
async fn account_role(
    state: &AppState,
    principal: &Principal,
    reference: &str,
) -> Result<(String, Option<Role>), GwError> {
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
    Ok((account.id, access.role))
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
            let Some(SessionCheck { session, allowed, read_only, prior_query }) = check else {
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
                read_only,
            };
            Ok((caller, Some(prior_query)))
        }
        Credential::Bearer(token) => {
            let principal = principal_of(state, token).await?;
            let reference = headers.get(ACCOUNT_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            let (account_id, role) = account_role(state, &principal, reference).await?;
            let read_only = matches!(role, Some(Role::Reader));
            Ok((Caller { account_id, subject: principal.claims().sub.clone(), session: None, read_only }, None))
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

/// An unknown master token.
pub(super) fn master_token_invalid() -> GwError {
    GwError::new(codes::MASTER_TOKEN_INVALID, "Invalid master token. The user must authenticate again.").state("08001")
}

/// An expired master token.
pub(super) fn master_token_expired() -> GwError {
    GwError::new(codes::MASTER_TOKEN_EXPIRED, "Authentication token has expired. The user must authenticate again.")
        .state("08001")
}
