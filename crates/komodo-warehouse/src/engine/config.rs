//! The engine's limits and tuning.

use std::time::Duration;

#[cfg(doc)]
use crate::WarehouseError;

/// Limits and tuning of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The longest a statement may run, result streaming included
    /// (Snowflake's `STATEMENT_TIMEOUT_IN_SECONDS`). Default 5 minutes.
    pub statement_timeout: Duration,
    /// The memory a session's statements may use at once, in bytes. There
    /// is no spilling to disk, so a statement that needs more fails with
    /// [`WarehouseError::MemoryLimit`]. Results collected for a client
    /// count too, for as long as they are held. Default 512 MiB.
    pub session_memory_limit: usize,
    /// The memory all sessions' statements and held results may use
    /// together, in bytes (SECURITY.md F05). Default 1 GiB: with what the
    /// process needs besides, the server stays under 1.5 GiB whatever its
    /// sessions do (bench/hostile.sh); raise both on a larger machine.
    pub server_memory_limit: usize,
    /// Rows per Arrow batch. Default 8192, DataFusion's. Larger batches
    /// stream large results faster (32768 took about a fifth less time and
    /// CPU for ten million rows) but make each step an operator takes
    /// without yielding longer: a cross join's step against its other side
    /// grows with it, and a statement past its deadline or cancelled stops
    /// only at the next step, holding the engine's threads meanwhile.
    pub batch_size: usize,
    /// Statements one account may run at once; more wait for a turn
    /// (within their own time limit). With the engine's threads shared
    /// among statements that yield regularly, this keeps one account's
    /// runaway statements from crowding out everyone else's
    /// (SECURITY.md F03). Default 4.
    pub account_concurrency: usize,
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
            session_memory_limit: 512 << 20,
            server_memory_limit: 1 << 30,
            account_concurrency: 4,
            batch_size: 8192,
            target_partitions: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            worker_threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

/// Stack of the threads that parse, rewrite and plan statements: deep
/// expressions recurse in sqlparser's visitors and DataFusion's optimizer
/// (reserved, not committed, so it costs address space only).
pub(crate) const PLANNING_STACK: usize = 64 << 20;
