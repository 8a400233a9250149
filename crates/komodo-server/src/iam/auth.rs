//! Bearer-token authentication of API calls.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use komodo_protocol::iam::{ACCOUNT_ID_HEADER, Role};
use komodo_protocol::oauth::{AccessTokenClaims, SERVICE_PRINCIPAL_SUB_PREFIX, USER_SUB_PREFIX};

use super::ApiFailure;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::iam::{ServicePrincipalRow, UserRow};

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A user who logged in.
    User {
        /// The user.
        user: UserRow,
        /// The token's claims.
        claims: AccessTokenClaims,
    },
    /// A service principal.
    ServicePrincipal {
        /// The principal.
        principal: ServicePrincipalRow,
        /// The token's claims.
        claims: AccessTokenClaims,
    },
}

impl Principal {
    /// The token's claims.
    pub fn claims(&self) -> &AccessTokenClaims {
        match self {
            Principal::User { claims, .. } | Principal::ServicePrincipal { claims, .. } => claims,
        }
    }
}

/// Why a verified token does not stand for a live principal.
#[derive(Debug)]
pub enum Inactive {
    /// Revoked, deleted or unknown.
    Gone(&'static str),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for Inactive {
    fn from(e: StoreError) -> Self {
        Inactive::Store(e)
    }
}

/// The slow path after signature verification: the token is not revoked and
/// its principal still exists (T02: a deleted service principal's tokens
/// stop at once; A09: a revoked session's access tokens stop too; F07: so
/// do a service principal's tokens minted from a secret since rotated).
pub async fn resolve(state: &AppState, claims: AccessTokenClaims) -> Result<Principal, Inactive> {
    let store = state.store();
    if store.jti_is_revoked(&claims.jti).await? {
        return Err(Inactive::Gone("the token has been revoked"));
    }
    if let Some(id) = claims.sub.strip_prefix(USER_SUB_PREFIX) {
        if let Some(sid) = &claims.sid
            && store.family_is_revoked(sid).await?
        {
            return Err(Inactive::Gone("the session has been revoked"));
        }
        let user = store.user_by_id(id).await?.ok_or(Inactive::Gone("the user no longer exists"))?;
        return Ok(Principal::User { user, claims });
    }
    if let Some(id) = claims.sub.strip_prefix(SERVICE_PRINCIPAL_SUB_PREFIX) {
        let principal =
            store.service_principal_by_id(id).await?.ok_or(Inactive::Gone("the service principal has been deleted"))?;
        if claims.account_id.as_deref() != Some(principal.account_id.as_str()) {
            return Err(Inactive::Gone("the token does not match its service principal's account"));
        }
        if claims.sid != principal.secret_id {
            return Err(Inactive::Gone(
                "the service principal's secret was rotated since this token was issued; get a new token with the \
                 current secret",
            ));
        }
        return Ok(Principal::ServicePrincipal { principal, claims });
    }
    Err(Inactive::Gone("unknown subject"))
}

/// The raw bearer token of a request.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Authenticates a request's bearer token.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiFailure> {
    let token = bearer(headers)
        .ok_or_else(|| ApiFailure::unauthorized("missing bearer token: send `Authorization: Bearer <access token>`"))?;
    let claims = state.keys().verify_access_token(token).await.map_err(|e| ApiFailure::unauthorized(e.to_string()))?;
    match resolve(state, claims).await {
        Ok(principal) => Ok(principal),
        Err(Inactive::Gone(why)) => Err(ApiFailure::unauthorized(why)),
        Err(Inactive::Store(e)) => Err(ApiFailure::internal(e)),
    }
}

/// The account named by `x-account-id`, which must be a UUID or slug of an
/// existing account; its id.
pub async fn account_header(state: &AppState, headers: &HeaderMap) -> Result<String, ApiFailure> {
    let raw = headers
        .get(ACCOUNT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiFailure::bad_request(format!("missing `{ACCOUNT_ID_HEADER}` header naming the account")))?;
    match state.store().account_by_ref(raw).await? {
        Some(account) => Ok(account.id),
        // Indistinguishable from "exists but not yours" (T01).
        None => Err(ApiFailure::forbidden("you do not have access to this account")),
    }
}

/// Requires the caller to be an admin of `account_id` (T03); service
/// principals never are.
pub async fn require_admin(state: &AppState, principal: &Principal, account_id: &str) -> Result<(), ApiFailure> {
    match principal {
        Principal::ServicePrincipal { .. } => Err(ApiFailure::forbidden(
            "service principals cannot manage service principals; use an account admin's login",
        )),
        Principal::User { user, .. } => match state.store().role_of(&user.id, account_id).await? {
            Some(Role::Admin) => Ok(()),
            Some(Role::Member) => Err(ApiFailure::forbidden("only account admins can manage service principals")),
            None => Err(ApiFailure::forbidden("you do not have access to this account")),
        },
    }
}

/// What a principal may do in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAccess {
    /// The account.
    pub account_id: String,
    /// The user's role; `None` for a service principal (which acts in its
    /// own account with member rights).
    pub role: Option<Role>,
}

/// Checks that `principal` may act in `account_id` at all: a user who is a
/// member (any role) or a service principal of that very account (T01,
/// T02). The gateway authorises every request with this.
pub async fn account_access(
    state: &AppState,
    principal: &Principal,
    account_id: &str,
) -> Result<AccountAccess, ApiFailure> {
    let denied = || ApiFailure::forbidden("you do not have access to this account");
    match principal {
        Principal::ServicePrincipal { principal, .. } if principal.account_id == account_id => {
            Ok(AccountAccess { account_id: account_id.to_owned(), role: None })
        }
        Principal::ServicePrincipal { .. } => Err(denied()),
        Principal::User { user, .. } => match state.store().role_of(&user.id, account_id).await? {
            Some(role) => Ok(AccountAccess { account_id: account_id.to_owned(), role: Some(role) }),
            None => Err(denied()),
        },
    }
}
