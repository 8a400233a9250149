//! `POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662).

use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use komodo_protocol::oauth::{IntrospectionResponse, SERVICE_PRINCIPAL_SUB_PREFIX, USER_SUB_PREFIX};
use komodo_protocol::secret::ClientSecret;
use serde::Deserialize;

use super::client_auth::{PresentedClient, presented};
use super::{OAuthError, no_store};
use crate::crypto::token_hash;
use crate::identity::service_principals::authenticate_secret;
use crate::identity::{AuthError, Principal, resolve};
use crate::state::AppState;
use crate::store::iam::ServicePrincipalRow;

/// The revocation / introspection form.
#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default = "empty_secret")]
    token: ClientSecret,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
}

fn empty_secret() -> ClientSecret {
    ClientSecret::new("")
}

/// Who is calling the back channel.
enum Caller {
    Client(String),
    Principal(ServicePrincipalRow),
}

impl Caller {
    fn client_id(&self) -> &str {
        match self {
            Caller::Client(id) => id,
            Caller::Principal(p) => &p.client_id,
        }
    }
}

async fn caller(state: &AppState, client: &PresentedClient) -> Result<Caller, OAuthError> {
    match &client.secret {
        // A confidential registered client, or a service principal.
        Some(secret) => match state.store().client_by_id(&client.client_id).await? {
            Some(_) => Ok(Caller::Client(super::client_auth::registered_client(state, client).await?.client_id)),
            None => authenticate_secret(state.store(), state.secrets(), &client.client_id, secret)
                .await?
                .map(Caller::Principal)
                .ok_or_else(|| OAuthError::invalid_client("invalid client credentials", client.basic)),
        },
        None => Ok(Caller::Client(super::client_auth::registered_client(state, client).await?.client_id)),
    }
}

/// `POST /oauth/revoke`: refresh tokens revoke their whole family (A09);
/// access tokens revoke their session (users) or themselves (service
/// principals); either way the gateway sessions opened with what was
/// revoked end (F07). Always 200 for a token that is unknown or not the
/// caller's.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthError> {
    let Form(form) =
        form.map_err(|_| OAuthError::invalid_request("the body must be an application/x-www-form-urlencoded form"))?;
    let client = presented(&headers, form.client_id.as_deref(), form.client_secret.as_ref())?;
    let caller = caller(&state, &client).await?;
    let token = form.token.expose_secret();
    if token.is_empty() {
        return Err(OAuthError::invalid_request("token is required"));
    }
    // `token_type_hint` is not needed: refresh tokens (`kmd_rt_...`) and
    // JWT access tokens cannot be mistaken for each other.
    if let Some(family) = state.store().refresh_token_family(&token_hash(token)).await? {
        if family.client_id == caller.client_id() {
            state.store().revoke_family(&family.id).await?;
            tracing::info!(family_id = %family.id, "session revoked by its client");
        }
        return Ok(StatusCode::OK.into_response());
    }
    if let Ok(claims) = state.keys().verify_access_token(token).await
        && claims.client_id == caller.client_id()
    {
        match &claims.sid {
            Some(sid) if claims.sub.starts_with(USER_SUB_PREFIX) => state.store().revoke_family(sid).await?,
            _ => state.store().revoke_jti(&claims.jti, claims.exp).await?,
        }
        tracing::info!(client_id = %claims.client_id, "access token revoked by its client");
    }
    Ok(StatusCode::OK.into_response())
}

/// `POST /oauth/introspect`: for confidential clients (service principals),
/// which see only tokens of their own account: service principal tokens of
/// that account and user tokens of its members (T01).
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthError> {
    let Form(form) =
        form.map_err(|_| OAuthError::invalid_request("the body must be an application/x-www-form-urlencoded form"))?;
    let client = presented(&headers, form.client_id.as_deref(), form.client_secret.as_ref())?;
    let Caller::Principal(caller) = caller(&state, &client).await? else {
        return Err(OAuthError::invalid_client(
            "introspection is for confidential clients (service principals)",
            client.basic,
        ));
    };
    let inactive = || Ok(no_store(Json(IntrospectionResponse::default())));
    let Ok(claims) = state.keys().verify_access_token(form.token.expose_secret()).await else {
        return inactive();
    };
    let principal = match resolve(state.store(), claims).await {
        Ok(p) => p,
        Err(AuthError::Store(e)) => return Err(e.into()),
        Err(_) => return inactive(),
    };
    let visible = match &principal {
        Principal::ServicePrincipal { principal, .. } => principal.account_id == caller.account_id,
        Principal::User { user, .. } => state.store().role_of(&user.id, &caller.account_id).await?.is_some(),
    };
    if !visible {
        return inactive();
    }
    let claims = principal.claims().clone();
    debug_assert!(claims.sub.starts_with(USER_SUB_PREFIX) || claims.sub.starts_with(SERVICE_PRINCIPAL_SUB_PREFIX));
    Ok(no_store(Json(IntrospectionResponse {
        active: true,
        scope: Some(claims.scope),
        client_id: Some(claims.client_id),
        sub: Some(claims.sub),
        token_type: Some("Bearer".into()),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        iss: Some(claims.iss),
        aud: Some(claims.aud),
        jti: Some(claims.jti),
        account_id: claims.account_id,
    })))
}
