//! Files in and out of stages:
//!
//! - Komodo's own endpoints, for Komodo's clients to send and fetch staged
//!   files: `POST /komodo/v1/stage/put?
//!   stage=@s/path&name=f.csv.gz[&overwrite=true]` streams the body into
//!   the stage (under `--max-load-mib`, like a load), `GET
//!   /komodo/v1/stage/files?stage=...[&pattern=...]` lists what a `GET`
//!   fetches, and `GET /komodo/v1/stage/file?stage=...&file=<path>` streams
//!   one file back.
//! - Snowflake's connectors' `PUT` and `GET` ([`connector_transfer`]):
//!   answered as Snowflake answers for a local stage (`LOCAL_FS`), so the
//!   connector copies the file itself, which works only when client and
//!   platform share a file system; the platform does it only when started
//!   with `--local-stage-transfers` (it names a directory of the server to
//!   the client), else the answer says what to use instead.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use komodo_protocol::gateway::codes;
use komodo_protocol::transfer::Transfer;
use serde::Deserialize;
use serde_json::json;

use super::caller::Caller;
use super::load::receive;
use super::query::exec::{end_statement, statement_session};
use super::wire::ok;
use crate::queries::error::GwError;
use crate::state::AppState;

/// `POST` a file into a stage.
pub const PUT_PATH: &str = "/komodo/v1/stage/put";
/// `GET` the files of a stage.
pub const FILES_PATH: &str = "/komodo/v1/stage/files";
/// `GET` one staged file.
pub const FILE_PATH: &str = "/komodo/v1/stage/file";

/// The query string of a put.
#[derive(Debug, Deserialize)]
pub struct PutQuery {
    /// `@~[/path]`, `@%table[/path]` or `@stage[/path]`.
    pub stage: String,
    /// The file's name in the stage.
    pub name: String,
    /// Replace a file of the same name.
    #[serde(default)]
    pub overwrite: bool,
}

/// The query string of a listing or a download.
#[derive(Debug, Deserialize)]
pub struct FilesQuery {
    /// The stage and path.
    pub stage: String,
    /// A regular expression the files' names (as `LIST` shows them) match.
    #[serde(default)]
    pub pattern: Option<String>,
    /// One file's path in the stage (downloads).
    #[serde(default)]
    pub file: Option<String>,
}

fn bad_query(e: QueryRejection, wanted: &str) -> GwError {
    GwError::bad_request(format!("{e}: this endpoint takes {wanted}"))
}

/// Streams the request body into a stage; answers `{"status":
/// "UPLOADED" | "SKIPPED", "size"}` (skipped: a file of that name is there
/// and `overwrite` was not asked for).
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<PutQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GwError> {
    let Query(query) = query.map_err(|e| bad_query(e, "?stage=@stage[/path]&name=<file>[&overwrite=true]"))?;
    let cap = state.gateway().config().max_load_bytes;
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap) {
        return Err(super::load::too_large(cap));
    }
    let engine = state.gateway().engine().clone();
    let dir = engine.upload_dir(&caller.account_id)?;
    let file = tempfile::Builder::new()
        .prefix(".put-")
        .tempfile_in(&dir)
        .map_err(|e| GwError::internal(format!("cannot create a file in {}: {e}", dir.display())))?;
    let file = receive(body, file, false, cap).await?;
    let opened = statement_session(&state, &caller).await?;
    let stored =
        engine.put_stage_file(&caller.account_id, opened.0, &query.stage, &query.name, file.path(), query.overwrite);
    // Moved into the stage, or removed here when the put failed.
    drop(file);
    let context = end_statement(&state, &caller, opened).await;
    let stored = stored?;
    context?;
    tracing::info!(account = %caller.account_id, stage = %query.stage, name = %query.name, stored = stored.is_some(), "file put");
    Ok(ok(json!({
        "status": if stored.is_some() { "UPLOADED" } else { "SKIPPED" },
        "size": stored,
    })))
}

/// The files a `GET` of `stage` fetches: `{"files": [{"name", "path",
/// "fileName", "size"}]}` (`name` as `LIST` shows it, `path` in the stage).
pub async fn files(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<FilesQuery>, QueryRejection>,
) -> Result<Response, GwError> {
    let Query(query) = query.map_err(|e| bad_query(e, "?stage=@stage[/path][&pattern=<regex>]"))?;
    let opened = statement_session(&state, &caller).await?;
    let engine = state.gateway().engine();
    let listed = engine.stage_files(&caller.account_id, opened.0, &query.stage, query.pattern.as_deref());
    end_statement(&state, &caller, opened).await?;
    let files: Vec<_> = listed?
        .into_iter()
        .map(|f| json!({"name": f.listed, "path": f.relative, "fileName": f.file_name, "size": f.size}))
        .collect();
    Ok(ok(json!({ "files": files })))
}

/// One staged file's bytes.
pub async fn file(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<FilesQuery>, QueryRejection>,
) -> Result<Response, GwError> {
    let Query(query) = query.map_err(|e| bad_query(e, "?stage=@stage&file=<path in the stage>"))?;
    let Some(wanted) = query.file.as_deref() else {
        return Err(GwError::bad_request("name the file: ?stage=@stage&file=<path in the stage>"));
    };
    let opened = statement_session(&state, &caller).await?;
    let engine = state.gateway().engine();
    let listed = engine.stage_files(&caller.account_id, opened.0, &query.stage, None);
    end_statement(&state, &caller, opened).await?;
    let Some(found) = listed?.into_iter().find(|f| f.relative == wanted) else {
        return Err(
            GwError::new(codes::OBJECT_NOT_FOUND, format!("no file {wanted} in {}", query.stage)).state("02000")
        );
    };
    let opened = tokio::fs::File::open(&found.path)
        .await
        .map_err(|e| GwError::internal(format!("cannot read staged file {}: {e}", found.relative)))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(opened, 256 * 1024);
    Ok((
        [(CONTENT_TYPE, "application/octet-stream")],
        [(CONTENT_LENGTH, found.size.to_string())],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Snowflake's answer to a connector's `PUT` or `GET`, for a local stage.
pub(super) async fn connector_transfer(
    state: &AppState,
    caller: &Caller,
    transfer: Result<Transfer, String>,
) -> Result<Response, GwError> {
    let transfer = transfer
        .map_err(|e| GwError::new(codes::COMPILATION, format!("SQL compilation error:\n{e}")).state("42000"))?;
    if !state.gateway().config().local_stage_transfers {
        return Err(GwError::new(
            "003001",
            "PUT and GET from Snowflake's connectors copy files into the platform's own directories, which it \
             allows only when it shares a file system with its clients (komodo-server --local-stage-transfers); \
             otherwise send files with POST /komodo/v1/stage/put, or load them with komodo load or write_pandas.",
        )
        .state("42501"));
    }
    let opened = statement_session(state, caller).await?;
    let engine = state.gateway().engine();
    let answer = (|| -> Result<serde_json::Value, GwError> {
        let stage_info = |dir: &std::path::Path| json!({"locationType": "LOCAL_FS", "location": dir, "path": "", "region": "", "creds": {}});
        Ok(match &transfer {
            Transfer::Put(put) => {
                let dir = engine.stage_directory(&caller.account_id, opened.0, &put.stage)?;
                json!({
                    "command": "UPLOAD",
                    "src_locations": [put.local],
                    "parallel": put.parallel,
                    "autoCompress": put.auto_compress,
                    "sourceCompression": put.source_compression.to_ascii_lowercase(),
                    "overwrite": put.overwrite,
                    "stageInfo": stage_info(&dir),
                    "encryptionMaterial": null,
                })
            }
            Transfer::Get(get) => {
                let dir = engine.stage_directory(&caller.account_id, opened.0, &get.stage)?;
                let files = engine.stage_files(&caller.account_id, opened.0, &get.stage, get.pattern.as_deref())?;
                let sources: Vec<String> = files
                    .iter()
                    .filter_map(|f| f.path.strip_prefix(&dir).ok().map(|p| p.to_string_lossy().into_owned()))
                    .collect();
                json!({
                    "command": "DOWNLOAD",
                    "src_locations": sources,
                    "localLocation": get.local,
                    "parallel": get.parallel,
                    "stageInfo": stage_info(&dir),
                    "encryptionMaterial": null,
                })
            }
        })
    })();
    end_statement(state, caller, opened).await?;
    Ok(ok(answer?))
}
