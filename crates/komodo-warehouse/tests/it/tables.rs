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
