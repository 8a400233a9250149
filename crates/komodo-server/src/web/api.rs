//! The JSON error answer of the platform's APIs (IAM, userinfo, an unknown
//! endpoint): `{"error", "message"}` with a status, and a `Bearer`
//! challenge on 401.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use komodo_protocol::iam::ApiError;

use crate::store::StoreError;

/// An API error answer: `{"error", "message"}` with a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// Human text (never contains a secret).
    pub message: String,
}

impl ApiFailure {
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiFailure { status: StatusCode::BAD_REQUEST, code: "invalid_request", message: message.into() }
    }
    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiFailure { status: StatusCode::UNAUTHORIZED, code: "unauthorized", message: message.into() }
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiFailure { status: StatusCode::FORBIDDEN, code: "forbidden", message: message.into() }
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiFailure { status: StatusCode::NOT_FOUND, code: "not_found", message: message.into() }
    }
    /// 422.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiFailure { status: StatusCode::UNPROCESSABLE_ENTITY, code: "invalid_field", message: message.into() }
    }
    /// 500, after logging the cause.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error in API call");
        ApiFailure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal_error",
            message: "internal server error".into(),
        }
    }
}

impl From<StoreError> for ApiFailure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => {
                ApiFailure { status: StatusCode::CONFLICT, code: "conflict", message: format!("{what} already exists") }
            }
            StoreError::NotFound(what) => ApiFailure::not_found(format!("{what} not found")),
            other => ApiFailure::internal(other),
        }
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(ApiError { error: self.code.to_owned(), message: self.message })).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }
}
