//! `komodo sql` end to end: the real binary against the real platform's
//! gateway, with the demo data set of the `demo` account.

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::Duration;

use komodo_testkit::{Platform, RUNAWAY_SQL, TEST_DEMO_CLAIMS};

use crate::{Home, Run, filter};

/// The demo account's warehouse, reached through a service principal
/// saved as the profile `[production]`.
struct Setup {
    platform: Platform,
    home: Home,
    account: String,
}

async fn setup() -> Setup {
    let platform = Platform::start().await;
    let account = platform.demo_account_id().expect("the demo account is bootstrapped").to_owned();
    let sp = platform.create_service_principal(&account, "cli").await;
    let home = Home::new(platform.url());
    home.write_credentials(&format!(
        "[production]\nclient_id = {}\nclient_secret = {}\naccount_id = {account}\n",
        sp.client_id,
        sp.client_secret.expose_secret()
    ));
    Setup { platform, home, account }
}

/// `komodo ARGS` with `input` on stdin.
fn run_with_stdin(home: &Home, args: &[&str], input: &str) -> Run {
    let mut child =
        home.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    Run(child.wait_with_output().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_prints_tables_csv_and_json() {
    let s = setup().await;
    let home = &s.home;

    // A table (the default).
    let run = home.run(&["sql", "--profile", "production", "SELECT COUNT(*) AS N FROM DEMO.HEALTHCARE.CLAIMS"]);
    run.success();
    let lines: Vec<String> = run.stdout().lines().map(|l| l.trim().to_owned()).collect();
    assert_eq!(lines, ["N", &TEST_DEMO_CLAIMS.to_string()], "{}", run.stdout());

    // CSV, statements from stdin: RFC 4180 quoting, NULL apart from ''.
    let input = "SELECT 1 AS A, 'x,y' AS B, NULL AS C, '' AS D;\n-- a comment; not a statement\n\
                 SELECT 'say \"hi\"' AS Q, 'two\nlines' AS R;";
    let run = run_with_stdin(home, &["--profile", "production", "sql", "--output", "csv"], input);
    run.success();
    assert_eq!(run.stdout(), "A,B,C,D\n1,\"x,y\",,\"\"\n\nQ,R\n\"say \"\"hi\"\"\",\"two\nlines\"\n");
    assert_eq!(run.stderr(), "", "nothing but data when stderr is not a terminal");

    // JSON from a file: one array of row objects per statement.
    let path = home.dir.path().join("report.sql");
    std::fs::write(
        &path,
        "SELECT CLAIM_ID, CLAIM_AMOUNT, SERVICE_DATE FROM CLAIMS ORDER BY CLAIM_ID LIMIT 2;\n\
         SELECT 1 AS X WHERE 1 = 0;",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let run = home.run(&[
        "sql",
        "--profile",
        "production",
        "--database",
        "DEMO",
        "--schema",
        "HEALTHCARE",
        "-o",
        "json",
        "--file",
        path,
    ]);
    run.success();
    let stdout = run.stdout();
    let documents: Vec<serde_json::Value> =
        serde_json::Deserializer::from_str(&stdout).into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(documents.len(), 2, "{stdout}");
    let rows = documents[0].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["CLAIM_ID"], 1);
    assert_eq!(rows[1]["CLAIM_ID"], 2);
    assert!(rows[0]["CLAIM_AMOUNT"].is_number(), "{stdout}");
    assert!(rows[0]["SERVICE_DATE"].as_str().is_some_and(|d| d.len() == 10), "{stdout}");
    assert_eq!(documents[1], serde_json::json!([]));

    // The environment works as well as a profile.
    let mut env_home = Home::new(s.platform.url());
    let sp = s.platform.create_service_principal(&s.account, "env").await;
    env_home.extra_env = vec![
        ("KOMODO_CLIENT_ID".into(), sp.client_id.clone()),
        ("KOMODO_CLIENT_SECRET".into(), sp.client_secret.expose_secret().to_owned()),
        ("KOMODO_ACCOUNT_ID".into(), s.account.clone()),
    ];
    let run = env_home.run(&["sql", "-o", "csv", "SELECT 6 * 7 AS ANSWER"]);
    run.success();
    assert_eq!(run.stdout(), "ANSWER\n42\n");
    assert!(!run.stderr().contains(sp.client_secret.expose_secret()));

    // CSV is for `komodo sql` only.
    home.run(&["--profile", "production", "account", "get", "--output", "csv"]).failure(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_errors_carry_snowflakes_code() {
    let s = setup().await;
    let home = &s.home;
    let render = |run: &Run, args: &str| {
        filter(
            &format!("$ komodo {args}\nexit: {}\n--- stdout\n{}--- stderr\n{}", run.code(), run.stdout(), run.stderr()),
            home.dir.path(),
        )
    };

    let run = home.run(&["sql", "--profile", "production", "SELECT * FROM DEMO.HEALTHCARE.NO_SUCH_TABLE"]);
    run.failure(1);
    insta::assert_snapshot!("sql_object_not_found", render(&run, "sql --profile production 'SELECT * FROM ...'"));

    // The first failing statement stops the run; what ran before is printed.
    let run = home.run(&["sql", "--profile", "production", "-o", "csv", "SELECT 1 AS A; SELEC 2; SELECT 3"]);
    run.failure(1);
    assert_eq!(run.stdout(), "A\n1\n");
    assert!(run.stderr().starts_with("error: statement 2 of 3 failed: 001003 (42000): "), "{}", run.stderr());

    // Nothing to run.
    let run = run_with_stdin(home, &["sql", "--profile", "production"], "-- only a comment\n");
    run.failure(2);
    assert!(run.stderr().contains("hint: pass the SQL as an argument"), "{}", run.stderr());
    home.run(&["sql", "--profile", "production", "--file", "/nonexistent/q.sql"]).failure(1);

    // An account the credentials have no right to.
    let other = s.platform.create_account("elsewhere", "elsewhere-b").await;
    let sp = s.platform.create_service_principal(&s.account, "other").await;
    let mut other_home = Home::new(s.platform.url());
    other_home.extra_env = vec![
        ("KOMODO_CLIENT_ID".into(), sp.client_id.clone()),
        ("KOMODO_CLIENT_SECRET".into(), sp.client_secret.expose_secret().to_owned()),
        ("KOMODO_ACCOUNT_ID".into(), other.id.clone()),
    ];
    let run = other_home.run(&["sql", "SELECT 1"]);
    run.failure(5);
    assert!(run.stderr().starts_with("error: 390100 "), "{}", run.stderr());
    assert!(run.stderr().contains("hint: check the account"), "{}", run.stderr());

    // No credentials at all: login required.
    Home::new(s.platform.url()).run(&["sql", "SELECT 1"]).failure(4);
}

/// Ctrl-C cancels the statement on the platform (SECURITY.md F03): a
/// statement whose operators never yield leaves no live warehouse task
/// within 2 s of the interrupt, and another account's `SELECT 1` is
/// answered while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_cancels_the_running_statement() {
    let s = setup().await;
    let child = s
        .home
        .command(&["sql", "--profile", "production", RUNAWAY_SQL])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough to connect and submit the statement.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(s.platform.warehouse_tasks() > 0, "the statement is not running");

    let other = s.platform.create_account("acme", "acme").await;
    let sp = s.platform.create_service_principal(&other.slug, "bi").await;
    let mut other_home = Home::new(s.platform.url());
    other_home.extra_env = vec![
        ("KOMODO_CLIENT_ID".into(), sp.client_id.clone()),
        ("KOMODO_CLIENT_SECRET".into(), sp.client_secret.expose_secret().to_owned()),
        ("KOMODO_ACCOUNT_ID".into(), other.id.clone()),
    ];
    let answered = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || other_home.run(&["sql", "--output", "csv", "SELECT 1 AS ONE"])),
    )
    .await
    .expect("another account's SELECT 1 waited more than 20 s")
    .unwrap();
    answered.success();
    assert_eq!(answered.stdout(), "ONE\n1\n");

    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output: Output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    let run = Run(output);
    run.failure(130);
    assert_eq!(run.stdout(), "");
    assert!(run.stderr().contains("interrupted: the statement was cancelled"), "{}", run.stderr());
    s.platform.assert_warehouse_idle_within(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_puts_and_gets_files() {
    let s = setup().await;
    let home = &s.home;
    let data = home.dir.path().join("visits.csv");
    std::fs::write(&data, "1,a\n2,b\n").unwrap();
    let out = home.dir.path().join("back");
    let statements =
        format!("PUT 'file://{}' @~/cli/ OVERWRITE = TRUE;\nGET @~/cli/ 'file://{}/';", data.display(), out.display());
    let run = home.run(&["sql", "--profile", "production", "-o", "csv", &statements]);
    run.success();
    let stdout = run.stdout();
    assert!(
        stdout.starts_with(
            "source,target,source_size,target_size,source_compression,target_compression,status,message\n\
             visits.csv,visits.csv.gz,8,"
        ),
        "{stdout}"
    );
    assert!(stdout.contains(",NONE,GZIP,UPLOADED,\"\"\n\nfile,size,status,message\nvisits.csv.gz,"), "{stdout}");
    assert!(out.join("visits.csv.gz").is_file());
    // A file that is not there: the path in the error, exit status 1.
    let run = home.run(&["sql", "--profile", "production", "PUT file:///no/such/file.csv @~"]);
    run.failure(1);
    assert!(run.stderr().contains("/no/such/file.csv"), "{}", run.stderr());
}
