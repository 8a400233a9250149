//! Running a statement on this replica: its task (with the engine session
//! of its gateway session, one deadline for a whole array binding: F06),
//! its record in the store (at once for an asynchronous query, after a
//! moment for a synchronous one), a watcher for cancellations asked
//! through another replica, and its outcome, kept in memory for waiters
//! and recorded for every replica.

use std::sync::Arc;
use std::time::Duration;

use komodo_protocol::gateway::codes;
use komodo_warehouse::{CancellationToken, Param, SessionId};
use tokio::sync::watch;

use crate::gateway::caller::Caller;
use crate::queries::error::GwError;
use crate::queries::results::{Finished, Format};
use crate::queries::running::{Outcome, Running};
use crate::state::AppState;
use crate::store::gateway::{FinishedGatewayQuery, NewGatewayQuery, QueryError, status};

/// Results of synchronous queries up to this size are persisted for other
/// replicas (`result_scan`, result polls through another replica).
const SYNC_PERSIST_CAP: usize = 1 << 20;
/// How long a synchronous query runs before its handle is recorded (the
/// abort watcher first looks for it after 500 ms).
const RECORD_RUNNING_AFTER: Duration = Duration::from_millis(200);

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
    let (running, tx) = Running::start(
        caller.account_id.clone(),
        caller.session_key(),
        request_id.clone(),
        format,
        async_exec,
        sql.clone(),
    );
    let cancel = running.cancel.clone();
    let running = Arc::new(running);
    gateway.register_running(query_id, running.clone());
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
        upstream_id: None,
    };
    // An asynchronous query's handle is in the store before its id is
    // returned, for any replica to answer the polls that follow.
    if async_exec && let Err(error) = state.store().insert_gateway_query(&handle).await {
        gateway.forget_running(query_id);
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
pub(crate) async fn statement_session(state: &AppState, caller: &Caller) -> Result<(SessionId, bool), GwError> {
    if crate::gateway::upstream::backend(state, &caller.account_id).await?.is_some() {
        // Loads and stage transfers: the embedded warehouse's own.
        return Err(GwError::new(
            "003001",
            "This account's warehouse is an upstream Snowflake account: Komodo's file loads and stage transfers \
             are not relayed there. Load data with INSERT (bindings) or COPY from an external stage.",
        )
        .state("0A000"));
    }
    let gateway = state.gateway();
    let opened = match &caller.session {
        Some(s) => (gateway.engine_session(s).await?, false),
        None => (gateway.engine().open_session(&caller.account_id, None, None).await?, true),
    };
    // The role as it stands now: a reader's statements only read.
    gateway.engine().set_access(&caller.account_id, opened.0, caller.access())?;
    // Whose `@~` the statement's stages mean.
    gateway.engine().set_user(&caller.account_id, opened.0, &caller.subject)?;
    Ok(opened)
}

/// Ends a statement's use of its engine session: closes a transient one,
/// and records the gateway session's database and schema when the
/// statement changed them. Returns them.
pub(crate) async fn end_statement(
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
pub(super) async fn execute(
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

/// Describes the statement (`describeOnly`): its result's columns and no
/// rows; the statement is planned, never run, so nothing changes.
pub(super) async fn describe(state: AppState, caller: Caller, sql: String, params: Vec<Param>) -> Outcome {
    let engine = state.gateway().engine().clone();
    let opened = statement_session(&state, &caller).await?;
    let outcome = engine.describe(&caller.account_id, opened.0, &sql, params).await;
    let context = end_statement(&state, &caller, opened).await;
    let result = outcome?;
    let context = context?;
    let type_id = result.kind.snowflake_statement_type_id();
    Ok(Arc::new(Finished::new(&caller.account_id, type_id, None, result.schema, Vec::new(), context)))
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
        gateway.results().insert(query_id, finished.clone());
    }
    running.mark_finished();
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
