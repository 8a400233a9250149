//! What a source of credentials is to the chain: [`ProvideCredentials`],
//! its answer ([`Provided`]), and the [`ChainContext`] the sources of one
//! resolution share.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::args::{ArgsError, AuthArgs, ENVIRONMENT, Method};
use super::provider::ProvideToken;
use super::{AuthError, Credential, Source};
use crate::BoxFuture;
use crate::config::ProviderConfig;
use crate::credentials::{CredentialsError, CredentialsStore, Document, Profile};
use crate::env;
use crate::oauth::TokenEndpoint;

/// What a source found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The credential, as the source holds it.
    pub credential: Credential,
    /// The provider of the credential's token.
    pub token_provider: Arc<dyn ProvideToken>,
    /// The account the source names (or the account override).
    pub account_id: Option<String>,
    /// The account's slug, when recorded.
    pub account_slug: Option<String>,
    /// The platform URL the source names.
    pub api_url: Option<String>,
    /// What the source held, for provenance (never a secret).
    pub detail: String,
}

/// A source's answer.
#[derive(Debug, Clone)]
pub enum Provided {
    /// This source applies: use it.
    Found(Found),
    /// Not this source; the reason is recorded and the chain goes on.
    NotMine(String),
    /// This source would apply, but cannot start before an account is
    /// selected (an interactive login is not started for nothing); the
    /// reason is recorded and the chain stops with
    /// [`AuthError::UnsetAccount`].
    NoAccount(String),
}

/// One source of credentials.
pub trait ProvideCredentials: Send + Sync + fmt::Debug {
    /// Which source this is.
    fn source(&self) -> Source;

    /// Whether the source holds credentials, decided without side effects
    /// (no refresh, no login); used to record what a winner shadowed.
    fn peek(&self, ctx: &ChainContext<'_>) -> Option<String>;

    /// Provides credentials, says "not mine", or fails the chain.
    fn provide<'a>(&'a self, ctx: &'a ChainContext<'a>) -> BoxFuture<'a, Result<Provided, AuthError>>;
}

/// What the sources of one resolution share: the arguments (validated
/// once), the environment's credentials (validated once), the
/// configuration, the token endpoint, and the credentials file, read at
/// most once.
pub struct ChainContext<'a> {
    args: &'a AuthArgs,
    method: Method,
    environment: Result<Method, ArgsError>,
    config: &'a ProviderConfig,
    endpoint: &'a Arc<dyn TokenEndpoint>,
    require_account: bool,
    store: Result<CredentialsStore, Arc<CredentialsError>>,
    document: OnceLock<Result<Option<Document>, Arc<CredentialsError>>>,
}

impl fmt::Debug for ChainContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainContext").field("method", &self.method).field("store", &self.store).finish_non_exhaustive()
    }
}

/// The `KOMODO_*` credentials, as arguments.
fn environment_args(env: &env::Env) -> AuthArgs {
    AuthArgs {
        jwt: env.get(env::KOMODO_ACCESS_TOKEN).map(Into::into),
        client_id: env.get(env::KOMODO_CLIENT_ID),
        client_secret: env.get(env::KOMODO_CLIENT_SECRET).map(Into::into),
        account_id: env.get(env::KOMODO_ACCOUNT_ID),
        profile: env.get(env::KOMODO_PROFILE),
    }
}

impl<'a> ChainContext<'a> {
    /// The context of a resolution of `args`, which [`AuthArgs::validate`]
    /// turned into `method`.
    pub(crate) fn new(
        args: &'a AuthArgs,
        method: Method,
        config: &'a ProviderConfig,
        endpoint: &'a Arc<dyn TokenEndpoint>,
        require_account: bool,
    ) -> Self {
        let environment = environment_args(config.env()).validate_as(&ENVIRONMENT);
        let store = CredentialsStore::locate(config.env()).map_err(Arc::new);
        Self { args, method, environment, config, endpoint, require_account, store, document: OnceLock::new() }
    }

    /// The arguments of the call.
    pub fn args(&self) -> &AuthArgs {
        self.args
    }

    /// The method the arguments select, with its values.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The method the `KOMODO_*` variables select, or why they are invalid.
    pub fn environment(&self) -> Result<&Method, &ArgsError> {
        self.environment.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &ProviderConfig {
        self.config
    }

    /// The token endpoint the sources' token providers use.
    pub fn endpoint(&self) -> &Arc<dyn TokenEndpoint> {
        self.endpoint
    }

    /// Whether the resolution must name an account.
    pub fn requires_account(&self) -> bool {
        self.require_account
    }

    /// The credentials file.
    pub fn store(&self) -> Result<&CredentialsStore, AuthError> {
        self.store.as_ref().map_err(|e| AuthError::Credentials(e.clone()))
    }

    /// The credentials file's contents, read once per resolution.
    pub fn document(&self) -> Result<Option<&Document>, AuthError> {
        let store = self.store()?;
        let cached = self.document.get_or_init(|| {
            let doc = store.read().map_err(Arc::new)?;
            if doc.is_some() {
                store.permission_warnings();
            }
            Ok(doc)
        });
        match cached {
            Ok(doc) => Ok(doc.as_ref()),
            Err(err) => Err(AuthError::Credentials(err.clone())),
        }
    }

    /// The account selected on its own, outside any credential set: the
    /// `account_id` argument, else `KOMODO_ACCOUNT_ID` when the environment
    /// holds no credential set.
    pub fn account_override(&self) -> Option<String> {
        if let Some(account) = &self.args.account_id {
            return Some(account.clone());
        }
        match &self.environment {
            Ok(Method::AccountOnly { account_id }) => Some(account_id.clone()),
            _ => None,
        }
    }

    /// Section `name` of the credentials file, with its meaning.
    pub fn profile(&self, name: &str) -> Result<Option<Profile>, AuthError> {
        match self.document()? {
            Some(doc) => Ok(Profile::from_document(doc, name, self.store()?.path())?),
            None => Ok(None),
        }
    }
}
