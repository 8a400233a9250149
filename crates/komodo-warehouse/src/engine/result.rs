//! What a statement produces: its kind, its result collected or as a stream.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryPool};
use futures::{Stream, StreamExt};

use crate::WarehouseError;
use crate::memory::HeldMemory;

/// A session's identifier (a random UUID); meaningful only together with
/// the account that opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub uuid::Uuid);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What kind of statement ran (the gateway derives Snowflake's
/// `statementTypeId` and the DB-API `rowcount` from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatementKind {
    /// `SELECT`, `WITH`, `VALUES`.
    Query,
    /// `INSERT` into a temporary table.
    Insert,
    /// `CREATE TEMPORARY TABLE`.
    CreateTable,
    /// `DROP TABLE` of a temporary table.
    DropTable,
    /// `USE DATABASE` / `USE SCHEMA`.
    Use,
    /// `SHOW TABLES`, `SHOW SCHEMAS`, `SHOW DATABASES`.
    Show,
    /// `UPDATE`, `DELETE`, `MERGE` (the rows changed are the sum of the
    /// result's one row).
    Dml,
    /// `CREATE`/`DROP DATABASE`, `SCHEMA`, `VIEW`, `TRUNCATE`, `UNDROP`.
    Ddl,
    /// Accepted and ignored: `BEGIN`, `COMMIT`, `ROLLBACK`, `ALTER SESSION SET`.
    NoOp,
}

impl StatementKind {
    /// Snowflake's `statementTypeId` for this kind (the connectors use it to
    /// decide whether `rowcount` is the number of rows or of rows changed).
    pub fn snowflake_statement_type_id(self) -> i64 {
        match self {
            StatementKind::Query | StatementKind::Show => 0x1000,
            StatementKind::Insert => 0x3000 + 0x100,
            StatementKind::Dml => 0x3000 + 0x200,
            StatementKind::CreateTable | StatementKind::DropTable | StatementKind::Ddl => 0x6000 + 0x200,
            StatementKind::Use | StatementKind::NoOp => 0x4000,
        }
    }
}

/// A finished statement's result, fully collected.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// What ran.
    pub kind: StatementKind,
    /// The result's Arrow schema.
    pub schema: SchemaRef,
    /// The result rows.
    pub batches: Vec<RecordBatch>,
    /// Rows inserted, for DML.
    pub rows_affected: Option<u64>,
    /// The memory the batches hold, counted against the session's and the
    /// server's limits for as long as any clone of it lives (keep it with
    /// the batches when holding a result for a client).
    pub held: HeldMemory,
}

impl QueryResult {
    /// The number of rows in [`QueryResult::batches`].
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// A statement's result as a stream of Arrow batches, still under the
/// statement's time limit and cancellation token: polling it after the
/// deadline yields [`WarehouseError::Timeout`], after cancellation
/// [`WarehouseError::Cancelled`]. Dropping it stops the statement.
pub struct QueryStream {
    /// What ran.
    pub kind: StatementKind,
    /// The result's Arrow schema.
    pub schema: SchemaRef,
    /// Rows inserted, for DML.
    pub rows_affected: Option<u64>,
    inner: BatchStream,
    /// The session's memory pool, which [`QueryStream::collect`] counts
    /// the collected batches against.
    pool: Option<Arc<dyn MemoryPool>>,
}

pub(crate) type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch, WarehouseError>> + Send>>;

impl std::fmt::Debug for QueryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStream").field("kind", &self.kind).field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl Stream for QueryStream {
    type Item = Result<RecordBatch, WarehouseError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl QueryStream {
    /// A stream of `inner`'s batches whose collection counts against `pool`.
    pub(crate) fn new(
        kind: StatementKind,
        schema: SchemaRef,
        rows_affected: Option<u64>,
        inner: BatchStream,
        pool: Option<Arc<dyn MemoryPool>>,
    ) -> Self {
        Self { kind, schema, rows_affected, inner, pool }
    }

    /// Collects the remaining batches. Their memory counts against the
    /// session's limit (and the server's), as long as the result lives: a
    /// result larger than what is left fails with
    /// [`WarehouseError::MemoryLimit`].
    pub async fn collect(mut self) -> Result<QueryResult, WarehouseError> {
        let pool = self.pool.take();
        let mut reservation = pool.as_ref().map(|pool| MemoryConsumer::new("query result").register(pool));
        let mut batches = Vec::new();
        // Small batches are joined into pieces as they come: a result held
        // for its client then sits in a few large allocations instead of
        // thousands of small ones interleaved with what its operators freed
        // (which the allocator could not give back).
        let mut pending = Vec::new();
        let mut pending_bytes = 0;
        while let Some(batch) = self.next().await {
            let batch = batch?;
            let size = batch.get_array_memory_size();
            if let (Some(r), Some(pool)) = (&mut reservation, &pool)
                && r.try_grow(size).is_err()
            {
                let limit = match pool.memory_limit() {
                    MemoryLimit::Finite(n) => format!("{} MiB", n >> 20),
                    _ => "its limit".to_owned(),
                };
                return Err(WarehouseError::MemoryLimit(format!(
                    "the result does not fit in the memory a session may hold ({limit}, results held included); \
                     fetch fewer rows or columns, or aggregate"
                )));
            }
            pending.push(batch);
            pending_bytes += size;
            if pending_bytes >= HELD_PIECE_BYTES {
                join_pending(&mut pending, pending_bytes, reservation.as_mut(), &mut batches);
                pending_bytes = 0;
            }
        }
        join_pending(&mut pending, pending_bytes, reservation.as_mut(), &mut batches);
        Ok(QueryResult {
            kind: self.kind,
            schema: self.schema,
            batches,
            rows_affected: self.rows_affected,
            held: HeldMemory::new(reservation),
        })
    }

    pub(crate) fn ready(
        kind: StatementKind,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        rows_affected: Option<u64>,
    ) -> Self {
        let inner = Box::pin(futures::stream::iter(batches.into_iter().map(Ok)));
        Self { kind, schema, rows_affected, inner, pool: None }
    }
}

/// About how large the pieces a collected result is kept in are.
const HELD_PIECE_BYTES: usize = 4 << 20;

/// Moves `pending` (`bytes` counted by `reservation`) into `batches` as one
/// batch, its count adjusted to the joined size; as they are when they
/// cannot be joined.
fn join_pending(
    pending: &mut Vec<RecordBatch>,
    bytes: usize,
    reservation: Option<&mut datafusion::execution::memory_pool::MemoryReservation>,
    batches: &mut Vec<RecordBatch>,
) {
    if pending.len() < 2 {
        batches.append(pending);
        return;
    }
    let joined = datafusion::arrow::compute::concat_batches(&pending[0].schema(), pending.iter());
    let Ok(joined) = joined else {
        batches.append(pending);
        return;
    };
    let size = joined.get_array_memory_size();
    if let Some(r) = reservation
        && r.try_resize((r.size() + size).saturating_sub(bytes)).is_err()
    {
        batches.append(pending);
        return;
    }
    pending.clear();
    batches.push(joined);
}

pub(crate) fn status_result(kind: StatementKind, message: String) -> QueryStream {
    let schema = Arc::new(Schema::new(vec![Field::new("status", DataType::Utf8, false)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(vec![message])) as ArrayRef])
        .expect("one utf8 column");
    QueryStream::ready(kind, schema, vec![batch], None)
}

pub(crate) fn strings_result(names: &[&str], columns: Vec<Vec<String>>) -> QueryStream {
    let schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect::<Vec<_>>()));
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|c| Arc::new(StringArray::from(c)) as ArrayRef).collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).expect("columns match the schema");
    QueryStream::ready(StatementKind::Show, schema, vec![batch], None)
}
