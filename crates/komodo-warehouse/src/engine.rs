//! The embedded engine: sessions over each account's catalog, statements
//! under a time limit, a memory limit and a cancellation token.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{ParamValues, TableReference};
use datafusion::config::Dialect;
use datafusion::datasource::MemTable;
use datafusion::execution::TaskContext;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::{DdlStatement, LogicalPlan, WriteOp};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::{DFParserBuilder, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{self, ObjectName, ObjectType, ShowStatementOptions, Statement, Use};
use futures::{FutureExt as _, Stream, StreamExt};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::catalog::{self, AccountData, SessionCatalogList, SessionTables, TableKey};
use crate::dialect::{self, SessionValues};
use crate::parser::BudgetedSnowflake;
use crate::{Param, WarehouseError};

/// Limits and tuning of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The longest a statement may run, result streaming included
    /// (Snowflake's `STATEMENT_TIMEOUT_IN_SECONDS`). Default 5 minutes.
    pub statement_timeout: Duration,
    /// The memory a session's statements may use at once, in bytes. There
    /// is no spilling to disk, so a statement that needs more fails with
    /// [`WarehouseError::MemoryLimit`]. Default 1 GiB.
    pub session_memory_limit: usize,
    /// Rows per Arrow batch. Default 8192, DataFusion's. Larger batches
    /// stream large results faster (32768 took about a fifth less time and
    /// CPU for ten million rows) but make each step an operator takes
    /// without yielding longer: a cross join's step against its other side
    /// grows with it, and a statement past its deadline or cancelled stops
    /// only at the next step, holding the engine's threads meanwhile.
    pub batch_size: usize,
    /// Parallelism of one statement (DataFusion's `target_partitions`).
    /// Default: the number of CPUs.
    pub target_partitions: usize,
    /// Threads of the engine's own runtime, on which every statement is
    /// planned and run, apart from the threads that serve requests (so a
    /// CPU-bound statement never stalls them). Default: the number of CPUs.
    pub worker_threads: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(300),
            session_memory_limit: 1 << 30,
            batch_size: 8192,
            target_partitions: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            worker_threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

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
            StatementKind::CreateTable | StatementKind::DropTable => 0x6000 + 0x200,
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
}

type BatchStream = Pin<Box<dyn Stream<Item = Result<RecordBatch, WarehouseError>> + Send>>;

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
    /// Collects the remaining batches.
    pub async fn collect(mut self) -> Result<QueryResult, WarehouseError> {
        let mut batches = Vec::new();
        while let Some(batch) = self.next().await {
            batches.push(batch?);
        }
        Ok(QueryResult { kind: self.kind, schema: self.schema, batches, rows_affected: self.rows_affected })
    }

    fn ready(kind: StatementKind, schema: SchemaRef, batches: Vec<RecordBatch>, rows_affected: Option<u64>) -> Self {
        Self { kind, schema, rows_affected, inner: Box::pin(futures::stream::iter(batches.into_iter().map(Ok))) }
    }
}

/// Wraps a result stream with the deadline and the cancellation token.
struct Limited {
    inner: BatchStream,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
    done: bool,
}

impl Stream for Limited {
    type Item = Result<RecordBatch, WarehouseError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.cancelled.as_mut().poll(cx).is_ready() {
            self.done = true;
            return Poll::Ready(Some(Err(WarehouseError::Cancelled)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.done = true;
            let timeout = self.timeout;
            return Poll::Ready(Some(Err(WarehouseError::Timeout(timeout))));
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

use std::future::Future;

struct SessionEntry {
    account_id: String,
    tables: Arc<SessionTables>,
    current: Mutex<(Option<String>, Option<String>)>,
    base: SessionState,
    /// A copy of `base` kept between statements: planning one sets its
    /// defaults and start time on a copy, and copying the state (its
    /// function registries) is a good part of planning a small statement.
    spare: Mutex<Option<SessionState>>,
    /// What plans run with (the function registries, the memory pool);
    /// the same for every statement of the session.
    task: Arc<TaskContext>,
}

/// A session's planning state, lent for one statement and put back as
/// the spare when the statement is planned (or dropped on the way).
struct Planning<'a> {
    slot: &'a Mutex<Option<SessionState>>,
    state: Option<SessionState>,
}

impl<'a> Planning<'a> {
    fn borrow(s: &'a SessionEntry) -> Self {
        let spare = s.spare.lock().unwrap_or_else(|e| e.into_inner()).take();
        Self { slot: &s.spare, state: Some(spare.unwrap_or_else(|| s.base.clone())) }
    }
}

impl std::ops::Deref for Planning<'_> {
    type Target = SessionState;
    fn deref(&self) -> &SessionState {
        self.state.as_ref().expect("lent until dropped")
    }
}

impl std::ops::DerefMut for Planning<'_> {
    fn deref_mut(&mut self) -> &mut SessionState {
        self.state.as_mut().expect("lent until dropped")
    }
}

impl Drop for Planning<'_> {
    fn drop(&mut self) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = self.state.take();
    }
}

/// The embedded warehouse over a directory of accounts:
/// `<root>/<account_id>/<DATABASE>/<SCHEMA>/<TABLE>/*.parquet`.
///
/// Cheap to share (`Arc<Engine>`); every method takes `&self`.
pub struct Engine {
    root: PathBuf,
    config: EngineConfig,
    accounts: Mutex<HashMap<String, Arc<RwLock<Arc<AccountData>>>>>,
    sessions: RwLock<HashMap<SessionId, Arc<SessionEntry>>>,
    workers: Workers,
}

/// The engine's own tokio runtime. Statements are planned and run on it,
/// so that DataFusion's CPU-bound work (and the tasks it spawns) never
/// occupies the threads of the caller's runtime, and threads with a large
/// stack ([`PLANNING_STACK`]) are ready for deeply nested statements
/// without starting one per statement.
struct Workers(Option<tokio::runtime::Runtime>);

impl Workers {
    fn new(threads: usize) -> Result<Self, WarehouseError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("warehouse")
            .thread_stack_size(PLANNING_STACK)
            .enable_time()
            .build()
            .map_err(|e| WarehouseError::Internal(format!("cannot start the warehouse's threads: {e}")))?;
        Ok(Self(Some(runtime)))
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("the runtime lives as long as the engine").handle()
    }

    /// Plans a statement (`compile`) on the engine's runtime and, when it
    /// has a plan, goes on running it in the same task, so that a small
    /// statement crosses between the caller's threads and the engine's
    /// once each way. Dropping the returned future before the statement is
    /// planned aborts the planning.
    ///
    /// Once planned, the plan stops (and its memory is freed) when the
    /// receiver of its batches is dropped, when `cancel` is cancelled or
    /// at `deadline`, even while the consumer is not polling.
    async fn start(
        &self,
        compile: impl Future<Output = Result<Compiled, WarehouseError>> + Send + 'static,
        cancel: CancellationToken,
        deadline: tokio::time::Instant,
    ) -> Result<Started, WarehouseError> {
        let (head_tx, head_rx) = tokio::sync::oneshot::channel();
        let mut task = AbortOnDrop(Some(self.handle().spawn(async move {
            let (planned, plan, task) = match compile.await {
                Err(e) => return drop(head_tx.send(Err(e))),
                Ok(Compiled::Ready(stream)) => return drop(head_tx.send(Ok(Started::Ready(stream)))),
                Ok(Compiled::Query { plan, task }) => (Planned::Query, plan, task),
                Ok(Compiled::CreateTemp { key, plan, task }) => (Planned::CreateTemp(key), plan, task),
                Ok(Compiled::Insert { plan, task }) => (Planned::Insert, plan, task),
            };
            let schema = plan.schema();
            let mut stream = match datafusion::physical_plan::execute_stream(plan, task) {
                Ok(stream) => stream,
                Err(e) => {
                    let ready = VecDeque::from([Err(WarehouseError::from_datafusion(e))]);
                    return drop(head_tx.send(Ok(Started::Running { planned, schema, ready, batches: None })));
                }
            };
            // What the plan has ready at once (all of a small result) goes
            // with the head, saving the caller a wake-up per batch; a few
            // MB at most, and nothing more once the caller has gone or the
            // statement is cancelled.
            let mut ready = VecDeque::new();
            let (mut rest, mut bytes) = (true, 0);
            while rest && bytes < PREFETCH_BYTES && !head_tx.is_closed() && !cancel.is_cancelled() {
                match stream.next().now_or_never() {
                    Some(Some(Ok(batch))) => {
                        bytes += batch.get_array_memory_size();
                        ready.push_back(Ok(batch));
                    }
                    Some(Some(Err(e))) => {
                        ready.push_back(Err(WarehouseError::from_datafusion(e)));
                        rest = false;
                    }
                    Some(None) => rest = false,
                    None => break,
                }
            }
            if !rest {
                return drop(head_tx.send(Ok(Started::Running { planned, schema, ready, batches: None })));
            }
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            if head_tx.send(Ok(Started::Running { planned, schema, ready, batches: Some(rx) })).is_ok() {
                pump(stream, tx, cancel, deadline).await;
            }
        })));
        match head_rx.await {
            Ok(head) => {
                // Running from here on, stopped by its own rules.
                task.detach();
                head
            }
            Err(_) => match (&mut task).await {
                Err(e) if e.is_panic() => Err(WarehouseError::Internal("planning the statement panicked".into())),
                _ => Err(WarehouseError::Cancelled),
            },
        }
    }
}

/// What the engine task hands back once a statement is planned.
enum Started {
    /// Answered without a plan to run.
    Ready(QueryStream),
    /// Planned and running: the batches it had ready at once, then (unless
    /// those are all) the rest on `batches`, where `Ok(None)` marks the end.
    Running {
        planned: Planned,
        schema: SchemaRef,
        ready: VecDeque<Result<RecordBatch, WarehouseError>>,
        batches: Option<BatchReceiver>,
    },
}

/// The batches of a running plan, `Ok(None)` marking the end.
type BatchReceiver = tokio::sync::mpsc::Receiver<Result<Option<RecordBatch>, WarehouseError>>;

/// What a running plan's result is for.
enum Planned {
    Query,
    CreateTemp(TableKey),
    Insert,
}

/// Sends the batches of a running plan to `tx` until it ends, fails, or is
/// stopped: by `cancel`, at `deadline`, or by the receiver going away.
/// Whichever ends first drops the other, so a stop drops the plan.
async fn pump(
    mut stream: datafusion::execution::SendableRecordBatchStream,
    tx: tokio::sync::mpsc::Sender<Result<Option<RecordBatch>, WarehouseError>>,
    cancel: CancellationToken,
    deadline: tokio::time::Instant,
) {
    let stop = async {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = tx.closed() => {}
        }
    };
    let run = async {
        while let Some(item) = stream.next().await {
            let failed = item.is_err();
            if tx.send(item.map(Some).map_err(WarehouseError::from_datafusion)).await.is_err() || failed {
                return;
            }
        }
        let _ = tx.send(Ok(None)).await;
    };
    tokio::select! {
        _ = stop => {}
        _ = run => {}
    }
}

/// The caller's side of a running plan: its batches as a stream. A plan
/// that stops early ends the stream with the reason as its error, never
/// as a short result.
fn receive(
    ready: VecDeque<Result<RecordBatch, WarehouseError>>,
    batches: Option<BatchReceiver>,
    cancel: CancellationToken,
    deadline: tokio::time::Instant,
    timeout: Duration,
) -> BatchStream {
    let stopped = move || {
        if cancel.is_cancelled() {
            WarehouseError::Cancelled
        } else if tokio::time::Instant::now() >= deadline {
            WarehouseError::Timeout(timeout)
        } else {
            WarehouseError::Internal(
                "the statement stopped unexpectedly: running it panicked, or the engine shut down".into(),
            )
        }
    };
    let rest = batches.map(|rx| {
        futures::stream::unfold(Some(rx), move |rx| {
            let stopped = stopped.clone();
            async move {
                let mut rx = rx?;
                match rx.recv().await {
                    Some(Ok(Some(batch))) => Some((Ok(batch), Some(rx))),
                    Some(Ok(None)) => None,
                    Some(Err(e)) => Some((Err(e), None)),
                    None => Some((Err(stopped()), None)),
                }
            }
        })
    });
    Box::pin(futures::stream::iter(ready).chain(futures::stream::iter(rest).flatten()))
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which is not allowed
        // inside another runtime; running statements have been dropped
        // with their streams or stop at their next batch.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A spawned task that is aborted when its handle is dropped, unless it
/// was detached.
struct AbortOnDrop<T>(Option<tokio::task::JoinHandle<T>>);

impl<T> AbortOnDrop<T> {
    /// Lets the task run on by itself.
    fn detach(&mut self) {
        self.0 = None;
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.as_mut() {
            Some(handle) => Pin::new(handle).poll(cx),
            None => Poll::Pending,
        }
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("root", &self.root).field("config", &self.config).finish_non_exhaustive()
    }
}

fn status_result(kind: StatementKind, message: String) -> QueryStream {
    let schema = Arc::new(Schema::new(vec![Field::new("status", DataType::Utf8, false)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(vec![message])) as ArrayRef])
        .expect("one utf8 column");
    QueryStream::ready(kind, schema, vec![batch], None)
}

fn not_allowed(what: &str) -> WarehouseError {
    WarehouseError::NotAllowed(format!(
        "{what} is not allowed: the embedded warehouse runs queries on the account's data and the session's temporary tables only"
    ))
}

fn object_name_parts(name: &ObjectName) -> Vec<String> {
    name.0.iter().map(|p| p.as_ident().map(|i| i.value.clone()).unwrap_or_else(|| p.to_string())).collect()
}

impl Engine {
    /// An engine over `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>, config: EngineConfig) -> Result<Self, WarehouseError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| WarehouseError::Io { path: root.clone(), source })?;
        let workers = Workers::new(config.worker_threads)?;
        Ok(Self { root, config, accounts: Mutex::default(), sessions: RwLock::default(), workers })
    }

    /// Tasks of statements alive on the engine's threads: planning,
    /// running, or streaming results (0 when the engine is idle). A
    /// statement that is cancelled, times out or whose result is dropped
    /// leaves none behind.
    pub fn active_tasks(&self) -> usize {
        self.workers.handle().metrics().num_alive_tasks()
    }

    /// The warehouse directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The engine's limits.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The directory of an account's subscription data (where
    /// [`crate::demo::generate`] writes).
    pub fn account_dir(&self, account_id: &str) -> Result<PathBuf, WarehouseError> {
        if !catalog::is_safe_segment(account_id) {
            return Err(WarehouseError::SessionNotFound);
        }
        Ok(self.root.join(account_id))
    }

    async fn account(&self, account_id: &str) -> Result<Arc<RwLock<Arc<AccountData>>>, WarehouseError> {
        if let Some(a) = self.accounts.lock().unwrap_or_else(|e| e.into_inner()).get(account_id) {
            return Ok(a.clone());
        }
        let data = catalog::load_account(&self.account_dir(account_id)?).await?;
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        Ok(accounts.entry(account_id.to_owned()).or_insert_with(|| Arc::new(RwLock::new(Arc::new(data)))).clone())
    }

    /// Re-reads an account's directory (after loading data into it); open
    /// sessions see the new tables from their next statement.
    pub async fn reload_account(&self, account_id: &str) -> Result<(), WarehouseError> {
        let data = Arc::new(catalog::load_account(&self.account_dir(account_id)?).await?);
        let cell = self.account(account_id).await?;
        *cell.write().unwrap_or_else(|e| e.into_inner()) = data;
        Ok(())
    }

    /// Generates the demo data set into the account's directory on a
    /// blocking thread, then reloads the account (see [`crate::demo`]).
    pub async fn load_demo(
        &self,
        account_id: &str,
        options: crate::demo::DemoOptions,
        progress: impl FnMut(&crate::demo::Progress) + Send + 'static,
    ) -> Result<crate::demo::DemoSummary, WarehouseError> {
        let dir = self.account_dir(account_id)?;
        let summary = tokio::task::spawn_blocking(move || crate::demo::generate(&dir, &options, progress))
            .await
            .map_err(|e| WarehouseError::Internal(format!("demo generation failed: {e}")))??;
        self.reload_account(account_id).await?;
        Ok(summary)
    }

    /// Opens a session on `account_id`'s warehouse with an optional current
    /// database and schema, as identifiers: `demo` means `DEMO`, `"demo"`
    /// (with the quotes) means `demo` (the login request's `databaseName`
    /// and `schemaName` can be passed as they come).
    pub async fn open_session(
        &self,
        account_id: &str,
        database: Option<&str>,
        schema: Option<&str>,
    ) -> Result<SessionId, WarehouseError> {
        let account = self.account(account_id).await?;
        let tables = Arc::new(SessionTables { account, temps: Mutex::default() });
        let mut config = SessionConfig::new()
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(false)
            .with_batch_size(self.config.batch_size)
            .with_target_partitions(self.config.target_partitions.max(1));
        {
            let options = config.options_mut();
            options.sql_parser.enable_ident_normalization = false;
            options.sql_parser.dialect = Dialect::Snowflake;
        }
        let pool = TrackConsumersPool::new(
            GreedyMemoryPool::new(self.config.session_memory_limit),
            std::num::NonZeroUsize::new(3).expect("3 > 0"),
        );
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(pool))
            .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled))
            // Listings are not cached: reloaded data is visible at once.
            .with_cache_manager(CacheManagerConfig::default().with_list_files_cache_limit(0))
            .build_arc()
            .map_err(WarehouseError::from_datafusion)?;
        let mut base = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_catalog_list(Arc::new(SessionCatalogList(tables.clone())))
            .build();
        // Identifiers arrive UPPERCASE; table functions are registered lower case.
        let functions: Vec<_> = base.table_functions().iter().map(|(n, f)| (n.clone(), f.function().clone())).collect();
        for (name, function) in functions {
            base.register_udtf(&name.to_uppercase(), function);
        }
        let id = SessionId(uuid::Uuid::new_v4());
        let entry = SessionEntry {
            account_id: account_id.to_owned(),
            tables,
            current: Mutex::new((database.map(identifier), schema.map(identifier))),
            task: base.task_ctx(),
            spare: Mutex::new(None),
            base,
        };
        self.sessions.write().unwrap_or_else(|e| e.into_inner()).insert(id, Arc::new(entry));
        Ok(id)
    }

    /// Closes a session and drops its temporary tables. Closing a session
    /// that does not exist (or is another account's) is an error.
    pub fn close_session(&self, account_id: &str, session: SessionId) -> Result<(), WarehouseError> {
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        match sessions.get(&session) {
            Some(s) if s.account_id == account_id => {
                sessions.remove(&session);
                Ok(())
            }
            _ => Err(WarehouseError::SessionNotFound),
        }
    }

    /// The current database and schema of a session.
    pub fn session_context(
        &self,
        account_id: &str,
        session: SessionId,
    ) -> Result<(Option<String>, Option<String>), WarehouseError> {
        let s = self.session(account_id, session)?;
        let current = s.current.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(current)
    }

    fn session(&self, account_id: &str, session: SessionId) -> Result<Arc<SessionEntry>, WarehouseError> {
        match self.sessions.read().unwrap_or_else(|e| e.into_inner()).get(&session) {
            Some(s) if s.account_id == account_id => Ok(s.clone()),
            _ => Err(WarehouseError::SessionNotFound),
        }
    }

    /// Runs one statement and collects its result.
    ///
    /// `params` bind `?` (in order) and `:1`-style positional placeholders;
    /// they are bound on the plan, never spliced into the text. The
    /// statement stops with [`WarehouseError::Cancelled`] when `cancel` is
    /// cancelled, with [`WarehouseError::Timeout`] after the statement time
    /// limit.
    pub async fn execute(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        params: Vec<Param>,
        cancel: CancellationToken,
    ) -> Result<QueryResult, WarehouseError> {
        self.execute_stream(account_id, session, sql, params, cancel).await?.collect().await
    }

    /// Runs one statement and returns its result as a stream of batches
    /// (for large results). See [`Engine::execute`].
    pub async fn execute_stream(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        params: Vec<Param>,
        cancel: CancellationToken,
    ) -> Result<QueryStream, WarehouseError> {
        let s = self.session(account_id, session)?;
        let deadline = tokio::time::Instant::now() + self.config.statement_timeout;
        let work = self.run(s, sql, params, cancel.clone(), deadline);
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(WarehouseError::Cancelled),
            _ = tokio::time::sleep_until(deadline) => Err(WarehouseError::Timeout(self.config.statement_timeout)),
            r = work => r,
        }
    }

    async fn run(
        &self,
        s: Arc<SessionEntry>,
        sql: &str,
        params: Vec<Param>,
        cancel: CancellationToken,
        deadline: tokio::time::Instant,
    ) -> Result<QueryStream, WarehouseError> {
        let prepared = dialect::prepare(sql)?;
        let session = s.clone();
        let compile = async move { compile(&session, prepared, params).await };
        let (planned, schema, ready, batches) = match self.workers.start(compile, cancel.clone(), deadline).await? {
            Started::Ready(stream) => return Ok(stream),
            Started::Running { planned, schema, ready, batches } => (planned, schema, ready, batches),
        };
        let timeout = self.config.statement_timeout;
        let inner = Box::pin(Limited {
            inner: receive(ready, batches, cancel.clone(), deadline, timeout),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            timeout,
            cancelled: Box::pin(cancel.cancelled_owned()),
            done: false,
        });
        match planned {
            Planned::Query => Ok(QueryStream { kind: StatementKind::Query, schema, rows_affected: None, inner }),
            Planned::CreateTemp(key) => {
                let result =
                    QueryStream { kind: StatementKind::Query, schema: schema.clone(), rows_affected: None, inner }
                        .collect()
                        .await?;
                let table = MemTable::try_new(schema, vec![result.batches]).map_err(WarehouseError::from_datafusion)?;
                s.tables.temps.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), Arc::new(table));
                Ok(status_result(StatementKind::CreateTable, format!("Table {} successfully created.", key.2)))
            }
            Planned::Insert => {
                let result = QueryStream {
                    kind: StatementKind::Insert,
                    schema: Arc::new(Schema::empty()),
                    rows_affected: None,
                    inner,
                }
                .collect()
                .await?;
                let mut count = 0u64;
                for b in &result.batches {
                    if let Some(c) = b.column(0).as_any().downcast_ref::<UInt64Array>() {
                        count += c.iter().flatten().sum::<u64>();
                    }
                }
                let schema =
                    Arc::new(Schema::new(vec![Field::new("number of rows inserted", DataType::UInt64, false)]));
                let batch =
                    RecordBatch::try_new(schema.clone(), vec![Arc::new(UInt64Array::from(vec![count])) as ArrayRef])
                        .map_err(|e| WarehouseError::Internal(e.to_string()))?;
                Ok(QueryStream::ready(StatementKind::Insert, schema, vec![batch], Some(count)))
            }
        }
    }
}

/// What the planning thread hands back.
enum Compiled {
    Ready(QueryStream),
    Query { plan: Arc<dyn ExecutionPlan>, task: Arc<TaskContext> },
    CreateTemp { key: TableKey, plan: Arc<dyn ExecutionPlan>, task: Arc<TaskContext> },
    Insert { plan: Arc<dyn ExecutionPlan>, task: Arc<TaskContext> },
}

/// How much of what a plan has ready at once it may hand over with its
/// head (batches past this wait for the caller to read them).
const PREFETCH_BYTES: usize = 8 << 20;

/// Stack of the threads that parse, rewrite and plan statements: deep
/// expressions recurse in sqlparser's visitors and DataFusion's optimizer
/// (reserved, not committed, so it costs address space only).
const PLANNING_STACK: usize = 64 << 20;

/// Parses the text of [`dialect::prepare`] into its one statement:
/// DataFusion's parser in Snowflake's dialect, nesting limited to 64, work
/// limited by [`BudgetedSnowflake`], and DataFusion's own statements
/// (`CREATE EXTERNAL TABLE`, `COPY ... TO`, `EXPLAIN`, `RESET`) refused.
fn parse_one(prepared: &dialect::Prepared) -> Result<Statement, WarehouseError> {
    let dialect = BudgetedSnowflake::for_statement(&prepared.sql);
    let mut statements = DFParserBuilder::new(prepared.sql.as_str())
        .with_dialect(&dialect)
        .with_recursion_limit(64)
        .build()
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| {
            if dialect.exhausted() {
                WarehouseError::Compilation(
                    "statement too complex to parse: simplify the nesting of CASE, CAST and function calls".into(),
                )
            } else {
                WarehouseError::Compilation(e.to_string())
            }
        })?;
    if statements.len() != 1 {
        return Err(WarehouseError::Compilation(format!("expected exactly one statement, found {}", statements.len())));
    }
    match statements.pop_front().expect("one statement") {
        DfStatement::Statement(s) => Ok(*s),
        DfStatement::CreateExternalTable(_) => Err(not_allowed("CREATE EXTERNAL TABLE")),
        DfStatement::CopyTo(_) => Err(not_allowed("COPY")),
        DfStatement::Explain(_) => Err(not_allowed("EXPLAIN")),
        DfStatement::Reset(_) => Err(not_allowed("RESET")),
    }
}

/// Runs the engine's SQL front end on `sql` without an account or a
/// session: the token pass (identifier case, placeholders, the operator
/// budget), the parser and the rewrite of Snowflake functions, on a thread
/// with the planning thread's stack, as [`Engine::execute`] does before it
/// plans. Nothing is planned or run, so table names need not exist, and
/// which statements may run (SECURITY.md T04) is decided at execution.
///
/// This is the entry point of the SQL fuzz target and property tests
/// (SECURITY.md I01): for any text it returns `Ok` or an error, and never
/// panics. A panic inside it is resumed on the caller's thread, so a
/// fuzzer sees it as a crash.
///
/// ```
/// use komodo_warehouse::{WarehouseError, parse_check};
///
/// assert!(parse_check("select iff(a > 1, 'x', 'y') from t where b = ?").is_ok());
/// assert!(matches!(parse_check("SELEC 1"), Err(WarehouseError::Compilation(_))));
/// ```
pub fn parse_check(sql: &str) -> Result<(), WarehouseError> {
    let prepared = dialect::prepare(sql)?;
    std::thread::scope(|scope| {
        let front_end = std::thread::Builder::new()
            .name("warehouse-parse".into())
            .stack_size(PLANNING_STACK)
            .spawn_scoped(scope, || {
                let mut statement = parse_one(&prepared)?;
                let values = SessionValues {
                    account: "ACCOUNT".into(),
                    database: Some("DATABASE".into()),
                    schema: Some("SCHEMA".into()),
                };
                dialect::rewrite(&mut statement, &values)
            })
            .map_err(|e| WarehouseError::Internal(format!("cannot start the parsing thread: {e}")))?;
        front_end.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

async fn compile(
    s: &SessionEntry,
    prepared: dialect::Prepared,
    params: Vec<Param>,
) -> Result<Compiled, WarehouseError> {
    let this = Commands(s);
    let statement = parse_one(&prepared)?;
    let (database, schema) = s.current.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut statement = statement;
    match &statement {
        Statement::Query(_) | Statement::Insert(_) => {}
        Statement::CreateTable(ct) => {
            if !ct.temporary {
                return Err(not_allowed("CREATE TABLE (only CREATE TEMPORARY TABLE)"));
            }
            if ct.external || ct.location.is_some() {
                return Err(not_allowed("CREATE TABLE ... LOCATION"));
            }
        }
        Statement::Use(u) => return this.use_statement(u).map(Compiled::Ready),
        Statement::Drop { object_type: ObjectType::Table, if_exists, names, .. } => {
            return this.drop_tables(names, *if_exists, &database, &schema).map(Compiled::Ready);
        }
        Statement::ShowTables { show_options, .. } => {
            return Ok(Compiled::Ready(this.show_tables(show_options, &database, &schema)));
        }
        Statement::ShowDatabases { .. } => return Ok(Compiled::Ready(this.show_databases())),
        Statement::ShowSchemas { .. } => return Ok(Compiled::Ready(this.show_schemas(&database))),
        Statement::StartTransaction { .. } | Statement::Commit { .. } | Statement::Rollback { .. } => {
            return Ok(Compiled::Ready(status_result(StatementKind::NoOp, "Statement executed successfully.".into())));
        }
        Statement::AlterSession { .. } => {
            return Ok(Compiled::Ready(status_result(StatementKind::NoOp, "Statement executed successfully.".into())));
        }
        Statement::Copy { .. } | Statement::CopyIntoSnowflake { .. } => return Err(not_allowed("COPY")),
        other => {
            let text = other.to_string();
            let verb: String = text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            return Err(not_allowed(&verb));
        }
    }
    let values = SessionValues { account: s.account_id.clone(), database: database.clone(), schema: schema.clone() };
    dialect::rewrite(&mut statement, &values)?;
    // DataFusion plans CREATE TABLE only without TEMPORARY; the engine
    // keeps every table it creates in the session (checked above).
    let creates_temp = matches!(&statement, Statement::CreateTable(_));
    if let Statement::CreateTable(ct) = &mut statement {
        ct.temporary = false;
    }

    let mut state = Planning::borrow(s);
    // Fixes now(), current_date() and friends for this statement.
    state.mark_start_execution();
    {
        let catalog = &mut state.config_mut().options_mut().catalog;
        catalog.default_catalog = database.clone().unwrap_or_default();
        catalog.default_schema = schema.clone().unwrap_or_default();
    }
    let scalars = params.iter().map(Param::to_scalar).collect::<Result<Vec<_>, _>>()?;
    if !scalars.is_empty() {
        dialect::type_placeholders(&mut statement, &scalars)?;
    }
    let plan = state.statement_to_plan(DfStatement::Statement(Box::new(statement))).await.map_err(|e| {
        match WarehouseError::from_datafusion(e) {
            WarehouseError::ObjectNotFound(name) if name.starts_with('.') || name.contains("..") => {
                WarehouseError::NoCurrentDatabase("SELECT".into())
            }
            other => other,
        }
    })?;
    let plan = if scalars.is_empty() {
        plan
    } else {
        plan.with_param_values(ParamValues::from(scalars)).map_err(|e| WarehouseError::Binding(e.to_string()))?
    };
    let resolve = |r: &TableReference| -> TableKey {
        let full = r.clone().resolve(&database.clone().unwrap_or_default(), &schema.clone().unwrap_or_default());
        (full.catalog.to_string(), full.schema.to_string(), full.table.to_string())
    };
    let physical = |plan: LogicalPlan| {
        let state = &state;
        async move { state.create_physical_plan(&plan).await.map_err(WarehouseError::from_datafusion) }
    };
    match plan {
        LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(cmt)) => {
            if !creates_temp {
                return Err(not_allowed("CREATE TABLE (only CREATE TEMPORARY TABLE)"));
            }
            let key = resolve(&cmt.name);
            if key.0.is_empty() || key.1.is_empty() {
                return Err(WarehouseError::NoCurrentDatabase("CREATE TABLE".into()));
            }
            let exists = s.tables.is_temp(&key);
            if exists && cmt.if_not_exists {
                return Ok(Compiled::Ready(status_result(
                    StatementKind::CreateTable,
                    format!("{} already exists, statement succeeded.", key.2),
                )));
            }
            if exists && !cmt.or_replace {
                return Err(WarehouseError::Compilation(format!("Object '{}' already exists.", key.2)));
            }
            let plan = physical(Arc::unwrap_or_clone(cmt.input)).await?;
            Ok(Compiled::CreateTemp { key, plan, task: s.task.clone() })
        }
        LogicalPlan::Ddl(_) => Err(not_allowed("DDL other than CREATE TEMPORARY TABLE")),
        LogicalPlan::Copy(_) => Err(not_allowed("COPY")),
        LogicalPlan::Statement(_) | LogicalPlan::Extension(_) => Err(not_allowed("this statement")),
        LogicalPlan::Dml(dml) => {
            let key = resolve(&dml.table_name);
            if !matches!(dml.op, WriteOp::Insert(_)) || !s.tables.is_temp(&key) {
                return Err(not_allowed("changing subscription data"));
            }
            let plan = physical(LogicalPlan::Dml(dml)).await?;
            Ok(Compiled::Insert { plan, task: s.task.clone() })
        }
        plan => {
            let plan = physical(plan).await?;
            Ok(Compiled::Query { plan, task: s.task.clone() })
        }
    }
}

/// Statements the engine answers itself (no DataFusion plan).
struct Commands<'a>(&'a SessionEntry);

impl Commands<'_> {
    fn use_statement(&self, u: &Use) -> Result<QueryStream, WarehouseError> {
        let s = self.0;
        let mut current = s.current.lock().unwrap_or_else(|e| e.into_inner());
        match u {
            Use::Warehouse(_) => Err(WarehouseError::UseWarehouse),
            Use::Database(name) | Use::Catalog(name) => {
                let parts = object_name_parts(name);
                let [db] = parts.as_slice() else {
                    return Err(WarehouseError::Compilation(format!("invalid database name {name}")));
                };
                if !s.tables.database_names().contains(db) {
                    return Err(WarehouseError::ObjectNotFound(db.clone()));
                }
                *current =
                    (Some(db.clone()), Some("PUBLIC".to_owned()).filter(|p| s.tables.schema_names(db).contains(p)));
                Ok(status_result(StatementKind::Use, "Statement executed successfully.".into()))
            }
            Use::Schema(name) | Use::Object(name) => {
                let parts = object_name_parts(name);
                let (db, schema) = match parts.as_slice() {
                    [schema] if matches!(u, Use::Schema(_)) => match &current.0 {
                        Some(db) => (db.clone(), schema.clone()),
                        None => return Err(WarehouseError::NoCurrentDatabase("USE SCHEMA".into())),
                    },
                    [db] => {
                        // `USE x`: a database.
                        if !s.tables.database_names().contains(db) {
                            return Err(WarehouseError::ObjectNotFound(db.clone()));
                        }
                        *current = (Some(db.clone()), None);
                        return Ok(status_result(StatementKind::Use, "Statement executed successfully.".into()));
                    }
                    [db, schema] => (db.clone(), schema.clone()),
                    _ => return Err(WarehouseError::Compilation(format!("invalid schema name {name}"))),
                };
                if !s.tables.schema_names(&db).contains(&schema) {
                    return Err(WarehouseError::ObjectNotFound(format!("{db}.{schema}")));
                }
                *current = (Some(db), Some(schema));
                Ok(status_result(StatementKind::Use, "Statement executed successfully.".into()))
            }
            Use::Role(_) | Use::SecondaryRoles(_) => {
                Ok(status_result(StatementKind::Use, "Statement executed successfully.".into()))
            }
            Use::Default => Err(WarehouseError::Compilation("USE DEFAULT is not supported".into())),
        }
    }

    fn drop_tables(
        &self,
        names: &[ObjectName],
        if_exists: bool,
        database: &Option<String>,
        schema: &Option<String>,
    ) -> Result<QueryStream, WarehouseError> {
        let s = self.0;
        let mut dropped = Vec::new();
        for name in names {
            let parts = object_name_parts(name);
            let key: TableKey = match parts.as_slice() {
                [t] => (database.clone().unwrap_or_default(), schema.clone().unwrap_or_default(), t.clone()),
                [sc, t] => (database.clone().unwrap_or_default(), sc.clone(), t.clone()),
                [d, sc, t] => (d.clone(), sc.clone(), t.clone()),
                _ => return Err(WarehouseError::Compilation(format!("invalid table name {name}"))),
            };
            let mut temps = s.tables.temps.lock().unwrap_or_else(|e| e.into_inner());
            if temps.remove(&key).is_some() {
                dropped.push(key.2);
            } else if s.tables.subscription_has(&key) {
                return Err(not_allowed("dropping subscription data"));
            } else if !if_exists {
                return Err(WarehouseError::ObjectNotFound(key.2));
            }
        }
        let message = match dropped.as_slice() {
            [] => "Drop statement executed successfully (table already dropped).".to_owned(),
            names => format!("{} successfully dropped.", names.join(", ")),
        };
        Ok(status_result(StatementKind::DropTable, message))
    }

    fn show_tables(
        &self,
        options: &ShowStatementOptions,
        database: &Option<String>,
        schema: &Option<String>,
    ) -> QueryStream {
        let s = self.0;
        let like = match &options.filter_position {
            Some(ast::ShowStatementFilterPosition::Infix(ast::ShowStatementFilter::Like(p)))
            | Some(ast::ShowStatementFilterPosition::Suffix(ast::ShowStatementFilter::Like(p))) => Some(p.clone()),
            _ => None,
        };
        let scope: Option<Vec<String>> =
            options.show_in.as_ref().and_then(|i| i.parent_name.as_ref()).map(object_name_parts);
        let (mut names, mut dbs, mut schemas, mut kinds) = (vec![], vec![], vec![], vec![]);
        for db in s.tables.database_names() {
            for sc in s.tables.schema_names(&db) {
                let in_scope = match scope.as_deref() {
                    Some([d, x]) => *d == db && *x == sc,
                    Some([x]) => match database {
                        Some(cur) if *cur == db => *x == sc || *x == db,
                        _ => *x == db,
                    },
                    _ => match (database, schema) {
                        (Some(d), Some(x)) => *d == db && *x == sc,
                        (Some(d), None) => *d == db,
                        _ => true,
                    },
                };
                if !in_scope {
                    continue;
                }
                for (t, temp) in s.tables.table_names(&db, &sc) {
                    if let Some(p) = &like
                        && !like_matches(p, &t)
                    {
                        continue;
                    }
                    names.push(t);
                    dbs.push(db.clone());
                    schemas.push(sc.clone());
                    kinds.push(if temp { "TEMPORARY" } else { "TABLE" });
                }
            }
        }
        strings_result(
            &["name", "database_name", "schema_name", "kind"],
            vec![names, dbs, schemas, kinds.into_iter().map(str::to_owned).collect()],
        )
    }

    fn show_databases(&self) -> QueryStream {
        let s = self.0;
        let names: Vec<String> = s.tables.database_names().into_iter().collect();
        strings_result(&["name"], vec![names])
    }

    fn show_schemas(&self, database: &Option<String>) -> QueryStream {
        let s = self.0;
        let (mut names, mut dbs) = (vec![], vec![]);
        for db in s.tables.database_names() {
            if database.as_ref().is_some_and(|d| *d != db) {
                continue;
            }
            for sc in s.tables.schema_names(&db) {
                names.push(sc);
                dbs.push(db.clone());
            }
        }
        strings_result(&["name", "database_name"], vec![names, dbs])
    }
}

/// A Snowflake identifier's stored form: quoted names keep their case
/// (`""` escapes a quote), unquoted ones are upper-cased.
fn identifier(name: &str) -> String {
    let name = name.trim();
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_uppercase(),
    }
}

/// `LIKE` of `SHOW ... LIKE` (`%`, `_`, ASCII case-insensitive), in time
/// proportional to the pattern's length times the text's: a pattern of many
/// `%` would make a backtracking matcher exponential.
fn like_matches(pattern: &str, text: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    // matched[j]: whether the pattern read so far matches `t[..j]`.
    let mut matched = vec![false; t.len() + 1];
    matched[0] = true;
    for p in pattern.chars() {
        let mut next = vec![false; t.len() + 1];
        match p {
            '%' => {
                let mut any = false;
                for (n, m) in next.iter_mut().zip(&matched) {
                    any |= *m;
                    *n = any;
                }
            }
            _ => {
                for j in 1..=t.len() {
                    next[j] = matched[j - 1] && (p == '_' || t[j - 1].eq_ignore_ascii_case(&p));
                }
            }
        }
        matched = next;
    }
    matched[t.len()]
}

fn strings_result(names: &[&str], columns: Vec<Vec<String>>) -> QueryStream {
    let schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect::<Vec<_>>()));
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|c| Arc::new(StringArray::from(c)) as ArrayRef).collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).expect("columns match the schema");
    QueryStream::ready(StatementKind::Show, schema, vec![batch], None)
}

#[cfg(test)]
mod tests {
    use super::like_matches;

    #[test]
    fn session_identifiers_follow_snowflake_case_rules() {
        assert_eq!(super::identifier("demo"), "DEMO");
        assert_eq!(super::identifier("\"demo\""), "demo");
        assert_eq!(super::identifier("\"a\"\"b\""), "a\"b");
    }

    #[test]
    fn show_like_patterns() {
        assert!(like_matches("CLA%", "CLAIMS"));
        assert!(like_matches("%ims", "CLAIMS"));
        assert!(!like_matches("PAT_", "PATIENTS"));
        assert!(like_matches("P_T%S", "PATIENTS"));
        assert!(like_matches("%", ""));
        assert!(!like_matches("_", ""));
        // Many wildcards stay linear in each (a backtracking matcher would not finish).
        assert!(!like_matches(&format!("{}X", "%".repeat(10_000)), "PRESCRIPTIONS_AND_MORE"));
        assert!(like_matches(&"%_".repeat(1_000), &"A".repeat(1_000)));
    }
}
