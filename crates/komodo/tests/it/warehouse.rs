//! Warehouse connections against the real platform: every seed connection
//! method, bindings, Arrow results across chunks, async statements,
//! cancellation, sessions that outlive their access token, typed errors,
//! and accounts the credentials have no right to.

use std::time::{Duration, Instant};

use futures::StreamExt;
use komodo::Error;
use komodo::config::ProviderConfig;
use komodo::env::Env;
use komodo::warehouse::{Connection, ConnectionBuilder, Decimal, InterfaceError, QueryId, QueryStatus, Value};
use komodo_protocol::iam::{CreatedServicePrincipal, Role};
use komodo_testkit::{Platform, PlatformBuilder, RUNAWAY_SQL, TEST_DEMO_CLAIMS, TempHome, TestUser};
use time::macros::{date, datetime, time};

const COUNT_CLAIMS: &str = "SELECT COUNT(*) FROM DEMO.HEALTHCARE.CLAIMS";

/// A statement that never ends on its own: a recursive CTE counting up
/// forever. (Its work yields to the runtime between iterations, so a
/// cancellation stops it for real; see the report on CPU-bound joins.)
const ENDLESS: &str = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT MAX(n) FROM t";
/// The platform, the demo account, a member of it with a saved login in
/// `[default]`, and a service principal saved as `[production]`.
struct Fixture {
    platform: Platform,
    home: TempHome,
    account: String,
    user: TestUser,
    sp: CreatedServicePrincipal,
}

impl Fixture {
    async fn new() -> Self {
        Self::with(Platform::builder()).await
    }

    async fn with(builder: PlatformBuilder) -> Self {
        let platform = builder.start().await;
        let account = platform.demo_account_id().expect("the demo account is bootstrapped").to_owned();
        let user = platform.create_user("ana@example.com", "correct horse battery staple").await;
        platform.add_member(&account, &user.email, Role::Member).await;
        let sp = platform.create_service_principal(&account, "etl").await;
        let tokens = platform.login(&user, "openid offline_access").await;
        let expires =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + tokens.expires_in;
        let home = TempHome::new();
        home.write_credentials(&format!(
            "[default]\ntoken = {}\ntoken_expiration = {expires}\nrefresh_token = {}\naccount_id = {account}\n\n\
             [production]\nclient_id = {}\nclient_secret = {}\naccount_id = {account}\n",
            tokens.access_token.expose_secret(),
            tokens.refresh_token.as_ref().expect("a refresh token").expose_secret(),
            sp.client_id,
            sp.client_secret.expose_secret(),
        ));
        Self { platform, home, account, user, sp }
    }

    fn config(&self) -> ProviderConfig {
        ProviderConfig::new(Env::from_slice(&[
            ("HOME", self.home.path().to_str().unwrap()),
            ("KOMODO_API_URL", self.platform.url()),
        ]))
    }

    /// A builder on this platform and home, without web login.
    fn builder(&self) -> ConnectionBuilder {
        ConnectionBuilder::new(self.config()).web_login(None)
    }

    async fn jwt(&self) -> String {
        self.platform.login(&self.user, "openid").await.access_token.expose_secret().to_owned()
    }
}

async fn count_claims(conn: &Connection) -> i64 {
    let mut cursor = conn.execute(COUNT_CLAIMS, &[]).await.unwrap();
    let row = cursor.fetchone().await.unwrap().expect("one row");
    assert!(cursor.fetchone().await.unwrap().is_none());
    row[0].as_i64().expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_connection_method_reaches_the_demo_data() {
    let f = Fixture::new().await;
    let expected = i64::try_from(TEST_DEMO_CLAIMS).unwrap();

    // get_snowflake_connection(): the [default] profile.
    let conn = f.builder().connect().await.unwrap();
    assert_eq!(count_claims(&conn).await, expected);
    assert_eq!(conn.account_id(), f.account);
    assert_eq!(conn.session_info().role.as_deref(), Some("MEMBER"));
    conn.close().await.unwrap();
    conn.close().await.unwrap();
    let closed = conn.execute("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(closed, Error::Interface(InterfaceError::Closed)), "{closed:?}");

    // get_snowflake_connection(jwt=..., account_id=...).
    let jwt = f.jwt().await;
    let conn = f.builder().jwt(&jwt).account_id(&f.account).connect().await.unwrap();
    assert_eq!(count_claims(&conn).await, expected);
    assert!(!format!("{conn:?}").contains(&jwt));

    // get_snowflake_connection(client_id=..., client_secret=..., account_id=...).
    let conn = f
        .builder()
        .client_id(&f.sp.client_id)
        .client_secret(f.sp.client_secret.expose_secret())
        .account_id(&f.account)
        .connect()
        .await
        .unwrap();
    assert_eq!(count_claims(&conn).await, expected);
    assert_eq!(conn.session_info().role.as_deref(), Some("SERVICE_PRINCIPAL"));

    // get_snowflake_connection(profile="production").
    let conn = f.builder().profile("production").database("DEMO").schema("HEALTHCARE").connect().await.unwrap();
    assert_eq!((conn.database().as_deref(), conn.schema().as_deref()), (Some("DEMO"), Some("HEALTHCARE")));
    let mut cursor = conn.execute("SELECT COUNT(*) FROM CLAIMS", &[]).await.unwrap();
    assert_eq!(cursor.fetchall().await.unwrap(), vec![vec![Value::Int(expected)]]);

    // The same credentials through the environment.
    let env = Env::from_slice(&[
        ("HOME", f.home.path().to_str().unwrap()),
        ("KOMODO_API_URL", f.platform.url()),
        ("KOMODO_CLIENT_ID", &f.sp.client_id),
        ("KOMODO_CLIENT_SECRET", f.sp.client_secret.expose_secret()),
        ("KOMODO_ACCOUNT_ID", &f.account),
    ]);
    let conn = ConnectionBuilder::new(ProviderConfig::new(env)).web_login(None).connect().await.unwrap();
    assert_eq!(count_claims(&conn).await, expected);

    // The six rules hold before any I/O, as everywhere in the SDK.
    let err = f.builder().profile("production").account_id(&f.account).connect().await.unwrap_err();
    assert!(err.to_string().contains("the profile contains the account ID"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_descriptions_and_bindings() {
    let f = Fixture::new().await;
    let conn = f.builder().connect().await.unwrap();

    let mut cursor = conn
        .execute(
            "SELECT CLAIM_ID, CLAIM_AMOUNT, SERVICE_DATE, STATUS, PAID_AMOUNT FROM DEMO.HEALTHCARE.CLAIMS \
             ORDER BY CLAIM_ID LIMIT 3",
            &[],
        )
        .await
        .unwrap();
    let description = cursor.description().unwrap().to_vec();
    let names: Vec<&str> = description.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["CLAIM_ID", "CLAIM_AMOUNT", "SERVICE_DATE", "STATUS", "PAID_AMOUNT"]);
    let codes: Vec<u8> = description.iter().map(|c| c.type_code).collect();
    assert_eq!(codes, [0, 0, 3, 2, 0]);
    assert_eq!((description[1].precision, description[1].scale), (Some(12), Some(2)));
    assert!(!description[0].null_ok && description[4].null_ok);
    assert_eq!(cursor.rowcount(), Some(3));
    assert_eq!(cursor.sqlstate(), Some("00000"));
    assert!(cursor.sfqid().is_some());
    let first = cursor.fetchone().await.unwrap().unwrap();
    assert_eq!(first[0], Value::Int(1));
    assert!(matches!(first[1], Value::Decimal(Decimal { scale: 2, .. })), "{first:?}");
    assert!(matches!(first[2], Value::Date(_)), "{first:?}");
    assert!(matches!(first[3], Value::Text(_)), "{first:?}");
    assert_eq!(cursor.fetchmany(5).await.unwrap().len(), 2);
    assert!(cursor.fetchall().await.unwrap().is_empty());

    // Every kind of value goes out as a binding and comes back.
    let params = vec![
        Value::from(42),
        Value::Decimal("-12.50".parse().unwrap()),
        Value::from(1.5),
        Value::from("it's \"quoted\""),
        Value::from(true),
        Value::from(vec![0u8, 0xab, 0xff]),
        Value::from(date!(2024 - 01 - 02)),
        Value::from(time!(01:02:03.5)),
        Value::from(datetime!(2024-01-02 03:04:05.123456)),
    ];
    let mut cursor = conn.execute("SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?", &params).await.unwrap();
    assert_eq!(cursor.fetchone().await.unwrap().unwrap(), params);
    let mut cursor = conn.execute("SELECT ? IS NULL", &[Value::Null]).await.unwrap();
    assert_eq!(cursor.fetchone().await.unwrap().unwrap(), vec![Value::Bool(true)]);

    // A bound filter gives what the literal gives.
    let literal = conn
        .execute("SELECT COUNT(*) FROM DEMO.HEALTHCARE.CLAIMS WHERE CLAIM_AMOUNT > 100 AND STATUS <> 'DENIED'", &[])
        .await
        .unwrap()
        .fetchall()
        .await
        .unwrap();
    let bound = conn
        .execute(
            "SELECT COUNT(*) FROM DEMO.HEALTHCARE.CLAIMS WHERE CLAIM_AMOUNT > ? AND STATUS <> ?",
            &[Value::from(100), Value::from("DENIED")],
        )
        .await
        .unwrap()
        .fetchall()
        .await
        .unwrap();
    assert_eq!(bound, literal);

    // DML: the row count is the rows inserted.
    let conn = f.builder().database("DEMO").schema("HEALTHCARE").connect().await.unwrap();
    let mut cursor = conn.cursor();
    cursor.execute("CREATE TEMPORARY TABLE SCRATCH (X INT, S TEXT)", &[]).await.unwrap();
    let rows: Vec<Vec<Value>> = (1..=3).map(|i| vec![Value::from(i), Value::from(format!("row {i}"))]).collect();
    cursor.executemany("INSERT INTO SCRATCH VALUES (?, ?)", &rows).await.unwrap();
    assert_eq!(cursor.rowcount(), Some(3));
    cursor.execute("INSERT INTO SCRATCH VALUES (?, ?)", &rows[0]).await.unwrap();
    assert_eq!(cursor.rowcount(), Some(1));
    // Not an INSERT: one statement per set, row counts added up.
    cursor.executemany("SELECT ?", &[vec![Value::from(1)], vec![Value::from("two")]]).await.unwrap();
    assert_eq!(cursor.rowcount(), Some(2));
    assert_eq!(cursor.fetchall().await.unwrap(), vec![vec![Value::from("two")]]);
    cursor.execute("SELECT SUM(X), COUNT(*) FROM SCRATCH", &[]).await.unwrap();
    let totals = cursor.fetchone().await.unwrap().unwrap();
    assert_eq!((totals[0].as_i64(), totals[1].as_i64()), (Some(7), Some(4)));

    // Fetching before executing is a misuse, said as such.
    let err = conn.cursor().fetchone().await.unwrap_err();
    assert!(matches!(err, Error::Interface(InterfaceError::NoResult)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_results_stream_as_arrow_across_chunks() {
    let f = Fixture::new().await;
    let conn = f.builder().profile("production").connect().await.unwrap();
    let n = i64::try_from(TEST_DEMO_CLAIMS).unwrap();
    // n² rows: past the first inline rows and over more than one chunk.
    let sql = "SELECT a.CLAIM_ID AS A, b.CLAIM_ID AS B, a.CLAIM_AMOUNT AS AMOUNT \
               FROM DEMO.HEALTHCARE.CLAIMS a CROSS JOIN DEMO.HEALTHCARE.CLAIMS b";
    let expected_sum = n * (n * (n + 1) / 2);

    let mut cursor = conn.execute(sql, &[]).await.unwrap();
    assert_eq!(cursor.rowcount(), Some(u64::try_from(n * n).unwrap()));
    let schema = cursor.arrow_schema().expect("an Arrow result");
    assert_eq!(schema.fields().len(), 3);
    let batches = cursor.fetch_arrow_all().await.unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows as i64, n * n);
    let sum: i64 = batches
        .iter()
        .map(|b| {
            let a = b.column(0).as_any().downcast_ref::<arrow_array::Int64Array>().expect("Int64 ids");
            a.values().iter().sum::<i64>()
        })
        .sum();
    assert_eq!(sum, expected_sum, "every row exactly once, in order of the chunks");

    // Rows first, then the rest as batches: nothing lost or repeated at
    // the seams.
    let mut cursor = conn.execute(sql, &[]).await.unwrap();
    let head = cursor.fetchmany(70_000).await.unwrap();
    assert_eq!(head.len(), 70_000);
    let mut sum: i64 = head.iter().map(|r| r[0].as_i64().unwrap()).sum();
    let mut rest = cursor.fetch_arrow_batches().unwrap();
    let mut rows = head.len();
    while let Some(batch) = rest.next().await {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        let a = batch.column(0).as_any().downcast_ref::<arrow_array::Int64Array>().unwrap();
        sum += a.values().iter().sum::<i64>();
    }
    assert_eq!((rows as i64, sum), (n * n, expected_sum));
    assert!(cursor.fetchone().await.is_err(), "the batches took the rest of the result");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_statements_are_submitted_then_polled() {
    let f = Fixture::new().await;
    let conn = f.builder().connect().await.unwrap();
    let mut cursor = conn.cursor();
    let query_id = cursor.execute_async(COUNT_CLAIMS, &[]).await.unwrap();
    assert_eq!(cursor.sfqid(), Some(&query_id));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = conn.query_status(&query_id).await.unwrap();
        if !status.is_still_running() {
            assert_eq!(status, QueryStatus::Success);
            break;
        }
        assert!(Instant::now() < deadline, "still {status} after a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Another cursor (and another connection of the account) fetches it.
    let other = f.builder().connect().await.unwrap();
    let mut results = other.cursor();
    results.get_results_from_query_id(&query_id).await.unwrap();
    assert_eq!(results.fetchone().await.unwrap().unwrap(), vec![Value::Int(i64::try_from(TEST_DEMO_CLAIMS).unwrap())]);
    assert_eq!(results.rowcount(), Some(1));

    // Waiting directly, without polling the status first.
    let query_id = cursor.execute_async("SELECT 7 * 6", &[]).await.unwrap();
    let mut results = conn.cursor();
    results.get_results_from_query_id(&query_id).await.unwrap();
    assert_eq!(results.fetchall().await.unwrap(), vec![vec![Value::Int(42)]]);

    // A failing statement: its status carries the error.
    match cursor.execute_async("SELECT * FROM DEMO.HEALTHCARE.NO_SUCH_TABLE", &[]).await {
        Err(Error::Warehouse(e)) => assert_eq!(e.code, "002003"),
        Ok(query_id) => {
            let err = loop {
                match conn.query_status_throw_if_error(&query_id).await {
                    Ok(status) if status.is_still_running() => tokio::time::sleep(Duration::from_millis(50)).await,
                    Ok(status) => panic!("the statement ended {status}"),
                    Err(err) => break err,
                }
            };
            let Error::Warehouse(e) = err else { panic!("{err:?}") };
            assert_eq!(e.code, "002003");
            let err = conn.cursor().get_results_from_query_id(&query_id).await.map(|_| ()).unwrap_err();
            assert!(matches!(&err, Error::Warehouse(e) if e.code == "002003"), "{err:?}");
        }
        Err(other) => panic!("{other:?}"),
    }

    // An id nobody submitted.
    let unknown = QueryId::new(uuid::Uuid::new_v4().to_string()).unwrap();
    assert_eq!(conn.query_status(&unknown).await.unwrap(), QueryStatus::NoData);
}

/// SECURITY.md F03 through the SDK: a statement whose operators never
/// yield, cancelled from another task, aborted by id or past its deadline,
/// leaves no live warehouse task within 2 s, and another account's
/// `SELECT 1` is answered while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f03_runaway_statements_stop_where_they_run() {
    let f = Fixture::with(Platform::builder().config(|c| c.engine.statement_timeout = Duration::from_secs(4))).await;
    let conn = f.builder().profile("production").connect().await.unwrap();
    let other = f.platform.create_account("acme", "acme").await;
    let sp = f.platform.create_service_principal(&other.slug, "bi").await;
    let other_conn = f
        .builder()
        .client_id(&sp.client_id)
        .client_secret(sp.client_secret.expose_secret())
        .account_id(&other.id)
        .connect()
        .await
        .unwrap();
    let other_stays_fast = || async {
        for _ in 0..3 {
            let answer = tokio::time::timeout(Duration::from_secs(10), other_conn.execute("SELECT 1", &[])).await;
            let mut cursor = answer.expect("another account's SELECT 1 waited more than 10 s").unwrap();
            assert_eq!(cursor.fetchone().await.unwrap().unwrap()[0].as_i64(), Some(1));
        }
    };

    // Cancelled from another task while its request is open.
    let mut cursor = conn.cursor();
    let cancel = cursor.cancel_handle();
    let running = tokio::spawn(async move { cursor.execute(RUNAWAY_SQL, &[]).await.map(|_| ()) });
    while !cancel.is_running() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    other_stays_fast().await;
    assert!(cancel.cancel().await.unwrap());
    let err = running.await.unwrap().unwrap_err();
    assert!(matches!(&err, Error::Warehouse(e) if e.is_cancelled()), "{err:?}");
    f.platform.assert_warehouse_idle_within(Duration::from_secs(2)).await;

    // Aborted by query id.
    let query_id = conn.cursor().execute_async(RUNAWAY_SQL, &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(conn.abort_query(&query_id).await.unwrap());
    f.platform.assert_warehouse_idle_within(Duration::from_secs(2)).await;

    // Past its deadline.
    let err = conn.execute(RUNAWAY_SQL, &[]).await.map(|_| ()).unwrap_err();
    assert!(matches!(&err, Error::Warehouse(e) if e.is_timeout()), "{err:?}");
    f.platform.assert_warehouse_idle_within(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_statement_is_cancelled_from_another_task() {
    let f = Fixture::new().await;
    let conn = f.builder().profile("production").connect().await.unwrap();

    // By request id, while the statement's request is open.
    let mut cursor = conn.cursor();
    let cancel = cursor.cancel_handle();
    assert!(!cancel.is_running());
    let canceller = tokio::spawn(async move {
        while !cancel.is_running() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        cancel.cancel().await
    });
    let started = Instant::now();
    let err = cursor.execute(ENDLESS, &[]).await.map(|_| ()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
    let Error::Warehouse(e) = &err else { panic!("{err:?}") };
    assert!(e.is_cancelled(), "{e}");
    assert_eq!(e.sql_state.as_deref(), Some("57014"));
    assert!(e.query_id.is_some());
    assert!(canceller.await.unwrap().unwrap());
    assert!(!cursor.cancel().await.unwrap(), "nothing left to cancel");

    // By query id, for a statement submitted asynchronously.
    let query_id = cursor.execute_async(ENDLESS, &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(conn.abort_query(&query_id).await.unwrap());
    let err = conn.cursor().get_results_from_query_id(&query_id).await.map(|_| ()).unwrap_err();
    assert!(matches!(&err, Error::Warehouse(e) if e.is_cancelled()), "{err:?}");
    let status = conn.query_status(&query_id).await.unwrap();
    assert!(status.is_error(), "{status}");

    // The session goes on.
    assert_eq!(count_claims(&conn).await, i64::try_from(TEST_DEMO_CLAIMS).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_outlives_its_access_token() {
    // Access tokens live 2 s, session tokens 1 s, master tokens 3 s (each
    // at most a second more: expiries are whole seconds, rounded up).
    let f = Fixture::with(Platform::builder().config(|c| {
        c.access_token_ttl = Duration::from_secs(2);
        c.clock_leeway = Duration::ZERO;
        c.gateway.session_token_ttl = Duration::from_secs(1);
        c.gateway.master_token_ttl = Duration::from_secs(3);
    }))
    .await;
    let expected = i64::try_from(TEST_DEMO_CLAIMS).unwrap();
    // A service principal (client credentials) and a user login (refresh token).
    let connections = [
        f.builder().profile("production").connect().await.unwrap(),
        f.builder().database("DEMO").schema("HEALTHCARE").connect().await.unwrap(),
    ];
    let first_sessions: Vec<i64> = connections.iter().map(|c| c.session_info().session_id).collect();

    // The session token expired: renewed with the master token.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for (conn, first) in connections.iter().zip(&first_sessions) {
        assert_eq!(count_claims(conn).await, expected);
        assert_eq!(conn.session_info().session_id, *first, "renewed, not logged in again");
    }

    // The master token and the access token expired: a new login with a
    // fresh access token, in the same database and schema.
    tokio::time::sleep(Duration::from_millis(4000)).await;
    for (conn, first) in connections.iter().zip(&first_sessions) {
        assert_eq!(count_claims(conn).await, expected);
        assert_ne!(conn.session_info().session_id, *first, "a new session");
    }
    assert_eq!(connections[1].database().as_deref(), Some("DEMO"));
    let mut cursor = connections[1].execute("SELECT COUNT(*) FROM CLAIMS", &[]).await.unwrap();
    assert_eq!(cursor.fetchone().await.unwrap().unwrap(), vec![Value::Int(expected)]);
    // The refreshed login was saved.
    let file = f.home.read_credentials().unwrap();
    assert!(file.contains("[production]"), "{file}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_errors_carry_snowflakes_code_and_sqlstate() {
    let f = Fixture::new().await;
    let conn = f.builder().connect().await.unwrap();
    let cases = [("SELECT * FROM DEMO.HEALTHCARE.NO_SUCH_TABLE", "002003", "42S02"), ("SELEC 1", "001003", "42000")];
    for (sql, code, state) in cases {
        let err = conn.execute(sql, &[]).await.map(|_| ()).unwrap_err();
        let Error::Warehouse(e) = &err else { panic!("{sql}: {err:?}") };
        assert_eq!((e.code.as_str(), e.sql_state.as_deref()), (code, Some(state)), "{sql}: {e}");
        assert!(e.query_id.is_some(), "{sql}: {e:?}");
        assert!(err.to_string().starts_with(&format!("{code} ({state}): ")), "{err}");
        assert!(!e.is_cancelled() && !e.is_timeout());
    }
    // The connection is fine afterwards.
    assert_eq!(count_claims(&conn).await, i64::try_from(TEST_DEMO_CLAIMS).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_is_refused() {
    let f = Fixture::new().await;
    let other = f.platform.create_account("elsewhere", "elsewhere-b").await;
    let jwt = f.jwt().await;
    let refused = [
        f.builder().jwt(&jwt).account_id(&other.id).connect().await.unwrap_err(),
        f.builder().jwt(&jwt).account_id(&other.slug).connect().await.unwrap_err(),
        f.builder()
            .client_id(&f.sp.client_id)
            .client_secret(f.sp.client_secret.expose_secret())
            .account_id(&other.id)
            .connect()
            .await
            .unwrap_err(),
        f.builder().account_id(&other.id).connect().await.unwrap_err(),
        f.builder().jwt(&jwt).account_id("no-such-account").connect().await.unwrap_err(),
    ];
    for err in refused {
        let Error::Warehouse(e) = &err else { panic!("{err:?}") };
        assert!(e.is_access_denied(), "{e}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains(&jwt) && !text.contains(f.sp.client_secret.expose_secret()), "{text}");
    }
    // A token the gateway does not accept.
    let err = f.builder().jwt("eyJhbGciOiJFUzI1NiJ9.e30.c2ln").account_id(&f.account).connect().await.unwrap_err();
    assert!(matches!(&err, Error::Warehouse(e) if e.is_token_rejected()), "{err:?}");
}

/// A statement whose rows never stop coming: each step of the recursion
/// is a batch of its own.
const ENDLESS_ROWS: &str = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT n FROM t";

/// `A * 10_000 + B` of every row of the cross join below, sorted.
fn cross_join_keys(batches: &[arrow_array::RecordBatch]) -> Vec<i64> {
    let mut keys: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            let a = b.column(0).as_any().downcast_ref::<arrow_array::Int64Array>().expect("Int64 ids").clone();
            let c = b.column(1).as_any().downcast_ref::<arrow_array::Int64Array>().expect("Int64 ids").clone();
            a.values().iter().zip(c.values().iter()).map(|(a, b)| a * 10_000 + b).collect::<Vec<_>>()
        })
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_results_arrive_whole_and_match_the_chunked_result() {
    let f = Fixture::new().await;
    let conn = f.builder().profile("production").connect().await.unwrap();
    let n = TEST_DEMO_CLAIMS as usize;
    let sql = "SELECT a.CLAIM_ID AS A, b.CLAIM_ID AS B, a.CLAIM_AMOUNT AS AMOUNT \
               FROM DEMO.HEALTHCARE.CLAIMS a CROSS JOIN DEMO.HEALTHCARE.CLAIMS b";
    let chunked = conn.execute(sql, &[]).await.unwrap().fetch_arrow_all().await.unwrap();

    let mut cursor = conn.cursor();
    let stream = cursor.stream_arrow(sql, &[]).await.unwrap();
    let names: Vec<String> = stream.schema().unwrap().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["A", "B", "AMOUNT"]);
    let description = cursor.description().expect("described at once");
    assert_eq!(description.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["A", "B", "AMOUNT"]);
    assert_eq!(cursor.rowcount(), None, "unknown while rows are still coming");
    let query_id = cursor.sfqid().expect("a query id").clone();
    let streamed = stream.collect_all().await.unwrap();
    assert!(streamed.len() > 1, "a large result comes in several batches");
    let keys = cross_join_keys(&streamed);
    assert_eq!(keys.len(), n * n);
    assert_eq!(keys, cross_join_keys(&chunked), "the same rows as the chunked result");

    // The platform knows how the statement ended (recorded as the last
    // frame goes out), and kept no rows.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = conn.query_status(&query_id).await.unwrap();
        if status == QueryStatus::Success {
            break;
        }
        assert!(status.is_still_running() && Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = conn.cursor().get_results_from_query_id(&query_id).await.map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("streamed"), "{err}");

    // With bindings, and an empty result.
    let stream = conn
        .stream_arrow("SELECT CLAIM_ID FROM DEMO.HEALTHCARE.CLAIMS WHERE CLAIM_ID <= ?", &[Value::Int(3)])
        .await
        .unwrap();
    assert_eq!(stream.collect_all().await.unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    let stream =
        conn.stream_arrow("SELECT CLAIM_ID FROM DEMO.HEALTHCARE.CLAIMS WHERE CLAIM_ID < 0", &[]).await.unwrap();
    assert_eq!(stream.schema().unwrap().fields().len(), 1);
    assert_eq!(stream.collect_all().await.unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), 0);

    // `USE` through a stream moves the session, as any statement does.
    conn.stream_arrow("USE SCHEMA DEMO.HEALTHCARE", &[]).await.unwrap().collect_all().await.unwrap();
    assert_eq!(conn.schema().as_deref(), Some("HEALTHCARE"));
    assert_eq!(count_claims(&conn).await, n as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_statement_delivers_rows_before_it_ends_and_then_its_error() {
    let f = Fixture::with(Platform::builder().config(|c| c.engine.statement_timeout = Duration::from_secs(2))).await;
    let conn = f.builder().profile("production").connect().await.unwrap();

    // A statement that cannot start is an error at once, as for execute.
    let err = conn.stream_arrow("SELEC 1", &[]).await.map(|_| ()).unwrap_err();
    assert!(matches!(&err, Error::Warehouse(e) if e.code == "001003"), "{err:?}");

    // Rows arrive while the statement runs; its time limit then ends the
    // stream with the timeout, never as a short result.
    let started = Instant::now();
    let mut stream = conn.stream_arrow(ENDLESS_ROWS, &[]).await.unwrap();
    let first = stream.next_batch().await.unwrap().expect("a first batch");
    assert!(first.num_rows() > 0);
    let mut rows = first.num_rows();
    let err = loop {
        match stream.next_batch().await {
            Ok(Some(batch)) => rows += batch.num_rows(),
            Ok(None) => panic!("an endless statement ended after {rows} rows"),
            Err(err) => break err,
        }
    };
    let Error::Warehouse(e) = &err else { panic!("{err:?}") };
    assert!(e.is_timeout(), "{e}");
    assert!(e.query_id.is_some());
    assert!(rows > 1, "rows came before the error");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(stream.next_batch().await.unwrap().is_none(), "nothing after the error");
    assert_eq!(count_claims(&conn).await, i64::try_from(TEST_DEMO_CLAIMS).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_streamed_result_stops_its_statement() {
    let f = Fixture::new().await;
    let conn = f.builder().profile("production").connect().await.unwrap();
    let engine = f.platform.state().gateway().embedded().expect("the embedded engine").clone();

    // A reader that stops reading (its buffers fill up): an abort still
    // ends the statement, and what it reads next ends with the abort.
    let mut cursor = conn.cursor();
    let mut held = cursor.stream_arrow(ENDLESS_ROWS, &[]).await.unwrap();
    assert!(held.next_batch().await.unwrap().is_some());
    let held_id = cursor.sfqid().unwrap().clone();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(conn.abort_query(&held_id).await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while conn.query_status(&held_id).await.unwrap() != QueryStatus::Aborted {
        assert!(Instant::now() < deadline, "the aborted statement still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = loop {
        match held.next_batch().await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("an aborted stream ended as if complete"),
            Err(err) => break err,
        }
    };
    assert!(matches!(&err, Error::Warehouse(e) if e.is_cancelled()) || matches!(&err, Error::Gateway(_)), "{err:?}");
    drop(held);

    let mut cursor = conn.cursor();
    let mut stream = cursor.stream_arrow(ENDLESS_ROWS, &[]).await.unwrap();
    assert!(stream.next_batch().await.unwrap().is_some());
    let query_id = cursor.sfqid().unwrap().clone();
    assert_eq!(conn.query_status(&query_id).await.unwrap(), QueryStatus::Running);
    drop(stream);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = conn.query_status(&query_id).await.unwrap();
        if status == QueryStatus::Aborted && engine.active_tasks() == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "still {status} with {} engine tasks", engine.active_tasks());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count_claims(&conn).await, i64::try_from(TEST_DEMO_CLAIMS).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_the_gateway_answers_whole_still_streams() {
    let f = Fixture::new().await;
    let conn = f.builder().profile("production").connect().await.unwrap();
    let cursor = conn.execute(COUNT_CLAIMS, &[]).await.unwrap();
    let query_id = cursor.sfqid().unwrap().clone();
    // `result_scan` is answered from the kept result, as an ordinary
    // response: the batches come from it.
    let sql = format!("select * from table(result_scan('{query_id}'))");
    let batches = conn.stream_arrow(&sql, &[]).await.unwrap().collect_all().await.unwrap();
    let counts = batches[0].column(0).as_any().downcast_ref::<arrow_array::Int64Array>().expect("a count").clone();
    assert_eq!(counts.values().to_vec(), vec![i64::try_from(TEST_DEMO_CLAIMS).unwrap()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_and_get_move_files_through_the_gateway() {
    use std::io::{Read as _, Write as _};
    use std::sync::{Arc, Mutex};

    use komodo::warehouse::TransferEvent;

    let f = Fixture::new().await;
    let conn = f.builder().connect().await.unwrap();
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("a.csv"), "1,ann\n2,bo\n").unwrap();
    std::fs::write(local.path().join("b.csv"), "3,cy\n").unwrap();
    std::fs::write(local.path().join("notes.txt"), "not data\n").unwrap();
    let mut zipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    zipped.write_all(b"4,di\n").unwrap();
    std::fs::write(local.path().join("c.csv.gz"), zipped.finish().unwrap()).unwrap();

    let mut cursor = conn.cursor();
    let seen = Arc::new(Mutex::new((0usize, 0u64, 0u64)));
    let record = seen.clone();
    cursor.set_transfer_progress(Some(Arc::new(move |event| match event {
        TransferEvent::Started { files, bytes } => {
            let mut seen = record.lock().unwrap();
            (seen.0, seen.1) = (files, bytes);
        }
        TransferEvent::Moved { bytes, .. } => record.lock().unwrap().2 += bytes,
        _ => {}
    })));

    // A wildcard sends the CSV files: gzipped unless they are already.
    let dir = local.path().display();
    cursor.execute(&format!("PUT 'file://{dir}/*.csv*' @~/in/"), &[]).await.unwrap();
    let names: Vec<_> = cursor.description().unwrap().iter().map(|c| c.name.clone()).collect();
    assert_eq!(
        names,
        [
            "source",
            "target",
            "source_size",
            "target_size",
            "source_compression",
            "target_compression",
            "status",
            "message"
        ]
    );
    let rows = cursor.fetchall().await.unwrap();
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    let summary: Vec<_> =
        rows.iter().map(|r| (text(&r[0]), text(&r[1]), text(&r[4]), text(&r[5]), text(&r[6]))).collect();
    assert_eq!(
        summary,
        [
            ("a.csv".into(), "a.csv.gz".into(), "NONE".into(), "GZIP".into(), "UPLOADED".into()),
            ("b.csv".into(), "b.csv.gz".into(), "NONE".into(), "GZIP".into(), "UPLOADED".into()),
            ("c.csv.gz".into(), "c.csv.gz".into(), "GZIP".into(), "GZIP".into(), "UPLOADED".into()),
        ]
    );
    assert_eq!(rows[0][2].as_i64(), Some(11));
    let sent: i64 = rows.iter().map(|r| r[3].as_i64().unwrap()).sum();
    assert_eq!(*seen.lock().unwrap(), (3, u64::try_from(sent).unwrap(), u64::try_from(sent).unwrap()));
    assert_eq!(cursor.rowcount(), Some(3));

    // Sent again without OVERWRITE: skipped; with it: replaced.
    cursor.execute(&format!("PUT file://{dir}/b.csv @~/in/"), &[]).await.unwrap();
    assert_eq!(text(&cursor.fetchone().await.unwrap().unwrap()[6]), "SKIPPED");
    cursor.execute(&format!("PUT file://{dir}/b.csv @~/in/ OVERWRITE = TRUE"), &[]).await.unwrap();
    assert_eq!(text(&cursor.fetchone().await.unwrap().unwrap()[6]), "UPLOADED");

    // The warehouse reads what was sent.
    cursor.execute("CREATE OR REPLACE DATABASE transfers", &[]).await.unwrap();
    cursor.execute("CREATE TABLE transfers.public.people (id INT, name VARCHAR)", &[]).await.unwrap();
    cursor.execute("COPY INTO transfers.public.people FROM @~/in/ FILE_FORMAT = (TYPE = CSV)", &[]).await.unwrap();
    assert_eq!(cursor.fetchall().await.unwrap().len(), 3);
    cursor
        .execute("SELECT LISTAGG(name, ',') WITHIN GROUP (ORDER BY id) FROM transfers.public.people", &[])
        .await
        .unwrap();
    assert_eq!(cursor.fetchone().await.unwrap().unwrap()[0].as_str(), Some("ann,bo,cy,di"));

    // GET brings files back, byte for byte, into a directory it creates.
    let out = local.path().join("out/nested");
    cursor.execute(&format!("GET @~/in/ 'file://{}' PATTERN = '.*[ab][.]csv[.]gz'", out.display()), &[]).await.unwrap();
    let got: Vec<_> = cursor.fetchall().await.unwrap().iter().map(|r| (text(&r[0]), text(&r[2]))).collect();
    assert_eq!(got, [("a.csv.gz".into(), "DOWNLOADED".into()), ("b.csv.gz".into(), "DOWNLOADED".into())]);
    let mut back = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(out.join("a.csv.gz")).unwrap()).read_to_string(&mut back).unwrap();
    assert_eq!(back, "1,ann\n2,bo\n");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2, "no partial files are left");
    assert_eq!(seen.lock().unwrap().0, 2);

    // What cannot be sent says which file, and sends nothing.
    let err = conn.execute(&format!("PUT file://{dir}/missing.csv @~/in/"), &[]).await.map(|_| ()).unwrap_err();
    assert!(
        matches!(&err, Error::Interface(InterfaceError::File { path, .. }) if path.ends_with("missing.csv")),
        "{err:?}"
    );
    let err = conn.execute(&format!("PUT file://{dir}/*.parquet @~/in/"), &[]).await.map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("no file matches"), "{err}");
    // The gateway's own errors keep Snowflake's codes (a stage that is not there).
    let err = conn
        .execute(&format!("PUT file://{dir}/a.csv @transfers.public.no_such_stage"), &[])
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(&err, Error::Warehouse(e) if e.code == "002003"), "{err:?}");
    conn.execute("DROP DATABASE transfers", &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_to_a_statement_by_its_query_id() {
    let f = Fixture::new().await;
    let conn = f.builder().connect().await.unwrap();
    let pause = || tokio::time::sleep(Duration::from_millis(20));
    for sql in [
        "CREATE OR REPLACE DATABASE travel",
        "CREATE TABLE travel.public.t (n INT)",
        "INSERT INTO travel.public.t VALUES (1), (2)",
    ] {
        conn.execute(sql, &[]).await.unwrap();
    }
    pause().await;
    let update = conn.execute("UPDATE travel.public.t SET n = n * 10", &[]).await.unwrap();
    let id = update.sfqid().expect("a query id").to_string();
    pause().await;
    conn.execute("INSERT INTO travel.public.t VALUES (3)", &[]).await.unwrap();
    let sum = |clause: String| {
        let conn = conn.clone();
        async move {
            let mut cursor = conn.execute(&format!("SELECT SUM(n) FROM travel.public.t {clause}"), &[]).await?;
            Ok::<_, Error>(cursor.fetchone().await?.unwrap()[0].as_i64().unwrap())
        }
    };
    // Before the UPDATE started; as it left the table; now.
    assert_eq!(sum(format!("BEFORE(STATEMENT => '{id}')")).await.unwrap(), 3);
    assert_eq!(sum(format!("AT(STATEMENT => '{id}')")).await.unwrap(), 30);
    assert_eq!(sum(String::new()).await.unwrap(), 33);
    // A query id the account never ran is an error that says so.
    let err = sum("BEFORE(STATEMENT => '01b2c3d4-0000-0000-0000-000000000000')".into()).await.unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    conn.execute("DROP DATABASE travel", &[]).await.unwrap();
}
