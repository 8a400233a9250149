//! The gateway in front of an upstream Snowflake account (the recording
//! upstream of [`crate::fake_upstream`]): sessions, statements with the
//! platform's policy and `QUERY_TAG`, results relayed under the gateway's
//! ids and chunk secret, asynchronous queries across a restart, retries,
//! renewal, the circuit breaker and revocation.

use std::sync::atomic::Ordering;
use std::time::Duration;

use komodo_protocol::iam::Role;
use komodo_server::admin::SnowflakeBackend;
use komodo_server::upstream::keypair::SigningKey;
use komodo_testkit::Platform;
use reqwest::Method;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::common::*;
use crate::fake_upstream::{CHUNK_SIGNATURE, FakeUpstream, KEY, QRMK};
use crate::gateway::{Conn, all_rows, connect};

fn backend(url: &str) -> SnowflakeBackend {
    SnowflakeBackend {
        host: url.to_owned(),
        account_name: "xy12345".into(),
        user: "komodo_gateway".into(),
        private_key_pem: Zeroizing::new(KEY.into()),
        passphrase: None,
        role: Some("ANALYST".into()),
        warehouse: Some("COMPUTE_WH".into()),
        database: None,
        schema: None,
    }
}

fn quick(builder: komodo_testkit::PlatformBuilder) -> komodo_testkit::PlatformBuilder {
    builder.config(|c| {
        c.upstream.sweep_every = Duration::from_millis(200);
        c.upstream.backend_ttl = Duration::from_millis(200);
        c.upstream.retry_pause = Duration::from_millis(10);
        c.upstream.breaker_threshold = 3;
        c.upstream.breaker_cooldown = Duration::from_secs(120);
        c.gateway.max_binding_rows = 3;
    })
}

/// A platform whose demo account's warehouse is a fresh recording upstream,
/// and a service principal's access token there.
async fn upstream_platform() -> (Platform, FakeUpstream, String, String) {
    let platform = quick(Platform::builder()).start().await;
    let key = SigningKey::from_pem(KEY, None).unwrap();
    let up = FakeUpstream::start(&key.public_key_pem()).await;
    platform.admin().set_warehouse_snowflake("demo", &backend(&up.url)).await.unwrap();
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    (platform, up, account, token)
}

/// Nothing the upstream hands the gateway reaches a client.
fn assert_no_upstream_secret(text: &str, up: &FakeUpstream) {
    for secret in
        ["upstream-session-token", "upstream-master-token", QRMK, CHUNK_SIGNATURE, up.url.as_str(), "01b00000"]
    {
        assert!(!text.contains(secret), "{secret} reached a client: {text}");
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 10 s");
}

#[tokio::test]
async fn statements_go_upstream_with_the_platforms_policy_tag_and_ids() {
    let (platform, up, account, token) = upstream_platform().await;
    let login = crate::gateway_client::login(&platform, &token, &account).await;
    assert_eq!(login["success"], true, "{login}");
    let data = &login["data"];
    assert_eq!(data["sessionInfo"]["warehouseName"], "COMPUTE_WH", "{data}");
    let parameter = |name: &str| {
        data["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).map(|p| p["value"].clone())
    };
    assert_eq!(parameter("TIMEZONE"), Some(json!("America/Los_Angeles")), "the upstream session's parameters");
    assert_eq!(parameter("CLIENT_STAGE_ARRAY_BINDING_THRESHOLD"), Some(json!(0)), "no array binding through a stage");
    assert_no_upstream_secret(&login.to_string(), &up);
    {
        let seen = up.seen.lock().unwrap();
        assert_eq!(seen.logins.len(), 1, "the upstream session opens with the gateway's");
        assert_eq!(seen.logins[0]["CLIENT_APP_ID"], "PythonConnector");
        let tag: Value =
            serde_json::from_str(seen.logins[0]["SESSION_PARAMETERS"]["QUERY_TAG"].as_str().unwrap()).unwrap();
        assert!(tag["komodo_principal"].as_str().unwrap().starts_with("sp:"), "{tag}");
    }

    let conn = connect(&platform, &token, &account).await;
    let mut answers = Vec::new();

    // A statement, its tag naming the principal, the gateway's query id and
    // the client's request id; the upstream's request id is the gateway's
    // query id.
    let answer = conn.query_with("select 1 as x", json!({}), "client-request-1").await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["data"]["rowset"], json!([["1"]]));
    let query_id = answer["data"]["queryId"].as_str().unwrap().to_owned();
    {
        let seen = up.seen.lock().unwrap();
        let statement = seen.statements.last().unwrap();
        let tag: Value = serde_json::from_str(statement.parameters["QUERY_TAG"].as_str().unwrap()).unwrap();
        assert_eq!(tag["komodo_query_id"], query_id.as_str());
        assert_eq!(tag["komodo_request_id"], "client-request-1");
        assert!(tag["komodo_principal"].as_str().unwrap().starts_with("sp:"));
        assert_eq!(statement.request_id, query_id);
        assert!(statement.parameters["STATEMENT_TIMEOUT_IN_SECONDS"].as_u64().unwrap() > 0);
    }
    answers.push(answer);

    // A result with chunks: the gateway's chunk URLs and secret, the
    // upstream's chunks fetched with its key.
    let chunked = conn.query("select chunked").await;
    assert_eq!(chunked["success"], true, "{chunked}");
    let url = chunked["data"]["chunks"][0]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&platform.url_for("/gateway/chunks/")), "{url}");
    let rows = all_rows(&chunked["data"]).await;
    assert_eq!(rows, vec![vec![json!("0")], vec![json!("1")], vec![json!("2")], vec![json!("3")], vec![json!("4")]]);
    assert_eq!(up.seen.lock().unwrap().chunks, 2);
    let refused = http().get(&url).header("x-komodo-chunk-token", "guess").send().await.unwrap();
    assert_eq!(refused.status(), 404, "a chunk needs the result's secret");
    answers.push(chunked);

    // Errors keep Snowflake's code and SQLSTATE, under the gateway's id.
    let failed = conn.query("select missing").await;
    assert_eq!((failed["success"].clone(), failed["code"].clone()), (json!(false), json!("002003")), "{failed}");
    assert_eq!(failed["data"]["sqlState"], "42S02");
    assert!(uuid::Uuid::parse_str(failed["data"]["queryId"].as_str().unwrap()).is_ok());
    answers.push(failed);

    // The policy, before anything is forwarded.
    let forwarded = up.seen.lock().unwrap().statements.len();
    for sql in
        ["use role accountadmin", "USE WAREHOUSE big", "alter session set query_tag = 'me'", "select 1; use role x"]
    {
        let refused = conn.query(sql).await;
        assert_eq!(refused["code"], "003001", "{sql}: {refused}");
        assert_eq!(refused["data"]["sqlState"], "42501", "{sql}");
    }
    let tagged = conn.query_with("select 1", json!({"parameters": {"QUERY_TAG": "someone else"}}), "r-tag").await;
    assert_eq!(tagged["code"], "002049", "{tagged}");
    let four_rows = json!({"bindings": {"1": {"type": "FIXED", "value": ["1", "2", "3", "4"]}}});
    let too_many = conn.query_with("insert into t values (?)", four_rows, "r-bind").await;
    assert_eq!(too_many["success"], false, "the binding cap applies: {too_many}");
    assert_eq!(up.seen.lock().unwrap().statements.len(), forwarded, "nothing refused reached the upstream");
    let allowed = conn.query("alter session set timezone = 'UTC'").await;
    assert_eq!(allowed["success"], true, "{allowed}");

    // result_scan of the gateway's id reaches the upstream with its own.
    let scanned = conn.query(&format!("select * from table(result_scan('{query_id}'))")).await;
    assert_eq!(scanned["success"], true, "{scanned}");
    let sent = up.seen.lock().unwrap().statements.last().unwrap().sql.clone();
    assert!(sent.contains("01b00000-0000-4000-8000-") && !sent.contains(&query_id), "{sent}");

    // A multi-statement request: each statement's result under a gateway
    // id, fetched (by RESULT_SCAN) with the upstream's.
    let multi =
        conn.query_with("select 10; select 20", json!({"parameters": {"MULTI_STATEMENT_COUNT": 2}}), "r-m").await;
    assert_eq!(multi["success"], true, "{multi}");
    let children: Vec<String> = multi["data"]["resultIds"].as_str().unwrap().split(',').map(str::to_owned).collect();
    assert_eq!(children.len(), 2);
    for child in &children {
        assert!(uuid::Uuid::parse_str(child).is_ok() && !child.starts_with("01b00000"), "{child}");
        let answer = conn.get(&format!("/queries/{child}/result")).await;
        assert_eq!(answer["data"]["queryId"], child.as_str(), "{answer}");
        let sent = up.seen.lock().unwrap().statements.last().unwrap().sql.clone();
        assert!(sent.contains("result_scan('01b00000-"), "{sent}");
    }
    answers.push(multi);

    // PUT/GET and Komodo's loads are the embedded warehouse's.
    let put = conn.query("PUT file:///tmp/x.csv @~").await;
    assert_eq!(put["success"], false, "{put}");
    assert!(put["message"].as_str().unwrap().contains("upstream Snowflake"), "{put}");
    let load = conn.load("table=t&format=csv", b"a\n1\n".to_vec(), false).await;
    assert_eq!(load["success"], false, "{load}");

    // Heartbeat and close reach the upstream session.
    conn.post("/session/heartbeat", &json!({})).await;
    assert_eq!(up.seen.lock().unwrap().heartbeats, 1);
    let closed = conn.post("/session?delete=true", &json!({})).await;
    assert_eq!(closed["success"], true);
    assert_eq!(up.seen.lock().unwrap().closed.len(), 1);

    for answer in &answers {
        assert_no_upstream_secret(&answer.to_string(), &up);
    }
}

#[tokio::test]
async fn asynchronous_queries_are_polled_monitored_and_aborted_upstream() {
    let (platform, up, account, token) = upstream_platform().await;
    let conn = connect(&platform, &token, &account).await;

    let submitted = conn.query_with("select 42", json!({"asyncExec": true}), "r-async").await;
    assert_eq!(submitted["code"], "333334", "{submitted}");
    let query_id = submitted["data"]["queryId"].as_str().unwrap().to_owned();
    assert_no_upstream_secret(&submitted.to_string(), &up);
    assert!(up.seen.lock().unwrap().statements.last().unwrap().async_exec, "submitted upstream asynchronously");

    let monitored = conn.get(&format!("/monitoring/queries/{query_id}")).await;
    assert_eq!(monitored["data"]["queries"][0]["id"], query_id.as_str(), "{monitored}");
    assert_eq!(monitored["data"]["queries"][0]["status"], "RUNNING");

    let result = poll(&conn, &query_id).await;
    assert_eq!(result["data"]["rowset"], json!([["done"]]), "{result}");
    assert_eq!(result["data"]["queryId"], query_id.as_str());
    assert!(up.seen.lock().unwrap().polls.iter().all(|p| p.starts_with("01b00000")));

    // A retry of the submission (the same request id) attaches to it.
    let retried = conn.query_with("select 42", json!({"asyncExec": true}), "r-async").await;
    assert_eq!(retried["data"]["queryId"], query_id.as_str(), "{retried}");

    // An abort names the query upstream by its request id, the gateway's id.
    let slow = conn.query_with("select slow", json!({}), "r-slow").await;
    assert_eq!(slow["code"], "333333", "{slow}");
    let slow_id = slow["data"]["queryId"].as_str().unwrap().to_owned();
    let aborted = conn.post(&format!("/queries/{slow_id}/abort-request"), &json!({})).await;
    assert_eq!(aborted["success"], true, "{aborted}");
    conn.post("/queries/v1/abort-request", &json!({"requestId": "r-slow"})).await;
    assert_eq!(up.seen.lock().unwrap().aborts, vec![slow_id.clone(), slow_id]);

    // A client that gives up waiting aborts the statement still on its way
    // upstream by its own request id.
    let waiting = {
        let conn = conn.clone();
        tokio::spawn(async move { conn.query_with("select sleep", json!({}), "r-sleep").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.post("/queries/v1/abort-request", &json!({"requestId": "r-sleep"})).await;
    let cancelled = waiting.await.unwrap();
    assert_eq!(cancelled["code"], "000604", "{cancelled}");
    assert_eq!(up.seen.lock().unwrap().aborts.len(), 3, "the in-flight statement aborted upstream");

    // Another account's query id is not found (T05).
    platform.admin().create_org("Other", "other").await.unwrap();
    let other = platform.admin().create_account("other", "Other", "other-acct").await.unwrap();
    let other_sp = platform.create_service_principal(&other.id, "etl").await;
    let other_token = sp_token(&platform, &other_sp.client_id, other_sp.client_secret.expose_secret()).await;
    let stranger = connect(&platform, &other_token, &other.id).await;
    let peek = stranger.get(&format!("/queries/{query_id}/result")).await;
    assert_eq!(peek["success"], false, "{peek}");
}

async fn poll(conn: &Conn, query_id: &str) -> Value {
    for _ in 0..20 {
        let answer = conn.get(&format!("/queries/{query_id}/result")).await;
        if answer["code"] != "333333" {
            return answer;
        }
    }
    panic!("{query_id} never finished");
}

#[tokio::test]
async fn a_restart_of_the_gateway_loses_no_running_asynchronous_query() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::from_pem(KEY, None).unwrap();
    let up = FakeUpstream::start(&key.public_key_pem()).await;
    let first = quick(Platform::builder().data_dir(dir.path())).start().await;
    first.admin().set_warehouse_snowflake("demo", &backend(&up.url)).await.unwrap();
    let account = first.demo_account_id().unwrap().to_owned();
    let sp = first.create_service_principal("demo", "etl").await;
    let token = sp_token(&first, &sp.client_id, sp.client_secret.expose_secret()).await;
    let conn = connect(&first, &token, &account).await;
    let submitted = conn.query_with("select 42", json!({"asyncExec": true}), "r-1").await;
    let query_id = submitted["data"]["queryId"].as_str().unwrap().to_owned();
    first.stop().await;

    let second = quick(Platform::builder().data_dir(dir.path())).start().await;
    let conn = conn.at(second.url());
    let result = poll(&conn, &query_id).await;
    assert_eq!(result["data"]["rowset"], json!([["done"]]), "{result}");
    assert_eq!(up.seen.lock().unwrap().logins.len(), 2, "the new replica opened its own upstream session");
}

#[tokio::test]
async fn retries_renewal_and_the_circuit_breaker() {
    let (platform, up, account, token) = upstream_platform().await;
    let conn = connect(&platform, &token, &account).await;

    // A call that did not get through is made again with the same request
    // id and a growing retryCount.
    up.fail_next.store(1, Ordering::SeqCst);
    let answer = conn.query("select 1").await;
    assert_eq!(answer["success"], true, "{answer}");
    {
        let seen = up.seen.lock().unwrap();
        let tries: Vec<_> = seen.statements.iter().map(|s| (s.request_id.clone(), s.retry)).collect();
        assert_eq!(tries.len(), 2, "{tries:?}");
        assert_eq!(tries[0].0, tries[1].0);
        assert_eq!((tries[0].1, tries[1].1), (0, 1));
    }

    // An expired upstream session token is renewed with the master token,
    // unseen by the client (its own tokens are untouched).
    up.expire_tokens.store(true, Ordering::SeqCst);
    let answer = conn.query("select 1").await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(up.seen.lock().unwrap().renewals, 1);

    // An upstream that keeps failing opens the breaker: a Snowflake-style
    // error at once, and no call until it closes.
    up.fail_next.store(1000, Ordering::SeqCst);
    let failed = conn.query("select 1").await;
    assert_eq!(failed["success"], false, "{failed}");
    assert_eq!(failed["data"]["sqlState"], "08006", "{failed}");
    let calls = up.fail_next.load(Ordering::SeqCst);
    let fast = conn.query("select 1").await;
    assert!(fast["message"].as_str().unwrap().contains("tries it again in"), "{fast}");
    assert_eq!(up.fail_next.load(Ordering::SeqCst), calls, "the open breaker made no call");
    assert_no_upstream_secret(&fast.to_string(), &up);
}

#[tokio::test]
async fn revoking_a_principal_ends_its_upstream_sessions() {
    let (platform, up, account, token) = upstream_platform().await;
    let sp = platform.create_service_principal("demo", "reports").await;
    let sp_access = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let _kept = connect(&platform, &token, &account).await;
    let _doomed = connect(&platform, &sp_access, &account).await;
    assert_eq!(up.live_sessions(), 2);

    let admin = user(&platform, "admin@example.com").await;
    platform.add_member("demo", &admin.email, Role::Admin).await;
    let admin_token = login(&platform, &admin, "openid").await.access_token.expose_secret().to_owned();
    let path = format!("/internal/service-principals/{}", sp.service_principal_id);
    let (status, body) = api(&platform, Method::DELETE, &path, Some(&admin_token), Some(&account), None).await;
    assert!(status.is_success(), "{body}");

    let seen = up.seen.clone();
    eventually("the deleted principal's upstream session ending", || seen.lock().unwrap().closed.len() == 1).await;
    assert_eq!(up.live_sessions(), 1, "another principal's session stays");

    // The account back on the embedded warehouse: its upstream sessions end.
    platform.admin().set_warehouse_embedded("demo").await.unwrap();
    eventually("the moved account's upstream session ending", || seen.lock().unwrap().closed.len() == 2).await;
    assert_eq!(up.live_sessions(), 0);
}

#[tokio::test]
async fn an_upstream_that_refuses_the_key_fails_the_login_and_stores_nothing() {
    let platform = quick(Platform::builder()).start().await;
    let generated = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&generated).unwrap();
    let other = SigningKey::from_pkcs8_der(der.as_ref()).unwrap();
    let up = FakeUpstream::start(&other.public_key_pem()).await;
    platform.admin().set_warehouse_snowflake("demo", &backend(&up.url)).await.unwrap();
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let login = crate::gateway_client::login(&platform, &token, &account).await;
    assert_eq!(login["success"], false, "{login}");
    let message = login["message"].as_str().unwrap();
    assert!(message.contains("390144") && message.contains("show-warehouse"), "{message}");
    assert!(!message.contains("eyJ"), "no JWT in the error: {message}");

    // Back to the embedded warehouse: the same login works.
    platform.admin().set_warehouse_embedded("demo").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let login = crate::gateway_client::login(&platform, &token, &account).await;
    assert_eq!(login["success"], true, "{login}");
}

#[tokio::test]
async fn the_rust_connection_works_the_same_on_an_upstream_account() {
    use komodo::config::ProviderConfig;
    use komodo::env::Env;
    use komodo::warehouse::ConnectionBuilder;

    let (platform, up, account, _) = upstream_platform().await;
    let sp = platform.create_service_principal("demo", "rust-sdk").await;
    let home = tempfile::tempdir().unwrap();
    let env = Env::from_slice(&[("KOMODO_API_URL", platform.url()), ("HOME", home.path().to_str().unwrap())]);
    let conn = ConnectionBuilder::new(ProviderConfig::new(env))
        .client_id(sp.client_id.clone())
        .client_secret(sp.client_secret.expose_secret())
        .account_id(account.clone())
        .web_login(None)
        .connect()
        .await
        .unwrap();

    let mut cursor = conn.execute("select 1", &[]).await.unwrap();
    assert_eq!(cursor.fetchall().await.unwrap().len(), 1);
    let mut chunked = conn.execute("select chunked", &[]).await.unwrap();
    assert_eq!(chunked.fetchall().await.unwrap().len(), 5, "chunks through the gateway");
    let missing = conn.execute("select missing", &[]).await.unwrap_err().to_string();
    assert!(missing.contains("002003") && missing.contains("42S02"), "{missing}");
    let refused = conn.execute("use role accountadmin", &[]).await.unwrap_err().to_string();
    assert!(refused.contains("003001"), "{refused}");

    let mut cursor = conn.cursor();
    let query_id = cursor.execute_async("select 42", &[]).await.unwrap();
    let mut other = conn.cursor();
    other.get_results_from_query_id(&query_id).await.unwrap();
    assert_eq!(other.fetchall().await.unwrap().len(), 1);

    conn.close().await.unwrap();
    let seen = up.seen.lock().unwrap();
    assert_eq!(seen.closed.len(), 1, "closing the connection ends its upstream session");
    let tags: Vec<Value> = seen
        .statements
        .iter()
        .map(|s| serde_json::from_str(s.parameters["QUERY_TAG"].as_str().unwrap()).unwrap())
        .collect();
    let principal = format!("sp:{}", sp.service_principal_id);
    assert!(tags.iter().all(|t| t["komodo_principal"] == principal.as_str()), "{tags:?}");
}
