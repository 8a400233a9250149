//! `POST /komodo/v1/load?table=T&format=arrow|csv|parquet&create=..&overwrite=..`:
//! a file in the request body loaded into a table of the caller's account
//! (what `write_pandas`, `komodo load` and the SDK's `Connection::load`
//! send).
//!
//! The caller is authorised before a byte of the body is read
//! ([`Caller`]). The body streams to a temporary file under the account's
//! warehouse directory on a blocking thread, a `Content-Encoding: gzip`
//! body inflated a piece at a time, both under `--max-load-mib` (F10); the
//! file is removed whatever happens. The warehouse then loads it in one
//! commit ([`komodo_warehouse::Engine::load_file`]) in the caller's
//! session, with its database, schema and role.

use std::io::{Read, Write as _};

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use axum::response::Response;
use futures::StreamExt as _;
use komodo_warehouse::{CancellationToken, LoadFormat, LoadOptions};
use serde::Deserialize;

use super::caller::Caller;
use super::query::exec::{end_statement, statement_session};
use super::wire::ok;
use crate::queries::error::GwError;
use crate::state::AppState;

/// The path of the load endpoint.
pub const LOAD_PATH: &str = "/komodo/v1/load";

/// The query string of a load.
#[derive(Debug, Deserialize)]
pub struct LoadQuery {
    /// The table: `T`, `S.T` or `D.S.T` (Snowflake's identifier rules), in
    /// the session's current database and schema.
    pub table: String,
    /// `arrow` (an Arrow IPC stream), `csv` (with a header row) or `parquet`.
    pub format: String,
    /// Create the table from the file's columns when it does not exist.
    #[serde(default)]
    pub create: bool,
    /// Replace the table's rows instead of appending.
    #[serde(default)]
    pub overwrite: bool,
}

/// Loads the request body into a table; answers
/// `{"rowsLoaded", "created", "database", "schema", "table"}`.
pub async fn load(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<LoadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GwError> {
    let Query(query) = query.map_err(|e| {
        GwError::bad_request(format!(
            "{e}: a load takes ?table=<name>&format=arrow|csv|parquet[&create=true][&overwrite=true]"
        ))
    })?;
    let format = LoadFormat::from_name(&query.format).ok_or_else(|| {
        GwError::bad_request(format!("unknown format {:?}: send arrow, csv, parquet or json", query.format))
    })?;
    let gzip = match headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::trim) {
        None | Some("") | Some("identity") => false,
        Some(v) if v.eq_ignore_ascii_case("gzip") => true,
        Some(other) => {
            return Err(GwError::bad_request(format!(
                "Content-Encoding {other:?} is not supported: send the file as it is, or gzip-compressed"
            )));
        }
    };
    let cap = state.gateway().config().max_load_bytes;
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if !gzip && declared.is_some_and(|n| n > cap) {
        return Err(too_large(cap));
    }
    let engine = state.gateway().engine().clone();
    let dir = engine.upload_dir(&caller.account_id)?;
    let file = tempfile::Builder::new()
        .prefix(".load-")
        .tempfile_in(&dir)
        .map_err(|e| GwError::internal(format!("cannot create a file in {}: {e}", dir.display())))?;
    // Removed when this is dropped: after the load, or at the first failure.
    let file = receive(body, file, gzip, cap).await?;
    let opened = statement_session(&state, &caller).await?;
    let options = LoadOptions { create: query.create, overwrite: query.overwrite };
    let outcome = engine
        .load_file(&caller.account_id, opened.0, &query.table, file.path(), format, options, CancellationToken::new())
        .await;
    drop(file);
    let context = end_statement(&state, &caller, opened).await;
    let summary = outcome?;
    context?;
    tracing::info!(
        account = %caller.account_id,
        table = %format!("{}.{}.{}", summary.database, summary.schema, summary.table),
        rows = summary.rows_loaded,
        created = summary.created,
        "file loaded"
    );
    Ok(ok(serde_json::json!({
        "rowsLoaded": summary.rows_loaded,
        "created": summary.created,
        "database": summary.database,
        "schema": summary.schema,
        "table": summary.table,
    })))
}

pub(super) fn too_large(cap: u64) -> GwError {
    GwError::bad_request(format!(
        "the file is larger than the {} MiB a load may send (the server's --max-load-mib); split it into several loads",
        cap >> 20
    ))
}

/// Streams `body` into `file` on a blocking thread (inflating it when
/// `gzip`), failing as soon as more than `cap` bytes would be written.
pub(super) async fn receive(
    body: Body,
    mut file: tempfile::NamedTempFile,
    gzip: bool,
    cap: u64,
) -> Result<tempfile::NamedTempFile, GwError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Bytes>>(8);
    let writer = tokio::task::spawn_blocking(move || {
        let source = ChannelReader { rx, current: Bytes::new() };
        let written = match gzip {
            true => copy_capped(flate2::read::MultiGzDecoder::new(source), file.as_file_mut(), cap),
            false => copy_capped(source, file.as_file_mut(), cap),
        };
        written.and_then(|_| file.as_file_mut().flush().map_err(Failure::Write)).map(|()| file)
    });
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| std::io::Error::other(format!("the request body was cut off: {e}")));
        let failed = chunk.is_err();
        if tx.send(chunk).is_err() || failed {
            break;
        }
    }
    drop(tx);
    match writer.await.map_err(GwError::internal)? {
        Ok(file) => Ok(file),
        Err(Failure::TooLarge) => Err(too_large(cap)),
        Err(Failure::Read(e)) if gzip => {
            Err(GwError::bad_request(format!("the gzip request body cannot be decompressed: {e}")))
        }
        Err(Failure::Read(e)) => Err(GwError::bad_request(format!("cannot read the request body: {e}"))),
        Err(Failure::Write(e)) => Err(GwError::internal(format!("writing the file to load failed: {e}"))),
    }
}

/// Why a body could not be kept.
enum Failure {
    TooLarge,
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies `from` into `to` a piece at a time, failing with
/// [`Failure::TooLarge`] as soon as more than `cap` bytes come.
fn copy_capped(mut from: impl Read, to: &mut std::fs::File, cap: u64) -> Result<u64, Failure> {
    let mut piece = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut piece) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Read(e)),
        };
        total += n as u64;
        if total > cap {
            return Err(Failure::TooLarge);
        }
        to.write_all(&piece[..n]).map_err(Failure::Write)?;
    }
}

/// The body's chunks, as they arrive from the request's task, read as a
/// byte stream on the blocking thread.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(chunk) => self.current = chunk?,
                // The body ended.
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    async fn received(body: Vec<u8>, gzip: bool, cap: u64) -> Result<Vec<u8>, GwError> {
        let file = tempfile::NamedTempFile::new().unwrap();
        // Several chunks, as a request body arrives.
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            body.chunks(1000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let body = Body::from_stream(futures::stream::iter(chunks));
        let file = receive(body, file, gzip, cap).await?;
        Ok(std::fs::read(file.path()).unwrap())
    }

    #[tokio::test]
    async fn f10_loads_are_inflated_under_the_cap() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        assert_eq!(received(data.clone(), false, 1 << 20).await.unwrap(), data);
        assert_eq!(received(gzip(&data), true, 1 << 20).await.unwrap(), data);
        // Exactly the cap passes, a byte more fails, plain or inflated.
        let cap = data.len() as u64;
        assert!(received(data.clone(), false, cap).await.is_ok());
        assert!(received(data.clone(), false, cap - 1).await.unwrap_err().message.contains("larger than"));
        assert!(received(gzip(&data), true, cap - 1).await.unwrap_err().message.contains("larger than"));
        // A bomb: a small body that inflates far past the cap.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 1 << 20);
        assert!(received(bomb, true, 1 << 20).await.unwrap_err().message.contains("larger than"));
        // Not gzip at all.
        assert!(received(b"plain text".to_vec(), true, 1 << 20).await.unwrap_err().message.contains("gzip"));
    }
}
