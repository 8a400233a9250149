//! The store suite, run on SQLite and on PostgreSQL.

use komodo_protocol::iam::Role;
use komodo_server::clock::now;
use komodo_server::store::gateway::{FinishedGatewayQuery, GatewayResultRow, NewGatewayQuery, QueryError, status};
use komodo_server::store::iam::ClientRow;
use komodo_server::store::oauth::{AuthCodeRow, CodeRedemption, DeviceRow, FamilyRow, RefreshUse};
use komodo_server::store::{Backend, Store, StoreError};
use komodo_testkit::{Platform, TestDatabase};
use reqwest::{Method, StatusCode};

use crate::common::*;

async fn exercise(store: Store) {
    store.ping().await.unwrap();
    // Organisations, accounts, users, memberships.
    let org = store.create_organization("acme", "Acme").await.unwrap();
    assert!(matches!(store.create_organization("acme", "Again").await, Err(StoreError::Conflict(_))));
    let account = store.create_account("acme", "analytics", "Analytics").await.unwrap();
    assert_eq!(account.organization_id, org.id);
    assert!(matches!(store.create_account("nope", "x", "X").await, Err(StoreError::NotFound(_))));
    assert_eq!(store.account_by_ref(&account.id).await.unwrap(), Some(account.clone()));
    assert_eq!(store.account_by_ref("analytics").await.unwrap(), Some(account.clone()));
    let user = store.create_user("Ada@Example.com ", Some("Ada"), "hash").await.unwrap();
    assert_eq!(user.email, "ada@example.com");
    assert!(matches!(store.create_user("ada@example.com", None, "h").await, Err(StoreError::Conflict(_))));
    assert_eq!(store.credentials_by_email("ADA@example.com").await.unwrap(), Some((user.id.clone(), "hash".into())));
    store.set_password_hash("ada@example.com", "hash2").await.unwrap();
    assert!(matches!(store.set_password_hash("nobody@example.com", "x").await, Err(StoreError::NotFound(_))));
    store.upsert_membership(&account.id, &user.id, Role::Member).await.unwrap();
    store.upsert_membership(&account.id, &user.id, Role::Admin).await.unwrap();
    assert_eq!(store.role_of(&user.id, &account.id).await.unwrap(), Some(Role::Admin));
    let memberships = store.memberships_of(&user.id).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].organization_slug, "acme");

    // Service principals.
    let sp = store.create_service_principal(&account.id, "etl", Some("d"), "kmd_spc_1", "hash-1").await.unwrap();
    assert_eq!(store.service_principal_for_auth("kmd_spc_1").await.unwrap().unwrap().secret_hash, "hash-1");
    assert!(store.rotate_service_principal_secret(&account.id, &sp.id, "hash-2").await.unwrap().is_some());
    assert_eq!(store.service_principal_for_auth("kmd_spc_1").await.unwrap().unwrap().secret_hash, "hash-2");
    assert!(store.rotate_service_principal_secret("other-account", &sp.id, "hash-3").await.unwrap().is_none());
    assert_eq!(store.list_service_principals(&account.id).await.unwrap().len(), 1);
    assert!(!store.delete_service_principal("other-account", &sp.id).await.unwrap());
    assert!(store.delete_service_principal(&account.id, &sp.id).await.unwrap());
    assert!(store.service_principal_by_id(&sp.id).await.unwrap().is_none());
    assert!(store.service_principal_for_auth("kmd_spc_1").await.unwrap().is_none());
    assert!(store.list_service_principals(&account.id).await.unwrap().is_empty());

    // Registered clients: public or confidential, with grants and audiences.
    let mut registered = ClientRow::public("sdk-app", "SDK", &[]);
    registered.grants = vec!["device".into()];
    registered.audiences = vec!["https://api.example/".into()];
    store.insert_client(&registered).await.unwrap();
    assert!(matches!(store.insert_client(&registered).await, Err(StoreError::Conflict(_))));
    store.create_service_principal(&account.id, "etl-2", None, "kmd_spc_2", "hash-x").await.unwrap();
    let mut taken = ClientRow::public("kmd_spc_2", "Clash", &[]);
    taken.secret_hash = Some("h".into());
    assert!(matches!(store.insert_client(&taken).await, Err(StoreError::Conflict(_))), "a service principal's id");
    let mut confidential = ClientRow::public("web-app", "Web", &["https://app.example/cb"]);
    confidential.secret_hash = Some("secret-hash".into());
    store.insert_client(&confidential).await.unwrap();
    let found = store.client_by_id("sdk-app").await.unwrap().unwrap();
    assert_eq!(found, ClientRow { created_at: found.created_at, ..registered.clone() });
    assert!(found.is_public() && found.allows("device") && !found.allows("authorization_code"));
    assert_eq!(store.client_by_id("web-app").await.unwrap().unwrap().secret_hash.as_deref(), Some("secret-hash"));
    let ids: Vec<String> = store.clients().await.unwrap().into_iter().map(|c| c.client_id).collect();
    assert_eq!(ids, ["sdk-app", "web-app"]);
    assert!(store.delete_client("web-app").await.unwrap());
    assert!(!store.delete_client("web-app").await.unwrap());
    assert!(store.client_by_id("web-app").await.unwrap().is_none());

    // Codes are spent once.
    let t = now();
    let code = AuthCodeRow {
        code_hash: "c1".into(),
        client_id: "komodo-cli".into(),
        redirect_uri: "http://127.0.0.1/callback".into(),
        user_id: user.id.clone(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: Some("x".into()),
        auth_time: t,
        family_id: "fam-1".into(),
        created_at: t,
        expires_at: t + 60,
        used_at: None,
        audience: Some("https://api.example/".into()),
    };
    store.insert_auth_code(&code).await.unwrap();
    assert!(matches!(store.redeem_auth_code("c1").await.unwrap(),
        CodeRedemption::Fresh(c) if c.audience.as_deref() == Some("https://api.example/")));
    assert!(matches!(store.redeem_auth_code("c1").await.unwrap(), CodeRedemption::Replayed(_)));
    assert_eq!(store.redeem_auth_code("c2").await.unwrap(), CodeRedemption::Unknown);

    // Refresh families rotate and revoke.
    let family = FamilyRow {
        id: "fam-1".into(),
        client_id: "komodo-cli".into(),
        user_id: user.id.clone(),
        scope: "openid".into(),
        auth_time: t,
        created_at: t,
        revoked_at: None,
        audience: Some("https://api.example/".into()),
    };
    store.create_family(&family).await.unwrap();
    store.insert_refresh_token("r1", "fam-1", t + 100).await.unwrap();
    store.insert_refresh_token("r-expired", "fam-1", t - 1).await.unwrap();
    assert!(matches!(store.use_refresh_token("r1").await.unwrap(),
        RefreshUse::Fresh(f) if f.id == "fam-1" && f.audience.as_deref() == Some("https://api.example/")));
    assert_eq!(store.use_refresh_token("r1").await.unwrap(), RefreshUse::Reused("fam-1".into()));
    assert_eq!(store.use_refresh_token("r-expired").await.unwrap(), RefreshUse::Expired);
    assert_eq!(store.use_refresh_token("nope").await.unwrap(), RefreshUse::Unknown);
    assert!(!store.family_is_revoked("fam-1").await.unwrap());
    store.revoke_family("fam-1").await.unwrap();
    assert!(store.family_is_revoked("fam-1").await.unwrap());
    assert!(store.family_is_revoked("never-existed").await.unwrap());

    // Device codes.
    let device = DeviceRow {
        device_hash: "d1".into(),
        user_code: "BCDFGHJK".into(),
        client_id: "komodo-cli".into(),
        scope: "openid".into(),
        status: "pending".into(),
        user_id: None,
        auth_time: None,
        family_id: "fam-2".into(),
        interval_secs: 5,
        last_poll_ms: None,
        created_at: t,
        expires_at: t + 600,
        audience: None,
    };
    store.insert_device(&device).await.unwrap();
    assert_eq!(store.device_by_hash("d1").await.unwrap().unwrap().audience, None);
    assert_eq!(store.device_by_user_code("BCDFGHJK").await.unwrap().unwrap().device_hash, "d1");
    assert!(!store.device_consume("d1").await.unwrap(), "pending cannot be consumed");
    assert!(store.device_decide("d1", true, &user.id, t).await.unwrap());
    assert!(!store.device_decide("d1", false, &user.id, t).await.unwrap(), "decided once");
    assert!(store.device_consume("d1").await.unwrap());
    assert!(!store.device_consume("d1").await.unwrap(), "single use");

    // Revoked access tokens, rate limits, the run-once latch.
    store.revoke_jti("j1", t + 60).await.unwrap();
    store.revoke_jti("j1", t + 60).await.unwrap();
    assert!(store.jti_is_revoked("j1").await.unwrap());
    assert_eq!(store.rate_hit("k", 60).await.unwrap(), 1);
    assert_eq!(store.rate_hit("k", 60).await.unwrap(), 2);
    assert_eq!(store.rate_count("k", 60).await.unwrap(), 2);
    store.rate_reset("k").await.unwrap();
    assert_eq!(store.rate_count("k", 60).await.unwrap(), 0);
    assert!(store.meta_insert_once("latch", "1").await.unwrap());
    assert!(!store.meta_insert_once("latch", "2").await.unwrap());
    assert_eq!(store.meta("latch").await.unwrap().as_deref(), Some("1"));
    store.purge_expired().await.unwrap();

    gateway_records(&store, &account.id).await;
    warehouse_backends(&store, &account.id).await;
}

/// An account's upstream warehouse: set, replaced, cleared.
async fn warehouse_backends(store: &Store, account: &str) {
    use komodo_server::store::warehouses::WarehouseBackendRow;
    assert_eq!(store.warehouse_backend(account).await.unwrap(), None);
    let mut row = WarehouseBackendRow {
        account_id: account.to_owned(),
        kind: "snowflake".into(),
        host: "https://xy12345.snowflakecomputing.com".into(),
        account_name: "XY12345".into(),
        user_name: "KOMODO_GATEWAY".into(),
        private_key: "sealed".into(),
        key_fingerprint: "SHA256:abc".into(),
        role_name: Some("ANALYST".into()),
        warehouse: None,
        database_name: Some("ANALYTICS".into()),
        schema_name: None,
        updated_at: now(),
    };
    store.set_warehouse_backend(&row).await.unwrap();
    assert_eq!(store.warehouse_backend(account).await.unwrap(), Some(row.clone()));
    row.user_name = "OTHER".into();
    row.role_name = None;
    store.set_warehouse_backend(&row).await.unwrap();
    assert_eq!(store.warehouse_backend(account).await.unwrap(), Some(row.clone()));
    assert!(!format!("{row:?}").contains("sealed"));
    assert!(store.clear_warehouse_backend(account).await.unwrap());
    assert!(!store.clear_warehouse_backend(account).await.unwrap());
    assert_eq!(store.warehouse_backend(account).await.unwrap(), None);
}

/// Query records: one started and ended, and quick ones written in groups
/// larger than one multi-row statement.
async fn gateway_records(store: &Store, account: &str) {
    let handle = |n: usize| NewGatewayQuery {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.to_owned(),
        session_id: "session-1".into(),
        subject: "sp:1".into(),
        request_id: n.is_multiple_of(2).then(|| format!("request-{n}")),
        sql_text: format!("SELECT {n}"),
        result_format: "json".into(),
        replica: "replica-1".into(),
        started_at: 1_000 + n as i64,
        upstream_id: None,
    };
    let result = |n: usize| GatewayResultRow {
        statement_type_id: 4096,
        rows_affected: None,
        total_rows: n as i64,
        ipc: format!("ipc-{n}"),
    };

    // Recorded when it started, then ended; an aborted one stays aborted.
    let started = handle(0);
    store.insert_gateway_query(&started).await.unwrap();
    let row = store.gateway_query(account, &started.id).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.ended_at), (status::RUNNING, None));
    store.record_gateway_outcome(&started.id, account, status::SUCCESS, None, Some(&result(7))).await.unwrap();
    let row = store.gateway_query(account, &started.id).await.unwrap().unwrap();
    assert_eq!(row.status, status::SUCCESS);
    assert!(row.ended_at.is_some());
    assert_eq!(store.gateway_result(account, &started.id).await.unwrap(), Some(result(7)));
    assert!(store.gateway_query("other-account", &started.id).await.unwrap().is_none(), "T05");
    let aborted = handle(1);
    store.insert_gateway_query(&aborted).await.unwrap();
    assert!(store.request_gateway_abort(account, &aborted.id).await.unwrap());
    let error = |code: &str, message: &str, sql_state: &str| QueryError {
        code: code.into(),
        message: message.into(),
        sql_state: sql_state.into(),
    };
    let cancelled = error("000604", "cancelled", "57014");
    store.record_gateway_outcome(&aborted.id, account, status::ABORTED, Some(&cancelled), None).await.unwrap();
    let failed_late = error("000603", "late", "XX000");
    store.record_gateway_outcome(&aborted.id, account, status::FAILED, Some(&failed_late), None).await.unwrap();
    let row = store.gateway_query(account, &aborted.id).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.error_code.as_deref()), (status::ABORTED, Some("000604")));

    // Quick queries, recorded whole when they end: every third failed.
    let finished: Vec<FinishedGatewayQuery> = (0..300)
        .map(|n| FinishedGatewayQuery {
            handle: handle(n),
            status: if n.is_multiple_of(3) { status::FAILED } else { status::SUCCESS },
            error: n.is_multiple_of(3).then(|| error("002003", &format!("Object 'T{n}' does not exist"), "42S02")),
            ended_at: 2_000 + n as i64,
            result: (!n.is_multiple_of(3)).then(|| result(n)),
        })
        .collect();
    store.record_finished_gateway_queries(&finished).await.unwrap();
    store.record_finished_gateway_queries(&[]).await.unwrap();
    for f in &finished {
        let row = store.gateway_query(account, &f.handle.id).await.unwrap().unwrap();
        assert_eq!(row.handle, f.handle);
        assert_eq!(row.status, f.status);
        assert_eq!(row.ended_at, Some(f.ended_at));
        let error = f.error.as_ref();
        assert_eq!(row.error_code.as_deref(), error.map(|e| e.code.as_str()));
        assert_eq!(row.error_message.as_deref(), error.map(|e| e.message.as_str()));
        assert_eq!(row.sql_state.as_deref(), error.map(|e| e.sql_state.as_str()));
        assert_eq!(store.gateway_result(account, &f.handle.id).await.unwrap(), f.result);
    }
    // A group is one transaction: a record that cannot be written (its id
    // taken), in the group's second statement, leaves none of it behind.
    let mut group: Vec<FinishedGatewayQuery> =
        (1_000..1_199).map(|n| FinishedGatewayQuery { handle: handle(n), ..finished[1].clone() }).collect();
    group.push(finished[0].clone());
    assert!(store.record_finished_gateway_queries(&group).await.is_err());
    for f in &group[..199] {
        assert!(store.gateway_query(account, &f.handle.id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn store_suite_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(store.pool()).await.unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    exercise(store).await;
    // Migrations are idempotent.
    Store::connect(&url).await.unwrap();
}

#[tokio::test]
async fn store_suite_on_postgres() -> Result<(), TestDatabaseError> {
    let db = TestDatabase::create().await?;
    let store = Store::connect(db.url()).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    exercise(store.clone()).await;
    Store::connect(db.url()).await.unwrap();
    store.close().await;
    db.drop_now().await;
    Ok(())
}

#[tokio::test]
async fn unsupported_database_urls_are_refused_without_leaking_passwords() {
    let err = Store::connect("mysql://root:hunter2@localhost/x").await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("unsupported database URL"));
    assert!(!message.contains("hunter2"));
}

#[tokio::test]
async fn a_restart_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::builder().data_dir(dir.path()).start().await;
    let ada = user(&platform, "ada@example.com").await;
    let tokens = login(&platform, &ada, "openid offline_access").await;
    let kid = jwt_part(tokens.access_token.expose_secret(), 0)["kid"].clone();
    platform.stop().await;
    let platform = Platform::builder().data_dir(dir.path()).start().await;
    assert!(platform.bootstrap_admin().is_none(), "bootstrap runs once");
    let (status, _) =
        api(&platform, Method::GET, "/v1/iam/identity", Some(tokens.access_token.expose_secret()), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a new port means a new issuer by default");
    platform.stop().await;
    // Same issuer as before: the old token, key and refresh token work.
    let issuer = jwt_part(tokens.access_token.expose_secret(), 1)["iss"].as_str().unwrap().to_owned();
    let platform = Platform::builder().data_dir(dir.path()).issuer(issuer).start().await;
    let (status, _) =
        api(&platform, Method::GET, "/v1/iam/identity", Some(tokens.access_token.expose_secret()), None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = refresh(&platform, tokens.refresh_token.unwrap().expose_secret()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(jwt_part(body["access_token"].as_str().unwrap(), 0)["kid"], kid);
}

async fn concurrent_single_use(platform: &Platform) {
    let ada = user(platform, &format!("ada-{}@example.com", uuid::Uuid::new_v4())).await;
    let pair = komodo_testkit::pkce::Pair::new();
    let code = authorize_code(platform, &ada, "openid offline_access", &pair).await;
    let attempts = (0..8).map(|_| {
        let (code, verifier, url) = (code.clone(), pair.verifier.clone(), platform.url_for("/oauth/token"));
        tokio::spawn(async move {
            http()
                .post(url)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("client_id", "komodo-cli"),
                    ("code_verifier", verifier.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    let mut ok = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        if attempt.await.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "exactly one concurrent redemption of a code wins");

    let tokens = login(platform, &ada, "openid offline_access").await;
    let refresh_token = tokens.refresh_token.unwrap().expose_secret().to_owned();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (token, url) = (refresh_token.clone(), platform.url_for("/oauth/token"));
            tokio::spawn(async move {
                http()
                    .post(url)
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
                        ("client_id", "komodo-cli"),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut ok = 0;
    for attempt in attempts {
        if attempt.await.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    // One request may win; the others are reuse, which revokes the family
    // (possibly before the winner answers, so zero winners is also correct).
    assert!(ok <= 1, "a refresh token is spent at most once, even concurrently ({ok} won)");
    let (status, _) =
        api(platform, Method::GET, "/v1/iam/identity", Some(tokens.access_token.expose_secret()), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the reuse revoked the session");
}

#[tokio::test]
async fn concurrent_redemptions_have_one_winner_on_sqlite() {
    let platform = Platform::start().await;
    concurrent_single_use(&platform).await;
}

#[tokio::test]
async fn concurrent_redemptions_have_one_winner_on_postgres() -> Result<(), TestDatabaseError> {
    let db = TestDatabase::create().await?;
    let platform = Platform::builder().database_url(db.url()).start().await;
    concurrent_single_use(&platform).await;
    platform.stop().await;
    db.drop_now().await;
    Ok(())
}

#[tokio::test]
async fn concurrent_first_starts_on_one_sqlite_file_agree() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("race.db").display());
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::connect(&url).await.map(|_| ()) })
        })
        .collect();
    for open in opens {
        open.await.unwrap().unwrap();
    }
}
