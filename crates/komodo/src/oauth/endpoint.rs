//! The platform's token endpoint as the credential providers use it:
//! [`TokenEndpoint`], and its implementation over HTTP.

use std::fmt;

use komodo_protocol::secret::{ClientSecret, RefreshToken};

use super::OAuthClient;
use crate::BoxFuture;
use crate::config::ProviderConfig;
use crate::token::{TokenError, TokenSet};

/// The platform's token endpoint, as far as the credential providers need
/// it. `api_url` is the platform the credential belongs to, when its source
/// names one (a profile's `api_url`); otherwise the configured platform.
pub trait TokenEndpoint: Send + Sync + fmt::Debug {
    /// Exchanges a refresh token for a new token set (the refresh token may
    /// rotate).
    fn refresh<'a>(
        &'a self,
        api_url: Option<&'a str>,
        refresh_token: &'a RefreshToken,
    ) -> BoxFuture<'a, Result<TokenSet, TokenError>>;

    /// Exchanges a service principal's credentials for a token (the client
    /// credentials grant).
    fn client_credentials<'a>(
        &'a self,
        api_url: Option<&'a str>,
        client_id: &'a str,
        client_secret: &'a ClientSecret,
    ) -> BoxFuture<'a, Result<TokenSet, TokenError>>;
}

/// The token endpoint over HTTP: requests go to the platform the credential
/// came from, or the configured one.
#[derive(Debug, Clone)]
pub struct HttpTokenEndpoint {
    config: ProviderConfig,
}

impl HttpTokenEndpoint {
    /// Requests tokens from the platform the configuration names, with its
    /// HTTP client.
    pub fn new(config: ProviderConfig) -> Self {
        Self { config }
    }

    fn client(&self, api_url: Option<&str>) -> Result<OAuthClient, TokenError> {
        let base =
            crate::platform::api_url(self.config.env(), api_url).map_err(|e| TokenError::Protocol(e.to_string()))?;
        Ok(OAuthClient::new(self.config.http().clone(), base))
    }
}

impl TokenEndpoint for HttpTokenEndpoint {
    fn refresh<'a>(
        &'a self,
        api_url: Option<&'a str>,
        refresh_token: &'a RefreshToken,
    ) -> BoxFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(async move { self.client(api_url)?.refresh(refresh_token).await })
    }

    fn client_credentials<'a>(
        &'a self,
        api_url: Option<&'a str>,
        client_id: &'a str,
        client_secret: &'a ClientSecret,
    ) -> BoxFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(async move { self.client(api_url)?.client_credentials(client_id, client_secret).await })
    }
}
