//! Test doubles of the two network pieces the providers use, the token
//! endpoint and the interactive login, and a configuration at a fixed
//! instant.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use komodo_protocol::secret::{AccessToken, ClientSecret, RefreshToken};

use crate::BoxFuture;
use crate::clock::ManualClock;
use crate::config::ProviderConfig;
use crate::env::Env;
use crate::oauth::{InteractiveLogin, LoginError, TokenEndpoint};
use crate::token::{TokenError, TokenSet, from_unix_seconds};

/// The instant the tests start at.
pub(crate) const NOW: u64 = 1_800_000_000;

/// A configuration with no environment and a clock standing at `at`.
pub(crate) fn config_at(at: u64) -> (ProviderConfig, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at_unix(at));
    (ProviderConfig::new(Env::from_slice(&[])).with_clock(clock.clone()), clock)
}

/// An unsigned JWT whose `exp` is `exp`.
pub(crate) fn jwt_expiring_at(exp: u64) -> AccessToken {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    AccessToken::new(format!("{}.{}.sig", b64(r#"{"alg":"ES256"}"#), b64(&format!(r#"{{"exp":{exp}}}"#))))
}

/// A token endpoint that hands out numbered tokens valid for an hour after
/// [`NOW`] and counts its calls. A refresh token or client secret spelled
/// `revoked` is refused with `invalid_grant`.
#[derive(Debug, Default)]
pub(crate) struct FakeEndpoint {
    pub refresh_calls: AtomicUsize,
    pub client_credentials_calls: AtomicUsize,
}

fn refused() -> TokenError {
    TokenError::Rejected { code: "invalid_grant".into(), description: None }
}

impl TokenEndpoint for FakeEndpoint {
    fn refresh<'a>(
        &'a self,
        _api_url: Option<&'a str>,
        refresh_token: &'a RefreshToken,
    ) -> BoxFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(async move {
            let n = self.refresh_calls.fetch_add(1, Ordering::SeqCst) + 1;
            if refresh_token.expose_secret() == "revoked" {
                return Err(refused());
            }
            Ok(TokenSet {
                access_token: format!("refreshed-token-{n}").into(),
                expires_at: Some(from_unix_seconds(NOW + 3600)),
                refresh_token: Some(format!("rotated-refresh-{n}").into()),
            })
        })
    }

    fn client_credentials<'a>(
        &'a self,
        _api_url: Option<&'a str>,
        client_id: &'a str,
        client_secret: &'a ClientSecret,
    ) -> BoxFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(async move {
            let n = self.client_credentials_calls.fetch_add(1, Ordering::SeqCst) + 1;
            if client_secret.expose_secret() == "revoked" {
                return Err(refused());
            }
            Ok(TokenSet {
                access_token: format!("{client_id}-token-{n}").into(),
                expires_at: Some(from_unix_seconds(NOW + 3600)),
                refresh_token: None,
            })
        })
    }
}

/// An interactive login that counts its runs and hands out numbered tokens,
/// slowly enough that concurrent callers overlap.
#[derive(Debug, Default)]
pub(crate) struct FakeLogin {
    pub logins: AtomicUsize,
}

impl InteractiveLogin for FakeLogin {
    fn login<'a>(&'a self, _api_url: Option<&'a str>) -> BoxFuture<'a, Result<TokenSet, LoginError>> {
        Box::pin(async move {
            let n = self.logins.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(TokenSet {
                access_token: format!("web-login-token-{n}").into(),
                expires_at: Some(from_unix_seconds(NOW + 3600)),
                refresh_token: None,
            })
        })
    }
}
