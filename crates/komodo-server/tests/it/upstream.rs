//! The gateway's client of an upstream Snowflake account against the
//! recording upstream ([`crate::fake_upstream`]), which checks the key-pair
//! JWT as Snowflake does and refuses anything else with Snowflake's codes.

use std::sync::Arc;

use komodo_server::upstream::client::{Call, LoginContext, UpstreamAccount, UpstreamClient, UpstreamError};
use komodo_server::upstream::keypair::SigningKey;
use serde_json::json;

use crate::fake_upstream::{FakeUpstream, KEY};

fn account(url: &str, key: SigningKey) -> UpstreamAccount {
    UpstreamAccount {
        host: url.parse().unwrap(),
        account_name: "xy12345.us-east-2.aws".into(),
        user: "komodo_gateway".into(),
        key: Arc::new(key),
        role: Some("ANALYST".into()),
        warehouse: Some("COMPUTE_WH".into()),
        database: None,
        schema: None,
    }
}

#[tokio::test]
async fn key_pair_logins_statements_renewal_and_the_end_of_a_session() {
    let key = SigningKey::from_pem(KEY, None).unwrap();
    let up = FakeUpstream::start(&key.public_key_pem()).await;
    let client = UpstreamClient::new(reqwest::Client::new(), account(&up.url, key));

    let mut context = LoginContext { database: Some("ANALYTICS".into()), ..LoginContext::default() };
    context.parameters.insert("QUERY_TAG".into(), json!("komodo:sp:1234"));
    let session = client.login(&context).await.unwrap();
    assert!(session.session_id > 7700);
    assert!(!format!("{session:?}").contains("upstream-session-token"));
    assert_eq!(session.session_info.as_ref().unwrap().warehouse_name.as_deref(), Some("COMPUTE_WH"));
    {
        let seen = up.seen.lock().unwrap();
        let login = &seen.logins[0];
        assert_eq!(login["ACCOUNT_NAME"], "XY12345");
        assert_eq!(login["SESSION_PARAMETERS"]["QUERY_TAG"], "komodo:sp:1234");
        let query = &seen.login_query[0];
        assert!(query.contains(&("roleName".into(), "ANALYST".into())), "{query:?}");
        assert!(query.contains(&("warehouse".into(), "COMPUTE_WH".into())), "{query:?}");
        assert!(query.contains(&("databaseName".into(), "ANALYTICS".into())), "{query:?}");
    }

    let body = json!({"sqlText": "select 1 as x", "parameters": {"QUERY_TAG": "komodo:sp:1234:req-1"}});
    let call = Call::Query { body: &body, request_id: "9c6f0d52-0c56-4f0c-8a61-2f8c8d0f6a11" };
    let answer = client.call(&session, call, 1).await.unwrap();
    assert!(answer.success);
    let rowset = answer.data.unwrap().remove("rowset").unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(rowset.get()).unwrap(), json!([["1"]]));
    {
        let seen = up.seen.lock().unwrap();
        let statement = &seen.statements[0];
        assert_eq!(statement.parameters["QUERY_TAG"], "komodo:sp:1234:req-1");
        assert_eq!((statement.request_id.as_str(), statement.retry), ("9c6f0d52-0c56-4f0c-8a61-2f8c8d0f6a11", 1));
    }

    // The session token renewed with the master token: the old one stops
    // working, the new one works.
    let renewed = client.renew(&session).await.unwrap();
    assert_eq!(up.seen.lock().unwrap().renewals, 1);
    let stale = client.call(&session, Call::Heartbeat, 0).await.unwrap();
    assert_eq!(stale.code.as_deref(), Some("390112"));
    assert!(client.call(&renewed, Call::Heartbeat, 0).await.unwrap().success);

    client.close(&renewed).await.unwrap();
    assert_eq!(up.seen.lock().unwrap().closed.len(), 1);
    assert_eq!(up.live_sessions(), 0);
}

#[tokio::test]
async fn another_key_is_refused_and_no_secret_reaches_an_error() {
    let registered = SigningKey::from_pem(KEY, None).unwrap();
    let up = FakeUpstream::start(&registered.public_key_pem()).await;
    let generated = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&generated).unwrap();
    let other = SigningKey::from_pkcs8_der(der.as_ref()).unwrap();
    let client = UpstreamClient::new(reqwest::Client::new(), account(&up.url, other));
    let err = client.login(&LoginContext::default()).await.unwrap_err();
    assert_eq!(err, UpstreamError::Refused { code: "390144".into(), message: "JWT token is invalid.".into() });

    // Unreachable: the endpoint and the cause, nothing else.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = UpstreamClient::new(reqwest::Client::new(), account(&gone, SigningKey::from_pem(KEY, None).unwrap()));
    let err = client.login(&LoginContext::default()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, UpstreamError::Unreachable { .. }), "{text}");
    assert!(text.contains("POST /session/v1/login-request") && !text.contains("eyJ"), "{text}");
}
