//! When the platform's statements ran, for `AT(STATEMENT => '<query id>')`
//! and `BEFORE(STATEMENT => ...)`: the engine does not know query ids (the
//! gateway gives them), so the platform tells it through this trait.

/// Looks up when a statement of an account started and ended.
#[async_trait::async_trait]
pub trait StatementTimes: Send + Sync + std::fmt::Debug {
    /// The statement `query_id` of `account_id`: when it started, and when
    /// it ended if it did (milliseconds since the epoch); `None` when the
    /// account ran no such statement.
    async fn times(&self, account_id: &str, query_id: &str) -> Option<(i64, Option<i64>)>;
}
