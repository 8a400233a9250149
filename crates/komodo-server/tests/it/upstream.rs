//! The gateway's client of an upstream Snowflake account against a
//! recording upstream that checks the key-pair JWT as Snowflake does
//! (RS256 against the user's registered public key, `iss` naming its
//! fingerprint, `sub` the account and user, at most an hour of validity),
//! and refuses anything else with Snowflake's codes.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use komodo_protocol::gateway::QueryRequest;
use komodo_server::upstream::client::{UpstreamAccount, UpstreamClient, UpstreamError};
use komodo_server::upstream::keypair::SigningKey;
use serde_json::{Value, json};

const KEY: &str = include_str!("../../src/upstream/testdata/test_key.p8");
/// What openssl printed for the test key's public half.
const FINGERPRINT: &str = "SHA256:mNasgZCw3y8zkcyQwPgLLIUYaFgzaBLZaCXaAA9lA/E=";

/// What the upstream saw.
#[derive(Default)]
struct Seen {
    logins: Vec<Value>,
    login_query: Vec<Vec<(String, String)>>,
    statements: Vec<(String, Value)>,
    closed: usize,
}

#[derive(Clone)]
struct Upstream {
    /// The user's registered public key (DER SubjectPublicKeyInfo).
    public_der: Vec<u8>,
    seen: Arc<Mutex<Seen>>,
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

fn refuse(code: &str, message: &str) -> Json<Value> {
    Json(json!({"success": false, "code": code, "message": message, "data": null}))
}

async fn login(
    State(up): State<Upstream>,
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
    Json(json!({"success": true, "code": null, "message": null, "data": {
        "token": "upstream-session-token", "masterToken": "upstream-master-token",
        "validityInSeconds": 3600, "masterValidityInSeconds": 14400, "sessionId": 77,
    }}))
}

async fn query(State(up): State<Upstream>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Snowflake Token=\"upstream-session-token\"")
    {
        return refuse("390112", "Your session has expired. Please login again.");
    }
    let sql = body["sqlText"].as_str().unwrap_or_default().to_owned();
    up.seen.lock().unwrap().statements.push((sql, body["parameters"].clone()));
    Json(json!({"success": true, "code": null, "message": null, "data": {
        "queryId": "01b2c3d4-0000-0000-0000-000000000001",
        "rowtype": [{"name": "X", "type": "fixed", "nullable": false, "precision": 1, "scale": 0}],
        "rowset": [["1"]], "total": 1, "returned": 1, "queryResultFormat": "json", "statementTypeId": 4096,
    }}))
}

async fn session(State(up): State<Upstream>) -> Json<Value> {
    up.seen.lock().unwrap().closed += 1;
    Json(json!({"success": true, "code": null, "message": null, "data": null}))
}

async fn start_upstream(public_pem: String) -> (String, Arc<Mutex<Seen>>) {
    use base64::Engine as _;
    let body: String = public_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let public_der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = Router::new()
        .route("/session/v1/login-request", post(login))
        .route("/queries/v1/query-request", post(query))
        .route("/session", post(session))
        .with_state(Upstream { public_der, seen: seen.clone() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn account(url: &str, key: SigningKey) -> UpstreamAccount {
    UpstreamAccount {
        host: url.parse().unwrap(),
        account_name: "xy12345.us-east-2.aws".into(),
        user: "komodo_gateway".into(),
        key: Arc::new(key),
        role: Some("ANALYST".into()),
        warehouse: Some("COMPUTE_WH".into()),
        database: None,
        schema: None,
    }
}

#[tokio::test]
async fn key_pair_logins_statements_and_the_end_of_a_session() {
    let key = SigningKey::from_pem(KEY, None).unwrap();
    let (url, seen) = start_upstream(key.public_key_pem()).await;
    let client = UpstreamClient::new(reqwest::Client::new(), account(&url, key));

    let mut parameters = serde_json::Map::new();
    parameters.insert("QUERY_TAG".into(), json!("komodo:sp:1234"));
    let session = client.login(parameters).await.unwrap();
    assert_eq!(session.session_id, 77);
    assert!(!format!("{session:?}").contains("upstream-session-token"));
    {
        let seen = seen.lock().unwrap();
        let login = &seen.logins[0];
        assert_eq!(login["ACCOUNT_NAME"], "XY12345");
        assert_eq!(login["SESSION_PARAMETERS"]["QUERY_TAG"], "komodo:sp:1234");
        let query = &seen.login_query[0];
        assert!(query.contains(&("roleName".into(), "ANALYST".into())), "{query:?}");
        assert!(query.contains(&("warehouse".into(), "COMPUTE_WH".into())), "{query:?}");
    }

    let mut request = QueryRequest { sql_text: "select 1 as x".into(), ..QueryRequest::default() };
    request.parameters.insert("QUERY_TAG".into(), json!("komodo:sp:1234:req-1"));
    let answer = client.query(&session, &request, "9c6f0d52-0c56-4f0c-8a61-2f8c8d0f6a11", 0).await.unwrap();
    assert!(answer.success);
    let data = answer.data.unwrap();
    assert_eq!(data.rowset, Some(vec![vec![Some("1".to_owned())]]));
    assert_eq!(seen.lock().unwrap().statements[0].1["QUERY_TAG"], "komodo:sp:1234:req-1");

    client.close(&session).await.unwrap();
    assert_eq!(seen.lock().unwrap().closed, 1);
}

#[tokio::test]
async fn another_key_is_refused_and_no_secret_reaches_an_error() {
    let registered = SigningKey::from_pem(KEY, None).unwrap();
    let (url, _seen) = start_upstream(registered.public_key_pem()).await;
    let generated = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&generated).unwrap();
    let other = SigningKey::from_pkcs8_der(der.as_ref()).unwrap();
    let client = UpstreamClient::new(reqwest::Client::new(), account(&url, other));
    let err = client.login(serde_json::Map::new()).await.unwrap_err();
    assert_eq!(err, UpstreamError::Refused { code: "390144".into(), message: "JWT token is invalid.".into() });

    // Unreachable: the endpoint and the cause, nothing else.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = UpstreamClient::new(reqwest::Client::new(), account(&gone, SigningKey::from_pem(KEY, None).unwrap()));
    let err = client.login(serde_json::Map::new()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, UpstreamError::Unreachable { .. }), "{text}");
    assert!(text.contains("POST /session/v1/login-request") && !text.contains("eyJ"), "{text}");
}
