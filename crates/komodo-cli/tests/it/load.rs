//! `komodo load` end to end: the real binary against the real platform's
//! gateway, loading CSV and Arrow files into a table of the `demo`
//! account.

use std::sync::Arc;

use komodo_testkit::Platform;

use crate::Home;

/// A platform, and a home whose `[production]` profile is a service
/// principal of the demo account.
async fn setup() -> (Platform, Home) {
    let platform = Platform::start().await;
    let account = platform.demo_account_id().expect("the demo account is bootstrapped").to_owned();
    let sp = platform.create_service_principal(&account, "cli").await;
    let home = Home::new(platform.url());
    home.write_credentials(&format!(
        "[production]\nclient_id = {}\nclient_secret = {}\naccount_id = {account}\n",
        sp.client_id,
        sp.client_secret.expose_secret()
    ));
    (platform, home)
}

/// An Arrow IPC stream file of two rows.
fn arrow_file(path: &std::path::Path) {
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    let batch = RecordBatch::try_from_iter([
        ("ID", Arc::new(Int64Array::from(vec![10, 11])) as ArrayRef),
        ("NAME", Arc::new(StringArray::from(vec![Some("pq1"), None])) as ArrayRef),
    ])
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(file, &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn load_csv_and_arrow_files_into_a_table() {
    let (_platform, home) = setup().await;
    let run = home.run(&["sql", "--profile", "production", "CREATE DATABASE mine"]);
    run.success();
    let csv = home.dir.path().join("people.csv");
    std::fs::write(&csv, "id,name\n1,ann\n2,bob\n").unwrap();
    let csv = csv.to_str().unwrap();

    // No table yet: the error says how to make one.
    let run = home.run(&["load", "--profile", "production", "--database", "mine", "--table", "people", csv]);
    run.failure(1);
    assert!(run.stderr().contains("002003"), "{}", run.stderr());
    assert!(run.stderr().contains("--create"), "{}", run.stderr());

    let run =
        home.run(&["load", "--profile", "production", "--database", "mine", "--table", "people", "--create", csv]);
    run.success();
    assert!(run.stderr().contains("Loaded 2 rows into MINE.PUBLIC.PEOPLE (created)"), "{}", run.stderr());

    let pq = home.dir.path().join("more.arrow");
    arrow_file(&pq);
    let run = home.run(&[
        "load",
        "--profile",
        "production",
        "-o",
        "json",
        "--table",
        "mine.public.people",
        pq.to_str().unwrap(),
    ]);
    run.success();
    let out: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(out, serde_json::json!({"table": "MINE.PUBLIC.PEOPLE", "rows_loaded": 2, "created": false}));

    let run = home.run(&[
        "sql",
        "--profile",
        "production",
        "-o",
        "csv",
        r#"SELECT "id", "name" FROM mine.public.people ORDER BY "id""#,
    ]);
    run.success();
    // The columns are named as the CSV's header names them.
    assert_eq!(run.stdout(), "id,name\n1,ann\n2,bob\n10,pq1\n11,\n");

    // Overwrite replaces the rows.
    let run =
        home.run(&["load", "--profile", "production", "--database", "mine", "--table", "people", "--overwrite", csv]);
    run.success();
    let run =
        home.run(&["sql", "--profile", "production", "-o", "csv", "SELECT COUNT(*) AS N FROM mine.public.people"]);
    assert_eq!(run.stdout(), "N\n2\n");

    // A file whose format cannot be told, and one that does not exist.
    let txt = home.dir.path().join("people.txt");
    std::fs::write(&txt, "id\n1\n").unwrap();
    let run = home.run(&["load", "--profile", "production", "--table", "mine.public.people", txt.to_str().unwrap()]);
    run.failure(2);
    assert!(run.stderr().contains(".csv"), "{}", run.stderr());
    let run = home.run(&["load", "--profile", "production", "--table", "t", "/nonexistent/x.csv"]);
    run.failure(1);
    assert!(run.stderr().contains("/nonexistent/x.csv"), "{}", run.stderr());
}
