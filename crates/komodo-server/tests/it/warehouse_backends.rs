//! An account's warehouse backend through the admin API: an upstream
//! Snowflake account's settings checked, its private key sealed with the
//! master key (only its fingerprint is ever shown), and back to embedded.

use komodo_server::admin::{AdminError, SnowflakeBackend};
use komodo_testkit::Platform;
use zeroize::Zeroizing;

/// A test key made with openssl, and the fingerprint openssl printed for it.
const KEY: &str = include_str!("../../src/upstream/testdata/test_key.p8");
const ENCRYPTED_KEY: &str = include_str!("../../src/upstream/testdata/test_key_encrypted.p8");
const FINGERPRINT: &str = "SHA256:mNasgZCw3y8zkcyQwPgLLIUYaFgzaBLZaCXaAA9lA/E=";

fn backend(key: &str) -> SnowflakeBackend {
    SnowflakeBackend {
        host: "https://xy12345.snowflakecomputing.com/".into(),
        account_name: "xy12345".into(),
        user: "komodo_gateway".into(),
        private_key_pem: Zeroizing::new(key.into()),
        passphrase: None,
        role: Some("ANALYST".into()),
        warehouse: Some("COMPUTE_WH".into()),
        database: None,
        schema: None,
    }
}

#[tokio::test]
async fn set_warehouse_seals_the_key_and_shows_only_its_fingerprint() {
    let platform = Platform::start().await;
    let admin = platform.admin();
    let account = platform.demo_account_id().unwrap().to_owned();
    assert_eq!(admin.show_warehouse("demo").await.unwrap().backend, "embedded");

    let shown = admin.set_warehouse_snowflake("demo", &backend(KEY)).await.unwrap();
    assert_eq!(shown.backend, "snowflake");
    let upstream = shown.snowflake.clone().unwrap();
    assert_eq!(upstream.host, "https://xy12345.snowflakecomputing.com");
    assert_eq!(upstream.key_fingerprint, FINGERPRINT);
    assert_eq!(upstream.role.as_deref(), Some("ANALYST"));
    assert_eq!(admin.show_warehouse(&account).await.unwrap(), shown);
    let printed = serde_json::to_string(&shown).unwrap();
    assert!(!printed.contains("PRIVATE") && !printed.contains(&KEY.lines().nth(1).unwrap()[..32]), "{printed}");

    // The row holds the key sealed, not its PEM or DER; the master key
    // opens it again, for this account only.
    let row = admin.store().warehouse_backend(&account).await.unwrap().unwrap();
    assert!(!row.private_key.contains(&KEY.lines().nth(1).unwrap()[..32]));
    let opened = admin.warehouse_key(&account).await.unwrap().unwrap();
    assert_eq!(opened.fingerprint(), FINGERPRINT);
    admin.create_org("Other", "other").await.unwrap();
    let elsewhere = admin.create_account("other", "Elsewhere", "elsewhere").await.unwrap();
    let mut copied = row.clone();
    copied.account_id = elsewhere.id.clone();
    admin.store().set_warehouse_backend(&copied).await.unwrap();
    assert!(admin.warehouse_key(&elsewhere.id).await.is_err(), "a sealed key is bound to its account");

    // An encrypted key needs its passphrase.
    let mut encrypted = backend(ENCRYPTED_KEY);
    let refused = admin.set_warehouse_snowflake("demo", &encrypted).await.unwrap_err();
    assert!(refused.to_string().contains("passphrase"), "{refused}");
    encrypted.passphrase = Some(Zeroizing::new("komodo test".into()));
    encrypted.user = "other_user".into();
    let shown = admin.set_warehouse_snowflake("demo", &encrypted).await.unwrap();
    assert_eq!(shown.snowflake.as_ref().unwrap().user, "other_user");

    // Bad settings change nothing.
    for (change, wanted) in [
        (SnowflakeBackend { host: "http://xy12345.snowflakecomputing.com".into(), ..backend(KEY) }, "https"),
        (SnowflakeBackend { user: "a user".into(), ..backend(KEY) }, "--user"),
        (SnowflakeBackend { role: Some("r\"; drop".into()), ..backend(KEY) }, "--role"),
        (SnowflakeBackend { private_key_pem: Zeroizing::new("nope".into()), ..backend(KEY) }, "PEM"),
    ] {
        let err = admin.set_warehouse_snowflake("demo", &change).await.unwrap_err();
        assert!(matches!(&err, AdminError::Invalid(m) if m.contains(wanted)), "{wanted}: {err}");
    }
    assert_eq!(admin.show_warehouse("demo").await.unwrap(), shown);
    assert!(admin.show_warehouse("no-such-account").await.is_err());

    let embedded = admin.set_warehouse_embedded("demo").await.unwrap();
    assert_eq!((embedded.backend.as_str(), embedded.snowflake), ("embedded", None));
    assert!(admin.warehouse_key(&account).await.unwrap().is_none());
}
