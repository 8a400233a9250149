//! One test per SECURITY.md rule of the authorization server (A), tokens and
//! keys (D) and secrets (S).

use std::time::Duration;

use aws_lc_rs::hmac;
use komodo_protocol::oauth::{AccessTokenClaims, CLI_CLIENT_ID};
use komodo_server::store::now;
use komodo_server::store::oauth::AuthCodeRow;
use komodo_testkit::{Browser, Decision, Platform, pkce};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

fn authorize_with(platform: &Platform, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&platform.url_for("/oauth/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

fn good_params(pair: &pkce::Pair) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", CLI_CLIENT_ID.into()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid".into()),
        ("state", "st".into()),
        ("code_challenge", pair.challenge.clone()),
        ("code_challenge_method", "S256".into()),
    ]
}

fn with(params: &[(&'static str, String)], key: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        params.iter().filter(|(k, _)| *k != key).map(|(k, v)| (k.to_string(), v.clone())).collect();
    if let Some(v) = value {
        out.push((key.to_owned(), v.to_owned()));
    }
    out
}

async fn get(url: &str) -> reqwest::Response {
    http().get(url).send().await.unwrap()
}

fn as_refs(params: &[(String, String)]) -> Vec<(&str, &str)> {
    params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn a01_redirect_uris_match_exactly_except_loopback_port() {
    let platform = Platform::start().await;
    let pair = pkce::Pair::new();
    let base = good_params(&pair);
    for (uri, ok) in [
        ("http://127.0.0.1:5555/callback", true),
        ("http://[::1]:5555/callback", true),
        ("http://127.0.0.1/callback", true),
        ("http://127.0.0.1:5555/callback/extra", false),
        ("http://127.0.0.1:5555/Callback", false),
        ("http://localhost:5555/callback", false),
        ("https://127.0.0.1:5555/callback", false),
        ("http://127.0.0.1:5555/callback?x=1", false),
        ("http://evil.example/callback", false),
    ] {
        let response = get(&authorize_with(&platform, &as_refs(&with(&base, "redirect_uri", Some(uri))))).await;
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        if ok {
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{uri}");
            assert!(location.unwrap().starts_with("/oauth/login"), "{uri}");
        } else {
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
            assert!(location.is_none(), "{uri}");
        }
    }
    // The code is bound to the exact redirect URI, port included.
    let ada = user(&platform, "ada@example.com").await;
    let code = authorize_code(&platform, &ada, "openid", &pair).await;
    let (_, body) = token_request(
        &platform,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:41235/callback"),
            ("client_id", CLI_CLIENT_ID),
            ("code_verifier", &pair.verifier),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a02_unknown_client_or_bad_redirect_gets_an_error_page_never_a_redirect() {
    let platform = Platform::start().await;
    let pair = pkce::Pair::new();
    let base = good_params(&pair);
    for params in [
        with(&base, "client_id", Some("no-such-client")),
        with(&base, "client_id", None),
        with(&base, "redirect_uri", Some("https://attacker.example/cb")),
        with(&base, "redirect_uri", None),
    ] {
        let response = get(&authorize_with(&platform, &as_refs(&params))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get("location").is_none());
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
}

#[tokio::test]
async fn a03_state_round_trips_and_the_response_carries_iss() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let pair = pkce::Pair::new();
    let state = "xyz <&> 123";
    let url = pkce::authorize_url(platform.url(), REDIRECT, "openid", state, &pair);
    let redirect =
        Browser::new(platform.url()).authorize(&url, &ada.email, &ada.password, Decision::Approve).await.unwrap();
    assert_eq!(query(&redirect, "state").as_deref(), Some(state));
    assert_eq!(query(&redirect, "iss").as_deref(), Some(platform.issuer()));
    // Errors carry them too.
    let redirect =
        Browser::new(platform.url()).authorize(&url, &ada.email, &ada.password, Decision::Deny).await.unwrap();
    assert_eq!(query(&redirect, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&redirect, "state").as_deref(), Some(state));
    assert_eq!(query(&redirect, "iss").as_deref(), Some(platform.issuer()));
}

#[tokio::test]
async fn a04_pkce_s256_required_plain_and_missing_rejected() {
    let platform = Platform::start().await;
    let pair = pkce::Pair::new();
    let base = good_params(&pair);
    for params in [
        with(&base, "code_challenge_method", Some("plain")),
        with(&base, "code_challenge_method", None),
        with(&base, "code_challenge", None),
        with(&base, "code_challenge", Some("too-short")),
    ] {
        let response = get(&authorize_with(&platform, &as_refs(&params))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        assert!(location.as_str().starts_with("http://127.0.0.1:41234/callback"));
        assert_eq!(query(&location, "error").as_deref(), Some("invalid_request"));
        assert!(query(&location, "code").is_none());
    }
    // Without the verifier, or with a wrong one, the code is refused.
    let ada = user(&platform, "ada@example.com").await;
    let code = authorize_code(&platform, &ada, "openid", &pair).await;
    let (_, body) = token_request(
        &platform,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLI_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    let code = authorize_code(&platform, &ada, "openid", &pair).await;
    let wrong = pkce::Pair::new();
    let (_, body) = token_request(
        &platform,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLI_CLIENT_ID),
            ("code_verifier", &wrong.verifier),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a05_code_verifier_without_registered_challenge_is_rejected() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    // The authorize endpoint never issues such a code; plant one directly.
    let t = now();
    platform
        .state()
        .store()
        .insert_auth_code(&AuthCodeRow {
            code_hash: komodo_server::crypto::token_hash("planted-code"),
            client_id: CLI_CLIENT_ID.into(),
            redirect_uri: REDIRECT.into(),
            user_id: ada.id.clone(),
            scope: "openid".into(),
            nonce: None,
            code_challenge: None,
            auth_time: t,
            family_id: "f-planted".into(),
            created_at: t,
            expires_at: t + 60,
            used_at: None,
        })
        .await
        .unwrap();
    let verifier = pkce::Pair::new().verifier;
    let (status, body) = token_request(
        &platform,
        &[
            ("grant_type", "authorization_code"),
            ("code", "planted-code"),
            ("redirect_uri", REDIRECT),
            ("client_id", CLI_CLIENT_ID),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a06_codes_single_use_short_lived_bound_and_replay_revokes() {
    let platform = Platform::start().await;
    assert_eq!(platform.state().config().auth_code_ttl, Duration::from_secs(60));
    let ada = user(&platform, "ada@example.com").await;
    let pair = pkce::Pair::new();
    let exchange = |code: String, client: &'static str| {
        let verifier = pair.verifier.clone();
        let platform = &platform;
        async move {
            token_request(
                platform,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("client_id", client),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        }
    };
    // Single use, and the replay revokes what the first use issued.
    let code = authorize_code(&platform, &ada, "openid offline_access", &pair).await;
    let (status, first) = exchange(code.clone(), CLI_CLIENT_ID).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, replay) = exchange(code, CLI_CLIENT_ID).await;
    assert_eq!(replay["error"], "invalid_grant");
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", first["access_token"].as_str(), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, body) = refresh(&platform, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(body["error"], "invalid_grant");
    // Bound to the client.
    platform
        .state()
        .store()
        .upsert_client(&komodo_server::store::iam::ClientRow {
            client_id: "other-app".into(),
            name: "Other".into(),
            redirect_uris: vec![REDIRECT.into()],
        })
        .await
        .unwrap();
    let code = authorize_code(&platform, &ada, "openid", &pair).await;
    let (_, body) = exchange(code, "other-app").await;
    assert_eq!(body["error"], "invalid_grant");
    // Short-lived (configured here to 1 s; never more than 60 s).
    let short = Platform::builder().config(|c| c.auth_code_ttl = Duration::from_secs(1)).start().await;
    let bob = user(&short, "bob@example.com").await;
    let code = authorize_code(&short, &bob, "openid", &pair).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, body) = token_request(
        &short,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLI_CLIENT_ID),
            ("code_verifier", &pair.verifier),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("expired"));
    let capped = Platform::builder().config(|c| c.auth_code_ttl = Duration::from_secs(3600)).start().await;
    assert_eq!(capped.state().config().auth_code_ttl, Duration::from_secs(60));
}

#[tokio::test]
async fn a07_no_implicit_flow_no_password_grant() {
    let platform = Platform::start().await;
    let pair = pkce::Pair::new();
    for response_type in ["token", "id_token", "code token", "code id_token"] {
        let params = with(&good_params(&pair), "response_type", Some(response_type));
        let response = get(&authorize_with(&platform, &as_refs(&params))).await;
        let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(query(&location, "error").as_deref(), Some("unsupported_response_type"), "{response_type}");
        assert!(location.fragment().is_none());
    }
    let ada = user(&platform, "ada@example.com").await;
    let (status, body) = token_request(
        &platform,
        &[("grant_type", "password"), ("username", &ada.email), ("password", PASSWORD), ("client_id", CLI_CLIENT_ID)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
    let doc: serde_json::Value =
        http().get(platform.url_for("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert!(!doc["grant_types_supported"].as_array().unwrap().iter().any(|g| g == "password" || g == "implicit"));
}

#[tokio::test]
async fn a10_access_tokens_have_one_audience_minimal_scope_and_are_checked() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let tokens = login(&platform, &ada, "openid").await;
    let claims = jwt_part(tokens.access_token.expose_secret(), 1);
    assert!(claims["aud"].is_string(), "a single audience, not a list");
    assert_eq!(claims["scope"], "openid", "only what was asked for");
    let mut forged: AccessTokenClaims = serde_json::from_value(claims).unwrap();
    forged.aud = "another-api".into();
    let token = platform.state().keys().sign("at+jwt", &forged).await.unwrap();
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&token), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a11_service_principal_subs_cannot_collide_with_user_subs() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let account = platform.create_account("acme", "a").await;
    platform.add_member(&account.slug, &ada.email, komodo_protocol::iam::Role::Admin).await;
    let sp = platform.create_service_principal(&account.slug, "etl").await;
    let user_sub = jwt_part(login(&platform, &ada, "openid").await.access_token.expose_secret(), 1)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let sp_sub = jwt_part(&sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await, 1)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(user_sub.starts_with("user:") && sp_sub.starts_with("sp:"));
    // A token claiming `sp:<user id>` does not stand for the user (nor
    // for any principal).
    let forged = AccessTokenClaims {
        iss: platform.issuer().into(),
        sub: format!("sp:{}", ada.id),
        aud: "komodo".into(),
        exp: now() + 60,
        iat: now(),
        nbf: None,
        jti: "j-a11".into(),
        client_id: sp.client_id.clone(),
        scope: "api".into(),
        account_id: Some(account.id.clone()),
        sid: None,
    };
    let token = platform.state().keys().sign("at+jwt", &forged).await.unwrap();
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&token), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn start_login(platform: &Platform, browser: &Browser) -> String {
    let pair = pkce::Pair::new();
    let url = pkce::authorize_url(platform.url(), REDIRECT, "openid", "s", &pair);
    browser.get(&url).await.unwrap().location.unwrap()
}

#[tokio::test]
async fn a12_pages_cannot_be_framed_send_no_referrer_and_forms_carry_csrf() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let browser = Browser::new(platform.url());
    let login_url = start_login(&platform, &browser).await;
    let page = browser.get(&login_url).await.unwrap();
    let check_headers = |headers: &reqwest::header::HeaderMap| {
        assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-frame-options"], "DENY");
    };
    check_headers(&page.headers);
    let request = page.field("request").unwrap();
    let csrf = page.field("csrf").unwrap();
    // Missing or wrong CSRF token: refused.
    for token in ["", "AAAA", &csrf[..csrf.len() - 2]] {
        let refused = browser
            .post_form(
                "/oauth/login",
                &[("request", &request), ("csrf", token), ("email", &ada.email), ("password", PASSWORD)],
            )
            .await
            .unwrap();
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{token}");
    }
    // Another browser (without the binding cookie) cannot use the request.
    let other = Browser::new(platform.url());
    let refused = other
        .post_form(
            "/oauth/login",
            &[("request", &request), ("csrf", &csrf), ("email", &ada.email), ("password", PASSWORD)],
        )
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    // The consent page has the same protections.
    let consent_url = browser.login(&login_url, &ada.email, &ada.password).await.unwrap();
    let consent = browser.get(&consent_url).await.unwrap();
    check_headers(&consent.headers);
    assert!(consent.field("csrf").is_some());
    let refused = browser
        .post_form("/oauth/consent", &[("request", &request), ("csrf", "bad"), ("decision", "approve")])
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // The device entry form too.
    let activate = browser.get("/activate").await.unwrap();
    check_headers(&activate.headers);
    assert!(activate.field("csrf").is_some());
    let refused = browser.post_form("/activate", &[("csrf", "bad"), ("user_code", "BBBB-BBBB")]).await.unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a13_credential_posts_are_answered_with_303() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let browser = Browser::new(platform.url());
    let login_url = start_login(&platform, &browser).await;
    let page = browser.get(&login_url).await.unwrap();
    let (request, csrf) = (page.field("request").unwrap(), page.field("csrf").unwrap());
    let posted = browser
        .post_form(
            "/oauth/login",
            &[("request", &request), ("csrf", &csrf), ("email", &ada.email), ("password", PASSWORD)],
        )
        .await
        .unwrap();
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    let consent = browser.get(posted.location.as_deref().unwrap()).await.unwrap();
    let posted = browser
        .post_form(
            "/oauth/consent",
            &[("request", &request), ("csrf", &consent.field("csrf").unwrap()), ("decision", "approve")],
        )
        .await
        .unwrap();
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert!(posted.location.unwrap().starts_with(REDIRECT));
}

#[tokio::test]
async fn a14_no_cors_on_the_authorization_endpoint() {
    let platform = Platform::start().await;
    let pair = pkce::Pair::new();
    let params: Vec<(String, String)> = good_params(&pair).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let url = authorize_with(&platform, &as_refs(&params));
    let response = http().get(&url).header("origin", "https://evil.example").send().await.unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());
    let preflight = http()
        .request(Method::OPTIONS, &url)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
    assert!(preflight.headers().get("access-control-allow-methods").is_none());
}

async fn attempt(platform: &Platform, browser: &Browser, email: &str, password: &str) -> (StatusCode, String) {
    let login_url = start_login(platform, browser).await;
    let page = browser.get(&login_url).await.unwrap();
    let (request, csrf) = (page.field("request").unwrap(), page.field("csrf").unwrap());
    let posted = browser
        .post_form("/oauth/login", &[("request", &request), ("csrf", &csrf), ("email", email), ("password", password)])
        .await
        .unwrap();
    let message = posted.error_message().unwrap_or_default();
    (posted.status, message)
}

#[tokio::test]
async fn a15_logins_rate_limited_per_account_and_address_without_revealing_users() {
    let platform = Platform::builder()
        .config(|c| {
            c.login_limit_per_account.max = 3;
            c.login_limit_per_address.max = 8;
        })
        .start()
        .await;
    let ada = user(&platform, "ada@example.com").await;
    let browser = Browser::new(platform.url());
    let mut real = Vec::new();
    let mut ghost = Vec::new();
    for _ in 0..4 {
        real.push(attempt(&platform, &browser, &ada.email, "wrong password!").await);
        ghost.push(attempt(&platform, &browser, "nobody@example.com", "wrong password!").await);
    }
    // Existing and unknown users get identical answers at every step.
    assert_eq!(real, ghost);
    assert_eq!(real[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(real[3].0, StatusCode::TOO_MANY_REQUESTS);
    // Locked: even the right password is refused now.
    let (status, _) = attempt(&platform, &browser, &ada.email, PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Per address: 8 failures from this address lock out every account
    // (6 so far; locked-out attempts do not count).
    for email in ["carol@example.com", "dave@example.com"] {
        let (status, _) = attempt(&platform, &browser, email, "wrong password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let bob = user(&platform, "bob@example.com").await;
    let (status, _) = attempt(&platform, &browser, &bob.email, PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the address has failed 8 times");
    let metrics = http().get(platform.url_for("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("komodo_failed_logins_total"));
}

#[tokio::test]
async fn d01_alg_none_hmac_unknown_kid_and_wrong_key_type_rejected() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let good = login(&platform, &ada, "openid").await.access_token.expose_secret().to_owned();
    let header = jwt_part(&good, 0);
    let claims = jwt_part(&good, 1);
    let kid = header["kid"].as_str().unwrap();
    let jwks: serde_json::Value =
        http().get(platform.url_for("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap().clone();
    assert_eq!(jwk["alg"], "ES256", "each kid names its one algorithm");
    let hs = |alg: &str, kid: &str, secret: &[u8]| {
        let signing_input = format!("{}.{}", b64(&json!({"alg": alg, "typ": "at+jwt", "kid": kid})), b64(&claims));
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let sig = hmac::sign(&key, signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig.as_ref())
        )
    };
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})), b64(&claims));
    let parts: Vec<&str> = good.split('.').collect();
    let rs_header = format!("{}.{}.{}", b64(&json!({"alg": "RS256", "typ": "at+jwt", "kid": kid})), parts[1], parts[2]);
    let unknown_kid =
        format!("{}.{}.{}", b64(&json!({"alg": "ES256", "typ": "at+jwt", "kid": "not-a-key"})), parts[1], parts[2]);
    let no_kid = format!("{}.{}.{}", b64(&json!({"alg": "ES256", "typ": "at+jwt"})), parts[1], parts[2]);
    for (name, token) in [
        ("alg none", none),
        ("HS256 keyed with the public key", hs("HS256", kid, serde_json::to_string(&jwk).unwrap().as_bytes())),
        ("HS256 keyed with x", hs("HS256", kid, jwk["x"].as_str().unwrap().as_bytes())),
        ("RS256 header on an EC kid", rs_header),
        ("unknown kid", unknown_kid),
        ("no kid", no_kid),
    ] {
        let (status, body) = api(&platform, Method::GET, "/v1/iam/identity", Some(&token), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
    }
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&good), None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn d02_expired_immature_wrong_issuer_audience_and_type_rejected() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let good = login(&platform, &ada, "openid").await.access_token.expose_secret().to_owned();
    let base: AccessTokenClaims = serde_json::from_value(jwt_part(&good, 1)).unwrap();
    let keys = platform.state().keys();
    let leeway = platform.state().config().clock_leeway.as_secs() as i64;
    let t = now();
    let cases: Vec<(&str, &str, AccessTokenClaims, StatusCode)> = vec![
        ("expired", "at+jwt", AccessTokenClaims { exp: t - leeway - 60, ..base.clone() }, StatusCode::UNAUTHORIZED),
        (
            "not yet valid",
            "at+jwt",
            AccessTokenClaims { nbf: Some(t + leeway + 60), ..base.clone() },
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong issuer",
            "at+jwt",
            AccessTokenClaims { iss: "http://evil.example".into(), ..base.clone() },
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong audience",
            "at+jwt",
            AccessTokenClaims { aud: "other".into(), ..base.clone() },
            StatusCode::UNAUTHORIZED,
        ),
        ("ID token type", "JWT", base.clone(), StatusCode::UNAUTHORIZED),
        ("within the leeway", "at+jwt", AccessTokenClaims { exp: t - leeway / 2, ..base.clone() }, StatusCode::OK),
    ];
    for (name, typ, claims, expected) in cases {
        let token = keys.sign(typ, &claims).await.unwrap();
        let (status, body) = api(&platform, Method::GET, "/v1/iam/identity", Some(&token), None, None).await;
        assert_eq!(status, expected, "{name}: {body}");
    }
    // An ID token is not an access token.
    let tokens = login(&platform, &ada, "openid").await;
    let (status, _) =
        api(&platform, Method::GET, "/v1/iam/identity", Some(tokens.id_token.unwrap().expose_secret()), None, None)
            .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn jwks_kids(platform: &Platform) -> Vec<String> {
    let jwks: serde_json::Value =
        http().get(platform.url_for("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn d03_key_rotation_is_staged() {
    let platform = Platform::builder()
        .config(|c| {
            c.key_publish_delay = Duration::from_secs(2);
            c.access_token_ttl = Duration::from_secs(4);
            c.id_token_ttl = Duration::from_secs(4);
            c.clock_leeway = Duration::ZERO;
        })
        .start()
        .await;
    let account = platform.create_account("acme", "a").await;
    let sp = platform.create_service_principal(&account.slug, "etl").await;
    let mint = || sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret());
    let old_kid = jwt_part(&mint().await, 0)["kid"].as_str().unwrap().to_owned();
    let (new_kid, _) = platform.admin().rotate_keys().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // key cache refresh
    // Published before it signs.
    let kids = jwks_kids(&platform).await;
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "{kids:?}");
    let during = mint().await;
    assert_eq!(jwt_part(&during, 0)["kid"], old_kid.as_str());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Now the new key signs; the retired key stays published while its
    // tokens can be valid, and they still verify.
    let after = mint().await;
    assert_eq!(jwt_part(&after, 0)["kid"], new_kid.as_str());
    assert!(jwks_kids(&platform).await.contains(&old_kid));
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&during), None, None).await;
    assert_eq!(status, StatusCode::OK);
    // Once every token it signed has expired, it is withdrawn.
    tokio::time::sleep(Duration::from_millis(5000)).await;
    assert_eq!(jwks_kids(&platform).await, vec![new_kid]);
}

#[tokio::test]
async fn d04_private_keys_encrypted_at_rest_master_key_never_in_database() {
    let platform = Platform::start().await;
    let key_path = platform.data_dir().join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let master_b64 = std::fs::read_to_string(&key_path).unwrap().trim().to_owned();
    let master = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &master_b64).unwrap();
    let rows = platform.state().store().signing_keys().await.unwrap();
    assert!(!rows.is_empty());
    for row in &rows {
        let sealed = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &row.private_key).unwrap();
        // Not a DER private key: a 12-byte nonce, then ciphertext and tag.
        assert!(sealed.len() > 12 + 16);
        assert!(!row.private_key.contains("PRIVATE KEY"));
        assert!(!format!("{row:?}").contains(&row.private_key), "Debug hides the ciphertext too");
    }
    let mut db = Vec::new();
    for name in ["komodo.db", "komodo.db-wal"] {
        if let Ok(bytes) = std::fs::read(platform.data_dir().join(name)) {
            db.extend(bytes);
        }
    }
    assert!(!db.windows(master_b64.len()).any(|w| w == master_b64.as_bytes()));
    assert!(!db.windows(master.len()).any(|w| w == master.as_slice()));
    // Without the original master key the store cannot be opened.
    std::fs::remove_file(&key_path).unwrap();
    let mut config = komodo_testkit::test_config(platform.data_dir());
    config.bootstrap = false;
    let err = komodo_server::Server::bind(config).await.unwrap_err();
    assert!(err.to_string().contains("master key"), "{err}");
    assert!(!err.to_string().contains(&master_b64));
}

#[tokio::test]
async fn s01_service_principal_secrets_prefixed_random_shown_once_keyed_hash() {
    let platform = Platform::start().await;
    let account = platform.create_account("acme", "a").await;
    let sp = platform.create_service_principal(&account.slug, "etl").await;
    let secret = sp.client_secret.expose_secret().to_owned();
    let random = secret.strip_prefix("kmd_sp_").expect("recognisable prefix");
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, random).unwrap();
    assert_eq!(bytes.len(), 32, "256 bits of randomness");
    let other = platform.create_service_principal(&account.slug, "etl2").await;
    assert_ne!(other.client_secret, sp.client_secret);
    let (stored,): (String,) = sqlx::query_as("SELECT secret_hash FROM service_principals WHERE id = $1")
        .bind(&sp.service_principal_id)
        .fetch_one(platform.state().store().pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 64, "hex HMAC-SHA256");
    assert_ne!(stored, komodo_server::crypto::token_hash(&secret), "keyed, not a plain hash");
    assert_eq!(stored, platform.state().secrets().hash_client_secret(&secret));
    assert!(platform.state().secrets().verify_client_secret(&secret, &stored));
    // Never shown again: listing and identity carry no secret.
    let admin = user(&platform, "admin@example.com").await;
    platform.add_member(&account.slug, &admin.email, komodo_protocol::iam::Role::Admin).await;
    let token = login(&platform, &admin, "openid").await.access_token.expose_secret().to_owned();
    let (_, list) =
        api(&platform, Method::GET, "/internal/service-principals", Some(&token), Some(&account.id), None).await;
    assert!(!list.to_string().contains(&secret) && !list.to_string().contains("client_secret"));
    // A near-miss secret is refused.
    let mut near = secret.clone();
    near.pop();
    near.push(if secret.ends_with('A') { 'B' } else { 'A' });
    let (status, _) = client_credentials(&platform, &sp.client_id, &near).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn s02_codes_refresh_tokens_and_device_codes_stored_hashed() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let pair = pkce::Pair::new();
    let code = authorize_code(&platform, &ada, "openid offline_access", &pair).await;
    let (_, tokens) = token_request(
        &platform,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLI_CLIENT_ID),
            ("code_verifier", &pair.verifier),
        ],
    )
    .await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let device: serde_json::Value = http()
        .post(platform.url_for("/oauth/device/code"))
        .form(&[("client_id", CLI_CLIENT_ID), ("scope", "openid")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_code = device["device_code"].as_str().unwrap().to_owned();
    let pool = platform.state().store().pool();
    let mut stored = String::new();
    for sql in [
        "SELECT code_hash FROM auth_codes",
        "SELECT token_hash FROM refresh_tokens",
        "SELECT device_hash FROM device_codes",
    ] {
        let values: Vec<String> = sqlx::query_scalar(sql).fetch_all(pool).await.unwrap();
        stored.push_str(&values.join(","));
    }
    for secret in [&code, &refresh_token, &device_code] {
        assert!(!stored.contains(secret.as_str()));
        assert!(stored.contains(&komodo_server::crypto::token_hash(secret)));
    }
    let mut db = Vec::new();
    for name in ["komodo.db", "komodo.db-wal"] {
        if let Ok(bytes) = std::fs::read(platform.data_dir().join(name)) {
            db.extend(bytes);
        }
    }
    for secret in [&code, &refresh_token, &device_code] {
        assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()), "raw value in the database file");
    }
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let platform = Platform::start().await;
    // JSON where a form is expected: an RFC 6749 error body, not a crash.
    for path in ["/oauth/token", "/oauth/device/code", "/oauth/revoke", "/oauth/introspect"] {
        let response = http()
            .post(platform.url_for(path))
            .json(&json!({"grant_type": "client_credentials"}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert!(status.is_client_error(), "{path}: {status}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    // An incomplete login form renders a page.
    let browser = Browser::new(platform.url());
    let response = browser.post_form("/oauth/login", &[("request", "x")]).await.unwrap();
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(response.error_message().is_some());
    // Garbage bearer tokens and oversized ones are 401s.
    let huge = "a".repeat(20_000);
    for token in ["not-a-jwt", "a.b.c", "..", huge.as_str()] {
        let (status, body) = api(&platform, Method::GET, "/v1/iam/identity", Some(token), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body["message"].is_string());
    }
    // Unknown grant types are named as such.
    let (_, body) = token_request(&platform, &[("grant_type", "urn:example:nope"), ("client_id", CLI_CLIENT_ID)]).await;
    assert_eq!(body["error"], "unsupported_grant_type");
}
