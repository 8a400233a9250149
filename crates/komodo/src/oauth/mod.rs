//! The OAuth 2.0 flows of the SDK, against the platform's endpoints:
//! authorization code + PKCE with a loopback redirect, the device
//! authorization grant (RFC 8628), client credentials, refresh and
//! revocation.
//!
//! [`OAuthClient`] makes the individual requests; [`BrowserLogin`] runs a
//! whole interactive login and is the SDK's [`InteractiveLogin`];
//! [`HttpTokenEndpoint`] is the chain's [`TokenEndpoint`].

mod browser;
mod device;
mod endpoint;
mod login;
mod loopback;
mod pkce;

use std::fmt;
use std::time::{Duration, SystemTime};

use komodo_protocol::oauth::{
    self as wire, CLI_CLIENT_ID, DeviceAuthorizationResponse, DiscoveryDocument, ErrorResponse, TokenResponse,
};
use komodo_protocol::secret::{AuthorizationCode, ClientSecret, CodeVerifier, RefreshToken};
use url::Url;

pub use browser::{BrowserLogin, LoginMode, LoginPrompt, StderrPrompt, open_browser};
pub use device::{DeviceAuthorization, DevicePoll};
pub use endpoint::{HttpTokenEndpoint, TokenEndpoint};
pub use login::{InteractiveLogin, LoginError};
pub use loopback::{Callback, LoopbackListener};
pub use pkce::{pkce_pair, s256_challenge};

use crate::token::{TokenError, TokenSet};

/// The scopes the CLI asks for: identity, and a refresh token.
pub const CLI_SCOPES: &str = "openid profile email offline_access";

/// Requests to one platform's OAuth endpoints as one client.
#[derive(Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
    base: Url,
    client_id: String,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient").field("base", &self.base.as_str()).field("client_id", &self.client_id).finish()
    }
}

impl OAuthClient {
    /// The CLI's public client (`komodo-cli`) at the platform `base`.
    pub fn new(http: reqwest::Client, base: Url) -> Self {
        Self { http, base, client_id: CLI_CLIENT_ID.to_owned() }
    }

    /// The platform's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The client id this client speaks as.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// An endpoint of the platform (`path` without its leading slash).
    pub fn endpoint(&self, path: &str) -> Url {
        self.base.join(path.trim_start_matches('/')).unwrap_or_else(|_| self.base.clone())
    }

    /// The platform's OpenID Connect discovery document.
    pub async fn discovery(&self) -> Result<DiscoveryDocument, TokenError> {
        let response = self
            .http
            .get(self.endpoint(".well-known/openid-configuration"))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        json_or_error(response).await
    }

    /// The client credentials grant (`client_secret_basic`).
    pub async fn client_credentials(
        &self,
        client_id: &str,
        client_secret: &ClientSecret,
    ) -> Result<TokenSet, TokenError> {
        let request = self
            .http
            .post(self.endpoint("oauth/token"))
            .basic_auth(form_encode(client_id), Some(form_encode(client_secret.expose_secret())))
            .form(&[("grant_type", wire::GRANT_CLIENT_CREDENTIALS)]);
        self.token_request(request).await
    }

    /// The refresh token grant; the platform rotates the refresh token.
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, TokenError> {
        let request = self.http.post(self.endpoint("oauth/token")).form(&[
            ("grant_type", wire::GRANT_REFRESH_TOKEN),
            ("refresh_token", refresh_token.expose_secret()),
            ("client_id", &self.client_id),
        ]);
        self.token_request(request).await
    }

    /// Exchanges an authorization code (with its PKCE verifier).
    pub async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        verifier: &CodeVerifier,
        redirect_uri: &str,
    ) -> Result<TokenSet, TokenError> {
        let request = self.http.post(self.endpoint("oauth/token")).form(&[
            ("grant_type", wire::GRANT_AUTHORIZATION_CODE),
            ("code", code.expose_secret()),
            ("code_verifier", verifier.expose_secret()),
            ("redirect_uri", redirect_uri),
            ("client_id", &self.client_id),
        ]);
        self.token_request(request).await
    }

    /// Revokes a refresh token (and with it its whole family) or an access
    /// token (RFC 7009). Revoking an unknown token succeeds.
    pub async fn revoke(&self, token: &str, hint: &str) -> Result<(), TokenError> {
        let response = self
            .http
            .post(self.endpoint("oauth/revoke"))
            .form(&[("token", token), ("token_type_hint", hint), ("client_id", &self.client_id)])
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(oauth_error(response).await)
    }

    /// Starts the device authorization grant.
    pub async fn start_device(&self, scope: &str) -> Result<DeviceAuthorization, TokenError> {
        let response = self
            .http
            .post(self.endpoint("oauth/device/code"))
            .form(&[("client_id", self.client_id.as_str()), ("scope", scope)])
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let started = SystemTime::now();
        let body: DeviceAuthorizationResponse = json_or_error(response).await?;
        Ok(DeviceAuthorization::new(body, started))
    }

    pub(crate) async fn token_request(&self, request: reqwest::RequestBuilder) -> Result<TokenSet, TokenError> {
        let sent = SystemTime::now();
        let response = request.send().await.map_err(|e| unavailable(&e))?;
        let body: TokenResponse = json_or_error(response).await?;
        Ok(token_set(body, sent))
    }
}

/// A token response as a [`TokenSet`]; the expiry counts from when the
/// request was sent, so it is never late.
pub(crate) fn token_set(body: TokenResponse, sent: SystemTime) -> TokenSet {
    let expires_at = (body.expires_in > 0).then(|| sent + Duration::from_secs(body.expires_in));
    TokenSet { access_token: body.access_token, expires_at, refresh_token: body.refresh_token }
}

/// `application/x-www-form-urlencoded` encoding, as RFC 6749 §2.3.1 asks of
/// the Basic credentials.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub(crate) fn unavailable(err: &reqwest::Error) -> TokenError {
    // reqwest's messages carry the URL, never the body or headers.
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    TokenError::Unavailable(message)
}

pub(crate) async fn json_or_error<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, TokenError> {
    if !response.status().is_success() {
        return Err(oauth_error(response).await);
    }
    let bytes = response.bytes().await.map_err(|e| unavailable(&e))?;
    serde_json::from_slice(&bytes).map_err(|e| TokenError::Protocol(format!("cannot decode the response: {e}")))
}

pub(crate) async fn oauth_error(response: reqwest::Response) -> TokenError {
    let status = response.status();
    let bytes = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ErrorResponse>(&bytes) {
        Ok(body) => TokenError::Rejected { code: body.error, description: body.error_description },
        Err(_) if status.is_server_error() => TokenError::Unavailable(format!("the platform answered {status}")),
        Err(_) => TokenError::Protocol(format!("the platform answered {status} without an OAuth error")),
    }
}
