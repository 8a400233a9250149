//! `GET /v1/iam/users/me` and `GET /v1/iam/identity`.

use axum::Json;
use axum::extract::State;
use komodo_protocol::iam::{
    Account, Identity, IdentityUser, JwtType, Organization, USER_STATUS_ACTIVE, USER_TYPE_EXTERNAL, UserMe,
};

use crate::extract::Authenticated;
use crate::identity::Principal;
use crate::identity::service_principals::to_wire;
use crate::state::AppState;
use crate::web::api::ApiFailure;

/// The current user with their organisations and accounts.
pub async fn me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<UserMe>, ApiFailure> {
    let Principal::User { user, .. } = principal else {
        return Err(ApiFailure::forbidden("a service principal is not a user; call /v1/iam/identity instead"));
    };
    let mut organizations: Vec<Organization> = Vec::new();
    for m in state.store().memberships_of(&user.id).await? {
        let account = Account {
            account_id: m.account_id,
            slug: m.account_slug,
            name: m.account_name,
            role: m.role.parse().map_err(ApiFailure::internal)?,
        };
        match organizations.iter_mut().find(|o| o.organization_id == m.organization_id) {
            Some(org) => org.accounts.push(account),
            None => organizations.push(Organization {
                organization_id: m.organization_id,
                name: m.organization_name,
                slug: m.organization_slug,
                accounts: vec![account],
            }),
        }
    }
    Ok(Json(UserMe { user_id: user.id, email: user.email, name: user.name, organizations }))
}

/// Who the token stands for, with every field of Komodo Health's identity
/// models (a user's `status`, `user_type`, `created_at`, `updated_at`; a
/// service principal's description as a string).
pub async fn identity(Authenticated(principal): Authenticated) -> Result<Json<Identity>, ApiFailure> {
    Ok(Json(match principal {
        Principal::User { user, .. } => Identity {
            jwt_type: JwtType::User,
            user: Some(IdentityUser {
                user_id: user.id,
                email: user.email,
                name: user.name,
                status: USER_STATUS_ACTIVE.to_owned(),
                user_type: USER_TYPE_EXTERNAL.to_owned(),
                created_at: crate::clock::rfc3339(user.created_at),
                // Users are not edited; the record is as created.
                updated_at: crate::clock::rfc3339(user.created_at),
            }),
            service_principal: None,
        },
        Principal::ServicePrincipal { principal, .. } => {
            Identity { jwt_type: JwtType::ServicePrincipal, user: None, service_principal: Some(to_wire(principal)) }
        }
    }))
}
