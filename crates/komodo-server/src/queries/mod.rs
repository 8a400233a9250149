//! The connector gateway's state on this replica, under its HTTP surface
//! ([`crate::gateway`]): the warehouse engine and the engine session that
//! serves each gateway session here, the statements running here
//! ([`running`]), finished results held in memory ([`results`]), the
//! writer of quick statements' records ([`history`]) and the gateway's
//! error ([`error`]).
//!
//! Sessions, query handles and small finished results also live in the
//! store, so any replica serves any session: a replica that does not hold
//! a session's warehouse state opens it from the stored database and schema
//! (temporary tables stay with the replica that created them), follows
//! queries running elsewhere through their stored status, and forwards a
//! cancellation through the store to the replica running the query.

pub mod error;
pub mod history;
pub mod results;
pub mod running;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use komodo_warehouse::{Engine, SessionId, WarehouseEngine};

use crate::config::GatewayConfig;
use crate::store::gateway::GatewaySessionRow;
use history::History;
use parking_lot::Mutex;
use results::ResultCache;
use running::{Running, RunningQueries};

/// The gateway's state on this replica.
pub struct Gateway {
    engine: Arc<dyn WarehouseEngine>,
    embedded: Option<Arc<Engine>>,
    config: GatewayConfig,
    replica: String,
    sessions: Mutex<HashMap<String, EngineSession>>,
    running: Mutex<RunningQueries>,
    results: ResultCache,
    history: History,
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
        let history = History::new(config.history_window);
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
    pub fn history(&self) -> &History {
        &self.history
    }

    /// This replica's id (recorded with the queries it runs).
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Records the engine session that serves gateway session `id` here.
    pub fn adopt_engine_session(&self, id: &str, account_id: &str, session: SessionId) {
        let entry = EngineSession { account_id: account_id.to_owned(), id: session, last_used: Instant::now() };
        self.sessions.lock().insert(id.to_owned(), entry);
    }

    /// Drops the engine session of gateway session `id` (and its
    /// temporary tables).
    pub fn drop_engine_session(&self, id: &str) {
        let removed = self.sessions.lock().remove(id);
        if let Some(s) = removed {
            let _ = self.engine.close_session(&s.account_id, s.id);
        }
    }

    /// The engine session serving `session` on this replica, opened from
    /// the stored context when this replica has none yet.
    pub async fn engine_session(
        &self,
        session: &GatewaySessionRow,
    ) -> Result<SessionId, komodo_warehouse::WarehouseError> {
        let cached = self.sessions.lock().get_mut(&session.id).map(|s| {
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
        self.running.lock().purge();
        let idle = self.config.master_token_ttl;
        let stale: Vec<(String, SessionId)> = {
            let mut sessions = self.sessions.lock();
            let stale: Vec<_> =
                sessions.iter().filter(|(_, s)| s.last_used.elapsed() > idle).map(|(k, s)| (k.clone(), s.id)).collect();
            stale.into_iter().filter_map(|(k, id)| sessions.remove(&k).map(|s| (s.account_id, id))).collect()
        };
        for (account, id) in stale {
            let _ = self.engine.close_session(&account, id);
        }
    }

    /// Finished results held in memory on this replica.
    pub fn results(&self) -> &ResultCache {
        &self.results
    }

    /// Registers a statement that starts on this replica.
    pub fn register_running(&self, query_id: &str, running: Arc<Running>) {
        self.running.lock().insert(query_id, running);
    }

    /// Forgets a statement that could not start.
    pub fn forget_running(&self, query_id: &str) {
        self.running.lock().remove(query_id);
    }

    /// The query this replica runs (or ran recently) for gateway session
    /// `session_key` with the client's `request_id`.
    pub fn running_by_request(&self, session_key: &str, request_id: &str) -> Option<String> {
        self.running.lock().by_request(session_key, request_id).cloned()
    }

    /// The entry of query `query_id` of `account_id` on this replica (none
    /// for another account's: T05).
    pub fn running_of(&self, account_id: &str, query_id: &str) -> Option<Arc<Running>> {
        let running = self.running.lock();
        running.get(query_id).filter(|r| r.account_id == account_id).cloned()
    }

    /// Whether query `query_id` is still running on this replica.
    pub fn running_here(&self, query_id: &str) -> bool {
        self.running.lock().get(query_id).is_some_and(|r| r.current().is_none())
    }
}
