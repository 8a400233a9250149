//! The embedded engine: sessions over each account's catalog, statements
//! under a time limit, a memory limit and a cancellation token.
//!
//! - [`config`]: the limits and tuning.
//! - [`session`]: a session's state; [`commands`]: the statements the
//!   engine answers itself; [`compile`]: from text to a plan.
//! - [`workers`]: the engine's own threads; [`stop`] and [`guard`]: what
//!   stops a statement, checked by every operator of its plan.
//! - [`result`]: what a statement produces.
//! - [`load`]: loading a local file into an own table.
//! - [`sequences`]: sequences and identity columns.
//! - [`stages`]: stages and their files; [`file_format`]: their formats;
//!   [`copy`]: `COPY INTO` a table; [`unload`]: `COPY INTO` a stage.

mod alter;
mod commands;
mod compile;
mod config;
mod copy;
mod ddl;
mod file_format;
mod guard;
mod infer_schema;
mod insert_columns;
mod load;
mod merge_sources;
mod plan;
mod privileges;
mod result;
mod sequences;
mod session;
mod show;
mod stages;
mod statement_times;
mod statements;
mod stop;
mod tables;
mod temp_dml;
mod transaction;
mod unload;
mod workers;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use datafusion::config::Dialect;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateDefaults;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::planner::ExprPlanner;
use datafusion::prelude::SessionConfig;
use futures::StreamExt;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::catalog::{self, AccountData, SessionCatalogList, SessionTables, TempTable};
use crate::plan::{SnowflakeExprPlanner, SnowflakeTypePlanner, VariantCasts, ZonedOrder, ZonedTimestamps};
use crate::storage::{LocalStorage, Storage};
use crate::{Param, WarehouseError};
use datafusion::execution::FunctionRegistry as _;

pub use crate::memory::HeldMemory;
pub use compile::{FrontEndSizes, parse_check};
pub use config::EngineConfig;
pub use load::{LoadFormat, LoadOptions, LoadSummary};
pub use result::{QueryResult, QueryStream, SessionId, StatementKind};
pub use session::{Access, SessionParams};
pub use statement_times::StatementTimes;

use crate::memory::SessionPool;
use compile::compile;
use result::status_result;
use session::{SessionEntry, identifier};
use stop::Stop;
use workers::{Limited, Planned, Started, Workers, receive};

/// The SQL planner's hooks: Snowflake's operators first, then
/// DataFusion's own.
fn expr_planners() -> Vec<Arc<dyn ExprPlanner>> {
    let mut planners: Vec<Arc<dyn ExprPlanner>> = vec![Arc::new(SnowflakeExprPlanner::new())];
    planners.extend(SessionStateDefaults::default_expr_planners());
    planners
}

/// A staged file (see [`Engine::stage_files`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StageFile {
    /// Its name as `LIST` shows it (`stage/path/file.csv` for a named stage).
    pub listed: String,
    /// Its path in the stage.
    pub relative: String,
    /// Its name alone (what `GET` writes).
    pub file_name: String,
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
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
    /// Statements each account may run at once (the rest wait their turn).
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// The memory every session's statements and held results share.
    memory: Arc<GreedyMemoryPool>,
    /// The blocks of sequence values this engine holds (all accounts: a
    /// sequence's id is unique).
    sequence_blocks: Arc<sequences::SequenceBlocks>,
    /// Where `AT`/`BEFORE(STATEMENT => ...)` finds statements' times.
    statement_times: Arc<RwLock<Option<Arc<dyn StatementTimes>>>>,
    workers: Workers,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("root", &self.root).field("config", &self.config).finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>, config: EngineConfig) -> Result<Self, WarehouseError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| WarehouseError::Io { path: root.clone(), source })?;
        let workers = Workers::new(config.worker_threads)?;
        let memory = Arc::new(GreedyMemoryPool::new(config.server_memory_limit));
        Ok(Self {
            root,
            config,
            accounts: Mutex::default(),
            sessions: RwLock::default(),
            slots: Mutex::default(),
            memory,
            sequence_blocks: Arc::default(),
            statement_times: Arc::default(),
            workers,
        })
    }

    /// Where `AT(STATEMENT => '<query id>')` and `BEFORE(STATEMENT => ...)`
    /// learn when a statement ran (the platform's record of its queries).
    pub fn set_statement_times(&self, times: Arc<dyn StatementTimes>) {
        *self.statement_times.write() = Some(times);
    }

    /// Tasks of statements alive on the engine's threads: planning,
    /// running, or streaming results (0 when the engine is idle). A
    /// statement that is cancelled, times out or whose result is dropped
    /// leaves none behind.
    pub fn active_tasks(&self) -> usize {
        self.workers.handle().metrics().num_alive_tasks()
    }

    /// Bytes in use by all sessions' statements and held results together
    /// (what [`EngineConfig::server_memory_limit`] bounds).
    pub fn memory_in_use(&self) -> usize {
        self.memory.reserved()
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
        if !crate::storage::is_safe_segment(account_id) {
            return Err(WarehouseError::SessionNotFound);
        }
        Ok(self.root.join(account_id))
    }

    async fn account(&self, account_id: &str) -> Result<Arc<RwLock<Arc<AccountData>>>, WarehouseError> {
        if let Some(a) = self.accounts.lock().get(account_id) {
            return Ok(a.clone());
        }
        let data = catalog::load_account(&self.account_dir(account_id)?).await?;
        let mut accounts = self.accounts.lock();
        Ok(accounts.entry(account_id.to_owned()).or_insert_with(|| Arc::new(RwLock::new(Arc::new(data)))).clone())
    }

    /// Re-reads an account's directory (after loading data into it); open
    /// sessions see the new tables from their next statement.
    pub async fn reload_account(&self, account_id: &str) -> Result<(), WarehouseError> {
        let data = Arc::new(catalog::load_account(&self.account_dir(account_id)?).await?);
        let cell = self.account(account_id).await?;
        *cell.write() = data;
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
        let own: Arc<dyn Storage> = Arc::new(LocalStorage::new(&self.account_dir(account_id)?));
        let mut config = SessionConfig::new()
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(false)
            .with_batch_size(self.config.batch_size)
            .with_target_partitions(self.config.target_partitions.max(1));
        {
            let options = config.options_mut();
            options.sql_parser.enable_ident_normalization = false;
            options.sql_parser.dialect = Dialect::Snowflake;
            // `1.5` is a NUMBER(2, 1) in Snowflake, not a FLOAT.
            options.sql_parser.parse_float_as_decimal = true;
            // Tables are read as plain strings (see `catalog::listing_table`).
            options.execution.parquet.schema_force_view_types = false;
        }
        let pool = TrackConsumersPool::new(
            SessionPool::new(self.config.session_memory_limit, self.memory.clone()),
            std::num::NonZeroUsize::new(3).expect("3 > 0"),
        );
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(pool))
            .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled))
            // Listings are not cached: reloaded data is visible at once.
            .with_cache_manager(CacheManagerConfig::default().with_list_files_cache_limit(0))
            .build_arc()
            .map_err(WarehouseError::from_datafusion)?;
        let scan_session =
            Arc::new(SessionStateBuilder::new().with_config(config.clone()).with_runtime_env(runtime.clone()).build());
        let tables = Arc::new(SessionTables {
            account,
            own,
            temps: Mutex::default(),
            transaction: Mutex::default(),
            scan_session,
        });
        let mut base = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_expr_planners(expr_planners())
            .with_type_planner(Arc::new(SnowflakeTypePlanner))
            .with_catalog_list(Arc::new(SessionCatalogList(tables.clone())))
            .build();
        let limits = crate::functions::Limits {
            max_value_bytes: crate::functions::MAX_VALUE_BYTES,
            max_batch_bytes: self.config.session_memory_limit,
        };
        crate::functions::register(&mut base, limits);
        let next_value = sequences::NextVal::new(tables.own.clone(), self.sequence_blocks.clone());
        let _ = base.register_udf(Arc::new(datafusion::logical_expr::ScalarUDF::new_from_impl(next_value)));
        if let Some(casts) = VariantCasts::new() {
            let _ = base.register_function_rewrite(Arc::new(casts));
        }
        let _ = base.register_function_rewrite(Arc::new(ZonedTimestamps::new()));
        base.add_analyzer_rule(Arc::new(ZonedOrder::new()));
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
            params: Mutex::default(),
            access: Mutex::default(),
            variables: Mutex::default(),
            user: Mutex::new(session::DEFAULT_USER.to_owned()),
            temporaries: Mutex::default(),
            statement_times: self.statement_times.clone(),
            max_timeout: self.config.statement_timeout,
            task: base.task_ctx(),
            spare: Mutex::new(None),
            base,
        };
        self.sessions.write().insert(id, Arc::new(entry));
        Ok(id)
    }

    /// Closes a session and drops its temporary tables. Closing a session
    /// that does not exist (or is another account's) is an error.
    pub fn close_session(&self, account_id: &str, session: SessionId) -> Result<(), WarehouseError> {
        let mut sessions = self.sessions.write();
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
        let current = s.current.lock().clone();
        Ok(current)
    }

    /// The parameters a session has set with `ALTER SESSION`.
    pub fn session_params(&self, account_id: &str, session: SessionId) -> Result<SessionParams, WarehouseError> {
        let s = self.session(account_id, session)?;
        let params = s.params.lock().clone();
        Ok(params)
    }

    /// Sets a session's parameters (those another process serving the
    /// same session recorded); a time limit above the engine's is lowered
    /// to it.
    pub fn set_session_params(
        &self,
        account_id: &str,
        session: SessionId,
        mut params: SessionParams,
    ) -> Result<(), WarehouseError> {
        let s = self.session(account_id, session)?;
        params.statement_timeout = params.statement_timeout.filter(|t| *t < self.config.statement_timeout);
        *s.params.lock() = params;
        Ok(())
    }

    /// Sets what a session may do with the account's own data: the
    /// platform sets it from the caller's role before each statement, so a
    /// role changed while a session is open applies to its next statement.
    pub fn set_access(&self, account_id: &str, session: SessionId, access: Access) -> Result<(), WarehouseError> {
        *self.session(account_id, session)?.access.lock() = access;
        Ok(())
    }

    /// Names the principal whose user stage (`@~`) a session's statements
    /// use: the platform sets it before each statement, from the caller.
    pub fn set_user(&self, account_id: &str, session: SessionId, user: &str) -> Result<(), WarehouseError> {
        *self.session(account_id, session)?.user.lock() = user.to_owned();
        Ok(())
    }

    fn session(&self, account_id: &str, session: SessionId) -> Result<Arc<SessionEntry>, WarehouseError> {
        match self.sessions.read().get(&session) {
            Some(s) if s.account_id == account_id => Ok(s.clone()),
            _ => Err(WarehouseError::SessionNotFound),
        }
    }

    /// The time limit of a session's next statement: the engine's, or the
    /// lower one the session set.
    fn timeout(&self, s: &SessionEntry) -> Duration {
        let own = s.params.lock().statement_timeout;
        own.map_or(self.config.statement_timeout, |t| t.min(self.config.statement_timeout))
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

    /// What `sql` would return, without running it: its result's columns
    /// and no rows (a connector's `describe`). Nothing is changed by it.
    pub async fn describe(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<QueryResult, WarehouseError> {
        let s = self.session(account_id, session)?;
        let stop = Stop::after(self.timeout(&s), CancellationToken::new());
        let (task_session, sql) = (s.clone(), sql.to_owned());
        let describing =
            self.workers.handle().spawn(async move { compile::describe(&task_session, &sql, params).await });
        let schema = tokio::select! {
            reason = stop.stopped() => return Err(reason),
            joined = describing => joined.map_err(|_| WarehouseError::Internal("describing the statement failed".into()))??,
        };
        Ok(QueryResult {
            kind: StatementKind::Query,
            schema,
            batches: Vec::new(),
            rows_affected: None,
            held: HeldMemory::default(),
        })
    }

    /// Runs one statement once per row of `rows` (an array binding, what a
    /// connector's `executemany` sends), all under one time limit
    /// (SECURITY.md F06), stopping at the first failure. The result is the
    /// last row's, with the rows affected by all of them.
    pub async fn execute_many(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        rows: Vec<Vec<Param>>,
        cancel: CancellationToken,
    ) -> Result<QueryResult, WarehouseError> {
        let s = self.session(account_id, session)?;
        let stop = Stop::after(self.timeout(&s), cancel);
        let mut last = None;
        let mut affected: Option<u64> = None;
        for params in rows {
            let result = self.limited(s.clone(), sql, params, &stop).await?.collect().await?;
            if let Some(n) = result.rows_affected {
                affected = Some(affected.unwrap_or(0) + n);
            }
            last = Some(result);
        }
        let mut result = last.ok_or_else(|| WarehouseError::Binding("an array binding with no rows".into()))?;
        if result.rows_affected.is_some() && result.rows_affected != affected {
            let count = affected.unwrap_or(0);
            result.rows_affected = Some(count);
            if let Some(field) = result.schema.fields().first().filter(|_| result.schema.fields().len() == 1) {
                let schema = Arc::new(Schema::new(vec![Field::new(field.name(), DataType::UInt64, false)]));
                let column = Arc::new(UInt64Array::from(vec![count])) as ArrayRef;
                let batch = RecordBatch::try_new(schema.clone(), vec![column])
                    .map_err(|e| WarehouseError::Internal(e.to_string()))?;
                (result.schema, result.batches) = (schema, vec![batch]);
            }
        }
        Ok(result)
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
        let stop = Stop::after(self.timeout(&s), cancel);
        self.limited(s, sql, params, &stop).await
    }

    /// The directory where files to load into `account_id`'s tables are
    /// kept while they arrive (`<root>/<account>/_uploads`, created if
    /// missing; the catalog ignores it). Whoever writes a file there
    /// removes it.
    pub fn upload_dir(&self, account_id: &str) -> Result<PathBuf, WarehouseError> {
        let dir = self.account_dir(account_id)?.join("_uploads");
        std::fs::create_dir_all(&dir).map_err(|source| WarehouseError::Io { path: dir.clone(), source })?;
        Ok(dir)
    }

    /// Loads the local file at `path` into table `table` of the session's
    /// account: `table` is `T`, `S.T` or `D.S.T` (Snowflake's identifier
    /// rules: unquoted parts upper-cased, quoted ones as written), in the
    /// session's current database and schema.
    ///
    /// The file's columns are matched to the table's by name (exactly, then
    /// ignoring ASCII case) and cast to their types; columns of the table
    /// the file lacks are NULL (a NOT NULL one is an error), a column of the
    /// file the table lacks is an error naming it. With
    /// [`LoadOptions::create`] a missing table is made from the file's
    /// columns; with [`LoadOptions::overwrite`] the file's rows replace the
    /// table's. Either way the rows are written in one commit, streamed from
    /// the file (never held whole in memory), so a load that fails leaves
    /// the table as it was. An open transaction is committed first.
    ///
    /// The load runs on the engine's threads as a statement does: under the
    /// session's statement time limit, stopped by `cancel`, in the
    /// account's turn ([`EngineConfig::account_concurrency`]). A read-only
    /// session and subscription tables are refused with
    /// [`WarehouseError::InsufficientPrivileges`]; a missing table without
    /// `create` is [`WarehouseError::ObjectNotFound`].
    #[allow(clippy::too_many_arguments)]
    pub async fn load_file(
        &self,
        account_id: &str,
        session: SessionId,
        table: &str,
        path: &Path,
        format: LoadFormat,
        options: LoadOptions,
        cancel: CancellationToken,
    ) -> Result<LoadSummary, WarehouseError> {
        let s = self.session(account_id, session)?;
        let stop = Stop::after(self.timeout(&s), cancel);
        let (database, schema) = s.current.lock().clone();
        let key = load::load_key(table, &database, &schema)?;
        let slot = tokio::select! {
            biased;
            reason = stop.stopped() => return Err(reason),
            slot = self.slot(&s.account_id) => slot?,
        };
        let path = path.to_owned();
        let task = self.workers.handle().spawn(async move {
            let _slot = slot;
            load::load(&s, key, &path, format, options).await
        });
        // Dropping the load (the caller went away) or stopping it aborts
        // its task: nothing is committed, the table stays as it was.
        let mut task = AbortOnDrop(task);
        tokio::select! {
            biased;
            reason = stop.stopped() => Err(reason),
            joined = &mut task.0 => joined.map_err(|e| match e.is_panic() {
                true => WarehouseError::Internal("loading the file panicked".into()),
                false => WarehouseError::Cancelled,
            })?,
        }
    }

    /// Puts the local file at `from` into a stage of the session's account
    /// as `name` (what `PUT file://... @stage[/path]` does, for the
    /// gateway): `stage` is `@~[/path]`, `@%table[/path]` or
    /// `@stage[/path]`, read as a statement reads it. The file is moved
    /// (copied when it is on another file system). Returns the stored size,
    /// or `None` when a file of that name is there and `overwrite` is not
    /// set. A read-only session may put files into its own `@~` only.
    #[allow(clippy::too_many_arguments)]
    pub fn put_stage_file(
        &self,
        account_id: &str,
        session: SessionId,
        stage: &str,
        name: &str,
        from: &Path,
        overwrite: bool,
    ) -> Result<Option<u64>, WarehouseError> {
        let s = self.session(account_id, session)?;
        let (database, schema) = s.current.lock().clone();
        let stage = stages::stage_ref(&s, stage, &database, &schema)?;
        if *s.access.lock() == Access::ReadOnly && !matches!(stage.stage, crate::storage::StageKey::User(_)) {
            return Err(privileges::reader_refused(format!("stage '{}'", stage.listed_name(""))));
        }
        stages::put_file(&s, &stage, name, from, overwrite)
    }

    /// The directory that holds stage `stage`'s files under its path (what
    /// a connector sharing the platform's file system writes `PUT` files
    /// into and reads `GET` files from), created if missing. A read-only
    /// session gets its own `@~` only.
    pub fn stage_directory(
        &self,
        account_id: &str,
        session: SessionId,
        stage: &str,
    ) -> Result<PathBuf, WarehouseError> {
        let s = self.session(account_id, session)?;
        let (database, schema) = s.current.lock().clone();
        let stage = stages::stage_ref(&s, stage, &database, &schema)?;
        if *s.access.lock() == Access::ReadOnly && !matches!(stage.stage, crate::storage::StageKey::User(_)) {
            return Err(privileges::reader_refused(format!("stage '{}'", stage.listed_name(""))));
        }
        let root = s.tables.own.stage_location(&stage.stage)?;
        let dir = if stage.path.is_empty() { root } else { root.join(&stage.path) };
        std::fs::create_dir_all(&dir).map_err(|source| WarehouseError::Io { path: dir.clone(), source })?;
        Ok(dir)
    }

    /// The files of a stage of the session's account that `GET @stage[/path]
    /// [PATTERN = ...]` returns: each with its name as `LIST` shows it, its
    /// name alone, where it is and its size.
    pub fn stage_files(
        &self,
        account_id: &str,
        session: SessionId,
        stage: &str,
        pattern: Option<&str>,
    ) -> Result<Vec<StageFile>, WarehouseError> {
        let s = self.session(account_id, session)?;
        let (database, schema) = s.current.lock().clone();
        let stage = stages::stage_ref(&s, stage, &database, &schema)?;
        let files = stages::files(&s, &stage, pattern)?;
        Ok(files
            .into_iter()
            .map(|f| StageFile {
                listed: stage.listed_name(&f.relative),
                file_name: f.relative.rsplit('/').next().unwrap_or_default().to_owned(),
                relative: f.relative,
                path: f.path,
                size: f.size,
            })
            .collect())
    }

    /// [`Engine::run`] until `stop`.
    async fn limited(
        &self,
        s: Arc<SessionEntry>,
        sql: &str,
        params: Vec<Param>,
        stop: &Stop,
    ) -> Result<QueryStream, WarehouseError> {
        tokio::select! {
            biased;
            reason = stop.stopped() => Err(reason),
            r = self.run(s, sql, params, stop) => r,
        }
    }

    /// A turn of `account_id` to run a statement: each account runs at
    /// most [`EngineConfig::account_concurrency`] statements at once, so
    /// one account's runaway statements leave the others the threads
    /// (SECURITY.md F03).
    async fn slot(&self, account_id: &str) -> Result<OwnedSemaphorePermit, WarehouseError> {
        let semaphore = self
            .slots
            .lock()
            .entry(account_id.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.account_concurrency.max(1))))
            .clone();
        semaphore.acquire_owned().await.map_err(|_| WarehouseError::Internal("the engine is shutting down".into()))
    }

    async fn run(
        &self,
        s: Arc<SessionEntry>,
        sql: &str,
        params: Vec<Param>,
        stop: &Stop,
    ) -> Result<QueryStream, WarehouseError> {
        let slot = self.slot(&s.account_id).await?;
        // The token pass and everything after it run on the engine's
        // threads inside the deadline (SECURITY.md F01).
        let (session, sql, task_stop) = (s.clone(), sql.to_owned(), stop.clone());
        let compile = async move { compile(&session, &sql, params, &task_stop).await };
        let (planned, schema, ready, batches) = match self.workers.start(compile, stop.clone(), slot).await? {
            Started::Ready(stream) => return Ok(stream),
            Started::Running { planned, schema, ready, batches } => (planned, schema, ready, batches),
        };
        let inner = Box::pin(Limited::new(receive(ready, batches, stop.clone()), stop.clone()));
        let pool: Arc<dyn MemoryPool> = s.task.memory_pool().clone();
        match planned {
            Planned::Query(names) if names.is_empty() => {
                Ok(QueryStream::new(StatementKind::Query, schema, None, inner, Some(pool)))
            }
            Planned::Query(names) => {
                // Names DataFusion could not plan with (repeats, `VALUES`).
                let fields: Vec<_> =
                    schema.fields().iter().map(|f| f.as_ref().clone().with_name(names.wanted(f.name()))).collect();
                let renamed = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
                let to = renamed.clone();
                let inner = Box::pin(inner.map(move |batch| {
                    let batch = batch?;
                    RecordBatch::try_new(to.clone(), batch.columns().to_vec())
                        .map_err(|e| WarehouseError::Internal(e.to_string()))
                }));
                Ok(QueryStream::new(StatementKind::Query, renamed, None, inner, Some(pool)))
            }
            Planned::CreateTemp(key) => {
                let result =
                    QueryStream::new(StatementKind::Query, schema.clone(), None, inner, Some(pool)).collect().await?;
                let table = MemTable::try_new(schema, vec![result.batches]).map_err(WarehouseError::from_datafusion)?;
                s.tables.temps.lock().insert(key.clone(), Arc::new(TempTable::new(Arc::new(table), result.held)));
                Ok(status_result(StatementKind::CreateTable, format!("Table {} successfully created.", key.2)))
            }
            Planned::Write => {
                let result = QueryStream::new(StatementKind::Insert, schema, None, inner, None).collect().await?;
                inserted(count_rows(&result.batches))
            }
            Planned::Insert { key, before } => {
                let outcome = QueryStream::new(StatementKind::Insert, Arc::new(Schema::empty()), None, inner, None)
                    .collect()
                    .await;
                let table = s.tables.temp(&key);
                // What the insert added counts against the memory limits
                // like the rest of the table; one that does not fit (or
                // fails half way) is taken back out (SECURITY.md F05, I02).
                let outcome = match (outcome, &table) {
                    (Ok(result), Some(table)) => table.account().await.map(|()| result),
                    (outcome, _) => outcome,
                };
                let result = match outcome {
                    Ok(result) => result,
                    Err(e) => {
                        if let Some(table) = table {
                            table.truncate(&before).await;
                        }
                        return Err(e);
                    }
                };
                inserted(count_rows(&result.batches))
            }
        }
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The rows an insert plan's count column says it wrote.
fn count_rows(batches: &[RecordBatch]) -> u64 {
    let mut count = 0u64;
    for b in batches {
        if let Some(c) = b.column(0).as_any().downcast_ref::<UInt64Array>() {
            count += c.iter().flatten().sum::<u64>();
        }
    }
    count
}

/// Snowflake's result of an `INSERT` of `count` rows.
fn inserted(count: u64) -> Result<QueryStream, WarehouseError> {
    let schema = Arc::new(Schema::new(vec![Field::new("number of rows inserted", DataType::UInt64, false)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(UInt64Array::from(vec![count])) as ArrayRef])
        .map_err(|e| WarehouseError::Internal(e.to_string()))?;
    Ok(QueryStream::ready(StatementKind::Insert, schema, vec![batch], Some(count)))
}
