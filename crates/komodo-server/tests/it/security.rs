//! One test per SECURITY.md rule of the authorization server (A), and bad
//! input at its endpoints; the parsers of untrusted input (I01) in [`i01`].

mod i01;
mod login;

use std::time::Duration;

use komodo_protocol::oauth::{AccessTokenClaims, CLI_CLIENT_ID};
use komodo_server::clock::now;
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
        // The registered text exactly, nothing normalised (F11).
        ("http://127.0.0.1:5555/x/../callback", false),
        ("http://127.0.0.1:040001/callback", false),
        ("http://127.0.0.1:5555/call\tback", false),
        ("http://127.0.0.1:05555/callback", false),
        ("http://127.0.0.1:5555/%63allback", false),
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

/// F11: the outside review's redirect URIs, which today's parser
/// normalises into the registered one, are refused with an error page;
/// and a code can only be redeemed with the text the authorization used.
#[tokio::test]
async fn f11_redirect_uri_must_be_the_registered_text_exactly() {
    let platform = Platform::start().await;
    let pair = pkce::Pair::new();
    let base = good_params(&pair);
    for uri in [
        "http://127.0.0.1:41234/x/../callback",
        "http://127.0.0.1:040001/callback",
        "http://127.0.0.1:41234/call\tback",
        "http://127.0.0.1:41234/callback\t",
        "http://127.0.0.1:41234/./callback",
        "http://127.0.0.1:41234/%63allback",
        "http://127.0.0.1:041234/callback",
        "http://127.0.0.1:141234/callback",
        "http://127.0.0.1:0/callback",
        "HTTP://127.0.0.1:41234/callback",
        "http://127.1:41234/callback",
        "http://[0:0:0:0:0:0:0:1]:41234/callback",
        "http://127.0.0.1:41234//callback",
        "http://127.0.0.1:41234/callback?",
    ] {
        let response = get(&authorize_with(&platform, &as_refs(&with(&base, "redirect_uri", Some(uri))))).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri:?} must be refused");
        assert!(response.headers().get("location").is_none(), "{uri:?}: never a redirect");
        let page = response.text().await.unwrap();
        assert!(page.contains("not registered"), "{uri:?}: {page}");
    }
    // The registered text with a port is accepted, and its code is bound
    // to that exact text: a normalised spelling of it does not redeem it.
    let ada = user(&platform, "ada@example.com").await;
    let code = authorize_code(&platform, &ada, "openid", &pair).await;
    let (status, body) = token_request(
        &platform,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:41234/x/../callback"),
            ("client_id", CLI_CLIENT_ID),
            ("code_verifier", &pair.verifier),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
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
            audience: None,
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
        .upsert_client(&komodo_server::store::iam::ClientRow::public("other-app", "Other", &[REDIRECT]))
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

/// A token whose signature check is remembered (every call after the
/// first) is still checked for everything else: it stops working when it
/// expires, and a token differing in its signature is checked afresh.
#[tokio::test]
async fn a10_remembered_tokens_still_expire_and_forgeries_are_not_remembered() {
    let platform = Platform::builder()
        .config(|c| {
            c.clock_leeway = Duration::ZERO;
        })
        .start()
        .await;
    let keys = platform.state().keys();
    let t = now();
    let claims = AccessTokenClaims {
        iss: platform.issuer().to_owned(),
        sub: "sp:00000000-0000-0000-0000-000000000001".into(),
        aud: platform.state().config().audience.clone(),
        exp: t + 2,
        iat: t,
        nbf: Some(t),
        jti: "remembered".into(),
        client_id: "kmd_spc_remembered".into(),
        scope: "api".into(),
        account_id: Some("00000000-0000-0000-0000-000000000002".into()),
        sid: None,
    };
    let token = keys.sign("at+jwt", &claims).await.unwrap();
    assert_eq!(keys.verify_access_token(&token).await.unwrap(), claims);
    assert_eq!(keys.verify_access_token(&token).await.unwrap(), claims, "and again, remembered");
    // The same header and claims under a signature that is not one.
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", "A".repeat(signature.len()));
    let rejected = keys.verify_access_token(&forged).await.unwrap_err();
    assert!(rejected.to_string().contains("signature"), "{rejected}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = keys.verify_access_token(&token).await.unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
}

/// A10 at the gateway: a `login-request` (and a bearer request) with a
/// token of another audience or issuer, expired, not yet valid or of
/// another type is refused, where the genuine token logs in.
#[tokio::test]
async fn a10_the_gateway_login_checks_audience_issuer_expiry_and_type() {
    let platform = Platform::builder().config(|c| c.clock_leeway = Duration::ZERO).start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let genuine = crate::gateway_client::login(&platform, &token, &account).await;
    assert_eq!(genuine["success"], true, "{genuine}");
    let claims: AccessTokenClaims = serde_json::from_value(jwt_part(&token, 1)).unwrap();
    let t = now();
    let fresh = |claims: AccessTokenClaims| AccessTokenClaims { jti: uuid::Uuid::new_v4().to_string(), ..claims };
    let cases = [
        (
            "another audience",
            fresh(AccessTokenClaims { aud: "another-api".into(), ..claims.clone() }),
            "at+jwt",
            "390303",
        ),
        (
            "another issuer",
            fresh(AccessTokenClaims { iss: "http://evil.example".into(), ..claims.clone() }),
            "at+jwt",
            "390303",
        ),
        (
            "expired",
            fresh(AccessTokenClaims { iat: t - 120, nbf: Some(t - 120), exp: t - 60, ..claims.clone() }),
            "at+jwt",
            "390318",
        ),
        ("not yet valid", fresh(AccessTokenClaims { nbf: Some(t + 600), ..claims.clone() }), "at+jwt", "390303"),
        ("not an access token", fresh(claims.clone()), "JWT", "390303"),
    ];
    for (what, forged, typ, code) in cases {
        let forged = platform.state().keys().sign(typ, &forged).await.unwrap();
        let refused = crate::gateway_client::login(&platform, &forged, &account).await;
        assert_eq!(refused["success"], false, "{what}: {refused}");
        assert_eq!(refused["code"], code, "{what}: {refused}");
        let response = http()
            .post(platform.url_for("/queries/v1/query-request"))
            .bearer_auth(&forged)
            .header("x-account-id", &account)
            .json(&json!({"sqlText": "select 1"}))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["success"], false, "{what} as a bearer token: {body}");
        assert_eq!(body["code"], code, "{what} as a bearer token: {body}");
    }
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
