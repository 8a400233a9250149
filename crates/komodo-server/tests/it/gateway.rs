//! The connector gateway over real HTTP: Snowflake's REST protocol as the
//! connectors speak it (gzip bodies, session and master tokens, the
//! envelope), against the embedded warehouse with the demo data.

use std::io::Write as _;
use std::time::Duration;

use komodo_protocol::iam::Role;
use komodo_testkit::{Platform, TEST_DEMO_CLAIMS};
use serde_json::{Value, json};

use crate::common::*;

/// A raw protocol client: what a connector sends, nothing more.
#[derive(Clone)]
pub(crate) struct Conn {
    base: String,
    token: String,
    master: String,
}

fn gzip(body: &Value) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body.to_string().as_bytes()).unwrap();
    encoder.finish().unwrap()
}

async fn post_raw(url: &str, authorization: Option<&str>, body: &Value) -> Value {
    let mut request = http()
        .post(url)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("accept", "application/snowflake")
        .body(gzip(body));
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "the gateway always answers 200");
    response.json().await.unwrap()
}

pub(crate) async fn login_raw(platform: &Platform, access_token: &str, account: &str, query: &str) -> Value {
    let body = json!({"data": {
        "CLIENT_APP_ID": "PythonConnector", "CLIENT_APP_VERSION": "4.7.1", "ACCOUNT_NAME": account,
        "LOGIN_NAME": "", "AUTHENTICATOR": "OAUTH", "TOKEN": access_token,
        "SESSION_PARAMETERS": {"CLIENT_PREFETCH_THREADS": 4, "PYTHON_CONNECTOR_QUERY_RESULT_FORMAT": "JSON"}, "CLIENT_ENVIRONMENT": {"OS": "Linux"}
    }});
    let url = platform.url_for(&format!("/session/v1/login-request?request_id={}{query}", uuid::Uuid::new_v4()));
    post_raw(&url, Some("Snowflake Token=\"None\""), &body).await
}

pub(crate) async fn connect(platform: &Platform, access_token: &str, account: &str) -> Conn {
    let response = login_raw(platform, access_token, account, "&databaseName=demo&schemaName=healthcare").await;
    assert_eq!(response["success"], true, "{response}");
    Conn {
        base: platform.url().to_owned(),
        token: response["data"]["token"].as_str().unwrap().to_owned(),
        master: response["data"]["masterToken"].as_str().unwrap().to_owned(),
    }
}

impl Conn {
    /// The same session through another replica (or a restarted one).
    pub(crate) fn at(&self, base: &str) -> Conn {
        Conn { base: base.to_owned(), ..self.clone() }
    }

    fn auth(&self) -> String {
        format!("Snowflake Token=\"{}\"", self.token)
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Value {
        post_raw(&format!("{}{path}", self.base), Some(&self.auth()), body).await
    }

    /// `POST /komodo/v1/load?<query>` with `body` (gzip-compressed when
    /// `gzip`), in this session.
    pub(crate) async fn load(&self, query: &str, body: Vec<u8>, gzip: bool) -> Value {
        let mut request =
            http().post(format!("{}/komodo/v1/load?{query}", self.base)).header("authorization", self.auth());
        let body = match gzip {
            true => {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(&body).unwrap();
                request = request.header("content-encoding", "gzip");
                encoder.finish().unwrap()
            }
            false => body,
        };
        let response = request.body(body).send().await.unwrap();
        assert_eq!(response.status(), 200, "the gateway always answers 200");
        response.json().await.unwrap()
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let response =
            http().get(format!("{}{path}", self.base)).header("authorization", self.auth()).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub(crate) async fn query_with(&self, sql: &str, extra: Value, request_id: &str) -> Value {
        let mut body =
            json!({"sqlText": sql, "asyncExec": false, "sequenceId": 1, "parameters": {}, "queryContextDTO": {}});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.post(&format!("/queries/v1/query-request?requestId={request_id}"), &body).await
    }

    pub(crate) async fn query(&self, sql: &str) -> Value {
        self.query_with(sql, json!({}), &uuid::Uuid::new_v4().to_string()).await
    }

    /// The rows of a successful JSON result, chunks included.
    pub(crate) async fn rows(&self, sql: &str) -> Vec<Vec<Value>> {
        let response = self.query(sql).await;
        assert_eq!(response["success"], true, "{sql}: {response}");
        all_rows(&response["data"]).await
    }
}

/// A statement sent with a bearer access token and `x-account-id`,
/// without a login.
async fn bearer_query(platform: &Platform, token: &str, account: &str, sql: &str) -> Value {
    http()
        .post(platform.url_for("/queries/v1/query-request"))
        .bearer_auth(token)
        .header("x-account-id", account)
        .json(&json!({"sqlText": sql, "parameters": {}}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

pub(crate) async fn all_rows(data: &Value) -> Vec<Vec<Value>> {
    let mut rows: Vec<Vec<Value>> = serde_json::from_value(data["rowset"].clone()).unwrap();
    for chunk in data["chunks"].as_array().into_iter().flatten() {
        let mut request = http().get(chunk["url"].as_str().unwrap());
        for (name, value) in data["chunkHeaders"].as_object().unwrap() {
            request = request.header(name, value.as_str().unwrap());
        }
        let body = request.send().await.unwrap().text().await.unwrap();
        let part: Vec<Vec<Value>> = serde_json::from_str(&format!("[{body}]")).unwrap();
        assert_eq!(part.len() as u64, chunk["rowCount"].as_u64().unwrap());
        rows.extend(part);
    }
    assert_eq!(rows.len() as u64, data["total"].as_u64().unwrap(), "total counts the rowset and every chunk");
    rows
}

/// A platform, a service principal of `demo` and its access token.
async fn demo_platform() -> (Platform, String, String) {
    let platform = Platform::start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    (platform, account, token)
}

#[tokio::test]
async fn login_and_query_the_demo_data_with_snowflake_encodings() {
    let (platform, account, token) = demo_platform().await;
    let login = login_raw(&platform, &token, &account, "&databaseName=demo&schemaName=healthcare").await;
    assert_eq!(login["success"], true, "{login}");
    let data = &login["data"];
    assert!(data["masterToken"].as_str().unwrap().starts_with("kmd_mt_"));
    assert_eq!(data["sessionInfo"]["databaseName"], "DEMO");
    assert_eq!(data["sessionInfo"]["schemaName"], "HEALTHCARE");
    assert_eq!(data["sessionInfo"]["roleName"], "SERVICE_PRINCIPAL");
    let parameters = data["parameters"].as_array().unwrap();
    assert!(parameters.iter().any(|p| p["name"] == "CLIENT_STAGE_ARRAY_BINDING_THRESHOLD" && p["value"] == 0));
    assert!(parameters.iter().any(|p| p["name"] == "AUTOCOMMIT" && p["value"] == true));

    let conn = connect(&platform, &token, &account).await;
    let response = conn.query("SELECT COUNT(*) AS n FROM claims").await;
    assert_eq!(response["success"], true, "{response}");
    let data = &response["data"];
    assert_eq!(data["rowset"], json!([[TEST_DEMO_CLAIMS.to_string()]]));
    assert_eq!(data["rowtype"][0]["name"], "N");
    assert_eq!(data["rowtype"][0]["type"], "fixed");
    assert_eq!(data["queryResultFormat"], "json");
    assert_eq!(data["statementTypeId"], 4096);
    assert!(uuid::Uuid::parse_str(data["queryId"].as_str().unwrap()).is_ok());

    // Snowflake's value encodings: booleans "1"/"0", dates as days,
    // binary as upper-case hex, NULL as null.
    let rows = conn
        .rows("SELECT TRUE AS t, FALSE AS f, TO_DATE('2024-01-02') AS d, X'01ab' AS b, NULL AS n, 1.5::FLOAT AS r")
        .await;
    assert_eq!(rows, vec![vec![json!("1"), json!("0"), json!("19724"), json!("01AB"), Value::Null, json!("1.5")]]);

    // Plain (not gzip'd) bodies work too.
    let response = http()
        .post(platform.url_for("/queries/v1/query-request"))
        .header("authorization", conn.auth())
        .json(&json!({"sqlText": "SELECT 7", "parameters": {}}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(response["data"]["rowset"], json!([["7"]]));
}

#[tokio::test]
async fn bindings_are_bound_not_spliced() {
    let (platform, account, token) = demo_platform().await;
    let conn = connect(&platform, &token, &account).await;
    let response = conn
        .query_with(
            "SELECT ? AS a, ? AS b, :3 AS c",
            json!({"bindings": {
                "1": {"type": "FIXED", "value": "42"},
                "2": {"type": "TEXT", "value": "x' OR '1'='1"},
                "3": {"type": "DATE", "value": "1704153600000"}
            }}),
            &uuid::Uuid::new_v4().to_string(),
        )
        .await;
    assert_eq!(response["success"], true, "{response}");
    assert_eq!(response["data"]["rowset"], json!([["42", "x' OR '1'='1", "19724"]]));

    // executemany: array bindings insert one row per element.
    assert_eq!(conn.query("CREATE TEMPORARY TABLE t (id INT, name TEXT)").await["success"], true);
    let response = conn
        .query_with(
            "INSERT INTO t (id, name) VALUES (?, ?)",
            json!({"bindings": {
                "1": {"type": "FIXED", "value": ["1", "2", "3"]},
                "2": {"type": "TEXT", "value": ["a", null, "c"]}
            }}),
            &uuid::Uuid::new_v4().to_string(),
        )
        .await;
    assert_eq!(response["success"], true, "{response}");
    assert_eq!(response["data"]["rowtype"][0]["name"], "number of rows inserted");
    assert_eq!(response["data"]["rowset"], json!([["3"]]));
    assert_eq!(response["data"]["statementTypeId"], 12544);
    assert_eq!(
        conn.rows("SELECT id, name FROM t ORDER BY id").await,
        vec![vec![json!("1"), json!("a")], vec![json!("2"), Value::Null], vec![json!("3"), json!("c")],]
    );
}

#[tokio::test]
async fn async_queries_are_monitored_and_fetched_and_result_scan_returns_them() {
    let (platform, account, token) = demo_platform().await;
    let conn = connect(&platform, &token, &account).await;
    let response = conn.query_with("SELECT COUNT(*) FROM patients", json!({"asyncExec": true}), "r-1").await;
    assert_eq!(response["success"], true, "{response}");
    assert_eq!(response["code"], "333334");
    let id = response["data"]["queryId"].as_str().unwrap().to_owned();

    let mut status = String::new();
    for _ in 0..100 {
        let monitoring = conn.get(&format!("/monitoring/queries/{id}")).await;
        status = monitoring["data"]["queries"][0]["status"].as_str().unwrap().to_owned();
        if status != "RUNNING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "SUCCESS");
    let result = conn.get(&format!("/queries/{id}/result")).await;
    assert_eq!(result["data"]["rowset"], json!([[(TEST_DEMO_CLAIMS / 10).to_string()]]), "{result}");

    // get_results_from_sfqid: a fresh statement selecting the stored result.
    let rows = conn.rows(&format!("select * from table(result_scan('{id}'))")).await;
    assert_eq!(rows, vec![vec![json!((TEST_DEMO_CLAIMS / 10).to_string())]]);

    // A retried request (same requestId) attaches to the first submission.
    let again = conn.query_with("SELECT COUNT(*) FROM patients", json!({"asyncExec": true}), "r-1").await;
    assert_eq!(again["data"]["queryId"], id.as_str());
}

/// A statement that runs for a long time on the small demo data set.
const SLOW_SQL: &str =
    "SELECT COUNT(*) FROM claims a, claims b, claims c WHERE a.claim_amount + b.claim_amount > c.claim_amount";

#[tokio::test]
async fn a_running_query_is_cancelled_by_request_id_and_by_query_id() {
    let (platform, account, token) = demo_platform().await;
    let conn = std::sync::Arc::new(connect(&platform, &token, &account).await);
    let runner = conn.clone();
    let running = tokio::spawn(async move { runner.query_with(SLOW_SQL, json!({}), "slow-1").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let abort = conn.post("/queries/v1/abort-request", &json!({"sqlText": SLOW_SQL, "requestId": "slow-1"})).await;
    assert_eq!(abort["success"], true, "{abort}");
    let response = tokio::time::timeout(Duration::from_secs(20), running).await.unwrap().unwrap();
    assert_eq!(response["success"], false, "{response}");
    assert_eq!(response["code"], "000604");
    assert_eq!(response["data"]["sqlState"], "57014");
    let id = response["data"]["queryId"].as_str().unwrap();
    let monitoring = conn.get(&format!("/monitoring/queries/{id}")).await;
    assert_eq!(monitoring["data"]["queries"][0]["status"], "ABORTED");
    assert_eq!(monitoring["data"]["queries"][0]["errorCode"], "000604");

    let submitted = conn.query_with(SLOW_SQL, json!({"asyncExec": true}), "slow-2").await;
    let id = submitted["data"]["queryId"].as_str().unwrap().to_owned();
    let abort = conn.post(&format!("/queries/{id}/abort-request"), &json!({})).await;
    assert_eq!(abort["success"], true, "{abort}");
    let result = conn.get(&format!("/queries/{id}/result")).await;
    assert_eq!(result["code"], "000604", "{result}");
    // The server is fine afterwards.
    assert_eq!(conn.rows("SELECT 1").await, vec![vec![json!("1")]]);
}

#[tokio::test]
async fn expired_session_tokens_are_renewed_with_the_master_token() {
    let platform = Platform::builder()
        .config(|c| {
            // Long enough for a renewed token to outlast a slow debug build's
            // next request.
            c.gateway.session_token_ttl = Duration::from_secs(3);
            c.access_token_ttl = Duration::from_secs(2);
        })
        .start()
        .await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let mut conn = connect(&platform, &token, &account).await;
    // Outlive both the session token (valid at least its 3 s, at most one
    // second more: expiries are whole seconds, rounded up) and the access
    // token it came from (plus the platform's clock leeway on it).
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let expired = conn.query("SELECT 1").await;
    assert_eq!(expired["code"], "390112", "{expired}");

    let renewal = post_raw(
        &platform.url_for("/session/token-request?requestId=x"),
        Some(&format!("Snowflake Token=\"{}\"", conn.master)),
        &json!({"oldSessionToken": conn.token, "requestType": "RENEW"}),
    )
    .await;
    assert_eq!(renewal["success"], true, "{renewal}");
    assert_eq!(renewal["data"]["masterToken"], conn.master.as_str());
    let old = std::mem::replace(&mut conn.token, renewal["data"]["sessionToken"].as_str().unwrap().to_owned());
    assert_eq!(conn.rows("SELECT 1").await, vec![vec![json!("1")]]);
    let stale = Conn { base: conn.base.clone(), token: old, master: String::new() };
    assert_eq!(stale.query("SELECT 1").await["code"], "390111", "the old session token is gone");

    // Renewing with the session token instead of the master token fails.
    let wrong = post_raw(
        &platform.url_for("/session/token-request"),
        Some(&conn.auth()),
        &json!({"oldSessionToken": conn.token, "requestType": "RENEW"}),
    )
    .await;
    assert_eq!(wrong["code"], "390115");
}

#[tokio::test]
async fn bearer_tokens_with_x_account_id_work_without_a_login() {
    let (platform, account, token) = demo_platform().await;
    let response = bearer_query(&platform, &token, "demo", "SELECT COUNT(*) FROM DEMO.HEALTHCARE.PROVIDERS").await;
    assert_eq!(response["success"], true, "{response}");
    assert_eq!(response["data"]["rowset"], json!([[(TEST_DEMO_CLAIMS / 200).max(10).to_string()]]));

    // And a login with the bearer header instead of TOKEN.
    let login = http()
        .post(platform.url_for("/session/v1/login-request"))
        .bearer_auth(&token)
        .header("x-account-id", account.as_str())
        .json(&json!({"data": {"CLIENT_APP_ID": "KomodoRust"}}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(login["success"], true, "{login}");
}

#[tokio::test]
async fn login_failures_use_snowflake_codes() {
    let (platform, account, token) = demo_platform().await;
    let bad = login_raw(&platform, "not-a-token", &account, "").await;
    assert_eq!(bad["success"], false);
    assert_eq!(bad["code"], "390303");
    assert!(bad.get("data").is_some(), "the connector reads data even on failure");
    let unknown = login_raw(&platform, &token, "no-such-account", "").await;
    assert_eq!(unknown["code"], "390100");
    let body = json!({"data": {"ACCOUNT_NAME": account, "AUTHENTICATOR": "SNOWFLAKE", "TOKEN": token}});
    let password = post_raw(&platform.url_for("/session/v1/login-request"), None, &body).await;
    assert_eq!(password["code"], "390100");
    assert!(password["message"].as_str().unwrap().contains("authenticator='oauth'"));
}

#[tokio::test]
async fn statements_fail_alone_with_snowflake_codes() {
    let (platform, account, token) = demo_platform().await;
    let conn = connect(&platform, &token, &account).await;
    let cases =
        [("SELEC 1", "001003"), ("SELECT * FROM no_such_table", "002003"), ("USE WAREHOUSE compute_wh", "000606")];
    for (sql, code) in cases {
        let response = conn.query(sql).await;
        assert_eq!(response["success"], false, "{sql}: {response}");
        assert_eq!(response["code"], code, "{sql}: {response}");
        assert!(response["message"].is_string());
        assert!(response["data"]["queryId"].is_string());
    }
    assert_eq!(conn.rows("SELECT 1").await, vec![vec![json!("1")]]);
}

#[tokio::test]
async fn large_results_arrive_in_chunks_in_both_formats() {
    let (platform, account, token) = demo_platform().await;
    platform.load_demo(&account, 40_000).await;
    let conn = connect(&platform, &token, &account).await;
    let rows = conn.rows("SELECT claim_id FROM claims ORDER BY claim_id").await;
    assert_eq!(rows.len(), 40_000);
    let mut ids: Vec<&str> = rows.iter().map(|r| r[0].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 40_000, "no row is repeated across chunks");

    let response = conn
        .query_with(
            "SELECT claim_id FROM claims a UNION ALL SELECT claim_id FROM claims",
            json!({"parameters": {"QUERY_RESULT_FORMAT": "ARROW"}}),
            "arrow-1",
        )
        .await;
    let data = &response["data"];
    assert_eq!(data["queryResultFormat"], "arrow", "{response}");
    assert_eq!(data["total"], 80_000);
    use base64::Engine as _;
    let first = base64::engine::general_purpose::STANDARD.decode(data["rowsetBase64"].as_str().unwrap()).unwrap();
    let count = |bytes: Vec<u8>| -> usize {
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum()
    };
    let mut total = count(first);
    for chunk in data["chunks"].as_array().unwrap() {
        let mut request = http().get(chunk["url"].as_str().unwrap());
        for (name, value) in data["chunkHeaders"].as_object().unwrap() {
            request = request.header(name, value.as_str().unwrap());
        }
        total += count(request.send().await.unwrap().bytes().await.unwrap().to_vec());
    }
    assert_eq!(total, 80_000);

    // A chunk URL without its header is refused.
    if let Some(chunk) = data["chunks"].as_array().unwrap().first() {
        let refused = http().get(chunk["url"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(refused.status(), 404);
    }
}

#[tokio::test]
async fn use_changes_the_session_context_and_close_ends_the_session() {
    let (platform, account, token) = demo_platform().await;
    let conn = connect(&platform, &token, &account).await;
    let response = conn.query("USE SCHEMA DEMO.HEALTHCARE").await;
    assert_eq!(response["success"], true, "{response}");
    assert_eq!(response["data"]["finalSchemaName"], "HEALTHCARE");
    let closed = conn.post("/session?delete=true", &json!({})).await;
    assert_eq!(closed["success"], true);
    assert_eq!(conn.query("SELECT 1").await["code"], "390111");
    let heartbeat = conn.post("/session/heartbeat", &json!({})).await;
    assert_eq!(heartbeat["success"], false);
}

/// T01, T02, T05 at the gateway: another account's identities cannot log
/// in to, query, monitor, fetch, scan or cancel anything of this account.
#[tokio::test]
async fn t01_t05_gateway_isolates_accounts() {
    let (platform, demo, token) = demo_platform().await;
    let other = platform.create_account("other", "other").await;
    let outsider_sp = platform.create_service_principal(&other.slug, "etl").await;
    let outsider_token = sp_token(&platform, &outsider_sp.client_id, outsider_sp.client_secret.expose_secret()).await;
    let member = user(&platform, "mia@example.com").await;
    platform.add_member(&other.slug, &member.email, Role::Admin).await;
    let member_token = login(&platform, &member, "openid").await.access_token.expose_secret().to_owned();

    // Neither can open a session on `demo`, by id or slug, nor query it with a bearer token.
    for t in [&outsider_token, &member_token] {
        for reference in [demo.as_str(), "demo"] {
            let response = login_raw(&platform, t, reference, "").await;
            assert_eq!(response["code"], "390100", "{response}");
        }
        let response = bearer_query(&platform, t, &demo, "SELECT 1").await;
        assert_eq!(response["code"], "390100");
    }

    // A query of `demo`...
    let owner = connect(&platform, &token, &demo).await;
    let submitted = owner.query_with("SELECT COUNT(*) FROM claims", json!({"asyncExec": true}), "x").await;
    let id = submitted["data"]["queryId"].as_str().unwrap().to_owned();
    let finished = owner.get(&format!("/queries/{id}/result")).await;
    assert_eq!(finished["success"], true);
    let running = owner.query_with(SLOW_SQL, json!({"asyncExec": true}), "y").await;
    let running_id = running["data"]["queryId"].as_str().unwrap().to_owned();

    // ...is invisible to a session of the other account.
    let intruder = connect(&platform, &outsider_token, &other.id).await;
    let monitoring = intruder.get(&format!("/monitoring/queries/{id}")).await;
    assert_eq!(monitoring["data"]["queries"], json!([]), "{monitoring}");
    let result = intruder.get(&format!("/queries/{id}/result")).await;
    assert_eq!(result["success"], false);
    assert_eq!(result["code"], "000709");
    let scan = intruder.query(&format!("select * from table(result_scan('{id}'))")).await;
    assert_eq!(scan["success"], false, "{scan}");
    let abort = intruder.post(&format!("/queries/{running_id}/abort-request"), &json!({})).await;
    assert_eq!(abort["success"], false);
    let status = owner.get(&format!("/monitoring/queries/{running_id}")).await;
    assert_eq!(status["data"]["queries"][0]["status"], "RUNNING", "the intruder's abort did nothing");
    // Tables of `demo` do not exist for `other`.
    let tables = intruder.query("SELECT COUNT(*) FROM DEMO.HEALTHCARE.CLAIMS").await;
    assert_eq!(tables["code"], "002003");
    owner.post(&format!("/queries/{running_id}/abort-request"), &json!({})).await;

    // T02: deleting the service principal stops its session at once.
    let sp_id = platform
        .admin()
        .store()
        .list_service_principals(&demo)
        .await
        .unwrap()
        .into_iter()
        .find(|sp| sp.name == "etl")
        .unwrap()
        .id;
    platform.admin().store().delete_service_principal(&demo, &sp_id).await.unwrap();
    let after = owner.query("SELECT 1").await;
    assert_eq!(after["code"], "390100", "{after}");
}

/// T04 through the gateway: no file or network access from SQL, a time
/// limit, and failures that leave the server serving.
#[tokio::test]
async fn t04_gateway_sql_cannot_reach_files_and_runaway_statements_stop() {
    let platform = Platform::builder().config(|c| c.engine.statement_timeout = Duration::from_secs(2)).start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let conn = connect(&platform, &token, &account).await;
    let forbidden = [
        "SELECT * FROM '/etc/passwd'",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/'",
        "COPY INTO claims FROM '/tmp/x.csv'",
        "SELECT * FROM read_parquet('/etc/passwd')",
        "DELETE FROM claims",
        "DROP TABLE DEMO.HEALTHCARE.CLAIMS",
    ];
    for sql in forbidden {
        let response = conn.query(sql).await;
        assert_eq!(response["success"], false, "{sql} must fail: {response}");
    }
    let runaway = conn.query(SLOW_SQL).await;
    assert_eq!(runaway["code"], "000630", "{runaway}");
    assert_eq!(conn.rows("SELECT COUNT(*) FROM claims").await, vec![vec![json!(TEST_DEMO_CLAIMS.to_string())]]);
}

/// Two replicas on one PostgreSQL and one session of a service principal
/// of `demo`, opened on the first, as a client of each replica sees it.
pub(crate) async fn one_session_on_two_replicas()
-> Result<((Platform, Platform, SharedStore), Conn, Conn), TestDatabaseError> {
    let (a, b, db) = two_replicas().await?;
    let account = a.demo_account_id().unwrap().to_owned();
    let sp = a.create_service_principal("demo", "etl").await;
    let token = sp_token(&a, &sp.client_id, sp.client_secret.expose_secret()).await;
    let on_a = connect(&a, &token, &account).await;
    let on_b = Conn { base: b.url().to_owned(), token: on_a.token.clone(), master: on_a.master.clone() };
    Ok(((a, b, db), on_a, on_b))
}

/// Two replicas on one PostgreSQL: a session opened on one is served by
/// the other, an async query's result is read through the other, and a
/// cancellation sent to the other stops the query.
#[tokio::test]
async fn replicas_share_sessions_results_and_cancellation() -> Result<(), TestDatabaseError> {
    let (_replicas, on_a, on_b) = one_session_on_two_replicas().await?;
    assert_eq!(on_b.rows("SELECT COUNT(*) FROM claims").await, vec![vec![json!(TEST_DEMO_CLAIMS.to_string())]]);

    let submitted = on_a.query_with("SELECT COUNT(*) FROM prescriptions", json!({"asyncExec": true}), "q1").await;
    let id = submitted["data"]["queryId"].as_str().unwrap().to_owned();
    let result = on_b.get(&format!("/queries/{id}/result")).await;
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["data"]["rowset"], json!([[(TEST_DEMO_CLAIMS / 2).to_string()]]));

    // An Arrow result read through the replica that did not run it stays
    // Arrow, the second time too (from that replica's memory).
    let arrow = json!({"asyncExec": true, "parameters": {"QUERY_RESULT_FORMAT": "ARROW"}});
    let submitted = on_a.query_with("SELECT COUNT(*) AS n FROM claims", arrow, "q3").await;
    let id = submitted["data"]["queryId"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let result = on_b.get(&format!("/queries/{id}/result")).await;
        assert_eq!(result["data"]["queryResultFormat"], "arrow", "{result}");
        assert!(result["data"]["rowsetBase64"].as_str().is_some_and(|r| !r.is_empty()), "{result}");
    }

    let slow = on_a.query_with(SLOW_SQL, json!({"asyncExec": true}), "q2").await;
    let slow_id = slow["data"]["queryId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let abort = on_b.post(&format!("/queries/{slow_id}/abort-request"), &json!({})).await;
    assert_eq!(abort["data"]["cancelled"], true, "{abort}");
    let cancelled = on_a.get(&format!("/queries/{slow_id}/result")).await;
    assert_eq!(cancelled["code"], "000604", "{cancelled}");
    Ok(())
}

/// Quick synchronous queries are answered from memory and recorded in the
/// store in groups: a group reaches the store within its window, and the
/// records still waiting when the server stops are written before it
/// exits.
#[tokio::test]
async fn quick_queries_are_recorded_in_groups_and_when_the_server_stops() -> Result<(), TestDatabaseError> {
    let dir = tempfile::tempdir().unwrap();
    let long_window = Duration::from_secs(600);
    let platform =
        Platform::builder().data_dir(dir.path()).config(move |c| c.gateway.history_window = long_window).start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let conn = connect(&platform, &token, &account).await;
    let store = platform.state().store().clone();

    let mut answered = Vec::new();
    for n in 0..12 {
        let response = conn.query(&format!("SELECT {n} AS n")).await;
        assert_eq!(response["data"]["rowset"], json!([[n.to_string()]]), "{response}");
        answered.push(response["data"]["queryId"].as_str().unwrap().to_owned());
    }
    let failed = conn.query("SELECT * FROM no_such_table").await;
    assert_eq!(failed["code"], "002003", "{failed}");
    let failed_id = failed["data"]["queryId"].as_str().unwrap().to_owned();
    // Answered, and waiting for their group's window to end.
    assert!(store.gateway_query(&account, &answered[0]).await.unwrap().is_none());
    platform.stop().await;

    let store =
        komodo_server::store::Store::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("komodo.db").display()))
            .await
            .unwrap();
    for (n, id) in answered.iter().enumerate() {
        let row = store.gateway_query(&account, id).await.unwrap().expect("recorded at shutdown");
        assert_eq!(row.status, "SUCCESS");
        assert_eq!(row.handle.sql_text, format!("SELECT {n} AS n"));
        let result = store.gateway_result(&account, id).await.unwrap().expect("small results are kept");
        assert_eq!(result.total_rows, 1);
    }
    let row = store.gateway_query(&account, &failed_id).await.unwrap().expect("failures are recorded too");
    assert_eq!((row.status.as_str(), row.error_code.as_deref()), ("FAILED_WITH_ERROR", Some("002003")));
    store.close().await;

    // With the default window, another replica finds a quick query's
    // record (and result) in the store within moments of its answer.
    let (_replicas, on_a, on_b) = one_session_on_two_replicas().await?;
    let response = on_a.query("SELECT 41 + 1 AS answer").await;
    let id = response["data"]["queryId"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let result = loop {
        let result = on_b.get(&format!("/queries/{id}/result")).await;
        if result["success"] == true || std::time::Instant::now() > deadline {
            break result;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(result["data"]["rowset"], json!([["42"]]), "{result}");
    Ok(())
}

/// An account's `reader` role reads through the gateway and every change
/// it tries is Snowflake's insufficient-privileges error, over a session
/// and with a bearer token; a role changed while a session is open applies
/// from its next statement.
#[tokio::test]
async fn a_reader_reads_and_every_change_is_refused() {
    let (platform, account, sp_token) = demo_platform().await;
    let writer = connect(&platform, &sp_token, &account).await;
    for sql in ["CREATE DATABASE mine", "CREATE TABLE t (id INT)", "INSERT INTO t VALUES (1)"] {
        let response = writer.query(sql).await;
        assert_eq!(response["success"], true, "{sql}: {response}");
    }
    let reader = user(&platform, "rita@example.com").await;
    platform.add_member("demo", &reader.email, Role::Reader).await;
    let token = login(&platform, &reader, "openid").await.access_token.expose_secret().to_owned();
    let login = login_raw(&platform, &token, &account, "").await;
    assert_eq!(login["data"]["sessionInfo"]["roleName"], "READER", "{login}");
    let session = connect(&platform, &token, &account).await;
    assert_eq!(session.rows("SELECT COUNT(*) FROM mine.public.t").await, vec![vec![json!("1")]]);
    assert!(!session.rows("SELECT claim_id FROM claims LIMIT 1").await.is_empty());
    let refused = |response: &Value, sql: &str| {
        assert_eq!(response["success"], false, "{sql}: {response}");
        assert_eq!(response["code"], "003001", "{sql}: {response}");
        assert_eq!(response["data"]["sqlState"], "42501", "{sql}: {response}");
        assert!(response["message"].as_str().unwrap().contains("Insufficient privileges"), "{response}");
    };
    for sql in ["INSERT INTO mine.public.t VALUES (2)", "DELETE FROM mine.public.t", "CREATE DATABASE theirs"] {
        refused(&session.query(sql).await, sql);
    }
    let bearer = bearer_query(&platform, &token, "demo", "DROP TABLE mine.public.t").await;
    refused(&bearer, "DROP TABLE (bearer)");
    assert_eq!(writer.rows("SELECT COUNT(*) FROM mine.public.t").await, vec![vec![json!("1")]]);

    // Made a member: the open session writes; made a reader again: it does not.
    platform.add_member("demo", &reader.email, Role::Member).await;
    let response = session.query("INSERT INTO mine.public.t VALUES (2)").await;
    assert_eq!(response["success"], true, "{response}");
    platform.add_member("demo", &reader.email, Role::Reader).await;
    refused(&session.query("INSERT INTO mine.public.t VALUES (3)").await, "INSERT after demotion");
    assert_eq!(writer.rows("SELECT COUNT(*) FROM mine.public.t").await, vec![vec![json!("2")]]);
}

/// Runs `sql` through `conn` `times` times, one after another; each run
/// commits or fails with Snowflake's conflict error (000625), never
/// anything else. Returns how many committed.
async fn commits(conn: &Conn, sql: &str, times: usize) -> usize {
    let mut committed = 0;
    for _ in 0..times {
        let response = conn.query(sql).await;
        if response["success"] == true {
            committed += 1;
        } else {
            assert_eq!(response["code"], "000625", "{sql}: {response}");
        }
    }
    committed
}

/// The account's own tables through two replicas on PostgreSQL sharing
/// the warehouse directory, each statement family through both: what one
/// writes the other reads at its next statement, a transaction on one is
/// seen by the other only once committed, and writers racing through both
/// lose no update.
#[tokio::test]
async fn own_tables_through_two_replicas_on_postgres() -> Result<(), TestDatabaseError> {
    let ((a, b, _db), on_a, _) = one_session_on_two_replicas().await?;
    let account = a.demo_account_id().unwrap().to_owned();
    let sp = b.create_service_principal("demo", "loader").await;
    let token = sp_token(&b, &sp.client_id, sp.client_secret.expose_secret()).await;
    let on_b = connect(&b, &token, &account).await;
    let ok = |conn: &Conn, sql: &'static str| {
        let conn = conn.clone();
        async move {
            let response = conn.query(sql).await;
            assert_eq!(response["success"], true, "{sql}: {response}");
        }
    };
    let strings =
        |rows: &[&[&str]]| -> Vec<Vec<Value>> { rows.iter().map(|r| r.iter().map(|v| json!(v)).collect()).collect() };

    // DDL and DML through A, read through B; and the other way round.
    ok(&on_a, "CREATE DATABASE shared").await;
    ok(&on_a, "CREATE TABLE shared.public.counter (id INT, n INT)").await;
    ok(&on_a, "INSERT INTO shared.public.counter VALUES (1, 0)").await;
    assert_eq!(on_b.rows("SELECT n FROM shared.public.counter").await, strings(&[&["0"]]));
    ok(&on_b, "CREATE VIEW shared.public.v AS SELECT id, n FROM shared.public.counter").await;
    ok(&on_b, "UPDATE shared.public.counter SET n = 5 WHERE id = 1").await;
    ok(
        &on_b,
        "MERGE INTO shared.public.counter t USING (SELECT 2 AS id, 7 AS n) s ON t.id = s.id \
         WHEN MATCHED THEN UPDATE SET n = s.n WHEN NOT MATCHED THEN INSERT (id, n) VALUES (s.id, s.n)",
    )
    .await;
    assert_eq!(on_a.rows("SELECT id, n FROM shared.public.v ORDER BY id").await, strings(&[&["1", "5"], &["2", "7"]]));
    ok(&on_a, "DELETE FROM shared.public.counter WHERE id = 2").await;
    assert_eq!(on_b.rows("SELECT COUNT(*) FROM shared.public.counter").await, strings(&[&["1"]]));

    // A transaction on B: A sees its rows at COMMIT, not before.
    ok(&on_b, "BEGIN").await;
    ok(&on_b, "INSERT INTO shared.public.counter VALUES (3, 3)").await;
    assert_eq!(on_b.rows("SELECT COUNT(*) FROM shared.public.counter").await, strings(&[&["2"]]));
    assert_eq!(on_a.rows("SELECT COUNT(*) FROM shared.public.counter").await, strings(&[&["1"]]));
    ok(&on_b, "COMMIT").await;
    assert_eq!(on_a.rows("SELECT COUNT(*) FROM shared.public.counter").await, strings(&[&["2"]]));

    // Writers racing through both replicas: every committed update counts.
    let bump = "UPDATE shared.public.counter SET n = n + 1 WHERE id = 1";
    let (through_a, through_b) = tokio::join!(commits(&on_a, bump, 8), commits(&on_b, bump, 8));
    assert!(through_a + through_b > 0, "some updates commit");
    let n = 5 + through_a + through_b;
    assert_eq!(
        on_a.rows("SELECT n FROM shared.public.counter WHERE id = 1").await,
        strings(&[&[n.to_string().as_str()]])
    );
    let insert = "INSERT INTO shared.public.counter VALUES (9, 9)";
    let (through_a, through_b) = tokio::join!(commits(&on_a, insert, 8), commits(&on_b, insert, 8));
    let nines = (through_a + through_b).to_string();
    assert_eq!(
        on_b.rows("SELECT COUNT(*) FROM shared.public.counter WHERE id = 9").await,
        strings(&[&[nines.as_str()]])
    );

    // Dropped through A, gone for B; brought back through B, there for A.
    ok(&on_a, "DROP TABLE shared.public.counter").await;
    let gone = on_b.query("SELECT COUNT(*) FROM shared.public.counter").await;
    assert_eq!(gone["code"], "002003", "{gone}");
    ok(&on_b, "UNDROP TABLE shared.public.counter").await;
    assert_eq!(
        on_a.rows("SELECT n FROM shared.public.counter WHERE id = 1").await,
        strings(&[&[n.to_string().as_str()]])
    );
    Ok(())
}
