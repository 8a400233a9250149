//! Helpers shared by the integration tests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use komodo_protocol::oauth::{CLI_CLIENT_ID, TokenResponse};
pub use komodo_testkit::TestDatabaseError;
use komodo_testkit::{Browser, Decision, Platform, TestUser, pkce};
use reqwest::StatusCode;
use serde_json::Value;

pub const REDIRECT: &str = "http://127.0.0.1:41234/callback";
pub const PASSWORD: &str = "correct horse battery staple";

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// POSTs a form to the token endpoint.
pub async fn token_request(platform: &Platform, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = http().post(platform.url_for("/oauth/token")).form(fields).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Drives the browser through login and consent; returns (code, redirect).
pub async fn authorize_code(platform: &Platform, user: &TestUser, scope: &str, pair: &pkce::Pair) -> String {
    let url = pkce::authorize_url(platform.url(), REDIRECT, scope, "s-123", pair);
    let redirect =
        Browser::new(platform.url()).authorize(&url, &user.email, &user.password, Decision::Approve).await.unwrap();
    query(&redirect, "code").expect("a code in the redirect")
}

pub fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// The whole authorization code flow; returns the token response.
pub async fn login(platform: &Platform, user: &TestUser, scope: &str) -> TokenResponse {
    let pair = pkce::Pair::new();
    let code = authorize_code(platform, user, scope, &pair).await;
    let (status, body) = exchange_code(platform, &code, &pair.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).unwrap()
}

/// Redeems an authorization code for the CLI client at [`REDIRECT`].
pub async fn exchange_code(platform: &Platform, code: &str, verifier: &str) -> (StatusCode, Value) {
    token_request(
        platform,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLI_CLIENT_ID),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn refresh(platform: &Platform, refresh_token: &str) -> (StatusCode, Value) {
    token_request(
        platform,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", CLI_CLIENT_ID)],
    )
    .await
}

pub async fn client_credentials(platform: &Platform, client_id: &str, secret: &str) -> (StatusCode, Value) {
    token_request(
        platform,
        &[("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret)],
    )
    .await
}

pub async fn sp_token(platform: &Platform, client_id: &str, secret: &str) -> String {
    let (status, body) = client_credentials(platform, client_id, secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// A JSON API call with an optional bearer token and account header.
pub async fn api(
    platform: &Platform,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    account: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http().request(method, platform.url_for(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(account) = account {
        request = request.header("x-account-id", account);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

pub async fn user(platform: &Platform, email: &str) -> TestUser {
    platform.create_user(email, PASSWORD).await
}

/// A fresh PostgreSQL database and the data directory two replicas share.
pub struct SharedStore {
    db: komodo_testkit::TestDatabase,
    _dir: tempfile::TempDir,
}

impl SharedStore {
    /// Drops the database (the replicas must be stopped first).
    pub async fn drop_now(self) {
        self.db.drop_now().await;
    }
}

/// Two replicas of one platform on a fresh PostgreSQL database, sharing a
/// data directory (so the master key) and the issuer.
pub async fn two_replicas() -> Result<(Platform, Platform, SharedStore), TestDatabaseError> {
    two_replicas_with(|_| {}).await
}

/// [`two_replicas`], both configured by `adjust`.
pub async fn two_replicas_with(
    adjust: impl Fn(&mut komodo_server::Config) + Clone + Send + 'static,
) -> Result<(Platform, Platform, SharedStore), TestDatabaseError> {
    let db = komodo_testkit::TestDatabase::create().await?;
    let dir = tempfile::tempdir().unwrap();
    let a = Platform::builder().data_dir(dir.path()).database_url(db.url()).config(adjust.clone()).start().await;
    let b =
        Platform::builder().data_dir(dir.path()).database_url(db.url()).issuer(a.issuer()).config(adjust).start().await;
    Ok((a, b, SharedStore { db, _dir: dir }))
}
