//! Tables that last (Delta Lake tables in the account's own databases),
//! across engines sharing one warehouse directory, as replicas do.

use std::sync::Arc;

use komodo_warehouse::{CancellationToken, Engine, WarehouseError, encode};

use crate::support::config;

const ACCOUNT: &str = "acct-tables";

async fn run(
    engine: &Engine,
    s: komodo_warehouse::SessionId,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, WarehouseError> {
    let result = engine.execute(ACCOUNT, s, sql, vec![], CancellationToken::new()).await?;
    Ok(encode::json_rowset(&result.batches).unwrap())
}

/// A row written through one replica is read through another, and a table
/// one creates the other sees at its next statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_replica_writes_another_reads() {
    let dir = tempfile::tempdir().unwrap();
    let a = Engine::new(dir.path(), config()).unwrap();
    let b = Engine::new(dir.path(), config()).unwrap();
    let sa = a.open_session(ACCOUNT, None, None).await.unwrap();
    let sb = b.open_session(ACCOUNT, None, None).await.unwrap();
    run(&a, sa, "CREATE DATABASE shared").await.unwrap();
    run(&a, sa, "CREATE TABLE t (id INT, v VARCHAR)").await.unwrap();
    run(&a, sa, "INSERT INTO t VALUES (1, 'one')").await.unwrap();
    assert_eq!(run(&b, sb, "SELECT v FROM shared.public.t").await.unwrap(), vec![vec![Some("one".to_owned())]]);
    run(&b, sb, "UPDATE shared.public.t SET v = 'uno'").await.unwrap();
    assert_eq!(run(&a, sa, "SELECT v FROM t").await.unwrap(), vec![vec![Some("uno".to_owned())]]);
    run(&b, sb, "DROP TABLE shared.public.t").await.unwrap();
    assert!(matches!(run(&a, sa, "SELECT v FROM t").await, Err(WarehouseError::ObjectNotFound(_))));
}

/// Writers racing on one table: every insert is kept, and concurrent
/// updates of the same rows either both apply or one fails with the
/// conflict error; never a lost update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writers_never_lose_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let engines: Vec<Arc<Engine>> = (0..2).map(|_| Arc::new(Engine::new(dir.path(), config()).unwrap())).collect();
    let setup = engines[0].open_session(ACCOUNT, None, None).await.unwrap();
    run(&engines[0], setup, "CREATE DATABASE race").await.unwrap();
    run(&engines[0], setup, "CREATE TABLE counter (id INT, n INT)").await.unwrap();
    run(&engines[0], setup, "INSERT INTO counter VALUES (1, 0)").await.unwrap();

    // Appends from both replicas at once: all of them land.
    let mut tasks = Vec::new();
    for (i, engine) in engines.iter().enumerate() {
        for j in 0..4 {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                let s = engine.open_session(ACCOUNT, Some("RACE"), Some("PUBLIC")).await.unwrap();
                run(&engine, s, &format!("INSERT INTO counter VALUES ({}, 0)", 100 + i * 10 + j)).await
            }));
        }
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        run(&engines[0], setup, "SELECT COUNT(*) FROM race.public.counter").await.unwrap()[0][0].as_deref(),
        Some("9")
    );

    // Increments of the same row: the final count equals the increments
    // that reported success.
    let mut tasks = Vec::new();
    for engine in &engines {
        for _ in 0..4 {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                let s = engine.open_session(ACCOUNT, Some("RACE"), Some("PUBLIC")).await.unwrap();
                run(&engine, s, "UPDATE counter SET n = n + 1 WHERE id = 1").await
            }));
        }
    }
    let mut succeeded = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => succeeded += 1,
            Err(WarehouseError::Conflict(_)) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert!(succeeded >= 1);
    let n = run(&engines[0], setup, "SELECT n FROM race.public.counter WHERE id = 1").await.unwrap();
    assert_eq!(n[0][0].as_deref(), Some(succeeded.to_string().as_str()), "lost update");
}

/// A writer that stops half way (its task dropped before the commit)
/// leaves the table readable at its last commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_stopped_half_way_leaves_the_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(dir.path(), config()).unwrap();
    let s = engine.open_session(ACCOUNT, None, None).await.unwrap();
    run(&engine, s, "CREATE DATABASE crash").await.unwrap();
    run(&engine, s, "CREATE TABLE t AS SELECT 1 AS x").await.unwrap();
    run(&engine, s, "INSERT INTO t SELECT 1 FROM GENERATE_SERIES(1, 9)").await.unwrap();
    let cancel = CancellationToken::new();
    let insert =
        engine.execute(ACCOUNT, s, "INSERT INTO t SELECT 1 FROM GENERATE_SERIES(1, 3000000)", vec![], cancel.clone());
    let stopper = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        cancel.cancel();
    };
    let (_result, ()) = tokio::join!(insert, stopper);
    // All of the insert or none of it, whether the stop came before the
    // commit or after.
    let count = run(&engine, s, "SELECT COUNT(*) FROM t").await.unwrap()[0][0].clone().unwrap();
    assert!(count == "10" || count == "3000010", "{count}");
}

/// The warehouse directory a killed writer writes to (set only for the
/// child processes of [`writers_killed_mid_commit_leave_the_table_readable`]).
const KILLED_WRITER_DIR: &str = "KOMODO_TEST_KILLED_WRITER_DIR";

/// Run as a child process: inserts 1,000 rows at a time into `KILL.PUBLIC.T`
/// until it is killed. Does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writer_child() {
    let Some(dir) = std::env::var_os(KILLED_WRITER_DIR) else { return };
    let engine = Engine::new(std::path::Path::new(&dir), config()).unwrap();
    let s = engine.open_session(ACCOUNT, Some("KILL"), Some("PUBLIC")).await.unwrap();
    loop {
        // Conflicts with the other writers are expected; any other error is not.
        match run(&engine, s, "INSERT INTO t SELECT * FROM TABLE(GENERATE_SERIES(1, 1000))").await {
            // Tells the parent that this writer commits.
            Ok(_) => println!("committed"),
            Err(WarehouseError::Conflict(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// 100 writer processes killed with SIGKILL at random points of their
/// commits (ten at a time, on one table): the table stays readable, at the
/// last commit, and holds only whole inserts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_killed_mid_commit_leave_the_table_readable() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(dir.path(), config()).unwrap();
    let s = engine.open_session(ACCOUNT, None, None).await.unwrap();
    run(&engine, s, "CREATE DATABASE kill").await.unwrap();
    run(&engine, s, "CREATE TABLE t (v INT)").await.unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut committed = 0;
    for _round in 0..10 {
        let mut children = Vec::new();
        for _ in 0..10 {
            let mut child = std::process::Command::new(&exe)
                .args(["--exact", "tables::killed_writer_child", "--nocapture", "--test-threads", "1"])
                .env(KILLED_WRITER_DIR, dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(
                    std::fs::File::create(format!("/tmp/killed-child-{}.log", next()))
                        .map(std::process::Stdio::from)
                        .unwrap_or(std::process::Stdio::null()),
                )
                .spawn()
                .unwrap();
            let out = std::io::BufReader::new(child.stdout.take().unwrap());
            children.push((child, out));
        }
        for (mut child, mut out) in children {
            // Once it has committed, somewhere in one of its next commits.
            let mut line = String::new();
            while !line.contains("committed") {
                line.clear();
                assert!(out.read_line(&mut line).unwrap() > 0, "a writer stopped before committing");
            }
            std::thread::sleep(std::time::Duration::from_millis(next() % 300));
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let rows = run(&engine, s, "SELECT COUNT(*), COUNT(DISTINCT v) FROM kill.public.t").await.unwrap();
        let count: u64 = rows[0][0].as_deref().unwrap().parse().unwrap();
        assert_eq!(count % 1000, 0, "a partial insert is visible: {count} rows");
        assert!(count == 0 || rows[0][1].as_deref() == Some("1000"), "{rows:?}");
        committed = count;
    }
    assert!(committed > 0, "no writer committed anything: the kills proved nothing");
    // Still writable after all that.
    run(&engine, s, "INSERT INTO kill.public.t VALUES (1)").await.unwrap();
}

/// A read-only session (an account's `reader` role) reads the account's
/// own tables and changes none of them: every change is Snowflake's
/// insufficient-privileges error and leaves the data as it was. Its own
/// temporary tables stay writable, and a role changed while the session is
/// open applies from the next statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_reads_and_changes_nothing() {
    use komodo_warehouse::Access;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(dir.path(), config()).unwrap();
    let writer = engine.open_session(ACCOUNT, None, None).await.unwrap();
    for sql in [
        "CREATE DATABASE kept",
        "CREATE TABLE t (id INT, v VARCHAR)",
        "INSERT INTO t VALUES (1, 'one'), (2, 'two')",
        "CREATE VIEW v AS SELECT id FROM t",
        "CREATE TABLE gone (id INT)",
        "DROP TABLE gone",
    ] {
        run(&engine, writer, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let reader = engine.open_session(ACCOUNT, Some("KEPT"), Some("PUBLIC")).await.unwrap();
    engine.set_access(ACCOUNT, reader, Access::ReadOnly).unwrap();
    assert_eq!(run(&engine, reader, "SELECT COUNT(*) FROM t").await.unwrap(), vec![vec![Some("2".to_owned())]]);
    assert_eq!(run(&engine, reader, "SELECT COUNT(*) FROM v").await.unwrap(), vec![vec![Some("2".to_owned())]]);
    for sql in [
        "INSERT INTO t VALUES (3, 'three')",
        "INSERT INTO kept.public.t SELECT * FROM t",
        "UPDATE t SET v = 'x'",
        "DELETE FROM t",
        "MERGE INTO t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE",
        "TRUNCATE TABLE t",
        "DROP TABLE t",
        "DROP VIEW v",
        "ALTER TABLE t ADD COLUMN w INT",
        "ALTER TABLE t RENAME TO t2",
        "CREATE TABLE t3 (id INT)",
        "CREATE TABLE t4 AS SELECT * FROM t",
        "CREATE OR REPLACE VIEW v AS SELECT 1 AS id",
        "CREATE DATABASE other",
        "CREATE SCHEMA s2",
        "DROP SCHEMA public",
        "DROP DATABASE kept",
        "UNDROP TABLE gone",
    ] {
        let e = run(&engine, reader, sql).await.expect_err(sql);
        assert!(matches!(e, WarehouseError::InsufficientPrivileges(_)), "{sql}: {e:?}");
        assert_eq!((e.code(), e.sql_state()), ("003001", "42501"), "{sql}");
        assert!(e.to_string().contains("Insufficient privileges"), "{sql}: {e}");
    }
    // Nothing changed.
    assert_eq!(
        run(&engine, writer, "SELECT id, v FROM t ORDER BY id").await.unwrap(),
        vec![vec![Some("1".to_owned()), Some("one".to_owned())], vec![Some("2".to_owned()), Some("two".to_owned())]]
    );
    assert_eq!(run(&engine, writer, "SHOW DATABASES LIKE 'OTHER'").await.unwrap().len(), 0);
    // The session's own temporary tables and settings are its own.
    for sql in [
        "CREATE TEMPORARY TABLE scratch AS SELECT * FROM t",
        "INSERT INTO scratch VALUES (3, 'three')",
        "UPDATE scratch SET v = 'x' WHERE id = 3",
        "DELETE FROM scratch WHERE id = 1",
        "SET n = 1",
        "ALTER SESSION SET QUERY_TAG = 'r'",
        "BEGIN",
        "COMMIT",
    ] {
        run(&engine, reader, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    assert_eq!(
        run(&engine, reader, "SELECT LISTAGG(v, ',') WITHIN GROUP (ORDER BY id) FROM scratch").await.unwrap(),
        vec![vec![Some("two,x".to_owned())]]
    );
    // Made a member: the same session writes from its next statement.
    engine.set_access(ACCOUNT, reader, Access::ReadWrite).unwrap();
    run(&engine, reader, "INSERT INTO t VALUES (3, 'three')").await.unwrap();
    assert_eq!(run(&engine, writer, "SELECT COUNT(*) FROM t").await.unwrap(), vec![vec![Some("3".to_owned())]]);
    // Another account's session cannot be set.
    assert!(engine.set_access("acct-other", reader, Access::ReadWrite).is_err());
}

/// A result's rows by column name.
async fn named(
    engine: &Engine,
    s: komodo_warehouse::SessionId,
    sql: &str,
) -> (Vec<String>, Vec<std::collections::BTreeMap<String, Option<String>>>) {
    let result = engine
        .execute(ACCOUNT, s, sql, vec![], CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let names: Vec<String> = result.schema.fields().iter().map(|f| f.name().clone()).collect();
    let rows = encode::json_rowset(&result.batches)
        .unwrap()
        .into_iter()
        .map(|row| names.iter().cloned().zip(row).collect())
        .collect();
    (names, rows)
}

fn column(rows: &[std::collections::BTreeMap<String, Option<String>>], name: &str) -> Vec<String> {
    rows.iter().map(|r| r[name].clone().unwrap_or_else(|| "NULL".into())).collect()
}

/// `SHOW` with Snowflake's columns in its order, scopes and filters;
/// `DESCRIBE VIEW`; `GET_DDL` of tables, views, schemas and databases.
#[test]
fn show_describe_and_get_ddl_answer_as_snowflake_does() {
    // A debug build's frame for one long async function keeps a copy of
    // every statement's future: more than a test thread's 2 MiB here.
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(Box::pin(show_describe_and_get_ddl()));
        })
        .unwrap()
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

async fn show_describe_and_get_ddl() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(dir.path(), config()).unwrap();
    let options = komodo_warehouse::demo::DemoOptions { claims: 100, ..Default::default() };
    komodo_warehouse::demo::generate(&engine.account_dir(ACCOUNT).unwrap(), &options, |_| {}).unwrap();
    let s = engine.open_session(ACCOUNT, None, None).await.unwrap();
    for sql in [
        "CREATE DATABASE shop",
        "CREATE TABLE items (id INT NOT NULL, name VARCHAR)",
        "INSERT INTO items VALUES (1, 'pen'), (2, 'ink')",
        "CREATE VIEW cheap AS SELECT id, name FROM items WHERE id < 2",
        "CREATE TEMPORARY TABLE scratch (x INT)",
        "INSERT INTO scratch VALUES (7)",
        "CREATE SCHEMA archive",
        "CREATE TABLE archive.\"old items\" (id INT)",
        "USE SCHEMA shop.public",
    ] {
        run(&engine, s, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    // SHOW TABLES: Snowflake's columns, sizes from the table's log.
    let (names, rows) = named(&engine, s, "SHOW TABLES IN SCHEMA shop.public").await;
    assert_eq!(
        names[..11],
        [
            "created_on",
            "name",
            "database_name",
            "schema_name",
            "kind",
            "comment",
            "cluster_by",
            "rows",
            "bytes",
            "owner",
            "retention_time"
        ]
    );
    assert_eq!(column(&rows, "name"), ["ITEMS", "SCRATCH"]);
    assert_eq!(column(&rows, "kind"), ["TABLE", "TEMPORARY"]);
    assert_eq!(column(&rows, "rows"), ["2", "1"]);
    assert!(column(&rows, "bytes").iter().all(|b| b.parse::<i64>().unwrap() > 0), "{rows:?}");
    assert_ne!(rows[0]["created_on"], None, "an own table knows when it was made");
    // Without IN: the current database, every schema of it.
    let (_, rows) = named(&engine, s, "SHOW TABLES").await;
    assert_eq!(column(&rows, "name"), ["old items", "ITEMS", "SCRATCH"]);
    // Filters: LIKE (any case), STARTS WITH (exact), LIMIT ... FROM (after that name).
    let (_, rows) = named(&engine, s, "SHOW TABLES LIKE '%it%' IN DATABASE shop").await;
    assert_eq!(column(&rows, "name"), ["old items", "ITEMS"]);
    let (_, rows) = named(&engine, s, "SHOW TABLES IN DATABASE shop STARTS WITH 'IT'").await;
    assert_eq!(column(&rows, "name"), ["ITEMS"]);
    let (_, rows) = named(&engine, s, "SHOW TABLES IN ACCOUNT").await;
    assert_eq!(column(&rows, "database_name"), ["DEMO", "DEMO", "DEMO", "DEMO", "SHOP", "SHOP", "SHOP"]);
    let (_, rows) = named(&engine, s, "SHOW TABLES IN SCHEMA shop.public LIMIT 1").await;
    assert_eq!(column(&rows, "name"), ["ITEMS"]);
    let (_, rows) = named(&engine, s, "SHOW TABLES IN SCHEMA shop.public LIMIT 10 FROM 'ITEMS'").await;
    assert_eq!(column(&rows, "name"), ["SCRATCH"]);
    let (names, _) = named(&engine, s, "SHOW TERSE TABLES").await;
    assert_eq!(names, ["created_on", "name", "kind", "database_name", "schema_name"]);
    let e = run(&engine, s, "SHOW TABLES IN DATABASE nothing_here").await.unwrap_err();
    assert_eq!(e.code(), "002003", "{e}");

    // SHOW VIEWS, SCHEMAS, DATABASES: the name is the second column.
    let (_, rows) = named(&engine, s, "SHOW VIEWS").await;
    assert_eq!(column(&rows, "name"), ["CHEAP"]);
    assert_eq!(column(&rows, "text"), ["CREATE VIEW cheap AS SELECT id, name FROM items WHERE id < 2"]);
    let result = engine.execute(ACCOUNT, s, "SHOW VIEWS", vec![], CancellationToken::new()).await.unwrap();
    assert_eq!(encode::json_rowset(&result.batches).unwrap()[0][1].as_deref(), Some("CHEAP"));
    let (_, rows) = named(&engine, s, "SHOW SCHEMAS IN DATABASE shop").await;
    assert_eq!(column(&rows, "name"), ["ARCHIVE", "INFORMATION_SCHEMA", "PUBLIC"]);
    assert_eq!(column(&rows, "is_current"), ["N", "N", "Y"]);
    let (_, rows) = named(&engine, s, "SHOW DATABASES").await;
    assert_eq!(column(&rows, "name"), ["DEMO", "SHOP"]);
    assert_eq!(column(&rows, "kind"), ["IMPORTED DATABASE", "STANDARD"]);
    assert_eq!(column(&rows, "is_current"), ["N", "Y"]);
    let (_, rows) = named(&engine, s, "SHOW OBJECTS IN SCHEMA shop.public").await;
    assert_eq!(column(&rows, "kind"), ["VIEW", "TABLE", "TEMPORARY"]);

    // SHOW COLUMNS: tables and views, the type as Snowflake's JSON.
    let (_, rows) = named(&engine, s, "SHOW COLUMNS IN TABLE items").await;
    assert_eq!(column(&rows, "column_name"), ["ID", "NAME"]);
    assert_eq!(
        column(&rows, "data_type"),
        [
            r#"{"type":"FIXED","precision":38,"scale":0,"nullable":false}"#,
            r#"{"type":"TEXT","length":16777216,"byteLength":16777216,"nullable":true,"fixed":false}"#
        ]
    );
    assert_eq!(column(&rows, "null?"), ["false", "true"]);
    let (_, rows) = named(&engine, s, "SHOW COLUMNS LIKE 'NA%' IN SCHEMA shop.public").await;
    assert_eq!(column(&rows, "table_name"), ["CHEAP", "ITEMS"]);
    let (_, rows) = named(&engine, s, "SHOW COLUMNS IN demo.healthcare.providers").await;
    assert!(column(&rows, "column_name").contains(&"NPI".to_owned()), "{rows:?}");

    // DESCRIBE VIEW, also with comments where SQLAlchemy puts them.
    let (_, rows) = named(&engine, s, "DESC VIEW /* sqlalchemy:_has_object */ shop.public.cheap").await;
    assert_eq!(column(&rows, "name"), ["ID", "NAME"]);
    assert_eq!(run(&engine, s, "DESCRIBE VIEW items").await.unwrap_err().code(), "002003");

    // GET_DDL.
    let ddl = |sql: &'static str| {
        let engine = &engine;
        async move { run(engine, s, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))[0][0].clone().unwrap() }
    };
    assert_eq!(
        ddl("SELECT GET_DDL('TABLE', 'items')").await,
        "create or replace TABLE ITEMS (\n\tID NUMBER(38,0) NOT NULL,\n\tNAME VARCHAR(16777216)\n);"
    );
    assert_eq!(
        ddl("SELECT GET_DDL('table', 'shop.archive.\"old items\"', TRUE)").await,
        "create or replace TABLE SHOP.ARCHIVE.\"old items\" (\n\tID NUMBER(38,0)\n);"
    );
    assert_eq!(
        ddl("SELECT GET_DDL('VIEW', 'cheap')").await,
        "CREATE VIEW cheap AS SELECT id, name FROM items WHERE id < 2;"
    );
    let schema = ddl("SELECT GET_DDL('SCHEMA', 'public')").await;
    assert!(schema.starts_with("create or replace schema PUBLIC;\n"), "{schema}");
    assert!(schema.contains("TABLE ITEMS (") && schema.contains("CREATE VIEW cheap"), "{schema}");
    assert!(!schema.contains("SCRATCH"), "temporary tables are not part of a schema's DDL: {schema}");
    let database = ddl("SELECT GET_DDL('DATABASE', 'shop')").await;
    assert!(database.starts_with("create or replace database SHOP;\n"), "{database}");
    assert!(database.contains("TABLE SHOP.ARCHIVE.\"old items\""), "{database}");
    // The text is a value like any other.
    let expected = "create or replace TABLE ITEMS (\n\tID NUMBER(38,0) NOT NULL,\n\tNAME VARCHAR(16777216)\n);";
    assert_eq!(ddl("SELECT LENGTH(GET_DDL('TABLE', 'items'))").await, expected.len().to_string());
    assert_eq!(run(&engine, s, "SELECT GET_DDL('TABLE', 'nope')").await.unwrap_err().code(), "002003");
    let e = run(&engine, s, "SELECT GET_DDL('TABLE', name) FROM items").await.unwrap_err();
    assert!(e.to_string().contains("GET_DDL takes constants"), "{e}");
}

/// Replicas sharing one directory share its sequences: values handed out
/// through either, to sessions inserting at once into an identity column
/// and calling `NEXTVAL`, are never the same twice. `SHOW SEQUENCES` has
/// Snowflake's columns, and `SELECT s.NEXTVAL` names its column `NEXTVAL`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_never_hand_out_a_sequence_value_twice() {
    let dir = tempfile::tempdir().unwrap();
    let engines: Vec<Arc<Engine>> = (0..2).map(|_| Arc::new(Engine::new(dir.path(), config()).unwrap())).collect();
    let setup = engines[0].open_session(ACCOUNT, None, None).await.unwrap();
    for sql in [
        "CREATE DATABASE ids",
        "CREATE SEQUENCE shared START = 1 INCREMENT = 1 COMMENT = 'tickets'",
        "CREATE TABLE t (id INT AUTOINCREMENT, n INT DEFAULT shared.nextval, who VARCHAR)",
    ] {
        run(&engines[0], setup, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let mut tasks = Vec::new();
    for (i, engine) in engines.iter().enumerate() {
        for j in 0..3 {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                let s = engine.open_session(ACCOUNT, Some("IDS"), Some("PUBLIC")).await.unwrap();
                for k in 0..3 {
                    let sql = format!("INSERT INTO t (who) VALUES ('{i}-{j}-{k}a'), ('{i}-{j}-{k}b')");
                    run(&engine, s, &sql).await.unwrap();
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rows = run(&engines[1], setup_session(&engines[1]).await, "SELECT id, n FROM ids.public.t").await.unwrap();
    assert_eq!(rows.len(), 36);
    for column in 0..2 {
        let mut values: Vec<i64> = rows.iter().map(|r| r[column].as_deref().unwrap().parse().unwrap()).collect();
        values.sort_unstable();
        values.dedup();
        assert_eq!(values.len(), 36, "column {column} repeats a value");
    }
    // One session's values go up one at a time.
    let s = setup_session(&engines[0]).await;
    let (names, rows) =
        named(&engines[0], s, "SELECT ids.public.shared.nextval, ids.public.shared.nextval AS again").await;
    assert_eq!(names, ["NEXTVAL", "AGAIN"]);
    let first: i64 = rows[0]["NEXTVAL"].as_deref().unwrap().parse().unwrap();
    assert_eq!(rows[0]["AGAIN"].as_deref().unwrap().parse::<i64>().unwrap(), first + 1);
    let (names, rows) = named(&engines[0], s, "SHOW SEQUENCES IN DATABASE ids").await;
    assert_eq!(
        names,
        ["created_on", "name", "database_name", "schema_name", "next_value", "interval", "owner", "comment", "ordered"]
    );
    assert_eq!(column(&rows, "name"), ["SHARED"]);
    assert_eq!(column(&rows, "comment"), ["tickets"]);
    // Values claimed by both replicas lie below the next value.
    let next: i64 = column(&rows, "next_value")[0].parse().unwrap();
    assert!(next > first + 1, "next_value {next} after {first}");
    assert!(named(&engines[0], s, "SHOW SEQUENCES LIKE 'nope%'").await.1.is_empty());
}

async fn setup_session(engine: &Engine) -> komodo_warehouse::SessionId {
    engine.open_session(ACCOUNT, None, None).await.unwrap()
}
