//! `/.well-known/openid-configuration` and `/.well-known/jwks.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use komodo_protocol::oauth::{
    CLI_CLIENT_ID, DiscoveryDocument, GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, GRANT_DEVICE_CODE,
    GRANT_REFRESH_TOKEN,
};

use super::SUPPORTED_SCOPES;
use crate::state::AppState;

/// The discovery document.
pub fn document(state: &AppState) -> DiscoveryDocument {
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    DiscoveryDocument {
        issuer: state.issuer().to_owned(),
        authorization_endpoint: state.url("/oauth/authorize"),
        token_endpoint: state.url("/oauth/token"),
        device_authorization_endpoint: state.url("/oauth/device/code"),
        revocation_endpoint: state.url("/oauth/revoke"),
        introspection_endpoint: state.url("/oauth/introspect"),
        userinfo_endpoint: state.url("/userinfo"),
        jwks_uri: state.url("/.well-known/jwks.json"),
        scopes_supported: strings(&SUPPORTED_SCOPES),
        response_types_supported: strings(&["code"]),
        grant_types_supported: strings(&[
            GRANT_AUTHORIZATION_CODE,
            GRANT_REFRESH_TOKEN,
            GRANT_CLIENT_CREDENTIALS,
            GRANT_DEVICE_CODE,
        ]),
        code_challenge_methods_supported: strings(&["S256"]),
        token_endpoint_auth_methods_supported: strings(&["client_secret_basic", "client_secret_post", "none"]),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: strings(&["ES256", "RS256"]),
        authorization_response_iss_parameter_supported: true,
        komodo_cli_client_id: CLI_CLIENT_ID.to_owned(),
    }
}

/// `GET /.well-known/openid-configuration`.
pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    let mut response = Json(document(&state)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// `GET /.well-known/jwks.json`: every published key.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let set = state.keys().jwks().await;
    let mut response = Json(set).into_response();
    let max_age = state.config().jwks_max_age.as_secs();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
