//! SECURITY.md I01 for SQL through the whole engine: any text is planned
//! and run in a session over a small demo data set, under a one-second
//! statement limit, and ends in a result or an error of its own. A panic
//! while planning or running surfaces as an internal error that says so
//! (the engine's threads catch it). The property test
//! `i01_sql_engine_never_panics` runs the same checks in CI.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use komodo_warehouse::{CancellationToken, Engine, EngineConfig, SessionId, WarehouseError, demo};
use libfuzzer_sys::fuzz_target;

const ACCOUNT: &str = "fuzz";

/// An engine over a small demo data set, opened once per fuzzing process.
struct Warehouse {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    session: SessionId,
    _dir: tempfile::TempDir,
}

fn warehouse() -> &'static Warehouse {
    static WAREHOUSE: OnceLock<Warehouse> = OnceLock::new();
    WAREHOUSE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = EngineConfig {
            statement_timeout: Duration::from_secs(1),
            session_memory_limit: 256 << 20,
            batch_size: 8192,
            target_partitions: 2,
            worker_threads: 2,
            ..EngineConfig::default()
        };
        let engine = Engine::new(dir.path().join("warehouse"), config).expect("an engine");
        let options = demo::DemoOptions { claims: 200, ..Default::default() };
        demo::generate(&engine.account_dir(ACCOUNT).expect("an account"), &options, |_| {}).expect("demo data");
        let session = runtime
            .block_on(engine.open_session(ACCOUNT, Some("DEMO"), Some("HEALTHCARE")))
            .expect("a session");
        Warehouse { runtime, engine, session, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    let w = warehouse();
    let outcome =
        w.runtime.block_on(w.engine.execute(ACCOUNT, w.session, sql, Vec::new(), CancellationToken::new()));
    if let Err(WarehouseError::Internal(message)) = &outcome {
        assert!(!message.contains("panicked"), "{message}");
    }
});
