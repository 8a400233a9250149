//! The connector gateway end to end, through the Rust SDK's `Connection`:
//! connect, `SELECT 1` round trips on an open connection, and fetching a
//! large 6-column result as Arrow (in chunks, as Snowflake's protocol
//! lists them, and streamed while the statement runs), compared in the
//! same run with the same statement executed in-process on DataFusion
//! itself (its defaults, the same Parquet files) and on the platform's
//! embedded engine.
//!
//! Run with `bench/gateway.sh` (or `cargo bench -p komodo-server --bench
//! gateway`); `KOMODO_BENCH_ROWS` sets the result size (default 10M rows),
//! `KOMODO_BENCH_ROUND_TRIPS` the round trips measured (default 1000).
//! Prints one Markdown table.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use komodo::config::ProviderConfig;
use komodo::env::Env;
use komodo::warehouse::ConnectionBuilder;
use komodo_server::warehouse::{CancellationToken, Engine};
use komodo_testkit::Platform;

/// The allocator the `komodo-server` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SQL: &str =
    "SELECT claim_id, patient_id, provider_id, service_date, claim_amount, status FROM DEMO.HEALTHCARE.CLAIMS";

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)]
}

/// CPU time this process has used (user and system, all threads), from
/// `/proc/self/stat` in clock ticks of 10 ms.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and
    // stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The same statement on DataFusion itself, with its defaults (string
/// views, a partition per core), over the same Parquet files: the
/// baseline the gateway is measured against.
async fn plain_datafusion(claims_dir: &std::path::Path) -> (Duration, usize) {
    use datafusion::prelude::{ParquetReadOptions, SessionContext};
    let ctx = SessionContext::new();
    let dir = format!("{}/", claims_dir.display());
    ctx.register_parquet("claims", &dir, ParquetReadOptions::default()).await.expect("register the Parquet files");
    // The files' column names are upper case, as Snowflake's are.
    let sql = r#"SELECT "CLAIM_ID", "PATIENT_ID", "PROVIDER_ID", "SERVICE_DATE", "CLAIM_AMOUNT", "STATUS" FROM claims"#;
    let start = Instant::now();
    let mut stream = ctx.sql(sql).await.expect("plan").execute_stream().await.expect("execute");
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        rows += batch.expect("batch").num_rows();
    }
    (start.elapsed(), rows)
}

async fn in_process(engine: &Engine, account: &str) -> (Duration, usize) {
    let session = engine.open_session(account, None, None).await.expect("session");
    let start = Instant::now();
    let mut stream =
        engine.execute_stream(account, session, SQL, Vec::new(), CancellationToken::new()).await.expect("statement");
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        rows += batch.expect("batch").num_rows();
    }
    let elapsed = start.elapsed();
    engine.close_session(account, session).expect("close");
    (elapsed, rows)
}

fn main() {
    let rows: u64 = std::env::var("KOMODO_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let repeats: usize =
        std::env::var("KOMODO_BENCH_ROUND_TRIPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let platform = Platform::builder()
            .config(|c| {
                c.demo_claims = 0;
                c.engine.statement_timeout = Duration::from_secs(3600);
                c.engine.session_memory_limit = 8 << 30;
                c.gateway.sync_wait = Duration::from_secs(50);
            })
            .start()
            .await;
        let account = platform.create_account("bench", "bench").await;
        let sp = platform.create_service_principal(&account.slug, "bench").await;
        eprintln!("generating {rows} claims of demo data ...");
        platform.load_demo(&account.id, rows).await;

        let home = tempfile::tempdir().expect("temp dir");
        let env = Env::from_slice(&[
            ("KOMODO_API_URL", platform.url()),
            ("HOME", home.path().to_str().expect("utf-8 temp dir")),
        ]);
        // One configuration, so one HTTP client and its open connections,
        // as in a long-running program.
        let config = ProviderConfig::new(env);
        let builder = || {
            ConnectionBuilder::new(config.clone())
                .client_id(sp.client_id.clone())
                .client_secret(sp.client_secret.expose_secret())
                .account_id(account.id.clone())
                .web_login(None)
        };

        eprintln!("measuring: connect");
        // Connect: credentials (the client credentials token is cached per
        // process, as in any long-running program) and the gateway login,
        // over the HTTP client's open connection.
        builder().connect().await.expect("first connect").close().await.expect("close");
        let mut connects = Vec::new();
        for _ in 0..50 {
            let start = Instant::now();
            let conn = builder().connect().await.expect("connect");
            connects.push(start.elapsed());
            conn.close().await.expect("close");
        }

        // SELECT 1 on an open connection.
        eprintln!("measuring: SELECT 1 round trips");
        let conn = builder().connect().await.expect("connect");
        let mut round_trips = Vec::new();
        for i in 0..repeats + 50 {
            let start = Instant::now();
            let mut cursor = conn.execute("SELECT 1", &[]).await.expect("SELECT 1");
            let row = cursor.fetchone().await.expect("fetch").expect("one row");
            let elapsed = start.elapsed();
            assert_eq!(row.len(), 1);
            if i >= 50 {
                round_trips.push(elapsed);
            }
        }

        eprintln!("measuring: heartbeats");
        // A heartbeat: the HTTP round trip and the session check alone.
        let mut heartbeats = Vec::new();
        for i in 0..repeats + 50 {
            let start = Instant::now();
            conn.heartbeat().await.expect("heartbeat");
            if i >= 50 {
                heartbeats.push(start.elapsed());
            }
        }

        eprintln!("measuring: SELECT 1 in-process");
        // SELECT 1 on the engine in-process: what the round trip costs
        // before the gateway, the store and the network add theirs.
        let engine = platform.state().gateway().embedded().expect("embedded engine").clone();
        let session = engine.open_session(&account.id, None, None).await.expect("session");
        let mut engine_only = Vec::new();
        for i in 0..repeats + 50 {
            let start = Instant::now();
            let result = engine.execute(&account.id, session, "SELECT 1", Vec::new(), CancellationToken::new()).await;
            let elapsed = start.elapsed();
            assert_eq!(result.expect("SELECT 1").num_rows(), 1);
            if i >= 50 {
                engine_only.push(elapsed);
            }
        }
        engine.close_session(&account.id, session).expect("close");

        eprintln!("measuring: the large result in-process");
        // The large result: in-process first (also warms the file cache),
        // then through the gateway; five runs each, medians compared.
        let claims_dir = engine.account_dir(&account.id).expect("account dir").join("DEMO/HEALTHCARE/CLAIMS");
        let mut datafusion = Vec::new();
        let cpu = cpu_time();
        for _ in 0..5 {
            let (elapsed, n) = plain_datafusion(&claims_dir).await;
            assert_eq!(n as u64, rows);
            datafusion.push(elapsed);
        }
        let datafusion_cpu = (cpu_time() - cpu) / 5;
        let mut local = Vec::new();
        let mut remote = Vec::new();
        let cpu = cpu_time();
        for _ in 0..5 {
            let (elapsed, n) = in_process(&engine, &account.id).await;
            assert_eq!(n as u64, rows);
            local.push(elapsed);
        }
        let local_cpu = (cpu_time() - cpu) / 5;
        eprintln!("measuring: the large result in chunks");
        for _ in 0..5 {
            let start = Instant::now();
            let mut cursor = conn.execute(SQL, &[]).await.expect("large statement");
            let mut batches = cursor.fetch_arrow_batches().expect("arrow batches");
            let mut n = 0usize;
            while let Some(batch) = batches.next_batch().await.expect("batch") {
                n += batch.num_rows();
            }
            remote.push(start.elapsed());
            assert_eq!(n as u64, rows, "every row arrives");
        }
        eprintln!("measuring: the large result streamed");
        let mut streamed = Vec::new();
        let cpu = cpu_time();
        for _ in 0..5 {
            let start = Instant::now();
            let mut batches = conn.stream_arrow(SQL, &[]).await.expect("large statement, streamed");
            let mut n = 0usize;
            while let Some(batch) = batches.next_batch().await.expect("batch") {
                n += batch.num_rows();
            }
            streamed.push(start.elapsed());
            assert_eq!(n as u64, rows, "every row arrives");
        }
        let streamed_cpu = (cpu_time() - cpu) / 5;
        conn.close().await.expect("close");

        let local_median = median(&mut local);
        let remote_median = median(&mut remote);
        let rate = |d: Duration| rows as f64 / d.as_secs_f64() / 1e6;
        println!("| measurement | median | p99 / detail | goal |");
        println!("|---|---:|---:|---|");
        println!(
            "| connect (client credentials cached, gateway login) | {} | {} | ≤ 5 ms |",
            ms(median(&mut connects)),
            ms(percentile(&mut connects, 0.99))
        );
        println!(
            "| `SELECT 1` round trip, open connection | {} | {} | ≤ 1 ms |",
            ms(median(&mut round_trips)),
            ms(percentile(&mut round_trips, 0.99))
        );
        println!(
            "| heartbeat round trip (HTTP and the session check alone) | {} | {} | baseline |",
            ms(median(&mut heartbeats)),
            ms(percentile(&mut heartbeats, 0.99))
        );
        println!(
            "| `SELECT 1` in-process (the engine alone) | {} | {} | baseline |",
            ms(median(&mut engine_only)),
            ms(percentile(&mut engine_only, 0.99))
        );
        // The goal compares with DataFusion itself; the engine's own figure
        // shows what the platform's configuration costs or saves.
        let datafusion_median = median(&mut datafusion);
        let of = |d: Duration| 100.0 * datafusion_median.as_secs_f64() / d.as_secs_f64();
        println!(
            "| {rows} rows × 6 columns in-process, DataFusion with its defaults | {} | {:.1} M rows/s, {:.2} CPU s | baseline |",
            ms(datafusion_median),
            rate(datafusion_median),
            datafusion_cpu.as_secs_f64()
        );
        println!(
            "| {rows} rows × 6 columns in-process, the platform's engine | {} | {:.1} M rows/s, {:.2} CPU s, {:.0}% of DataFusion | baseline |",
            ms(local_median),
            rate(local_median),
            local_cpu.as_secs_f64(),
            of(local_median)
        );
        println!(
            "| {rows} rows × 6 columns via gateway, Arrow chunks (Snowflake's protocol) | {} | {:.1} M rows/s, {:.0}% of DataFusion | baseline |",
            ms(remote_median),
            rate(remote_median),
            of(remote_median)
        );
        let streamed_median = median(&mut streamed);
        println!(
            "| {rows} rows × 6 columns via gateway, streamed Arrow (`Connection::stream_arrow`) | {} | {:.1} M rows/s, {:.0}% of DataFusion, {:.0}% of the engine, {:.2} CPU s | ≥ 50% |",
            ms(streamed_median),
            rate(streamed_median),
            of(streamed_median),
            100.0 * local_median.as_secs_f64() / streamed_median.as_secs_f64(),
            streamed_cpu.as_secs_f64()
        );
        platform.stop().await;
    });
}
