//! Request authentication as axum extractors, shared by the IAM API and
//! userinfo: a handler names who may call it in its arguments, and the
//! extractor answers 401 or 403 before the handler runs.
//!
//! - [`Authenticated`]: any live principal behind `Authorization: Bearer
//!   <access token>` (the token verified, then the principal checked
//!   against the store: T02, A09, F07).
//! - [`AccountAdmin`]: an authenticated admin of the account that
//!   `x-account-id` names (T03; an unknown account and another's are
//!   indistinguishable: T01).
//!
//! The gateway authenticates with its own extractor (session tokens, its
//! own error envelope): [`crate::gateway::caller`].

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use komodo_protocol::iam::ACCOUNT_ID_HEADER;

use crate::identity::access::{AccessError, account_access, require_admin};
use crate::identity::{AuthError, Principal, authenticate};
use crate::state::AppState;
use crate::web::api::ApiFailure;
use crate::web::request::bearer;

/// The principal behind the request's bearer access token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        principal(state, &parts.headers).await.map(Authenticated)
    }
}

/// An admin of the account named by `x-account-id` (T03).
#[derive(Debug, Clone)]
pub struct AccountAdmin {
    /// The admin.
    pub principal: Principal,
    /// The account's id.
    pub account_id: String,
}

impl FromRequestParts<AppState> for AccountAdmin {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = principal(state, &parts.headers).await?;
        let account_id = account_header(state, &parts.headers).await?;
        require_admin(state.store(), &principal, &account_id).await.map_err(access_failure)?;
        Ok(AccountAdmin { principal, account_id })
    }
}

/// A caller with access to the account named by `x-account-id` (any role,
/// or a service principal of it).
#[derive(Debug, Clone)]
pub struct AccountMember {
    /// The caller.
    pub principal: Principal,
    /// The account's id.
    pub account_id: String,
}

impl FromRequestParts<AppState> for AccountMember {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = principal(state, &parts.headers).await?;
        let account_id = account_header(state, &parts.headers).await?;
        account_access(state.store(), &principal, &account_id).await.map_err(access_failure)?;
        Ok(AccountMember { principal, account_id })
    }
}

/// Authenticates a request's bearer token.
async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiFailure> {
    let token = bearer(headers)
        .ok_or_else(|| ApiFailure::unauthorized("missing bearer token: send `Authorization: Bearer <access token>`"))?;
    authenticate(state.keys(), state.store(), token).await.map_err(|error| match error {
        AuthError::Token(rejected) => ApiFailure::unauthorized(rejected.to_string()),
        AuthError::Gone(gone) => ApiFailure::unauthorized(gone.to_string()),
        AuthError::Store(e) => ApiFailure::internal(e),
    })
}

/// The account named by `x-account-id`, which must be a UUID or slug of an
/// existing account; its id.
async fn account_header(state: &AppState, headers: &HeaderMap) -> Result<String, ApiFailure> {
    let raw = headers
        .get(ACCOUNT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiFailure::bad_request(format!("missing `{ACCOUNT_ID_HEADER}` header naming the account")))?;
    match state.store().account_by_ref(raw).await? {
        Some(account) => Ok(account.id),
        // Indistinguishable from "exists but not yours" (T01).
        None => Err(access_failure(AccessError::NoAccess)),
    }
}

/// The answer to a refused [`AccessError`]: 403 with its message.
fn access_failure(error: AccessError) -> ApiFailure {
    match error {
        AccessError::Store(e) => e.into(),
        refused => ApiFailure::forbidden(refused.to_string()),
    }
}
