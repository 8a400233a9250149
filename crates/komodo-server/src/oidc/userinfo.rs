//! `GET /userinfo` (OpenID Connect Core §5.3).

use axum::Json;
use komodo_protocol::oauth::UserInfo;

use crate::extract::Authenticated;
use crate::identity::Principal;
use crate::web::api::ApiFailure;

/// The signed-in user's claims, per granted scope.
pub async fn userinfo(Authenticated(principal): Authenticated) -> Result<Json<UserInfo>, ApiFailure> {
    let Principal::User { user, claims } = principal else {
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
