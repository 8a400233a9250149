//! The statements this replica runs (or ran recently), by query id and by
//! the session and request id they were submitted with; each with its
//! cancellation token and a channel its outcome arrives on.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use komodo_warehouse::CancellationToken;
use tokio::sync::watch;

use super::error::GwError;
use super::results::{Finished, Format};

/// How long a finished query's entry stays in memory for late pollers.
const FINISHED_TTL: Duration = Duration::from_secs(120);

/// What a finished statement produced.
pub type Outcome = Result<Arc<Finished>, GwError>;

/// A query this replica runs (or ran recently).
pub struct Running {
    /// The account it runs for.
    pub account_id: String,
    /// The gateway session it was submitted in ([`Caller::session_key`](crate::gateway::caller::Caller::session_key)).
    pub session_key: String,
    /// The client's request id, kept across retries.
    pub request_id: Option<String>,
    /// The result format the client asked for.
    pub format: Format,
    /// Whether it was submitted asynchronously.
    pub async_exec: bool,
    /// When it started (epoch milliseconds).
    pub started_ms: i64,
    /// Its SQL text.
    pub sql_text: String,
    /// Cancels it.
    pub cancel: CancellationToken,
    outcome: watch::Receiver<Option<Outcome>>,
    finished_at: OnceLock<Instant>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("account_id", &self.account_id)
            .field("format", &self.format)
            .field("async_exec", &self.async_exec)
            .field("started_ms", &self.started_ms)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// A statement starting now, with a fresh cancellation token, and the
    /// sender its outcome is announced on.
    pub fn start(
        account_id: String,
        session_key: String,
        request_id: Option<String>,
        format: Format,
        async_exec: bool,
        sql_text: String,
    ) -> (Self, watch::Sender<Option<Outcome>>) {
        let (tx, outcome) = watch::channel(None);
        let running = Running {
            account_id,
            session_key,
            request_id,
            format,
            async_exec,
            started_ms: crate::clock::now_ms(),
            sql_text,
            cancel: CancellationToken::new(),
            outcome,
            finished_at: OnceLock::new(),
        };
        (running, tx)
    }

    /// Notes that the statement has finished (its entry is kept two
    /// minutes more for late pollers).
    pub fn mark_finished(&self) {
        let _ = self.finished_at.set(Instant::now());
    }

    fn expired(&self) -> bool {
        self.finished_at.get().is_some_and(|at| at.elapsed() > FINISHED_TTL)
    }

    /// The outcome, once there is one.
    pub fn current(&self) -> Option<Outcome> {
        self.outcome.borrow().clone()
    }

    /// Waits up to `wait` for the outcome.
    pub async fn wait(&self, wait: Duration) -> Option<Outcome> {
        let mut rx = self.outcome.clone();
        match tokio::time::timeout(wait, rx.wait_for(Option::is_some)).await {
            Ok(Ok(v)) => v.clone(),
            _ => self.current(),
        }
    }
}

/// The queries this replica runs (or ran recently), by id and by the
/// session and request id they were submitted with.
#[derive(Debug, Default)]
pub struct RunningQueries {
    by_id: HashMap<String, Arc<Running>>,
    by_request: HashMap<String, String>,
}

impl RunningQueries {
    fn request_key(session_key: &str, request_id: &str) -> String {
        format!("{session_key}\n{request_id}")
    }

    pub(super) fn insert(&mut self, query_id: &str, running: Arc<Running>) {
        if let Some(request_id) = &running.request_id {
            self.by_request.insert(Self::request_key(&running.session_key, request_id), query_id.to_owned());
        }
        self.by_id.insert(query_id.to_owned(), running);
    }

    pub(super) fn remove(&mut self, query_id: &str) {
        if let Some(running) = self.by_id.remove(query_id)
            && let Some(request_id) = &running.request_id
        {
            let key = Self::request_key(&running.session_key, request_id);
            if self.by_request.get(&key).is_some_and(|id| id == query_id) {
                self.by_request.remove(&key);
            }
        }
    }

    pub(super) fn get(&self, query_id: &str) -> Option<&Arc<Running>> {
        self.by_id.get(query_id)
    }

    pub(super) fn by_request(&self, session_key: &str, request_id: &str) -> Option<&String> {
        self.by_request.get(&Self::request_key(session_key, request_id))
    }

    /// Forgets queries that finished longer ago than they are kept.
    pub fn purge(&mut self) {
        let expired: Vec<String> = self.by_id.iter().filter(|(_, r)| r.expired()).map(|(id, _)| id.clone()).collect();
        for id in expired {
            self.remove(&id);
        }
    }
}
