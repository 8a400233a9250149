//! A raw client of the connector gateway for the tests outside
//! `gateway.rs`: what a connector sends, nothing more.

use std::io::Write as _;

use komodo_testkit::Platform;
use serde_json::{Value, json};

use crate::common::http;

/// Compresses a JSON body as the connectors do.
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

/// POSTs a gzip-compressed JSON body; the gateway's envelope.
pub async fn post(url: &str, authorization: Option<&str>, body: &Value) -> Value {
    post_bytes(url, authorization, gzip(body.to_string().as_bytes())).await
}

/// POSTs `body` as it is, labelled `Content-Encoding: gzip`.
pub async fn post_bytes(url: &str, authorization: Option<&str>, body: Vec<u8>) -> Value {
    let mut request = http()
        .post(url)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("accept", "application/snowflake")
        .body(body);
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "the gateway always answers 200");
    response.json().await.unwrap()
}

/// `login-request` with an OAuth access token.
pub async fn login(platform: &Platform, access_token: &str, account: &str) -> Value {
    let body = json!({"data": {
        "CLIENT_APP_ID": "PythonConnector", "CLIENT_APP_VERSION": "4.7.1", "ACCOUNT_NAME": account,
        "LOGIN_NAME": "", "AUTHENTICATOR": "OAUTH", "TOKEN": access_token,
        "SESSION_PARAMETERS": {"PYTHON_CONNECTOR_QUERY_RESULT_FORMAT": "JSON"}, "CLIENT_ENVIRONMENT": {"OS": "Linux"}
    }});
    let url = platform.url_for(&format!("/session/v1/login-request?request_id={}", uuid::Uuid::new_v4()));
    post(&url, Some("Snowflake Token=\"None\""), &body).await
}

/// An open gateway session.
pub struct Session {
    /// The platform's URL.
    pub base: String,
    /// The session token.
    pub token: String,
    /// The master token.
    pub master: String,
}

impl Session {
    /// Logs in; panics unless the login succeeds.
    pub async fn open(platform: &Platform, access_token: &str, account: &str) -> Session {
        let response = login(platform, access_token, account).await;
        assert_eq!(response["success"], true, "{response}");
        Session {
            base: platform.url().to_owned(),
            token: response["data"]["token"].as_str().unwrap().to_owned(),
            master: response["data"]["masterToken"].as_str().unwrap().to_owned(),
        }
    }

    /// The session token as the `Authorization` header.
    pub fn authorization(&self) -> String {
        format!("Snowflake Token=\"{}\"", self.token)
    }

    /// Runs `sql`; the envelope.
    pub async fn query(&self, sql: &str) -> Value {
        let body = json!({"sqlText": sql, "asyncExec": false, "sequenceId": 1, "parameters": {}});
        let url = format!("{}/queries/v1/query-request?requestId={}", self.base, uuid::Uuid::new_v4());
        post(&url, Some(&self.authorization()), &body).await
    }

    /// Asks for a new session token with the master token; the envelope.
    pub async fn renew(&self) -> Value {
        let body = json!({"oldSessionToken": self.token, "requestType": "RENEW"});
        let url = format!("{}/session/token-request?requestId={}", self.base, uuid::Uuid::new_v4());
        post(&url, Some(&format!("Snowflake Token=\"{}\"", self.master)), &body).await
    }
}
