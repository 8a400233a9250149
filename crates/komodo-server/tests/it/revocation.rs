//! F07: revoking a token, resetting a password or rotating a secret ends
//! the gateway sessions opened with what it revoked, and nothing else.

use komodo_protocol::iam::Role;
use komodo_protocol::secret::Password;
use komodo_testkit::{Platform, TestUser};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::*;
use crate::gateway_client::Session;

/// Asserts that a session's statements and renewals are refused.
async fn assert_ended(session: &Session, what: &str) {
    let refused = session.query("select 1").await;
    assert_eq!(refused["success"], false, "{what}: a statement still runs: {refused}");
    assert_eq!(refused["code"], "390111", "{what}: {refused}");
    let renewed = session.renew().await;
    assert_eq!(renewed["success"], false, "{what}: the session can still be renewed: {renewed}");
}

async fn assert_open(session: &Session, what: &str) {
    let answer = session.query("select 1").await;
    assert_eq!(answer["success"], true, "{what}: {answer}");
}

#[tokio::test]
async fn f07_revoking_a_service_principal_token_ends_its_gateway_sessions() {
    let platform = Platform::start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let secret = sp.client_secret.expose_secret();
    let token = sp_token(&platform, &sp.client_id, secret).await;
    let other_token = sp_token(&platform, &sp.client_id, secret).await;
    let session = Session::open(&platform, &token, &account).await;
    let second = Session::open(&platform, &token, &account).await;
    let other = Session::open(&platform, &other_token, &account).await;
    assert_open(&session, "before the revocation").await;

    let response = http()
        .post(platform.url_for("/oauth/revoke"))
        .basic_auth(&sp.client_id, Some(secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    assert_ended(&session, "a session of the revoked token").await;
    assert_ended(&second, "another session of the revoked token").await;
    let login = crate::gateway_client::login(&platform, &token, &account).await;
    assert_eq!(login["success"], false, "the revoked token opens no new session: {login}");
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&token), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The principal's other token and its session are not affected.
    assert_open(&other, "a session of another token").await;
}

#[tokio::test]
async fn f07_a_password_reset_ends_the_users_logins_and_sessions() {
    let platform = Platform::start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let ada = user(&platform, "ada@example.com").await;
    platform.add_member("demo", &ada.email, Role::Member).await;
    let first = login(&platform, &ada, "openid offline_access").await;
    let second = login(&platform, &ada, "openid offline_access").await;
    let access = first.access_token.expose_secret().to_owned();
    let session = Session::open(&platform, &access, &account).await;
    let other_login = Session::open(&platform, second.access_token.expose_secret(), &account).await;
    assert_open(&session, "before the reset").await;
    // Another user's login is not affected.
    let bob = user(&platform, "bob@example.com").await;
    platform.add_member("demo", &bob.email, Role::Member).await;
    let bobs = login(&platform, &bob, "openid offline_access").await;
    let bobs_session = Session::open(&platform, bobs.access_token.expose_secret(), &account).await;

    let new_password = "a brand new password";
    let reset = platform.admin().reset_password(&ada.email, &Password::new(new_password)).await.unwrap();
    assert_eq!((reset.logins_ended, reset.sessions_ended), (2, 2), "{reset:?}");

    assert_ended(&session, "a session of a login before the reset").await;
    assert_ended(&other_login, "a session of another login before the reset").await;
    for tokens in [&first, &second] {
        let (_, body) = refresh(&platform, tokens.refresh_token.as_ref().unwrap().expose_secret()).await;
        assert_eq!(body["error"], "invalid_grant", "the login's refresh token is dead: {body}");
        let (status, _) =
            api(&platform, Method::GET, "/v1/iam/identity", Some(tokens.access_token.expose_secret()), None, None)
                .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the login's access token is dead");
    }
    assert_open(&bobs_session, "another user's session").await;
    // The new password signs in and opens sessions.
    let renewed = TestUser { password: Password::new(new_password), ..ada };
    let tokens = login(&platform, &renewed, "openid").await;
    assert_open(&Session::open(&platform, tokens.access_token.expose_secret(), &account).await, "a new login").await;
}

#[tokio::test]
async fn f07_rotating_a_secret_ends_the_sessions_of_its_old_tokens() {
    let platform = Platform::start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let other_sp = platform.create_service_principal("demo", "reports").await;
    let old_token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let session = Session::open(&platform, &old_token, &account).await;
    let others = Session::open(
        &platform,
        &sp_token(&platform, &other_sp.client_id, other_sp.client_secret.expose_secret()).await,
        &account,
    )
    .await;
    assert_open(&session, "before the rotation").await;

    let admin = user(&platform, "admin@example.com").await;
    platform.add_member("demo", &admin.email, Role::Admin).await;
    let admin_token = login(&platform, &admin, "openid").await.access_token.expose_secret().to_owned();
    let path = format!("/internal/service-principals/{}/rotate-secret", sp.service_principal_id);
    let (status, rotated) = api(&platform, Method::POST, &path, Some(&admin_token), Some(&account), None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();

    assert_ended(&session, "a session of a token minted from the old secret").await;
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&old_token), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a token minted from the old secret is dead");
    let login: Value = crate::gateway_client::login(&platform, &old_token, &account).await;
    assert_eq!(login["success"], false, "a token minted from the old secret opens no session: {login}");
    let (status, _) = client_credentials(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old secret is dead");
    // The new secret's tokens work, and another principal was not affected.
    let new_token = sp_token(&platform, &sp.client_id, &new_secret).await;
    assert_open(&Session::open(&platform, &new_token, &account).await, "a session of the new secret").await;
    assert_open(&others, "another principal's session").await;
}
