//! `GET /userinfo` (OpenID Connect Core §5.3).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use komodo_protocol::oauth::UserInfo;

use crate::iam::ApiFailure;
use crate::iam::auth::{Principal, authenticate};
use crate::state::AppState;

/// The signed-in user's claims, per granted scope.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<UserInfo>, ApiFailure> {
    let Principal::User { user, claims } = authenticate(&state, &headers).await? else {
        return Err(ApiFailure::forbidden("userinfo is for user tokens"));
    };
    let scopes: Vec<&str> = claims.scope.split_ascii_whitespace().collect();
    if !scopes.contains(&"openid") {
        return Err(ApiFailure::forbidden("the token lacks the `openid` scope"));
    }
    Ok(Json(UserInfo {
        sub: claims.sub.clone(),
        email: scopes.contains(&"email").then(|| user.email.clone()),
        email_verified: scopes.contains(&"email").then_some(false),
        name: if scopes.contains(&"profile") { user.name.clone() } else { None },
    }))
}
