//! A recording upstream Snowflake account, for what fakesnow cannot check:
//! it verifies key-pair JWTs as Snowflake does (RS256 against the user's
//! registered public key, `iss` naming its fingerprint, `sub` the account
//! and user, at most an hour of validity) and refuses anything else with
//! Snowflake's codes; issues session and master tokens and renews them;
//! answers statements (JSON rowsets, results with chunks fetched with
//! server-side encryption headers, asynchronous and long-running queries,
//! errors), result polls, monitoring, aborts and heartbeats; and records
//! everything it is asked, for the tests to check.
//!
//! Statements it knows (by their text):
//! - `select 1 ...`: one row, `1`;
//! - `select chunked`: one row inline and two chunks of two rows each;
//! - `select slow`: in progress (`333333`) until polled twice;
//! - `select sleep`: answered after 3 s, or as cancelled once aborted;
//! - `select missing`: `002003` (`42S02`);
//! - several statements with `MULTI_STATEMENT_COUNT`: `resultIds`, one
//!   upstream id a statement;
//! - anything else: one row holding the statement's text.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// What openssl printed for the test key's public half.
pub const FINGERPRINT: &str = "SHA256:mNasgZCw3y8zkcyQwPgLLIUYaFgzaBLZaCXaAA9lA/E=";
/// The test key (PKCS#8 PEM).
pub const KEY: &str = include_str!("../../src/upstream/testdata/test_key.p8");
/// The key the upstream's chunks are encrypted with (its `qrmk`).
pub const QRMK: &str = "fake-upstream-qrmk-secret";
/// What the chunk URLs carry: a presigned URL's signature.
pub const CHUNK_SIGNATURE: &str = "X-Amz-Signature=fake-upstream-signature";

/// A statement as the upstream received it.
#[derive(Debug, Clone)]
pub struct Statement {
    /// `sqlText`.
    pub sql: String,
    /// `parameters`.
    pub parameters: Value,
    /// `requestId` from the query string.
    pub request_id: String,
    /// `retryCount` from the query string (0 when absent).
    pub retry: u32,
    /// `asyncExec`.
    pub async_exec: bool,
}

/// What the upstream saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Each login's `data`.
    pub logins: Vec<Value>,
    /// Each login's query string.
    pub login_query: Vec<Vec<(String, String)>>,
    /// Each statement.
    pub statements: Vec<Statement>,
    /// Session tokens whose session was ended.
    pub closed: Vec<String>,
    /// Heartbeats.
    pub heartbeats: usize,
    /// Renewals.
    pub renewals: usize,
    /// The request ids of abort requests.
    pub aborts: Vec<String>,
    /// Result polls (upstream query ids).
    pub polls: Vec<String>,
    /// Chunk downloads.
    pub chunks: usize,
}

#[derive(Default)]
struct Sessions {
    /// Session token → master token.
    live: Vec<(String, String)>,
    /// Upstream query id → polls left before it finishes.
    pending: Vec<(String, usize)>,
}

/// A running fake upstream.
#[derive(Clone)]
pub struct FakeUpstream {
    /// Its base URL.
    pub url: String,
    /// What it saw.
    pub seen: Arc<Mutex<Seen>>,
    /// The next statements that are answered with HTTP 503 instead.
    pub fail_next: Arc<AtomicUsize>,
    /// Whether every session token is expired (`390112`) from now on.
    pub expire_tokens: Arc<std::sync::atomic::AtomicBool>,
    sessions: Arc<Mutex<Sessions>>,
    public_der: Arc<Vec<u8>>,
    counter: Arc<AtomicUsize>,
}

impl FakeUpstream {
    /// Starts one on 127.0.0.1 that accepts the public half of `public_pem`.
    pub async fn start(public_pem: &str) -> FakeUpstream {
        use base64::Engine as _;
        let body: String = public_pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let public_der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeUpstream {
            url,
            seen: Arc::default(),
            fail_next: Arc::default(),
            expire_tokens: Arc::default(),
            sessions: Arc::default(),
            public_der: Arc::new(public_der),
            counter: Arc::default(),
        };
        let app = Router::new()
            .route("/session/v1/login-request", post(login))
            .route("/session/token-request", post(renew))
            .route("/session/heartbeat", post(heartbeat))
            .route("/session", post(end_session))
            .route("/queries/v1/query-request", post(query))
            .route("/queries/v1/abort-request", post(abort))
            .route("/queries/{id}/result", get(result))
            .route("/monitoring/queries/{id}", get(monitoring))
            .route("/chunks/{n}", get(chunk))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// The session tokens the upstream still honours.
    pub fn live_sessions(&self) -> usize {
        self.sessions.lock().unwrap().live.len()
    }

    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn session_of(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers.get("authorization")?.to_str().ok()?;
        let token = value.strip_prefix("Snowflake Token=\"")?.strip_suffix('"')?.to_owned();
        let sessions = self.sessions.lock().unwrap();
        sessions.live.iter().any(|(t, _)| *t == token).then_some(token)
    }
}

fn envelope(data: Value) -> Json<Value> {
    Json(json!({"success": true, "code": null, "message": null, "data": data}))
}

fn refuse(code: &str, message: &str) -> Json<Value> {
    Json(json!({"success": false, "code": code, "message": message, "data": null}))
}

/// The claims of an RS256 JWT whose signature the public key verifies.
fn verified_claims(token: &str, public_der: &[u8]) -> Option<Value> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let head: Value = serde_json::from_slice(&b64.decode(header).ok()?).ok()?;
    if head["alg"] != "RS256" || parts.next().is_some() {
        return None;
    }
    let key =
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256, public_der);
    key.verify(format!("{header}.{claims}").as_bytes(), &b64.decode(signature).ok()?).ok()?;
    serde_json::from_slice(&b64.decode(claims).ok()?).ok()
}

async fn login(
    State(up): State<FakeUpstream>,
    Query(query): Query<Vec<(String, String)>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let data = &body["data"];
    up.seen.lock().unwrap().logins.push(data.clone());
    up.seen.lock().unwrap().login_query.push(query);
    if data["AUTHENTICATOR"] != "SNOWFLAKE_JWT" {
        return refuse("390100", "Incorrect username or password was specified.");
    }
    let token = data["TOKEN"].as_str().unwrap_or_default();
    let Some(claims) = verified_claims(token, &up.public_der) else {
        return refuse("390144", "JWT token is invalid.");
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    if claims["exp"].as_u64().unwrap_or(0) <= now {
        return refuse("390144", "JWT token is invalid.");
    }
    let account = data["ACCOUNT_NAME"].as_str().unwrap_or_default();
    let subject = format!("{account}.{}", data["LOGIN_NAME"].as_str().unwrap_or_default().to_ascii_uppercase());
    let lifetime = claims["exp"].as_u64().unwrap_or(0).saturating_sub(claims["iat"].as_u64().unwrap_or(0));
    if claims["sub"] != subject.as_str()
        || claims["iss"] != format!("{subject}.{FINGERPRINT}").as_str()
        || lifetime > 3600
    {
        return refuse("390144", "JWT token is invalid.");
    }
    let n = up.next();
    let (session, master) = (format!("upstream-session-token-{n}"), format!("upstream-master-token-{n}"));
    up.sessions.lock().unwrap().live.push((session.clone(), master.clone()));
    envelope(json!({
        "token": session, "masterToken": master,
        "validityInSeconds": 3600, "masterValidityInSeconds": 14400, "sessionId": 7700 + n,
        "parameters": [{"name": "TIMEZONE", "value": "America/Los_Angeles"},
                       {"name": "CLIENT_STAGE_ARRAY_BINDING_THRESHOLD", "value": 65280}],
        "sessionInfo": {"databaseName": "ANALYTICS", "schemaName": "PUBLIC", "warehouseName": "COMPUTE_WH",
                        "roleName": "ANALYST"},
    }))
}

async fn renew(State(up): State<FakeUpstream>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    let master = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Snowflake Token=\""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned();
    let old = body["oldSessionToken"].as_str().unwrap_or_default().to_owned();
    let n = up.next();
    let fresh = format!("upstream-session-token-{n}");
    let mut sessions = up.sessions.lock().unwrap();
    let Some(entry) = sessions.live.iter_mut().find(|(t, m)| *t == old && *m == master) else {
        return refuse("390115", "Invalid master token.");
    };
    entry.0 = fresh.clone();
    drop(sessions);
    up.expire_tokens.store(false, Ordering::SeqCst);
    up.seen.lock().unwrap().renewals += 1;
    envelope(json!({"sessionToken": fresh, "validityInSecondsST": 3600, "masterToken": master}))
}

async fn heartbeat(State(up): State<FakeUpstream>, headers: HeaderMap) -> Json<Value> {
    if up.session_of(&headers).is_none() {
        return refuse("390112", "Your session has expired. Please login again.");
    }
    up.seen.lock().unwrap().heartbeats += 1;
    envelope(Value::Null)
}

async fn end_session(State(up): State<FakeUpstream>, headers: HeaderMap) -> Json<Value> {
    let Some(token) = up.session_of(&headers) else {
        return refuse("390112", "Your session has expired. Please login again.");
    };
    up.sessions.lock().unwrap().live.retain(|(t, _)| *t != token);
    up.seen.lock().unwrap().closed.push(token);
    envelope(Value::Null)
}

fn one_row(query_id: &str, value: &str) -> Value {
    json!({
        "queryId": query_id,
        "rowtype": [{"name": "X", "type": "text", "nullable": true, "length": 100, "byteLength": 400}],
        "rowset": [[value]], "total": 1, "returned": 1, "queryResultFormat": "json", "statementTypeId": 4096,
        "finalDatabaseName": "ANALYTICS", "finalSchemaName": "PUBLIC",
    })
}

async fn query(
    State(up): State<FakeUpstream>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
    Json(body): Json<Value>,
) -> Response {
    if up.session_of(&headers).is_none() || up.expire_tokens.load(Ordering::SeqCst) {
        return refuse("390112", "Your session has expired. Please login again.").into_response();
    }
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let sql = body["sqlText"].as_str().unwrap_or_default().to_owned();
    let async_exec = body["asyncExec"].as_bool().unwrap_or(false);
    up.seen.lock().unwrap().statements.push(Statement {
        sql: sql.clone(),
        parameters: body["parameters"].clone(),
        request_id: param("requestId").unwrap_or_default(),
        retry: param("retryCount").and_then(|r| r.parse().ok()).unwrap_or(0),
        async_exec,
    });
    if up.fail_next.load(Ordering::SeqCst) > 0 {
        up.fail_next.fetch_sub(1, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    }
    let query_id = format!("01b00000-0000-4000-8000-{:012}", up.next());
    let lower = sql.to_ascii_lowercase();
    if lower.starts_with("select sleep") {
        // Answers after 3 s, or at once when its request is aborted.
        let request_id = param("requestId").unwrap_or_default();
        for _ in 0..30 {
            if up.seen.lock().unwrap().aborts.contains(&request_id) {
                return Json(json!({"success": false, "code": "000604", "message": "SQL execution canceled",
                    "data": {"queryId": query_id, "sqlState": "57014"}}))
                .into_response();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        return envelope(one_row(&query_id, "slept")).into_response();
    }
    if lower.starts_with("select missing") {
        return Json(json!({"success": false, "code": "002003",
            "message": "SQL compilation error:\nObject 'MISSING' does not exist or not authorized.",
            "data": {"queryId": query_id, "sqlState": "42S02", "errorCode": "002003"}}))
        .into_response();
    }
    if lower.starts_with("select slow") || async_exec {
        up.sessions.lock().unwrap().pending.push((query_id.clone(), 2));
        let code = if async_exec { "333334" } else { "333333" };
        return Json(json!({"success": true, "code": code, "message": "Query execution in progress.",
            "data": {"queryId": query_id, "getResultUrl": format!("/queries/{query_id}/result")}}))
        .into_response();
    }
    if body["parameters"].get("MULTI_STATEMENT_COUNT").is_some() && sql.contains(';') {
        let children: Vec<String> =
            sql.split(';').map(|_| format!("01b00000-0000-4000-8000-{:012}", up.next())).collect();
        let mut data = one_row(&query_id, "Multiple statements executed successfully.");
        data["resultIds"] = json!(children.join(","));
        data["statementTypeId"] = json!(0x1000);
        return envelope(data).into_response();
    }
    if lower.starts_with("select chunked") {
        let mut data = one_row(&query_id, "0");
        data["total"] = json!(5);
        data["qrmk"] = json!(QRMK);
        data["chunks"] = json!([
            {"url": format!("{}/chunks/0?{CHUNK_SIGNATURE}", up.url), "rowCount": 2, "uncompressedSize": 12,
             "compressedSize": 12},
            {"url": format!("{}/chunks/1?{CHUNK_SIGNATURE}", up.url), "rowCount": 2, "uncompressedSize": 12,
             "compressedSize": 12},
        ]);
        return envelope(data).into_response();
    }
    let value = if lower.starts_with("select 1") { "1".to_owned() } else { sql };
    envelope(one_row(&query_id, &value)).into_response()
}

async fn result(State(up): State<FakeUpstream>, headers: HeaderMap, Path(id): Path<String>) -> Json<Value> {
    if up.session_of(&headers).is_none() {
        return refuse("390112", "Your session has expired. Please login again.");
    }
    up.seen.lock().unwrap().polls.push(id.clone());
    let mut sessions = up.sessions.lock().unwrap();
    match sessions.pending.iter_mut().find(|(q, _)| *q == id) {
        Some((_, 0)) => envelope(one_row(&id, "done")),
        Some((_, left)) => {
            *left -= 1;
            Json(json!({"success": true, "code": "333333", "message": "Query execution in progress.",
                "data": {"queryId": id, "getResultUrl": format!("/queries/{id}/result")}}))
        }
        None => refuse("000709", &format!("Statement {id} not found")),
    }
}

async fn monitoring(State(up): State<FakeUpstream>, headers: HeaderMap, Path(id): Path<String>) -> Json<Value> {
    if up.session_of(&headers).is_none() {
        return refuse("390112", "Your session has expired. Please login again.");
    }
    let sessions = up.sessions.lock().unwrap();
    let status = match sessions.pending.iter().find(|(q, _)| *q == id) {
        Some((_, 0)) | None => "SUCCESS",
        Some(_) => "RUNNING",
    };
    envelope(json!({"queries": [{"id": id, "status": status, "sqlText": "select slow", "startTime": 1}]}))
}

async fn abort(State(up): State<FakeUpstream>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    if up.session_of(&headers).is_none() {
        return refuse("390112", "Your session has expired. Please login again.");
    }
    up.seen.lock().unwrap().aborts.push(body["requestId"].as_str().unwrap_or_default().to_owned());
    envelope(Value::Null)
}

async fn chunk(State(up): State<FakeUpstream>, headers: HeaderMap, Path(n): Path<usize>) -> Response {
    let key = headers.get("x-amz-server-side-encryption-customer-key").and_then(|v| v.to_str().ok());
    if key != Some(QRMK) {
        return (StatusCode::FORBIDDEN, "AccessDenied").into_response();
    }
    up.seen.lock().unwrap().chunks += 1;
    let rows = match n {
        0 => r#"["1"],["2"]"#,
        _ => r#"["3"],["4"]"#,
    };
    ([("content-type", "application/json")], rows).into_response()
}
