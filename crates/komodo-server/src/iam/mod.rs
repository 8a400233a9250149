//! The IAM API: the current user, the caller's identity, service
//! principals (created, listed, rotated and deleted by account admins
//! only), and the subscription service's account-access check (a GraphQL
//! subset).
//!
//! Every call authenticates a bearer access token through an extractor
//! ([`Authenticated`](crate::extract::Authenticated),
//! [`AccountAdmin`](crate::extract::AccountAdmin)): the signature and
//! claims first (the fast path the gateway shares), then the principal
//! itself (a deleted service principal, a revoked session or a revoked
//! token fail at once).

pub mod graphql;
pub mod service_principals;
pub mod subscription;
pub mod users;
pub mod warehouse;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// The IAM routes.
pub fn router() -> Router<AppState> {
    let mut router = Router::new();
    for path in subscription::GRAPHQL_PATHS {
        router = router.route(path, post(subscription::graphql));
    }
    router
        .route("/v1/iam/users/me", get(users::me))
        .route("/v1/iam/identity", get(users::identity))
        .route("/v1/iam/service-principals/token", post(service_principals::token))
        .route("/internal/service-principals", post(service_principals::create).get(service_principals::list))
        .route("/internal/service-principals/{id}", axum::routing::delete(service_principals::delete))
        .route("/internal/warehouse", get(warehouse::show))
        .route("/internal/service-principals/{id}/rotate-secret", post(service_principals::rotate))
}
