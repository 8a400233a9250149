//! The credentials file shared by real processes: concurrent writers,
//! writers killed mid-write, and one refresh for a hundred processes.
//!
//! Worker processes are this test binary run again with `--ignored --exact
//! processes::process_worker` and the job in `KOMODO_IT_WORKER`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use komodo::BoxFuture;
use komodo::auth::{AuthArgs, Credential, CredentialChain, TokenEndpoint, TokenError, TokenSet};
use komodo::config::ProviderConfig;
use komodo::credentials::{CredentialsError, CredentialsStore, Document};
use komodo::env::Env;
use komodo::secret::{ClientSecret, RefreshToken};

const WORKER: &str = "KOMODO_IT_WORKER";
const WORKER_PATH: &str = "KOMODO_IT_PATH";
const WORKER_INDEX: &str = "KOMODO_IT_INDEX";

fn spawn_worker(job: &str, path: &Path, index: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "processes::process_worker", "--ignored", "--nocapture", "--test-threads=1", "-q"])
        .env(WORKER, job)
        .env(WORKER_PATH, path)
        .env(WORKER_INDEX, index.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn worker")
}

fn wait_for_go(dir: &Path) {
    let go = dir.join("go");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !go.exists() {
        assert!(Instant::now() < deadline, "no go signal");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The entry point of worker processes; does nothing in a normal run.
#[test]
#[ignore = "run as a worker process by the tests of this module"]
fn process_worker() {
    let Ok(job) = std::env::var(WORKER) else { return };
    let path = PathBuf::from(std::env::var(WORKER_PATH).unwrap());
    let index: usize = std::env::var(WORKER_INDEX).unwrap().parse().unwrap();
    let store = CredentialsStore::new(&path);
    let set = |doc: &mut Document, s: &str, k: &str, v: &str| -> Result<(), CredentialsError> {
        doc.set(s, k, v).map(drop).map_err(|source| CredentialsError::Edit { path: path.clone(), source })
    };
    match job.as_str() {
        "write" => {
            wait_for_go(path.parent().unwrap());
            for i in 0..50 {
                store
                    .update(|doc| set(doc, &format!("profile{index}"), &format!("key{i}"), &format!("value{i}")))
                    .unwrap();
            }
        }
        "count-forever" => loop {
            store
                .update(|doc| {
                    let n: u64 = doc.get("counter", "n").unwrap_or("0").parse().unwrap();
                    set(doc, "counter", "n", &(n + 1).to_string())
                })
                .unwrap();
        },
        "refresh" => {
            let dir = path.parent().unwrap().to_owned();
            let env = Env::from_slice(&[("HOME", "/nonexistent"), ("KOMODO_CREDENTIALS_PATH", path.to_str().unwrap())]);
            let chain =
                CredentialChain::cli(ProviderConfig::new(env), Some(Arc::new(CountingEndpoint { dir: dir.clone() })));
            wait_for_go(&dir);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let resolved = runtime.block_on(chain.resolve(&AuthArgs::new())).unwrap();
            let Credential::Token { access_token, .. } = resolved.credential else { panic!("not a token") };
            println!("TOKEN={}", access_token.expose_secret());
        }
        other => panic!("unknown job {other}"),
    }
}

/// A token endpoint that records every call in a file shared by all
/// worker processes, and takes long enough for the others to pile up.
#[derive(Debug)]
struct CountingEndpoint {
    dir: PathBuf,
}

impl TokenEndpoint for CountingEndpoint {
    fn refresh<'a>(&'a self, _: Option<&'a str>, _: &'a RefreshToken) -> BoxFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(async move {
            let mut log = OpenOptions::new().create(true).append(true).open(self.dir.join("refresh-calls")).unwrap();
            writeln!(log, "{}", std::process::id()).unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok(TokenSet {
                access_token: format!("new-token-from-{}", std::process::id()).into(),
                expires_at: Some(std::time::SystemTime::now() + Duration::from_secs(3600)),
                refresh_token: Some("rotated".into()),
            })
        })
    }

    fn client_credentials<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
        _: &'a ClientSecret,
    ) -> BoxFuture<'a, Result<TokenSet, TokenError>> {
        unreachable!("the refresh workers hold a login, not client credentials")
    }
}

#[test]
fn concurrent_writers_to_different_profiles_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(&path, "# shared by twenty writers\n[default]\naccount_id = keep-me\n").unwrap();
    let children: Vec<Child> = (0..20).map(|i| spawn_worker("write", &path, i)).collect();
    fs::write(dir.path().join("go"), "").unwrap();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "worker failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let doc = CredentialsStore::new(&path).read().unwrap().unwrap();
    assert_eq!(doc.get("default", "account_id"), Some("keep-me"));
    assert!(doc.render().starts_with("# shared by twenty writers\n"));
    for p in 0..20 {
        for k in 0..50 {
            let value = doc.get(&format!("profile{p}"), &format!("key{k}"));
            assert_eq!(value, Some(format!("value{k}").as_str()), "profile{p}.key{k} lost");
        }
    }
}

/// Whether a writer's temporary file is in `dir`: a write began and has
/// not been renamed into place.
fn has_temporary(dir: &Path) -> bool {
    fs::read_dir(dir).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with(".credentials.tmp"))
}

#[test]
fn writers_killed_mid_write_never_corrupt_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    // A large file makes each write take long enough to be interrupted.
    let mut text = String::from("[default]\ntoken = keep-this-token\n\n[padding]\n");
    for i in 0..2000 {
        text.push_str(&format!("key{i} = {}\n", "x".repeat(40)));
    }
    fs::write(&path, &text).unwrap();
    let untouched = |doc: &Document| {
        doc.get("default", "token") == Some("keep-this-token")
            && doc.section("padding").unwrap().entries().count() == 2000
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut last = 0u64;
    let mut interrupted = 0;
    for round in 0..100 {
        let mut child = spawn_worker("count-forever", &path, round);
        // Wait until this writer has completed a write, then let it run a
        // random while longer, so the kill lands anywhere in a write.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let doc = CredentialsStore::new(&path).read().unwrap().unwrap();
            if doc.get("counter", "n").unwrap_or("0").parse::<u64>().unwrap() > last {
                break;
            }
            assert!(Instant::now() < deadline, "round {round}: the writer never wrote");
            std::thread::sleep(Duration::from_millis(1));
        }
        if round % 2 == 0 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            std::thread::sleep(Duration::from_micros(seed % 30_000));
        } else {
            // Aim: kill as soon as a temporary file shows that a write has
            // begun. Where writes are quick (a file system on which fsync
            // costs nothing), random kills alone rarely land inside one.
            let deadline = Instant::now() + Duration::from_secs(5);
            while !has_temporary(dir.path()) && Instant::now() < deadline {
                std::hint::spin_loop();
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        interrupted += usize::from(has_temporary(dir.path()));
        let doc = CredentialsStore::new(&path)
            .read()
            .unwrap_or_else(|e| panic!("round {round}: the file no longer parses: {e}"))
            .unwrap();
        assert!(untouched(&doc), "round {round}: other profiles changed");
        let n: u64 = doc.get("counter", "n").unwrap_or("0").parse().unwrap();
        assert!(n > last, "round {round}: the counter went back from {last} to {n}");
        last = n;
    }
    // The kills must really have landed mid-write for this test to mean anything.
    assert!(interrupted > 0, "no kill interrupted a write");
}

#[test]
fn a_hundred_processes_share_one_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials");
    fs::write(
        &path,
        "[default]\ntoken = expired-token\ntoken_expiration = 1000\nrefresh_token = old-refresh\naccount_id = a\n",
    )
    .unwrap();
    let children: Vec<Child> = (0..100).map(|i| spawn_worker("refresh", &path, i)).collect();
    fs::write(dir.path().join("go"), "").unwrap();
    let mut tokens = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "worker failed: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let token = stdout.lines().find_map(|l| l.strip_prefix("TOKEN=")).expect("worker printed no token");
        tokens.push(token.to_owned());
    }
    let calls = fs::read_to_string(dir.path().join("refresh-calls")).unwrap();
    assert_eq!(calls.lines().count(), 1, "the refresh ran more than once: {calls:?}");
    let expected = format!("new-token-from-{}", calls.trim());
    assert!(tokens.iter().all(|t| *t == expected), "not every process got the new token: {tokens:?}");
    let doc = CredentialsStore::new(&path).read().unwrap().unwrap();
    assert_eq!(doc.get("default", "token"), Some(expected.as_str()));
    assert_eq!(doc.get("default", "refresh_token"), Some("rotated"));
}
