//! The seed's commands end to end: login (browser and device), jwt,
//! accounts, service principals, describe, logout.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use komodo_protocol::iam::Role;
use komodo_testkit::{Browser, Decision, Platform};

use crate::Home;

/// Starts `komodo ARGS` and returns it with a channel of its stderr lines.
fn spawn(home: &Home, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = home.command(args).stderr(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn wait_for_line(rx: &mpsc::Receiver<String>, what: impl Fn(&str) -> bool, seen: &mut Vec<String>) -> String {
    loop {
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("no such line in {seen:#?}"));
        seen.push(line.clone());
        if what(&line) {
            return line;
        }
    }
}

fn finish(mut child: Child, rx: &mpsc::Receiver<String>, seen: &mut Vec<String>) {
    let status = child.wait().unwrap();
    seen.extend(rx.try_iter());
    std::thread::sleep(Duration::from_millis(50));
    seen.extend(rx.try_iter());
    assert!(status.success(), "login failed: {seen:#?}");
}

fn get(text: &str, section: &str, key: &str) -> Option<String> {
    let doc = komodo::credentials::Document::parse(text).unwrap();
    doc.get(section, key).map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_login_then_accounts_service_principals_and_logout() {
    let platform = Platform::start().await;
    let user = platform.create_user("ada@example.com", "correct horse battery staple").await;
    let prod = platform.create_account("acme", "acme-prod").await;
    let dev = platform.create_account("acme", "acme-dev").await;
    platform.add_member(&prod.id, &user.email, Role::Admin).await;
    platform.add_member(&dev.id, &user.email, Role::Member).await;
    let home = Home::new(platform.url());
    home.write_credentials("# my Komodo credentials\n[default]\naccount_slug = stale\n");

    // Login: the CLI prints the address; a scripted browser logs in and
    // follows the redirect back to the CLI's loopback listener.
    let (child, rx) = spawn(&home, &["login", "--no-browser"]);
    let mut seen = Vec::new();
    let url = wait_for_line(&rx, |l| l.contains("/oauth/authorize?"), &mut seen);
    let browser = Browser::new(platform.url());
    let (redirect, status) =
        browser.authorize_and_follow(url.trim(), &user.email, &user.password, Decision::Approve).await.unwrap();
    assert!(redirect.as_str().starts_with("http://127.0.0.1:"), "{redirect}");
    assert_eq!(status, 200);
    finish(child, &rx, &mut seen);
    let all = seen.join("\n");
    assert!(all.contains("Logged in as ada@example.com"), "{all}");
    assert!(all.contains("choose one with `komodo account set`"), "{all}");
    let file = home.read_credentials();
    assert!(file.starts_with("# my Komodo credentials\n[default]\n"), "{file}");
    let token = get(&file, "default", "token").expect("token saved");
    assert!(get(&file, "default", "refresh_token").is_some());
    assert!(get(&file, "default", "token_expiration").unwrap().parse::<u64>().is_ok());
    assert_eq!(get(&file, "default", "account_slug"), None, "the stale account choice is dropped");

    // jwt: the token and nothing else on stdout.
    let jwt = home.run(&["jwt"]);
    jwt.success();
    assert_eq!(jwt.stdout(), format!("{token}\n"));

    // No account chosen yet: account get says how to choose one.
    let get_run = home.run(&["account", "get"]);
    get_run.failure(3);
    assert!(get_run.stderr().contains("run `komodo account set`"), "{}", get_run.stderr());

    let list = home.run(&["account", "list", "--output", "json"]);
    list.success();
    let orgs: serde_json::Value = serde_json::from_str(&list.stdout()).unwrap();
    let slugs: Vec<&str> =
        orgs[0]["accounts"].as_array().unwrap().iter().map(|a| a["slug"].as_str().unwrap()).collect();
    assert!(slugs.contains(&"acme-prod") && slugs.contains(&"acme-dev"), "{slugs:?}");

    home.run(&["account", "set", "nope"]).failure(5);
    home.run(&["account", "set"]).failure(2);
    home.run(&["account", "set", "acme-prod"]).success();
    let file = home.read_credentials();
    assert_eq!(get(&file, "default", "account_id").as_deref(), Some(prod.id.as_str()));
    let shown = home.run(&["account", "get"]);
    shown.success();
    assert_eq!(shown.stdout(), format!("{} (acme-prod)\n", prod.id));

    // A service principal saved as a named profile, exactly like the seed's [production].
    let created = home.run(&[
        "service-principal",
        "create",
        "--name",
        "ci",
        "--description",
        "CI jobs",
        "--save-profile",
        "ci",
        "--output",
        "json",
    ]);
    created.success();
    let created: serde_json::Value = serde_json::from_str(&created.stdout()).unwrap();
    let sp_id = created["service_principal_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("kmd_sp_"), "{secret}");
    let file = home.read_credentials();
    assert_eq!(get(&file, "ci", "client_id").as_deref(), created["client_id"].as_str());
    assert_eq!(get(&file, "ci", "client_secret").as_deref(), Some(secret.as_str()));
    assert_eq!(get(&file, "ci", "account_id").as_deref(), Some(prod.id.as_str()));
    assert_eq!(get(&file, "ci", "account_slug").as_deref(), Some("acme-prod"));
    // The same name again is refused before anything is created.
    home.run(&["service-principal", "create", "--name", "ci2", "--save-profile", "ci"]).failure(2);

    // Describe through the profile needs no connection at all.
    let mut offline = Home::new("http://127.0.0.1:9");
    offline.dir = tempfile::tempdir().unwrap();
    offline.write_credentials(&home.read_credentials());
    let described = offline.run(&["auth", "describe", "--profile", "ci"]);
    described.success();
    let text = described.stdout();
    assert!(text.contains("source      arguments (profile [ci] in"), "{text}");
    assert!(text.contains("credential  client credentials"), "{text}");
    assert!(text.contains("shadows     [default] profile (login token in"), "{text}");
    assert!(!text.contains(&secret), "describe printed the secret");
    let checked = home.run(&["whoami", "--profile", "ci", "--check"]);
    checked.success();
    assert!(checked.stdout().contains("verified    service principal ci"), "{}", checked.stdout());
    assert!(checked.stdout().contains("warehouse   embedded"), "{}", checked.stdout());

    let sp_token = home.run(&["jwt", "--profile", "ci"]);
    sp_token.success();
    let listed = home.run(&["service-principal", "list"]);
    listed.success();
    assert!(listed.stdout().contains(&sp_id), "{}", listed.stdout());

    // Rotation: the old secret stops working, the profile gets the new one.
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    home.run(&["service-principal", "rotate-secret", &sp_id, "--save-profile", "ci"]).success();
    let http = reqwest::Client::new();
    let grant = |secret: String| {
        let (http, url, client_id) = (http.clone(), platform.url_for("/oauth/token"), client_id.clone());
        async move {
            http.post(url)
                .basic_auth(client_id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(grant(secret.clone()).await, 401, "the old secret still works");
    let new_secret = get(&home.read_credentials(), "ci", "client_secret").unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(grant(new_secret).await, 200);
    home.run(&["jwt", "--profile", "ci"]).success();

    // Deletion: its credentials stop working at once.
    home.run(&["service-principal", "delete", &sp_id]).success();
    home.run(&["jwt", "--profile", "ci"]).failure(5);

    // Logout revokes the refresh token and keeps everything else.
    let refresh = get(&home.read_credentials(), "default", "refresh_token").unwrap();
    home.run(&["logout"]).success();
    let file = home.read_credentials();
    assert!(file.starts_with("# my Komodo credentials\n[default]\n"), "{file}");
    assert_eq!(get(&file, "default", "token"), None);
    assert_eq!(get(&file, "default", "refresh_token"), None);
    assert_eq!(get(&file, "default", "account_id").as_deref(), Some(prod.id.as_str()));
    assert!(get(&file, "ci", "client_id").is_some());
    let refreshed = http
        .post(platform.url_for("/oauth/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("client_id", "komodo-cli")])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 400, "the revoked refresh token still works");
    let jwt = home.run(&["jwt"]);
    jwt.failure(4);
    assert!(jwt.stderr().contains("run `komodo login`"), "{}", jwt.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_approved_over_http() {
    let platform = Platform::start().await;
    let user = platform.create_user("grace@example.com", "another long passphrase").await;
    let account = platform.create_account("navy", "navy-labs").await;
    platform.add_member(&account.id, &user.email, Role::Member).await;
    let home = Home::new(platform.url());

    let (child, rx) = spawn(&home, &["login", "--device"]);
    let mut seen = Vec::new();
    wait_for_line(&rx, |l| l.contains("/activate") && l.contains("enter the code"), &mut seen);
    wait_for_line(&rx, |l| l.trim().is_empty(), &mut seen);
    let code = wait_for_line(&rx, |l| !l.trim().is_empty(), &mut seen).trim().to_owned();
    Browser::new(platform.url()).approve_device(&code, &user.email, &user.password, Decision::Approve).await.unwrap();
    finish(child, &rx, &mut seen);
    let all = seen.join("\n");
    assert!(all.contains(&format!("Account: navy-labs ({})", account.id)), "{all}");

    // The only account was chosen: the seed's `account get` works at once.
    let got = home.run(&["account", "get", "--output", "json"]);
    got.success();
    let got: serde_json::Value = serde_json::from_str(&got.stdout()).unwrap();
    assert_eq!(got["account_id"], account.id.as_str());
    assert_eq!(got["account_slug"], "navy-labs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_denied_fails_and_writes_nothing() {
    let platform = Platform::start().await;
    let user = platform.create_user("mallory@example.com", "yet another passphrase").await;
    let home = Home::new(platform.url());
    let (mut child, rx) = spawn(&home, &["login", "--device"]);
    let mut seen = Vec::new();
    wait_for_line(&rx, |l| l.contains("enter the code"), &mut seen);
    wait_for_line(&rx, |l| l.trim().is_empty(), &mut seen);
    let code = wait_for_line(&rx, |l| !l.trim().is_empty(), &mut seen).trim().to_owned();
    Browser::new(platform.url()).approve_device(&code, &user.email, &user.password, Decision::Deny).await.ok();
    let status = child.wait().unwrap();
    seen.extend(rx.try_iter());
    assert_eq!(status.code(), Some(1), "{seen:#?}");
    assert!(!home.credentials().exists());
}

/// The real login page in a real browser: `BROWSER` is a script that drives
/// headless Chromium (Debian's package, through chromedriver) through the
/// sign-in and consent forms. `scripts/test` installs what it needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_completes_the_real_login_page() {
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(std::path::Path::new(tool).exists(), "{tool} is missing: run ./scripts/test, which installs it");
    }
    let platform = Platform::start().await;
    let user = platform.create_user("chromium@example.com", "a passphrase typed by a browser").await;
    let account = platform.create_account("web", "web-account").await;
    platform.add_member(&account.id, &user.email, Role::Member).await;
    let mut home = Home::new(platform.url());
    let log = home.dir.path().join("browser.log");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/chromium_login.py");
    home.extra_env = vec![
        ("BROWSER".into(), format!("python3 {script}")),
        ("KOMODO_TEST_EMAIL".into(), user.email.clone()),
        ("KOMODO_TEST_PASSWORD".into(), user.password.expose_secret().to_owned()),
        ("KOMODO_TEST_BROWSER_LOG".into(), log.to_str().unwrap().to_owned()),
    ];
    let home = home;
    let run = tokio::task::spawn_blocking(move || {
        let run = home.run(&["login"]);
        (run, home)
    })
    .await
    .unwrap();
    let (run, home) = run;
    // The CLI finishes as soon as the redirect arrives; the browser script
    // writes its log a moment later.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !log.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let browser = std::fs::read_to_string(&log).unwrap_or_else(|_| "the browser script wrote nothing".into());
    assert_eq!(run.code(), 0, "login failed\nstderr: {}\nbrowser: {browser}", run.stderr());
    assert_eq!(browser.trim(), "Logged in", "the browser did not land on the CLI's page: {browser}");
    assert!(run.stderr().contains("Opening your browser"), "{}", run.stderr());
    assert!(get(&home.read_credentials(), "default", "refresh_token").is_some());
    assert_eq!(get(&home.read_credentials(), "default", "account_id").as_deref(), Some(account.id.as_str()));
}

/// RFC 8628 §3.5 on the client side: polling faster than `interval` earns
/// `slow_down`, after which the client waits 5 s longer, and the approval
/// is still picked up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_client_obeys_slow_down() {
    use komodo::oauth::{CLI_SCOPES, DevicePoll, OAuthClient};

    let platform = Platform::start().await;
    let user = platform.create_user("turing@example.com", "an unguessable passphrase").await;
    let client = OAuthClient::new(reqwest::Client::new(), url::Url::parse(platform.url()).unwrap());
    let mut device = client.start_device(CLI_SCOPES).await.unwrap();
    assert_eq!(device.interval, Duration::from_secs(1));
    // Poll far too fast on purpose.
    device.interval = Duration::from_millis(10);
    let code = device.user_code.clone();
    let url = platform.url().to_owned();
    let approver = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Browser::new(&url).approve_device(&code, &user.email, &user.password, Decision::Approve).await.unwrap();
    });
    let started = std::time::Instant::now();
    let mut events = Vec::new();
    let tokens = client.poll_device(&device, |event| events.push(event)).await.unwrap();
    approver.await.unwrap();
    assert!(!tokens.access_token.is_empty());
    let slowed = events.iter().find_map(|e| match e {
        DevicePoll::SlowDown(interval) => Some(*interval),
        _ => None,
    });
    assert_eq!(slowed, Some(Duration::from_millis(5010)), "events: {events:?}");
    assert!(started.elapsed() >= Duration::from_secs(5), "the client did not wait after slow_down");
}
