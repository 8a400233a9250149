//! SECURITY.md T04 (no file system or network from SQL, read-only
//! subscription data, time and memory limits, failures stay alone) and T05
//! (accounts are isolated).

use std::time::Duration;

use komodo_warehouse::{CancellationToken, EngineConfig, WarehouseError};

use crate::support::{A, B, config, fixture, fixture_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_no_file_access_from_sql() {
    let f = fixture().await;
    let s = f.session(A).await;
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("leak.csv");
    let t = target.display();
    let statements = [
        "SELECT * FROM '/etc/passwd'".to_owned(),
        "SELECT * FROM \"/etc/passwd\"".to_owned(),
        "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'".to_owned(),
        "CREATE EXTERNAL TABLE p (a VARCHAR) STORED AS PARQUET LOCATION 'file:///etc/'".to_owned(),
        format!("COPY (SELECT * FROM claims) TO '{t}'"),
        format!("COPY INTO '{t}' FROM claims"),
        "COPY INTO claims FROM @my_stage".to_owned(),
        "SELECT * FROM read_csv('/etc/passwd')".to_owned(),
        "SELECT * FROM read_parquet('/etc/passwd')".to_owned(),
        "CREATE STAGE s URL = 'file:///etc/'".to_owned(),
        "CREATE TABLE t AS SELECT 1 AS x".to_owned(),
        "CREATE VIEW v AS SELECT 1 AS x".to_owned(),
        "SET datafusion.catalog.information_schema = true".to_owned(),
        "SET datafusion.execution.target_partitions = 1000".to_owned(),
        "PREPARE p AS SELECT 1".to_owned(),
        "CREATE DATABASE x".to_owned(),
        "CREATE SCHEMA demo.x".to_owned(),
        "EXPLAIN SELECT 1".to_owned(),
        "SELECT * FROM information_schema.tables".to_owned(),
    ];
    for sql in &statements {
        match f.try_run(A, s, sql, vec![]).await {
            Ok(r) => panic!("{sql} succeeded: {r:?}"),
            Err(e) => assert!(
                matches!(
                    e,
                    WarehouseError::NotAllowed(_) | WarehouseError::Compilation(_) | WarehouseError::ObjectNotFound(_)
                ),
                "{sql}: {e:?}"
            ),
        }
    }
    assert!(!target.exists());
    assert_eq!(f.value(s, "SELECT 1").await.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_subscription_data_is_read_only() {
    let f = fixture().await;
    let s = f.session(A).await;
    for sql in [
        "INSERT INTO claims SELECT * FROM claims",
        "INSERT INTO demo.healthcare.providers (provider_id, npi, provider_name, specialty, state) VALUES (1, 'x', 'y', 'z', 'CA')",
        "DELETE FROM claims",
        "UPDATE claims SET status = 'PAID'",
        "TRUNCATE TABLE claims",
        "DROP TABLE claims",
        "DROP SCHEMA demo.healthcare",
        "ALTER TABLE claims ADD COLUMN x INT",
        "MERGE INTO claims USING claims c2 ON claims.claim_id = c2.claim_id WHEN MATCHED THEN DELETE",
    ] {
        let e = f.try_run(A, s, sql, vec![]).await.expect_err(sql);
        assert!(matches!(e, WarehouseError::NotAllowed(_) | WarehouseError::Compilation(_)), "{sql}: {e:?}");
    }
    // A temporary table may shadow a subscription table in its session only.
    f.run(s, "CREATE TEMP TABLE claims AS SELECT 1 AS x").await;
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM claims").await.as_deref(), Some("1"));
    let other = f.session(A).await;
    assert_eq!(f.value(other, "SELECT COUNT(*) FROM claims").await.as_deref(), Some("2000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_runaway_query_hits_time_limit() {
    let f = fixture_with(EngineConfig { statement_timeout: Duration::from_secs(2), ..config() }).await;
    let s = f.session(A).await;
    let started = std::time::Instant::now();
    let e = f
        .try_run(
            A,
            s,
            "SELECT COUNT(*) FROM claims a, claims b, claims c, claims d WHERE a.claim_id + b.claim_id > c.claim_id",
            vec![],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, WarehouseError::Timeout(_)), "{e:?}");
    assert_eq!(e.code(), "000630");
    assert!(started.elapsed() < Duration::from_secs(30));
    // The session and the engine carry on.
    assert_eq!(f.value(s, "SELECT 1").await.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_memory_limit() {
    let f = fixture_with(EngineConfig { session_memory_limit: 4 << 20, ..config() }).await;
    let s = f.session(A).await;
    let e = f
        .try_run(
            A,
            s,
            "SELECT a.diagnosis_code || b.procedure_code || a.claim_id || b.claim_id AS k FROM claims a, claims b ORDER BY k",
            vec![],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, WarehouseError::MemoryLimit(_)), "{e:?}");
    assert_eq!(e.code(), "000625");
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM claims").await.as_deref(), Some("2000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_malformed_statements_fail_alone() {
    let f = fixture().await;
    let s = f.session(A).await;
    let deep = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
    for sql in [
        "SELEC 1",
        "SELECT FROM WHERE",
        "SELECT 1; SELECT 2",
        "",
        "SELECT 'unterminated",
        "SELECT nosuchfn(1)",
        deep.as_str(),
    ] {
        let e = f.try_run(A, s, sql, vec![]).await.expect_err(sql);
        assert_eq!(e.code(), "001003", "{sql}: {e}");
    }
    assert_eq!(f.value(s, "SELECT 1").await.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_huge_expressions_fail_or_run_but_never_crash() {
    let f = fixture().await;
    let s = f.session(A).await;
    // Within the operator budget: plans and runs (on the planning thread's large stack).
    let sum = format!("SELECT 1{}", " + 1".repeat(900));
    assert_eq!(f.value(s, &sum).await.as_deref(), Some("901"));
    let and = format!("SELECT COUNT(*) FROM claims WHERE {}", vec!["claim_id > 0"; 450].join(" AND "));
    assert_eq!(f.value(s, &and).await.as_deref(), Some("2000"));
    // Beyond it, or nested deeper than the parser allows: a compilation error.
    let long_sum = format!("SELECT 1{}", " + 1".repeat(20_000));
    let long_or = format!("SELECT COUNT(*) FROM claims WHERE {}", vec!["claim_id = 1"; 20_000].join(" OR "));
    let deep_case = format!("SELECT {} 1{}", "CASE WHEN 1 = 1 THEN ".repeat(500), " END".repeat(500));
    for sql in [long_sum, long_or, deep_case] {
        let e = f.try_run(A, s, &sql, vec![]).await.unwrap_err();
        assert_eq!(e.code(), "001003", "{e}");
    }
    assert_eq!(f.value(s, "SELECT 1").await.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_cancelled_statement_stops() {
    let f = fixture().await;
    let s = f.session(A).await;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let e = f
        .engine
        .execute(
            A,
            s,
            "SELECT COUNT(*) FROM claims a, claims b, claims c, claims d WHERE a.claim_id + b.claim_id > c.claim_id",
            vec![],
            cancel,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, WarehouseError::Cancelled), "{e:?}");
    assert_eq!(e.code(), "000604");
    assert_eq!(f.value(s, "SELECT 1").await.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t05_accounts_are_isolated() {
    let f = fixture().await;
    let a = f.session(A).await;
    let b = f.engine.open_session(B, None, None).await.unwrap();
    // B's catalog holds only its own database.
    assert_eq!(f.try_run(B, b, "SHOW DATABASES", vec![]).await.unwrap().num_rows(), 1);
    let e = f.try_run(B, b, "SELECT COUNT(*) FROM demo.healthcare.claims", vec![]).await.unwrap_err();
    assert_eq!(e.code(), "002003", "{e}");
    let e = f.try_run(A, a, "SELECT COUNT(*) FROM secrets.healthcare.claims", vec![]).await.unwrap_err();
    assert_eq!(e.code(), "002003", "{e}");
    assert!(f.try_run(B, b, "SELECT COUNT(*) FROM secrets.healthcare.claims", vec![]).await.is_ok());
    // Sessions belong to their account.
    assert!(matches!(f.try_run(B, a, "SELECT 1", vec![]).await, Err(WarehouseError::SessionNotFound)));
    assert!(matches!(f.engine.close_session(B, a), Err(WarehouseError::SessionNotFound)));
    assert!(f.engine.session_context(A, b).is_err());
    // Account ids are path segments, never paths.
    for bad in ["../acct-b", "acct-a/../acct-b", "/", "..", ""] {
        assert!(f.engine.open_session(bad, None, None).await.is_err(), "{bad}");
    }
    // A's temporary tables are invisible to B.
    f.run(a, "CREATE TEMP TABLE mine AS SELECT 1 AS x").await;
    f.try_run(B, b, "USE SCHEMA secrets.healthcare", vec![]).await.unwrap();
    assert!(f.try_run(B, b, "SELECT * FROM demo.healthcare.mine", vec![]).await.is_err());
    assert!(f.try_run(B, b, "SELECT * FROM mine", vec![]).await.is_err());
}
