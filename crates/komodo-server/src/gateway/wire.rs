//! How the gateway reads requests and writes responses: JSON bodies that
//! may be gzip-compressed, `Authorization: Snowflake Token="..."`, and
//! Snowflake's envelope, always with HTTP 200 (the connectors retry every
//! other status forever or fail without reading the body).

use std::io::Read as _;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_ENCODING};
use axum::response::{IntoResponse, Response};
use komodo_protocol::gateway::codes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The largest request body the gateway accepts, decompressed (bindings of
/// an `executemany` can be large).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// A gateway failure, answered as `{"success": false, "code", "message", "data"}`.
#[derive(Debug, Clone)]
pub struct GwError {
    /// Snowflake's code (a numeric string).
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// SQLSTATE, when there is one.
    pub sql_state: Option<&'static str>,
    /// The query it concerns.
    pub query_id: Option<String>,
}

impl GwError {
    /// A failure with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), sql_state: None, query_id: None }
    }

    /// With a SQLSTATE.
    pub fn state(mut self, sql_state: &'static str) -> Self {
        self.sql_state = Some(sql_state);
        self
    }

    /// About query `id`.
    pub fn query(mut self, id: impl Into<String>) -> Self {
        self.query_id = Some(id.into());
        self
    }

    /// A malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(codes::BAD_REQUEST, message).state("08P01")
    }

    /// The caller may not use the account (or it does not exist: the two
    /// are indistinguishable, T01).
    pub fn no_access() -> Self {
        Self::new(
            codes::AUTHENTICATION_FAILED,
            "You do not have access to this account. Check the account id, or ask an account admin to add you.",
        )
        .state("28000")
    }

    /// The session is unknown or closed.
    pub fn session_gone() -> Self {
        Self::new(codes::SESSION_GONE, "Session no longer exists. New login required to access the service.")
            .state("08003")
    }

    /// The store or another internal part failed; details go to the log.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "gateway request failed");
        Self::new("000603", "Internal error processing the request; the platform's log has the details.").state("XX000")
    }
}

impl From<crate::store::StoreError> for GwError {
    fn from(error: crate::store::StoreError) -> Self {
        GwError::internal(error)
    }
}

impl From<komodo_warehouse::WarehouseError> for GwError {
    fn from(error: komodo_warehouse::WarehouseError) -> Self {
        GwError { code: error.code(), message: error.to_string(), sql_state: Some(error.sql_state()), query_id: None }
    }
}

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

/// A JSON body, plain or gzip-compressed (`Content-Encoding: gzip`, or the
/// gzip magic bytes), parsed as `T`. An empty body parses as `{}`.
pub struct GwJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for GwJson<T> {
    type Rejection = GwError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let gzip = req
            .headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| GwError::bad_request(format!("cannot read the request body: {e}")))?;
        parse_body(&bytes, gzip).map(GwJson)
    }
}

/// Parses a request body as [`GwJson`] does once it has the bytes:
/// decompressed when `gzip_header` is set (`Content-Encoding: gzip`) or the
/// body starts with the gzip magic bytes, `{}` when empty, then JSON as `T`.
/// Every failure is a `bad_request`; this is the gateway JSON entry point
/// of the fuzz targets and property tests (SECURITY.md I01).
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8], gzip_header: bool) -> Result<T, GwError> {
    let body = decode_body(bytes, gzip_header)?;
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &body };
    serde_json::from_slice(body)
        .map_err(|e| GwError::bad_request(format!("the request body is not the JSON this endpoint expects: {e}")))
}

fn decode_body(bytes: &[u8], gzip_header: bool) -> Result<std::borrow::Cow<'_, [u8]>, GwError> {
    let is_gzip = gzip_header || bytes.starts_with(&[0x1f, 0x8b]);
    if !is_gzip {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| GwError::bad_request(format!("the gzip request body cannot be decompressed: {e}")))?;
    if out.len() > MAX_BODY {
        return Err(GwError::bad_request(format!("the request body is larger than {} MiB", MAX_BODY >> 20)));
    }
    Ok(std::borrow::Cow::Owned(out))
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

/// Reads the request's credential.
pub fn credential(headers: &HeaderMap) -> Credential<'_> {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Credential::None;
    };
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
        return Credential::None;
    }
    match crate::iam::auth::bearer(headers) {
        Some(token) => Credential::Bearer(token),
        None => Credential::None,
    }
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
    fn gzip_bodies_are_detected_by_header_or_magic() {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(br#"{"a":1}"#).unwrap();
        let compressed = Bytes::from(encoder.finish().unwrap());
        assert_eq!(&*decode_body(&compressed, false).unwrap(), br#"{"a":1}"#);
        assert_eq!(&*decode_body(&compressed, true).unwrap(), br#"{"a":1}"#);
        let plain = Bytes::from_static(br#"{"b":2}"#);
        assert_eq!(&*decode_body(&plain, false).unwrap(), br#"{"b":2}"#);
        assert!(decode_body(&Bytes::from_static(&[0x1f, 0x8b, 0, 0]), false).is_err());
    }
}
