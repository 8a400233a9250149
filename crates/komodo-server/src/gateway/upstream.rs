//! The gateway in front of an upstream Snowflake account: for an account
//! whose warehouse is `snowflake` (`komodo-server admin set-warehouse`),
//! each gateway session has an upstream session, opened at its login with
//! the account's key pair, and its statements, result polls, monitoring and
//! aborts go there, after the policy ([`crate::upstream::policy`]), with
//! answers relayed under the gateway's own query ids and chunk secret
//! ([`crate::upstream::relay`]).
//!
//! What a client sees is the gateway's: its session and master tokens
//! (renewed on their own schedule; the upstream session's are renewed by
//! the gateway when the upstream says they expired), its query ids, its
//! chunk URLs. The upstream's tokens, JWTs, query ids and chunk locations
//! stay here. Every statement is recorded with its upstream id, so that any
//! replica, or this one after a restart, answers its polls.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use komodo_protocol::gateway::{Envelope, LoginRequestData, QueryRequest, codes};
use serde_json::{Value, json};

use super::caller::Caller;
use crate::queries::error::GwError;
use crate::queries::results::CHUNK_TOKEN_HEADER;
use crate::state::AppState;
use crate::store::gateway::{FinishedGatewayQuery, GatewayQueryRow, NewGatewayQuery, QueryError, status};
use crate::upstream::client::{Call, LoginContext, UpstreamClient};
use crate::upstream::policy;
use crate::upstream::registry::Slot;
use crate::upstream::relay::{
    RawData, Rewrite, child_ids, query_id_mentions, raw, raw_data, rewrite_monitoring_data, rewrite_query_data,
    set_child_ids, text,
};
use crate::upstream::{UpstreamFailure, client::UpstreamError};

/// What `replica` says of a query that runs upstream.
const UPSTREAM_REPLICA: &str = "upstream";

/// The client of the account's upstream, or `None` for the embedded
/// warehouse.
pub async fn backend(state: &AppState, account_id: &str) -> Result<Option<Arc<UpstreamClient>>, GwError> {
    state.upstreams().backend(account_id).await.map_err(failure)
}

/// A failure to use the upstream as Snowflake's error envelope: the
/// connection-failure SQLSTATE, a message that says what happened (never a
/// token, JWT or URL).
pub fn failure(error: UpstreamFailure) -> GwError {
    let message = match &error {
        UpstreamFailure::Call(UpstreamError::Refused { code, message }) => format!(
            "The account's Snowflake warehouse refused the platform's login ({code}: {message}). An admin of the \
             platform should check `komodo-server admin show-warehouse` and the Snowflake user's public key."
        ),
        other => format!("{other}. Try again shortly; if it persists, tell the platform's operators."),
    };
    tracing::warn!(error = %error, "upstream Snowflake call failed");
    GwError::new("000603", message).state("08006")
}

/// The key of a caller's upstream session: its gateway session, or (a
/// bearer-token caller) its principal in the account.
fn slot_key(caller: &Caller) -> String {
    match &caller.session {
        Some(s) => s.id.clone(),
        None => format!("bearer:{}:{}", caller.account_id, caller.subject),
    }
}

/// The session parameters every upstream session of `subject` starts
/// with: the platform's `QUERY_TAG` naming the principal.
fn session_tag(subject: &str) -> serde_json::Map<String, Value> {
    let mut parameters = serde_json::Map::new();
    parameters.insert("QUERY_TAG".into(), Value::String(json!({ "komodo_principal": subject }).to_string()));
    parameters
}

/// Opens the upstream session of a new gateway session (at its login).
/// Returns the upstream's session parameters and where the session starts.
pub async fn open_session(
    state: &AppState,
    client: &Arc<UpstreamClient>,
    session_id: &str,
    account_id: &str,
    subject: &str,
    login: &LoginRequestData,
    start: (Option<String>, Option<String>),
) -> Result<(Vec<komodo_protocol::gateway::NameValue>, Option<komodo_protocol::gateway::SessionInfo>), GwError> {
    let mut parameters = policy::login_parameters(login.session_parameters.as_ref());
    parameters.extend(session_tag(subject));
    let client_app = login.client_app_id.clone().map(|app| (app, login.client_app_version.clone().unwrap_or_default()));
    let context = LoginContext { database: start.0, schema: start.1, parameters, client_app };
    let slot = state.upstreams().slot(session_id, account_id, client, context);
    match state.upstreams().open(&slot).await {
        Ok(opened) => Ok(opened),
        Err(error) => {
            state.upstreams().close(session_id).await;
            Err(failure(error))
        }
    }
}

/// The caller's upstream session slot (made from the gateway session's
/// stored context when this replica holds none).
fn slot_of(state: &AppState, caller: &Caller, client: &Arc<UpstreamClient>) -> Arc<Slot> {
    let context = LoginContext {
        database: caller.session.as_ref().and_then(|s| s.database_name.clone()),
        schema: caller.session.as_ref().and_then(|s| s.schema_name.clone()),
        parameters: session_tag(&caller.subject),
        client_app: caller.session.as_ref().and_then(|s| s.client_app.clone()).map(|a| (a, String::new())),
    };
    state.upstreams().slot(&slot_key(caller), &caller.account_id, client, context)
}

/// `POST /queries/v1/query-request` for an upstream account.
pub async fn query_request(
    state: &AppState,
    caller: &Caller,
    client: &Arc<UpstreamClient>,
    request_id: Option<String>,
    prior: Option<String>,
    mut body: QueryRequest,
) -> Result<Response, GwError> {
    if let Some(existing) = prior {
        // A retry: the answer of the first submission.
        return result(state, caller, client, &existing).await;
    }
    if body.sql_text.trim().is_empty() {
        return Err(GwError::new(codes::COMPILATION, "SQL compilation error:\nEmpty SQL statement.").state("42000"));
    }
    if komodo_protocol::transfer::parse(&body.sql_text).is_some() {
        return Err(GwError::new(
            "003001",
            "PUT and GET are not available on this account: its warehouse is an upstream Snowflake account, whose \
             stages the gateway does not relay. Load data with INSERT (bindings) or COPY from an external stage.",
        )
        .state("0A000"));
    }
    policy::check_statement(&body.sql_text, caller.read_only).map_err(refused)?;
    super::query::request::binding_rows(body.bindings.clone(), state.gateway().config().max_binding_rows)?;
    let query_id = uuid::Uuid::new_v4().to_string();
    let tag = policy::query_tag(&caller.subject, &query_id, request_id.as_deref());
    body.parameters = statement_parameters(state, &body.parameters, &tag)?;
    let sql_text = body.sql_text.clone();
    body.sql_text = upstream_ids_in(state, caller, &body.sql_text).await?;
    let request = serde_json::to_value(&body).map_err(GwError::internal)?;

    let slot = slot_of(state, caller, client);
    let started_at = crate::clock::now_ms();
    let in_flight =
        request_id.as_deref().map(|rid| state.upstreams().start_in_flight(&caller.session_key(), rid, &query_id));
    let envelope = call(state, &slot, &query_id, Call::Query { body: &request, request_id: &query_id }).await?;
    let handle = NewGatewayQuery {
        id: query_id.clone(),
        account_id: caller.account_id.clone(),
        session_id: caller.session_key(),
        subject: caller.subject.clone(),
        request_id,
        sql_text,
        result_format: "upstream".into(),
        replica: UPSTREAM_REPLICA.into(),
        started_at,
        upstream_id: upstream_id_of(&envelope),
    };
    let mut envelope = envelope;
    record_children(state, &handle, &mut envelope).await;
    if is_running(&envelope) {
        // Its handle is in the store before its id is returned, for any
        // replica to answer the polls that follow.
        state.store().insert_gateway_query(&handle).await?;
    } else {
        let (final_status, error) = outcome_of(&envelope);
        state.gateway().history().record(state.store(), finished(handle, final_status, error)).await;
        note_context(state, caller, &envelope).await?;
    }
    drop(in_flight);
    Ok(relay(state, &slot, &query_id, envelope))
}

/// The statements of a multi-statement request (`resultIds`): each gets a
/// gateway id and a record with its upstream id, and the answer lists the
/// gateway's ids, so that clients fetch each statement's result from the
/// gateway as from Snowflake.
async fn record_children(state: &AppState, parent: &NewGatewayQuery, envelope: &mut Envelope<RawData>) {
    let Some(data) = envelope.data.as_mut() else { return };
    let children = child_ids(data);
    if children.is_empty() {
        return;
    }
    let mut ours = Vec::with_capacity(children.len());
    for (n, upstream_id) in children.into_iter().enumerate() {
        let id = uuid::Uuid::new_v4().to_string();
        let handle = NewGatewayQuery {
            id: id.clone(),
            sql_text: format!("statement {} of {}", n + 1, parent.id),
            request_id: None,
            upstream_id: Some(upstream_id),
            ..parent.clone()
        };
        state.gateway().history().record(state.store(), finished(handle, status::SUCCESS, None)).await;
        ours.push(id);
    }
    set_child_ids(data, &ours);
}

/// `GET /queries/{id}/result` for an upstream account's query.
pub async fn result(
    state: &AppState,
    caller: &Caller,
    client: &Arc<UpstreamClient>,
    query_id: &str,
) -> Result<Response, GwError> {
    let (row, slot, upstream_id) = forwarded_in(state, caller, client, query_id).await?;
    let envelope = match row.status.as_str() {
        status::RUNNING | status::ABORTING => call(state, &slot, query_id, Call::Result(&upstream_id)).await?,
        // A finished query's result, as the connectors fetch it again: by
        // RESULT_SCAN of its id (the upstream keeps results for a day).
        status::SUCCESS => {
            if !upstream_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(not_found(query_id));
            }
            let tag = policy::query_tag(&caller.subject, query_id, None);
            let body = json!({
                "sqlText": format!("select * from table(result_scan('{upstream_id}'))"),
                "parameters": statement_parameters(state, &serde_json::Map::new(), &tag)?,
            });
            let request_id = uuid::Uuid::new_v4().to_string();
            call(state, &slot, query_id, Call::Query { body: &body, request_id: &request_id }).await?
        }
        // Failed or aborted: the error it ended with.
        _ => Envelope {
            success: false,
            code: Some(row.error_code.clone().unwrap_or_else(|| "000603".into())),
            message: Some(row.error_message.clone().unwrap_or_else(|| "Query failed".into())),
            data: Some(raw_data(&json!({ "sqlState": row.sql_state.clone().unwrap_or_else(|| "XX000".into()) }))),
        },
    };
    if row.status == status::RUNNING && !is_running(&envelope) {
        let (final_status, error) = outcome_of(&envelope);
        state.store().record_gateway_outcome(query_id, &caller.account_id, final_status, error.as_ref(), None).await?;
        note_context(state, caller, &envelope).await?;
    }
    Ok(relay(state, &slot, query_id, envelope))
}

/// `GET /monitoring/queries/{id}` for an upstream account's query.
pub async fn monitoring(
    state: &AppState,
    caller: &Caller,
    client: &Arc<UpstreamClient>,
    query_id: &str,
) -> Result<Response, GwError> {
    let (_, slot, upstream_id) = forwarded_in(state, caller, client, query_id).await?;
    let mut envelope = call(state, &slot, query_id, Call::Monitoring(&upstream_id)).await?;
    if let Some(data) = envelope.data.as_mut() {
        rewrite_monitoring_data(data, query_id);
    }
    Ok(envelope_response(envelope))
}

/// Aborts the statement the caller sent with the client's `request_id`:
/// one still on its way upstream (the client gave up waiting), else a
/// recorded one.
pub async fn abort_by_request(
    state: &AppState,
    caller: &Caller,
    client: &Arc<UpstreamClient>,
    request_id: &str,
    recorded: Option<String>,
) -> Result<(), GwError> {
    if let Some(query_id) = state.upstreams().in_flight(&caller.session_key(), request_id) {
        let slot = slot_of(state, caller, client);
        call(state, &slot, &query_id, Call::Abort(&query_id)).await?;
        tracing::info!(query = %query_id, account = %caller.account_id, "upstream query aborted");
        return Ok(());
    }
    if let Some(query_id) = recorded {
        abort(state, caller, client, &query_id).await?;
    }
    Ok(())
}

/// Aborts an upstream account's query (by the gateway's query id, which
/// is its request id upstream).
pub async fn abort(
    state: &AppState,
    caller: &Caller,
    client: &Arc<UpstreamClient>,
    query_id: &str,
) -> Result<Response, GwError> {
    let (_, slot, _) = forwarded_in(state, caller, client, query_id).await?;
    let envelope = call(state, &slot, query_id, Call::Abort(query_id)).await?;
    if envelope.success {
        state.store().request_gateway_abort(&caller.account_id, query_id).await?;
        tracing::info!(query = %query_id, account = %caller.account_id, "upstream query aborted");
    }
    Ok(envelope_response(Envelope { data: Some(raw_data(&json!({ "cancelled": envelope.success }))), ..envelope }))
}

/// `POST /session/heartbeat`: keeps the upstream session alive too.
pub async fn heartbeat(state: &AppState, caller: &Caller) {
    if let Some(slot) = state.upstreams().held(&slot_key(caller))
        && let Err(error) = state.upstreams().call(&slot, Call::Heartbeat).await
    {
        tracing::debug!(%error, account = %caller.account_id, "upstream heartbeat failed");
    }
}

/// The answer to a chunk download of a relayed result, when `query_id` is
/// one: the upstream's chunk, streamed through.
pub async fn chunk(state: &AppState, headers: &HeaderMap, query_id: &str, n: usize) -> Option<Response> {
    let relayed = state.upstreams().relayed_chunks(query_id)?;
    let presented = headers.get(CHUNK_TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let gone = || (StatusCode::NOT_FOUND, "no such result chunk (results are kept for a limited time)").into_response();
    if presented.is_empty() || !crate::crypto::ct_eq(presented.as_bytes(), relayed.token.as_bytes()) {
        return Some(gone());
    }
    let Some(url) = relayed.sources.urls.get(n) else { return Some(gone()) };
    let upstream = match relayed.client.chunk(url, &relayed.sources.headers).await {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%error, query = %query_id, chunk = n, account = %relayed.account_id, "relaying a chunk failed");
            return Some((StatusCode::BAD_GATEWAY, "the result chunk could not be fetched; try again").into_response());
        }
    };
    // The chunk's type and encoding as the upstream stored it (the
    // connectors inflate a gzip chunk themselves).
    let kept: Vec<_> = [header::CONTENT_TYPE, header::CONTENT_ENCODING]
        .into_iter()
        .filter_map(|name| upstream.headers().get(&name).cloned().map(|value| (name, value)))
        .collect();
    let mut response = axum::body::Body::from_stream(upstream.bytes_stream()).into_response();
    response.headers_mut().extend(kept);
    Some(response)
}

/// A call about `query_id` in `slot`'s upstream session; a failure is
/// Snowflake's error about that query.
async fn call(state: &AppState, slot: &Slot, query_id: &str, call: Call<'_>) -> Result<Envelope<RawData>, GwError> {
    state.upstreams().call(slot, call).await.map_err(|e| failure(e).query(query_id))
}

/// A refusal of the policy as Snowflake's error.
fn refused(r: policy::Refused) -> GwError {
    GwError::new(r.code, r.message).state(r.sql_state)
}

/// The parameters a statement goes upstream with ([`policy::statement_parameters`]
/// with the platform's statement time limit).
fn statement_parameters(
    state: &AppState,
    client: &serde_json::Map<String, Value>,
    tag: &str,
) -> Result<serde_json::Map<String, Value>, GwError> {
    let timeout = state.config().engine.statement_timeout.as_secs().max(1);
    policy::statement_parameters(client, tag, timeout).map_err(refused)
}

fn not_found(query_id: &str) -> GwError {
    GwError::new("000709", format!("Statement {query_id} not found")).state("02000")
}

/// The forwarded query `query_id` of the caller's account, the caller's
/// upstream session, and the query's upstream id.
async fn forwarded_in(
    state: &AppState,
    caller: &Caller,
    client: &Arc<UpstreamClient>,
    query_id: &str,
) -> Result<(GatewayQueryRow, Arc<Slot>, String), GwError> {
    let row = forwarded(state, caller, query_id).await?;
    let upstream_id = row.handle.upstream_id.clone().unwrap_or_default();
    Ok((row, slot_of(state, caller, client), upstream_id))
}

/// The query, forwarded by the gateway, of the caller's account.
async fn forwarded(state: &AppState, caller: &Caller, query_id: &str) -> Result<GatewayQueryRow, GwError> {
    let mut row = state.store().gateway_query(&caller.account_id, query_id).await?;
    if row.is_none() {
        // A quick statement's record may still wait for its group.
        state.gateway().history().flush().await;
        row = state.store().gateway_query(&caller.account_id, query_id).await?;
    }
    match row {
        Some(row) if row.handle.upstream_id.is_some() => Ok(row),
        _ => Err(not_found(query_id)),
    }
}

/// The statement with the gateway's query ids it mentions (`RESULT_SCAN`,
/// `SYSTEM$CANCEL_QUERY`) replaced by their upstream ids; ids that are not
/// the account's forwarded queries are left as written.
async fn upstream_ids_in(state: &AppState, caller: &Caller, sql: &str) -> Result<String, GwError> {
    let mentions = query_id_mentions(sql);
    if mentions.is_empty() {
        return Ok(sql.to_owned());
    }
    let mut out = String::with_capacity(sql.len());
    let mut from = 0;
    for (range, id) in mentions {
        let Ok(row) = forwarded(state, caller, &id.to_ascii_lowercase()).await else { continue };
        out.push_str(&sql[from..range.start]);
        out.push_str(row.handle.upstream_id.as_deref().unwrap_or(id));
        from = range.end;
    }
    out.push_str(&sql[from..]);
    Ok(out)
}

fn upstream_id_of(envelope: &Envelope<RawData>) -> Option<String> {
    envelope.data.as_ref().and_then(|d| text(d, "queryId"))
}

fn is_running(envelope: &Envelope<RawData>) -> bool {
    envelope.success
        && matches!(envelope.code.as_deref(), Some(codes::QUERY_IN_PROGRESS | codes::QUERY_IN_PROGRESS_ASYNC))
}

/// The record of a statement that ended upstream (its result stays there).
fn finished(handle: NewGatewayQuery, status: &'static str, error: Option<QueryError>) -> FinishedGatewayQuery {
    FinishedGatewayQuery { handle, status, error, ended_at: crate::clock::now_ms(), result: None }
}

/// The status and error a finished upstream answer records.
fn outcome_of(envelope: &Envelope<RawData>) -> (&'static str, Option<QueryError>) {
    if envelope.success {
        return (status::SUCCESS, None);
    }
    let code = envelope.code.clone().unwrap_or_else(|| "000603".into());
    let sql_state = envelope.data.as_ref().and_then(|d| text(d, "sqlState")).unwrap_or_else(|| "XX000".into());
    let final_status = if code == codes::CANCELLED { status::ABORTED } else { status::FAILED };
    let message = envelope.message.clone().unwrap_or_default();
    (final_status, Some(QueryError { code, message, sql_state }))
}

/// Records the database and schema a statement left the session in, for
/// an upstream session opened again elsewhere to start there.
async fn note_context(state: &AppState, caller: &Caller, envelope: &Envelope<RawData>) -> Result<(), GwError> {
    let (Some(session), Some(data)) = (&caller.session, envelope.data.as_ref()) else { return Ok(()) };
    let field = |name: &str| text(data, name).filter(|s| !s.is_empty());
    let (database, schema) = (field("finalDatabaseName"), field("finalSchemaName"));
    if database.is_none() && schema.is_none() {
        return Ok(());
    }
    if database != session.database_name || schema != session.schema_name {
        state.store().set_gateway_session_context(&session.id, database.as_deref(), schema.as_deref()).await?;
    }
    Ok(())
}

/// The upstream's answer about `query_id`, made the gateway's: its ids,
/// its result URL and, when it has chunks, the gateway's chunk URLs and
/// secret (the chunks' sources kept for their downloads).
fn relay(state: &AppState, slot: &Slot, query_id: &str, mut envelope: Envelope<RawData>) -> Response {
    if let Some(data) = envelope.data.as_mut() {
        // A chunk secret only for a result with chunks.
        let token = if data.contains_key("chunks") { crate::crypto::random_token::<24>() } else { String::new() };
        let base_url = state.url("");
        let names = Rewrite { query_id, base_url: &base_url, chunk_header: CHUNK_TOKEN_HEADER, chunk_token: &token };
        if let Some(sources) = rewrite_query_data(data, names) {
            state.upstreams().keep_chunks(query_id, &slot.account_id, token, sources, slot.client().clone());
        }
        if !envelope.success {
            data.insert("queryId".into(), raw(&query_id));
        }
    }
    envelope_response(envelope)
}

/// The envelope as the answer, its raw fields written as they are.
fn envelope_response(envelope: Envelope<RawData>) -> Response {
    axum::Json(envelope).into_response()
}
