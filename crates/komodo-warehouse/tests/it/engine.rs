//! Sessions, names, parameters, temporary tables, results.

use komodo_warehouse::{Param, StatementKind, WarehouseError, encode};

use crate::support::{A, fixture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_tables_are_queryable_with_snowflake_case_rules() {
    let f = fixture().await;
    let s = f.session(A).await;
    assert_eq!(f.value(s, "select count(*) from demo.healthcare.claims").await.as_deref(), Some("2000"));
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM Claims").await.as_deref(), Some("2000"));
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM \"CLAIMS\"").await.as_deref(), Some("2000"));
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM healthcare.patients").await.as_deref(), Some("200"));
    // Quoted identifiers are case-sensitive.
    let e = f.try_run(A, s, "SELECT COUNT(*) FROM \"claims\"", vec![]).await.unwrap_err();
    assert_eq!(e.code(), "002003", "{e}");
    // Unquoted column names come back UPPERCASE.
    let r = f.run(s, "select claim_id as id, status from claims limit 1").await;
    let names: Vec<_> = r.schema.fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["ID", "STATUS"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_over_the_demo_data() {
    let f = fixture().await;
    let s = f.session(A).await;
    let rows = f
        .rows(
            s,
            "SELECT p.specialty, COUNT(*) AS n, SUM(c.claim_amount) AS total
             FROM claims c JOIN providers p ON c.provider_id = p.provider_id
             GROUP BY p.specialty ORDER BY n DESC",
        )
        .await;
    assert!(!rows.is_empty());
    let sum: i64 = rows.iter().map(|r| r[1].as_deref().unwrap().parse::<i64>().unwrap()).sum();
    assert_eq!(sum, 2000);
    // Every claim's patient exists.
    assert_eq!(
        f.value(s, "SELECT COUNT(*) FROM claims c LEFT JOIN patients p ON c.patient_id = p.patient_id WHERE p.patient_id IS NULL").await.as_deref(),
        Some("0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_database_and_schema() {
    let f = fixture().await;
    let lower = f.engine.open_session(A, Some("demo"), Some("healthcare")).await.unwrap();
    assert_eq!(f.value(lower, "SELECT COUNT(*) FROM providers").await.as_deref(), Some("10"));
    let s = f.engine.open_session(A, None, None).await.unwrap();
    let e = f.try_run(A, s, "SELECT COUNT(*) FROM claims", vec![]).await.unwrap_err();
    assert_eq!(e.code(), "001003", "{e}");
    assert!(e.to_string().contains("current database"), "{e}");
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM demo.healthcare.providers").await.as_deref(), Some("10"));
    assert_eq!(f.run(s, "USE DATABASE demo").await.kind, StatementKind::Use);
    f.run(s, "USE SCHEMA healthcare").await;
    assert_eq!(f.engine.session_context(A, s).unwrap(), (Some("DEMO".into()), Some("HEALTHCARE".into())));
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM providers").await.as_deref(), Some("10"));
    f.run(s, "use schema demo.healthcare").await;
    let e = f.try_run(A, s, "USE DATABASE nope", vec![]).await.unwrap_err();
    assert_eq!(e.code(), "002003");
    assert_eq!(f.value(s, "SELECT CURRENT_DATABASE()").await.as_deref(), Some("DEMO"));
    assert_eq!(f.value(s, "SELECT CURRENT_SCHEMA()").await.as_deref(), Some("HEALTHCARE"));
    assert_eq!(f.value(s, "SELECT CURRENT_ACCOUNT()").await.as_deref(), Some(A));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_warehouse_is_refused() {
    let f = fixture().await;
    let s = f.session(A).await;
    let e = f.try_run(A, s, "USE WAREHOUSE compute_wh", vec![]).await.unwrap_err();
    assert!(matches!(e, WarehouseError::UseWarehouse), "{e:?}");
    assert!(e.to_string().contains("USE WAREHOUSE is not supported"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positional_parameters_are_bound_not_spliced() {
    let f = fixture().await;
    let s = f.session(A).await;
    let r = f
        .try_run(
            A,
            s,
            "SELECT COUNT(*) FROM claims WHERE status = ? AND claim_amount >= ?",
            vec![Param::text("PAID"), Param::fixed(0)],
        )
        .await
        .unwrap();
    let n: i64 = encode::json_rowset(&r.batches).unwrap()[0][0].as_deref().unwrap().parse().unwrap();
    assert!(n > 0 && n < 2000, "{n}");
    let r = f.try_run(A, s, "SELECT :2 || :1", vec![Param::text("b"), Param::text("a")]).await.unwrap();
    assert_eq!(encode::json_rowset(&r.batches).unwrap()[0][0].as_deref(), Some("ab"));
    // A value that looks like SQL stays a value.
    let evil = "x' OR '1'='1";
    let r = f.try_run(A, s, "SELECT COUNT(*) FROM claims WHERE status = ?", vec![Param::text(evil)]).await.unwrap();
    assert_eq!(encode::json_rowset(&r.batches).unwrap()[0][0].as_deref(), Some("0"));
    let r = f.try_run(A, s, "SELECT ?", vec![Param::text(evil)]).await.unwrap();
    assert_eq!(encode::json_rowset(&r.batches).unwrap()[0][0].as_deref(), Some(evil));
    // Dates arrive as milliseconds since the epoch.
    let r = f
        .try_run(
            A,
            s,
            "SELECT COUNT(*) FROM claims WHERE service_date >= ?",
            vec![Param::new("DATE", Some("1704067200000".into()))],
        )
        .await
        .unwrap();
    assert_eq!(r.num_rows(), 1);
    // Missing parameter.
    let e = f.try_run(A, s, "SELECT ? + ?", vec![Param::fixed(1)]).await.unwrap_err();
    assert_eq!(e.code(), "002049", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_tables_live_in_their_session() {
    let f = fixture().await;
    let s = f.session(A).await;
    let r = f.run(s, "CREATE TEMPORARY TABLE big_claims AS SELECT * FROM claims WHERE claim_amount > 1000").await;
    assert_eq!(r.kind, StatementKind::CreateTable);
    let n: i64 = f.value(s, "SELECT COUNT(*) FROM big_claims").await.unwrap().parse().unwrap();
    f.run(s, "CREATE TEMP TABLE notes (id INT, note VARCHAR)").await;
    let r = f.run(s, "INSERT INTO notes VALUES (1, 'a'), (2, 'b')").await;
    assert_eq!((r.kind, r.rows_affected), (StatementKind::Insert, Some(2)));
    let r = f.try_run(A, s, "INSERT INTO notes SELECT ?, ?", vec![Param::fixed(3), Param::text("c")]).await.unwrap();
    assert_eq!(r.rows_affected, Some(1));
    assert_eq!(
        f.value(s, "SELECT LISTAGG(note, ',') WITHIN GROUP (ORDER BY id) FROM notes").await.as_deref(),
        Some("a,b,c")
    );
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM demo.healthcare.big_claims").await, Some(n.to_string()));
    let shown = f.rows(s, "SHOW TABLES").await;
    assert!(
        shown.iter().any(|r| r[1].as_deref() == Some("NOTES") && r[4].as_deref() == Some("TEMPORARY")),
        "{shown:?}"
    );

    // Another session of the same account does not see them.
    let other = f.session(A).await;
    let e = f.try_run(A, other, "SELECT * FROM notes", vec![]).await.unwrap_err();
    assert_eq!(e.code(), "002003", "{e}");

    f.run(s, "DROP TABLE notes").await;
    assert!(f.try_run(A, s, "SELECT * FROM notes", vec![]).await.is_err());
    f.engine.close_session(A, s).unwrap();
    assert!(matches!(f.try_run(A, s, "SELECT 1", vec![]).await, Err(WarehouseError::SessionNotFound)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_commands() {
    let f = fixture().await;
    let s = f.session(A).await;
    // The name is the second column, as Snowflake has it (clients read it by position).
    let databases = f.rows(s, "SHOW DATABASES").await;
    assert_eq!(databases.len(), 1);
    assert_eq!(databases[0][1].as_deref(), Some("DEMO"));
    let tables: Vec<_> = f.rows(s, "SHOW TABLES").await.into_iter().map(|r| r[1].clone().unwrap()).collect();
    assert_eq!(tables, ["CLAIMS", "PATIENTS", "PRESCRIPTIONS", "PROVIDERS"]);
    assert_eq!(f.rows(s, "SHOW TABLES LIKE 'PAT%'").await.len(), 1);
    let schemas: Vec<_> = f.rows(s, "SHOW SCHEMAS").await.into_iter().map(|r| r[1].clone().unwrap()).collect();
    assert_eq!(schemas, ["HEALTHCARE", "INFORMATION_SCHEMA"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rowtype_and_rowset_of_a_real_query() {
    let f = fixture().await;
    let s = f.session(A).await;
    let r = f
        .run(
            s,
            "SELECT claim_id, claim_amount, service_date, status, claim_amount > 100 AS big, CAST('2024-01-02 03:04:05.5' AS TIMESTAMP) AS ts, 1.5::DOUBLE AS r FROM claims ORDER BY claim_id LIMIT 1",
        )
        .await;
    let types = encode::row_types(&r.schema, &encode::ColumnOrigin::default());
    let t: Vec<_> = types.iter().map(|t| t.type_name.as_str()).collect();
    assert_eq!(t, ["fixed", "fixed", "date", "text", "boolean", "timestamp_ntz", "real"]);
    assert_eq!((types[1].precision, types[1].scale), (Some(12), Some(2)));
    let rows = encode::json_rowset(&r.batches).unwrap();
    assert_eq!(rows[0][0].as_deref(), Some("1"));
    assert!(rows[0][1].as_deref().unwrap().contains('.'));
    assert!(matches!(rows[0][4].as_deref(), Some("1" | "0")));
    assert_eq!(rows[0][5].as_deref(), Some("1704164645.500000000"));
    assert_eq!(rows[0][6].as_deref(), Some("1.5"));
    let b64 = encode::arrow_ipc_base64(&r.schema, &r.batches).unwrap();
    assert!(!b64.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_stream_in_batches() {
    use futures::StreamExt;
    let f = fixture().await;
    let s = f.session(A).await;
    let mut stream = f
        .engine
        .execute_stream(A, s, "SELECT * FROM claims", vec![], komodo_warehouse::CancellationToken::new())
        .await
        .unwrap();
    let mut rows = 0;
    while let Some(b) = stream.next().await {
        rows += b.unwrap().num_rows();
    }
    assert_eq!(rows, 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_sees_new_data_and_demo_is_deterministic() {
    let f = fixture().await;
    let s = f.session(A).await;
    let before = f.rows(s, "SELECT * FROM claims ORDER BY claim_id LIMIT 5").await;
    let options = komodo_warehouse::demo::DemoOptions { claims: 2_000, ..Default::default() };
    komodo_warehouse::demo::generate(&f.engine.account_dir(A).unwrap(), &options, |_| {}).unwrap();
    f.engine.reload_account(A).await.unwrap();
    assert_eq!(f.rows(s, "SELECT * FROM claims ORDER BY claim_id LIMIT 5").await, before);
    let bigger = komodo_warehouse::demo::DemoOptions { claims: 4_000, ..Default::default() };
    let mut calls = 0;
    komodo_warehouse::demo::generate(&f.engine.account_dir(A).unwrap(), &bigger, |_| calls += 1).unwrap();
    assert!(calls >= 4);
    f.engine.reload_account(A).await.unwrap();
    assert_eq!(f.value(s, "SELECT COUNT(*) FROM claims").await.as_deref(), Some("4000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_futures_can_be_spawned() {
    fn send<T: Send + 'static>(t: T) -> T {
        t
    }
    let f = std::sync::Arc::new(fixture().await);
    let s = f.session(A).await;
    let g = f.clone();
    let handle = tokio::spawn(send(async move {
        g.engine
            .execute(A, s, "SELECT 1", vec![], komodo_warehouse::CancellationToken::new())
            .await
            .map(|r| r.num_rows())
    }));
    assert_eq!(handle.await.unwrap().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_demo_generates_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let engine = komodo_warehouse::Engine::new(dir.path(), crate::support::config()).unwrap();
    let s = engine.open_session("fresh", None, None).await.unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = seen.clone();
    let summary = engine
        .load_demo("fresh", komodo_warehouse::demo::DemoOptions { claims: 500, ..Default::default() }, move |p| {
            counter.store(p.rows_done, std::sync::atomic::Ordering::Relaxed)
        })
        .await
        .unwrap();
    assert_eq!(summary.rows, seen.load(std::sync::atomic::Ordering::Relaxed));
    let r = engine
        .execute(
            "fresh",
            s,
            "SELECT COUNT(*) FROM demo.healthcare.claims",
            vec![],
            komodo_warehouse::CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(encode::json_rowset(&r.batches).unwrap()[0][0].as_deref(), Some("500"));
}

/// Large results arrive whole both when the plan has them ready at once
/// (one batch larger than what goes with the plan's head: it goes, and the
/// end follows through the channel) and when it produces them as it runs
/// (an in-memory table scanned in partitions): every row exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_results_arrive_whole_ready_at_once_or_not() {
    let f = fixture().await;
    let s = f.session(A).await;
    let result = f.run(s, "SELECT REPEAT('x', 9437184) AS s, LENGTH(REPEAT('y', 3)) AS n").await;
    assert_eq!(result.num_rows(), 1);
    let text = result.batches[0].column(0).as_any().downcast_ref::<arrow_array::StringArray>().expect("a string");
    assert_eq!(text.value(0).len(), 9 << 20);

    f.run(
        s,
        "CREATE TEMPORARY TABLE pairs AS
         SELECT ROW_NUMBER() OVER (ORDER BY c.claim_id, p.patient_id) AS n, c.claim_id, p.patient_id, c.status
         FROM claims c CROSS JOIN (SELECT patient_id FROM patients) p",
    )
    .await;
    let result = f.run(s, "SELECT n, claim_id, patient_id, status FROM pairs").await;
    assert_eq!(result.num_rows(), 400_000);
    let mut seen: Vec<u64> = Vec::with_capacity(400_000);
    for batch in &result.batches {
        let n = batch.column(0).as_any().downcast_ref::<arrow_array::UInt64Array>().expect("ROW_NUMBER is UInt64");
        seen.extend(n.values().iter().copied());
    }
    seen.sort_unstable();
    assert!(seen.iter().copied().eq(1..=400_000), "every row exactly once");
}
