//! The connector gateway: the subset of Snowflake's REST protocol that the
//! official connectors use (see `docs/snowflake-gateway-protocol.md`), in
//! front of each account's warehouse.
//!
//! | endpoint | handler |
//! |---|---|
//! | `POST /session/v1/login-request` | [`session::login`] |
//! | `POST /session/heartbeat` | [`session::heartbeat`] |
//! | `POST /session/token-request` | [`session::token_request`] |
//! | `POST /session?delete=true` | [`session::close`] |
//! | `POST /queries/v1/query-request` | [`query::query_request`] |
//! | `GET /queries/{id}/result` | [`query::result`] |
//! | `GET /monitoring/queries/{id}` | [`query::monitoring`] |
//! | `POST /queries/v1/abort-request`, `POST /queries/{id}/abort-request` | [`query::abort_by_request`], [`query::abort_by_id`] |
//! | `GET /gateway/chunks/{id}/{n}` | [`query::chunk`] |
//! | `POST /komodo/v1/load` | [`load::load`] (Komodo's own: a file into a table) |
//!
//! Every request after the login names its caller in its arguments
//! ([`caller::Caller`], [`caller::Submitter`]): the extractor authorises it
//! before the handler runs, and before its body is read ([`body`], F10).
//! Responses are Snowflake's envelope ([`wire`]).
//!
//! This module is the HTTP surface; what the gateway holds on a replica
//! (engine sessions, running statements, results in memory) is
//! [`crate::queries`], under the application state.

pub mod body;
pub mod caller;
pub mod load;
pub mod query;
pub mod session;
pub mod stage;
pub mod upstream;
pub mod wire;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::state::AppState;

/// Removes expired gateway state every minute, in memory and in the store,
/// and ends upstream sessions whose gateway sessions have ended or lost
/// their access (every `UpstreamConfig::sweep_every`).
pub fn spawn_janitor(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep = tokio::time::interval(state.config().upstream.sweep_every.max(Duration::from_millis(100)));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = sweep.tick() => {
                    state.upstreams().sweep().await;
                    continue;
                }
            }
            let gateway = state.gateway();
            gateway.purge_memory();
            let history = gateway.config().history_ttl;
            let before_ms = crate::clock::now_ms() - history.as_millis() as i64;
            let before_s = crate::clock::now() - history.as_secs() as i64;
            if let Err(error) = state.store().purge_gateway(before_ms, before_s).await {
                tracing::warn!(%error, "purging old gateway sessions and queries failed");
            }
        }
    })
}

/// The gateway's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(caller::LOGIN_PATH, post(session::login))
        .route("/session/heartbeat", post(session::heartbeat))
        .route(caller::TOKEN_REQUEST_PATH, post(session::token_request))
        .route("/session", post(session::close))
        .route("/queries/v1/query-request", post(query::query_request))
        .route("/queries/v1/abort-request", post(query::abort_by_request))
        .route("/queries/{query_id}/result", get(query::result))
        .route("/queries/{query_id}/abort-request", post(query::abort_by_id))
        .route("/monitoring/queries/{query_id}", get(query::monitoring))
        .route("/gateway/chunks/{query_id}/{n}", get(query::chunk))
        .route("/telemetry/send", post(query::telemetry))
        .layer(DefaultBodyLimit::max(body::MAX_BODY))
        // A load's body streams to a file under its own cap.
        .route(stage::FILES_PATH, get(stage::files))
        .route(stage::FILE_PATH, get(stage::file))
        .merge(
            Router::new()
                .route(load::LOAD_PATH, post(load::load))
                .route(stage::PUT_PATH, post(stage::put))
                .layer(DefaultBodyLimit::disable()),
        )
}
