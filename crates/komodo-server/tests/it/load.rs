//! `POST /komodo/v1/load` over real HTTP: a file into a table of the
//! caller's account, in its gateway session, under the size cap.

use komodo_protocol::iam::Role;
use komodo_testkit::Platform;
use serde_json::{Value, json};

use crate::common::*;
use crate::gateway::connect;

const CAP: u64 = 1 << 20;

/// A platform whose loads are capped at 1 MiB, a service principal's
/// token for `demo`, and the account id.
async fn platform() -> (Platform, String, String) {
    let platform = Platform::builder().config(|c| c.gateway.max_load_bytes = CAP).start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "loader").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    (platform, account, token)
}

fn failed(response: &Value, code: &str) -> String {
    assert_eq!(response["success"], false, "{response}");
    assert_eq!(response["code"], code, "{response}");
    response["message"].as_str().unwrap().to_owned()
}

/// Nothing is left behind in the account's upload directory.
fn uploads_left(platform: &Platform, account: &str) -> usize {
    let dir = platform.state().config().effective_warehouse_dir().join(account).join("_uploads");
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn load_endpoint_creates_appends_and_overwrites_in_the_sessions_schema() {
    let (platform, account, token) = platform().await;
    let conn = connect(&platform, &token, &account).await;
    assert_eq!(conn.query("CREATE DATABASE mine").await["success"], true);

    // Created from a CSV file, in the session's current database (MINE.PUBLIC).
    let response = conn.load("table=people&format=csv&create=true", b"id,name\n1,ann\n2,bob\n".to_vec(), false).await;
    assert_eq!(response["success"], true, "{response}");
    assert_eq!(
        response["data"],
        json!({"rowsLoaded": 2, "created": true, "database": "MINE", "schema": "PUBLIC", "table": "PEOPLE"})
    );
    // Appended from a gzip body.
    let response = conn.load("table=mine.public.people&format=csv", b"name,id\ncid,3\n".to_vec(), true).await;
    assert_eq!(
        (response["data"]["rowsLoaded"].as_u64(), response["data"]["created"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(conn.rows(r#"SELECT COUNT(*), MAX("name") FROM people"#).await, vec![vec![json!("3"), json!("cid")]]);
    // Overwritten.
    let response = conn.load("table=people&format=csv&overwrite=true", b"id,name\n9,zed\n".to_vec(), false).await;
    assert_eq!(response["data"]["rowsLoaded"], 1, "{response}");
    assert_eq!(conn.rows(r#"SELECT "id", "name" FROM people"#).await, vec![vec![json!("9"), json!("zed")]]);

    // A missing table without create; an unknown format; a file that is not CSV.
    failed(&conn.load("table=nope&format=csv", b"id\n1\n".to_vec(), false).await, "002003");
    let message = failed(&conn.load("table=people&format=xlsx", b"id\n1\n".to_vec(), false).await, "390400");
    assert!(message.contains("arrow, csv, parquet or json"), "{message}");
    failed(&conn.load("table=people", b"id\n1\n".to_vec(), false).await, "390400");
    failed(&conn.load("table=people&format=parquet", b"not parquet".to_vec(), false).await, "100016");
    // A column the table does not have.
    let message = failed(&conn.load("table=people&format=csv", b"id,colour\n1,red\n".to_vec(), false).await, "001003");
    assert!(message.contains("'colour'"), "{message}");
    assert_eq!(conn.rows("SELECT COUNT(*) FROM people").await, vec![vec![json!("1")]]);
    assert_eq!(uploads_left(&platform, &account), 0);
}

#[tokio::test]
async fn f10_load_bodies_are_capped_and_need_a_session_first() {
    let (platform, account, token) = platform().await;
    let conn = connect(&platform, &token, &account).await;
    assert_eq!(conn.query("CREATE DATABASE mine").await["success"], true);
    let mut big = b"id,name\n".to_vec();
    while (big.len() as u64) <= CAP {
        big.extend(b"12345,a name long enough to fill the file\n");
    }
    for gzip in [false, true] {
        let message = failed(&conn.load("table=big&format=csv&create=true", big.clone(), gzip).await, "390400");
        assert!(message.contains("larger than the 1 MiB"), "{message}");
    }
    failed(&conn.query("SELECT * FROM big").await, "002003");

    // Without a session token: refused before the body is read.
    let response: Value = http()
        .post(platform.url_for("/komodo/v1/load?table=t&format=csv&create=true"))
        .header("authorization", "Snowflake Token=\"not-a-token\"")
        .body(b"id\n1\n".to_vec())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["success"], false, "{response}");
    assert_eq!(uploads_left(&platform, &account), 0);
}

#[tokio::test]
async fn a_reader_cannot_load() {
    let (platform, account, token) = platform().await;
    let writer = connect(&platform, &token, &account).await;
    for sql in ["CREATE DATABASE mine", "CREATE TABLE t (id INT)"] {
        assert_eq!(writer.query(sql).await["success"], true, "{sql}");
    }
    let reader = user(&platform, "rita@example.com").await;
    platform.add_member("demo", &reader.email, Role::Reader).await;
    let token = login(&platform, &reader, "openid").await.access_token.expose_secret().to_owned();
    let session = connect(&platform, &token, &account).await;
    let response = session.load("table=mine.public.t&format=csv", b"id\n1\n".to_vec(), false).await;
    let message = failed(&response, "003001");
    assert!(message.contains("Insufficient privileges"), "{message}");
    assert_eq!(response["data"]["sqlState"], "42501");
    // Subscription data is read-only for everyone.
    let message =
        failed(&writer.load("table=demo.healthcare.claims&format=csv", b"id\n1\n".to_vec(), false).await, "003001");
    assert!(message.contains("read-only"), "{message}");
    assert_eq!(writer.rows("SELECT COUNT(*) FROM mine.public.t").await, vec![vec![json!("0")]]);
}
