//! The SDK's last resort: an interactive web login whose tokens live in
//! memory only, performed once per process however many callers ask.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{AuthError, TokenEndpoint, TokenError, TokenSet};
use crate::BoxFuture;
use crate::clock::Clock;

/// Performs an interactive login (a browser flow) and returns its tokens.
pub trait InteractiveLogin: Send + Sync + fmt::Debug {
    /// Runs the login against the platform at `api_url` (the default
    /// platform when `None`).
    fn login<'a>(&'a self, api_url: Option<&'a str>) -> BoxFuture<'a, Result<TokenSet, LoginError>>;
}

/// Why an interactive login failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The user denied the request.
    #[error("the login was denied")]
    Denied,
    /// The login was not completed in time.
    #[error("the login was not completed in time; try again")]
    TimedOut,
    /// The login was cancelled (Ctrl-C, a closed listener).
    #[error("the login was cancelled")]
    Cancelled,
    /// The login could not be started or completed.
    #[error("{0}")]
    Failed(String),
    /// The platform refused a token request during the login.
    #[error(transparent)]
    Token(#[from] TokenError),
}

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

    /// How many interactive logins this process has run.
    pub fn logins(&self) -> u64 {
        self.completed.load(Ordering::SeqCst)
    }

    /// Usable tokens: cached, refreshed in memory, or from a new login.
    pub async fn tokens(&self, api_url: Option<&str>, clock: &dyn Clock) -> Result<TokenSet, AuthError> {
        let seen = self.completed.load(Ordering::SeqCst);
        let mut state = self.state.lock().await;
        if let Some(tokens) = &state.tokens {
            let token_state = tokens.state(clock.now());
            if !token_state.needs_refresh() {
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
                    Err(err) if token_state.is_usable() => {
                        tracing::warn!("cannot refresh the in-memory login yet: {err}");
                        return Ok(tokens.clone());
                    }
                    Err(err) => tracing::debug!("in-memory refresh failed, logging in again: {err}"),
                }
            } else if token_state.is_usable() {
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
