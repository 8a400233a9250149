//! Queries: submit (sync or async), results, monitoring, cancellation and
//! chunk downloads.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use komodo_protocol::gateway::{
    AbortRequest, Binding, MonitoringData, QUERY_RESULT_FORMAT, QueryRequest, QueryResponseData, QueryStatusEntry,
    codes,
};
use komodo_warehouse::{CancellationToken, Param, SessionId};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::results::{CHUNK_TOKEN_HEADER, Finished, Format};
use super::session::{Caller, authorize, authorize_request};
use super::wire::{GwError, GwJson, ok, ok_with_code};
use crate::state::AppState;
use crate::store::gateway::{FinishedGatewayQuery, GatewayQueryRow, NewGatewayQuery, QueryError, status};

/// Results of synchronous queries up to this size are persisted for other
/// replicas (`result_scan`, result polls through another replica).
const SYNC_PERSIST_CAP: usize = 1 << 20;
/// How long a synchronous query runs before its handle is recorded (the
/// abort watcher first looks for it after 500 ms).
const RECORD_RUNNING_AFTER: Duration = Duration::from_millis(200);
/// How long a finished query's entry stays in memory for late pollers.
const FINISHED_TTL: Duration = Duration::from_secs(120);

/// What a finished statement produced.
pub type Outcome = Result<Arc<Finished>, GwError>;

/// A query this replica runs (or ran recently).
pub struct Running {
    account_id: String,
    session_key: String,
    request_id: Option<String>,
    format: Format,
    async_exec: bool,
    started_ms: i64,
    sql_text: String,
    cancel: CancellationToken,
    outcome: watch::Receiver<Option<Outcome>>,
    finished_at: OnceLock<Instant>,
}

impl Running {
    pub(crate) fn expired(&self) -> bool {
        self.finished_at.get().is_some_and(|at| at.elapsed() > FINISHED_TTL)
    }

    fn current(&self) -> Option<Outcome> {
        self.outcome.borrow().clone()
    }

    /// Waits up to `wait` for the outcome.
    async fn wait(&self, wait: Duration) -> Option<Outcome> {
        let mut rx = self.outcome.clone();
        match tokio::time::timeout(wait, rx.wait_for(Option::is_some)).await {
            Ok(Ok(v)) => v.clone(),
            _ => self.current(),
        }
    }
}

/// The queries this replica runs (or ran recently), by id and by the
/// session and request id they were submitted with.
#[derive(Default)]
pub struct RunningQueries {
    by_id: HashMap<String, Arc<Running>>,
    by_request: HashMap<String, String>,
}

impl RunningQueries {
    fn request_key(session_key: &str, request_id: &str) -> String {
        format!("{session_key}\n{request_id}")
    }

    fn insert(&mut self, query_id: &str, running: Arc<Running>) {
        if let Some(request_id) = &running.request_id {
            self.by_request.insert(Self::request_key(&running.session_key, request_id), query_id.to_owned());
        }
        self.by_id.insert(query_id.to_owned(), running);
    }

    fn remove(&mut self, query_id: &str) {
        if let Some(running) = self.by_id.remove(query_id)
            && let Some(request_id) = &running.request_id
        {
            let key = Self::request_key(&running.session_key, request_id);
            if self.by_request.get(&key).is_some_and(|id| id == query_id) {
                self.by_request.remove(&key);
            }
        }
    }

    fn get(&self, query_id: &str) -> Option<&Arc<Running>> {
        self.by_id.get(query_id)
    }

    fn by_request(&self, session_key: &str, request_id: &str) -> Option<&String> {
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

/// Query parameters carrying the client's request id.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestIdQuery {
    /// The client's id for this request (kept across retries).
    #[serde(default, alias = "request_id")]
    pub request_id: Option<String>,
}

fn requested_format(parameters: &serde_json::Map<String, Value>) -> Format {
    let asked = parameters
        .get(QUERY_RESULT_FORMAT)
        .or_else(|| parameters.get("JDBC_QUERY_RESULT_FORMAT"))
        .and_then(Value::as_str)
        .unwrap_or("JSON");
    Format::parse(asked)
}

/// `select * from table(result_scan('<id>'))`, as the Python connector's
/// `get_results_from_sfqid` sends it: the id, if `sql` is exactly that.
pub fn result_scan_target(sql: &str) -> Option<String> {
    let compact: String = sql.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    let compact = compact.trim_end_matches(';').trim();
    let compact = compact.replace("( ", "(").replace(" )", ")").replace(" (", "(");
    let rest = compact.strip_prefix("select * from table(result_scan('")?;
    let id = rest.strip_suffix("'))")?;
    uuid::Uuid::parse_str(id).ok().map(|u| u.to_string())
}

/// Converts the request's bindings to rows of parameters: one row for
/// scalar bindings, one row per element when the values are arrays
/// (`executemany`), at most `max_rows` of them (SECURITY.md F06).
pub fn binding_rows(bindings: Option<BTreeMap<String, Binding>>, max_rows: usize) -> Result<Vec<Vec<Param>>, GwError> {
    let Some(bindings) = bindings.filter(|b| !b.is_empty()) else {
        return Ok(vec![Vec::new()]);
    };
    let mut ordered: Vec<(usize, Binding)> = Vec::with_capacity(bindings.len());
    for (key, binding) in bindings {
        let index: usize = key.parse().map_err(|_| {
            GwError::new("002049", format!("Bind variable key `{key}` is not a position; use \"1\", \"2\", ..."))
                .state("22000")
        })?;
        ordered.push((index, binding));
    }
    ordered.sort_by_key(|(i, _)| *i);
    for (expected, (index, _)) in ordered.iter().enumerate() {
        if *index != expected + 1 {
            return Err(GwError::new(
                "002049",
                format!("Bind variable {} is missing: positions must run 1, 2, ... without gaps", expected + 1),
            )
            .state("22000"));
        }
    }
    let scalar =
        |type_name: &str, v: &Value| -> Result<Param, GwError> {
            match v {
                Value::Null => Ok(Param::new(type_name, None)),
                Value::String(s) => Ok(Param::new(type_name, Some(s.clone()))),
                Value::Number(n) => Ok(Param::new(type_name, Some(n.to_string()))),
                Value::Bool(b) => Ok(Param::new(type_name, Some(b.to_string()))),
                other => Err(GwError::new("002049", format!("Bind variable value {other} is not a string or null"))
                    .state("22000")),
            }
        };
    let array_len = ordered.iter().find_map(|(_, b)| b.value.as_array().map(Vec::len));
    if let Some(rows) = array_len.filter(|rows| *rows > max_rows) {
        return Err(GwError::new(
            "002049",
            format!(
                "Array binding of {rows} rows is larger than the {max_rows} rows a statement may bind; \
                 send the rows in several statements"
            ),
        )
        .state("22000"));
    }
    match array_len {
        None => Ok(vec![ordered.iter().map(|(_, b)| scalar(&b.type_name, &b.value)).collect::<Result<_, _>>()?]),
        Some(rows) => {
            let mut out = vec![Vec::with_capacity(ordered.len()); rows];
            for (index, binding) in &ordered {
                let values = binding.value.as_array().filter(|a| a.len() == rows).ok_or_else(|| {
                    GwError::new(
                        "002049",
                        format!("Bind variable {index} must be an array of {rows} values like the others"),
                    )
                    .state("22000")
                })?;
                for (row, value) in out.iter_mut().zip(values) {
                    row.push(scalar(&binding.type_name, value)?);
                }
            }
            Ok(out)
        }
    }
}

fn in_progress(query_id: &str, code: &'static str) -> Response {
    let message = if code == codes::QUERY_IN_PROGRESS_ASYNC {
        "Asynchronous execution in progress. Use provided query id to perform query monitoring and management."
    } else {
        "Query execution in progress. Poll getResultUrl for the result."
    };
    ok_with_code(
        code,
        message,
        QueryResponseData {
            query_id: Some(query_id.to_owned()),
            get_result_url: Some(format!("/queries/{query_id}/result")),
            ..Default::default()
        },
    )
}

fn respond(state: &AppState, query_id: &str, outcome: Outcome, format: Format) -> Result<Response, GwError> {
    match outcome {
        Ok(finished) => Ok(ok(finished.response(query_id, format, state.issuer())?)),
        Err(error) => Err(error.query(query_id)),
    }
}

/// `POST /queries/v1/query-request`.
pub async fn query_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<RequestIdQuery>,
    GwJson(body): GwJson<QueryRequest>,
) -> Result<Response, GwError> {
    let request_id = query.request_id.filter(|r| !r.is_empty());
    let (caller, stored) = authorize_request(&state, &headers, request_id.as_deref()).await?;
    let gateway = state.gateway();
    let format = requested_format(&body.parameters);

    // A retry of a request already submitted attaches to the first one.
    let prior = match (&request_id, stored) {
        (None, _) => None,
        (Some(rid), stored) => match find_running(&state, &caller, rid) {
            Some(id) => Some(id),
            None => match stored {
                Some(stored) => stored,
                None => state.store().gateway_query_by_request(&caller.session_key(), rid).await?.map(|r| r.handle.id),
            },
        },
    };
    if let Some(existing) = prior {
        return answer(&state, &caller, &existing, body.async_exec, gateway.config().sync_wait).await;
    }

    let query_id = uuid::Uuid::new_v4().to_string();
    if let Some(target) = result_scan_target(&body.sql_text) {
        let finished = load_result(&state, &caller, &target, gateway.config().poll_wait).await?;
        let copy = Finished::new(
            &caller.account_id,
            finished.statement_type_id,
            finished.rows_affected,
            finished.schema.clone(),
            finished.batches.clone(),
            finished.final_context.clone(),
        )
        .holding(finished.held.clone());
        let copy = Arc::new(copy);
        gateway.results.insert(&query_id, copy.clone());
        return respond(&state, &query_id, Ok(copy), format);
    }

    if body.sql_text.trim().is_empty() {
        return Err(GwError::new(codes::COMPILATION, "SQL compilation error:\nEmpty SQL statement.").state("42000"));
    }
    let mut rows = binding_rows(body.bindings, gateway.config().max_binding_rows)?;
    if format == Format::Arrow && !body.async_exec && rows.len() == 1 && super::stream::wanted(&body.parameters) {
        let params = rows.pop().unwrap_or_default();
        return super::stream::stream_query(&state, &caller, query_id, body.sql_text, params, request_id).await;
    }
    let work = {
        let (state, caller, sql) = (state.clone(), caller.clone(), body.sql_text.clone());
        move |cancel| -> Work { Box::pin(execute(state, caller, sql, rows, cancel)) }
    };
    let running = start(&state, &caller, &query_id, body.sql_text, format, request_id, body.async_exec, work).await?;
    if body.async_exec {
        return Ok(in_progress(&query_id, codes::QUERY_IN_PROGRESS_ASYNC));
    }
    match running.wait(gateway.config().sync_wait).await {
        Some(outcome) => respond(&state, &query_id, outcome, format),
        None => Ok(in_progress(&query_id, codes::QUERY_IN_PROGRESS)),
    }
}

/// A query submitted earlier by the same session with `request_id`.
async fn find_by_request(state: &AppState, caller: &Caller, request_id: &str) -> Result<Option<String>, GwError> {
    if let Some(local) = find_running(state, caller, request_id) {
        return Ok(Some(local));
    }
    Ok(state.store().gateway_query_by_request(&caller.session_key(), request_id).await?.map(|row| row.handle.id))
}

/// A query this replica runs (or ran recently) for the same session with
/// `request_id`.
fn find_running(state: &AppState, caller: &Caller, request_id: &str) -> Option<String> {
    let running = state.gateway().running.lock().unwrap_or_else(|e| e.into_inner());
    running.by_request(&caller.session_key(), request_id).cloned()
}

/// Answers for an existing query: its result, or `333333`/`333334` while it runs.
async fn answer(
    state: &AppState,
    caller: &Caller,
    query_id: &str,
    async_exec: bool,
    wait: Duration,
) -> Result<Response, GwError> {
    let running = state.gateway().running_of(&caller.account_id, query_id);
    if let Some(running) = running {
        if async_exec && running.current().is_none() {
            return Ok(in_progress(query_id, codes::QUERY_IN_PROGRESS_ASYNC));
        }
        return match running.wait(wait).await {
            Some(outcome) => respond(state, query_id, outcome, running.format),
            None => Ok(in_progress(query_id, codes::QUERY_IN_PROGRESS)),
        };
    }
    let Some(row) = state.store().gateway_query(&caller.account_id, query_id).await? else {
        return Err(not_found(query_id));
    };
    let format = Format::parse(&row.handle.result_format);
    match remote_outcome(state, caller, row, if async_exec { Duration::ZERO } else { wait }).await? {
        Some(outcome) => respond(state, query_id, outcome, format),
        None if async_exec => Ok(in_progress(query_id, codes::QUERY_IN_PROGRESS_ASYNC)),
        None => Ok(in_progress(query_id, codes::QUERY_IN_PROGRESS)),
    }
}

fn not_found(query_id: &str) -> GwError {
    GwError::new("000709", format!("Statement {query_id} not found")).state("02000")
}

/// The outcome of a query known only from the store (run by another
/// replica, or by this one before a restart), waiting up to `wait` while
/// it runs.
async fn remote_outcome(
    state: &AppState,
    caller: &Caller,
    mut row: GatewayQueryRow,
    wait: Duration,
) -> Result<Option<Outcome>, GwError> {
    let deadline = Instant::now() + wait;
    loop {
        match row.status.as_str() {
            status::SUCCESS => {
                if let Some(r) = state.gateway().results.get(&caller.account_id, &row.handle.id) {
                    return Ok(Some(Ok(r)));
                }
                return match state.store().gateway_result(&caller.account_id, &row.handle.id).await? {
                    Some(stored) => {
                        let finished = Arc::new(Finished::from_persisted(&caller.account_id, &stored)?);
                        state.gateway().results.insert(&row.handle.id, finished.clone());
                        Ok(Some(Ok(finished)))
                    }
                    None => Ok(Some(Err(GwError::new(
                        "000603",
                        "The result of this query is no longer available (results are kept for a limited time); \
                         run the query again.",
                    )
                    .state("XX000")))),
                };
            }
            status::FAILED | status::ABORTED | status::DISCONNECTED => {
                let code = row.error_code.as_deref().map(static_code).unwrap_or("000603");
                let message = row.error_message.clone().unwrap_or_else(|| "Query failed".to_owned());
                let state_code = row.sql_state.as_deref().map(static_state).unwrap_or("XX000");
                return Ok(Some(Err(GwError::new(code, message).state(state_code))));
            }
            _ => {}
        }
        if row.handle.replica == state.gateway().replica() && !state.gateway().running_here(&row.handle.id) {
            // Ours, but not running any more: this replica restarted.
            return Ok(Some(Err(GwError::new(
                "000603",
                "The query was interrupted by a platform restart; run it again.",
            )
            .state("XX000"))));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        row = match state.store().gateway_query(&caller.account_id, &row.handle.id).await? {
            Some(r) => r,
            None => return Err(not_found(&row.handle.id)),
        };
    }
}

/// Snowflake codes are compared by the connectors; keep known ones exact.
fn static_code(code: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "000603", "000604", "000606", "000625", "000630", "001003", "002003", "002049", "003001", "100038", "390111",
        "000709",
    ];
    KNOWN.iter().find(|k| **k == code).copied().unwrap_or("000603")
}

fn static_state(state: &str) -> &'static str {
    const KNOWN: &[&str] = &["42000", "42S02", "22000", "57014", "08003", "XX000", "02000", "42501", "53200"];
    KNOWN.iter().find(|k| **k == state).copied().unwrap_or("XX000")
}

impl super::Gateway {
    /// The entry of query `query_id` of `account_id` on this replica (none
    /// for another account's: T05).
    fn running_of(&self, account_id: &str, query_id: &str) -> Option<Arc<Running>> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.get(query_id).filter(|r| r.account_id == account_id).cloned()
    }

    fn running_here(&self, query_id: &str) -> bool {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).get(query_id).is_some_and(|r| r.current().is_none())
    }
}

/// The work of a query task: runs the statement and produces its outcome.
pub(super) type Work = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>;

/// Starts a statement on this replica (`work`, given the query's
/// cancellation token) and records its handle.
#[allow(clippy::too_many_arguments)]
pub(super) async fn start(
    state: &AppState,
    caller: &Caller,
    query_id: &str,
    sql: String,
    format: Format,
    request_id: Option<String>,
    async_exec: bool,
    work: impl FnOnce(CancellationToken) -> Work,
) -> Result<Arc<Running>, GwError> {
    let gateway = state.gateway();
    let (tx, rx) = watch::channel(None);
    let cancel = CancellationToken::new();
    let running = Arc::new(Running {
        account_id: caller.account_id.clone(),
        session_key: caller.session_key(),
        request_id: request_id.clone(),
        format,
        async_exec,
        started_ms: crate::clock::now_ms(),
        sql_text: sql.clone(),
        cancel: cancel.clone(),
        outcome: rx,
        finished_at: OnceLock::new(),
    });
    gateway.running.lock().unwrap_or_else(|e| e.into_inner()).insert(query_id, running.clone());
    let handle = NewGatewayQuery {
        id: query_id.to_owned(),
        account_id: caller.account_id.clone(),
        session_id: caller.session_key(),
        subject: caller.subject.clone(),
        request_id,
        sql_text: sql.clone(),
        result_format: format.as_str().to_owned(),
        replica: gateway.replica().to_owned(),
        started_at: running.started_ms,
    };
    // An asynchronous query's handle is in the store before its id is
    // returned, for any replica to answer the polls that follow.
    if async_exec && let Err(error) = state.store().insert_gateway_query(&handle).await {
        gateway.running.lock().unwrap_or_else(|e| e.into_inner()).remove(query_id);
        return Err(error.into());
    }

    let task_state = state.clone();
    let task_caller = caller.clone();
    let task_running = running.clone();
    // Another replica asks to abort a query through its record in the
    // store, so only a recorded query is watched.
    let watch_aborts = {
        let (state, account_id, query_id, cancel) =
            (state.clone(), caller.account_id.clone(), query_id.to_owned(), cancel.clone());
        move || spawn_abort_watcher(state, account_id, query_id, cancel)
    };
    // Run in this task (a panic caught here, not a task of its own to hand
    // the outcome back from).
    let work = work(cancel);
    tokio::spawn(async move {
        let (state, caller) = (task_state, task_caller);
        let mut work = std::pin::pin!(futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(work)));
        // A synchronous query is recorded only once it has run for a while:
        // before that no client polls it, and one that ends sooner is
        // recorded whole, with its outcome, in a group (`history`).
        let mut recorded = async_exec;
        let mut watcher = None;
        let joined = if recorded {
            watcher = Some(watch_aborts());
            work.await
        } else {
            tokio::select! {
                joined = &mut work => joined,
                _ = tokio::time::sleep(RECORD_RUNNING_AFTER) => {
                    match state.store().insert_gateway_query(&handle).await {
                        Ok(()) => {
                            recorded = true;
                            watcher = Some(watch_aborts());
                        }
                        Err(error) => tracing::warn!(query = %handle.id, %error, "recording a running query failed"),
                    }
                    work.await
                }
            }
        };
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        let outcome = joined.unwrap_or_else(|_| Err(GwError::internal("running the statement panicked")));
        let unrecorded = (!recorded).then_some(&handle);
        finish(&state, &caller, &handle.id, &task_running, outcome, tx, unrecorded).await;
    });
    Ok(running)
}

/// The engine session a statement of `caller` runs in: the gateway
/// session's, or a transient one for a bearer-token caller.
pub(super) async fn statement_session(state: &AppState, caller: &Caller) -> Result<(SessionId, bool), GwError> {
    let gateway = state.gateway();
    Ok(match &caller.session {
        Some(s) => (gateway.engine_session(s).await?, false),
        None => (gateway.engine().open_session(&caller.account_id, None, None).await?, true),
    })
}

/// Ends a statement's use of its engine session: closes a transient one,
/// and records the gateway session's database and schema when the
/// statement changed them. Returns them.
pub(super) async fn end_statement(
    state: &AppState,
    caller: &Caller,
    (session, transient): (SessionId, bool),
) -> Result<(Option<String>, Option<String>), GwError> {
    let engine = state.gateway().engine();
    let context = engine.session_context(&caller.account_id, session).unwrap_or((None, None));
    let parameters = engine.session_params(&caller.account_id, session).ok().and_then(|p| p.to_json());
    if transient {
        let _ = engine.close_session(&caller.account_id, session);
    }
    if let Some(s) = &caller.session {
        if s.database_name != context.0 || s.schema_name != context.1 {
            state.store().set_gateway_session_context(&s.id, context.0.as_deref(), context.1.as_deref()).await?;
        }
        // For another replica serving the session to apply (ALTER SESSION).
        if s.parameters != parameters {
            state.store().set_gateway_session_parameters(&s.id, parameters.as_deref()).await?;
        }
    }
    Ok(context)
}

/// Runs the statement (once per row of bindings) with the cancellation
/// token and collects its result.
async fn execute(
    state: AppState,
    caller: Caller,
    sql: String,
    rows: Vec<Vec<Param>>,
    cancel: CancellationToken,
) -> Outcome {
    let engine = state.gateway().engine().clone();
    let opened = statement_session(&state, &caller).await?;
    let session = opened.0;
    // An array binding runs as one statement under one time limit (F06).
    let outcome = match <[_; 1]>::try_from(rows) {
        Ok([params]) => engine.execute(&caller.account_id, session, &sql, params, cancel).await,
        Err(rows) => engine.execute_many(&caller.account_id, session, &sql, rows, cancel).await,
    };
    let context = end_statement(&state, &caller, opened).await;
    let result = outcome?;
    let context = context?;
    let type_id = result.kind.snowflake_statement_type_id();
    let finished =
        Finished::new(&caller.account_id, type_id, result.rows_affected, result.schema, result.batches, context);
    Ok(Arc::new(finished.holding(result.held)))
}

/// Cancels `cancel` when the store says another replica asked to abort.
fn spawn_abort_watcher(
    state: AppState,
    account_id: String,
    query_id: String,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Most statements finish long before anyone could cancel them.
        tokio::time::sleep(Duration::from_millis(500)).await;
        loop {
            if let Ok(Some(row)) = state.store().gateway_query(&account_id, &query_id).await
                && row.status == status::ABORTING
            {
                cancel.cancel();
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// Records the outcome: in memory for waiters, in the store for every
/// replica (status, and the result when small enough).
async fn finish(
    state: &AppState,
    caller: &Caller,
    query_id: &str,
    running: &Running,
    outcome: Outcome,
    tx: watch::Sender<Option<Outcome>>,
    unrecorded: Option<&NewGatewayQuery>,
) {
    let gateway = state.gateway();
    if let Ok(finished) = &outcome
        && finished.kept
    {
        gateway.results.insert(query_id, finished.clone());
    }
    let _ = running.finished_at.set(Instant::now());
    let _ = tx.send(Some(outcome.clone()));
    let (final_status, error, result) = match &outcome {
        Ok(finished) => {
            let cap = if running.async_exec { gateway.config().persist_cap } else { SYNC_PERSIST_CAP };
            let result = finished.persisted(cap).unwrap_or_else(|e| {
                tracing::warn!(query = %query_id, error = %e.message, "result not persisted");
                None
            });
            (status::SUCCESS, None, result)
        }
        Err(error) => {
            let final_status = if error.code == codes::CANCELLED { status::ABORTED } else { status::FAILED };
            let error = QueryError {
                code: error.code.to_owned(),
                message: error.message.clone(),
                sql_state: error.sql_state.unwrap_or("XX000").to_owned(),
            };
            (final_status, Some(error), None)
        }
    };
    match unrecorded {
        // Answered already; written with others that end about now.
        Some(handle) => {
            let record = FinishedGatewayQuery {
                handle: handle.clone(),
                status: final_status,
                error,
                ended_at: crate::clock::now_ms(),
                result,
            };
            gateway.history().record(state.store(), record).await;
        }
        None => {
            let recorded = state
                .store()
                .record_gateway_outcome(query_id, &caller.account_id, final_status, error.as_ref(), result.as_ref())
                .await;
            if let Err(error) = recorded {
                tracing::warn!(query = %query_id, %error, "recording a query's outcome failed");
            }
        }
    }
    let elapsed = crate::clock::now_ms() - running.started_ms;
    match &outcome {
        Ok(f) => {
            tracing::info!(query = %query_id, account = %caller.account_id, rows = f.total, elapsed_ms = elapsed, "query finished")
        }
        Err(e) => {
            tracing::info!(query = %query_id, account = %caller.account_id, code = e.code, elapsed_ms = elapsed, "query failed")
        }
    }
}

/// A finished result of the caller's account by query id, waiting up to
/// `wait` for a running query.
async fn load_result(
    state: &AppState,
    caller: &Caller,
    query_id: &str,
    wait: Duration,
) -> Result<Arc<Finished>, GwError> {
    let running = state.gateway().running_of(&caller.account_id, query_id);
    if let Some(running) = running {
        return match running.wait(wait).await {
            Some(outcome) => outcome.map_err(|e| e.query(query_id)),
            None => Err(GwError::new("000709", format!("Statement {query_id} is still running")).state("02000")),
        };
    }
    if let Some(r) = state.gateway().results.get(&caller.account_id, query_id) {
        return Ok(r);
    }
    let Some(row) = state.store().gateway_query(&caller.account_id, query_id).await? else {
        return Err(not_found(query_id));
    };
    match remote_outcome(state, caller, row, wait).await? {
        Some(outcome) => outcome,
        None => Err(GwError::new("000709", format!("Statement {query_id} is still running")).state("02000")),
    }
}

/// `GET /queries/{id}/result`: the query-request response of a query,
/// long-polling while it runs.
pub async fn result(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(query_id): Path<String>,
) -> Result<Response, GwError> {
    let caller = authorize(&state, &headers).await?;
    let query_id = parse_query_id(&query_id)?;
    if let Some(r) = state.gateway().results.get(&caller.account_id, &query_id) {
        // The format the query was submitted with: from its entry here, or
        // from the store once the entry has expired.
        let format = match state.gateway().running_of(&caller.account_id, &query_id) {
            Some(running) => running.format,
            None => state
                .store()
                .gateway_query(&caller.account_id, &query_id)
                .await?
                .map_or(Format::Json, |row| Format::parse(&row.handle.result_format)),
        };
        return respond(&state, &query_id, Ok(r), format);
    }
    answer(&state, &caller, &query_id, false, state.gateway().config().poll_wait).await
}

fn parse_query_id(raw: &str) -> Result<String, GwError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| GwError::new("000709", format!("Statement {raw} not found: query ids are UUIDs")).state("02000"))
}

/// `GET /monitoring/queries/{id}`.
pub async fn monitoring(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(query_id): Path<String>,
) -> Result<Response, GwError> {
    let caller = authorize(&state, &headers).await?;
    let query_id = parse_query_id(&query_id)?;
    let running = state.gateway().running_of(&caller.account_id, &query_id);
    let entry = match running {
        Some(r) => {
            let (status_name, code, message) = match r.current() {
                None if r.cancel.is_cancelled() => (status::ABORTING, String::new(), String::new()),
                None => (status::RUNNING, String::new(), String::new()),
                Some(Ok(_)) => (status::SUCCESS, String::new(), String::new()),
                Some(Err(e)) if e.code == codes::CANCELLED => (status::ABORTED, e.code.to_owned(), e.message),
                Some(Err(e)) => (status::FAILED, e.code.to_owned(), e.message),
            };
            QueryStatusEntry {
                id: query_id.clone(),
                status: status_name.to_owned(),
                sql_text: r.sql_text.clone(),
                error_code: code,
                error_message: message,
                start_time: r.started_ms,
                end_time: 0,
            }
        }
        None => match state.store().gateway_query(&caller.account_id, &query_id).await? {
            Some(row) => {
                let status_name = if row.handle.replica == state.gateway().replica()
                    && matches!(row.status.as_str(), status::RUNNING | status::ABORTING)
                {
                    // Ours, not running in memory: interrupted by a restart.
                    status::DISCONNECTED.to_owned()
                } else {
                    row.status.clone()
                };
                let failed = matches!(status_name.as_str(), status::DISCONNECTED);
                QueryStatusEntry {
                    id: row.handle.id,
                    status: status_name,
                    sql_text: row.handle.sql_text,
                    error_code: row.error_code.unwrap_or_else(|| if failed { "000603".into() } else { String::new() }),
                    error_message: row.error_message.unwrap_or_else(|| {
                        if failed { "The query was interrupted by a platform restart".into() } else { String::new() }
                    }),
                    start_time: row.handle.started_at,
                    end_time: row.ended_at.unwrap_or(0),
                }
            }
            None => return Ok(ok(MonitoringData { queries: Vec::new() })),
        },
    };
    Ok(ok(MonitoringData { queries: vec![entry] }))
}

/// Cancels query `query_id` of the caller's account, here or through the
/// store on the replica running it. False when it is not running.
async fn cancel(state: &AppState, caller: &Caller, query_id: &str) -> Result<bool, GwError> {
    let running = state.gateway().running_of(&caller.account_id, query_id);
    if let Some(r) = running {
        if r.current().is_some() {
            return Ok(false);
        }
        r.cancel.cancel();
        tracing::info!(query = %query_id, account = %caller.account_id, "query cancelled");
        return Ok(true);
    }
    Ok(state.store().request_gateway_abort(&caller.account_id, query_id).await?)
}

/// `POST /queries/v1/abort-request`: cancels the query the session
/// submitted with `requestId`.
pub async fn abort_by_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    GwJson(body): GwJson<AbortRequest>,
) -> Result<Response, GwError> {
    let caller = authorize(&state, &headers).await?;
    if let Some(query_id) = find_by_request(&state, &caller, &body.request_id).await? {
        cancel(&state, &caller, &query_id).await?;
    }
    Ok(ok(Value::Null))
}

/// `POST /queries/{id}/abort-request`.
pub async fn abort_by_id(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(query_id): Path<String>,
) -> Result<Response, GwError> {
    let caller = authorize(&state, &headers).await?;
    let query_id = parse_query_id(&query_id)?;
    let running_here = state
        .gateway()
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&query_id)
        .is_some_and(|r| r.account_id == caller.account_id);
    if !running_here && state.store().gateway_query(&caller.account_id, &query_id).await?.is_none() {
        return Err(not_found(&query_id));
    }
    let cancelled = cancel(&state, &caller, &query_id).await?;
    Ok(ok(json!({ "cancelled": cancelled })))
}

/// Query parameters of a chunk download.
#[derive(Debug, serde::Deserialize)]
pub struct ChunkQuery {
    /// `json` or `arrow`.
    #[serde(default)]
    pub format: Option<String>,
}

/// `GET /gateway/chunks/{id}/{n}`: one chunk of a large result,
/// authenticated by the chunk token the query response listed in
/// `chunkHeaders` (chunk requests carry no session token).
pub async fn chunk(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((query_id, n)): Path<(String, usize)>,
    Query(query): Query<ChunkQuery>,
) -> Response {
    let presented = headers.get(CHUNK_TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(result) = state.gateway().results.get_for_chunk(&query_id) else {
        return (StatusCode::NOT_FOUND, "no such result chunk (results are kept for a limited time)").into_response();
    };
    if presented.is_empty() || !crate::crypto::ct_eq(presented.as_bytes(), result.chunk_token.as_bytes()) {
        return (StatusCode::NOT_FOUND, "no such result chunk (results are kept for a limited time)").into_response();
    }
    let format = Format::parse(query.format.as_deref().unwrap_or("json"));
    let encoded = tokio::task::spawn_blocking(move || result.chunk(n, format)).await;
    match encoded {
        Ok(Ok(Some(body))) => {
            let content_type = match format {
                Format::Arrow => "application/vnd.apache.arrow.stream",
                Format::Json => "application/json",
            };
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "no such result chunk").into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.message).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `POST /telemetry/send`: accepted and dropped (the gateway never asks
/// clients for telemetry; older connectors may send it anyway).
pub async fn telemetry() -> Response {
    ok(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_scan_is_recognised_only_in_the_connectors_exact_form() {
        let id = "01b5f0a2-0000-4a3b-0000-00000000000a";
        assert_eq!(result_scan_target(&format!("select * from table(result_scan('{id}'))")).as_deref(), Some(id));
        assert_eq!(
            result_scan_target(&format!("SELECT *\n FROM TABLE ( RESULT_SCAN('{}') );", id.to_uppercase())).as_deref(),
            Some(id)
        );
        assert_eq!(result_scan_target("select * from table(result_scan('x'))"), None);
        assert_eq!(result_scan_target(&format!("select a from table(result_scan('{id}'))")), None);
    }

    fn binding_rows_of(bindings: Option<BTreeMap<String, Binding>>) -> Result<Vec<Vec<Param>>, GwError> {
        binding_rows(bindings, 1_000)
    }

    #[test]
    fn array_bindings_past_the_cap_are_refused() {
        let values = json!((0..1_001).map(|i| i.to_string()).collect::<Vec<_>>());
        let e = binding_rows(Some(BTreeMap::from([("1".to_owned(), binding("FIXED", values))])), 1_000).unwrap_err();
        assert_eq!(e.code, "002049");
        assert!(e.message.contains("1001 rows"), "{}", e.message);
    }

    fn binding(type_name: &str, value: Value) -> Binding {
        Binding { type_name: type_name.into(), value }
    }

    #[test]
    fn scalar_and_array_bindings_become_rows_in_position_order() {
        let one = binding_rows_of(Some(BTreeMap::from([
            ("2".to_owned(), binding("TEXT", json!("x"))),
            ("1".to_owned(), binding("FIXED", json!("42"))),
        ])))
        .unwrap();
        assert_eq!(one, vec![vec![Param::new("FIXED", Some("42".into())), Param::new("TEXT", Some("x".into()))]]);

        let many = binding_rows_of(Some(BTreeMap::from([
            ("1".to_owned(), binding("FIXED", json!(["1", "2", null]))),
            ("2".to_owned(), binding("TEXT", json!(["a", "b", "c"]))),
        ])))
        .unwrap();
        assert_eq!(many.len(), 3);
        assert_eq!(many[2], vec![Param::new("FIXED", None), Param::new("TEXT", Some("c".into()))]);

        assert!(binding_rows_of(Some(BTreeMap::from([("2".to_owned(), binding("TEXT", json!("x")))]))).is_err());
        assert!(
            binding_rows_of(Some(BTreeMap::from([
                ("1".to_owned(), binding("FIXED", json!(["1", "2"]))),
                ("2".to_owned(), binding("TEXT", json!(["a"]))),
            ])))
            .is_err()
        );
        assert_eq!(binding_rows_of(None).unwrap(), vec![Vec::<Param>::new()]);
    }
}
