//! How the gateway writes responses and reads credentials: Snowflake's
//! envelope, always with HTTP 200 (the connectors retry every other status
//! forever or fail without reading the body), and `Authorization:
//! Snowflake Token="..."` or a bearer token.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::queries::error::GwError;

impl IntoResponse for GwError {
    fn into_response(self) -> Response {
        let mut data = json!({
            "errorCode": self.code,
            "sqlState": self.sql_state.unwrap_or("n/a"),
            "internalError": false,
            "age": 0,
        });
        if let Some(id) = &self.query_id {
            data["queryId"] = Value::String(id.clone());
        }
        axum::Json(json!({"success": false, "code": self.code, "message": self.message, "data": data})).into_response()
    }
}

/// A successful envelope around `data`.
pub fn ok<T: Serialize>(data: T) -> Response {
    axum::Json(json!({"success": true, "code": null, "message": null, "data": data})).into_response()
}

/// A successful envelope with a status code (`333333`, `333334`).
pub fn ok_with_code<T: Serialize>(code: &'static str, message: &str, data: T) -> Response {
    axum::Json(json!({"success": true, "code": code, "message": message, "data": data})).into_response()
}

/// How a request authenticates.
#[derive(Debug)]
pub enum Credential<'a> {
    /// `Authorization: Snowflake Token="<session or master token>"`.
    Snowflake(&'a str),
    /// `Authorization: Bearer <Komodo access token>` (with `x-account-id`).
    Bearer(&'a str),
    /// No usable credential.
    None,
}

/// The header Komodo Health's connector puts the session token in, its
/// `Authorization` carrying the user's bearer token to its own gateway.
pub const SNOWFLAKE_AUTHORIZATION: &str = "snowflake-authorization";

/// Reads the request's credential: a session token in `Authorization` or
/// `Snowflake-Authorization` (which wins over a bearer token beside it),
/// else a bearer token.
pub fn credential(headers: &HeaderMap) -> Credential<'_> {
    if let Some(value) = headers.get(SNOWFLAKE_AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Credential::Snowflake(token) = snowflake_token(value)
    {
        return Credential::Snowflake(token);
    }
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Credential::None;
    };
    let value = value.trim();
    if strip_prefix_ignore_case(value, "Snowflake ").is_some() {
        return snowflake_token(value);
    }
    match crate::web::request::bearer(headers) {
        Some(token) => Credential::Bearer(token),
        None => Credential::None,
    }
}

/// `Snowflake Token="<token>"`; the placeholder `None` is no token.
fn snowflake_token(value: &str) -> Credential<'_> {
    let value = value.trim();
    if let Some(rest) = strip_prefix_ignore_case(value, "Snowflake ") {
        let rest = rest.trim();
        if let Some(token) = strip_prefix_ignore_case(rest, "Token=") {
            let token = token.trim().trim_matches('"');
            // Connectors send `Token="None"` on login.
            if !token.is_empty() && token != "None" {
                return Credential::Snowflake(token);
            }
        }
    }
    Credential::None
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    (value.len() >= prefix.len() && value[..prefix.len()].eq_ignore_ascii_case(prefix)).then(|| &value[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn snowflake_tokens_are_read_and_the_login_placeholder_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Snowflake Token=\"kmd_st_abc\""));
        assert!(matches!(credential(&headers), Credential::Snowflake("kmd_st_abc")));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Snowflake Token=\"None\""));
        assert!(matches!(credential(&headers), Credential::None));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer eyJ.x.y"));
        assert!(matches!(credential(&headers), Credential::Bearer("eyJ.x.y")));
    }

    #[test]
    fn a_session_token_beside_a_bearer_token_wins() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer eyJ.x.y"));
        headers.insert(SNOWFLAKE_AUTHORIZATION, HeaderValue::from_static("Snowflake Token=\"None\""));
        assert!(matches!(credential(&headers), Credential::Bearer("eyJ.x.y")), "the login placeholder");
        headers.insert(SNOWFLAKE_AUTHORIZATION, HeaderValue::from_static("Snowflake Token=\"kmd_st_abc\""));
        assert!(matches!(credential(&headers), Credential::Snowflake("kmd_st_abc")));
        headers.insert(SNOWFLAKE_AUTHORIZATION, HeaderValue::from_static("Bearer other"));
        assert!(matches!(credential(&headers), Credential::Bearer("eyJ.x.y")), "only a session token counts there");
    }
}
