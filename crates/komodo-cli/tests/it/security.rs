//! SECURITY.md S03 across the whole system: the full end-to-end flow runs
//! with the CLI and the platform logging at the most verbose level, and no
//! output carries a secret issued along the way, except the one command
//! whose job is to print it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use komodo_protocol::iam::Role;
use komodo_testkit::{Browser, Decision, Platform};

use crate::{Home, Run};

/// Collects everything the platform logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn section_value(home: &Home, section: &str, key: &str) -> Option<String> {
    let text = home.read_credentials();
    komodo::credentials::Document::parse(&text).ok()?.get(section, key).map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s03_no_secret_in_any_output_of_the_full_flow() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let platform = Platform::start().await;
    let password = "s03 very secret passphrase";
    let user = platform.create_user("s03@example.com", password).await;
    let account = platform.create_account("s03", "s03-account").await;
    platform.add_member(&account.id, &user.email, Role::Admin).await;
    let mut home = Home::new(platform.url());
    home.extra_env.push(("KOMODO_LOG".into(), "trace".into()));

    let mut secrets: Vec<String> = vec![password.to_owned()];
    let mut outputs: Vec<(String, String)> = Vec::new();

    // Login through the scripted browser.
    let mut child = home.command(&["login", "--no-browser"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut login_output = Vec::new();
    let url = loop {
        let line = rx.recv_timeout(std::time::Duration::from_secs(30)).expect("no login address");
        login_output.push(line.clone());
        if line.contains("/oauth/authorize?") {
            break line.trim().to_owned();
        }
    };
    Browser::new(platform.url())
        .authorize_and_follow(&url, &user.email, &user.password, Decision::Approve)
        .await
        .unwrap();
    assert!(child.wait().unwrap().success());
    std::thread::sleep(std::time::Duration::from_millis(100));
    login_output.extend(rx.try_iter());
    outputs.push(("login".into(), login_output.join("\n")));
    let record = |outputs: &mut Vec<(String, String)>, what: &str, run: &Run, stdout_may_hold_secrets: bool| {
        outputs.push((format!("{what} (stderr)"), run.stderr()));
        if !stdout_may_hold_secrets {
            outputs.push((format!("{what} (stdout)"), run.stdout()));
        }
    };
    secrets.extend(section_value(&home, "default", "token"));
    secrets.extend(section_value(&home, "default", "refresh_token"));

    let run = home.run(&["jwt"]);
    run.success();
    record(&mut outputs, "jwt", &run, true);
    secrets.push(run.stdout().trim().to_owned());

    let run = home.run(&["service-principal", "create", "--name", "s03", "--save-profile", "s03", "-o", "json"]);
    run.success();
    record(&mut outputs, "service-principal create", &run, true);
    let created: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    secrets.push(created["client_secret"].as_str().unwrap().to_owned());
    let id = created["service_principal_id"].as_str().unwrap().to_owned();

    for args in [
        &["auth", "describe", "--check", "--profile", "s03"][..],
        &["whoami"],
        &["profile", "show", "s03"],
        &["profile", "list"],
        &["service-principal", "list"],
        &["account", "list"],
    ] {
        let run = home.run(args);
        run.success();
        record(&mut outputs, &args.join(" "), &run, false);
    }
    let run = home.run(&["jwt", "--profile", "s03"]);
    run.success();
    record(&mut outputs, "jwt --profile", &run, true);
    secrets.push(run.stdout().trim().to_owned());

    let run = home.run(&["service-principal", "rotate-secret", &id, "--save-profile", "s03"]);
    run.success();
    record(&mut outputs, "rotate-secret", &run, true);
    secrets.extend(section_value(&home, "s03", "client_secret"));

    // Failures carry no secrets either.
    let mut bad = Home::new(platform.url());
    bad.extra_env = vec![
        ("KOMODO_CLIENT_ID".into(), created["client_id"].as_str().unwrap().to_owned()),
        ("KOMODO_CLIENT_SECRET".into(), secrets[secrets.len() - 1].clone() + "-wrong"),
        ("KOMODO_ACCOUNT_ID".into(), account.id.clone()),
        ("KOMODO_LOG".into(), "trace".into()),
    ];
    let run = bad.run(&["jwt"]);
    assert_ne!(run.code(), 0);
    record(&mut outputs, "jwt with a wrong secret", &run, false);
    secrets.push(secrets[secrets.len() - 1].clone() + "-wrong");

    // SQL on the account's warehouse: a gateway session each, a failing
    // statement among them.
    for (args, code) in [
        (&["sql", "SELECT 1 AS ONE"][..], 0),
        (&["sql", "--profile", "s03", "-o", "json", "SELECT 2 AS TWO; SELECT 3"], 0),
        (&["sql", "SELECT * FROM NO_SUCH_TABLE"], 1),
    ] {
        let run = home.run(args);
        run.failure(code);
        record(&mut outputs, &args.join(" "), &run, false);
    }

    let run = home.run(&["logout"]);
    run.success();
    record(&mut outputs, "logout", &run, false);

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logs.contains("oauth"), "the platform logged nothing; the test would prove nothing");
    assert!(outputs.iter().any(|(_, o)| o.contains("TRACE") || o.contains("DEBUG")), "the CLI logged nothing");
    outputs.push(("platform logs".into(), logs));
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        for (what, output) in &outputs {
            assert!(!output.contains(secret.as_str()), "{what} contains a secret ({}...)", &secret[..6]);
        }
    }
    // Gateway session and master tokens, recognisable by their prefixes.
    for (what, output) in &outputs {
        assert!(!output.contains("kmd_st_") && !output.contains("kmd_mt_"), "{what} contains a gateway session token");
    }
}
