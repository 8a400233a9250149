//! [`Client`]: resolved credentials plus a token that stays fresh, and the
//! platform calls made with it.

use std::fmt;
use std::sync::Arc;

use komodo_protocol::iam::{
    AccountWarehouse, CreatedServicePrincipal, Identity, RotatedSecret, ServicePrincipal, UserMe,
};
use komodo_protocol::secret::AccessToken;
use url::Url;

use crate::Error;
use crate::auth::{AuthArgs, CredentialChain, ResolvedCredentials, TokenCache, TokenSet, WebLogin};
use crate::config::ProviderConfig;
use crate::iam::IamClient;
use crate::oauth::OAuthClient;

/// How a [`Client`] finds its credentials.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    config: ProviderConfig,
    args: AuthArgs,
    web_login: Option<Arc<WebLogin>>,
    require_account: bool,
}

impl ClientBuilder {
    /// The credentials passed explicitly (none by default).
    pub fn args(mut self, args: AuthArgs) -> Self {
        self.args = args;
        self
    }

    /// Falls back to this interactive login (in memory only) when no other
    /// source applies. Without it, running out of sources is "login required".
    pub fn web_login(mut self, login: Arc<WebLogin>) -> Self {
        self.web_login = Some(login);
        self
    }

    /// Whether an account must be selected (default: yes).
    pub fn require_account(mut self, required: bool) -> Self {
        self.require_account = required;
        self
    }

    /// Resolves the credentials (this may refresh a token or run the web
    /// login) and returns them, with their provenance and token provider,
    /// without building a client.
    pub async fn resolve(&self) -> Result<ResolvedCredentials, Error> {
        let chain = match &self.web_login {
            Some(login) => CredentialChain::sdk(self.config.clone(), None, login.clone()),
            None => CredentialChain::cli(self.config.clone(), None),
        }
        .require_account(self.require_account);
        Ok(chain.resolve(&self.args).await?)
    }

    /// Resolves the credentials (this may refresh a token or run the web
    /// login) and returns the client.
    pub async fn build(self) -> Result<Client, Error> {
        let resolved = self.resolve().await?;
        Client::from_resolved(self.config, resolved)
    }
}

/// A handle on the platform for one set of credentials: it keeps an access
/// token fresh through the provider its source handed over (client
/// credentials grant, refresh of the `[default]` login, or the in-memory
/// web login) and makes IAM calls with it.
pub struct Client {
    config: ProviderConfig,
    api_url: Url,
    resolved: ResolvedCredentials,
    tokens: TokenCache,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.api_url.as_str())
            .field("resolved", &self.resolved)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder resolving credentials with `config`.
    pub fn builder(config: ProviderConfig) -> ClientBuilder {
        ClientBuilder { config, args: AuthArgs::new(), web_login: None, require_account: true }
    }

    /// A client for credentials already resolved: its tokens come from
    /// their provider, starting with the token the source held, if any.
    pub fn from_resolved(config: ProviderConfig, resolved: ResolvedCredentials) -> Result<Self, Error> {
        let api_url = crate::platform::api_url(config.env(), resolved.api_url.as_deref())?;
        let tokens = TokenCache::new(resolved.token_provider.clone(), config.clone())
            .with_tokens(resolved.credential.token_set());
        Ok(Self { config, api_url, resolved, tokens })
    }

    /// The credentials and their provenance.
    pub fn resolved(&self) -> &ResolvedCredentials {
        &self.resolved
    }

    /// The platform's base URL.
    pub fn api_url(&self) -> &Url {
        &self.api_url
    }

    /// The selected account, if any.
    pub fn account_id(&self) -> Option<&str> {
        self.resolved.account_id.as_deref()
    }

    /// The configuration the client runs with.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// An OAuth client for the platform.
    pub fn oauth(&self) -> OAuthClient {
        OAuthClient::new(self.config.http().clone(), self.api_url.clone())
    }

    /// An IAM client for the platform.
    pub fn iam(&self) -> IamClient {
        IamClient::new(self.config.http().clone(), self.api_url.clone())
    }

    /// A usable access token, renewed when it is about to expire.
    pub async fn access_token(&self) -> Result<AccessToken, Error> {
        Ok(self.tokens.token().await?.access_token)
    }

    /// The current token set (its expiry included), renewed when due.
    pub async fn token_set(&self) -> Result<TokenSet, Error> {
        Ok(self.tokens.token().await?)
    }

    /// A new access token after the platform refused `rejected` (HTTP 401).
    pub async fn renew_after_rejection(&self, rejected: &AccessToken) -> Result<AccessToken, Error> {
        Ok(self.tokens.renew_after_refusal(rejected).await?.access_token)
    }

    /// Whether a refused token can be replaced by another (false for a
    /// token passed as it is).
    pub fn renews_tokens(&self) -> bool {
        self.tokens.renews()
    }

    /// Runs `call` with a fresh token, and once more with a renewed token
    /// if the platform refuses the first (HTTP 401).
    async fn with_token<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T, crate::iam::IamError>>,
    {
        let token = self.access_token().await?;
        match call(token.clone()).await {
            Err(err) if err.is_unauthorized() => {
                let renewed = self.renew_after_rejection(&token).await?;
                Ok(call(renewed).await?)
            }
            other => Ok(other?),
        }
    }

    fn require_account(&self) -> Result<&str, Error> {
        self.account_id().ok_or_else(|| {
            Error::Auth(crate::auth::AuthError::UnsetAccount { provenance: self.resolved.provenance.clone() })
        })
    }

    /// Runs an IAM call with a fresh token (see [`Self::with_token`]).
    async fn iam_call<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: Fn(IamClient, AccessToken) -> Fut,
        Fut: Future<Output = Result<T, crate::iam::IamError>>,
    {
        let iam = self.iam();
        self.with_token(|token| call(iam.clone(), token)).await
    }

    /// Runs an IAM call scoped to the selected account.
    async fn account_call<T, F, Fut>(&self, call: F) -> Result<T, Error>
    where
        F: Fn(IamClient, AccessToken, String) -> Fut,
        Fut: Future<Output = Result<T, crate::iam::IamError>>,
    {
        let account = self.require_account()?.to_owned();
        self.iam_call(|iam, token| call(iam, token, account.clone())).await
    }

    /// The user, with their organisations and accounts.
    pub async fn me(&self) -> Result<UserMe, Error> {
        self.iam_call(|iam, token| async move { iam.me(&token).await }).await
    }

    /// Who the credentials belong to.
    pub async fn identity(&self) -> Result<Identity, Error> {
        self.iam_call(|iam, token| async move { iam.identity(&token).await }).await
    }

    /// Where the selected account's statements run: the embedded warehouse
    /// or an upstream Snowflake account.
    pub async fn warehouse(&self) -> Result<AccountWarehouse, Error> {
        self.account_call(|iam, token, account| async move { iam.warehouse(&token, &account).await }).await
    }

    /// Creates a service principal in the selected account.
    pub async fn create_service_principal(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<CreatedServicePrincipal, Error> {
        self.account_call(|iam, token, account| async move {
            iam.create_service_principal(&token, &account, name, description).await
        })
        .await
    }

    /// The service principals of the selected account.
    pub async fn list_service_principals(&self) -> Result<Vec<ServicePrincipal>, Error> {
        self.account_call(|iam, token, account| async move { iam.list_service_principals(&token, &account).await })
            .await
    }

    /// Deletes a service principal of the selected account.
    pub async fn delete_service_principal(&self, id: &str) -> Result<(), Error> {
        self.account_call(|iam, token, account| async move { iam.delete_service_principal(&token, &account, id).await })
            .await
    }

    /// Rotates the secret of a service principal of the selected account.
    pub async fn rotate_service_principal_secret(&self, id: &str) -> Result<RotatedSecret, Error> {
        self.account_call(|iam, token, account| async move { iam.rotate_secret(&token, &account, id).await }).await
    }
}
