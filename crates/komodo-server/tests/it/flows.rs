//! The main flows end to end: authorization code + PKCE through the scripted
//! browser, refresh rotation and reuse detection, revocation, client
//! credentials, userinfo, discovery.

use komodo_protocol::oauth::{CLI_CLIENT_ID, DiscoveryDocument};
use komodo_testkit::{Browser, Decision, Platform, pkce};
use reqwest::{Method, StatusCode};

use crate::common::*;

#[tokio::test]
async fn authorization_code_flow_issues_tokens_that_work() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let tokens = login(&platform, &ada, "openid profile email offline_access").await;
    assert_eq!(tokens.token_type, "Bearer");
    assert!(tokens.refresh_token.is_some());
    let access = tokens.access_token.expose_secret();
    let header = jwt_part(access, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims = jwt_part(access, 1);
    assert_eq!(claims["sub"], format!("user:{}", ada.id));
    assert_eq!(claims["iss"], platform.issuer());
    assert_eq!(claims["aud"], "komodo");
    assert_eq!(claims["client_id"], CLI_CLIENT_ID);
    assert_eq!(claims["scope"], "openid profile email offline_access");
    for claim in ["exp", "iat", "jti"] {
        assert!(claims.get(claim).is_some(), "missing {claim}");
    }
    let id_token = tokens.id_token.expect("openid yields an ID token");
    let id_claims = jwt_part(id_token.expose_secret(), 1);
    assert_eq!(id_claims["aud"], CLI_CLIENT_ID);
    assert_eq!(id_claims["email"], "ada@example.com");

    let (status, info) = api(&platform, Method::GET, "/userinfo", Some(access), None, None).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["email"], "ada@example.com");
    let (status, me) =
        api(&platform, Method::GET, "/v1/iam/users/me?expand=organizations.accounts", Some(access), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user_id"], ada.id);
}

#[tokio::test]
async fn following_the_redirect_reaches_the_loopback_listener() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = socket.read(&mut buf).await.unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).to_string();
        socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await.unwrap();
        let _ = tx.send(request.lines().next().unwrap_or_default().to_owned());
    });
    let pair = pkce::Pair::new();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let url = pkce::authorize_url(platform.url(), &redirect_uri, "openid", "abc", &pair);
    let (redirect, status) = Browser::new(platform.url())
        .authorize_and_follow(&url, &ada.email, &ada.password, Decision::Approve)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let first_line = rx.await.unwrap();
    assert!(first_line.starts_with("GET /callback?code="), "{first_line}");
    assert_eq!(query(&redirect, "state").as_deref(), Some("abc"));
}

#[tokio::test]
async fn a08_refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let tokens = login(&platform, &ada, "openid offline_access").await;
    let first = tokens.refresh_token.unwrap();
    assert!(first.expose_secret().starts_with("kmd_rt_"));
    let (status, body) = refresh(&platform, first.expose_secret()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first.expose_secret());
    let second_access = body["access_token"].as_str().unwrap().to_owned();
    // Reusing the first (rotated) token is detected...
    let (status, body) = refresh(&platform, first.expose_secret()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    // ...and revokes the whole family: the newest refresh token and the
    // family's access tokens stop working.
    let (status, body) = refresh(&platform, &second).await;
    assert_eq!(body["error"], "invalid_grant", "{status} {body}");
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&second_access), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a09_refresh_tokens_are_bound_to_their_client_and_revocation_kills_the_family() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let tokens = login(&platform, &ada, "openid offline_access").await;
    let access = tokens.access_token.expose_secret().to_owned();
    let refresh_token = tokens.refresh_token.unwrap();
    // Another client cannot use (or burn) it.
    platform
        .state()
        .store()
        .upsert_client(&komodo_server::store::iam::ClientRow::public(
            "other-app",
            "Other",
            &["http://127.0.0.1/callback"],
        ))
        .await
        .unwrap();
    let (_, body) = token_request(
        &platform,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("client_id", "other-app"),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    let response = http()
        .post(platform.url_for("/oauth/revoke"))
        .form(&[
            ("token", refresh_token.expose_secret()),
            ("token_type_hint", "refresh_token"),
            ("client_id", CLI_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, body) = refresh(&platform, refresh_token.expose_secret()).await;
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&access), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Unknown tokens are answered 200 too (RFC 7009).
    let response = http()
        .post(platform.url_for("/oauth/revoke"))
        .form(&[("token", "nonsense"), ("client_id", CLI_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn client_credentials_with_basic_and_post() {
    let platform = Platform::start().await;
    let account = platform.create_account("acme", "analytics").await;
    let sp = platform.create_service_principal(&account.slug, "etl").await;
    let (status, body) = client_credentials(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none());
    let claims = jwt_part(body["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["sub"], format!("sp:{}", sp.service_principal_id));
    assert_eq!(claims["account_id"], account.id);
    assert_eq!(claims["client_id"], sp.client_id);

    let response = http()
        .post(platform.url_for("/oauth/token"))
        .basic_auth(&sp.client_id, Some(sp.client_secret.expose_secret()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");

    let response = http()
        .post(platform.url_for("/oauth/token"))
        .basic_auth(&sp.client_id, Some("kmd_sp_wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn peer_compatible_service_principal_token_endpoint() {
    let platform = Platform::start().await;
    let account = platform.create_account("acme", "analytics").await;
    let sp = platform.create_service_principal(&account.slug, "etl").await;
    let body = serde_json::json!({"client_id": sp.client_id, "client_secret": sp.client_secret.expose_secret()});
    let (status, token) =
        api(&platform, Method::POST, "/v1/iam/service-principals/token", None, None, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    assert_eq!(token["service_principal_id"], sp.service_principal_id);
    assert_eq!(token["token_type"], "Bearer");
    let (status, identity) =
        api(&platform, Method::GET, "/v1/iam/identity", token["access_token"].as_str(), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(identity["jwt_type"], "service_principal");
    assert_eq!(identity["service_principal"]["account_id"], account.id);
    let bad = serde_json::json!({"client_id": sp.client_id, "client_secret": "kmd_sp_nope"});
    let (status, error) = api(&platform, Method::POST, "/v1/iam/service-principals/token", None, None, Some(bad)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"], "unauthorized");
    assert!(error["message"].is_string());
}

#[tokio::test]
async fn introspection_answers_service_principals_for_their_account() {
    let platform = Platform::start().await;
    let a = platform.create_account("acme", "a").await;
    let b = platform.create_account("acme", "b").await;
    let sp_a = platform.create_service_principal(&a.slug, "a").await;
    let sp_a2 = platform.create_service_principal(&a.slug, "a2").await;
    let sp_b = platform.create_service_principal(&b.slug, "b").await;
    let token_a2 = sp_token(&platform, &sp_a2.client_id, sp_a2.client_secret.expose_secret()).await;
    let introspect = |client: &komodo_protocol::iam::CreatedServicePrincipal| {
        http()
            .post(platform.url_for("/oauth/introspect"))
            .basic_auth(&client.client_id, Some(client.client_secret.expose_secret()))
            .form(&[("token", token_a2.as_str())])
            .send()
    };
    let same: serde_json::Value = introspect(&sp_a).await.unwrap().json().await.unwrap();
    assert_eq!(same["active"], true);
    assert_eq!(same["account_id"], a.id);
    let other: serde_json::Value = introspect(&sp_b).await.unwrap().json().await.unwrap();
    assert_eq!(other, serde_json::json!({"active": false}));
    // Public clients cannot introspect.
    let response = http()
        .post(platform.url_for("/oauth/introspect"))
        .form(&[("token", token_a2.as_str()), ("client_id", CLI_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn discovery_lists_every_endpoint() {
    let platform = Platform::start().await;
    let doc: DiscoveryDocument =
        http().get(platform.url_for("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc.issuer, platform.issuer());
    assert_eq!(doc.code_challenge_methods_supported, vec!["S256"]);
    assert_eq!(doc.komodo_cli_client_id, CLI_CLIENT_ID);
    assert!(doc.grant_types_supported.iter().any(|g| g == "urn:ietf:params:oauth:grant-type:device_code"));
    for endpoint in [
        &doc.token_endpoint,
        &doc.jwks_uri,
        &doc.device_authorization_endpoint,
        &doc.introspection_endpoint,
        &doc.revocation_endpoint,
        &doc.userinfo_endpoint,
    ] {
        assert!(endpoint.starts_with(platform.url()), "{endpoint}");
    }
    let response = http().get(&doc.jwks_uri).send().await.unwrap();
    assert!(response.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let jwks: serde_json::Value = response.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "ES256");
    assert!(key["kid"].is_string());
}

#[tokio::test]
async fn rs256_is_selectable() {
    let platform =
        Platform::builder().config(|c| c.signing_alg = komodo_server::config::SigningAlg::Rs256).start().await;
    let ada = user(&platform, "ada@example.com").await;
    let tokens = login(&platform, &ada, "openid").await;
    assert_eq!(jwt_part(tokens.access_token.expose_secret(), 0)["alg"], "RS256");
    let (status, _) =
        api(&platform, Method::GET, "/v1/iam/identity", Some(tokens.access_token.expose_secret()), None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bootstrap_admin_must_replace_the_one_time_password() {
    let platform = Platform::start().await;
    let (email, one_time) = platform.bootstrap_admin().map(|(e, p)| (e.to_owned(), p.clone())).unwrap();
    assert_eq!(email, "admin@komodo.local");
    let demo = platform.demo_account_id().unwrap().to_owned();
    let pair = pkce::Pair::new();
    let url = pkce::authorize_url(platform.url(), REDIRECT, "openid", "s", &pair);
    let browser = Browser::new(platform.url());
    let err = browser.authorize(&url, &email, &one_time, Decision::Approve).await.unwrap_err();
    let komodo_testkit::BrowserError::PasswordChangeRequired { url: change_url } = err else { panic!("{err}") };
    // Consent is refused until the password is changed.
    let request =
        url::Url::parse(&change_url).unwrap().query_pairs().find(|(k, _)| k == "request").unwrap().1.into_owned();
    let consent = browser.get(&format!("/oauth/consent?request={request}")).await.unwrap();
    assert_eq!(consent.status, StatusCode::SEE_OTHER);
    assert!(consent.location.unwrap().contains("/oauth/password"));
    // Too short and mismatched passwords are refused with a message.
    let page = browser.get(&change_url).await.unwrap();
    let csrf = page.field("csrf").unwrap();
    let short = browser
        .post_form(
            "/oauth/password",
            &[("request", &request), ("csrf", &csrf), ("new_password", "short"), ("confirm", "short")],
        )
        .await
        .unwrap();
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(short.error_message().unwrap().contains("at least 8"));
    let new_password = komodo_protocol::secret::Password::new("my own long password");
    let consent_url = browser.change_password(&change_url, &new_password).await.unwrap();
    let redirect = browser.consent(&consent_url, Decision::Approve).await.unwrap();
    assert!(redirect.contains("code="));
    // The one-time password is gone; the new one works without a detour.
    let again = Browser::new(platform.url());
    assert!(again.authorize(&url, &email, &one_time, Decision::Approve).await.is_err());
    let redirect = again.authorize(&url, &email, &new_password, Decision::Approve).await.unwrap();
    assert!(query(&redirect, "code").is_some());
    // The admin administers the demo account.
    let tokens = {
        let pair = pkce::Pair::new();
        let url = pkce::authorize_url(platform.url(), REDIRECT, "openid", "s", &pair);
        let redirect =
            Browser::new(platform.url()).authorize(&url, &email, &new_password, Decision::Approve).await.unwrap();
        let code = query(&redirect, "code").unwrap();
        exchange_code(&platform, &code, &pair.verifier).await.1
    };
    let (status, _) =
        api(&platform, Method::GET, "/internal/service-principals", tokens["access_token"].as_str(), Some(&demo), None)
            .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn nonce_reaches_the_id_token() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let pair = pkce::Pair::new();
    let url =
        format!("{}&nonce=n-0S6_WzA2Mj", pkce::authorize_url(platform.url(), REDIRECT, "openid profile", "s", &pair));
    let redirect =
        Browser::new(platform.url()).authorize(&url, &ada.email, &ada.password, Decision::Approve).await.unwrap();
    let code = query(&redirect, "code").unwrap();
    let (status, body) = exchange_code(&platform, &code, &pair.verifier).await;
    assert_eq!(status, StatusCode::OK);
    let id = jwt_part(body["id_token"].as_str().unwrap(), 1);
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["name"], "Test User");
    assert!(id.get("email").is_none(), "no email scope, no email claim");
    assert!(body.get("refresh_token").is_none(), "no offline_access, no refresh token");
}
