//! The device authorization grant (RFC 8628), polled exactly as §3.4-3.5
//! say: wait `interval` between requests, add 5 s on `slow_down`, stop at
//! `access_denied`, `expired_token`, or when `expires_in` has passed.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use komodo_protocol::oauth::{DeviceAuthorizationResponse, GRANT_DEVICE_CODE};
use komodo_protocol::secret::DeviceCode;

use super::login::LoginError;
use super::{OAuthClient, token_set};
use crate::token::{TokenError, TokenSet};

/// RFC 8628 §3.2: the interval when the platform names none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 §3.5: what `slow_down` adds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The longest wait between polls while the platform is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A started device authorization: what to show the user, and how to poll.
#[derive(Clone)]
pub struct DeviceAuthorization {
    /// The device code (secret: it is what polling redeems).
    pub device_code: DeviceCode,
    /// The code the user types at the verification page.
    pub user_code: String,
    /// The verification page.
    pub verification_uri: String,
    /// The verification page with the code filled in.
    pub verification_uri_complete: Option<String>,
    /// The wait between polls.
    pub interval: Duration,
    /// When the device code expires.
    pub expires_at: SystemTime,
    deadline: Instant,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl DeviceAuthorization {
    pub(super) fn new(body: DeviceAuthorizationResponse, started: SystemTime) -> Self {
        let lifetime = Duration::from_secs(body.expires_in);
        let interval = if body.interval == 0 { DEFAULT_INTERVAL } else { Duration::from_secs(body.interval) };
        let complete = Some(body.verification_uri_complete).filter(|u| !u.is_empty());
        Self {
            device_code: body.device_code,
            user_code: body.user_code,
            verification_uri: body.verification_uri,
            verification_uri_complete: complete,
            interval,
            expires_at: started + lifetime,
            deadline: Instant::now() + lifetime,
        }
    }
}

/// What a poll found, reported to the caller (for a spinner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevicePoll {
    /// The user has not answered yet.
    Pending,
    /// The platform asked to poll less often; the new interval.
    SlowDown(Duration),
    /// The platform could not be reached; the next try is after this wait.
    Unreachable(Duration),
}

impl OAuthClient {
    /// Polls the token endpoint until the user approves or denies, or the
    /// device code expires. `on_poll` hears about every unanswered poll.
    pub async fn poll_device(
        &self,
        device: &DeviceAuthorization,
        mut on_poll: impl FnMut(DevicePoll) + Send,
    ) -> Result<TokenSet, LoginError> {
        let mut interval = device.interval;
        let mut backoff = interval;
        loop {
            if Instant::now() + backoff >= device.deadline {
                tokio::time::sleep_until(device.deadline.into()).await;
                return Err(LoginError::TimedOut);
            }
            tokio::time::sleep(backoff).await;
            backoff = interval;
            let sent = SystemTime::now();
            let response = self
                .http
                .post(self.endpoint("oauth/token"))
                .form(&[
                    ("grant_type", GRANT_DEVICE_CODE),
                    ("device_code", device.device_code.expose_secret()),
                    ("client_id", &self.client_id),
                ])
                .send()
                .await;
            let result = match response {
                Ok(response) => super::json_or_error(response).await.map(|body| token_set(body, sent)),
                Err(err) => Err(super::unavailable(&err)),
            };
            match result {
                Ok(tokens) => return Ok(tokens),
                Err(TokenError::Rejected { code, description }) => match code.as_str() {
                    "authorization_pending" => on_poll(DevicePoll::Pending),
                    "slow_down" => {
                        interval += SLOW_DOWN_STEP;
                        backoff = interval;
                        on_poll(DevicePoll::SlowDown(interval));
                    }
                    "access_denied" => return Err(LoginError::Denied),
                    "expired_token" => return Err(LoginError::TimedOut),
                    _ => return Err(LoginError::Token(TokenError::Rejected { code, description })),
                },
                Err(TokenError::Unavailable(_)) => {
                    backoff = (backoff * 2).min(MAX_BACKOFF).max(interval);
                    on_poll(DevicePoll::Unreachable(backoff));
                }
                Err(err) => return Err(LoginError::Token(err)),
            }
        }
    }
}
