//! The IAM API: the current user, the caller's identity, and service
//! principals (created, listed, rotated and deleted by account admins only).
//!
//! Every call authenticates a bearer access token ([`auth::authenticate`]):
//! the signature and claims first (the fast path the gateway will share),
//! then the principal itself (a deleted service principal, a revoked
//! session or a revoked token fail at once).

pub mod auth;
pub mod password;
pub mod service_principals;
pub mod users;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use komodo_protocol::iam::ApiError;

use crate::state::AppState;
use crate::store::StoreError;

/// The IAM routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/iam/users/me", get(users::me))
        .route("/v1/iam/identity", get(users::identity))
        .route("/v1/iam/service-principals/token", post(service_principals::token))
        .route("/internal/service-principals", post(service_principals::create).get(service_principals::list))
        .route("/internal/service-principals/{id}", axum::routing::delete(service_principals::delete))
        .route("/internal/service-principals/{id}/rotate-secret", post(service_principals::rotate))
}

/// An IAM error answer: `{"error", "message"}` with a status.
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
        tracing::error!(%error, "internal error in IAM call");
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
