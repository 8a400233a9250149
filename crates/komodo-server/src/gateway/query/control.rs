//! Watching and stopping queries: `GET /monitoring/queries/{id}` and the
//! two abort requests, for queries running here or, through the store, on
//! another replica (F03: an aborted statement stops using CPU).

use axum::extract::{Path, State};
use axum::response::Response;
use komodo_protocol::gateway::{AbortRequest, MonitoringData, QueryStatusEntry, codes};
use serde_json::{Value, json};

use super::answer::{find_by_request, not_found, parse_query_id};
use crate::gateway::body::GwJson;
use crate::gateway::caller::Caller;
use crate::gateway::wire::ok;
use crate::queries::error::GwError;
use crate::state::AppState;
use crate::store::gateway::status;

/// `GET /monitoring/queries/{id}`.
pub async fn monitoring(
    State(state): State<AppState>,
    Path(query_id): Path<String>,
    caller: Caller,
) -> Result<Response, GwError> {
    let query_id = parse_query_id(&query_id)?;
    if let Some(client) = crate::gateway::upstream::backend(&state, &caller.account_id).await? {
        return crate::gateway::upstream::monitoring(&state, &caller, &client, &query_id).await;
    }
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
    caller: Caller,
    GwJson(body): GwJson<AbortRequest>,
) -> Result<Response, GwError> {
    let upstream = crate::gateway::upstream::backend(&state, &caller.account_id).await?;
    let recorded = find_by_request(&state, &caller, &body.request_id).await?;
    match &upstream {
        Some(client) => {
            crate::gateway::upstream::abort_by_request(&state, &caller, client, &body.request_id, recorded).await?;
        }
        None => {
            if let Some(query_id) = recorded {
                cancel(&state, &caller, &query_id).await?;
            }
        }
    }
    Ok(ok(Value::Null))
}

/// `POST /queries/{id}/abort-request`.
pub async fn abort_by_id(
    State(state): State<AppState>,
    Path(query_id): Path<String>,
    caller: Caller,
) -> Result<Response, GwError> {
    let query_id = parse_query_id(&query_id)?;
    if let Some(client) = crate::gateway::upstream::backend(&state, &caller.account_id).await? {
        return crate::gateway::upstream::abort(&state, &caller, &client, &query_id).await;
    }
    let running_here = state.gateway().running_of(&caller.account_id, &query_id).is_some();
    if !running_here && state.store().gateway_query(&caller.account_id, &query_id).await?.is_none() {
        return Err(not_found(&query_id));
    }
    let cancelled = cancel(&state, &caller, &query_id).await?;
    Ok(ok(json!({ "cancelled": cancelled })))
}
