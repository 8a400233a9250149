//! A statement's result: the first rows that came with the response, then
//! the further chunks, downloaded ahead of the reader a few at a time (from
//! the moment the response arrives) and handed out in order.
//!
//! Arrow results stay Arrow: the IPC streams are decoded without copying
//! their buffers, [`ArrowBatches`] hands out the record batches as they
//! are, and rows are converted to [`Value`]s only when fetched as rows.

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_schema::SchemaRef;
use base64::Engine as _;
use futures::stream::{BoxStream, Stream, StreamExt};
use komodo_protocol::gateway::{Chunk, QueryResponseData};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::decode::{ColumnMeta, arrow_value, json_value};
use super::error::{GatewayError, InterfaceError};
use super::http::{describe, error_text};
use super::stream::StreamReader;
use super::value::Value;
use crate::Error;

/// One fetched row: a value per column, in the order of the description.
pub type Row = Vec<Value>;

/// How many chunks are downloaded ahead of the reader.
pub const PREFETCH_CHUNKS: usize = 4;

/// How many times a chunk download is tried.
const CHUNK_ATTEMPTS: u32 = 3;

/// A piece of a result: an Arrow record batch, or JSON rows.
enum Page {
    Arrow(RecordBatch),
    Json(Vec<Vec<Option<String>>>),
}

impl Page {
    fn len(&self) -> usize {
        match self {
            Page::Arrow(batch) => batch.num_rows(),
            Page::Json(rows) => rows.len(),
        }
    }

    fn row(&self, i: usize, columns: &[ColumnMeta]) -> Result<Row, InterfaceError> {
        match self {
            Page::Arrow(batch) => {
                batch.columns().iter().zip(columns).map(|(array, col)| arrow_value(array.as_ref(), i, col)).collect()
            }
            Page::Json(rows) => {
                let row = &rows[i];
                columns
                    .iter()
                    .enumerate()
                    .map(|(c, col)| json_value(row.get(c).and_then(|v| v.as_deref()), col))
                    .collect()
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Arrow,
    Json,
}

/// The rows of one statement, fetched a page at a time.
pub(crate) struct ResultSet {
    format: Format,
    schema: Option<SchemaRef>,
    columns: Arc<[ColumnMeta]>,
    queue: VecDeque<Page>,
    chunks: Option<Chunks>,
    current: Option<(Page, usize)>,
}

impl ResultSet {
    /// The result of a successful query response: its first rows decoded,
    /// its chunks about to be downloaded with `http`.
    pub(crate) fn from_response(
        data: &mut QueryResponseData,
        columns: Arc<[ColumnMeta]>,
        http: &reqwest::Client,
    ) -> Result<Self, Error> {
        let format = match data.query_result_format.as_deref() {
            Some(f) if f.eq_ignore_ascii_case("arrow") => Format::Arrow,
            _ => Format::Json,
        };
        let mut queue = VecDeque::new();
        let mut schema = None;
        match format {
            Format::Arrow => {
                let text = data.rowset_base64.take().unwrap_or_default();
                if !text.is_empty() {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| {
                        GatewayError::Protocol { endpoint: "rowsetBase64".into(), reason: format!("not base64: {e}") }
                    })?;
                    let (decoded_schema, batches) = decode_ipc(Buffer::from_vec(bytes))
                        .map_err(|reason| GatewayError::Protocol { endpoint: "rowsetBase64".into(), reason })?;
                    schema = Some(decoded_schema);
                    queue.extend(batches.into_iter().map(Page::Arrow));
                }
            }
            Format::Json => {
                let rows = data.rowset.take().unwrap_or_default();
                if !rows.is_empty() {
                    queue.push_back(Page::Json(rows));
                }
            }
        }
        let chunks = std::mem::take(&mut data.chunks);
        let chunks = (!chunks.is_empty())
            .then(|| Chunks::start(http.clone(), chunks, data.chunk_headers.take().unwrap_or_default(), format))
            .transpose()?;
        Ok(Self { format, schema, columns, queue, chunks, current: None })
    }

    /// The Arrow schema, when the result is Arrow and carried one.
    pub(crate) fn schema(&self) -> Option<&SchemaRef> {
        self.schema.as_ref()
    }

    /// The first row of the first page (for DML row counts), without
    /// consuming it.
    pub(crate) fn peek_first_row(&self) -> Option<Result<Row, InterfaceError>> {
        let page = self.queue.front()?;
        (page.len() > 0).then(|| page.row(0, &self.columns))
    }

    async fn next_page(&mut self) -> Result<Option<Page>, Error> {
        loop {
            if let Some(page) = self.queue.pop_front() {
                return Ok(Some(page));
            }
            let Some(chunks) = self.chunks.as_mut() else { return Ok(None) };
            match chunks.next().await {
                Some(Ok(pages)) => self.queue.extend(pages),
                Some(Err(err)) => {
                    self.chunks = None;
                    return Err(err);
                }
                None => self.chunks = None,
            }
        }
    }

    /// The next row, or `None` after the last.
    pub(crate) async fn next_row(&mut self) -> Result<Option<Row>, Error> {
        loop {
            if let Some((page, pos)) = &mut self.current
                && *pos < page.len()
            {
                let row = page.row(*pos, &self.columns)?;
                *pos += 1;
                return Ok(Some(row));
            }
            match self.next_page().await? {
                Some(page) => self.current = Some((page, 0)),
                None => {
                    self.current = None;
                    return Ok(None);
                }
            }
        }
    }

    /// The next record batch (the rest of a batch partly fetched as rows
    /// first), skipping empty ones; `None` after the last.
    pub(crate) async fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        if self.format != Format::Arrow {
            return Err(InterfaceError::NotArrow.into());
        }
        if let Some((Page::Arrow(batch), pos)) = self.current.take()
            && pos < batch.num_rows()
        {
            return Ok(Some(batch.slice(pos, batch.num_rows() - pos)));
        }
        loop {
            match self.next_page().await? {
                Some(Page::Arrow(batch)) if batch.num_rows() > 0 => return Ok(Some(batch)),
                Some(Page::Arrow(_)) => {}
                Some(Page::Json(_)) => return Err(InterfaceError::NotArrow.into()),
                None => return Ok(None),
            }
        }
    }

    /// Whether Arrow fetches work on this result.
    pub(crate) fn is_arrow(&self) -> bool {
        self.format == Format::Arrow
    }
}

/// The record batches of a result, in order, as a [`Stream`]. Chunks are
/// downloaded up to [`PREFETCH_CHUNKS`] ahead of the reader.
///
/// ```no_run
/// # async fn run(conn: komodo::warehouse::Connection) -> Result<(), komodo::Error> {
/// use futures::StreamExt;
///
/// let mut cursor = conn.execute("SELECT * FROM DEMO.HEALTHCARE.CLAIMS", &[]).await?;
/// let mut batches = cursor.fetch_arrow_batches()?;
/// while let Some(batch) = batches.next().await {
///     println!("{} rows", batch?.num_rows());
/// }
/// # Ok(()) }
/// ```
pub struct ArrowBatches {
    schema: Option<SchemaRef>,
    inner: BoxStream<'static, Result<RecordBatch, Error>>,
}

impl std::fmt::Debug for ArrowBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrowBatches").field("schema", &self.schema).finish_non_exhaustive()
    }
}

/// Where an [`ArrowBatches`] reads from.
enum Source {
    /// A result the gateway answered whole (rows inline, then chunks).
    Chunked(ResultSet),
    /// A streamed result, read as it arrives.
    Streamed(Box<StreamReader>),
}

impl Source {
    async fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        match self {
            Source::Chunked(result) => result.next_batch().await,
            Source::Streamed(reader) => reader.next_batch().await,
        }
    }
}

impl ArrowBatches {
    pub(crate) fn new(result: Option<ResultSet>) -> Self {
        let schema = result.as_ref().and_then(|r| r.schema().cloned());
        Self::from_source(schema, result.map(Source::Chunked))
    }

    /// Batches read from a streamed result as they arrive.
    pub(crate) fn streamed(schema: SchemaRef, reader: StreamReader) -> Self {
        Self::from_source(Some(schema), Some(Source::Streamed(Box::new(reader))))
    }

    fn from_source(schema: Option<SchemaRef>, source: Option<Source>) -> Self {
        let inner = futures::stream::unfold(source, |state| async move {
            let mut source = state?;
            match source.next_batch().await {
                Ok(Some(batch)) => Some((Ok(batch), Some(source))),
                Ok(None) => None,
                Err(err) => Some((Err(err), None)),
            }
        })
        .boxed();
        Self { schema, inner }
    }

    /// The result's Arrow schema (`None` when the result carried no rows
    /// and no schema).
    pub fn schema(&self) -> Option<&SchemaRef> {
        self.schema.as_ref()
    }

    /// The next batch, or `None` after the last.
    pub async fn next_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        self.inner.next().await.transpose()
    }

    /// Every remaining batch.
    pub async fn collect_all(mut self) -> Result<Vec<RecordBatch>, Error> {
        let mut batches = Vec::new();
        while let Some(batch) = self.next_batch().await? {
            batches.push(batch);
        }
        Ok(batches)
    }
}

impl Stream for ArrowBatches {
    type Item = Result<RecordBatch, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Decodes one Arrow IPC stream (schema message, then batches) without
/// copying the batches' buffers out of `buffer`.
pub(crate) fn decode_ipc(mut buffer: Buffer) -> Result<(SchemaRef, Vec<RecordBatch>), String> {
    let mut decoder = StreamDecoder::new();
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        if let Some(batch) = decoder.decode(&mut buffer).map_err(|e| format!("not an Arrow IPC stream: {e}"))? {
            batches.push(batch);
        }
    }
    decoder.finish().map_err(|e| format!("the Arrow IPC stream is truncated: {e}"))?;
    let schema = decoder.schema().ok_or_else(|| "the Arrow IPC stream has no schema".to_owned())?;
    Ok((schema, batches))
}

/// The further chunks of a result, downloaded in tasks of their own,
/// [`PREFETCH_CHUNKS`] at a time from the moment the response arrives (so
/// that they download while the reader works through the first rows), and
/// handed out in order.
struct Chunks {
    http: reqwest::Client,
    headers: Arc<HeaderMap>,
    format: Format,
    remaining: std::iter::Enumerate<std::vec::IntoIter<Chunk>>,
    in_flight: VecDeque<AbortOnDrop>,
}

impl Chunks {
    fn start(
        http: reqwest::Client,
        chunks: Vec<Chunk>,
        headers: BTreeMap<String, String>,
        format: Format,
    ) -> Result<Self, Error> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let bad = || GatewayError::Protocol {
                endpoint: "chunkHeaders".into(),
                reason: format!("invalid header {name:?}"),
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| bad())?;
            // Chunk headers authorize the download: never print them.
            value.set_sensitive(true);
            map.insert(name, value);
        }
        let mut chunks = Self {
            http,
            headers: Arc::new(map),
            format,
            remaining: chunks.into_iter().enumerate(),
            in_flight: VecDeque::with_capacity(PREFETCH_CHUNKS),
        };
        chunks.top_up();
        Ok(chunks)
    }

    /// Starts downloads until [`PREFETCH_CHUNKS`] are in flight.
    fn top_up(&mut self) {
        while self.in_flight.len() < PREFETCH_CHUNKS {
            let Some((index, chunk)) = self.remaining.next() else { break };
            let task = download(self.http.clone(), chunk, index + 1, self.headers.clone(), self.format);
            self.in_flight.push_back(AbortOnDrop(tokio::spawn(task)));
        }
    }

    /// The next chunk's pages, or `None` after the last.
    async fn next(&mut self) -> Option<Result<Vec<Page>, Error>> {
        let next = self.in_flight.pop_front()?;
        self.top_up();
        Some(next.await)
    }
}

/// A spawned download, stopped when the result is dropped unread.
struct AbortOnDrop(tokio::task::JoinHandle<Result<Vec<Page>, Error>>);

impl Future for AbortOnDrop {
    type Output = Result<Vec<Page>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| {
            joined.unwrap_or_else(|e| {
                Err(GatewayError::Unavailable {
                    endpoint: "GET chunk".into(),
                    reason: format!("download stopped: {e}"),
                }
                .into())
            })
        })
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Downloads one chunk (`GET url` with exactly the chunk headers), trying
/// again after transport errors and server errors, and decodes it.
async fn download(
    http: reqwest::Client,
    chunk: Chunk,
    part: usize,
    headers: Arc<HeaderMap>,
    format: Format,
) -> Result<Vec<Page>, Error> {
    let url = reqwest::Url::parse(&chunk.url).map_err(|e| GatewayError::Protocol {
        endpoint: "chunks".into(),
        reason: format!("a chunk URL does not parse: {e}"),
    })?;
    let endpoint = describe(&reqwest::Method::GET, &url);
    let mut attempt = 0;
    let body = loop {
        attempt += 1;
        let result = http.get(url.clone()).headers((*headers).clone()).send().await;
        let error = match result {
            Ok(response) if response.status() == reqwest::StatusCode::OK => match response.bytes().await {
                Ok(body) => break body,
                Err(e) => {
                    GatewayError::Unavailable { endpoint: endpoint.clone(), reason: error_text(&e.without_url()) }
                }
            },
            Ok(response) => GatewayError::Http { status: response.status().as_u16(), endpoint: endpoint.clone() },
            Err(e) => GatewayError::Unavailable { endpoint: endpoint.clone(), reason: error_text(&e.without_url()) },
        };
        let retryable = match &error {
            GatewayError::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => true,
        };
        if !retryable || attempt >= CHUNK_ATTEMPTS {
            return Err(match error {
                GatewayError::Http { status, .. } => GatewayError::Chunk { part, status },
                other => other,
            }
            .into());
        }
        tracing::debug!(%endpoint, attempt, "chunk download failed; trying again");
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt * attempt))).await;
    };
    let bad = |reason: String| GatewayError::Protocol { endpoint: endpoint.clone(), reason };
    match format {
        Format::Arrow => {
            let (_, batches) = decode_ipc(Buffer::from(body)).map_err(bad)?;
            Ok(batches.into_iter().map(Page::Arrow).collect())
        }
        Format::Json => {
            // Snowflake's JSON chunks are rows without the outer brackets.
            let mut text = Vec::with_capacity(body.len() + 2);
            text.push(b'[');
            text.extend_from_slice(&body);
            text.push(b']');
            let rows: Vec<Vec<Option<String>>> =
                serde_json::from_slice(&text).map_err(|e| bad(format!("not JSON rows: {e}")))?;
            Ok(vec![Page::Json(rows)])
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use komodo_protocol::gateway::RowType;

    use super::*;
    use crate::warehouse::decode::ColumnMeta;

    fn ipc(schema: &SchemaRef, batches: &[RecordBatch]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut out, schema).unwrap();
        for batch in batches {
            writer.write(batch).unwrap();
        }
        writer.finish().unwrap();
        drop(writer);
        out
    }

    fn columns() -> Arc<[ColumnMeta]> {
        let rt = |name: &str, t: &str| RowType {
            name: name.into(),
            database: String::new(),
            schema: String::new(),
            table: String::new(),
            type_name: t.into(),
            nullable: true,
            length: None,
            precision: None,
            scale: Some(0),
            byte_length: None,
            collation: None,
        };
        vec![ColumnMeta::from_row_type(&rt("N", "fixed")), ColumnMeta::from_row_type(&rt("S", "text"))].into()
    }

    fn batch(schema: &SchemaRef, from: i64, n: i64) -> RecordBatch {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from((from..from + n).collect::<Vec<_>>())),
                Arc::new(StringArray::from((from..from + n).map(|i| format!("s{i}")).collect::<Vec<_>>())),
            ],
        )
        .unwrap()
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("N", DataType::Int64, true), Field::new("S", DataType::Utf8, true)]))
    }

    #[test]
    fn ipc_streams_decode_and_truncation_is_an_error() {
        let schema = schema();
        let bytes = ipc(&schema, &[batch(&schema, 0, 3), batch(&schema, 3, 2)]);
        let (decoded, batches) = decode_ipc(Buffer::from_vec(bytes.clone())).unwrap();
        assert_eq!(decoded, schema);
        assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [3, 2]);
        let truncated = bytes[..bytes.len() - 20].to_vec();
        assert!(decode_ipc(Buffer::from_vec(truncated)).is_err());
        assert!(decode_ipc(Buffer::from_vec(b"not arrow at all".to_vec())).is_err());
        let (_, none) = decode_ipc(Buffer::from_vec(ipc(&schema, &[]))).unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn rows_then_the_rest_as_batches() {
        let schema = schema();
        let mut data = QueryResponseData {
            query_result_format: Some("arrow".into()),
            rowset_base64: Some(
                base64::engine::general_purpose::STANDARD
                    .encode(ipc(&schema, &[batch(&schema, 0, 3), batch(&schema, 3, 2)])),
            ),
            ..Default::default()
        };
        let http = reqwest::Client::new();
        let mut result = ResultSet::from_response(&mut data, columns(), &http).unwrap();
        assert!(result.is_arrow());
        assert_eq!(result.peek_first_row().unwrap().unwrap(), vec![Value::Int(0), Value::from("s0")]);
        assert_eq!(result.next_row().await.unwrap().unwrap(), vec![Value::Int(0), Value::from("s0")]);
        // The rest of the first batch, then the second.
        assert_eq!(result.next_batch().await.unwrap().unwrap().num_rows(), 2);
        let mut rest = ArrowBatches::new(Some(result));
        assert_eq!(rest.schema(), Some(&schema));
        assert_eq!(rest.next_batch().await.unwrap().unwrap().num_rows(), 2);
        assert!(rest.next_batch().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn json_rowsets_fetch_as_rows_but_not_as_arrow() {
        let mut data = QueryResponseData {
            query_result_format: Some("json".into()),
            rowset: Some(vec![vec![Some("1".into()), None], vec![Some("2".into()), Some("b".into())]]),
            ..Default::default()
        };
        let mut result = ResultSet::from_response(&mut data, columns(), &reqwest::Client::new()).unwrap();
        assert_eq!(result.next_row().await.unwrap().unwrap(), vec![Value::Int(1), Value::Null]);
        assert!(matches!(result.next_batch().await, Err(Error::Interface(InterfaceError::NotArrow))));
        assert_eq!(result.next_row().await.unwrap().unwrap(), vec![Value::Int(2), Value::from("b")]);
        assert!(result.next_row().await.unwrap().is_none());
    }
}
