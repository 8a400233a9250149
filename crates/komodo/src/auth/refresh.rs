//! Refreshing a profile's token: one refresh at a time across every process
//! sharing the credentials file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use komodo_protocol::secret::AccessToken;
use parking_lot::Mutex;

use super::AuthError;
use crate::clock::Clock;
use crate::credentials::{CredentialsStore, LoginProfileEdit, Profile, TokenProfile};
use crate::oauth::TokenEndpoint;
use crate::token::{TokenError, TokenSet, TokenState, from_unix_seconds, jwt_expiry, unix_seconds};

/// The result of [`refresh_profile`].
#[derive(Debug, Clone)]
pub enum Refreshed {
    /// The profile now holds a usable token; `refreshed` says whether this
    /// call obtained it (rather than finding it already fresh).
    Token {
        /// The profile as written.
        profile: TokenProfile,
        /// Whether this call refreshed it.
        refreshed: bool,
    },
    /// The token is unusable and there is no refresh token.
    NoRefreshToken(TokenProfile),
    /// The platform rejected the refresh token.
    Rejected(TokenError),
}

/// Per-process queue in front of the file lock, so that tasks of one
/// process wait on an async mutex rather than blocking runtime threads on
/// the file lock.
static IN_PROCESS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Refreshes the token of profile `name` if it needs it, once across all
/// processes: take the file's write lock, re-read the profile, refresh only
/// if it still needs it (or still holds `stale`, a token the platform just
/// refused), write the new tokens back, release.
///
/// Every other process waiting meanwhile finds the fresh token on its
/// re-read and makes no request of its own.
pub async fn refresh_profile(
    store: &CredentialsStore,
    name: &str,
    clock: &dyn Clock,
    endpoint: &dyn TokenEndpoint,
    stale: Option<&AccessToken>,
) -> Result<Refreshed, AuthError> {
    let queue = {
        let mut map = IN_PROCESS.lock();
        map.entry(store.path().to_owned()).or_default().clone()
    };
    let _in_process = queue.lock().await;
    let locking = store.clone();
    let locked = tokio::task::spawn_blocking(move || locking.lock())
        .await
        .map_err(|err| AuthError::Refresh(TokenError::Unavailable(format!("lock task failed: {err}"))))??;

    let doc = locked.read()?.unwrap_or_default();
    let profile = match Profile::from_document(&doc, name, store.path())? {
        Some(Profile::Token(profile)) => profile,
        _ => return Ok(Refreshed::NoRefreshToken(TokenProfile::default())),
    };
    let state = TokenState::at(profile_expiry(&profile), clock.now());
    let holds_stale = stale.is_some() && profile.token.as_ref() == stale;
    if profile.token.is_some() && !state.needs_refresh() && !holds_stale {
        return Ok(Refreshed::Token { profile, refreshed: false });
    }
    let Some(refresh_token) = profile.refresh_token.clone() else {
        return Ok(match profile.token {
            Some(_) if state.is_usable() && !holds_stale => Refreshed::Token { profile, refreshed: false },
            _ => Refreshed::NoRefreshToken(profile),
        });
    };
    let tokens = match endpoint.refresh(profile.api_url.as_deref(), &refresh_token).await {
        Ok(tokens) => tokens,
        Err(err @ TokenError::Rejected { .. }) => return Ok(Refreshed::Rejected(err)),
        // A token still inside its validity can be used while the platform
        // is unreachable; the next call tries again.
        Err(err) if profile.token.is_some() && state.is_usable() && !holds_stale => {
            tracing::warn!("cannot refresh profile [{name}] yet, using its current token: {err}");
            return Ok(Refreshed::Token { profile, refreshed: false });
        }
        Err(err) => return Err(AuthError::Refresh(err)),
    };

    // The platform may not rotate the refresh token: the old one stays.
    let tokens = TokenSet { refresh_token: Some(tokens.refresh_token.unwrap_or(refresh_token)), ..tokens };
    let mut doc = doc;
    LoginProfileEdit::new(&mut doc, name, store.path()).tokens(&tokens)?;
    locked.write(&doc)?;
    tracing::debug!("refreshed the token of profile [{name}]");
    let expiration = tokens.expires_at.or_else(|| jwt_expiry(&tokens.access_token));
    Ok(Refreshed::Token {
        profile: TokenProfile {
            token: Some(tokens.access_token),
            token_expiration: expiration.map(unix_seconds),
            refresh_token: tokens.refresh_token,
            ..profile
        },
        refreshed: true,
    })
}

/// When a profile's token expires: `token_expiration` when recorded, else
/// the JWT's own `exp`.
pub(crate) fn profile_expiry(profile: &TokenProfile) -> Option<std::time::SystemTime> {
    profile.token_expiration.map(from_unix_seconds).or_else(|| profile.token.as_ref().and_then(jwt_expiry))
}
