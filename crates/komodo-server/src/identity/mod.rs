//! Who is calling, and what they may do: the principal behind a verified
//! access token, checked against the store on every call (a deleted
//! service principal, a revoked login or token and a rotated secret stop
//! its tokens at once: T02, A09, F07); a principal's rights in an account
//! ([`access`]: T01, T03); service principals and their secrets
//! ([`service_principals`]: S01); and password hashing ([`password`]).
//!
//! This is the domain under the HTTP surfaces: the IAM API, the OAuth
//! endpoints and the gateway each turn these results into their own
//! answers.

pub mod access;
pub mod password;
pub mod service_principals;

use komodo_protocol::oauth::{AccessTokenClaims, SERVICE_PRINCIPAL_SUB_PREFIX, USER_SUB_PREFIX};

use crate::keys::{KeyRing, TokenError};
use crate::store::iam::{ServicePrincipalRow, UserRow};
use crate::store::{Store, StoreError};

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

/// Why a genuine, unexpired access token no longer stands for a principal.
/// The messages go back to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Gone {
    /// The token itself was revoked.
    #[error("the token has been revoked")]
    TokenRevoked,
    /// The login (refresh-token family) it belongs to was revoked.
    #[error("the session has been revoked")]
    SessionRevoked,
    /// The user was deleted.
    #[error("the user no longer exists")]
    UserDeleted,
    /// The service principal was deleted.
    #[error("the service principal has been deleted")]
    PrincipalDeleted,
    /// The token names another account than its service principal's.
    #[error("the token does not match its service principal's account")]
    AccountMismatch,
    /// The secret the token was minted from was rotated since.
    #[error(
        "the service principal's secret was rotated since this token was issued; get a new token with the current \
         secret"
    )]
    SecretRotated,
    /// The subject is neither a user nor a service principal.
    #[error("unknown subject")]
    UnknownSubject,
}

/// Why a bearer access token does not authenticate a principal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token was rejected (signature, claims, type, key).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token is genuine, but what it stood for is gone.
    #[error(transparent)]
    Gone(#[from] Gone),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies an access token ([`KeyRing::verify_access_token`]: the fast
/// path) and [`resolve`]s the principal behind it.
pub async fn authenticate(keys: &KeyRing, store: &Store, token: &str) -> Result<Principal, AuthError> {
    let claims = keys.verify_access_token(token).await?;
    resolve(store, claims).await
}

/// The slow path after signature verification: the token is not revoked and
/// its principal still exists (T02: a deleted service principal's tokens
/// stop at once; A09: a revoked session's access tokens stop too; F07: so
/// do a service principal's tokens minted from a secret since rotated).
/// Fails with [`AuthError::Gone`] or [`AuthError::Store`].
pub async fn resolve(store: &Store, claims: AccessTokenClaims) -> Result<Principal, AuthError> {
    if store.jti_is_revoked(&claims.jti).await? {
        return Err(Gone::TokenRevoked.into());
    }
    if let Some(id) = claims.sub.strip_prefix(USER_SUB_PREFIX) {
        if let Some(sid) = &claims.sid
            && store.family_is_revoked(sid).await?
        {
            return Err(Gone::SessionRevoked.into());
        }
        let user = store.user_by_id(id).await?.ok_or(Gone::UserDeleted)?;
        return Ok(Principal::User { user, claims });
    }
    if let Some(id) = claims.sub.strip_prefix(SERVICE_PRINCIPAL_SUB_PREFIX) {
        let principal = store.service_principal_by_id(id).await?.ok_or(Gone::PrincipalDeleted)?;
        if claims.account_id.as_deref() != Some(principal.account_id.as_str()) {
            return Err(Gone::AccountMismatch.into());
        }
        if claims.sid != principal.secret_id {
            return Err(Gone::SecretRotated.into());
        }
        return Ok(Principal::ServicePrincipal { principal, claims });
    }
    Err(Gone::UnknownSubject.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_messages_name_what_is_gone() {
        assert_eq!(Gone::TokenRevoked.to_string(), "the token has been revoked");
        assert!(Gone::SecretRotated.to_string().ends_with("with the current secret"));
        let error = AuthError::from(TokenError::Expired);
        assert_eq!(error.to_string(), "the token is invalid: expired");
    }
}
