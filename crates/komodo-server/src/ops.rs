//! Operations: `/healthz`, `/readyz`, `/metrics`, the request middleware
//! (metrics and one log line per request, without query strings, so no
//! code or token reaches a log) and logging setup.

use std::collections::HashSet;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Bucket bounds (seconds) of the request latency histogram: from a cached
/// token check to a long synchronous query.
const LATENCY_BUCKETS: &[f64] =
    &[0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How often the recorder folds recorded samples into its histograms.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process-wide Prometheus recorder (installed once; several platforms
/// in one test process share it).
///
/// Latencies are histograms with fixed buckets rather than summaries, so
/// that the replicas' figures can be summed; and the recorder's upkeep runs
/// every few seconds on a thread of its own, so that samples do not pile up
/// in memory between scrapes (or forever, when nothing scrapes).
pub(crate) fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), LATENCY_BUCKETS)
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                })
                .ok()?;
            Some(handle)
        })
        .clone()
}

/// The request latency histogram's name.
const REQUEST_DURATION: &str = "komodo_http_request_duration_seconds";

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
        let presented = crate::iam::auth::bearer(&headers).unwrap_or_default();
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
/// The labels are `'static` strings (see [`label`]), so a request costs
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
    if let Some(&known) = labels.read().unwrap_or_else(PoisonError::into_inner).get(value) {
        return known;
    }
    let mut labels = labels.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(&known) = labels.get(value) {
        return known;
    }
    let stored: &'static str = Box::leak(value.to_owned().into_boxed_str());
    labels.insert(stored);
    stored
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global tracing subscriber writing to stderr; the filter
/// comes from `RUST_LOG` (default `info`).
pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
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
