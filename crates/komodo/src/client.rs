//! [`Client`]: resolved credentials plus a token that stays fresh, and the
//! platform calls made with it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use aws_lc_rs::digest::{SHA256, digest};
use komodo_protocol::iam::{CreatedServicePrincipal, Identity, RotatedSecret, ServicePrincipal, UserMe};
use komodo_protocol::secret::{AccessToken, ClientSecret};
use url::Url;

use crate::Error;
use crate::auth::{
    AuthArgs, Credential, CredentialChain, ResolvedCredentials, Source, TokenSet, TokenState, WebLogin, format_time,
    refresh::Refreshed, refresh_profile,
};
use crate::config::ProviderConfig;
use crate::credentials::CredentialsStore;
use crate::iam::IamClient;
use crate::oauth::{BrowserLogin, HttpTokenEndpoint, OAuthClient};

/// Client credentials tokens, shared by every client of the process.
static CLIENT_CREDENTIALS_CACHE: LazyLock<Mutex<HashMap<String, TokenSet>>> = LazyLock::new(Default::default);

/// The SDK's web login, one per process.
static SDK_WEB_LOGIN: LazyLock<Mutex<Option<Arc<WebLogin>>>> = LazyLock::new(Default::default);

/// The process-wide web login the SDK falls back to, created on first use.
pub fn sdk_web_login(config: &ProviderConfig) -> Arc<WebLogin> {
    let mut slot = SDK_WEB_LOGIN.lock().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| {
        let endpoint = Arc::new(HttpTokenEndpoint::new(config.clone()));
        Arc::new(WebLogin::new(Arc::new(BrowserLogin::sdk_default(config.clone())), Some(endpoint)))
    })
    .clone()
}

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
    /// login) and returns the client.
    pub async fn build(self) -> Result<Client, Error> {
        let endpoint = Arc::new(HttpTokenEndpoint::new(self.config.clone()));
        let chain = match &self.web_login {
            Some(login) => CredentialChain::sdk(self.config.clone(), Some(endpoint), login.clone()),
            None => CredentialChain::cli(self.config.clone(), Some(endpoint)),
        }
        .require_account(self.require_account);
        let resolved = chain.resolve(&self.args).await?;
        Client::from_resolved(self.config, resolved, self.web_login)
    }
}

/// A handle on the platform for one set of credentials: it keeps an access
/// token fresh (client credentials grant, refresh of the `[default]` login,
/// or the in-memory web login) and makes IAM calls with it.
pub struct Client {
    config: ProviderConfig,
    api_url: Url,
    resolved: ResolvedCredentials,
    web_login: Option<Arc<WebLogin>>,
    current: tokio::sync::Mutex<Option<TokenSet>>,
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

    /// A client for credentials already resolved.
    pub fn from_resolved(
        config: ProviderConfig,
        resolved: ResolvedCredentials,
        web_login: Option<Arc<WebLogin>>,
    ) -> Result<Self, Error> {
        let api_url = crate::platform::api_url(config.env(), resolved.api_url.as_deref())?;
        let current = match &resolved.credential {
            Credential::Token { access_token, expires_at, refresh_token } => Some(TokenSet {
                access_token: access_token.clone(),
                expires_at: *expires_at,
                refresh_token: refresh_token.clone(),
            }),
            Credential::ClientCredentials { .. } => None,
        };
        Ok(Self { config, api_url, resolved, web_login, current: tokio::sync::Mutex::new(current) })
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
        self.token(None).await.map(|t| t.access_token)
    }

    /// The current token set (its expiry included), renewed when due.
    pub async fn token_set(&self) -> Result<TokenSet, Error> {
        self.token(None).await
    }

    /// A new access token after the platform refused `rejected` (HTTP 401).
    pub async fn renew_after_rejection(&self, rejected: &AccessToken) -> Result<AccessToken, Error> {
        self.token(Some(rejected)).await.map(|t| t.access_token)
    }

    async fn token(&self, rejected: Option<&AccessToken>) -> Result<TokenSet, Error> {
        let now = self.config.clock().now();
        let mut current = self.current.lock().await;
        if let Some(tokens) = current.as_ref()
            && !tokens.state(now).needs_refresh()
            && rejected.is_none_or(|r| *r != tokens.access_token)
        {
            return Ok(tokens.clone());
        }
        let source = self.resolved.provenance.winner().map(|(s, _)| s);
        let fresh = match (&self.resolved.credential, source) {
            (Credential::ClientCredentials { client_id, client_secret }, _) => {
                self.client_credentials(client_id, client_secret, rejected).await?
            }
            (Credential::Token { .. }, Some(Source::DefaultProfile)) => self.refresh_default(rejected).await?,
            (Credential::Token { .. }, Some(Source::WebLogin)) => match &self.web_login {
                Some(login) => login.tokens(self.resolved.api_url.as_deref(), self.config.clock()).await?,
                None => return Err(Error::LoginExpired("the web login expired".into())),
            },
            (Credential::Token { .. }, source) => {
                let tokens = current.clone().expect("token credentials start with a token");
                let origin = match source {
                    Some(Source::Environment) => "KOMODO_ACCESS_TOKEN",
                    _ => "`jwt`",
                };
                match (tokens.state(now), tokens.expires_at) {
                    (TokenState::Expired, Some(at)) => {
                        return Err(Error::TokenExpired { origin: origin.into(), at: format_time(at) });
                    }
                    _ if rejected.is_some() => {
                        return Err(Error::LoginExpired(format!("the platform refused the token passed as {origin}")));
                    }
                    _ => tokens,
                }
            }
        };
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    async fn client_credentials(
        &self,
        client_id: &str,
        client_secret: &ClientSecret,
        rejected: Option<&AccessToken>,
    ) -> Result<TokenSet, Error> {
        let fingerprint = digest(&SHA256, client_secret.expose_secret().as_bytes());
        let key = format!("{}|{client_id}|{}", self.api_url, hex_encode(fingerprint.as_ref()));
        let now = self.config.clock().now();
        {
            let cache = CLIENT_CREDENTIALS_CACHE.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(tokens) = cache.get(&key)
                && !tokens.state(now).needs_refresh()
                && rejected.is_none_or(|r| *r != tokens.access_token)
            {
                return Ok(tokens.clone());
            }
        }
        let tokens = self.oauth().client_credentials(client_id, client_secret).await?;
        CLIENT_CREDENTIALS_CACHE.lock().unwrap_or_else(|e| e.into_inner()).insert(key, tokens.clone());
        Ok(tokens)
    }

    async fn refresh_default(&self, rejected: Option<&AccessToken>) -> Result<TokenSet, Error> {
        let store = CredentialsStore::locate(self.config.env())?;
        let endpoint = HttpTokenEndpoint::new(self.config.clone());
        let outcome = refresh_profile(&store, "default", self.config.clock(), &endpoint, rejected).await?;
        match outcome {
            Refreshed::Token { profile, .. } => Ok(TokenSet {
                expires_at: crate::auth::refresh::profile_expiry(&profile),
                access_token: profile.token.unwrap_or_else(|| "".into()),
                refresh_token: profile.refresh_token,
            }),
            Refreshed::NoRefreshToken(_) => {
                Err(Error::LoginExpired("the saved login has expired and holds no refresh token".into()))
            }
            Refreshed::Rejected(err) => Err(Error::LoginExpired(format!("the saved login was refused ({err})"))),
        }
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

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
