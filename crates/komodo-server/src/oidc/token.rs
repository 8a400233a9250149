//! `POST /oauth/token`: the authorization code (with mandatory PKCE S256),
//! refresh token (rotation with reuse detection), client credentials and
//! device code grants. There is no implicit and no password grant (A07).

use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use komodo_protocol::oauth::{
    GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_DEVICE_CODE, GRANT_REFRESH_TOKEN, TokenResponse,
};
use komodo_protocol::secret::{AuthorizationCode, ClientSecret, CodeVerifier, DeviceCode, RefreshToken};
use serde::Deserialize;

use super::client_auth::{
    CLIENT_GRANT_AUTHORIZATION_CODE, CLIENT_GRANT_DEVICE, CLIENT_GRANT_REFRESH_TOKEN, PresentedClient, presented,
    registered_client,
};
use super::{OAuthError, no_store};
use crate::clock::{now, now_ms};
use crate::crypto::{ct_eq, pkce_s256, token_hash};
use crate::identity::service_principals::authenticate_secret;
use crate::state::AppState;
use crate::store::iam::ClientRow;
use crate::store::oauth::{CodeRedemption, FamilyRow, RefreshUse};

/// The token request form (secrets in their redacting types).
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<AuthorizationCode>,
    redirect_uri: Option<String>,
    code_verifier: Option<CodeVerifier>,
    refresh_token: Option<RefreshToken>,
    device_code: Option<DeviceCode>,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    scope: Option<String>,
}

/// `POST /oauth/token`.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthError> {
    let Form(form) =
        form.map_err(|_| OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"))?;
    let grant = form.grant_type.clone().unwrap_or_default();
    let client = presented(&headers, form.client_id.as_deref(), form.client_secret.as_ref())?;
    let response = match grant.as_str() {
        GRANT_CLIENT_CREDENTIALS => client_credentials(&state, &client).await?,
        GRANT_AUTHORIZATION_CODE => {
            let registered = registered_for(&state, &client, CLIENT_GRANT_AUTHORIZATION_CODE).await?;
            authorization_code(&state, &registered, &form).await?
        }
        GRANT_REFRESH_TOKEN => {
            let registered = registered_for(&state, &client, CLIENT_GRANT_REFRESH_TOKEN).await?;
            refresh(&state, &registered, &form).await?
        }
        GRANT_DEVICE_CODE => {
            let registered = registered_for(&state, &client, CLIENT_GRANT_DEVICE).await?;
            device(&state, &registered, &form).await?
        }
        "" => return Err(OAuthError::invalid_request("grant_type is required")),
        "password" | "implicit" => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("the `{grant}` grant is not supported (RFC 9700)"),
            ));
        }
        _ => return Err(OAuthError::new("unsupported_grant_type", "unsupported grant_type")),
    };
    Ok(no_store(Json(response)))
}

/// The registered client (authenticated when confidential), which must
/// have been given `grant`.
async fn registered_for(state: &AppState, client: &PresentedClient, grant: &str) -> Result<ClientRow, OAuthError> {
    let registered = registered_client(state, client).await?;
    if !registered.allows(grant) {
        return Err(OAuthError::new(
            "unauthorized_client",
            format!("this client is not registered for the `{grant}` grant"),
        ));
    }
    Ok(registered)
}

async fn client_credentials(state: &AppState, client: &PresentedClient) -> Result<TokenResponse, OAuthError> {
    let Some(secret) = &client.secret else {
        if state.store().client_by_id(&client.client_id).await?.is_some() {
            return Err(OAuthError::new("unauthorized_client", "public clients cannot use client_credentials"));
        }
        return Err(OAuthError::invalid_client("client_secret is required", client.basic));
    };
    let principal = authenticate_secret(state.store(), state.secrets(), &client.client_id, secret)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("invalid client credentials", client.basic))?;
    let (access_token, expires_in) = state.minter().service_principal(&principal).await.map_err(OAuthError::server)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in,
        refresh_token: None,
        id_token: None,
        scope: Some(crate::tokens::SERVICE_PRINCIPAL_SCOPE.to_owned()),
    })
}

async fn authorization_code(
    state: &AppState,
    client: &ClientRow,
    form: &TokenForm,
) -> Result<TokenResponse, OAuthError> {
    let code =
        form.code.as_ref().filter(|c| !c.is_empty()).ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let row = match state.store().redeem_auth_code(&token_hash(code.expose_secret())).await? {
        CodeRedemption::Fresh(row) => row,
        CodeRedemption::Replayed(row) => {
            // A06: a replayed code revokes everything issued from it.
            state.store().revoke_family(&row.family_id).await?;
            tracing::warn!(family_id = %row.family_id, "authorization code replayed; session revoked");
            return Err(OAuthError::invalid_grant("the authorization code was already used"));
        }
        CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("unknown authorization code")),
    };
    if row.expires_at <= now() {
        return Err(OAuthError::invalid_grant("the authorization code has expired"));
    }
    if row.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("the authorization code was issued to another client"));
    }
    if form.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    match (&row.code_challenge, &form.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            let v = verifier.expose_secret();
            let well_formed = (43..=128).contains(&v.len())
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
            if !well_formed || !ct_eq(pkce_s256(v).as_bytes(), challenge.as_bytes()) {
                return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is required (PKCE)")),
        // A05: a verifier without a registered challenge is a downgrade.
        (None, _) => return Err(OAuthError::invalid_grant("no PKCE challenge was registered for this code")),
    }
    let user = state
        .store()
        .user_by_id(&row.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
    let family = FamilyRow {
        id: row.family_id.clone(),
        client_id: row.client_id.clone(),
        user_id: row.user_id.clone(),
        scope: row.scope.clone(),
        auth_time: row.auth_time,
        created_at: now(),
        revoked_at: None,
        audience: row.audience.clone(),
    };
    state.store().create_family(&family).await?;
    state.minter().user(&user, &family, row.nonce.clone(), "authorization_code").await.map_err(OAuthError::server)
}

async fn refresh(state: &AppState, client: &ClientRow, form: &TokenForm) -> Result<TokenResponse, OAuthError> {
    let token = form
        .refresh_token
        .as_ref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let hash = token_hash(token.expose_secret());
    // A09: check the binding before spending, so another client cannot burn it.
    match state.store().refresh_token_family(&hash).await? {
        Some(family) if family.client_id != client.client_id => {
            return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
        }
        _ => {}
    }
    let family = match state.store().use_refresh_token(&hash).await? {
        RefreshUse::Fresh(family) => family,
        RefreshUse::Reused(family_id) => {
            // A08: reuse of a rotated token revokes the whole family.
            state.store().revoke_family(&family_id).await?;
            tracing::warn!(family_id = %family_id, "refresh token reused; session revoked");
            return Err(OAuthError::invalid_grant("the refresh token was already used; the session has been revoked"));
        }
        RefreshUse::Expired => return Err(OAuthError::invalid_grant("the refresh token has expired")),
        RefreshUse::Unknown => return Err(OAuthError::invalid_grant("unknown refresh token")),
    };
    if family.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the session has been revoked"));
    }
    if let Some(requested) = form.scope.as_deref() {
        let granted: Vec<&str> = family.scope.split_ascii_whitespace().collect();
        if requested.split_ascii_whitespace().any(|s| !granted.contains(&s)) {
            return Err(OAuthError::new("invalid_scope", "a refresh cannot widen the granted scope"));
        }
    }
    let user = state
        .store()
        .user_by_id(&family.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
    state.minter().user(&user, &family, None, "refresh_token").await.map_err(OAuthError::server)
}

async fn device(state: &AppState, client: &ClientRow, form: &TokenForm) -> Result<TokenResponse, OAuthError> {
    let code = form
        .device_code
        .as_ref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
    let hash = token_hash(code.expose_secret());
    let device =
        state.store().device_by_hash(&hash).await?.ok_or_else(|| OAuthError::invalid_grant("unknown device code"))?;
    if device.client_id != client.client_id {
        return Err(OAuthError::invalid_grant("the device code was issued to another client"));
    }
    if device.expires_at <= now() {
        return Err(OAuthError::new("expired_token", "the device code has expired; start again"));
    }
    match device.status.as_str() {
        "consumed" => return Err(OAuthError::invalid_grant("the device code was already used")),
        "denied" => return Err(OAuthError::new("access_denied", "the user denied the request")),
        "pending" => {
            let t = now_ms();
            let too_fast = device.last_poll_ms.is_some_and(|last| t - last < device.interval_secs * 1000);
            let interval = if too_fast { device.interval_secs + 5 } else { device.interval_secs };
            state.store().device_record_poll(&hash, t, interval).await?;
            if too_fast {
                return Err(OAuthError::new("slow_down", format!("poll at most every {interval} seconds")));
            }
            return Err(OAuthError::new("authorization_pending", "the user has not yet approved the request"));
        }
        _ => {}
    }
    if !state.store().device_consume(&hash).await? {
        return Err(OAuthError::invalid_grant("the device code was already used"));
    }
    let (Some(user_id), Some(auth_time)) = (device.user_id.clone(), device.auth_time) else {
        return Err(OAuthError::server("approved device code without a user"));
    };
    let user = state
        .store()
        .user_by_id(&user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
    let family = FamilyRow {
        id: device.family_id.clone(),
        client_id: device.client_id.clone(),
        user_id,
        scope: device.scope.clone(),
        auth_time,
        created_at: now(),
        revoked_at: None,
        audience: device.audience.clone(),
    };
    state.store().create_family(&family).await?;
    state.minter().user(&user, &family, None, "device_code").await.map_err(OAuthError::server)
}
