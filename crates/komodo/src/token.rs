//! Tokens: the set a login, a refresh or a client credentials grant hands
//! back, when it expires and when it should be refreshed, and why a token
//! request failed. Every layer that handles tokens (the OAuth flows, the
//! credential providers, the client) shares these.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use komodo_protocol::secret::{AccessToken, RefreshToken};

/// A token is treated as expired this long before its `exp`, so that it is
/// not sent in a request that arrives after it lapses.
pub const EXPIRY_SKEW: Duration = Duration::from_secs(30);

/// A token is refreshed this long before it expires.
pub const REFRESH_WINDOW: Duration = Duration::from_secs(5 * 60);

/// The tokens a login, a refresh or a client credentials grant hands back.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    /// The access token (a JWT).
    pub access_token: AccessToken,
    /// When the access token expires, if known.
    pub expires_at: Option<SystemTime>,
    /// The refresh token, if one was issued.
    pub refresh_token: Option<RefreshToken>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("expires_at", &self.expires_at.map(unix_seconds))
            .field("refresh_token", &self.refresh_token)
            .finish()
    }
}

impl TokenSet {
    /// A token set whose expiry is read from the JWT's `exp` claim.
    pub fn from_jwt(access_token: AccessToken, refresh_token: Option<RefreshToken>) -> Self {
        let expires_at = jwt_expiry(&access_token);
        Self { access_token, expires_at, refresh_token }
    }

    /// The access token's state at `now`.
    pub fn state(&self, now: SystemTime) -> TokenState {
        TokenState::at(self.expires_at, now)
    }
}

/// Where a token stands relative to its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Valid for longer than the refresh window, or of unknown expiry.
    Fresh,
    /// Still valid, but inside the refresh window: refresh it if possible.
    Expiring,
    /// Expired, or within the skew margin of expiring.
    Expired,
}

impl TokenState {
    /// The state of a token expiring at `expires_at`, seen at `now`.
    pub fn at(expires_at: Option<SystemTime>, now: SystemTime) -> Self {
        let Some(expires_at) = expires_at else { return Self::Fresh };
        if now + EXPIRY_SKEW >= expires_at {
            Self::Expired
        } else if now + REFRESH_WINDOW >= expires_at {
            Self::Expiring
        } else {
            Self::Fresh
        }
    }

    /// Whether the token can still be sent.
    pub fn is_usable(self) -> bool {
        self != Self::Expired
    }

    /// Whether a refresh is due.
    pub fn needs_refresh(self) -> bool {
        self != Self::Fresh
    }
}

/// The `exp` claim of a JWT, read without verifying the signature (the
/// platform verifies it; the client only needs to know when to refresh).
pub fn jwt_expiry(token: &AccessToken) -> Option<SystemTime> {
    let payload = token.expose_secret().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    #[derive(serde::Deserialize)]
    struct Claims {
        exp: Option<u64>,
    }
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    claims.exp.map(from_unix_seconds)
}

/// Why a token request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The platform answered with an OAuth error (`invalid_grant`, ...):
    /// the credential is no good, and retrying will not help.
    #[error("the platform rejected the request: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        /// The OAuth error code.
        code: String,
        /// The platform's description, if any.
        description: Option<String>,
    },
    /// The platform could not be reached or failed; retrying may help.
    #[error("cannot reach the platform: {0}")]
    Unavailable(String),
    /// The platform answered something this client does not understand.
    #[error("unexpected answer from the platform: {0}")]
    Protocol(String),
}

/// Seconds since the Unix epoch.
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The latest instant [`from_unix_seconds`] returns: 9999-12-31T23:59:59Z,
/// which every platform's `SystemTime` can hold.
const MAX_UNIX_SECONDS: u64 = 253_402_300_799;

/// The instant `seconds` after the Unix epoch, at most
/// 9999-12-31T23:59:59Z: an `exp` claim or a `token_expiration` in the
/// credentials file can hold any integer, and a much later instant would
/// overflow `SystemTime`.
pub fn from_unix_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds.min(MAX_UNIX_SECONDS))
}

/// An instant as RFC 3339 in UTC, for messages.
pub fn format_time(time: SystemTime) -> String {
    let seconds = i64::try_from(unix_seconds(time)).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("{seconds} (Unix time)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt_with(claims: &str) -> AccessToken {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        AccessToken::new(format!("{}.{}.sig", b64(r#"{"typ":"at+jwt","alg":"ES256"}"#), b64(claims)))
    }

    #[test]
    fn reads_exp_from_a_jwt() {
        assert_eq!(
            jwt_expiry(&jwt_with(r#"{"exp":1700000000,"sub":"user:1"}"#)),
            Some(from_unix_seconds(1_700_000_000))
        );
        assert_eq!(jwt_expiry(&jwt_with(r#"{"sub":"user:1"}"#)), None);
        assert_eq!(jwt_expiry(&AccessToken::new("not a jwt")), None);
        assert_eq!(jwt_expiry(&AccessToken::new("a.%%%.c")), None);
    }

    #[test]
    fn huge_expiry_is_clamped_not_an_overflow() {
        let far = jwt_expiry(&jwt_with(r#"{"exp":18446744073709551615}"#)).unwrap();
        assert_eq!(far, from_unix_seconds(MAX_UNIX_SECONDS));
        assert_eq!(format_time(far), "9999-12-31T23:59:59Z");
        assert_eq!(TokenState::at(Some(far), SystemTime::now()), TokenState::Fresh);
    }

    #[test]
    fn state_moves_from_fresh_to_expiring_to_expired() {
        let exp = from_unix_seconds(10_000);
        let at = |t: u64| TokenState::at(Some(exp), from_unix_seconds(t));
        assert_eq!(at(10_000 - 301), TokenState::Fresh);
        assert_eq!(at(10_000 - 300), TokenState::Expiring);
        assert_eq!(at(10_000 - 31), TokenState::Expiring);
        assert_eq!(at(10_000 - 30), TokenState::Expired);
        assert_eq!(at(20_000), TokenState::Expired);
        assert_eq!(TokenState::at(None, from_unix_seconds(20_000)), TokenState::Fresh);
        assert!(TokenState::Expiring.is_usable() && TokenState::Expiring.needs_refresh());
    }

    #[test]
    fn formats_times_for_messages() {
        assert_eq!(format_time(from_unix_seconds(1_234_567_890)), "2009-02-13T23:31:30Z");
    }
}
