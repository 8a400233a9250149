//! Answers about a query already submitted: its result, or `333333` /
//! `333334` while it runs; from this replica's memory, or from the store
//! for a query another replica runs (or this one ran before a restart).
//! Only the caller's account's queries are ever found (T05).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::Response;
use komodo_protocol::gateway::{QueryResponseData, codes};

use crate::gateway::caller::Caller;
use crate::gateway::wire::{ok, ok_with_code};
use crate::queries::error::GwError;
use crate::queries::results::{Finished, Format};
use crate::queries::running::Outcome;
use crate::state::AppState;
use crate::store::gateway::{GatewayQueryRow, status};

/// The answer saying that query `query_id` still runs (`code` is
/// `333333`, or `333334` for an asynchronous submission).
pub(super) fn in_progress(query_id: &str, code: &'static str) -> Response {
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

/// The answer for a finished query: its result, or its error.
pub(super) fn respond(state: &AppState, query_id: &str, outcome: Outcome, format: Format) -> Result<Response, GwError> {
    match outcome {
        Ok(finished) => Ok(ok(finished.response(query_id, format, state.issuer())?)),
        Err(error) => Err(error.query(query_id)),
    }
}

/// A query submitted earlier by the same session with `request_id`.
pub(super) async fn find_by_request(
    state: &AppState,
    caller: &Caller,
    request_id: &str,
) -> Result<Option<String>, GwError> {
    if let Some(local) = find_running(state, caller, request_id) {
        return Ok(Some(local));
    }
    Ok(state.store().gateway_query_by_request(&caller.session_key(), request_id).await?.map(|row| row.handle.id))
}

/// A query this replica runs (or ran recently) for the same session with
/// `request_id`.
pub(super) fn find_running(state: &AppState, caller: &Caller, request_id: &str) -> Option<String> {
    state.gateway().running_by_request(&caller.session_key(), request_id)
}

/// Answers for an existing query: its result, or `333333`/`333334` while it runs.
pub(super) async fn answer(
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

/// "Statement not found" for `query_id`.
pub(super) fn not_found(query_id: &str) -> GwError {
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
                if let Some(r) = state.gateway().results().get(&caller.account_id, &row.handle.id) {
                    return Ok(Some(Ok(r)));
                }
                return match state.store().gateway_result(&caller.account_id, &row.handle.id).await? {
                    Some(stored) => {
                        let finished = Arc::new(Finished::from_persisted(&caller.account_id, &stored)?);
                        state.gateway().results().insert(&row.handle.id, finished.clone());
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

/// A finished result of the caller's account by query id, waiting up to
/// `wait` for a running query.
pub(super) async fn load_result(
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
    if let Some(r) = state.gateway().results().get(&caller.account_id, query_id) {
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

/// A query id from a URL: a UUID, else "not found".
pub(super) fn parse_query_id(raw: &str) -> Result<String, GwError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| GwError::new("000709", format!("Statement {raw} not found: query ids are UUIDs")).state("02000"))
}
