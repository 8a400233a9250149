//! Fixtures: a warehouse with demo data for account A and a private table
//! for account B.

use std::time::Duration;

use komodo_warehouse::{
    CancellationToken, Engine, EngineConfig, Param, QueryResult, SessionId, WarehouseError, demo, encode,
};

pub const A: &str = "acct-a";
pub const B: &str = "acct-b";

pub struct Fixture {
    pub engine: std::sync::Arc<Engine>,
    _dir: tempfile::TempDir,
}

pub fn config() -> EngineConfig {
    EngineConfig {
        statement_timeout: Duration::from_secs(20),
        session_memory_limit: 256 << 20,
        batch_size: 8192,
        target_partitions: 2,
        worker_threads: 2,
        ..EngineConfig::default()
    }
}

pub async fn fixture_with(config: EngineConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let engine = std::sync::Arc::new(Engine::new(dir.path().join("warehouse"), config).unwrap());
    let options = demo::DemoOptions { claims: 2_000, ..Default::default() };
    demo::generate(&engine.account_dir(A).unwrap(), &options, |_| {}).unwrap();
    // Account B: its own database with one table.
    let b_dir = engine.account_dir(B).unwrap();
    demo::generate(&b_dir, &demo::DemoOptions { claims: 100, seed: 9, ..Default::default() }, |_| {}).unwrap();
    std::fs::rename(b_dir.join("DEMO"), b_dir.join("SECRETS")).unwrap();
    Fixture { engine, _dir: dir }
}

pub async fn fixture() -> Fixture {
    fixture_with(config()).await
}

impl Fixture {
    pub async fn session(&self, account: &str) -> SessionId {
        self.engine.open_session(account, Some("DEMO"), Some("HEALTHCARE")).await.unwrap()
    }

    pub async fn try_run(
        &self,
        account: &str,
        s: SessionId,
        sql: &str,
        params: Vec<Param>,
    ) -> Result<QueryResult, WarehouseError> {
        self.engine.execute(account, s, sql, params, CancellationToken::new()).await
    }

    pub async fn run(&self, s: SessionId, sql: &str) -> QueryResult {
        self.try_run(A, s, sql, vec![]).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The rows as Snowflake JSON strings.
    pub async fn rows(&self, s: SessionId, sql: &str) -> Vec<Vec<Option<String>>> {
        encode::json_rowset(&self.run(s, sql).await.batches).unwrap()
    }

    /// The one value of a one-row, one-column result.
    pub async fn value(&self, s: SessionId, sql: &str) -> Option<String> {
        let rows = self.rows(s, sql).await;
        assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
        rows[0][0].clone()
    }
}
