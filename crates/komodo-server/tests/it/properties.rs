//! Property tests for the parsers that read untrusted input (I01/I02 for the
//! server): bearer tokens, Basic credentials, redirect URIs, user codes.
//! None may panic; every bad input is an error.

use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use komodo_server::oidc::authorize::redirect_uri_matches;
use komodo_server::oidc::client_auth::presented;
use komodo_server::oidc::device::normalise_user_code;
use komodo_testkit::Platform;
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn arbitrary_and_mutated_tokens_are_rejected_without_panics() {
    let rt = runtime();
    let (platform, token) = rt.block_on(async {
        let platform = Platform::start().await;
        let account = platform.create_account("acme", "a").await;
        let sp = platform.create_service_principal(&account.slug, "etl").await;
        let token = platform.client_credentials(&sp.client_id, &sp.client_secret).await;
        (platform, token.access_token.expose_secret().to_owned())
    });
    let keys = platform.state().keys();
    assert!(rt.block_on(keys.verify_access_token(&token)).is_ok());
    let config = ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(junk in ".{0,300}", position in 0usize..2000, byte in any::<u8>())| {
        prop_assert!(rt.block_on(keys.verify_access_token(&junk)).is_err());
        // Any change of any byte of a valid token makes it invalid.
        let mut bytes = token.clone().into_bytes();
        let i = position % bytes.len();
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        if let Ok(mutated) = String::from_utf8(bytes) {
            prop_assert!(rt.block_on(keys.verify_access_token(&mutated)).is_err());
        }
    });
    // Structured junk: three base64url parts of arbitrary JSON-ish bytes.
    let config = ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(h in proptest::collection::vec(any::<u8>(), 0..64), c in proptest::collection::vec(any::<u8>(), 0..64), s in proptest::collection::vec(any::<u8>(), 0..80))| {
        let forged = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(h), URL_SAFE_NO_PAD.encode(c), URL_SAFE_NO_PAD.encode(s));
        prop_assert!(rt.block_on(keys.verify_access_token(&forged)).is_err());
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn basic_credentials_never_panic(raw in ".{0,120}", encoded in proptest::collection::vec(any::<u8>(), 0..90)) {
        for value in [format!("Basic {raw}"), format!("Basic {}", STANDARD.encode(&encoded)), raw.clone()] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                let mut headers = HeaderMap::new();
                headers.insert(AUTHORIZATION, value);
                let _ = presented(&headers, None, None);
                let _ = presented(&headers, Some("id"), None);
            }
        }
    }

    #[test]
    fn redirect_matching_only_frees_the_loopback_port(candidate in ".{0,120}", port in 1u16..) {
        let registered = vec!["http://127.0.0.1/callback".to_owned()];
        if redirect_uri_matches(&registered, &candidate) {
            let url = url::Url::parse(&candidate).unwrap();
            prop_assert_eq!(url.scheme(), "http");
            prop_assert_eq!(url.host_str(), Some("127.0.0.1"));
            prop_assert_eq!(url.path(), "/callback");
            prop_assert!(url.query().is_none() && url.fragment().is_none());
        }
        let with_port = format!("http://127.0.0.1:{port}/callback");
        prop_assert!(redirect_uri_matches(&registered, &with_port));
        let prefixed = format!("{with_port}{candidate}");
        if !candidate.is_empty() && redirect_uri_matches(&registered, &prefixed) {
            // Only input the URL parser normalises away can follow the path.
            let parsed = url::Url::parse(&prefixed).unwrap();
            prop_assert_eq!(parsed.path(), "/callback");
        }
    }

    #[test]
    fn user_code_normalisation_is_idempotent_and_case_free(input in ".{0,40}") {
        let once = normalise_user_code(&input);
        prop_assert_eq!(normalise_user_code(&once), once.clone());
        prop_assert_eq!(normalise_user_code(&input.to_ascii_lowercase()), normalise_user_code(&input.to_ascii_uppercase()));
        prop_assert!(!once.contains('-'));
    }
}
