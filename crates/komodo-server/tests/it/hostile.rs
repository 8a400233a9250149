//! SECURITY.md F01, F03, F05 and F06 through the gateway: statements that
//! are long, never yield, build huge values or bind many rows end alone,
//! within their limits, and leave the platform serving everyone else.

use std::time::{Duration, Instant};

use komodo_testkit::Platform;
use serde_json::{Value, json};

use crate::common::*;
use crate::gateway::{Conn, connect};

/// A statement whose operators never wait: a cross join of two generated
/// series counted (10^12 rows).
pub(crate) const RUNAWAY: &str =
    "SELECT COUNT(*) FROM TABLE(GENERATE_SERIES(1, 1000000)) a CROSS JOIN TABLE(GENERATE_SERIES(1, 1000000)) b";

/// CPU time this process (the platform runs in it) has used.
pub(crate) fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("procfs");
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..].split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// A platform with `configure`d limits, a connection of a service
/// principal of `demo`, and one of a service principal of another account.
async fn two_accounts(
    configure: impl FnOnce(&mut komodo_server::config::Config) + Send + 'static,
) -> (Platform, Conn, Conn) {
    let platform = Platform::builder().config(configure).start().await;
    let demo = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let conn = connect(&platform, &token, &demo).await;
    let other = platform.create_account("acme", "acme").await;
    let sp = platform.create_service_principal(&other.slug, "bi").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let other_conn = connect(&platform, &token, &other.id).await;
    (platform, conn, other_conn)
}

/// `SELECT 1` of `conn` answers within a few seconds, five times over.
async fn stays_responsive(conn: &Conn) {
    for _ in 0..5 {
        let started = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(10), conn.query("SELECT 1")).await;
        match answer {
            Ok(v) => assert_eq!(v["data"]["rowset"], json!([["1"]]), "{v}"),
            Err(_) => panic!("another account's SELECT 1 waited {:?}", started.elapsed()),
        }
    }
}

/// Waits until the warehouse runs nothing, then checks that the process
/// stays idle.
async fn engine_stops(platform: &Platform) {
    let engine = platform.state().gateway().engine().clone();
    let started = Instant::now();
    while engine.active_tasks() > 0 {
        assert!(started.elapsed() < Duration::from_secs(2), "{} engine tasks alive", engine.active_tasks());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = cpu_time();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = cpu_time().saturating_sub(before);
    assert!(used < Duration::from_millis(600), "{used:?} of CPU in the 3 s after the statement ended");
}

/// F01: two 139 KB one-line statements (the review's IN list) do not hold
/// the threads that serve requests: `/healthz` answers meanwhile (it took
/// 267 s before), and both statements finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f01_long_one_line_statements_do_not_stall_other_requests() {
    let (platform, conn, other) = two_accounts(|_| {}).await;
    let list: Vec<String> = (0..25_000).map(|i| i.to_string()).collect();
    let sql = format!("select 1 as x where 1 in ({})", list.join(","));
    let runs = [conn, other].map(|c| {
        let sql = sql.clone();
        tokio::spawn(async move { c.query(&sql).await })
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..5 {
        let started = Instant::now();
        let health = tokio::time::timeout(Duration::from_secs(5), http().get(platform.url_for("/healthz")).send())
            .await
            .unwrap_or_else(|_| panic!("/healthz waited {:?}", started.elapsed()))
            .unwrap();
        assert_eq!(health.status(), 200);
    }
    for run in runs {
        let answer = run.await.unwrap();
        assert_eq!(answer["data"]["rowset"], json!([["1"]]), "{answer}");
    }
}

/// F03: statements past their deadline stop using CPU, and while they run
/// another account's `SELECT 1` is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f03_runaway_statements_stop_at_their_deadline_and_do_not_starve_others() {
    let (platform, conn, other) = two_accounts(|c| c.engine.statement_timeout = Duration::from_secs(4)).await;
    let conn = std::sync::Arc::new(conn);
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.query(RUNAWAY).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stays_responsive(&other).await;
    for run in runs {
        let answer = run.await.unwrap();
        assert_eq!(answer["code"], "000630", "{answer}");
    }
    engine_stops(&platform).await;
}

/// F03: an aborted statement stops using CPU too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f03_aborted_statements_stop_using_cpu() {
    let (platform, conn, other) = two_accounts(|_| {}).await;
    let submitted = conn.query_with(RUNAWAY, json!({"asyncExec": true}), "runaway-1").await;
    let id = submitted["data"]["queryId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stays_responsive(&other).await;
    let abort = conn.post(&format!("/queries/{id}/abort-request"), &json!({})).await;
    assert_eq!(abort["data"]["cancelled"], true, "{abort}");
    engine_stops(&platform).await;
    let result = conn.get(&format!("/queries/{id}/result")).await;
    assert_eq!(result["code"], "000604", "{result}");
}

/// F05: huge values and results fail with Snowflake's errors, and the
/// session goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f05_huge_values_and_results_fail_alone() {
    let (_platform, conn, _) = two_accounts(|c| c.engine.session_memory_limit = 64 << 20).await;
    let value = conn.query("select length(x) from (select repeat('x', 300000000) as x)").await;
    assert_eq!(
        (value["code"].as_str(), value["data"]["sqlState"].as_str()),
        (Some("100078"), Some("22000")),
        "{value}"
    );
    let result = conn.query("select * from generate_series(1, 30000000)").await;
    assert_eq!(result["code"], "000625", "{result}");
    assert_eq!(conn.rows("SELECT 2").await, vec![vec![json!("2")]]);
}

fn binding(values: Vec<i64>) -> Value {
    json!({"1": {"type": "FIXED", "value": values.iter().map(i64::to_string).collect::<Vec<_>>()}})
}

/// F06: an array binding runs under one deadline (12 rows of a statement
/// of about a second ran 20 s under a 5 s limit before), and the rows one
/// statement may bind are capped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f06_array_bindings_share_one_deadline_and_are_capped() {
    let (_platform, conn, _) = two_accounts(|c| {
        c.engine.statement_timeout = Duration::from_secs(2);
        c.gateway.max_binding_rows = 100;
    })
    .await;
    let slow = "SELECT COUNT(*) FROM GENERATE_SERIES(1, 3000) a CROSS JOIN GENERATE_SERIES(1, 3000) b WHERE a.\"value\" + b.\"value\" > ?";
    let one = conn.query_with(slow, json!({"bindings": {"1": {"type": "FIXED", "value": "0"}}}), "one").await;
    assert_eq!(one["success"], true, "{one}");
    let started = Instant::now();
    let many = conn.query_with(slow, json!({"bindings": binding((0..12).collect())}), "many").await;
    assert_eq!(many["code"], "000630", "{many} after {:?}", started.elapsed());
    let capped = conn.query_with("SELECT ?", json!({"bindings": binding((0..101).collect())}), "capped").await;
    assert_eq!(capped["code"], "002049", "{capped}");
    assert!(capped["message"].as_str().unwrap().contains("100 rows"), "{capped}");
}

/// `ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS` lowers the session's
/// limit on every replica that serves it (never above the platform's), and
/// a parameter the platform does not honour is refused, not ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_session_statement_timeout_holds_on_every_replica() -> Result<(), TestDatabaseError> {
    let (_replicas, on_a, on_b) = crate::gateway::one_session_on_two_replicas().await?;
    assert_eq!(on_b.rows("SELECT 1").await, vec![vec![json!("1")]]);
    let set = on_a.query("ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 1").await;
    assert_eq!(set["success"], true, "{set}");
    let started = Instant::now();
    let timed_out = on_b.query(RUNAWAY).await;
    assert_eq!(timed_out["code"], "000630", "{timed_out} after {:?}", started.elapsed());
    assert!(timed_out["message"].as_str().unwrap().contains("1 second"), "{timed_out}");
    for refused in ["ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = 100000", "ALTER SESSION SET WEEK_START = 1"] {
        let answer = on_a.query(refused).await;
        assert_eq!(answer["success"], false, "{refused}: {answer}");
    }
    Ok(())
}
