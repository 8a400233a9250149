//! The engine trait: what the gateway needs from a warehouse, so the
//! embedded engine and an upstream warehouse can stand behind it.

use std::path::{Path, PathBuf};

use crate::engine::{
    Access, Engine, LoadFormat, LoadOptions, LoadSummary, QueryResult, QueryStream, SessionId, SessionParams, StageFile,
};
use crate::{CancellationToken, Param, WarehouseError};

/// A warehouse the gateway runs statements on: the embedded [`Engine`], or
/// another engine (an upstream warehouse) behind the same calls. Every call
/// names the account, and an engine must never let one account reach
/// another's sessions or data (SECURITY.md T05).
#[async_trait::async_trait]
pub trait WarehouseEngine: Send + Sync + std::fmt::Debug {
    /// Opens a session on `account_id`'s warehouse with an optional current
    /// database and schema (identifiers as the client sent them).
    async fn open_session(
        &self,
        account_id: &str,
        database: Option<&str>,
        schema: Option<&str>,
    ) -> Result<SessionId, WarehouseError>;

    /// Sets what the session may do with the account's own data, from the
    /// caller's role (before each statement).
    fn set_access(&self, account_id: &str, session: SessionId, access: Access) -> Result<(), WarehouseError>;

    /// Closes a session and drops what it owned.
    fn close_session(&self, account_id: &str, session: SessionId) -> Result<(), WarehouseError>;

    /// The session's current database and schema.
    fn session_context(
        &self,
        account_id: &str,
        session: SessionId,
    ) -> Result<(Option<String>, Option<String>), WarehouseError>;

    /// Tasks of statements alive on the warehouse's threads (0 when idle).
    fn active_tasks(&self) -> usize;

    /// Bytes the warehouse's statements and held results use together.
    fn memory_in_use(&self) -> usize;

    /// The parameters the session set with `ALTER SESSION`.
    fn session_params(&self, account_id: &str, session: SessionId) -> Result<SessionParams, WarehouseError>;

    /// Sets the session's parameters (recorded by another replica).
    fn set_session_params(
        &self,
        account_id: &str,
        session: SessionId,
        params: SessionParams,
    ) -> Result<(), WarehouseError>;

    /// Runs one statement once per row of parameters (an array binding),
    /// all under one time limit, and collects the last result with the
    /// rows affected by all of them.
    async fn execute_many(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        rows: Vec<Vec<Param>>,
        cancel: CancellationToken,
    ) -> Result<QueryResult, WarehouseError>;

    /// What a statement would return, without running it (columns, no
    /// rows); nothing is changed by it.
    async fn describe(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<QueryResult, WarehouseError>;

    /// Runs one statement with positional parameters; its result streams,
    /// stopping on `cancel` or at the engine's time limit.
    async fn execute_stream(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        params: Vec<Param>,
        cancel: CancellationToken,
    ) -> Result<QueryStream, WarehouseError>;

    /// Where a file to load into `account_id`'s tables is written while
    /// it arrives (see [`Engine::upload_dir`]). An engine that cannot load
    /// files refuses.
    fn upload_dir(&self, account_id: &str) -> Result<PathBuf, WarehouseError> {
        let _ = account_id;
        Err(loading_unsupported())
    }

    /// Loads a local file into a table of the session's account (see
    /// [`Engine::load_file`]). An engine that cannot load files refuses.
    #[allow(clippy::too_many_arguments)]
    async fn load_file(
        &self,
        account_id: &str,
        session: SessionId,
        table: &str,
        path: &Path,
        format: LoadFormat,
        options: LoadOptions,
        cancel: CancellationToken,
    ) -> Result<LoadSummary, WarehouseError> {
        let _ = (account_id, session, table, path, format, options, cancel);
        Err(loading_unsupported())
    }

    /// Names the principal whose `@~` the session's statements use
    /// (before each statement). An engine without user stages ignores it.
    fn set_user(&self, account_id: &str, session: SessionId, user: &str) -> Result<(), WarehouseError> {
        let _ = (account_id, session, user);
        Ok(())
    }

    /// Puts a local file into a stage (see [`Engine::put_stage_file`]). An
    /// engine without stages refuses.
    #[allow(clippy::too_many_arguments)]
    fn put_stage_file(
        &self,
        account_id: &str,
        session: SessionId,
        stage: &str,
        name: &str,
        from: &Path,
        overwrite: bool,
    ) -> Result<Option<u64>, WarehouseError> {
        let _ = (account_id, session, stage, name, from, overwrite);
        Err(stages_unsupported())
    }

    /// The files of a stage (see [`Engine::stage_files`]).
    fn stage_files(
        &self,
        account_id: &str,
        session: SessionId,
        stage: &str,
        pattern: Option<&str>,
    ) -> Result<Vec<StageFile>, WarehouseError> {
        let _ = (account_id, session, stage, pattern);
        Err(stages_unsupported())
    }

    /// A stage's directory (see [`Engine::stage_directory`]).
    fn stage_directory(&self, account_id: &str, session: SessionId, stage: &str) -> Result<PathBuf, WarehouseError> {
        let _ = (account_id, session, stage);
        Err(stages_unsupported())
    }

    /// Runs one statement and collects its result.
    async fn execute(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        params: Vec<Param>,
        cancel: CancellationToken,
    ) -> Result<QueryResult, WarehouseError> {
        self.execute_stream(account_id, session, sql, params, cancel).await?.collect().await
    }
}

#[async_trait::async_trait]
impl WarehouseEngine for Engine {
    async fn open_session(
        &self,
        account_id: &str,
        database: Option<&str>,
        schema: Option<&str>,
    ) -> Result<SessionId, WarehouseError> {
        Engine::open_session(self, account_id, database, schema).await
    }

    fn set_access(&self, account_id: &str, session: SessionId, access: Access) -> Result<(), WarehouseError> {
        Engine::set_access(self, account_id, session, access)
    }

    fn close_session(&self, account_id: &str, session: SessionId) -> Result<(), WarehouseError> {
        Engine::close_session(self, account_id, session)
    }

    fn session_context(
        &self,
        account_id: &str,
        session: SessionId,
    ) -> Result<(Option<String>, Option<String>), WarehouseError> {
        Engine::session_context(self, account_id, session)
    }

    fn active_tasks(&self) -> usize {
        Engine::active_tasks(self)
    }

    fn memory_in_use(&self) -> usize {
        Engine::memory_in_use(self)
    }

    fn session_params(&self, account_id: &str, session: SessionId) -> Result<SessionParams, WarehouseError> {
        Engine::session_params(self, account_id, session)
    }

    fn set_session_params(
        &self,
        account_id: &str,
        session: SessionId,
        params: SessionParams,
    ) -> Result<(), WarehouseError> {
        Engine::set_session_params(self, account_id, session, params)
    }

    fn set_user(&self, account_id: &str, session: SessionId, user: &str) -> Result<(), WarehouseError> {
        Engine::set_user(self, account_id, session, user)
    }

    fn put_stage_file(
        &self,
        account_id: &str,
        session: SessionId,
        stage: &str,
        name: &str,
        from: &Path,
        overwrite: bool,
    ) -> Result<Option<u64>, WarehouseError> {
        Engine::put_stage_file(self, account_id, session, stage, name, from, overwrite)
    }

    fn stage_files(
        &self,
        account_id: &str,
        session: SessionId,
        stage: &str,
        pattern: Option<&str>,
    ) -> Result<Vec<StageFile>, WarehouseError> {
        Engine::stage_files(self, account_id, session, stage, pattern)
    }

    fn stage_directory(&self, account_id: &str, session: SessionId, stage: &str) -> Result<PathBuf, WarehouseError> {
        Engine::stage_directory(self, account_id, session, stage)
    }

    fn upload_dir(&self, account_id: &str) -> Result<PathBuf, WarehouseError> {
        Engine::upload_dir(self, account_id)
    }

    async fn load_file(
        &self,
        account_id: &str,
        session: SessionId,
        table: &str,
        path: &Path,
        format: LoadFormat,
        options: LoadOptions,
        cancel: CancellationToken,
    ) -> Result<LoadSummary, WarehouseError> {
        Engine::load_file(self, account_id, session, table, path, format, options, cancel).await
    }

    async fn execute_many(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        rows: Vec<Vec<Param>>,
        cancel: CancellationToken,
    ) -> Result<QueryResult, WarehouseError> {
        Engine::execute_many(self, account_id, session, sql, rows, cancel).await
    }

    async fn describe(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<QueryResult, WarehouseError> {
        Engine::describe(self, account_id, session, sql, params).await
    }

    async fn execute_stream(
        &self,
        account_id: &str,
        session: SessionId,
        sql: &str,
        params: Vec<Param>,
        cancel: CancellationToken,
    ) -> Result<QueryStream, WarehouseError> {
        Engine::execute_stream(self, account_id, session, sql, params, cancel).await
    }
}

/// The refusal of an engine without stages.
fn stages_unsupported() -> WarehouseError {
    WarehouseError::NotAllowed("stages are not supported by this account's warehouse".into())
}

/// The refusal of an engine that cannot load files.
fn loading_unsupported() -> WarehouseError {
    WarehouseError::NotAllowed("loading files is not supported by this account's warehouse".into())
}
