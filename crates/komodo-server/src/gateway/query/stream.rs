//! Streamed results (`komodo_protocol::result_stream`): a synchronous
//! Arrow statement whose client asked for it is answered once planned, and
//! its rows go out as the warehouse produces them, encoded as one Arrow IPC
//! stream in frames (gathered while rows are ready, sent whenever the
//! statement pauses), instead of waiting for the whole result.
//!
//! The statement runs in a query task like any other (monitoring, abort and
//! the store's record of it work the same); the task hands the response's
//! frames to the HTTP body through a short channel, so a slow reader slows
//! the statement instead of filling memory, and a reader that goes away
//! stops it.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::{FutureExt as _, StreamExt as _};
use komodo_protocol::gateway::{QueryResponseData, codes};
use komodo_protocol::result_stream::{self, FRAME_HEADER_LEN, Kind, StreamEnd, StreamError};
use komodo_warehouse::encode::{self, ColumnOrigin};
use komodo_warehouse::{CancellationToken, Param};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::exec::{Work, end_statement, start, statement_session};
use crate::gateway::caller::Caller;
use crate::queries::error::GwError;
use crate::queries::results::{Finished, Format};
use crate::queries::running::Outcome;
use crate::state::AppState;

/// Arrow bytes gathered before a frame goes out.
const FRAME_TARGET: usize = 1 << 20;
/// Frames queued between the statement and the HTTP body.
const FRAMES_AHEAD: usize = 4;
/// How long a frame may wait for a reader that does not read.
const READER_STALL: std::time::Duration = std::time::Duration::from_secs(120);
/// How long the frames that end a failed statement wait for the reader.
const LAST_FRAME_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether the statement parameters ask for a streamed result.
pub fn wanted(parameters: &serde_json::Map<String, Value>) -> bool {
    match parameters.get(result_stream::RESULT_STREAM) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Runs a statement whose result streams: the response is its head frame
/// once the statement is planned (or an error envelope if it cannot
/// start), then its rows as they come.
pub async fn stream_query(
    state: &AppState,
    caller: &Caller,
    query_id: String,
    sql: String,
    params: Vec<Param>,
    request_id: Option<String>,
) -> Result<Response, GwError> {
    let (head_tx, head_rx) = oneshot::channel();
    let (body_tx, body_rx) = mpsc::channel::<Frame>(FRAMES_AHEAD);
    let work = {
        let (state, caller, query_id, sql) = (state.clone(), caller.clone(), query_id.clone(), sql.clone());
        move |cancel| -> Work {
            Box::pin(run(Statement { state, caller, query_id, sql, params, cancel }, head_tx, body_tx))
        }
    };
    start(state, caller, &query_id, sql, Format::Arrow, request_id, false, work).await?;
    match head_rx.await {
        Ok(Ok(head)) => {
            let rest = futures::stream::unfold(body_rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
            let frames = futures::stream::once(async move { head })
                .chain(rest)
                .flat_map(futures::stream::iter)
                .map(Ok::<_, Infallible>);
            Ok(([(header::CONTENT_TYPE, result_stream::CONTENT_TYPE)], Body::from_stream(frames)).into_response())
        }
        Ok(Err(error)) => Err(error.query(query_id)),
        Err(_) => Err(GwError::internal("the statement stopped before it started").query(query_id)),
    }
}

/// What a streamed statement needs.
struct Statement {
    state: AppState,
    caller: Caller,
    query_id: String,
    sql: String,
    params: Vec<Param>,
    cancel: CancellationToken,
}

/// A control frame (`Head`, `End`, `Error`) with a JSON payload.
fn control_frame(kind: Kind, payload: &impl serde::Serialize) -> Result<Frame, GwError> {
    let mut out = vec![0; FRAME_HEADER_LEN];
    serde_json::to_writer(&mut out, payload).map_err(GwError::internal)?;
    let len = u32::try_from(out.len() - FRAME_HEADER_LEN).map_err(GwError::internal)?;
    out[..FRAME_HEADER_LEN].copy_from_slice(&result_stream::frame_header(kind, len));
    Ok(vec![Bytes::from(out)])
}

/// A frame as the pieces of bytes it goes out in.
type Frame = Vec<Bytes>;

/// An Arrow buffer handed to the HTTP body without a copy.
struct Shared(arrow_buffer::Buffer);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// The result's Arrow IPC stream (columns of their wire types), cut into
/// `Arrow` frames made of the encoder's buffers: the batches' own memory
/// where it can be, not copies of it.
struct ArrowFrames {
    encoder: Option<arrow_ipc::writer::StreamEncoder>,
    schema: arrow_schema::SchemaRef,
    pieces: Vec<Bytes>,
    len: usize,
}

impl ArrowFrames {
    /// The frames of a result of `schema`; the first frame holds the
    /// stream's schema (and an empty batch), ready before any row is.
    fn new(schema: &arrow_schema::SchemaRef) -> Result<Self, GwError> {
        let schema = encode::wire_schema(schema);
        let encoder = arrow_ipc::writer::StreamEncoder::try_new(&schema).map_err(GwError::internal)?;
        let mut frames = Self { encoder: Some(encoder), schema, pieces: Vec::new(), len: 0 };
        frames.write(&arrow_array::RecordBatch::new_empty(frames.schema.clone()))?;
        Ok(frames)
    }

    fn take(&mut self, buffers: Vec<arrow_buffer::Buffer>) {
        for buffer in buffers {
            self.len += buffer.len();
            self.pieces.push(Bytes::from_owner(Shared(buffer)));
        }
    }

    fn write(&mut self, batch: &arrow_array::RecordBatch) -> Result<(), GwError> {
        let batch = encode::wire_batch(batch, &self.schema)?;
        let encoder = self.encoder.as_mut().ok_or_else(|| GwError::internal("the Arrow stream is finished"))?;
        let buffers = encoder.encode(&batch).map_err(GwError::internal)?;
        self.take(buffers);
        Ok(())
    }

    fn full(&self) -> bool {
        self.len >= FRAME_TARGET
    }

    fn pending(&self) -> bool {
        self.len > 0
    }

    /// The bytes written since the last frame, as a frame.
    fn frame(&mut self) -> Result<Frame, GwError> {
        let len = u32::try_from(std::mem::take(&mut self.len)).map_err(GwError::internal)?;
        let mut frame = Vec::with_capacity(self.pieces.len() + 1);
        frame.push(Bytes::copy_from_slice(&result_stream::frame_header(Kind::Arrow, len)));
        frame.append(&mut self.pieces);
        Ok(frame)
    }

    /// The last frame: what is left and the stream's end marker.
    fn finish(&mut self) -> Result<Frame, GwError> {
        if let Some(encoder) = self.encoder.take() {
            let buffers = encoder.finish().map_err(GwError::internal)?;
            self.take(buffers);
        }
        self.frame()
    }
}

/// The reader went away: the statement stops.
fn reader_gone() -> GwError {
    GwError::new(codes::CANCELLED, "The client stopped reading the result stream; the statement was stopped.")
        .state("57014")
}

/// Plans the statement, hands its head frame (or why it could not start)
/// to the request, then streams its rows into `body` and ends the stream
/// with `End` or `Error`.
async fn run(
    statement: Statement,
    head: oneshot::Sender<Result<Frame, GwError>>,
    body: mpsc::Sender<Frame>,
) -> Outcome {
    let Statement { state, caller, query_id, sql, params, cancel } = statement;
    let engine = state.gateway().engine().clone();
    let opened = match statement_session(&state, &caller).await {
        Ok(opened) => opened,
        Err(error) => {
            let _ = head.send(Err(error.clone()));
            return Err(error);
        }
    };
    let stop = cancel.clone();
    let stream = engine.execute_stream(&caller.account_id, opened.0, &sql, params, cancel).await;
    let started = stream.map_err(GwError::from).and_then(|stream| {
        let head_data = QueryResponseData {
            query_id: Some(query_id.clone()),
            rowtype: Some(encode::row_types(&stream.schema, &ColumnOrigin::default())),
            query_result_format: Some(Format::Arrow.as_str().to_owned()),
            statement_type_id: Some(stream.kind.snowflake_statement_type_id()),
            sql_state: Some("00000".to_owned()),
            ..Default::default()
        };
        Ok((control_frame(Kind::Head, &head_data)?, ArrowFrames::new(&stream.schema)?, stream))
    });
    let (head_frame, mut frames, mut stream) = match started {
        Ok(started) => started,
        Err(error) => {
            let _ = end_statement(&state, &caller, opened).await;
            let _ = head.send(Err(error.clone()));
            return Err(error);
        }
    };
    let (type_id, schema) = (stream.kind.snowflake_statement_type_id(), stream.schema.clone());
    let mut total = 0u64;
    // A reader that stops reading while keeping its connection open holds
    // the statement no longer than it could stall, and an abort request
    // still ends it.
    let send = |frame: Result<Frame, GwError>| {
        let (body, stop) = (body.clone(), stop.clone());
        async move {
            let frame = frame?;
            tokio::select! {
                sent = tokio::time::timeout(READER_STALL, body.send(frame)) => match sent {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(_)) | Err(_) => Err(reader_gone()),
                },
                _ = stop.cancelled() => Err(GwError::from(komodo_warehouse::WarehouseError::Cancelled)),
            }
        }
    };
    let mut failure = head.send(Ok(head_frame)).err().map(|_| reader_gone());
    // The schema goes out at once: the reader knows the columns before the
    // first row is ready.
    if failure.is_none() {
        failure = send(frames.frame()).await.err();
    }
    while failure.is_none() {
        // Rows go out as soon as the statement pauses: gathered into
        // frames while more are ready, sent before waiting for the next.
        let item = match stream.next().now_or_never() {
            Some(item) => item,
            None => {
                if frames.pending()
                    && let Err(error) = send(frames.frame()).await
                {
                    failure = Some(error);
                    break;
                }
                stream.next().await
            }
        };
        let Some(item) = item else { break };
        let step = match item {
            Ok(batch) => {
                total += batch.num_rows() as u64;
                match frames.write(&batch) {
                    Ok(()) if frames.full() => send(frames.frame()).await,
                    written => written,
                }
            }
            Err(error) => Err(GwError::from(error)),
        };
        failure = step.err();
    }
    // Dropping the stream stops the statement, if it still runs.
    drop(stream);
    let context = end_statement(&state, &caller, opened).await;
    let outcome = match (failure, context) {
        (None, Ok(context)) => {
            let end = StreamEnd { total, final_database_name: context.0.clone(), final_schema_name: context.1.clone() };
            let delivered = match send(frames.finish()).await {
                Ok(()) => send(control_frame(Kind::End, &end)).await,
                Err(error) => Err(error),
            };
            delivered.map(|()| Arc::new(Finished::streamed(&caller.account_id, type_id, schema, total, context)))
        }
        (Some(error), _) | (None, Err(error)) => Err(error),
    };
    if let Err(error) = &outcome {
        // The rows before the failure, then the failure, for a reader that
        // still reads.
        let error = StreamError {
            code: error.code.to_owned(),
            message: error.message.clone(),
            sql_state: error.sql_state.map(str::to_owned),
            query_id: Some(query_id),
        };
        let last = [frames.pending().then(|| frames.frame()), Some(control_frame(Kind::Error, &error))];
        for frame in last.into_iter().flatten().flatten() {
            if !matches!(tokio::time::timeout(LAST_FRAME_WAIT, body.send(frame)).await, Ok(Ok(()))) {
                break;
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use komodo_protocol::result_stream::{FrameDecoder, Piece};

    #[test]
    fn only_a_true_parameter_asks_for_a_stream() {
        let params = |v: Value| serde_json::Map::from_iter([(result_stream::RESULT_STREAM.to_owned(), v)]);
        assert!(wanted(&params(Value::Bool(true))));
        assert!(wanted(&params(Value::from("TRUE"))));
        assert!(!wanted(&params(Value::Bool(false))));
        assert!(!wanted(&params(Value::from(1))));
        assert!(!wanted(&serde_json::Map::new()));
    }

    #[test]
    fn arrow_frames_carry_one_ipc_stream_of_every_batch() {
        let schema =
            Arc::new(Schema::new(vec![Field::new("N", DataType::Int64, false), Field::new("S", DataType::Utf8, true)]));
        let batch = |from: i64| {
            let n: Vec<i64> = (from..from + 50_000).collect();
            let s: Vec<Option<String>> = n.iter().map(|v| (v % 7 != 0).then(|| format!("row {v}"))).collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from(n)) as ArrayRef, Arc::new(StringArray::from(s)) as ArrayRef],
            )
            .unwrap()
        };
        let mut frames = ArrowFrames::new(&schema).unwrap();
        let mut body = vec![frames.frame().unwrap()];
        for i in 0..40 {
            frames.write(&batch(i * 50_000)).unwrap();
            if frames.full() {
                body.push(frames.frame().unwrap());
            }
        }
        body.push(frames.finish().unwrap());
        assert!(body.len() > 3, "a large result goes out in several frames");

        // Strip the frame headers (a head frame first, as on the wire).
        let mut wire: Vec<u8> = control_frame(Kind::Head, &serde_json::json!({})).unwrap().concat();
        body.iter().flatten().for_each(|piece| wire.extend_from_slice(piece));
        let mut decoder = FrameDecoder::default();
        let mut ipc = Vec::new();
        let mut pos = 0;
        while let Some(piece) = decoder.next(&wire, &mut pos).unwrap() {
            if let Piece::Arrow(range) = piece {
                ipc.extend_from_slice(&wire[range]);
            }
        }
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc), None).unwrap();
        let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(batches[0].num_rows(), 0, "the first frame: the schema and an empty batch");
        let batches = &batches[1..];
        assert_eq!(batches.len(), 40);
        assert_eq!(batches[39], batch(39 * 50_000));
    }
}
