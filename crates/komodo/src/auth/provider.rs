//! Token providers: what a source of credentials hands over with them, so
//! that a client can ask for a token now, and again when that one is due or
//! the platform refused it. Each source's renewal lives in its provider:
//!
//! - [`StaticToken`]: a token passed as it is (the `jwt` argument,
//!   `KOMODO_ACCESS_TOKEN`); nothing renews it.
//! - [`ClientCredentialsToken`]: service principal credentials, exchanged
//!   with the client credentials grant; tokens are shared by the process.
//! - [`SavedLoginToken`]: the login saved in a profile (`[default]`),
//!   refreshed with its refresh token once across all processes.
//! - [`WebLoginToken`]: the process's in-memory web login.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use aws_lc_rs::digest::{SHA256, digest};
use komodo_protocol::secret::{AccessToken, ClientSecret};
use parking_lot::Mutex;

use super::AuthError;
use super::refresh::{Refreshed, profile_expiry, refresh_profile};
use super::web_login::WebLogin;
use crate::BoxFuture;
use crate::config::ProviderConfig;
use crate::credentials::CredentialsStore;
use crate::oauth::TokenEndpoint;
use crate::token::{TokenSet, TokenState, format_time};

/// Produces a source's access token and renews it.
///
/// Asked for a token, a provider hands back one that can be sent now;
/// asked again with `refused` (a token the platform just refused, HTTP 401),
/// it must not hand that one back. A client keeps the provider behind a
/// [`TokenCache`](super::TokenCache) rather than asking it for every call.
pub trait ProvideToken: Send + Sync + fmt::Debug {
    /// A usable token set, renewed if the last one is due or was `refused`.
    fn provide_token<'a>(&'a self, refused: Option<&'a AccessToken>) -> BoxFuture<'a, Result<TokenSet, AuthError>>;

    /// Whether asking again can bring a different token (false for a token
    /// passed as it is).
    fn renews(&self) -> bool;
}

/// A token passed as it is: handed out until it expires. Nothing can renew
/// it, so an expired or refused token is an error saying where it came from.
#[derive(Debug, Clone)]
pub struct StaticToken {
    config: ProviderConfig,
    tokens: TokenSet,
    origin: String,
}

impl StaticToken {
    /// `access_token`, which came from `origin` (`` `jwt` ``,
    /// `KOMODO_ACCESS_TOKEN`); its expiry is read from the JWT.
    pub fn new(config: ProviderConfig, access_token: AccessToken, origin: impl Into<String>) -> Self {
        Self { config, tokens: TokenSet::from_jwt(access_token, None), origin: origin.into() }
    }

    /// The token set (its expiry included).
    pub fn tokens(&self) -> &TokenSet {
        &self.tokens
    }
}

impl ProvideToken for StaticToken {
    fn provide_token<'a>(&'a self, refused: Option<&'a AccessToken>) -> BoxFuture<'a, Result<TokenSet, AuthError>> {
        Box::pin(async move {
            let now = self.config.clock().now();
            match (self.tokens.state(now), self.tokens.expires_at) {
                (TokenState::Expired, Some(at)) => {
                    Err(AuthError::TokenExpired { origin: self.origin.clone(), at: format_time(at) })
                }
                _ if refused == Some(&self.tokens.access_token) => Err(AuthError::LoginExpired {
                    reason: format!("the platform refused the token passed as {}", self.origin),
                    source: None,
                }),
                _ => Ok(self.tokens.clone()),
            }
        })
    }

    fn renews(&self) -> bool {
        false
    }
}

/// Client credentials tokens, shared by every provider of the process:
/// keyed by platform, client id and a digest of the secret.
static CLIENT_CREDENTIALS_CACHE: LazyLock<Mutex<HashMap<String, TokenSet>>> = LazyLock::new(Default::default);

/// Service principal credentials: a token from the client credentials
/// grant, shared by every client of the process that holds the same
/// credentials, and requested again when it is due or refused.
#[derive(Debug, Clone)]
pub struct ClientCredentialsToken {
    config: ProviderConfig,
    endpoint: Arc<dyn TokenEndpoint>,
    api_url: Option<String>,
    client_id: String,
    client_secret: ClientSecret,
}

impl ClientCredentialsToken {
    /// Exchanges `client_id` and `client_secret` at `endpoint`, on the
    /// platform `api_url` (the configured one when `None`).
    pub fn new(
        config: ProviderConfig,
        endpoint: Arc<dyn TokenEndpoint>,
        api_url: Option<String>,
        client_id: impl Into<String>,
        client_secret: ClientSecret,
    ) -> Self {
        Self { config, endpoint, api_url, client_id: client_id.into(), client_secret }
    }

    /// The key of these credentials in the process's cache; never the
    /// secret itself.
    fn cache_key(&self) -> String {
        let platform = crate::platform::api_url(self.config.env(), self.api_url.as_deref())
            .map(|url| url.to_string())
            .unwrap_or_else(|_| self.api_url.clone().unwrap_or_default());
        let fingerprint = digest(&SHA256, self.client_secret.expose_secret().as_bytes());
        let hex: String = fingerprint.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        format!("{platform}|{}|{hex}", self.client_id)
    }
}

impl ProvideToken for ClientCredentialsToken {
    fn provide_token<'a>(&'a self, refused: Option<&'a AccessToken>) -> BoxFuture<'a, Result<TokenSet, AuthError>> {
        Box::pin(async move {
            let key = self.cache_key();
            let now = self.config.clock().now();
            if let Some(tokens) = CLIENT_CREDENTIALS_CACHE.lock().get(&key)
                && !tokens.state(now).needs_refresh()
                && refused.is_none_or(|r| *r != tokens.access_token)
            {
                return Ok(tokens.clone());
            }
            let tokens = self
                .endpoint
                .client_credentials(self.api_url.as_deref(), &self.client_id, &self.client_secret)
                .await
                .map_err(AuthError::Token)?;
            CLIENT_CREDENTIALS_CACHE.lock().insert(key, tokens.clone());
            Ok(tokens)
        })
    }

    fn renews(&self) -> bool {
        true
    }
}

/// The login saved in a profile of the credentials file (`[default]`, as
/// `komodo login` wrote it): its token, refreshed with its refresh token
/// when due, once across every process sharing the file, and written back.
#[derive(Debug, Clone)]
pub struct SavedLoginToken {
    config: ProviderConfig,
    endpoint: Arc<dyn TokenEndpoint>,
    store: CredentialsStore,
    profile: String,
}

impl SavedLoginToken {
    /// The login saved in profile `profile` of `store`, refreshed at
    /// `endpoint`.
    pub fn new(
        config: ProviderConfig,
        endpoint: Arc<dyn TokenEndpoint>,
        store: CredentialsStore,
        profile: impl Into<String>,
    ) -> Self {
        Self { config, endpoint, store, profile: profile.into() }
    }
}

impl ProvideToken for SavedLoginToken {
    fn provide_token<'a>(&'a self, refused: Option<&'a AccessToken>) -> BoxFuture<'a, Result<TokenSet, AuthError>> {
        Box::pin(async move {
            let refreshed =
                refresh_profile(&self.store, &self.profile, self.config.clock(), &*self.endpoint, refused).await?;
            match refreshed {
                Refreshed::Token { profile, .. } => Ok(TokenSet {
                    expires_at: profile_expiry(&profile),
                    access_token: profile.token.unwrap_or_else(|| "".into()),
                    refresh_token: profile.refresh_token,
                }),
                Refreshed::NoRefreshToken(_) => Err(AuthError::LoginExpired {
                    reason: "the saved login has expired and holds no refresh token".into(),
                    source: None,
                }),
                Refreshed::Rejected(err) => {
                    Err(AuthError::LoginExpired { reason: "the saved login was refused".into(), source: Some(err) })
                }
            }
        })
    }

    fn renews(&self) -> bool {
        true
    }
}

/// The process's in-memory web login: its tokens, refreshed in memory or
/// logged in again when they run out. Nothing is written to disk.
#[derive(Debug, Clone)]
pub struct WebLoginToken {
    config: ProviderConfig,
    login: Arc<WebLogin>,
    api_url: Option<String>,
}

impl WebLoginToken {
    /// The tokens of `login`, against the platform `api_url` (the
    /// configured one when `None`).
    pub fn new(config: ProviderConfig, login: Arc<WebLogin>, api_url: Option<String>) -> Self {
        Self { config, login, api_url }
    }
}

impl ProvideToken for WebLoginToken {
    fn provide_token<'a>(&'a self, refused: Option<&'a AccessToken>) -> BoxFuture<'a, Result<TokenSet, AuthError>> {
        Box::pin(self.login.tokens_unless_refused(self.api_url.as_deref(), self.config.clock(), refused))
    }

    fn renews(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::*;
    use crate::auth::fakes::{FakeEndpoint, FakeLogin, NOW, config_at, jwt_expiring_at};
    use crate::token::{TokenError, from_unix_seconds};

    #[tokio::test]
    async fn a_static_token_is_handed_out_until_it_expires_or_is_refused() {
        let (config, clock) = config_at(NOW);
        let token = jwt_expiring_at(NOW + 120);
        let provider = StaticToken::new(config, token.clone(), "`jwt`");
        assert!(!provider.renews());
        // Inside the refresh window it is still handed out: nothing can renew it.
        assert_eq!(provider.provide_token(None).await.unwrap().access_token, token);
        let err = provider.provide_token(Some(&token)).await.unwrap_err();
        assert!(matches!(err, AuthError::LoginExpired { source: None, .. }), "{err:?}");
        assert!(err.to_string().contains("the platform refused the token passed as `jwt`"), "{err}");
        // Another token refused is not this one's business.
        assert!(provider.provide_token(Some(&AccessToken::new("other"))).await.is_ok());
        clock.advance(Duration::from_secs(120));
        let err = provider.provide_token(None).await.unwrap_err();
        assert!(matches!(&err, AuthError::TokenExpired { origin, .. } if origin == "`jwt`"), "{err:?}");
        assert!(err.is_login_required());
    }

    #[tokio::test]
    async fn client_credentials_tokens_are_shared_until_due_or_refused() {
        let (config, clock) = config_at(NOW);
        let endpoint = Arc::new(FakeEndpoint::default());
        // A client id of its own: the cache is the process's.
        let provider = |secret: &str| {
            ClientCredentialsToken::new(
                config.clone(),
                endpoint.clone(),
                None,
                "provider-test-shared",
                ClientSecret::new(secret),
            )
        };
        let first = provider("s1").provide_token(None).await.unwrap();
        // Another provider holding the same credentials gets the same token.
        assert_eq!(provider("s1").provide_token(None).await.unwrap(), first);
        assert_eq!(endpoint.client_credentials_calls.load(Ordering::SeqCst), 1);
        // Another secret is other credentials.
        assert_ne!(provider("s2").provide_token(None).await.unwrap(), first);
        assert_eq!(endpoint.client_credentials_calls.load(Ordering::SeqCst), 2);
        // Refused: a new grant.
        let renewed = provider("s1").provide_token(Some(&first.access_token)).await.unwrap();
        assert_ne!(renewed, first);
        // Due (inside the refresh window): a new grant.
        clock.advance(Duration::from_secs(3600 - 200));
        let later = provider("s1").provide_token(None).await.unwrap();
        assert_ne!(later, renewed);
        assert_eq!(endpoint.client_credentials_calls.load(Ordering::SeqCst), 4);
        assert!(provider("s1").renews());
    }

    #[tokio::test]
    async fn a_refused_grant_is_a_token_error() {
        let (config, _) = config_at(NOW);
        let provider = ClientCredentialsToken::new(
            config,
            Arc::new(FakeEndpoint::default()),
            None,
            "provider-test-refused",
            ClientSecret::new("revoked"),
        );
        let err = provider.provide_token(None).await.unwrap_err();
        assert!(matches!(err, AuthError::Token(TokenError::Rejected { .. })), "{err:?}");
        assert_eq!(err.to_string(), "cannot obtain an access token");
        assert!(format!("{provider:?}").contains("provider-test-refused"));
        assert!(!format!("{provider:?} {err:?}").contains("revoked"));
    }

    fn saved_login(text: &str) -> (tempfile::TempDir, CredentialsStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialsStore::new(dir.path().join("credentials"));
        std::fs::write(store.path(), text).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_saved_login_is_refreshed_and_written_back() {
        let (config, _) = config_at(NOW);
        let (_dir, store) = saved_login(&format!(
            "# kept\n[default]\ntoken = old\ntoken_expiration = {}\nrefresh_token = r\naccount_id = a\n",
            NOW + 60
        ));
        let endpoint = Arc::new(FakeEndpoint::default());
        let provider = SavedLoginToken::new(config, endpoint.clone(), store.clone(), "default");
        let tokens = provider.provide_token(None).await.unwrap();
        assert_eq!(tokens.access_token.expose_secret(), "refreshed-token-1");
        assert_eq!(tokens.expires_at, Some(from_unix_seconds(NOW + 3600)));
        let doc = store.read().unwrap().unwrap();
        assert_eq!(doc.get("default", "token"), Some("refreshed-token-1"));
        assert_eq!(doc.get("default", "refresh_token"), Some("rotated-refresh-1"));
        assert_eq!(doc.get("default", "account_id"), Some("a"));
        assert!(doc.render().starts_with("# kept\n"));
        // Fresh now: no second refresh, unless the platform refuses it.
        assert_eq!(provider.provide_token(None).await.unwrap(), tokens);
        assert_eq!(endpoint.refresh_calls.load(Ordering::SeqCst), 1);
        let renewed = provider.provide_token(Some(&tokens.access_token)).await.unwrap();
        assert_eq!(renewed.access_token.expose_secret(), "refreshed-token-2");
    }

    #[tokio::test]
    async fn a_saved_login_that_cannot_be_refreshed_asks_for_a_login() {
        let (config, _) = config_at(NOW);
        let endpoint: Arc<dyn TokenEndpoint> = Arc::new(FakeEndpoint::default());
        let (_dir, store) = saved_login(&format!("[default]\ntoken = old\ntoken_expiration = {}\n", NOW - 10));
        let err = SavedLoginToken::new(config.clone(), endpoint.clone(), store, "default")
            .provide_token(None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("holds no refresh token"), "{err}");
        let (_dir, store) =
            saved_login(&format!("[default]\ntoken = old\ntoken_expiration = {}\nrefresh_token = revoked\n", NOW - 10));
        let err = SavedLoginToken::new(config, endpoint, store, "default").provide_token(None).await.unwrap_err();
        assert!(matches!(err, AuthError::LoginExpired { source: Some(TokenError::Rejected { .. }), .. }), "{err:?}");
        // The refusal is the error's source, not repeated in its message.
        assert_eq!(err.to_string(), "login required: the saved login was refused; run `komodo login`");
    }

    #[tokio::test]
    async fn the_web_login_logs_in_once_and_again_when_refused() {
        let (config, _) = config_at(NOW);
        let login = Arc::new(FakeLogin::default());
        let provider = WebLoginToken::new(config, Arc::new(WebLogin::new(login.clone(), None)), None);
        let first = provider.provide_token(None).await.unwrap();
        assert_eq!(provider.provide_token(None).await.unwrap(), first);
        assert_eq!(login.logins.load(Ordering::SeqCst), 1);
        // Without a token endpoint to refresh it, a refused token means a new login.
        let again = provider.provide_token(Some(&first.access_token)).await.unwrap();
        assert_eq!(login.logins.load(Ordering::SeqCst), 2);
        assert_ne!(again, first);
    }
}
