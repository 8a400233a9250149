//! Queries: submit (sync or async), results and chunk downloads; watching
//! and stopping them ([`control`]); what a request asks for ([`request`]);
//! answers about a submitted query ([`answer`]); running a statement
//! ([`exec`]); and streamed results ([`stream`]).

pub mod answer;
pub mod control;
pub mod exec;
pub mod request;
pub mod stream;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use komodo_protocol::gateway::{Binding, QueryRequest, codes};
use serde_json::Value;

pub use super::caller::RequestIdQuery;
pub use control::{abort_by_id, abort_by_request, monitoring};
pub use request::{ChunkQuery, binding_rows, result_scan_target};

use super::body::GwJson;
use super::caller::{Caller, Submitter};
use super::wire::ok;
use crate::queries::error::GwError;
use crate::queries::results::{CHUNK_TOKEN_HEADER, Finished, Format};
use crate::state::AppState;
use answer::{answer, find_running, in_progress, load_result, parse_query_id, respond};
use exec::{Work, describe, execute, start};
use request::requested_format;

/// `POST /queries/v1/query-request`.
pub async fn query_request(
    State(state): State<AppState>,
    Submitter { caller, request_id, prior: stored }: Submitter,
    GwJson(body): GwJson<QueryRequest>,
) -> Result<Response, GwError> {
    let gateway = state.gateway();
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
    if let Some(client) = super::upstream::backend(&state, &caller.account_id).await? {
        return super::upstream::query_request(&state, &caller, &client, request_id, prior, body).await;
    }
    let format = requested_format(&body.parameters, caller.session.as_ref());
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
        gateway.results().insert(&query_id, copy.clone());
        return respond(&state, &query_id, Ok(copy), format);
    }

    // PUT and GET from a Snowflake connector: a local stage's answer.
    // (Bindings are read as text only for a PUT or GET, never for the array
    // bindings of other statements.)
    let transfer = komodo_protocol::transfer::parse(&body.sql_text).map(|parsed| match &body.bindings {
        Some(_) => {
            komodo_protocol::transfer::parse_bound(&body.sql_text, &transfer_values(&body.bindings)).unwrap_or(parsed)
        }
        None => parsed,
    });
    if let Some(transfer) = transfer {
        return super::stage::connector_transfer(&state, &caller, transfer).await;
    }
    if body.sql_text.trim().is_empty() {
        return Err(GwError::new(codes::COMPILATION, "SQL compilation error:\nEmpty SQL statement.").state("42000"));
    }
    let mut rows = binding_rows(body.bindings, gateway.config().max_binding_rows)?;
    let streams = !body.describe_only && !body.async_exec && rows.len() == 1 && stream::wanted(&body.parameters);
    if format == Format::Arrow && streams {
        let params = rows.pop().unwrap_or_default();
        return stream::stream_query(&state, &caller, query_id, body.sql_text, params, request_id).await;
    }
    let work = {
        let (state, caller, sql) = (state.clone(), caller.clone(), body.sql_text.clone());
        let describe_only = body.describe_only;
        move |cancel| -> Work {
            if describe_only {
                // `cursor.describe()`: the result's columns, the statement
                // never run.
                Box::pin(describe(state, caller, sql, rows.into_iter().next().unwrap_or_default()))
            } else {
                Box::pin(execute(state, caller, sql, rows, cancel))
            }
        }
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

/// `GET /queries/{id}/result`: the query-request response of a query,
/// long-polling while it runs.
pub async fn result(
    State(state): State<AppState>,
    Path(query_id): Path<String>,
    caller: Caller,
) -> Result<Response, GwError> {
    let query_id = parse_query_id(&query_id)?;
    if let Some(client) = super::upstream::backend(&state, &caller.account_id).await? {
        return super::upstream::result(&state, &caller, &client, &query_id).await;
    }
    if let Some(r) = state.gateway().results().get(&caller.account_id, &query_id) {
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

/// `GET /gateway/chunks/{id}/{n}`: one chunk of a large result,
/// authenticated by the chunk token the query response listed in
/// `chunkHeaders` (chunk requests carry no session token).
pub async fn chunk(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((query_id, n)): Path<(String, usize)>,
    Query(query): Query<ChunkQuery>,
) -> Response {
    if let Some(relayed) = super::upstream::chunk(&state, &headers, &query_id, n).await {
        return relayed;
    }
    let presented = headers.get(CHUNK_TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(result) = state.gateway().results().get_for_chunk(&query_id) else {
        return (StatusCode::NOT_FOUND, "no such result chunk (results are kept for a limited time)").into_response();
    };
    if presented.is_empty() || !crate::crypto::ct_eq(presented.as_bytes(), result.chunk_token.as_bytes()) {
        return (StatusCode::NOT_FOUND, "no such result chunk (results are kept for a limited time)").into_response();
    }
    let format = Format::parse(query.format.as_deref().unwrap_or("json"));
    let encoded = tokio::task::spawn_blocking(move || result.chunk(n, format)).await;
    match encoded {
        Ok(Ok(Some(body))) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
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

/// The text of each binding, in order (a `PUT`'s bound stage).
fn transfer_values(bindings: &Option<std::collections::BTreeMap<String, Binding>>) -> Vec<String> {
    let Some(bindings) = bindings else { return Vec::new() };
    let mut ordered: Vec<(u64, &Binding)> =
        bindings.iter().filter_map(|(k, b)| k.parse::<u64>().ok().map(|k| (k, b))).collect();
    ordered.sort_by_key(|(k, _)| *k);
    ordered
        .into_iter()
        .map(|(_, b)| match &b.value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect()
}
