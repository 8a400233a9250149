//! SECURITY.md T04 (no file system or network from SQL, read-only
//! subscription data, time and memory limits, failures stay alone), T05
//! (accounts are isolated) and I01 (the SQL front end, bind parameters and
//! the engine never panic on any input; the same entry points are the fuzz
//! targets in `fuzz/`).

use std::time::Duration;

use komodo_warehouse::{CancellationToken, EngineConfig, Param, WarehouseError, parse_check};
use proptest::prelude::*;

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
        "CREATE DATABASE x CLONE demo".to_owned(),
        "CREATE DATABASE x LOCATION '/etc/'".to_owned(),
        "CREATE SCHEMA demo.x".to_owned(),
        "EXPLAIN SELECT 1".to_owned(),
        // Snowflake's INFORMATION_SCHEMA is there, DataFusion's is not.
        "SELECT * FROM information_schema.df_settings".to_owned(),
        "SELECT * FROM datafusion.information_schema.tables".to_owned(),
    ];
    for sql in &statements {
        match f.try_run(A, s, sql, vec![]).await {
            Ok(r) => panic!("{sql} succeeded: {r:?}"),
            Err(e) => assert!(
                matches!(
                    e,
                    WarehouseError::NotAllowed(_)
                        | WarehouseError::Compilation(_)
                        | WarehouseError::ObjectNotFound(_)
                        | WarehouseError::InsufficientPrivileges(_)
                ),
                "{sql}: {e:?}"
            ),
        }
    }
    assert!(!target.exists());
    assert_eq!(f.value(s, "SELECT 1").await.as_deref(), Some("1"));
}

/// T04: network locations (`http://`, `https://`, `s3://`, `gs://`,
/// `file://`) are refused wherever a statement can name one: as a table,
/// in a table function, in `COPY`, `CREATE EXTERNAL TABLE`, stages and
/// `PUT`/`GET`; no request leaves the machine and no file is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t04_network_locations_are_refused() {
    let f = fixture().await;
    let s = f.session(A).await;
    let mut statements = Vec::new();
    for location in [
        "http://127.0.0.1:9/x.parquet",
        "https://example.com/x.csv",
        "s3://bucket/x.parquet",
        "gs://bucket/x.parquet",
        "file:///etc/passwd",
        "file://localhost/etc/hostname",
    ] {
        statements.extend([
            format!("SELECT * FROM '{location}'"),
            format!("SELECT * FROM \"{location}\""),
            format!("SELECT * FROM read_parquet('{location}')"),
            format!("SELECT * FROM read_csv('{location}')"),
            format!("SELECT * FROM read_json('{location}')"),
            format!("SELECT * FROM TABLE(read_parquet('{location}'))"),
            format!("COPY INTO claims FROM '{location}'"),
            format!("COPY INTO '{location}' FROM claims"),
            format!("COPY (SELECT 1) TO '{location}'"),
            format!("CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '{location}'"),
            format!("CREATE TEMPORARY TABLE x (a INT) LOCATION '{location}'"),
            format!("CREATE STAGE st URL = '{location}'"),
            format!("PUT {location} @~"),
            format!("GET @~/x {location}"),
        ]);
    }
    for sql in &statements {
        match f.try_run(A, s, sql, vec![]).await {
            Ok(r) => panic!("{sql} succeeded: {r:?}"),
            Err(e) => assert!(
                matches!(
                    e,
                    WarehouseError::NotAllowed(_)
                        | WarehouseError::Compilation(_)
                        | WarehouseError::ObjectNotFound(_)
                        | WarehouseError::InsufficientPrivileges(_)
                ),
                "{sql}: {e:?}"
            ),
        }
    }
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
        // Snowflake's insufficient-privileges error, saying why.
        assert!(matches!(e, WarehouseError::InsufficientPrivileges(_)), "{sql}: {e:?}");
        assert_eq!((e.code(), e.sql_state()), ("003001", "42501"), "{sql}");
        assert!(e.to_string().contains("subscription data is read-only"), "{sql}: {e}");
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
    wait_until_idle(&f.engine).await;
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
    // Within the operator budget: plans and runs (on the engine's threads' large stacks).
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
    // The work itself stops, not just the wait for it.
    wait_until_idle(&f.engine).await;
    assert_eq!(f.value(s, "SELECT 1").await.as_deref(), Some("1"));
}

/// Waits until no statement's task is alive on the engine's threads.
async fn wait_until_idle(engine: &komodo_warehouse::Engine) {
    for _ in 0..600 {
        if engine.active_tasks() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} statement tasks still alive 30 s after the statement ended", engine.active_tasks());
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

/// Pieces of Snowflake SQL that the I01 properties glue together: keywords,
/// the functions the dialect rewrites, placeholders, literals at the edges
/// of their types, unbalanced quotes and comments, statements the engine
/// refuses, and the demo data's names.
const FRAGMENTS: &[&str] = &[
    "SELECT",
    "*",
    "FROM",
    "claims",
    "patients p",
    "demo.healthcare.claims",
    "WHERE",
    "(",
    ")",
    ",",
    ".",
    ";",
    "1",
    "0",
    "-1",
    "1.5",
    "1e400",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999999999999999999999",
    "'a'",
    "''",
    "'it''s'",
    "'unterminated",
    "\"Quoted\"",
    "\"",
    "$$dollar$$",
    "X'00ff'",
    "NULL",
    "TRUE",
    "?",
    ":1",
    ":0",
    ":99999999999999999999",
    "$1",
    "?9999999999999999999999",
    "claim_id",
    "claim_amount",
    "service_date",
    "diagnosis_code",
    "paid_amount",
    "+",
    "-",
    "*",
    "/",
    "%",
    "||",
    "=",
    "<>",
    "<=",
    "AND",
    "OR",
    "NOT",
    "IS NULL",
    "IN (",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "::",
    "::INT",
    "::NUMBER(99999999999, 99)",
    "::TIMESTAMP_NTZ(99)",
    "::VARIANT",
    "CAST(",
    "AS",
    "NUMBER(38, -1)",
    "IFF(",
    "ZEROIFNULL(",
    "NULLIFZERO(",
    "DIV0(",
    "DIV0NULL(",
    "DATEADD(",
    "DATEDIFF(",
    "TIMESTAMPADD(",
    "day",
    "quarter",
    "'week'",
    "nanosecond",
    "TO_CHAR(",
    "'YYYY-MM-DD HH24:MI:SS%'",
    "TO_DATE(",
    "TO_NUMBER(",
    "LISTAGG(",
    "WITHIN GROUP (ORDER BY",
    "COUNT_IF(",
    "APPROX_COUNT_DISTINCT(",
    "CURRENT_ACCOUNT()",
    "CURRENT_DATABASE()",
    "SYSDATE()",
    "YEAR(",
    "DAYOFWEEK(",
    "TOP",
    "TOP 5",
    "LIMIT",
    "OFFSET",
    "ORDER BY",
    "GROUP BY",
    "HAVING",
    "QUALIFY",
    "OVER (PARTITION BY",
    "ROW_NUMBER()",
    "CASE WHEN",
    "THEN",
    "ELSE",
    "END",
    "JOIN",
    "ON",
    "UNION ALL",
    "WITH",
    "VALUES",
    "LATERAL FLATTEN(",
    "INSERT INTO",
    "CREATE TEMPORARY TABLE t AS",
    "DROP TABLE",
    "USE SCHEMA",
    "SHOW TABLES LIKE",
    "'%_%'",
    "COPY INTO",
    "@stage",
    "EXPLAIN",
    "SET",
    "--",
    "/*",
    "*/",
    "\n",
    "é",
    "\u{0}",
];

/// Glued fragments, arbitrary text, and deep nesting of every construct
/// that recurses in the parser or the rewriter.
fn sql_text() -> impl Strategy<Value = String> {
    const NESTING: &[(&str, &str)] = &[
        ("(", ")"),
        ("- ", ""),
        ("NOT ", ""),
        ("CASE WHEN 1 = 1 THEN ", " END"),
        ("IFF(TRUE, ", ", 0)"),
        ("DATEADD(day, 1, ", ")"),
        ("CAST(", " AS INT)"),
        ("(SELECT ", ")"),
        ("[", "]"),
        ("LISTAGG(", ") WITHIN GROUP (ORDER BY 1)"),
    ];
    let glued = (prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40), any::<bool>())
        .prop_map(|(parts, spaced)| parts.join(if spaced { " " } else { "" }));
    let nested = (prop::sample::select(NESTING), 0usize..400, prop::sample::select(FRAGMENTS))
        .prop_map(|((open, close), depth, core)| format!("SELECT {}{core}{}", open.repeat(depth), close.repeat(depth)));
    let chained = (prop::sample::select(&["+", "AND", "||", "=", "OR"][..]), 0usize..1_200)
        .prop_map(|(op, n)| format!("SELECT 1{}", format!(" {op} 1").repeat(n)));
    prop_oneof![glued, "\\PC{0,200}", ".{0,200}", nested, chained]
}

/// Snowflake bindings: known type names (any case) and junk, with values at
/// the edges of each encoding.
fn param() -> impl Strategy<Value = Param> {
    let type_name = prop_oneof![
        prop::sample::select(
            &[
                "TEXT",
                "ANY",
                "FIXED",
                "REAL",
                "BOOLEAN",
                "DATE",
                "TIME",
                "TIMESTAMP_NTZ",
                "TIMESTAMP_LTZ",
                "TIMESTAMP_TZ",
                "BINARY",
                "fixed",
                "Date",
                "GEOGRAPHY",
                "",
                "ſixed",
            ][..]
        )
        .prop_map(str::to_owned),
        ".{0,12}",
    ];
    let value = prop_oneof![
        prop::sample::select(
            &[
                "",
                "0",
                "-",
                "+",
                ".",
                "-.",
                "1.",
                ".5",
                "-0.5",
                "+-1",
                "1e5",
                "NaN",
                "inf",
                "-inf",
                "true",
                "yes",
                "maybe",
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775808",
                "-9223372036854775809",
                "99999999999999999999999999999999999999",
                "-99999999999999999999999999999999999999",
                "999999999999999999999999999999999999999",
                "0.00000000000000000000000000000000000001",
                "170141183460469231731687303715884105727",
                "1000000000 1500",
                "1000000000",
                " 12 ",
                "00ff",
                "0",
                "zz",
                "é0",
                "0é",
                "ff\u{301}",
            ][..]
        )
        .prop_map(str::to_owned),
        "[0-9a-fA-F.+ -]{0,45}",
        ".{0,40}",
    ];
    (type_name, prop::option::of(value)).prop_map(|(t, v)| Param::new(t, v))
}

/// SECURITY.md I01 for SQL: the front end that every statement passes
/// (`parse_check`, the entry point of `fuzz/fuzz_targets/sql.rs`) returns
/// `Ok` or an error for any text, never panics and never overflows its
/// stack, however deep the nesting or long the operator chain.
#[test]
fn i01_sql_front_end_never_panics() {
    let config = ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(sql in sql_text())| {
        let _ = parse_check(&sql);
    });
    // The limits that keep it bounded hold at their edges.
    assert!(parse_check(&format!("SELECT {}1{}", "(".repeat(5_000), ")".repeat(5_000))).is_err());
    assert!(parse_check(&format!("SELECT 1{}", " + 1".repeat(1_000))).is_ok());
    assert!(parse_check(&format!("SELECT 1{}", " + 1".repeat(1_001))).is_err());
    assert!(parse_check("select iff(a, 1, 2), dateadd(quarter, -9223372036854775807, d) from t where x = ?").is_ok());
}

/// SECURITY.md I01 for bind parameters: any type name and value the
/// gateway hands over becomes a scalar or a `Binding` error.
#[test]
fn i01_bind_parameters_never_panic() {
    let config = ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(p in param())| {
        match p.to_scalar() {
            Ok(_) => {}
            Err(e) => prop_assert!(matches!(e, WarehouseError::Binding(_)), "{p:?}: {e:?}"),
        }
    });
}

/// SECURITY.md I01 through the whole engine: glued statements with bound
/// parameters are planned and run against the demo data, and each ends in
/// a result or an error of its own. A panic while planning or running
/// would surface as an internal error that says so; neither happens, and
/// the session keeps working.
#[test]
fn i01_sql_engine_never_panics() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let f = runtime.block_on(fixture_with(EngineConfig { statement_timeout: Duration::from_millis(500), ..config() }));
    let s = runtime.block_on(f.session(A));
    let frames = prop::sample::select(
        &["{}", "SELECT {}", "SELECT {} FROM claims LIMIT 3", "SELECT claim_id FROM claims WHERE {} LIMIT 3"][..],
    );
    let config = ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(frame in frames, sql in sql_text(), params in prop::collection::vec(param(), 0..3))| {
        let statement = frame.replace("{}", &sql);
        match runtime.block_on(f.try_run(A, s, &statement, params.clone())) {
            Ok(_) => {}
            Err(WarehouseError::Internal(message)) => {
                prop_assert!(!message.contains("panicked"), "{statement} {params:?}: {message}")
            }
            Err(_) => {}
        }
    });
    assert_eq!(runtime.block_on(f.value(s, "SELECT 1")).as_deref(), Some("1"));
}
