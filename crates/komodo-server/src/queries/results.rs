//! Finished results: held in memory on the replica that ran them (for
//! chunk downloads and `result_scan`), persisted to the store when small
//! enough for every replica to read, and encoded for the wire as
//! Snowflake's JSON rowset or as Arrow IPC (the warehouse's own Arrow
//! types for this project's clients, Snowflake's Arrow encoding for the
//! official connectors).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use komodo_protocol::gateway::{Chunk, QueryResponseData};
use komodo_warehouse::connector_arrow::ConnectorSchema;
use komodo_warehouse::encode::{self, ColumnOrigin};
use parking_lot::Mutex;

use super::error::GwError;
use crate::store::gateway::GatewayResultRow;

/// The header that authenticates chunk downloads (chunk requests carry no
/// session token, only the headers the query response listed).
pub const CHUNK_TOKEN_HEADER: &str = "x-komodo-chunk-token";

/// The result encoding a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Snowflake's JSON rowset (every connector decodes it).
    Json,
    /// Arrow IPC streams of the warehouse's own Arrow types (this
    /// project's own clients, which ask for it with the statement
    /// parameter `QUERY_RESULT_FORMAT`).
    Arrow,
    /// Arrow IPC streams in Snowflake's own encoding (field metadata and
    /// physical types: `komodo_warehouse::connector_arrow`), what the
    /// official connectors decode (snowflake-connector-python's
    /// `fetch_pandas_all`, `fetch_arrow_batches`, ...).
    Connector,
}

impl Format {
    /// The name stored with the query and put in chunk URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Arrow => "arrow",
            Format::Connector => "connector_arrow",
        }
    }

    /// The response's `queryResultFormat`: `arrow` for both Arrow forms.
    pub fn wire_name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Arrow | Format::Connector => "arrow",
        }
    }

    /// Parses a stored name (JSON for anything unknown).
    pub fn parse(name: &str) -> Format {
        if name.eq_ignore_ascii_case("arrow") {
            Format::Arrow
        } else if name.eq_ignore_ascii_case("connector_arrow") {
            Format::Connector
        } else {
            Format::Json
        }
    }

    /// The `Content-Type` of a chunk in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Arrow | Format::Connector => "application/vnd.apache.arrow.stream",
            Format::Json => "application/json",
        }
    }
}

/// Rows sent inline in a JSON response before the rest goes to chunks.
const JSON_FIRST_ROWS: usize = 10_000;
/// Rows per JSON chunk.
const JSON_CHUNK_ROWS: usize = 100_000;
/// Rows sent inline (base64) in an Arrow response.
const ARROW_FIRST_ROWS: usize = 65_536;
/// Rows per Arrow chunk.
const ARROW_CHUNK_ROWS: usize = 524_288;

/// A finished statement's result.
#[derive(Debug)]
pub struct Finished {
    /// The account it belongs to.
    pub account_id: String,
    /// Snowflake's statement type id.
    pub statement_type_id: i64,
    /// Rows changed, for DML.
    pub rows_affected: Option<u64>,
    /// The schema.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
    /// Total rows.
    pub total: u64,
    /// Secret that chunk downloads must present.
    pub chunk_token: String,
    /// The session's database and schema after the statement.
    pub final_context: (Option<String>, Option<String>),
    /// False for a result streamed to its client as it was produced: its
    /// rows are gone, only its size remains.
    pub kept: bool,
    /// The memory the rows hold, counted against the warehouse's limits
    /// while the result is kept (SECURITY.md F05).
    pub held: komodo_warehouse::HeldMemory,
    /// The result's wire form in Snowflake's own Arrow encoding, decided
    /// from all of its rows the first time a connector asks for it.
    connector: OnceLock<ConnectorSchema>,
}

impl Finished {
    /// Wraps a result.
    pub fn new(
        account_id: &str,
        statement_type_id: i64,
        rows_affected: Option<u64>,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        final_context: (Option<String>, Option<String>),
    ) -> Self {
        let total = batches.iter().map(|b| b.num_rows() as u64).sum();
        Self {
            account_id: account_id.to_owned(),
            statement_type_id,
            rows_affected,
            schema,
            batches,
            total,
            chunk_token: crate::crypto::random_token::<24>(),
            final_context,
            kept: true,
            held: komodo_warehouse::HeldMemory::default(),
            connector: OnceLock::new(),
        }
    }

    /// The same result, its memory counted by `held` for as long as it is
    /// kept.
    pub fn holding(mut self, held: komodo_warehouse::HeldMemory) -> Self {
        self.held = held;
        self
    }

    /// The record of a result that was streamed to its client: `total`
    /// rows, none of them kept.
    pub fn streamed(
        account_id: &str,
        statement_type_id: i64,
        schema: SchemaRef,
        total: u64,
        final_context: (Option<String>, Option<String>),
    ) -> Self {
        let mut finished = Self::new(account_id, statement_type_id, None, schema, Vec::new(), final_context);
        finished.total = total;
        finished.kept = false;
        finished
    }

    /// Approximate memory held.
    pub fn size(&self) -> usize {
        self.batches.iter().map(RecordBatch::get_array_memory_size).sum()
    }

    /// Rows `[start, start + len)` as zero-copy slices of the batches.
    fn slice(&self, start: usize, len: usize) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut offset = 0usize;
        let end = start + len;
        for batch in &self.batches {
            let rows = batch.num_rows();
            let (b_start, b_end) = (offset, offset + rows);
            offset = b_end;
            if b_end <= start || rows == 0 {
                continue;
            }
            if b_start >= end {
                break;
            }
            let from = start.max(b_start) - b_start;
            let to = end.min(b_end) - b_start;
            out.push(batch.slice(from, to - from));
        }
        out
    }

    fn layout(&self, format: Format) -> (usize, usize) {
        match format {
            Format::Json => (JSON_FIRST_ROWS, JSON_CHUNK_ROWS),
            Format::Arrow | Format::Connector => (ARROW_FIRST_ROWS, ARROW_CHUNK_ROWS),
        }
    }

    /// The result's wire form for the official connectors (the same for
    /// the inline rows and every chunk).
    fn connector_schema(&self) -> &ConnectorSchema {
        self.connector.get_or_init(|| ConnectorSchema::new(&self.schema, &self.batches))
    }

    /// Whether the statement is DML (Snowflake's statement type ids
    /// `0x3000`-`0x3fff`: INSERT, UPDATE, DELETE, MERGE, ...).
    fn is_dml(&self) -> bool {
        (0x3000..0x4000).contains(&self.statement_type_id)
    }

    /// The number of chunks after the inline rows.
    pub fn chunk_count(&self, format: Format) -> usize {
        let (first, per) = self.layout(format);
        (self.total as usize).saturating_sub(first).div_ceil(per)
    }

    /// The query response for this result: rowtype, the first rows inline
    /// and chunk URLs (`{base}/gateway/chunks/{query_id}/{n}?format=`) for
    /// the rest.
    pub fn response(&self, query_id: &str, format: Format, base: &str) -> Result<QueryResponseData, GwError> {
        if !self.kept {
            return Err(GwError::new(
                "000603",
                "The result of this query was streamed to its client and is not kept; run the query again.",
            )
            .state("XX000"));
        }
        // A DML statement's counts go as a JSON rowset, as Snowflake sends
        // them: the connector reads `rowcount` from `rowset` alone.
        let format = if format == Format::Connector && self.is_dml() { Format::Json } else { format };
        let (first, per) = self.layout(format);
        let inline = self.slice(0, first);
        let returned: u64 = inline.iter().map(|b| b.num_rows() as u64).sum();
        let mut data = QueryResponseData {
            query_id: Some(query_id.to_owned()),
            rowtype: Some(encode::row_types(&self.schema, &ColumnOrigin::default())),
            total: Some(self.total),
            returned: Some(returned),
            query_result_format: Some(format.wire_name().to_owned()),
            statement_type_id: Some(self.statement_type_id),
            sql_state: Some("00000".to_owned()),
            final_database_name: self.final_context.0.clone(),
            final_schema_name: self.final_context.1.clone(),
            ..Default::default()
        };
        match format {
            Format::Json => data.rowset = Some(encode::json_rowset(&inline)?),
            Format::Arrow => {
                data.rowset_base64 = Some(STANDARD.encode(encode::arrow_ipc_stream(&self.schema, &inline)?))
            }
            // No rows: an empty rowset, as Snowflake sends (the connector
            // then builds an empty table from `rowtype`).
            Format::Connector if returned == 0 => data.rowset_base64 = Some(String::new()),
            Format::Connector => {
                data.rowset_base64 = Some(STANDARD.encode(self.connector_schema().ipc_stream(&inline)?))
            }
        }
        let chunks = self.chunk_count(format);
        if chunks > 0 {
            for n in 0..chunks {
                let start = first + n * per;
                let rows = per.min(self.total as usize - start) as u64;
                // Sizes are estimates: the client only uses them for display.
                let size = rows * self.schema.fields().len() as u64 * 8;
                data.chunks.push(Chunk {
                    url: format!("{base}/gateway/chunks/{query_id}/{n}?format={}", format.as_str()),
                    row_count: rows,
                    uncompressed_size: size,
                    compressed_size: size,
                });
            }
            data.chunk_headers = Some(BTreeMap::from([(CHUNK_TOKEN_HEADER.to_owned(), self.chunk_token.clone())]));
        }
        Ok(data)
    }

    /// The body of chunk `n`: JSON rows without the outer brackets, or a raw
    /// Arrow IPC stream.
    pub fn chunk(&self, n: usize, format: Format) -> Result<Option<Vec<u8>>, GwError> {
        if n >= self.chunk_count(format) {
            return Ok(None);
        }
        let (first, per) = self.layout(format);
        let rows = self.slice(first + n * per, per);
        Ok(Some(match format {
            Format::Arrow => encode::arrow_ipc_stream(&self.schema, &rows)?,
            Format::Connector => self.connector_schema().ipc_stream(&rows)?,
            Format::Json => {
                let rowset = encode::json_rowset(&rows)?;
                let mut body = Vec::with_capacity(rowset.len() * 32);
                for (i, row) in rowset.iter().enumerate() {
                    if i > 0 {
                        body.push(b',');
                    }
                    serde_json::to_writer(&mut body, row).map_err(GwError::internal)?;
                }
                body
            }
        }))
    }

    /// The persisted form, when the result's Arrow IPC fits in `cap` bytes.
    pub fn persisted(&self, cap: usize) -> Result<Option<GatewayResultRow>, GwError> {
        if !self.kept || self.size() > cap {
            return Ok(None);
        }
        let ipc = encode::arrow_ipc_stream(&self.schema, &self.batches)?;
        if ipc.len() > cap {
            return Ok(None);
        }
        Ok(Some(GatewayResultRow {
            statement_type_id: self.statement_type_id,
            rows_affected: self.rows_affected.map(|n| n as i64),
            total_rows: self.total as i64,
            ipc: STANDARD.encode(ipc),
        }))
    }

    /// Reads a persisted result back.
    pub fn from_persisted(account_id: &str, row: &GatewayResultRow) -> Result<Self, GwError> {
        let bytes = STANDARD.decode(&row.ipc).map_err(GwError::internal)?;
        let reader =
            arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).map_err(GwError::internal)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>().map_err(GwError::internal)?;
        Ok(Finished::new(
            account_id,
            row.statement_type_id,
            row.rows_affected.map(|n| n as u64),
            schema,
            batches,
            (None, None),
        ))
    }
}

/// Finished results held in memory on this replica, newest last, bounded
/// by age and total size.
#[derive(Debug)]
pub struct ResultCache {
    inner: Mutex<CacheInner>,
    max_bytes: usize,
    ttl: Duration,
}

#[derive(Debug, Default)]
struct CacheInner {
    entries: HashMap<String, (Arc<Finished>, Instant, usize)>,
    order: VecDeque<String>,
    bytes: usize,
}

impl ResultCache {
    /// A cache holding at most `max_bytes` for at most `ttl`.
    pub fn new(max_bytes: usize, ttl: Duration) -> Self {
        Self { inner: Mutex::default(), max_bytes, ttl }
    }

    /// Stores a result.
    pub fn insert(&self, query_id: &str, result: Arc<Finished>) {
        let size = result.size();
        let mut inner = self.inner.lock();
        inner.bytes += size;
        inner.entries.insert(query_id.to_owned(), (result, Instant::now(), size));
        inner.order.push_back(query_id.to_owned());
        self.evict(&mut inner, query_id);
    }

    fn evict(&self, inner: &mut CacheInner, keep: &str) {
        while let Some(oldest) = inner.order.front().cloned() {
            let expired = inner.entries.get(&oldest).is_none_or(|(_, at, _)| at.elapsed() > self.ttl);
            let over = inner.bytes > self.max_bytes && oldest != keep;
            if !expired && !over {
                break;
            }
            inner.order.pop_front();
            if let Some((_, _, size)) = inner.entries.remove(&oldest) {
                inner.bytes -= size;
            }
        }
    }

    /// A result of `account_id` (none for another account's: T05).
    pub fn get(&self, account_id: &str, query_id: &str) -> Option<Arc<Finished>> {
        let inner = self.inner.lock();
        inner
            .entries
            .get(query_id)
            .filter(|(r, at, _)| r.account_id == account_id && at.elapsed() <= self.ttl)
            .map(|(r, _, _)| r.clone())
    }

    /// A result by id alone, for chunk downloads (authenticated by the
    /// chunk token instead of the session).
    pub fn get_for_chunk(&self, query_id: &str) -> Option<Arc<Finished>> {
        let inner = self.inner.lock();
        inner.entries.get(query_id).filter(|(_, at, _)| at.elapsed() <= self.ttl).map(|(r, _, _)| r.clone())
    }

    /// Drops expired results.
    pub fn purge(&self) {
        let mut inner = self.inner.lock();
        self.evict(&mut inner, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array};
    use arrow_schema::{DataType, Field, Schema};

    fn result(rows: i64, per_batch: i64) -> Finished {
        let schema = Arc::new(Schema::new(vec![Field::new("N", DataType::Int64, false)]));
        let batches = (0..rows)
            .step_by(per_batch as usize)
            .map(|start| {
                let values: Vec<i64> = (start..(start + per_batch).min(rows)).collect();
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(values)) as ArrayRef]).unwrap()
            })
            .collect();
        Finished::new("acct", 0x1000, None, schema, batches, (None, None))
    }

    #[test]
    fn slices_cross_batch_boundaries_without_losing_rows() {
        let r = result(25, 10);
        let rows: Vec<i64> = r
            .slice(5, 12)
            .iter()
            .flat_map(|b| b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec())
            .collect();
        assert_eq!(rows, (5..17).collect::<Vec<_>>());
        assert!(r.slice(25, 10).is_empty());
    }

    #[test]
    fn json_chunks_cover_every_row_once_and_have_no_outer_brackets() {
        let r = result(JSON_FIRST_ROWS as i64 + JSON_CHUNK_ROWS as i64 + 7, 4096);
        let data = r.response("q", Format::Json, "http://h").unwrap();
        assert_eq!(data.rowset.as_ref().unwrap().len(), JSON_FIRST_ROWS);
        assert_eq!(data.chunks.len(), 2);
        assert_eq!(data.chunks.iter().map(|c| c.row_count).sum::<u64>(), JSON_CHUNK_ROWS as u64 + 7);
        let last = String::from_utf8(r.chunk(1, Format::Json).unwrap().unwrap()).unwrap();
        let parsed: Vec<Vec<String>> = serde_json::from_str(&format!("[{last}]")).unwrap();
        assert_eq!(parsed.len(), 7);
        assert_eq!(parsed[6][0], (JSON_FIRST_ROWS + JSON_CHUNK_ROWS + 6).to_string());
        assert!(r.chunk(2, Format::Json).unwrap().is_none());
    }

    #[test]
    fn connector_arrow_is_snowflakes_encoding_in_every_chunk_and_dml_counts_stay_json() {
        let r = result(ARROW_FIRST_ROWS as i64 + 10, 4096);
        let data = r.response("q", Format::Connector, "http://h").unwrap();
        assert_eq!(data.query_result_format.as_deref(), Some("arrow"));
        assert!(data.rowset.is_none());
        assert_eq!(data.chunks.len(), 1);
        assert!(data.chunks[0].url.ends_with("?format=connector_arrow"), "{}", data.chunks[0].url);
        let inline = STANDARD.decode(data.rowset_base64.unwrap()).unwrap();
        let chunk = r.chunk(0, Format::Connector).unwrap().unwrap();
        for bytes in [inline, chunk] {
            let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
            let field = reader.schema().field(0).clone();
            assert_eq!(field.metadata().get("logicalType").map(String::as_str), Some("FIXED"));
            assert_eq!(field.metadata().get("scale").map(String::as_str), Some("0"));
        }
        assert_eq!(Format::parse(Format::Connector.as_str()), Format::Connector);

        let empty = Finished::new("acct", 0x1000, None, r.schema.clone(), Vec::new(), (None, None));
        let data = empty.response("q", Format::Connector, "http://h").unwrap();
        assert_eq!(data.rowset_base64.as_deref(), Some(""), "no rows: an empty rowset, as Snowflake sends");

        let schema = Arc::new(Schema::new(vec![Field::new("number of rows inserted", DataType::Int64, false)]));
        let counts =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![2])) as ArrayRef]).unwrap();
        let dml = Finished::new("acct", 0x3100, Some(2), schema, vec![counts], (None, None));
        let data = dml.response("q", Format::Connector, "http://h").unwrap();
        assert_eq!(data.query_result_format.as_deref(), Some("json"));
        assert_eq!(data.rowset, Some(vec![vec![Some("2".to_owned())]]));
    }

    #[test]
    fn the_cache_hides_other_accounts_results_and_evicts_by_size() {
        let cache = ResultCache::new(1, Duration::from_secs(60));
        cache.insert("a", Arc::new(result(10, 10)));
        assert!(cache.get("acct", "a").is_some());
        assert!(cache.get("other", "a").is_none());
        cache.insert("b", Arc::new(result(10, 10)));
        assert!(cache.get("acct", "a").is_none(), "over the byte budget the oldest goes");
        assert!(cache.get("acct", "b").is_some(), "the newest result stays even alone over budget");
    }
}
