//! Test doubles for the two pluggable network pieces of the chain: the
//! token endpoint and the interactive login. (The real ones talk to the
//! platform; these layers are tested against the real platform elsewhere.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use komodo::BoxFuture;
use komodo::auth::{InteractiveLogin, LoginError, TokenEndpoint, TokenError, TokenSet, from_unix_seconds};
use komodo::secret::{ClientSecret, RefreshToken};

/// The instant every scenario runs at.
pub const NOW: u64 = 1_800_000_000;

/// A token endpoint that rotates tokens and counts its calls. A refresh
/// token or a client secret spelled `revoked` is refused with
/// `invalid_grant`.
#[derive(Debug, Default)]
pub struct FakeEndpoint {
    pub calls: AtomicUsize,
}

impl TokenEndpoint for FakeEndpoint {
    fn refresh<'a>(
        &'a self,
        _api_url: Option<&'a str>,
        refresh_token: &'a RefreshToken,
    ) -> BoxFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if refresh_token.expose_secret() == "revoked" {
                return Err(TokenError::Rejected { code: "invalid_grant".into(), description: None });
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
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if client_secret.expose_secret() == "revoked" {
                return Err(TokenError::Rejected { code: "invalid_grant".into(), description: None });
            }
            Ok(TokenSet {
                access_token: format!("{client_id}-token-{n}").into(),
                expires_at: Some(from_unix_seconds(NOW + 3600)),
                refresh_token: None,
            })
        })
    }
}

/// An interactive login that counts how often it runs, slowly enough that
/// concurrent callers overlap.
#[derive(Debug, Default)]
pub struct FakeLogin {
    pub logins: AtomicUsize,
    pub fail: bool,
}

impl InteractiveLogin for FakeLogin {
    fn login<'a>(&'a self, _api_url: Option<&'a str>) -> BoxFuture<'a, Result<TokenSet, LoginError>> {
        Box::pin(async move {
            self.logins.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.fail {
                return Err(LoginError::Denied);
            }
            Ok(TokenSet {
                access_token: "web-login-token".into(),
                expires_at: Some(from_unix_seconds(NOW + 3600)),
                refresh_token: Some("web-login-refresh".into()),
            })
        })
    }
}
