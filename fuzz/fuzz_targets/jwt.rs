//! SECURITY.md I01 for JWTs: the SDK's reading of `exp` and the platform's
//! access-token verification never panic, nothing the fuzzer writes
//! verifies, and claims of any shape signed with the platform's real key
//! (the fuzzer cannot forge a signature, so the claim checks behind it are
//! reached this way) verify only when they are exactly valid claims. The
//! property test `i01_jwt_parsers_never_panic` runs the same checks in CI.
#![no_main]

use std::sync::OnceLock;

use komodo_protocol::oauth::AccessTokenClaims;
use komodo_protocol::secret::AccessToken;
use komodo_server::{AppState, Config};
use libfuzzer_sys::fuzz_target;

/// A platform state (store and key ring) in a temporary directory, opened
/// once per fuzzing process.
struct Platform {
    runtime: tokio::runtime::Runtime,
    state: AppState,
    _dir: tempfile::TempDir,
}

fn platform() -> &'static Platform {
    static PLATFORM: OnceLock<Platform> = OnceLock::new();
    PLATFORM.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::new(dir.path());
        config.bootstrap = false;
        let (state, _) =
            runtime.block_on(AppState::open(config, "http://127.0.0.1:8787".into())).expect("the platform opens");
        Platform { runtime, state, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let platform = platform();
    let keys = platform.state.keys();
    let _ = komodo::auth::jwt_expiry(&AccessToken::new(text));
    let verified = platform.runtime.block_on(keys.verify_access_token(text));
    assert!(verified.is_err(), "a token the platform never signed verified");

    if let Ok(claims) = serde_json::from_str::<serde_json::Value>(text) {
        let token = platform.runtime.block_on(keys.sign("at+jwt", &claims)).expect("the platform signs");
        let _ = komodo::auth::jwt_expiry(&AccessToken::new(token.clone()));
        if let Ok(verified) = platform.runtime.block_on(keys.verify_access_token(&token)) {
            assert_eq!(serde_json::from_value::<AccessTokenClaims>(claims).ok(), Some(verified));
        }
    }
});
