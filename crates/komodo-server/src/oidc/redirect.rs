//! Where the browser goes next in a sign-in: back to the client with a
//! code or an error (with `state` and `iss`: A03), or to the next page of
//! the interaction. Always a 303 (A13).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::web::{pages, see_other};

/// The redirect back to the client with `params`, `state` and `iss`.
pub fn to_client(redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>, issuer: &str) -> Response {
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

/// The login page of pending request `request_id`.
pub fn to_login(request_id: &str) -> Response {
    see_other(&format!("/oauth/login?request={request_id}"))
}

/// The page that replaces a one-time password, for `request_id`.
pub fn to_password_change(request_id: &str) -> Response {
    see_other(&format!("/oauth/password?request={request_id}"))
}

/// The consent page of `request_id`.
pub fn to_consent(request_id: &str) -> Response {
    see_other(&format!("/oauth/consent?request={request_id}"))
}
