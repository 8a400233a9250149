//! What a principal may do in an account: act in it at all (a member, or a
//! service principal of that very account: T01, T02), or manage its
//! service principals (an admin: T03).

use komodo_protocol::iam::Role;

use super::Principal;
use crate::store::{Store, StoreError};

/// Why a principal may not do what it asks in an account.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// Not a member, another account's service principal, or no such
    /// account: the three are indistinguishable (T01).
    #[error("you do not have access to this account")]
    NoAccess,
    /// Service principals never manage service principals (T03).
    #[error("service principals cannot manage service principals; use an account admin's login")]
    ServicePrincipal,
    /// A member who is not an admin (T03).
    #[error("only account admins can manage service principals")]
    NotAdmin,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
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
    store: &Store,
    principal: &Principal,
    account_id: &str,
) -> Result<AccountAccess, AccessError> {
    match principal {
        Principal::ServicePrincipal { principal, .. } if principal.account_id == account_id => {
            Ok(AccountAccess { account_id: account_id.to_owned(), role: None })
        }
        Principal::ServicePrincipal { .. } => Err(AccessError::NoAccess),
        Principal::User { user, .. } => match store.role_of(&user.id, account_id).await? {
            Some(role) => Ok(AccountAccess { account_id: account_id.to_owned(), role: Some(role) }),
            None => Err(AccessError::NoAccess),
        },
    }
}

/// Requires the caller to be an admin of `account_id` (T03); service
/// principals never are.
pub async fn require_admin(store: &Store, principal: &Principal, account_id: &str) -> Result<(), AccessError> {
    match principal {
        Principal::ServicePrincipal { .. } => Err(AccessError::ServicePrincipal),
        Principal::User { user, .. } => match store.role_of(&user.id, account_id).await? {
            Some(Role::Admin) => Ok(()),
            Some(Role::Member | Role::Reader) => Err(AccessError::NotAdmin),
            None => Err(AccessError::NoAccess),
        },
    }
}
