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
//!
//! Sessions, query handles and small finished results live in the store,
//! so any replica serves any session: a replica that does not hold a
//! session's warehouse state opens it from the stored database and schema
//! (temporary tables stay with the replica that created them), follows
//! queries running elsewhere through their stored status, and forwards a
//! cancellation through the store to the replica running the query.

pub mod history;
pub mod query;
pub mod results;
pub mod session;
pub mod stream;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use komodo_warehouse::{Engine, SessionId, WarehouseEngine};

use crate::config::GatewayConfig;
use crate::state::AppState;
use results::ResultCache;

/// The gateway's state on this replica.
pub struct Gateway {
    engine: Arc<dyn WarehouseEngine>,
    embedded: Option<Arc<Engine>>,
    config: GatewayConfig,
    replica: String,
    sessions: Mutex<HashMap<String, EngineSession>>,
    running: Mutex<query::RunningQueries>,
    results: ResultCache,
    history: history::History,
}

struct EngineSession {
    account_id: String,
    id: SessionId,
    last_used: Instant,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("replica", &self.replica).field("config", &self.config).finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway over the embedded engine.
    pub fn new(engine: Arc<Engine>, config: GatewayConfig) -> Self {
        let mut gateway = Self::with_engine(engine.clone(), config);
        gateway.embedded = Some(engine);
        gateway
    }

    /// A gateway over any warehouse engine.
    pub fn with_engine(engine: Arc<dyn WarehouseEngine>, config: GatewayConfig) -> Self {
        let results = ResultCache::new(config.result_cache_bytes, config.result_ttl);
        let history = history::History::new(config.history_window);
        Self {
            engine,
            embedded: None,
            config,
            replica: uuid::Uuid::new_v4().to_string(),
            sessions: Mutex::default(),
            running: Mutex::default(),
            results,
            history,
        }
    }

    /// The warehouse engine statements run on.
    pub fn engine(&self) -> &Arc<dyn WarehouseEngine> {
        &self.engine
    }

    /// The embedded engine, when that is the engine in use (for loading
    /// data such as the demo set).
    pub fn embedded(&self) -> Option<&Arc<Engine>> {
        self.embedded.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The writer of quick queries' records to the store.
    pub fn history(&self) -> &history::History {
        &self.history
    }

    /// This replica's id (recorded with the queries it runs).
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Records the engine session that serves gateway session `id` here.
    pub fn adopt_engine_session(&self, id: &str, account_id: &str, session: SessionId) {
        let entry = EngineSession { account_id: account_id.to_owned(), id: session, last_used: Instant::now() };
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), entry);
    }

    /// Drops the engine session of gateway session `id` (and its
    /// temporary tables).
    pub fn drop_engine_session(&self, id: &str) {
        let removed = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
        if let Some(s) = removed {
            let _ = self.engine.close_session(&s.account_id, s.id);
        }
    }

    /// The engine session serving `session` on this replica, opened from
    /// the stored context when this replica has none yet.
    pub(crate) async fn engine_session(
        &self,
        session: &crate::store::gateway::GatewaySessionRow,
    ) -> Result<SessionId, komodo_warehouse::WarehouseError> {
        let cached = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&session.id).map(|s| {
            s.last_used = Instant::now();
            s.id
        });
        if let Some(id) = cached {
            // What another replica set since (ALTER SESSION there).
            let here = self.engine.session_params(&session.account_id, id)?.to_json();
            if here != session.parameters {
                let params = session.parameters.as_deref().map(komodo_warehouse::SessionParams::from_json);
                self.engine.set_session_params(&session.account_id, id, params.unwrap_or_default())?;
            }
            return Ok(id);
        }
        // Stored names are already normalised identifiers: quote them so
        // they are taken as they are.
        let quote = |n: &Option<String>| n.as_ref().map(|n| format!("\"{}\"", n.replace('"', "\"\"")));
        let id = self
            .engine
            .open_session(
                &session.account_id,
                quote(&session.database_name).as_deref(),
                quote(&session.schema_name).as_deref(),
            )
            .await?;
        if let Some(parameters) = &session.parameters {
            let params = komodo_warehouse::SessionParams::from_json(parameters);
            self.engine.set_session_params(&session.account_id, id, params)?;
        }
        self.adopt_engine_session(&session.id, &session.account_id, id);
        Ok(id)
    }

    /// Drops finished work past its time: results in memory, finished
    /// query entries, engine sessions idle longer than a master token.
    pub fn purge_memory(&self) {
        self.results.purge();
        self.running.lock().unwrap_or_else(|e| e.into_inner()).purge();
        let idle = self.config.master_token_ttl;
        let stale: Vec<(String, SessionId)> = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            let stale: Vec<_> =
                sessions.iter().filter(|(_, s)| s.last_used.elapsed() > idle).map(|(k, s)| (k.clone(), s.id)).collect();
            stale.into_iter().filter_map(|(k, id)| sessions.remove(&k).map(|s| (s.account_id, id))).collect()
        };
        for (account, id) in stale {
            let _ = self.engine.close_session(&account, id);
        }
    }
}

/// Removes expired gateway state every minute, in memory and in the store.
pub fn spawn_janitor(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
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
        .route(session::LOGIN_PATH, post(session::login))
        .route("/session/heartbeat", post(session::heartbeat))
        .route(session::TOKEN_REQUEST_PATH, post(session::token_request))
        .route("/session", post(session::close))
        .route("/queries/v1/query-request", post(query::query_request))
        .route("/queries/v1/abort-request", post(query::abort_by_request))
        .route("/queries/{query_id}/result", get(query::result))
        .route("/queries/{query_id}/abort-request", post(query::abort_by_id))
        .route("/monitoring/queries/{query_id}", get(query::monitoring))
        .route("/gateway/chunks/{query_id}/{n}", get(query::chunk))
        .route("/telemetry/send", post(query::telemetry))
        .layer(DefaultBodyLimit::max(wire::MAX_BODY))
}
