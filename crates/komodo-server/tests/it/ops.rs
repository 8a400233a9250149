//! Operations endpoints, the binary (serve, admin, graceful shutdown) and
//! the no-secrets-in-logs rule (S03).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use komodo_protocol::oauth::{CLI_CLIENT_ID, GRANT_DEVICE_CODE};
use komodo_testkit::{Browser, Decision, Platform, pkce};
use reqwest::{Method, StatusCode};

use crate::common::*;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let platform = Platform::start().await;
    assert_eq!(http().get(platform.url_for("/healthz")).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(http().get(platform.url_for("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let account = platform.create_account("acme", "a").await;
    let sp = platform.create_service_principal(&account.slug, "etl").await;
    sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let metrics = http().get(platform.url_for("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("komodo_http_requests_total"), "{metrics}");
    // A histogram with buckets (replicas' figures add up), not a summary.
    assert!(metrics.contains("# TYPE komodo_http_request_duration_seconds histogram"), "{metrics}");
    assert!(metrics.contains("komodo_http_request_duration_seconds_bucket{"), "{metrics}");
    assert!(metrics.contains("komodo_tokens_issued_total"));
    let (status, body) = api(&platform, Method::GET, "/no/such/path", None, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn s03_no_secret_in_logs_at_the_most_verbose_level() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .json()
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only test that installs a subscriber");

    let platform = Platform::start().await;
    let mut secrets: Vec<String> = Vec::new();
    let (_, bootstrap_password) = platform.bootstrap_admin().expect("a fresh platform bootstraps");
    secrets.push(bootstrap_password.expose_secret().to_owned());
    secrets.push(std::fs::read_to_string(platform.data_dir().join("master.key")).unwrap().trim().to_owned());
    let ada = user(&platform, "ada@example.com").await;
    secrets.push(PASSWORD.to_owned());
    let account = platform.create_account("acme", "a").await;
    platform.add_member(&account.slug, &ada.email, komodo_protocol::iam::Role::Admin).await;
    let sp = platform.create_service_principal(&account.slug, "etl").await;
    secrets.push(sp.client_secret.expose_secret().to_owned());

    // Authorization code flow, with a failed login first.
    let pair = pkce::Pair::new();
    secrets.push(pair.verifier.clone());
    let browser = Browser::new(platform.url());
    let url = pkce::authorize_url(platform.url(), REDIRECT, "openid profile email offline_access", "st", &pair);
    let wrong = komodo_protocol::secret::Password::new("wrong-password-xyz");
    secrets.push(wrong.expose_secret().to_owned());
    assert!(browser.authorize(&url, &ada.email, &wrong, Decision::Approve).await.is_err());
    let redirect = browser.authorize(&url, &ada.email, &ada.password, Decision::Approve).await.unwrap();
    let code = query(&redirect, "code").unwrap();
    secrets.push(code.clone());
    let (_, tokens) = exchange_code(&platform, &code, &pair.verifier).await;
    for field in ["access_token", "refresh_token", "id_token"] {
        secrets.push(tokens[field].as_str().unwrap().to_owned());
    }
    let (_, refreshed) = refresh(&platform, tokens["refresh_token"].as_str().unwrap()).await;
    secrets.push(refreshed["access_token"].as_str().unwrap().to_owned());
    secrets.push(refreshed["refresh_token"].as_str().unwrap().to_owned());

    // Client credentials, a wrong secret, rotation, IAM calls.
    let sp_access = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    secrets.push(sp_access.clone());
    client_credentials(&platform, &sp.client_id, "kmd_sp_this-is-a-wrong-secret").await;
    secrets.push("kmd_sp_this-is-a-wrong-secret".into());
    let user_access = refreshed["access_token"].as_str().unwrap();
    let (_, rotated) = api(
        &platform,
        Method::POST,
        &format!("/internal/service-principals/{}/rotate-secret", sp.service_principal_id),
        Some(user_access),
        Some(&account.id),
        None,
    )
    .await;
    secrets.push(rotated["client_secret"].as_str().unwrap().to_owned());
    api(&platform, Method::GET, "/v1/iam/identity", Some(&sp_access), None, None).await;
    api(&platform, Method::GET, "/v1/iam/identity", Some("garbage.token.value-abcdef"), None, None).await;

    // Reuse (logged as a warning) and a code replay.
    refresh(&platform, tokens["refresh_token"].as_str().unwrap()).await;
    exchange_code(&platform, &code, &pair.verifier).await;
    // Device flow.
    let device: serde_json::Value = http()
        .post(platform.url_for("/oauth/device/code"))
        .form(&[("client_id", CLI_CLIENT_ID), ("scope", "openid offline_access")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_code = device["device_code"].as_str().unwrap().to_owned();
    secrets.push(device_code.clone());
    Browser::new(platform.url())
        .approve_device(device["user_code"].as_str().unwrap(), &ada.email, &ada.password, Decision::Approve)
        .await
        .unwrap();
    let (_, device_tokens) = token_request(
        &platform,
        &[("grant_type", GRANT_DEVICE_CODE), ("device_code", &device_code), ("client_id", CLI_CLIENT_ID)],
    )
    .await;
    secrets.push(device_tokens["access_token"].as_str().unwrap().to_owned());
    secrets.push(device_tokens["refresh_token"].as_str().unwrap().to_owned());
    // Revocation.
    http()
        .post(platform.url_for("/oauth/revoke"))
        .form(&[("token", device_tokens["refresh_token"].as_str().unwrap()), ("client_id", CLI_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    // An account on an upstream Snowflake warehouse: its JWTs, session and
    // master tokens (renewed once), chunk URLs and key stay out of the logs.
    let upstream_sp = platform.create_service_principal(&account.slug, "upstream-etl").await;
    secrets.push(upstream_sp.client_secret.expose_secret().to_owned());
    let upstream_access = sp_token(&platform, &upstream_sp.client_id, upstream_sp.client_secret.expose_secret()).await;
    secrets.push(upstream_access.clone());
    let up = upstream_run(&platform, &account.slug, &upstream_access).await;
    secrets.extend(up.seen.lock().unwrap().logins.iter().filter_map(|l| l["TOKEN"].as_str().map(str::to_owned)));
    secrets.extend(["upstream-session-token".into(), "upstream-master-token".into()]);
    secrets.extend([crate::fake_upstream::QRMK.into(), crate::fake_upstream::CHUNK_SIGNATURE.into(), up.url.clone()]);
    secrets.push(crate::fake_upstream::KEY.lines().nth(1).unwrap().to_owned());
    // Rotate keys and read the JWKS.
    platform.admin().rotate_keys().await.unwrap();
    http().get(platform.url_for("/.well-known/jwks.json")).send().await.unwrap();
    platform.stop().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("user signed in"), "the capture works: {} bytes", logs.len());
    assert!(logs.lines().count() > 20);
    for secret in &secrets {
        assert!(secret.len() >= 8);
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs: {}…", &secret[..6]);
        // JWT pieces (the signature) must not appear either.
        if let Some(signature) = secret.split('.').nth(2).filter(|_| secret.starts_with("eyJ"))
            && let Some(at) = logs.find(signature)
        {
            let line = logs[..at].rfind('\n').map_or(0, |n| n + 1);
            let end = logs[at..].find('\n').map_or(logs.len(), |n| at + n);
            let context: String = logs[line..end].chars().take(400).collect();
            panic!("a JWT's signature reached the logs: {}", context.replace(signature, "<signature>"));
        }
    }
}

/// A session of `access` on `account`, whose warehouse is a recording
/// upstream: statements, a chunked result, an expired upstream session
/// token renewed, an asynchronous query polled, the session's end.
async fn upstream_run(platform: &Platform, account: &str, access: &str) -> crate::fake_upstream::FakeUpstream {
    use crate::fake_upstream::{FakeUpstream, KEY};
    let key = komodo_server::upstream::keypair::SigningKey::from_pem(KEY, None).unwrap();
    let up = FakeUpstream::start(&key.public_key_pem()).await;
    let backend = komodo_server::admin::SnowflakeBackend {
        host: up.url.clone(),
        account_name: "xy12345".into(),
        user: "komodo_gateway".into(),
        private_key_pem: zeroize::Zeroizing::new(KEY.into()),
        passphrase: None,
        role: None,
        warehouse: None,
        database: None,
        schema: None,
    };
    platform.admin().set_warehouse_snowflake(account, &backend).await.unwrap();
    let account_id = platform.admin().show_warehouse(account).await.unwrap().account_id;
    let conn = crate::gateway::connect(platform, access, &account_id).await;
    assert_eq!(conn.rows("select 1").await, vec![vec![serde_json::json!("1")]]);
    assert_eq!(conn.rows("select chunked").await.len(), 5);
    up.expire_tokens.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(conn.rows("select 1").await.len(), 1);
    let submitted = conn.query_with("select 2", serde_json::json!({"asyncExec": true}), "r-1").await;
    let id = submitted["data"]["queryId"].as_str().unwrap().to_owned();
    while conn.get(&format!("/queries/{id}/result")).await["code"] == "333333" {}
    conn.post("/session?delete=true", &serde_json::json!({})).await;
    assert_eq!(up.seen.lock().unwrap().renewals, 1);
    assert_eq!(up.seen.lock().unwrap().chunks, 2);
    up
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_komodo-server"))
}

fn admin(data_dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = binary()
        .args(["admin", "--data-dir", data_dir.to_str().unwrap(), "--output", "json"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn binary_serves_admin_commands_work_while_it_runs_and_sigterm_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = binary()
        .args(["--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap(), "--log-format", "json"])
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut url = None;
    let mut transcript = String::new();
    for _ in 0..20_000 {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        transcript.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("listening on ") {
            url = Some(rest.to_owned());
            break;
        }
    }
    let url = url.unwrap_or_else(|| panic!("no `listening on` line:\n{transcript}"));
    assert!(url.starts_with("http://127.0.0.1:"));
    assert!(transcript.contains("one-time password"), "{transcript}");
    // Keep draining stderr so the server never blocks on a full pipe.
    let drained = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        rest
    });

    let d = dir.path();
    let (ok, out, err) = admin(d, &["create-org", "--name", "Acme", "--slug", "acme"], None);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["slug"], "acme");
    let (ok, out, err) =
        admin(d, &["create-account", "--org", "acme", "--name", "Analytics", "--slug", "analytics"], None);
    assert!(ok, "{err}");
    let account_id =
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["account_id"].as_str().unwrap().to_owned();
    let (ok, _, err) = admin(
        d,
        &["create-user", "--email", "eve@example.com", "--name", "Eve", "--password-stdin"],
        Some("a long password\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) =
        admin(d, &["add-member", "--account", &account_id, "--email", "eve@example.com", "--role", "admin"], None);
    assert!(ok, "{err}");
    let (ok, out, err) = admin(
        d,
        &["create-service-principal", "--account", "analytics", "--name", "etl", "--description", "nightly"],
        None,
    );
    assert!(ok, "{err}");
    let sp: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(sp["client_secret"].as_str().unwrap().starts_with("kmd_sp_"));
    assert!(sp["service_principal_id"].is_string() && sp["client_id"].is_string());
    let (ok, _, err) =
        admin(d, &["reset-password", "--email", "eve@example.com", "--password-stdin"], Some("another long password"));
    assert!(ok, "{err}");
    let (ok, out, err) = admin(d, &["rotate-keys"], None);
    assert!(ok, "{err}");
    assert!(out.contains("kid"));
    // Errors are clear and fail.
    let (ok, _, err) =
        admin(d, &["add-member", "--account", "nope", "--email", "eve@example.com", "--role", "member"], None);
    assert!(!ok);
    assert!(err.contains("account `nope` not found"), "{err}");
    let (ok, _, err) = admin(d, &["create-org", "--name", "Acme", "--slug", "acme"], None);
    assert!(!ok && err.contains("already exists"), "{err}");

    // An account's warehouse: an upstream Snowflake account with an
    // encrypted key (its passphrase on stdin), shown without the key, and
    // back to the embedded one.
    let key_file = dir.path().join("upstream.p8");
    std::fs::write(&key_file, include_str!("../../src/upstream/testdata/test_key_encrypted.p8")).unwrap();
    let set = |stdin: Option<&str>| {
        let mut args = vec!["set-warehouse", "--account", "analytics", "snowflake", "--host"];
        args.extend(["https://xy12345.snowflakecomputing.com", "--account-name", "xy12345", "--user", "KOMODO_GW"]);
        args.extend(["--private-key-file", key_file.to_str().unwrap(), "--warehouse", "COMPUTE_WH"]);
        if stdin.is_some() {
            args.push("--private-key-passphrase-stdin");
        }
        admin(d, &args, stdin)
    };
    let (ok, _, err) = set(None);
    assert!(!ok && err.contains("passphrase"), "an encrypted key without its passphrase: {err}");
    let (ok, out, err) = set(Some("komodo test\n"));
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["backend"], "snowflake");
    assert_eq!(shown["snowflake"]["key_fingerprint"], crate::fake_upstream::FINGERPRINT);
    let (ok, out, err) = admin(d, &["show-warehouse", "--account", "analytics"], None);
    assert!(ok && out.contains("COMPUTE_WH") && !out.contains("PRIVATE"), "{out}{err}");
    let (ok, out, err) = admin(d, &["set-warehouse", "--account", "analytics", "embedded"], None);
    assert!(ok && out.contains("\"embedded\""), "{out}{err}");

    // The running server sees what the admin commands created.
    let response = http()
        .post(format!("{url}/oauth/token"))
        .basic_auth(sp["client_id"].as_str().unwrap(), sp["client_secret"].as_str())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Graceful shutdown on SIGTERM.
    let pid = server.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap()).await.unwrap();
    assert!(status.success(), "exit status {status}");
    let rest = drained.join().unwrap();
    assert!(!rest.contains(sp["client_secret"].as_str().unwrap()));
    assert!(!rest.contains("a long password"));
}

#[test]
fn environment_variables_configure_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = binary()
        .env("KOMODO_SERVER_LISTEN", "127.0.0.1:0")
        .env("KOMODO_SERVER_DATA_DIR", dir.path())
        .env("KOMODO_SERVER_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut seen = String::new();
    let mut listening = None;
    for _ in 0..100 {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            listening = Some(url.to_owned());
            break;
        }
        // Log lines are JSON objects; the two announcements are plain text.
        if line.starts_with('{') {
            serde_json::from_str::<serde_json::Value>(&line).expect("a JSON log line");
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    let url = listening.unwrap_or_else(|| panic!("no `listening on` line:\n{seen}"));
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
    assert!(dir.path().join("master.key").exists() && dir.path().join("komodo.db").exists());
}

/// Reads one HTTP/1.1 response (headers and a `Content-Length` body) from
/// a raw connection.
async fn read_response(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed before a whole response: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn a_graceful_shutdown_finishes_requests_in_flight_and_closes_idle_connections() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let mut config = komodo_testkit::test_config(dir.path());
    config.demo_claims = 0;
    let server = komodo_server::Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    // Keep-alive connections, each answered twice and left open (idle)
    // when the shutdown comes.
    let mut connections = Vec::new();
    for _ in 0..7 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        for _ in 0..2 {
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
            let response = read_response(&mut stream).await;
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        }
        connections.push(stream);
    }
    // A request in flight: its head and half of its body arrive before the
    // shutdown, the rest after.
    let body = "grant_type=client_credentials&scope=api";
    let mut in_flight = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    stop.send(()).unwrap();
    let early = tokio::time::timeout(std::time::Duration::from_millis(500), &mut running).await;
    assert!(early.is_err(), "the server waits for the request in flight");
    in_flight.write_all(&body.as_bytes()[10..]).await.unwrap();
    let response = read_response(&mut in_flight).await;
    // Answered in full (no credentials: invalid_client), and the
    // connection is not kept.
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(response.contains("\"error\":\"invalid_client\""), "{response}");
    assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");
    let result = tokio::time::timeout(std::time::Duration::from_secs(10), running)
        .await
        .expect("the server stops once the request in flight is answered, although idle connections are open")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    for mut stream in connections {
        use tokio::io::AsyncReadExt;
        let mut rest = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(matches!(read, Ok(Ok(0))), "an idle connection is closed at shutdown: {read:?}");
    }
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "nothing listens after the shutdown");
}
