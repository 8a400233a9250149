//! The HTTP transport under hostile clients: read deadlines and the
//! connection cap (F09), compressed gateway bodies (F10), and who may read
//! `/metrics`.

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use komodo_testkit::Platform;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::*;
use crate::gateway_client::{Session, gzip, post_bytes};

/// A request head cut short: the last empty line never comes.
const HALF_SENT: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";

/// Waits (generously) for the server to close `stream`; what it sent.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| received)
}

/// The value of an unlabelled counter or gauge in `/metrics` text.
fn metric(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn metrics_text(platform: &Platform) -> String {
    http().get(platform.url_for("/metrics")).send().await.unwrap().text().await.unwrap()
}

/// F09: a head that is never finished and a body that never arrives are
/// cut off by their deadlines; a kept-alive connection that sends nothing
/// more is closed too.
#[tokio::test]
async fn f09_request_heads_and_bodies_have_read_deadlines() {
    let platform = Platform::builder()
        .config(|c| {
            c.header_read_timeout = Duration::from_secs(1);
            c.body_read_timeout = Duration::from_secs(1);
            c.demo_claims = 0;
        })
        .start()
        .await;
    let addr = platform.url().trim_start_matches("http://").to_owned();

    let mut head = TcpStream::connect(&addr).await.unwrap();
    head.write_all(HALF_SENT).await.unwrap();
    assert!(
        closed_by_server(&mut head, Duration::from_secs(30)).await.is_some(),
        "a connection whose request head never ends is closed"
    );

    let mut body = TcpStream::connect(&addr).await.unwrap();
    body.write_all(
        b"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\ngrant_type",
    )
    .await
    .unwrap();
    let answer = closed_by_server(&mut body, Duration::from_secs(30))
        .await
        .expect("a connection whose request body never ends is answered and closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let answer = closed_by_server(&mut idle, Duration::from_secs(30))
        .await
        .expect("a kept-alive connection without a next request is closed");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

/// F09: a shutdown does not wait for connections that never sent a whole
/// request head (their head deadline may be far off).
#[tokio::test]
async fn f09_a_shutdown_does_not_wait_for_half_sent_connections() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = komodo_testkit::test_config(dir.path());
    config.demo_claims = 0;
    config.header_read_timeout = Duration::from_secs(600);
    let server = komodo_server::Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(HALF_SENT).await.unwrap();
    // Served: the connection is open and its head is being read.
    let served = reqwest::get(format!("http://{addr}/healthz")).await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the server stops without waiting for the half-sent head")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(closed_by_server(&mut half, Duration::from_secs(10)).await.is_some());
}

/// F09: more idle connections than the cap, kept alive after a request
/// or half-sent, do not keep a normal request out: connections without a
/// request in flight are closed to make room, and it shows in the metrics.
#[tokio::test]
async fn f09_connections_are_capped_and_idle_ones_make_room() {
    let platform = Platform::builder()
        .config(|c| {
            // Long enough that the head deadline frees nothing here.
            c.header_read_timeout = Duration::from_secs(300);
            c.max_connections = 20;
            c.demo_claims = 0;
        })
        .start()
        .await;
    let addr = platform.url().trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    // First the cap's worth of kept-alive connections, each answered once.
    for _ in 0..20 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
        idle.push(stream);
    }
    // Then half-sent heads, waiting behind them.
    for _ in 0..40 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(HALF_SENT).await.unwrap();
        idle.push(stream);
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let response = client.get(platform.url_for("/healthz")).send().await.expect("a normal request is served");
    assert_eq!(response.status(), StatusCode::OK);
    let metrics = client.get(platform.url_for("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metric(&metrics, "komodo_connection_limit_reached_total").is_some_and(|n| n >= 1.0), "{metrics}");
    assert!(metric(&metrics, "komodo_connections_shed_total").is_some_and(|n| n >= 20.0), "{metrics}");
    drop(idle);
}

/// Raises this process's open-file limit (for the client side of the
/// next test) where the hard limit allows.
fn allow_open_files(wanted: u64) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: both calls only read or write the struct on this frame.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// F09 as the review found it: the binary under a 1024 open-file limit,
/// 1,100 idle half-sent connections, then a normal request. It is
/// answered, the server says in its log that it lowered its connection cap
/// to fit the limit and that the cap was reached.
#[tokio::test]
async fn f09_eleven_hundred_half_sent_connections_do_not_starve_the_binary() {
    allow_open_files(4096);
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new("sh")
        .args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_komodo-server"))
        .args(["--listen", "127.0.0.1:0", "--demo-claims", "0", "--data-dir", dir.path().to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(server.stderr.take().unwrap());
    let mut transcript = String::new();
    let mut url = None;
    for _ in 0..200 {
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
    let log = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        rest
    });
    let addr = url.trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..1100 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream.write_all(HALF_SENT).await.unwrap();
        idle.push(stream);
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let response = client.get(format!("{url}/healthz")).send().await;
    let answered = matches!(&response, Ok(r) if r.status() == StatusCode::OK);
    drop(idle);
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = tokio::task::spawn_blocking(move || server.wait()).await;
    let log = format!("{transcript}{}", log.join().unwrap());
    assert!(answered, "a normal request behind 1,100 half-sent connections: {response:?}\n{log}");
    assert!(log.contains("--max-connections lowered"), "{log}");
    assert!(log.contains("connection limit reached"), "{log}");
}

/// F10: the credential comes before the body. A compressed body that
/// cannot even be inflated is answered with the credential's failure,
/// never with the body's, on every endpoint that has a credential.
#[tokio::test]
async fn f10_credentials_are_checked_before_a_compressed_body_is_inflated() {
    let platform = Platform::builder().config(|c| c.demo_claims = 0).start().await;
    let garbage = vec![0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff];
    let bomb = gzip(&vec![b' '; 100 << 20]);
    for body in [garbage.clone(), bomb.clone()] {
        for (path, authorization, code) in [
            ("/queries/v1/query-request", None, "390100"),
            ("/queries/v1/query-request", Some("Snowflake Token=\"kmd_st_forged\""), "390111"),
            ("/queries/v1/query-request", Some("Bearer not-a-token"), "390303"),
            ("/queries/v1/abort-request", Some("Snowflake Token=\"kmd_st_forged\""), "390111"),
            ("/session/token-request", Some("Snowflake Token=\"kmd_mt_forged\""), "390115"),
        ] {
            let answer = post_bytes(&platform.url_for(path), authorization, body.clone()).await;
            assert_eq!(answer["success"], false, "{path}: {answer}");
            assert_eq!(answer["code"], code, "{path} {authorization:?}: {answer}");
        }
    }
    // The login has no credential before its body; its body is capped
    // small, and inflating stops at the cap.
    let answer = post_bytes(&platform.url_for("/session/v1/login-request"), None, bomb.clone()).await;
    assert_eq!(answer["success"], false);
    assert!(answer["message"].as_str().unwrap().contains("larger than 1 MiB"), "{answer}");
    // With a valid session the body is inflated, up to the cap and no more.
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let session = Session::open(&platform, &token, &account).await;
    let url = platform.url_for("/queries/v1/query-request");
    let answer = post_bytes(&url, Some(&session.authorization()), bomb).await;
    assert_eq!(answer["success"], false);
    assert!(answer["message"].as_str().unwrap().contains("larger than 64 MiB"), "{answer}");
    let answer = post_bytes(&url, Some(&session.authorization()), garbage).await;
    assert!(answer["message"].as_str().unwrap().contains("cannot be decompressed"), "{answer}");
    assert_eq!(session.query("select 1").await["success"], true, "the session still works");
}

/// F10: a compressed body is inflated off the threads that serve other
/// requests. The platform and this test share one thread; while a large
/// body is being inflated, `/metrics` is still answered and shows it.
#[tokio::test(flavor = "current_thread")]
async fn f10_compressed_bodies_are_inflated_off_the_request_threads() {
    let platform = Platform::builder().config(|c| c.demo_claims = 0).start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let session = Session::open(&platform, &token, &account).await;
    // 60 MiB of JSON padding that inflates and parses slowly, then fails.
    let mut large = br#"{"sqlText": "select 1", "padding": ""#.to_vec();
    large.resize(60 << 20, b'x');
    let large = gzip(&large);
    let url = platform.url_for("/queries/v1/query-request");
    let mut seen_inflating = false;
    for _ in 0..5 {
        let (url, authorization, body) = (url.clone(), session.authorization(), large.clone());
        let sent = tokio::spawn(async move { post_bytes(&url, Some(&authorization), body).await });
        while !sent.is_finished() {
            let metrics = metrics_text(&platform).await;
            if metric(&metrics, "komodo_gateway_bodies_decoding").is_some_and(|n| n >= 1.0) {
                seen_inflating = true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let answer = sent.await.unwrap();
        assert_eq!(answer["success"], false, "{answer}");
        if seen_inflating {
            break;
        }
    }
    assert!(seen_inflating, "/metrics was never answered while a body was being inflated");
}

/// `/metrics` answers anyone by default (local use); with a token it asks
/// for it, and with an address of its own it is served only there.
#[tokio::test]
async fn metrics_need_the_token_or_their_own_address_when_configured() {
    let platform = Platform::builder().config(|c| c.demo_claims = 0).start().await;
    assert_eq!(http().get(platform.url_for("/metrics")).send().await.unwrap().status(), StatusCode::OK);

    let token = "a-metrics-token-of-some-length";
    let platform = Platform::builder()
        .config(move |c| {
            c.demo_claims = 0;
            c.metrics_token = komodo_server::config::MetricsToken::new(token);
        })
        .start()
        .await;
    let url = platform.url_for("/metrics");
    assert_eq!(http().get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let wrong = http().get(&url).bearer_auth("a-metrics-token-of-some-lengtH").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = http().get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert!(right.text().await.unwrap().contains("komodo_"));

    let dir = tempfile::tempdir().unwrap();
    let mut config = komodo_testkit::test_config(dir.path());
    config.demo_claims = 0;
    config.metrics_listen = Some("127.0.0.1:0".into());
    let server = komodo_server::Server::bind(config).await.unwrap();
    let (main, metrics) = (server.url(), server.metrics_addr().expect("a metrics address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let on_main = http().get(format!("{main}/metrics")).send().await.unwrap();
    assert_eq!(on_main.status(), StatusCode::NOT_FOUND, "not on the main address");
    assert_eq!(http().get(format!("{main}/healthz")).send().await.unwrap().status(), StatusCode::OK);
    let on_own = http().get(format!("http://{metrics}/metrics")).send().await.unwrap();
    assert_eq!(on_own.status(), StatusCode::OK);
    assert!(on_own.text().await.unwrap().contains("komodo_"));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), running).await.unwrap().unwrap().unwrap();
}
