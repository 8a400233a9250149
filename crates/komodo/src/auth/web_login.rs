//! The SDK's last resort: an interactive web login whose tokens live in
//! memory only, performed once per process however many callers ask.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use komodo_protocol::secret::AccessToken;
use parking_lot::Mutex;

use super::AuthError;
use crate::clock::Clock;
use crate::config::ProviderConfig;
use crate::oauth::{BrowserLogin, HttpTokenEndpoint, InteractiveLogin, LoginError, TokenEndpoint};
use crate::token::TokenSet;

/// The SDK's web login, one per process.
static PROCESS_WEB_LOGIN: LazyLock<Mutex<Option<Arc<WebLogin>>>> = LazyLock::new(Default::default);

/// A web login shared by the whole process: the first caller logs in, every
/// caller waiting meanwhile gets the same tokens (or the same failure), and
/// later callers reuse them until they expire, refreshing them in memory
/// when a refresh token and a token endpoint are at hand.
///
/// Nothing is ever written to disk.
pub struct WebLogin {
    login: Arc<dyn InteractiveLogin>,
    endpoint: Option<Arc<dyn TokenEndpoint>>,
    completed: AtomicU64,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    tokens: Option<TokenSet>,
    failure: Option<(u64, Arc<LoginError>)>,
}

impl fmt::Debug for WebLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebLogin")
            .field("login", &self.login)
            .field("logins_completed", &self.completed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl WebLogin {
    /// A process-wide login performed by `login`, refreshed through
    /// `endpoint` when given.
    pub fn new(login: Arc<dyn InteractiveLogin>, endpoint: Option<Arc<dyn TokenEndpoint>>) -> Self {
        Self { login, endpoint, completed: AtomicU64::new(0), state: tokio::sync::Mutex::new(State::default()) }
    }

    /// The process-wide web login the SDK falls back to, created on first
    /// use with `config`: the browser flow (the device flow when
    /// `BROWSER=none`) with instructions on stderr, refreshed in memory.
    pub fn process(config: &ProviderConfig) -> Arc<WebLogin> {
        PROCESS_WEB_LOGIN
            .lock()
            .get_or_insert_with(|| {
                let endpoint = Arc::new(HttpTokenEndpoint::new(config.clone()));
                Arc::new(WebLogin::new(Arc::new(BrowserLogin::sdk_default(config.clone())), Some(endpoint)))
            })
            .clone()
    }

    /// How many interactive logins this process has run.
    pub fn logins(&self) -> u64 {
        self.completed.load(Ordering::SeqCst)
    }

    /// Usable tokens: cached, refreshed in memory, or from a new login.
    pub async fn tokens(&self, api_url: Option<&str>, clock: &dyn Clock) -> Result<TokenSet, AuthError> {
        self.tokens_unless_refused(api_url, clock, None).await
    }

    /// Like [`tokens`](Self::tokens), but cached tokens whose access token
    /// is `refused` (the platform just refused it) are refreshed or replaced
    /// by a new login rather than handed out again.
    pub async fn tokens_unless_refused(
        &self,
        api_url: Option<&str>,
        clock: &dyn Clock,
        refused: Option<&AccessToken>,
    ) -> Result<TokenSet, AuthError> {
        let seen = self.completed.load(Ordering::SeqCst);
        let mut state = self.state.lock().await;
        if let Some(tokens) = &state.tokens {
            let token_state = tokens.state(clock.now());
            let usable = token_state.is_usable() && refused != Some(&tokens.access_token);
            if usable && !token_state.needs_refresh() {
                return Ok(tokens.clone());
            }
            if let (Some(refresh_token), Some(endpoint)) = (&tokens.refresh_token, &self.endpoint) {
                match endpoint.refresh(api_url, refresh_token).await {
                    Ok(mut fresh) => {
                        if fresh.refresh_token.is_none() {
                            fresh.refresh_token = tokens.refresh_token.clone();
                        }
                        state.tokens = Some(fresh.clone());
                        return Ok(fresh);
                    }
                    Err(err) if usable => {
                        tracing::warn!("cannot refresh the in-memory login yet: {err}");
                        return Ok(tokens.clone());
                    }
                    Err(err) => tracing::debug!("in-memory refresh failed, logging in again: {err}"),
                }
            } else if usable {
                return Ok(tokens.clone());
            }
        }
        // A login finished while this caller waited and it failed: share the
        // failure instead of opening another browser window.
        if let Some((attempt, failure)) = &state.failure
            && *attempt > seen
        {
            return Err(AuthError::Login(failure.clone()));
        }
        let result = self.login.login(api_url).await;
        let attempt = self.completed.fetch_add(1, Ordering::SeqCst) + 1;
        match result {
            Ok(tokens) => {
                state.tokens = Some(tokens.clone());
                state.failure = None;
                Ok(tokens)
            }
            Err(err) => {
                let err = Arc::new(err);
                state.failure = Some((attempt, err.clone()));
                Err(AuthError::Login(err))
            }
        }
    }
}
