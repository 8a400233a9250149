//! Two replicas on one PostgreSQL behave as one platform.

use std::time::{Duration, Instant};

use komodo_protocol::oauth::CLI_CLIENT_ID;
use komodo_testkit::{Platform, TestDatabase};
use reqwest::{Method, StatusCode};

use crate::common::*;

#[tokio::test]
async fn two_replicas_on_postgres_behave_as_one() -> Result<(), TestDatabaseError> {
    let (a, b, db) = two_replicas().await?;
    assert!(a.bootstrap_admin().is_some());
    assert!(b.bootstrap_admin().is_none(), "the second replica does not bootstrap again");

    // Same JWKS.
    let jwks = |p: &Platform| {
        let url = p.url_for("/.well-known/jwks.json");
        async move { http().get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    assert_eq!(jwks(&a).await, jwks(&b).await);

    // A token minted by A is accepted by B, refreshed by B, revoked by B.
    let ada = user(&a, "ada@example.com").await;
    let tokens = login(&a, &ada, "openid offline_access").await;
    let (status, _) =
        api(&b, Method::GET, "/v1/iam/identity", Some(tokens.access_token.expose_secret()), None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, refreshed) = refresh(&b, tokens.refresh_token.as_ref().unwrap().expose_secret()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let (_, reused) = refresh(&a, tokens.refresh_token.as_ref().unwrap().expose_secret()).await;
    assert_eq!(reused["error"], "invalid_grant", "A sees B's rotation");
    let tokens = login(&b, &ada, "openid offline_access").await;
    let response = http()
        .post(b.url_for("/oauth/revoke"))
        .form(&[("token", tokens.refresh_token.as_ref().unwrap().expose_secret()), ("client_id", CLI_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, _) =
        api(&a, Method::GET, "/v1/iam/identity", Some(tokens.access_token.expose_secret()), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "A sees B's revocation");

    // A browser bounced between replicas completes the login: the request
    // starts on A, the login and consent forms are posted to B, and A
    // redeems the code.
    let pair = komodo_testkit::pkce::Pair::new();
    let mut browser = komodo_testkit::Browser::new(a.url());
    let start =
        browser.get(&komodo_testkit::pkce::authorize_url(a.url(), REDIRECT, "openid", "hop", &pair)).await.unwrap();
    browser.set_base(b.url());
    let login_path = start.location.unwrap().replace(a.url(), "");
    let consent = browser.login(&login_path, &ada.email, &ada.password).await.unwrap();
    let redirect = browser.consent(&consent.replace(b.url(), ""), komodo_testkit::Decision::Approve).await.unwrap();
    let redirect = url::Url::parse(&redirect).unwrap();
    assert_eq!(query(&redirect, "iss").as_deref(), Some(a.issuer()));
    let code = query(&redirect, "code").unwrap();
    let (status, body) = token_request(
        &a,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLI_CLIENT_ID),
            ("code_verifier", &pair.verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Service principals created through one are usable on the other.
    let account = a.create_account("acme", "x").await;
    let sp = a.create_service_principal(&account.slug, "etl").await;
    let token = sp_token(&b, &sp.client_id, sp.client_secret.expose_secret()).await;
    let (status, _) = api(&a, Method::GET, "/v1/iam/identity", Some(&token), None, None).await;
    assert_eq!(status, StatusCode::OK);

    // B answers the grant from its cache; a rotation through A reaches it
    // at once (long before a cache entry expires), and so does a deletion.
    wait_until_following(&b).await;
    let old_secret = sp.client_secret.expose_secret();
    sp_token(&b, &sp.client_id, old_secret).await;
    a.add_member(&account.slug, &ada.email, komodo_protocol::iam::Role::Admin).await;
    let admin = login(&a, &ada, "openid").await.access_token;
    let path = format!("/internal/service-principals/{}", sp.service_principal_id);
    let (status, rotated) =
        api(&a, Method::POST, &format!("{path}/rotate-secret"), Some(admin.expose_secret()), Some(&account.id), None)
            .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert!(refused_soon(&b, &sp.client_id, old_secret).await, "B still takes the secret A rotated away");
    sp_token(&b, &sp.client_id, new_secret).await;
    let (status, _) = api(&a, Method::DELETE, &path, Some(admin.expose_secret()), Some(&account.id), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(refused_soon(&b, &sp.client_id, new_secret).await, "B still takes the secret of a principal A deleted");

    // A key rotation through A is published by B.
    let (kid, _) = a.admin().rotate_keys().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let published = jwks(&b).await;
    assert!(published["keys"].as_array().unwrap().iter().any(|k| k["kid"] == kid.as_str()));
    a.stop().await;
    b.stop().await;
    db.drop_now().await;
    Ok(())
}

/// Whether `platform` refuses the secret within 3 s (a tenth of the time a
/// cache entry may live).
async fn refused_soon(platform: &Platform, client_id: &str, secret: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if client_credentials(platform, client_id, secret).await.0 == StatusCode::UNAUTHORIZED {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_until_following(platform: &Platform) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !platform.state().store().caches_service_principals() {
        assert!(Instant::now() < deadline, "the replica never started following changes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_replica_whose_listener_is_cut_follows_changes_again() -> Result<(), TestDatabaseError> {
    let (a, b, db) = two_replicas().await?;
    wait_until_following(&b).await;
    let account = a.create_account("acme", "x").await;
    let ada = user(&a, "ada@example.com").await;
    a.add_member(&account.slug, &ada.email, komodo_protocol::iam::Role::Admin).await;
    let admin = login(&a, &ada, "openid").await.access_token;
    let sp = a.create_service_principal(&account.slug, "etl").await;
    let old_secret = sp.client_secret.expose_secret();
    sp_token(&b, &sp.client_id, old_secret).await;

    // A change B is never told about (as if made while it was not
    // listening): B goes on answering from its cache...
    let pool = a.state().store().pool();
    sqlx::query("UPDATE service_principals SET secret_hash = $1 WHERE client_id = $2")
        .bind("00".repeat(32))
        .bind(&sp.client_id)
        .execute(pool)
        .await
        .unwrap();
    sp_token(&b, &sp.client_id, old_secret).await;

    // ...until the database ends the replicas' listening sessions (a
    // restart or a failover would too): B cannot know what it missed, so it
    // forgets what it cached.
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN %'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(cut.len() >= 2 && cut.iter().all(|c| *c), "both replicas were listening: {cut:?}");
    assert!(refused_soon(&b, &sp.client_id, old_secret).await, "B trusts its cache after losing its listener");

    // And it listens again: a rotation through A reaches it at once.
    let path = format!("/internal/service-principals/{}/rotate-secret", sp.service_principal_id);
    let (status, rotated) = api(&a, Method::POST, &path, Some(admin.expose_secret()), Some(&account.id), None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let secret = rotated["client_secret"].as_str().unwrap();
    wait_until_following(&b).await;
    sp_token(&b, &sp.client_id, secret).await;
    let (status, again) = api(&a, Method::POST, &path, Some(admin.expose_secret()), Some(&account.id), None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert!(refused_soon(&b, &sp.client_id, secret).await, "B did not listen again");
    a.stop().await;
    b.stop().await;
    db.drop_now().await;
    Ok(())
}

#[tokio::test]
async fn platform_runs_on_postgres() -> Result<(), TestDatabaseError> {
    let db = TestDatabase::create().await?;
    let platform = Platform::builder().database_url(db.url()).start().await;
    let ada = user(&platform, "ada@example.com").await;
    let tokens = login(&platform, &ada, "openid offline_access").await;
    let (status, _) = refresh(&platform, tokens.refresh_token.unwrap().expose_secret()).await;
    assert_eq!(status, StatusCode::OK);
    platform.stop().await;
    db.drop_now().await;
    Ok(())
}
