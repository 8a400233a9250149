//! Operations over HTTP: `/healthz`, `/readyz`, `/metrics`, and the request
//! middleware (metrics and one log line per request, without query strings,
//! so no code or token reaches a log). The recorder and the log output are
//! set up in [`telemetry`](crate::telemetry).

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Instant;

use crate::state::AppState;
use crate::telemetry::REQUEST_DURATION;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parking_lot::RwLock;

/// The operational routes; `/metrics` among them unless it is served on
/// an address of its own ([`metrics_app`], `--metrics-listen`).
pub fn router(with_metrics: bool) -> Router<AppState> {
    let router = Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz));
    if with_metrics { router.route("/metrics", get(metrics_endpoint)) } else { router }
}

/// The application of the `--metrics-listen` address: `/metrics` only.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics_endpoint))
        .fallback(|| async { (StatusCode::NOT_FOUND, "only /metrics is served here") })
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) if state.keys().active_kid().await.is_some() => "ready".into_response(),
        Ok(()) => (StatusCode::SERVICE_UNAVAILABLE, "no active signing key").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// `/metrics`: the Prometheus text format; with `--metrics-token`, only
/// for `Authorization: Bearer <token>`.
async fn metrics_endpoint(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config().metrics_token {
        let presented = crate::web::request::bearer(&headers).unwrap_or_default();
        if !crate::crypto::ct_eq(presented.as_bytes(), token.expose_secret().as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need `Authorization: Bearer <token>` with the server's metrics token (--metrics-token)",
            )
                .into_response();
        }
    }
    let engine = state.gateway().engine();
    metrics::gauge!("komodo_warehouse_active_tasks").set(engine.active_tasks() as f64);
    metrics::gauge!("komodo_warehouse_memory_bytes").set(engine.memory_in_use() as f64);
    match state.metrics() {
        Some(handle) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics recorder unavailable").into_response(),
    }
}

/// Counts and times every request by route template and status.
///
/// The labels are `'static` strings (see `label`), so a request costs
/// the recorder's lookups but no allocation.
pub async fn track(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| label(p.as_str()));
    let response = next.run(request).await;
    let status = label(response.status().as_str());
    let elapsed = start.elapsed();
    metrics::counter!("komodo_http_requests_total", "method" => method, "route" => route, "status" => status)
        .increment(1);
    metrics::histogram!(REQUEST_DURATION, "method" => method, "route" => route).record(elapsed.as_secs_f64());
    tracing::debug!(%method, %route, %status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "request");
    response
}

/// The method's label: the standard methods by name, any other as `other`
/// (a client choosing method names must not grow the metrics without bound).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// `value` as a string that lives as long as the process, stored once.
///
/// Only for values from small, fixed sets: the router's route templates
/// and HTTP status codes.
fn label(value: &str) -> &'static str {
    static LABELS: OnceLock<RwLock<HashSet<&'static str>>> = OnceLock::new();
    let labels = LABELS.get_or_init(Default::default);
    if let Some(&known) = labels.read().get(value) {
        return known;
    }
    let mut labels = labels.write();
    if let Some(&known) = labels.get(value) {
        return known;
    }
    let stored: &'static str = Box::leak(value.to_owned().into_boxed_str());
    labels.insert(stored);
    stored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_bounded() {
        assert_eq!(method_label(&Method::POST), "POST");
        let invented = Method::from_bytes(b"INVENTED").unwrap();
        assert_eq!(method_label(&invented), "other");
    }

    #[test]
    fn labels_are_stored_once() {
        let route = String::from("/oauth/token");
        let first = label(&route);
        let second = label(&String::from("/oauth/token"));
        assert_eq!(first, "/oauth/token");
        assert!(std::ptr::eq(first, second), "the same value must be stored once");
    }
}
