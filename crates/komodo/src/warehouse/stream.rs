//! Reading a streamed result (`komodo_protocol::result_stream`): the body
//! of the query response, decoded frame by frame as it arrives into Arrow
//! record batches, without gathering the body first.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_schema::SchemaRef;
use komodo_protocol::gateway::QueryResponseData;
use komodo_protocol::result_stream::{FrameDecoder, Kind, Piece, StreamEnd, StreamError};
use reqwest::Response;

use super::error::{GatewayError, WarehouseError};
use super::http::error_text;
use super::session::Session;
use crate::Error;

const ENDPOINT: &str = "POST /queries/v1/query-request";

fn protocol(reason: impl Into<String>) -> Error {
    GatewayError::Protocol { endpoint: ENDPOINT.into(), reason: reason.into() }.into()
}

/// What the next frames held.
enum Event {
    Head(Box<QueryResponseData>),
    Batch(RecordBatch),
    End,
}

/// The body of a streamed result, read as it arrives.
pub(crate) struct StreamReader {
    response: Response,
    session: Arc<Session>,
    frames: FrameDecoder,
    ipc: StreamDecoder,
    /// The network chunk being read and how far.
    chunk: bytes::Bytes,
    pos: usize,
    /// The `Arrow` frame being gathered across network reads.
    gather: Vec<u8>,
    /// Batches decoded from the chunk, not yet handed out.
    ready: VecDeque<RecordBatch>,
    rows: u64,
    finished: bool,
}

impl StreamReader {
    pub(crate) fn new(response: Response, session: Arc<Session>) -> Self {
        Self {
            response,
            session,
            frames: FrameDecoder::default(),
            ipc: StreamDecoder::new(),
            chunk: bytes::Bytes::new(),
            pos: 0,
            gather: Vec::new(),
            ready: VecDeque::new(),
            rows: 0,
            finished: false,
        }
    }

    /// The head frame: the query response without rows.
    pub(crate) async fn head(&mut self) -> Result<QueryResponseData, Error> {
        match self.next_event().await? {
            Some(Event::Head(head)) => Ok(*head),
            _ => Err(protocol("the result stream does not start with its head")),
        }
    }

    /// The result's Arrow schema (the stream's first message, sent before
    /// any row is ready).
    pub(crate) async fn schema(&mut self) -> Result<SchemaRef, Error> {
        while self.ipc.schema().is_none() {
            match self.next_event().await? {
                Some(Event::Batch(batch)) => {
                    // Not possible before the schema; keep it regardless.
                    self.ready.push_front(batch);
                }
                Some(Event::End) | None => break,
                Some(Event::Head(_)) => return Err(protocol("a second head frame")),
            }
        }
        self.ipc.schema().ok_or_else(|| protocol("the result stream has no Arrow schema"))
    }

    /// The next record batch, or `None` after the last.
    pub(crate) async fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        // `next_event` hands out decoded batches before reading further.
        match self.next_event().await? {
            Some(Event::Batch(batch)) => Ok(Some(batch)),
            Some(Event::End) | None => Ok(None),
            Some(Event::Head(_)) => Err(protocol("a second head frame")),
        }
    }

    async fn next_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            if let Some(batch) = self.ready.pop_front() {
                return Ok(Some(Event::Batch(batch)));
            }
            if self.finished {
                return Ok(None);
            }
            let piece = self.frames.next(&self.chunk, &mut self.pos).map_err(|e| protocol(e.to_string()))?;
            match piece {
                Some(Piece::Arrow(range)) => {
                    // A frame holds whole IPC messages: decoded from one
                    // buffer, their arrays are slices of it. A frame that
                    // came in one network read is used as it is; one split
                    // across reads is gathered once, into a buffer of its
                    // size.
                    let remaining = self.frames.arrow_remaining();
                    let mut buffer = if self.gather.is_empty() && remaining == 0 {
                        Buffer::from(self.chunk.slice(range))
                    } else {
                        if self.gather.is_empty() {
                            self.gather.reserve_exact(range.len() + remaining);
                        }
                        self.gather.extend_from_slice(&self.chunk[range]);
                        if remaining > 0 {
                            continue;
                        }
                        Buffer::from_vec(std::mem::take(&mut self.gather))
                    };
                    while !buffer.is_empty() {
                        let decoded =
                            self.ipc.decode(&mut buffer).map_err(|e| protocol(format!("bad Arrow data: {e}")))?;
                        // (The stream opens with an empty batch, sent with the
                        // schema before any row is ready.)
                        if let Some(batch) = decoded.filter(|b| b.num_rows() > 0) {
                            self.rows += batch.num_rows() as u64;
                            self.ready.push_back(batch);
                        }
                    }
                }
                Some(Piece::Control(Kind::Head, payload)) => {
                    let head =
                        serde_json::from_slice(&payload).map_err(|e| protocol(format!("bad head frame: {e}")))?;
                    return Ok(Some(Event::Head(Box::new(head))));
                }
                Some(Piece::Control(Kind::End, payload)) => return self.end(&payload).map(Some),
                Some(Piece::Control(Kind::Error, payload)) => {
                    self.finished = true;
                    let error: StreamError =
                        serde_json::from_slice(&payload).map_err(|e| protocol(format!("bad error frame: {e}")))?;
                    let data = serde_json::json!({ "sqlState": error.sql_state, "queryId": error.query_id });
                    let error = WarehouseError::from_envelope(Some(&error.code), Some(&error.message), Some(&data), "");
                    return Err(error.into());
                }
                Some(Piece::Control(Kind::Arrow, _)) => unreachable!("Arrow bytes come as ranges"),
                None => match self.response.chunk().await {
                    Ok(Some(chunk)) => {
                        self.chunk = chunk;
                        self.pos = 0;
                    }
                    Ok(None) => {
                        self.finished = true;
                        return Err(GatewayError::Unavailable {
                            endpoint: ENDPOINT.into(),
                            reason: "the result stream ended before its last frame".into(),
                        }
                        .into());
                    }
                    Err(e) => {
                        self.finished = true;
                        return Err(GatewayError::Unavailable {
                            endpoint: ENDPOINT.into(),
                            reason: error_text(&e.without_url()),
                        }
                        .into());
                    }
                },
            }
        }
    }

    /// The `End` frame: every row arrived, and the session's context is
    /// what the statement left.
    fn end(&mut self, payload: &[u8]) -> Result<Event, Error> {
        self.finished = true;
        let end: StreamEnd = serde_json::from_slice(payload).map_err(|e| protocol(format!("bad end frame: {e}")))?;
        self.ipc.finish().map_err(|e| protocol(format!("the Arrow stream is truncated: {e}")))?;
        if end.total != self.rows {
            return Err(protocol(format!("{} rows arrived of {}", self.rows, end.total)));
        }
        self.session.update_context(end.final_database_name.as_deref(), end.final_schema_name.as_deref());
        Ok(Event::End)
    }
}
