//! `GET /oauth/authorize`: validates the request, then hands the browser to
//! the login page. Errors about the client or the redirect URI are shown as
//! a page and never redirected (A02); other errors go back to the validated
//! redirect URI with `state` and `iss` (A03).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{parse_scope, redirect};
use crate::clock::now;
use crate::crypto::{random_token, token_hash};
use crate::state::AppState;
use crate::store::oauth::AuthRequestRow;
use crate::web::browser::{browser_cookie, browser_secret};
use crate::web::pages;

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
    audience: Option<String>,
    resource: Option<String>,
}

/// Whether `requested` matches one of `registered` exactly, character for
/// character, except for the port of a loopback IP literal redirect (A01,
/// F11; RFC 9700 §2.1, RFC 8252 §7.3).
///
/// Nothing is normalised before comparing: `/x/../callback`, `%2e`, a
/// different case, a tab or a default port written out are all different
/// text and refused. The loopback port is the only part that may differ,
/// and it must be written as a plain decimal port (no leading zero, at most
/// 65535).
pub fn redirect_uri_matches(registered: &[String], requested: &str) -> bool {
    if requested.is_empty() || requested.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return false;
    }
    registered.iter().any(|r| r == requested || loopback_port_only_differs(r, requested))
}

/// `registered` is `http://<loopback IP literal>[:port]<rest>` and
/// `requested` is the same text with some valid port.
fn loopback_port_only_differs(registered: &str, requested: &str) -> bool {
    let (Some((reg_host, _, reg_rest)), Some((req_host, req_port, req_rest))) =
        (split_loopback(registered), split_loopback(requested))
    else {
        return false;
    };
    reg_host == req_host && reg_rest == req_rest && req_port.is_some_and(valid_port)
}

/// Splits `http://HOST[:PORT]REST` where HOST is `127.0.0.1` or `[::1]`
/// as written (no other spelling of a loopback address) and REST starts
/// with `/`.
fn split_loopback(uri: &str) -> Option<(&str, Option<&str>, &str)> {
    let after_scheme = uri.strip_prefix("http://")?;
    let host = ["127.0.0.1", "[::1]"].into_iter().find(|h| after_scheme.starts_with(h))?;
    let after_host = &after_scheme[host.len()..];
    let (port, rest) = match after_host.strip_prefix(':') {
        Some(with_port) => {
            let end = with_port.find('/')?;
            (Some(&with_port[..end]), &with_port[end..])
        }
        None => (None, after_host),
    };
    rest.starts_with('/').then_some((host, port, rest))
}

/// A port as a browser writes it: 1 to 65535 in decimal, no leading zero.
fn valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && !port.starts_with('0')
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
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
        redirect::to_client(
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
    if !client.allows(super::client_auth::CLIENT_GRANT_AUTHORIZATION_CODE) {
        return fail("unauthorized_client", "this client is not registered for the authorization code grant");
    }
    let audience =
        match super::requested_audience(state.config(), &client, q.audience.as_deref(), q.resource.as_deref()) {
            Ok(audience) => audience,
            Err(e) => return fail(e.error, &e.description),
        };
    if q.prompt.as_deref() == Some("none") {
        return fail("login_required", "the user must sign in");
    }
    // Reuse the browser's binding cookie so parallel sign-ins in one
    // browser do not knock each other out.
    let (browser, _) = browser_secret(&headers);
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
        audience,
    };
    if let Err(e) = state.store().insert_auth_request(&row).await {
        tracing::error!(error = %e, "store error in authorize");
        return pages::error(StatusCode::INTERNAL_SERVER_ERROR, "Error", "Something went wrong. Try again.")
            .into_response();
    }
    let mut response = redirect::to_login(&row.id);
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

    #[test]
    fn nothing_is_normalised_before_comparing() {
        let r = registered();
        for refused in [
            "http://127.0.0.1:53123/x/../callback",
            "http://127.0.0.1:53123/./callback",
            "http://127.0.0.1:53123/%63allback",
            "http://127.0.0.1:040001/callback",
            "http://127.0.0.1:0/callback",
            "http://127.0.0.1:65536/callback",
            "http://127.0.0.1:+80/callback",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1:53123/call\tback",
            "http://127.0.0.1:53123/callback\t",
            "http://127.0.0.1:53123/callback ",
            "HTTP://127.0.0.1:53123/callback",
            "http://127.1:53123/callback",
            "http://0x7f.0.0.1:53123/callback",
            "http://[0:0:0:0:0:0:0:1]:53123/callback",
            "http://127.0.0.1:53123//callback",
            "http://127.0.0.1:53123/callback?",
            "https://app.example/x/../cb",
            "https://APP.example/cb",
            "https://app.example:443/cb",
        ] {
            assert!(!redirect_uri_matches(&r, refused), "{refused:?} must be refused");
        }
        assert!(redirect_uri_matches(&r, "http://127.0.0.1:65535/callback"));
        assert!(redirect_uri_matches(&r, "http://127.0.0.1:1/callback"));
    }
}
