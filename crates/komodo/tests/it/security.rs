//! SECURITY.md rules held by this layer: S03 (no secret in `Debug`, errors
//! or provenance) and S04 (a private credentials file and directory).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use komodo::auth::{AuthArgs, CredentialChain, WebLogin};
use komodo::clock::ManualClock;
use komodo::config::ProviderConfig;
use komodo::credentials::{CredentialsStore, Document, Profile};
use komodo::env::Env;

use crate::fakes::{FakeEndpoint, FakeLogin, NOW};

const SECRETS: &[&str] = &["tok-S3CR3T", "ref-S3CR3T", "cs-S3CR3T", "arg-S3CR3T", "env-S3CR3T"];

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks {secret}: {text}");
    }
}

#[tokio::test]
async fn s03_no_secret_in_debug_errors_or_provenance() {
    let home = tempfile::tempdir().unwrap();
    let file = format!(
        "[default]\ntoken = tok-S3CR3T\ntoken_expiration = {}\nrefresh_token = ref-S3CR3T\naccount_id = a\n\
         [ci]\nclient_id = ci\nclient_secret = cs-S3CR3T\naccount_id = b\n[bad]\nclient_secret = cs-S3CR3T\n",
        NOW - 100
    );
    let path = home.path().join(".komodo/credentials");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, &file).unwrap();
    let env = Env::from_slice(&[("HOME", home.path().to_str().unwrap()), ("KOMODO_CLIENT_SECRET", "env-S3CR3T")]);
    let chain = |env: Env| {
        CredentialChain::sdk(
            ProviderConfig::new(env).with_clock(Arc::new(ManualClock::at_unix(NOW))),
            Some(Arc::new(FakeEndpoint::default())),
            Arc::new(WebLogin::new(Arc::new(FakeLogin::default()), None)),
        )
    };

    // Errors: rules broken with secrets in hand, in arguments and in the environment.
    let with_secrets = AuthArgs::new().jwt("arg-S3CR3T").client_secret("arg-S3CR3T").account_id("a");
    let err = chain(env.clone()).resolve(&with_secrets).await.unwrap_err();
    assert_clean("argument error", &format!("{err} {err:?}"));
    let err = chain(env.clone()).resolve(&AuthArgs::new()).await.unwrap_err();
    assert_clean("environment error", &format!("{err} {err:?}"));
    let err = chain(Env::from_slice(&[("HOME", home.path().to_str().unwrap())]))
        .resolve(&AuthArgs::new().profile("bad"))
        .await
        .unwrap_err();
    assert_clean("profile error", &format!("{err} {err:?}"));

    // A resolution that refreshes: the result, its provenance and Debug.
    let resolved = chain(Env::from_slice(&[("HOME", home.path().to_str().unwrap())]))
        .resolve(&AuthArgs::new().account_id("x"))
        .await
        .unwrap();
    assert_clean("resolved credentials", &format!("{resolved:?} {}", resolved.provenance));
    let resolved = chain(Env::from_slice(&[("HOME", home.path().to_str().unwrap())]))
        .resolve(&AuthArgs::new().profile("ci"))
        .await
        .unwrap();
    assert_clean("profile credentials", &format!("{resolved:?} {}", resolved.provenance));

    // The file's own types.
    let doc = Document::parse(&file).unwrap();
    assert_clean("document", &format!("{doc:?}"));
    let profile = Profile::from_document(&doc, "default", &path).unwrap();
    assert_clean("profile", &format!("{profile:?}"));
    assert_clean("arguments", &format!("{with_secrets:?}"));
    assert_clean("environment", &format!("{env:?}"));
}

#[test]
fn s04_credentials_file_and_directory_are_private() {
    let home = tempfile::tempdir().unwrap();
    let store = CredentialsStore::locate(&Env::from_slice(&[("HOME", home.path().to_str().unwrap())])).unwrap();
    store
        .update(|doc| {
            doc.set("default", "token", "t").unwrap();
            Ok(())
        })
        .unwrap();
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(store.path()), 0o600);
    assert_eq!(mode(store.path().parent().unwrap()), 0o700);
    assert!(store.permission_warnings().is_empty());

    // A file someone made world-readable is warned about, with the fix...
    fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
    let warnings = store.permission_warnings();
    assert_eq!(warnings.len(), 1);
    let message = warnings[0].to_string();
    assert!(message.contains("accessible by other users (mode 0644)"), "{message}");
    assert!(message.contains(&format!("chmod 600 {}", store.path().display())), "{message}");

    // ...and the next write makes it private again.
    store
        .update(|doc| {
            doc.set("default", "token", "t2").unwrap();
            Ok(())
        })
        .unwrap();
    assert_eq!(mode(store.path()), 0o600);

    // An open directory is warned about too.
    fs::set_permissions(store.path().parent().unwrap(), fs::Permissions::from_mode(0o755)).unwrap();
    let warnings = store.permission_warnings();
    assert!(warnings.iter().any(|w| w.directory && w.to_string().contains("chmod 700")), "{warnings:?}");
}

/// SECURITY.md I02 for the credentials file: each kind of damage gets an
/// error naming the path, line and problem, and no write touches the file.
#[test]
fn i02_malformed_credentials_get_a_clear_error_and_stay_untouched() {
    let cases: &[(&[u8], &str)] = &[
        (b"token = t\n", "line 1: property outside any section"),
        (b"[a]\nx = 1\n[a]\n", "line 3: section `[a]` is already defined on line 1"),
        (b"[a]\nx = 1\nx = 2\n", "line 3: key `x` is already set in section `[a]` on line 2"),
        (b"[a]\n\x00\x01\x02\n", "line 2: unexpected control character U+0000"),
        (b"[a]\nx = \xff\n", "line 2: the text is not valid UTF-8"),
        (b"[a\n", "line 1: malformed section header"),
    ];
    for (bytes, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        fs::write(&path, bytes).unwrap();
        let store = CredentialsStore::new(&path);
        let err = store
            .update(|doc| {
                doc.set("default", "token", "new").unwrap();
                Ok(())
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains(&path.display().to_string()) && err.contains(expected), "{err}");
        assert_eq!(fs::read(&path).unwrap(), *bytes, "the file changed");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2, "only the file and its lock may exist");
    }
}
