//! The test kit's own checks: a platform starts, fixtures work, the
//! scripted browser completes a login, PostgreSQL databases come and go.

use komodo_protocol::iam::Role;
use komodo_testkit::{Platform, TestDatabase, TestDatabaseError};

#[tokio::test]
async fn platform_fixtures_and_login() {
    let platform = Platform::start().await;
    assert!(platform.url().starts_with("http://127.0.0.1:"));
    assert!(platform.bootstrap_admin().is_some() && platform.demo_account_id().is_some());
    let user = platform.create_user("ada@example.com", "correct horse battery").await;
    let account = platform.create_account("acme", "analytics").await;
    platform.add_member(&account.slug, &user.email, Role::Member).await;
    let tokens = platform.login(&user, "openid offline_access").await;
    assert!(tokens.refresh_token.is_some() && tokens.id_token.is_some());
    let sp = platform.create_service_principal(&account.id, "etl").await;
    let token = platform.client_credentials(&sp.client_id, &sp.client_secret).await;
    assert_eq!(token.token_type, "Bearer");
    platform.stop().await;
}

#[tokio::test]
async fn test_databases_are_created_and_dropped() -> Result<(), TestDatabaseError> {
    let db = TestDatabase::create().await?;
    let url = db.url().to_owned();
    let store = komodo_server::store::Store::connect(&url).await.unwrap();
    store.ping().await.unwrap();
    store.close().await;
    db.drop_now().await;
    assert!(komodo_server::store::Store::connect(&url).await.is_err(), "the database is gone");
    Ok(())
}
