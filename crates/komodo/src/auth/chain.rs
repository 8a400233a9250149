//! The credential providers and the chain that tries them in order.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::args::{ARGUMENTS, ENVIRONMENT};
use super::refresh::{Refreshed, profile_expiry};
use super::{
    Attempt, AuthArgs, AuthError, Credential, Method, Outcome, Provenance, ResolvedCredentials, Source, TokenEndpoint,
    TokenState, WebLogin, format_time, jwt_expiry, refresh_profile,
};
use crate::BoxFuture;
use crate::config::ProviderConfig;
use crate::credentials::{CredentialsError, CredentialsStore, Document, Profile, TokenProfile};
use crate::env;

/// What a provider found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The credential.
    pub credential: Credential,
    /// The account the source names (or the account override).
    pub account_id: Option<String>,
    /// The account's slug, when recorded.
    pub account_slug: Option<String>,
    /// The platform URL the source names.
    pub api_url: Option<String>,
    /// What the source held, for provenance (never a secret).
    pub detail: String,
}

/// A provider's answer.
#[derive(Debug, Clone)]
pub enum Provided {
    /// This source applies: use it.
    Found(Found),
    /// Not this source; the reason is recorded and the chain goes on.
    NotMine(String),
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

/// What the providers of one resolution share: the arguments, the
/// configuration, and the credentials file, read at most once.
pub struct ChainContext<'a> {
    args: &'a AuthArgs,
    config: &'a ProviderConfig,
    require_account: bool,
    store: Result<CredentialsStore, Arc<CredentialsError>>,
    document: OnceLock<Result<Option<Document>, Arc<CredentialsError>>>,
}

impl fmt::Debug for ChainContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainContext").field("args", self.args).field("store", &self.store).finish_non_exhaustive()
    }
}

impl<'a> ChainContext<'a> {
    fn new(args: &'a AuthArgs, config: &'a ProviderConfig, require_account: bool) -> Self {
        let store = CredentialsStore::locate(config.env()).map_err(Arc::new);
        Self { args, config, require_account, store, document: OnceLock::new() }
    }

    /// The arguments of the call.
    pub fn args(&self) -> &AuthArgs {
        self.args
    }

    /// The configuration.
    pub fn config(&self) -> &ProviderConfig {
        self.config
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
        let env_args = environment_args(self.config.env());
        match env_args.validate_as(&ENVIRONMENT) {
            Ok(Method::AccountOnly) => env_args.account_id,
            _ => None,
        }
    }

    fn profile(&self, name: &str) -> Result<Option<Profile>, AuthError> {
        match self.document()? {
            Some(doc) => Ok(Profile::from_document(doc, name, self.store()?.path())?),
            None => Ok(None),
        }
    }
}

/// The chain of providers, tried in order; the first that finds
/// credentials wins.
///
/// ```
/// use std::sync::Arc;
/// use komodo::auth::{CredentialChain, DefaultProfileProvider, EnvironmentProvider, ExplicitProvider};
/// use komodo::config::ProviderConfig;
///
/// let chain = CredentialChain::first_try(ProviderConfig::from_process(), ExplicitProvider)
///     .or_else(EnvironmentProvider)
///     .or_else(DefaultProfileProvider::new(None));
/// # drop(chain);
/// ```
#[derive(Debug, Clone)]
pub struct CredentialChain {
    config: ProviderConfig,
    providers: Vec<Arc<dyn ProvideCredentials>>,
    require_account: bool,
}

impl CredentialChain {
    /// A chain starting with `provider`.
    pub fn first_try(config: ProviderConfig, provider: impl ProvideCredentials + 'static) -> Self {
        Self { config, providers: vec![Arc::new(provider)], require_account: true }
    }

    /// Adds a provider, tried after the ones before it.
    pub fn or_else(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.providers.push(Arc::new(provider));
        self
    }

    /// Whether a resolution must name an account (default: yes). Commands
    /// that act on no account (`komodo jwt`, `komodo account list`) turn
    /// it off.
    pub fn require_account(mut self, required: bool) -> Self {
        self.require_account = required;
        self
    }

    /// The SDK's chain: arguments, environment, `[default]` (refreshed
    /// through `endpoint`), then the process-wide web login.
    pub fn sdk(config: ProviderConfig, endpoint: Option<Arc<dyn TokenEndpoint>>, login: Arc<WebLogin>) -> Self {
        Self::cli(config, endpoint).or_else(WebLoginProvider::new(login))
    }

    /// The CLI's chain: like the SDK's without web login; running out of
    /// sources is a "login required" error.
    pub fn cli(config: ProviderConfig, endpoint: Option<Arc<dyn TokenEndpoint>>) -> Self {
        Self::first_try(config, ExplicitProvider)
            .or_else(EnvironmentProvider)
            .or_else(DefaultProfileProvider::new(endpoint))
    }

    /// The configuration the chain runs with.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Validates `args`, then asks each provider in turn.
    pub async fn resolve(&self, args: &AuthArgs) -> Result<ResolvedCredentials, AuthError> {
        args.validate()?;
        let ctx = ChainContext::new(args, &self.config, self.require_account);
        let mut provenance = Provenance::default();
        for (index, provider) in self.providers.iter().enumerate() {
            let provided = match provider.provide(&ctx).await {
                Ok(provided) => provided,
                Err(AuthError::UnsetAccount { provenance: p }) if p.attempts.is_empty() => {
                    let reason = "not started, since no account is selected".to_owned();
                    provenance.attempts.push(Attempt { source: provider.source(), outcome: Outcome::Skipped(reason) });
                    return Err(AuthError::UnsetAccount { provenance });
                }
                Err(err) => return Err(err),
            };
            match provided {
                Provided::NotMine(reason) => {
                    provenance.attempts.push(Attempt { source: provider.source(), outcome: Outcome::Skipped(reason) });
                }
                Provided::Found(found) => {
                    provenance
                        .attempts
                        .push(Attempt { source: provider.source(), outcome: Outcome::Used(found.detail) });
                    for lower in &self.providers[index + 1..] {
                        if let Some(detail) = lower.peek(&ctx) {
                            provenance
                                .attempts
                                .push(Attempt { source: lower.source(), outcome: Outcome::Shadowed(detail) });
                        }
                    }
                    if self.require_account && found.account_id.is_none() {
                        return Err(AuthError::UnsetAccount { provenance });
                    }
                    return Ok(ResolvedCredentials {
                        credential: found.credential,
                        account_id: found.account_id,
                        account_slug: found.account_slug,
                        api_url: found.api_url,
                        provenance,
                    });
                }
            }
        }
        Err(AuthError::LoginRequired { provenance })
    }
}

/// Source 1: credentials passed to the call.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExplicitProvider;

impl ProvideCredentials for ExplicitProvider {
    fn source(&self) -> Source {
        Source::Arguments
    }

    fn peek(&self, ctx: &ChainContext<'_>) -> Option<String> {
        let method = ctx.args.validate().ok()?;
        describe(method, ctx.args, &ARGUMENTS, ctx)
    }

    fn provide<'a>(&'a self, ctx: &'a ChainContext<'a>) -> BoxFuture<'a, Result<Provided, AuthError>> {
        Box::pin(async move {
            let method = ctx.args.validate()?;
            from_args(method, ctx.args, &ARGUMENTS, ctx, "no credentials passed")
        })
    }
}

/// Source 2: `KOMODO_*` environment variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvironmentProvider;

fn environment_args(env: &env::Env) -> AuthArgs {
    AuthArgs {
        jwt: env.get(env::KOMODO_ACCESS_TOKEN).map(Into::into),
        client_id: env.get(env::KOMODO_CLIENT_ID),
        client_secret: env.get(env::KOMODO_CLIENT_SECRET).map(Into::into),
        account_id: env.get(env::KOMODO_ACCOUNT_ID),
        profile: env.get(env::KOMODO_PROFILE),
    }
}

impl ProvideCredentials for EnvironmentProvider {
    fn source(&self) -> Source {
        Source::Environment
    }

    fn peek(&self, ctx: &ChainContext<'_>) -> Option<String> {
        let args = environment_args(ctx.config.env());
        match args.validate_as(&ENVIRONMENT) {
            Ok(method) => describe(method, &args, &ENVIRONMENT, ctx),
            Err(err) => Some(format!("ignored, since it is invalid: {err}")),
        }
    }

    fn provide<'a>(&'a self, ctx: &'a ChainContext<'a>) -> BoxFuture<'a, Result<Provided, AuthError>> {
        Box::pin(async move {
            let args = environment_args(ctx.config.env());
            let method = args.validate_as(&ENVIRONMENT).map_err(AuthError::InvalidEnvironment)?;
            from_args(method, &args, &ENVIRONMENT, ctx, "no KOMODO_* credentials set")
        })
    }
}

fn describe(method: Method, args: &AuthArgs, names: &super::args::Names, ctx: &ChainContext<'_>) -> Option<String> {
    match method {
        Method::Jwt => Some(format!("{} + {}", names.jwt, names.account_id)),
        Method::ClientCredentials => Some(format!("{} + {}", names.client_pair, names.account_id)),
        Method::Profile => {
            let name = args.profile.as_deref().unwrap_or_default();
            let location = match ctx.store() {
                Ok(store) => format!("profile [{name}] in {}", store.path().display()),
                Err(_) => format!("profile [{name}]"),
            };
            Some(if names.profile == ARGUMENTS.profile {
                location
            } else {
                format!("{}={name}: {location}", names.profile)
            })
        }
        Method::AccountOnly | Method::None => None,
    }
}

fn from_args(
    method: Method,
    args: &AuthArgs,
    names: &super::args::Names,
    ctx: &ChainContext<'_>,
    nothing: &str,
) -> Result<Provided, AuthError> {
    let detail = || describe(method, args, names, ctx).unwrap_or_default();
    let account_id = args.account_id.clone().or_else(|| ctx.account_override());
    match method {
        Method::Jwt => {
            let access_token = args.jwt.clone().unwrap_or_else(|| "".into());
            let expires_at = jwt_expiry(&access_token);
            Ok(Provided::Found(Found {
                credential: Credential::Token { access_token, expires_at, refresh_token: None },
                account_id,
                account_slug: None,
                api_url: None,
                detail: detail(),
            }))
        }
        Method::ClientCredentials => Ok(Provided::Found(Found {
            credential: Credential::ClientCredentials {
                client_id: args.client_id.clone().unwrap_or_default(),
                client_secret: args.client_secret.clone().unwrap_or_else(|| "".into()),
            },
            account_id,
            account_slug: None,
            api_url: None,
            detail: detail(),
        })),
        Method::Profile => named_profile(ctx, args.profile.as_deref().unwrap_or_default(), detail()),
        Method::AccountOnly => {
            Ok(Provided::NotMine(format!("only {} given (it selects the account)", names.account_id)))
        }
        Method::None => Ok(Provided::NotMine(nothing.to_owned())),
    }
}

/// A named profile: client credentials only, never a fall-through.
fn named_profile(ctx: &ChainContext<'_>, name: &str, detail: String) -> Result<Provided, AuthError> {
    let store = ctx.store()?;
    match ctx.profile(name)? {
        Some(Profile::ClientCredentials(profile)) => {
            if profile.account_id.is_none() && ctx.require_account {
                let line = ctx.document()?.and_then(|d| d.section(name)).map_or(0, |s| s.header_line());
                return Err(CredentialsError::InvalidProfile {
                    path: store.path().to_owned(),
                    profile: name.to_owned(),
                    line,
                    problem: "has no `account_id`; add `account_id = <account id>` (`komodo account list` shows them)"
                        .to_owned(),
                }
                .into());
            }
            Ok(Provided::Found(Found {
                credential: Credential::ClientCredentials {
                    client_id: profile.client_id,
                    client_secret: profile.client_secret,
                },
                account_id: profile.account_id,
                account_slug: profile.account_slug,
                api_url: profile.api_url,
                detail,
            }))
        }
        Some(Profile::Token(_)) => {
            Err(AuthError::ProfileHoldsToken { name: name.to_owned(), path: store.path().to_owned() })
        }
        None => Err(AuthError::ProfileNotFound {
            name: name.to_owned(),
            path: store.path().to_owned(),
            available: ctx.document()?.map(|d| d.section_names().map(str::to_owned).collect()).unwrap_or_default(),
        }),
    }
}

/// The name of the profile `komodo login` writes.
pub(crate) const DEFAULT_PROFILE: &str = "default";

/// Source 3: the `[default]` profile of the credentials file.
#[derive(Debug, Clone, Default)]
pub struct DefaultProfileProvider {
    endpoint: Option<Arc<dyn TokenEndpoint>>,
}

impl DefaultProfileProvider {
    /// Reads `[default]`, refreshing its token through `endpoint` when given.
    pub fn new(endpoint: Option<Arc<dyn TokenEndpoint>>) -> Self {
        Self { endpoint }
    }
}

impl ProvideCredentials for DefaultProfileProvider {
    fn source(&self) -> Source {
        Source::DefaultProfile
    }

    fn peek(&self, ctx: &ChainContext<'_>) -> Option<String> {
        let path = ctx.store().ok()?.path().display().to_string();
        match ctx.profile(DEFAULT_PROFILE) {
            Ok(Some(Profile::ClientCredentials(_))) => Some(format!("client credentials in {path}")),
            Ok(Some(Profile::Token(p))) if p.token.is_some() || p.refresh_token.is_some() => {
                Some(format!("login token in {path}"))
            }
            Ok(_) => None,
            Err(err) => Some(format!("unreadable: {err}")),
        }
    }

    fn provide<'a>(&'a self, ctx: &'a ChainContext<'a>) -> BoxFuture<'a, Result<Provided, AuthError>> {
        Box::pin(async move {
            let store = ctx.store()?;
            let path = store.path().display();
            if ctx.document()?.is_none() {
                return Ok(Provided::NotMine(format!("no credentials file at {path}")));
            }
            let account_override = ctx.account_override();
            let profile = match ctx.profile(DEFAULT_PROFILE)? {
                None => return Ok(Provided::NotMine(format!("no [default] profile in {path}"))),
                Some(Profile::ClientCredentials(p)) => {
                    return Ok(Provided::Found(Found {
                        credential: Credential::ClientCredentials {
                            client_id: p.client_id,
                            client_secret: p.client_secret,
                        },
                        account_id: account_override.or(p.account_id),
                        account_slug: p.account_slug,
                        api_url: p.api_url,
                        detail: format!("client credentials in {path}"),
                    }));
                }
                Some(Profile::Token(p)) => p,
            };
            if profile.token.is_none() && profile.refresh_token.is_none() {
                return Ok(Provided::NotMine(format!("[default] in {path} holds no token (logged out)")));
            }
            let expiry = profile_expiry(&profile);
            let state = TokenState::at(expiry, ctx.config.clock().now());
            let expired_reason = || match expiry {
                Some(at) if profile.token.is_some() => format!("the token in {path} expired at {}", format_time(at)),
                _ => format!("[default] in {path} holds no access token"),
            };
            let found = |profile: TokenProfile, detail: String| {
                let account_slug = if account_override.is_some() { None } else { profile.account_slug.clone() };
                Provided::Found(Found {
                    credential: Credential::Token {
                        expires_at: profile_expiry(&profile),
                        access_token: profile.token.clone().unwrap_or_else(|| "".into()),
                        refresh_token: profile.refresh_token.clone(),
                    },
                    account_id: account_override.clone().or(profile.account_id.clone()),
                    account_slug,
                    api_url: profile.api_url.clone(),
                    detail,
                })
            };
            if profile.token.is_some() && !state.needs_refresh() {
                return Ok(found(profile, format!("login token in {path}")));
            }
            let Some(endpoint) = &self.endpoint else {
                return Ok(match state.is_usable() && profile.token.is_some() {
                    true => found(profile, format!("login token in {path}")),
                    false => Provided::NotMine(format!("{}; it cannot be refreshed here", expired_reason())),
                });
            };
            if profile.refresh_token.is_none() && !(state.is_usable() && profile.token.is_some()) {
                return Ok(Provided::NotMine(format!("{}, and there is no refresh token", expired_reason())));
            }
            match refresh_profile(store, DEFAULT_PROFILE, ctx.config.clock(), &**endpoint, None).await? {
                Refreshed::Token { profile, refreshed } => {
                    let detail = if refreshed {
                        format!("login token in {path}, refreshed")
                    } else {
                        format!("login token in {path}")
                    };
                    Ok(found(profile, detail))
                }
                Refreshed::NoRefreshToken(_) => {
                    Ok(Provided::NotMine(format!("{}, and there is no refresh token", expired_reason())))
                }
                Refreshed::Rejected(err) => Ok(Provided::NotMine(format!(
                    "{}, and the platform refused its refresh token: {err}",
                    expired_reason()
                ))),
            }
        })
    }
}

/// Source 4: the process-wide interactive web login (SDK only).
#[derive(Debug, Clone)]
pub struct WebLoginProvider {
    login: Arc<WebLogin>,
}

impl WebLoginProvider {
    /// Logs in through `login` when every other source is exhausted.
    pub fn new(login: Arc<WebLogin>) -> Self {
        Self { login }
    }
}

impl ProvideCredentials for WebLoginProvider {
    fn source(&self) -> Source {
        Source::WebLogin
    }

    fn peek(&self, _ctx: &ChainContext<'_>) -> Option<String> {
        None
    }

    fn provide<'a>(&'a self, ctx: &'a ChainContext<'a>) -> BoxFuture<'a, Result<Provided, AuthError>> {
        Box::pin(async move {
            // The account must be known before a browser window opens.
            let default = match ctx.profile(DEFAULT_PROFILE)? {
                Some(Profile::Token(p)) => Some(p),
                _ => None,
            };
            let account_id = ctx.account_override().or_else(|| default.as_ref().and_then(|p| p.account_id.clone()));
            if ctx.require_account && account_id.is_none() {
                return Err(AuthError::UnsetAccount { provenance: Provenance::default() });
            }
            let api_url = default.as_ref().and_then(|p| p.api_url.clone());
            let tokens = self.login.tokens(api_url.as_deref(), ctx.config.clock()).await?;
            Ok(Provided::Found(Found {
                credential: Credential::Token {
                    access_token: tokens.access_token,
                    expires_at: tokens.expires_at,
                    refresh_token: tokens.refresh_token,
                },
                account_id,
                account_slug: None,
                api_url,
                detail: "interactive login, kept in memory for this process".to_owned(),
            }))
        })
    }
}
