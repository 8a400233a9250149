//! Data-driven credential chain scenarios.
//!
//! Each directory under `tests/chain/` is one scenario:
//!
//! - `env`: `NAME=value` lines (`$HOME` expands to the scenario's temporary
//!   home directory, which is always set as `HOME`);
//! - `credentials`: the contents of `$HOME/.komodo/credentials`, if any;
//! - `args`: `name = value` lines, the arguments of the call (`""` is the
//!   empty string);
//! - `expected`: `key = value` lines, the expected outcome: `chain` (`sdk`,
//!   the default, or `cli`), `winner`, `credential` (`token VALUE` or
//!   `client ID SECRET`), `account_id` (or `none`), `shadowed` (a comma
//!   list or `none`), `error` (the `AuthError` variant), `message` (a
//!   substring of the error, may repeat), `refreshes`, `logins`, `file`
//!   (`unchanged` or `absent`), and `file.SECTION.KEY` (a value after the
//!   call).

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use komodo::auth::{AuthArgs, AuthError, Credential, CredentialChain, ResolvedCredentials, Source, WebLogin};
use komodo::clock::ManualClock;
use komodo::config::ProviderConfig;
use komodo::credentials::CredentialsStore;
use komodo::env::Env;

use crate::fakes::{FakeEndpoint, FakeLogin, NOW};

fn key_values(text: &str, separator: char) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once(separator).unwrap_or_else(|| panic!("bad line {l:?}"));
            let v = v.trim();
            let v = if v == "\"\"" { String::new() } else { v.to_owned() };
            (k.trim().to_owned(), v)
        })
        .collect()
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Arguments => "arguments",
        Source::Environment => "environment",
        Source::DefaultProfile => "default",
        Source::WebLogin => "web-login",
    }
}

fn error_kind(err: &AuthError) -> &'static str {
    match err {
        AuthError::InvalidArguments(_) => "InvalidArguments",
        AuthError::InvalidEnvironment(_) => "InvalidEnvironment",
        AuthError::ProfileNotFound { .. } => "ProfileNotFound",
        AuthError::ProfileHoldsToken { .. } => "ProfileHoldsToken",
        AuthError::Credentials(_) => "Credentials",
        AuthError::UnsetAccount { .. } => "UnsetAccount",
        AuthError::LoginRequired { .. } => "LoginRequired",
        AuthError::Refresh(_) => "Refresh",
        AuthError::Login(_) => "Login",
        _ => "Other",
    }
}

fn describe_credential(credential: &Credential) -> String {
    match credential {
        Credential::Token { access_token, .. } => format!("token {}", access_token.expose_secret()),
        Credential::ClientCredentials { client_id, client_secret } => {
            format!("client {client_id} {}", client_secret.expose_secret())
        }
    }
}

async fn run_scenario(dir: &Path) -> Result<(), String> {
    let read = |name: &str| fs::read_to_string(dir.join(name)).ok();
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let home_str = home.path().to_str().unwrap().to_owned();

    let mut vars: Vec<(String, String)> = vec![("HOME".into(), home_str.clone())];
    for (k, v) in key_values(&read("env").unwrap_or_default(), '=') {
        vars.push((k, v.replace("$HOME", &home_str)));
    }
    let env_slice: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let env = Env::from_slice(&env_slice);
    let store = CredentialsStore::locate(&env).map_err(|e| e.to_string())?;
    let original = read("credentials");
    if let Some(text) = &original {
        fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        fs::write(store.path(), text).unwrap();
    }

    let mut args = AuthArgs::new();
    for (k, v) in key_values(&read("args").unwrap_or_default(), '=') {
        args = match k.as_str() {
            "jwt" => args.jwt(v),
            "client_id" => args.client_id(v),
            "client_secret" => args.client_secret(v),
            "account_id" => args.account_id(v),
            "profile" => args.profile(v),
            other => return Err(format!("unknown argument {other}")),
        };
    }

    let expected = key_values(&read("expected").ok_or("no `expected` file")?, '=');
    let get = |key: &str| expected.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let endpoint = Arc::new(FakeEndpoint::default());
    let login = Arc::new(FakeLogin::default());
    let config = ProviderConfig::new(env).with_clock(Arc::new(ManualClock::at_unix(NOW)));
    let chain = match get("chain").unwrap_or("sdk") {
        "sdk" => CredentialChain::sdk(config, Some(endpoint.clone()), Arc::new(WebLogin::new(login.clone(), None))),
        "cli" => CredentialChain::cli(config, Some(endpoint.clone())),
        other => return Err(format!("unknown chain {other}")),
    };
    let result = chain.resolve(&args).await;

    let mut failures = Vec::new();
    match (&result, get("error")) {
        (Ok(resolved), None) => check_resolved(resolved, &expected, &mut failures),
        (Err(err), Some(kind)) => {
            check(&mut failures, "error", kind, error_kind(err).to_owned());
            let message = err.to_string();
            for (_, want) in expected.iter().filter(|(k, _)| k == "message") {
                if !message.contains(want.as_str()) {
                    failures.push(format!("message: expected it to contain {want:?}, got {message:?}"));
                }
            }
        }
        (Ok(resolved), Some(kind)) => failures.push(format!("expected error {kind}, got {resolved:?}")),
        (Err(err), None) => failures.push(format!("unexpected error: {err}")),
    }
    if let Some(want) = get("refreshes") {
        check(&mut failures, "refreshes", want, endpoint.calls.load(Ordering::SeqCst).to_string());
    }
    if let Some(want) = get("logins") {
        check(&mut failures, "logins", want, login.logins.load(Ordering::SeqCst).to_string());
    }
    let after = fs::read_to_string(store.path()).ok();
    match get("file") {
        Some("unchanged") if after != original => failures.push(format!("file changed: {after:?}")),
        Some("absent") if after.is_some() || store.path().parent().is_some_and(Path::exists) => {
            failures.push("the credentials file or its directory was created".into())
        }
        Some("unchanged" | "absent") | None => {}
        Some(other) => failures.push(format!("unknown file expectation {other}")),
    }
    for (key, want) in expected.iter().filter(|(k, _)| k.starts_with("file.")) {
        let (section, name) = key["file.".len()..].split_once('.').unwrap();
        let doc = store.read().map_err(|e| e.to_string())?.unwrap_or_default();
        check(&mut failures, key, want, doc.get(section, name).unwrap_or("<missing>").to_owned());
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("\n    ")) }
}

fn check(failures: &mut Vec<String>, what: &str, want: &str, got: String) {
    if want != got {
        failures.push(format!("{what}: expected {want:?}, got {got:?}"));
    }
}

fn check_resolved(resolved: &ResolvedCredentials, expected: &[(String, String)], failures: &mut Vec<String>) {
    for (key, want) in expected {
        match key.as_str() {
            "winner" => {
                let winner = resolved.provenance.winner().map_or("<none>", |(s, _)| source_name(s));
                check(failures, "winner", want, winner.to_owned());
            }
            "credential" => check(failures, "credential", want, describe_credential(&resolved.credential)),
            "account_id" => {
                check(failures, "account_id", want, resolved.account_id.clone().unwrap_or_else(|| "none".into()))
            }
            "shadowed" => {
                let shadowed: Vec<&str> = resolved.provenance.shadowed().map(|(s, _)| source_name(s)).collect();
                let got = if shadowed.is_empty() { "none".to_owned() } else { shadowed.join(", ") };
                check(failures, "shadowed", want, got);
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn chain_scenarios() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chain");
    let mut dirs: Vec<_> = fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 35, "expected the full scenario set, found {}", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        if let Err(why) = run_scenario(dir).await {
            failures.push(format!("{}:\n    {why}", dir.file_name().unwrap().to_string_lossy()));
        }
    }
    assert!(failures.is_empty(), "{} of {} scenarios failed:\n{}", failures.len(), dirs.len(), failures.join("\n"));
}

/// Many connections asking at once cause one interactive login.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn web_login_is_single_flight_per_process() {
    let home = tempfile::tempdir().unwrap();
    let env = Env::from_slice(&[("HOME", home.path().to_str().unwrap())]);
    let login = Arc::new(FakeLogin::default());
    let chain = Arc::new(CredentialChain::sdk(
        ProviderConfig::new(env).with_clock(Arc::new(ManualClock::at_unix(NOW))),
        None,
        Arc::new(WebLogin::new(login.clone(), None)),
    ));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let chain = chain.clone();
            tokio::spawn(async move { chain.resolve(&AuthArgs::new().account_id("acct")).await })
        })
        .collect();
    for task in tasks {
        let resolved = task.await.unwrap().unwrap();
        assert_eq!(describe_credential(&resolved.credential), "token web-login-token");
    }
    assert_eq!(login.logins.load(Ordering::SeqCst), 1);
    assert!(!home.path().join(".komodo").exists(), "web login must not write credentials");
}

/// Callers waiting on a login that fails share its failure instead of each
/// opening a browser window; a later call may try again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_web_login_is_shared_by_waiting_callers() {
    let home = tempfile::tempdir().unwrap();
    let env = Env::from_slice(&[("HOME", home.path().to_str().unwrap())]);
    let login = Arc::new(FakeLogin { fail: true, ..FakeLogin::default() });
    let chain =
        Arc::new(CredentialChain::sdk(ProviderConfig::new(env), None, Arc::new(WebLogin::new(login.clone(), None))));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let chain = chain.clone();
            tokio::spawn(async move { chain.resolve(&AuthArgs::new().account_id("acct")).await })
        })
        .collect();
    for task in tasks {
        let err = task.await.unwrap().unwrap_err();
        assert!(matches!(err, AuthError::Login(_)), "{err}");
    }
    assert_eq!(login.logins.load(Ordering::SeqCst), 1);
    chain.resolve(&AuthArgs::new().account_id("acct")).await.unwrap_err();
    assert_eq!(login.logins.load(Ordering::SeqCst), 2);
}
