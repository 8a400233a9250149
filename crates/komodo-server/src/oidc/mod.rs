//! The OAuth 2.0 / OpenID Connect provider: discovery, JWKS, authorize (with
//! the login and consent pages), token, device authorization and
//! verification, revocation, introspection and userinfo.

pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod discovery;
pub mod interaction;
pub mod redirect;
pub mod revoke;
pub mod token;
pub mod userinfo;

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use komodo_protocol::oauth::ErrorResponse;

use crate::state::AppState;

/// The scopes the platform knows.
pub const SUPPORTED_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The OAuth/OIDC routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/.well-known/oauth-authorization-server", get(discovery::openid_configuration))
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route("/oauth/authorize", get(authorize::authorize))
        .route("/oauth/login", get(interaction::login_page).post(interaction::login_submit))
        .route("/oauth/consent", get(interaction::consent_page).post(interaction::consent_submit))
        .route("/oauth/password", get(interaction::password_page).post(interaction::password_submit))
        .route("/oauth/token", post(token::token))
        .route("/oauth/device/code", post(device::device_authorization))
        .route("/activate", get(device::activate_page).post(device::activate_submit))
        .route("/activate/done", get(device::activate_done))
        .route("/oauth/revoke", post(revoke::revoke))
        .route("/oauth/introspect", post(revoke::introspect))
        .route("/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
}

/// An RFC 6749 error answer from a back-channel endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status.
    pub status: StatusCode,
    /// The `error` code.
    pub error: &'static str,
    /// The `error_description` (never contains a secret).
    pub description: String,
    /// Whether the client authenticated with HTTP Basic (for the
    /// `WWW-Authenticate` challenge of a 401).
    pub basic_challenge: bool,
}

impl OAuthError {
    /// A 400 error with `code`.
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status: StatusCode::BAD_REQUEST, error, description: description.into(), basic_challenge: false }
    }
    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }
    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
    /// `invalid_client` (401).
    pub fn invalid_client(description: impl Into<String>, basic: bool) -> Self {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
            basic_challenge: basic,
        }
    }
    /// `server_error` (500), after logging the cause.
    pub fn server(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error in OAuth endpoint");
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "internal server error".into(),
            basic_challenge: false,
        }
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        OAuthError::server(e)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = ErrorResponse { error: self.error.to_owned(), error_description: Some(self.description) };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.basic_challenge { "Basic realm=\"komodo\"" } else { "Bearer" };
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` to a token response.
pub(crate) fn no_store<T: IntoResponse>(body: T) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The audience a request names with `audience` (Auth0's parameter) or
/// `resource` (RFC 8707), checked against the platform's audiences and the
/// client's own: `None` when it names none (the platform's default),
/// `invalid_target` when it names one neither has, or two different ones.
pub(crate) fn requested_audience(
    config: &crate::config::Config,
    client: &crate::store::iam::ClientRow,
    audience: Option<&str>,
    resource: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let audience = audience.filter(|a| !a.is_empty());
    let resource = resource.filter(|r| !r.is_empty());
    let named = match (audience, resource) {
        (None, None) => return Ok(None),
        (Some(a), Some(r)) if a != r => {
            return Err(OAuthError::new(
                "invalid_target",
                "`audience` and `resource` name different audiences; send one of them",
            ));
        }
        (Some(a), _) => a,
        (None, Some(r)) => r,
    };
    if config.accepted_audiences().iter().any(|a| a == named) || client.audiences.iter().any(|a| a == named) {
        return Ok(Some(named.to_owned()));
    }
    Err(OAuthError::new(
        "invalid_target",
        format!(
            "unknown audience `{named}`; this platform issues tokens for `{}` (an operator can add audiences with \
             `komodo-server serve --audience` or `komodo-server admin create-client --audience`)",
            config.audience
        ),
    ))
}

/// Splits and validates a scope string; `None` when a scope is unknown.
pub(crate) fn parse_scope(raw: Option<&str>) -> Option<Vec<String>> {
    let mut scopes: Vec<String> = Vec::new();
    for s in raw.unwrap_or("").split_ascii_whitespace() {
        if !SUPPORTED_SCOPES.contains(&s) {
            return None;
        }
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.is_empty() {
        scopes.push("openid".to_owned());
    }
    Some(scopes)
}
