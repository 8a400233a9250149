//! `GET /oauth/authorize`: validates the request, then hands the browser to
//! the login page. Errors about the client or the redirect URI are shown as
//! a page and never redirected (A02); other errors go back to the validated
//! redirect URI with `state` and `iss` (A03).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::parse_scope;
use crate::crypto::{random_token, token_hash};
use crate::state::AppState;
use crate::store::now;
use crate::store::oauth::AuthRequestRow;
use crate::web::{browser_cookie, pages, see_other};

/// The query of an authorization request.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
}

/// Whether `requested` matches one of `registered` exactly, except for the
/// port of a loopback IP literal redirect (A01, RFC 8252 §7.3).
pub fn redirect_uri_matches(registered: &[String], requested: &str) -> bool {
    let Ok(req) = url::Url::parse(requested) else { return false };
    registered.iter().any(|r| {
        if r == requested {
            return true;
        }
        let Ok(reg) = url::Url::parse(r) else { return false };
        let loopback = matches!(reg.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(reg.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        loopback
            && reg.scheme() == "http"
            && req.scheme() == "http"
            && reg.host() == req.host()
            && reg.path() == req.path()
            && reg.query() == req.query()
            && req.fragment().is_none()
            && req.username().is_empty()
            && req.password().is_none()
            && req.port().is_some()
            // The raw text must not smuggle anything the parser normalised.
            && requested.starts_with(&format!("http://{}:", req.host_str().unwrap_or_default()))
    })
}

/// Builds the redirect back to the client with `params`, `state` and `iss`.
pub fn client_redirect(redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>, issuer: &str) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return pages::error(StatusCode::BAD_REQUEST, "Invalid request", "The redirect URI is not valid.")
            .into_response();
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    see_other(url.as_str())
}

/// `GET /oauth/authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    query: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The authorization request could not be parsed.",
        )
        .into_response();
    };
    let Some(client_id) = q.client_id.as_deref().filter(|s| !s.is_empty()) else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The request names no client (client_id is missing).",
        )
        .into_response();
    };
    let client = match state.store().client_by_id(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return pages::error(
                StatusCode::BAD_REQUEST,
                "Unknown application",
                "The application asking you to sign in is not registered.",
            )
            .into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "store error in authorize");
            return pages::error(StatusCode::INTERNAL_SERVER_ERROR, "Error", "Something went wrong. Try again.")
                .into_response();
        }
    };
    let Some(redirect_uri) = q.redirect_uri.as_deref().filter(|r| redirect_uri_matches(&client.redirect_uris, r))
    else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Invalid redirect",
            "The application's redirect address is not registered, so you will not be sent there.",
        )
        .into_response();
    };
    let issuer = state.issuer().to_owned();
    let fail = |error: &str, description: &str| {
        client_redirect(
            redirect_uri,
            &[("error", error), ("error_description", description)],
            q.state.as_deref(),
            &issuer,
        )
    };
    if q.response_type.as_deref() != Some("code") {
        return fail("unsupported_response_type", "only response_type=code is supported");
    }
    let Some(challenge) = q.code_challenge.as_deref().filter(|c| !c.is_empty()) else {
        return fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256");
    };
    if q.code_challenge_method.as_deref() != Some("S256") {
        return fail("invalid_request", "code_challenge_method must be S256");
    }
    if challenge.len() != 43 || !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return fail("invalid_request", "code_challenge must be the base64url SHA-256 of the verifier (43 characters)");
    }
    let Some(scopes) = parse_scope(q.scope.as_deref()) else {
        return fail("invalid_scope", "unknown scope requested");
    };
    if q.prompt.as_deref() == Some("none") {
        return fail("login_required", "the user must sign in");
    }
    // Reuse the browser's binding cookie so parallel sign-ins in one
    // browser do not knock each other out.
    let (browser, _) = super::device::browser_secret(&headers);
    let t = now();
    let row = AuthRequestRow {
        id: random_token::<24>(),
        kind: "authorize".to_owned(),
        client_id: client.client_id.clone(),
        redirect_uri: Some(redirect_uri.to_owned()),
        scope: scopes.join(" "),
        state: q.state.clone(),
        nonce: q.nonce.clone(),
        code_challenge: Some(challenge.to_owned()),
        browser_hash: token_hash(&browser),
        device_hash: None,
        user_id: None,
        auth_time: None,
        created_at: t,
        expires_at: t + state.config().auth_request_ttl.as_secs() as i64,
        completed_at: None,
    };
    if let Err(e) = state.store().insert_auth_request(&row).await {
        tracing::error!(error = %e, "store error in authorize");
        return pages::error(StatusCode::INTERNAL_SERVER_ERROR, "Error", "Something went wrong. Try again.")
            .into_response();
    }
    let mut response = see_other(&format!("/oauth/login?request={}", row.id));
    if let Ok(value) = axum::http::HeaderValue::from_str(&browser_cookie(&browser)) {
        response.headers_mut().append(axum::http::header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> Vec<String> {
        vec!["http://127.0.0.1/callback".into(), "http://[::1]/callback".into(), "https://app.example/cb".into()]
    }

    #[test]
    fn loopback_port_is_free_everything_else_exact() {
        let r = registered();
        assert!(redirect_uri_matches(&r, "http://127.0.0.1:53123/callback"));
        assert!(redirect_uri_matches(&r, "http://[::1]:8080/callback"));
        assert!(redirect_uri_matches(&r, "https://app.example/cb"));
        assert!(!redirect_uri_matches(&r, "http://127.0.0.1:53123/callback/x"));
        assert!(!redirect_uri_matches(&r, "http://127.0.0.1:53123/callback?x=1"));
        assert!(!redirect_uri_matches(&r, "http://localhost:53123/callback"));
        assert!(!redirect_uri_matches(&r, "https://127.0.0.1:53123/callback"));
        assert!(!redirect_uri_matches(&r, "http://127.0.0.1.evil.example:1/callback"));
        assert!(!redirect_uri_matches(&r, "http://user@127.0.0.1:1/callback"));
        assert!(!redirect_uri_matches(&r, "https://app.example/cb/"));
        assert!(!redirect_uri_matches(&r, "https://app.example:444/cb"));
        assert!(!redirect_uri_matches(&r, "http://127.0.0.1:1/callback#frag"));
    }
}
