//! [`TokenCache`]: a provider's token, kept until it is due for renewal.

use std::fmt;
use std::sync::Arc;

use komodo_protocol::secret::AccessToken;

use super::AuthError;
use super::provider::ProvideToken;
use crate::config::ProviderConfig;
use crate::token::TokenSet;

/// Keeps the token a [`ProvideToken`] handed out and asks the provider
/// again only when that token enters its refresh window or the platform
/// refused it. Callers asking at the same time wait for one renewal.
///
/// ```
/// use std::sync::Arc;
/// use komodo::auth::{StaticToken, TokenCache};
/// use komodo::config::ProviderConfig;
///
/// # async fn run() -> Result<(), komodo::auth::AuthError> {
/// let config = ProviderConfig::from_process();
/// let provider = StaticToken::new(config.clone(), "eyJ.e30.sig".into(), "`jwt`");
/// let cache = TokenCache::new(Arc::new(provider), config);
/// let token = cache.token().await?;
/// # let _ = token;
/// # Ok(()) }
/// ```
pub struct TokenCache {
    provider: Arc<dyn ProvideToken>,
    config: ProviderConfig,
    current: tokio::sync::Mutex<Option<TokenSet>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache").field("provider", &self.provider).finish_non_exhaustive()
    }
}

impl TokenCache {
    /// An empty cache in front of `provider`; `config` gives the clock.
    pub fn new(provider: Arc<dyn ProvideToken>, config: ProviderConfig) -> Self {
        Self { provider, config, current: tokio::sync::Mutex::new(None) }
    }

    /// Starts with `tokens` (a token the source already held) instead of
    /// asking the provider first.
    pub fn with_tokens(self, tokens: Option<TokenSet>) -> Self {
        Self { current: tokio::sync::Mutex::new(tokens), ..self }
    }

    /// The provider behind the cache.
    pub fn provider(&self) -> &Arc<dyn ProvideToken> {
        &self.provider
    }

    /// A usable token: the cached one, or a renewed one when it is due.
    pub async fn token(&self) -> Result<TokenSet, AuthError> {
        self.get(None).await
    }

    /// A token other than `refused`, which the platform just refused
    /// (HTTP 401); another caller may have renewed it already.
    pub async fn renew_after_refusal(&self, refused: &AccessToken) -> Result<TokenSet, AuthError> {
        self.get(Some(refused)).await
    }

    /// Whether asking again can bring a different token.
    pub fn renews(&self) -> bool {
        self.provider.renews()
    }

    async fn get(&self, refused: Option<&AccessToken>) -> Result<TokenSet, AuthError> {
        let mut current = self.current.lock().await;
        let now = self.config.clock().now();
        if let Some(tokens) = current.as_ref()
            && !tokens.state(now).needs_refresh()
            && refused.is_none_or(|r| *r != tokens.access_token)
        {
            return Ok(tokens.clone());
        }
        let fresh = self.provider.provide_token(refused).await?;
        *current = Some(fresh.clone());
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::BoxFuture;
    use crate::auth::fakes::{NOW, config_at};
    use crate::token::from_unix_seconds;

    /// Hands out `token-N`, each valid for an hour from the clock's start,
    /// slowly enough that concurrent callers overlap.
    #[derive(Debug, Default)]
    struct Counting {
        calls: AtomicUsize,
        refused: parking_lot::Mutex<Vec<String>>,
    }

    impl ProvideToken for Counting {
        fn provide_token<'a>(&'a self, refused: Option<&'a AccessToken>) -> BoxFuture<'a, Result<TokenSet, AuthError>> {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                if let Some(refused) = refused {
                    self.refused.lock().push(refused.expose_secret().to_owned());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(TokenSet {
                    access_token: format!("token-{n}").into(),
                    expires_at: Some(from_unix_seconds(NOW + 3600 * n as u64)),
                    refresh_token: None,
                })
            })
        }

        fn renews(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn the_provider_is_asked_again_only_when_the_token_is_due_or_refused() {
        let (config, clock) = config_at(NOW);
        let provider = Arc::new(Counting::default());
        let cache = TokenCache::new(provider.clone(), config);
        let first = cache.token().await.unwrap();
        assert_eq!(first.access_token.expose_secret(), "token-1");
        assert_eq!(cache.token().await.unwrap(), first);
        assert_eq!(provider.calls.load(Ordering::SeqCst), 1);

        // Refused: the provider hears which token, and the cache keeps the new one.
        let second = cache.renew_after_refusal(&first.access_token).await.unwrap();
        assert_eq!(second.access_token.expose_secret(), "token-2");
        assert_eq!(*provider.refused.lock(), ["token-1"]);
        // A refusal of a token already replaced asks nothing.
        assert_eq!(cache.renew_after_refusal(&first.access_token).await.unwrap(), second);
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);

        // Inside the refresh window of token-2 (which lives two hours).
        clock.advance(Duration::from_secs(2 * 3600 - 60));
        assert_eq!(cache.token().await.unwrap().access_token.expose_secret(), "token-3");
        assert!(cache.renews());
    }

    #[tokio::test]
    async fn a_token_the_source_held_is_used_first() {
        let (config, _) = config_at(NOW);
        let provider = Arc::new(Counting::default());
        let held = TokenSet {
            access_token: "held".into(),
            expires_at: Some(from_unix_seconds(NOW + 3600)),
            refresh_token: None,
        };
        let cache = TokenCache::new(provider.clone(), config).with_tokens(Some(held.clone()));
        assert_eq!(cache.token().await.unwrap(), held);
        assert_eq!(provider.calls.load(Ordering::SeqCst), 0);
        assert!(!format!("{cache:?}").contains("held"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn callers_at_the_same_time_share_one_renewal() {
        let (config, _) = config_at(NOW);
        let provider = Arc::new(Counting::default());
        let cache = Arc::new(TokenCache::new(provider.clone(), config));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.token().await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().access_token.expose_secret(), "token-1");
        }
        assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
    }
}
