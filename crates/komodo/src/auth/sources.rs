//! The four sources of the chain, highest precedence first: the arguments,
//! the `KOMODO_*` variables, the `[default]` profile and the web login.
//! Each hands over what it found with the provider of its token.

use std::sync::Arc;

use komodo_protocol::secret::ClientSecret;

use super::args::{ARGUMENTS, ENVIRONMENT, Method, Names};
use super::provider::{ClientCredentialsToken, ProvideToken, SavedLoginToken, StaticToken, WebLoginToken};
use super::refresh::{Refreshed, profile_expiry, refresh_profile};
use super::source::{ChainContext, Found, ProvideCredentials, Provided};
use super::web_login::WebLogin;
use super::{AuthError, Credential, Source};
use crate::BoxFuture;
use crate::credentials::{ClientCredentialsProfile, CredentialsError, Profile, TokenProfile};
use crate::token::{TokenState, format_time};

/// The name of the profile `komodo login` writes.
pub(crate) const DEFAULT_PROFILE: &str = "default";

/// Source 1: credentials passed to the call.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExplicitProvider;

impl ProvideCredentials for ExplicitProvider {
    fn source(&self) -> Source {
        Source::Arguments
    }

    fn peek(&self, ctx: &ChainContext<'_>) -> Option<String> {
        describe(ctx.method(), &ARGUMENTS, ctx)
    }

    fn provide<'a>(&'a self, ctx: &'a ChainContext<'a>) -> BoxFuture<'a, Result<Provided, AuthError>> {
        Box::pin(async move { from_method(ctx.method(), &ARGUMENTS, ctx, "no credentials passed") })
    }
}

/// Source 2: `KOMODO_*` environment variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvironmentProvider;

impl ProvideCredentials for EnvironmentProvider {
    fn source(&self) -> Source {
        Source::Environment
    }

    fn peek(&self, ctx: &ChainContext<'_>) -> Option<String> {
        match ctx.environment() {
            Ok(method) => describe(method, &ENVIRONMENT, ctx),
            Err(err) => Some(format!("ignored, since it is invalid: {err}")),
        }
    }

    fn provide<'a>(&'a self, ctx: &'a ChainContext<'a>) -> BoxFuture<'a, Result<Provided, AuthError>> {
        Box::pin(async move {
            let method = ctx.environment().map_err(|err| AuthError::InvalidEnvironment(err.clone()))?;
            from_method(method, &ENVIRONMENT, ctx, "no KOMODO_* credentials set")
        })
    }
}

/// What a method holds, for provenance; `None` when it holds no credentials.
fn describe(method: &Method, names: &Names, ctx: &ChainContext<'_>) -> Option<String> {
    match method {
        Method::Jwt { .. } => Some(format!("{} + {}", names.jwt, names.account_id)),
        Method::ClientCredentials { .. } => Some(format!("{} + {}", names.client_pair, names.account_id)),
        Method::Profile { name } => {
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
        Method::AccountOnly { .. } | Method::None => None,
    }
}

/// What the arguments (or the variables, named by `names`) provide.
fn from_method(method: &Method, names: &Names, ctx: &ChainContext<'_>, nothing: &str) -> Result<Provided, AuthError> {
    let detail = || describe(method, names, ctx).unwrap_or_default();
    match method {
        Method::Jwt { jwt, account_id } => {
            let origin = if names.jwt == ARGUMENTS.jwt { format!("`{}`", names.jwt) } else { names.jwt.to_owned() };
            let provider = StaticToken::new(ctx.config().clone(), jwt.clone(), origin);
            let tokens = provider.tokens().clone();
            Ok(Provided::Found(Found {
                credential: Credential::Token {
                    access_token: tokens.access_token,
                    expires_at: tokens.expires_at,
                    refresh_token: None,
                },
                token_provider: Arc::new(provider),
                account_id: Some(account_id.clone()),
                account_slug: None,
                api_url: None,
                detail: detail(),
            }))
        }
        Method::ClientCredentials { client_id, client_secret, account_id } => Ok(Provided::Found(Found {
            credential: Credential::ClientCredentials {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
            },
            token_provider: client_credentials(ctx, None, client_id, client_secret),
            account_id: Some(account_id.clone()),
            account_slug: None,
            api_url: None,
            detail: detail(),
        })),
        Method::Profile { name } => named_profile(ctx, name, detail()),
        Method::AccountOnly { .. } => {
            Ok(Provided::NotMine(format!("only {} given (it selects the account)", names.account_id)))
        }
        Method::None => Ok(Provided::NotMine(nothing.to_owned())),
    }
}

fn client_credentials(
    ctx: &ChainContext<'_>,
    api_url: Option<&str>,
    client_id: &str,
    client_secret: &ClientSecret,
) -> Arc<dyn ProvideToken> {
    Arc::new(ClientCredentialsToken::new(
        ctx.config().clone(),
        ctx.endpoint().clone(),
        api_url.map(str::to_owned),
        client_id,
        client_secret.clone(),
    ))
}

/// What a profile of client credentials provides.
fn from_client_profile(
    ctx: &ChainContext<'_>,
    profile: ClientCredentialsProfile,
    account_id: Option<String>,
    detail: String,
) -> Provided {
    let token_provider =
        client_credentials(ctx, profile.api_url.as_deref(), &profile.client_id, &profile.client_secret);
    Provided::Found(Found {
        credential: Credential::ClientCredentials {
            client_id: profile.client_id,
            client_secret: profile.client_secret,
        },
        token_provider,
        account_id,
        account_slug: profile.account_slug,
        api_url: profile.api_url,
        detail,
    })
}

/// A named profile: client credentials only, never a fall-through.
fn named_profile(ctx: &ChainContext<'_>, name: &str, detail: String) -> Result<Provided, AuthError> {
    let store = ctx.store()?;
    match ctx.profile(name)? {
        Some(Profile::ClientCredentials(profile)) => {
            if profile.account_id.is_none() && ctx.requires_account() {
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
            let account_id = profile.account_id.clone();
            Ok(from_client_profile(ctx, profile, account_id, detail))
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

/// Source 3: the `[default]` profile of the credentials file: the login
/// `komodo login` saved (refreshed when due), or client credentials.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultProfileProvider;

impl DefaultProfileProvider {
    /// What the saved login provides: its token as it is now, and the
    /// provider that refreshes it.
    fn saved_login(ctx: &ChainContext<'_>, profile: TokenProfile, detail: String) -> Result<Provided, AuthError> {
        let account_override = ctx.account_override();
        let account_slug = if account_override.is_some() { None } else { profile.account_slug.clone() };
        let token_provider =
            SavedLoginToken::new(ctx.config().clone(), ctx.endpoint().clone(), ctx.store()?.clone(), DEFAULT_PROFILE);
        Ok(Provided::Found(Found {
            credential: Credential::Token {
                expires_at: profile_expiry(&profile),
                access_token: profile.token.clone().unwrap_or_else(|| "".into()),
                refresh_token: profile.refresh_token.clone(),
            },
            token_provider: Arc::new(token_provider),
            account_id: account_override.or(profile.account_id),
            account_slug,
            api_url: profile.api_url,
            detail,
        }))
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
            let profile = match ctx.profile(DEFAULT_PROFILE)? {
                None => return Ok(Provided::NotMine(format!("no [default] profile in {path}"))),
                Some(Profile::ClientCredentials(p)) => {
                    let account_id = ctx.account_override().or(p.account_id.clone());
                    return Ok(from_client_profile(ctx, p, account_id, format!("client credentials in {path}")));
                }
                Some(Profile::Token(p)) => p,
            };
            if profile.token.is_none() && profile.refresh_token.is_none() {
                return Ok(Provided::NotMine(format!("[default] in {path} holds no token (logged out)")));
            }
            let expiry = profile_expiry(&profile);
            let state = TokenState::at(expiry, ctx.config().clock().now());
            let expired_reason = || match expiry {
                Some(at) if profile.token.is_some() => format!("the token in {path} expired at {}", format_time(at)),
                _ => format!("[default] in {path} holds no access token"),
            };
            if profile.token.is_some() && !state.needs_refresh() {
                return Self::saved_login(ctx, profile, format!("login token in {path}"));
            }
            if profile.refresh_token.is_none() && !(state.is_usable() && profile.token.is_some()) {
                return Ok(Provided::NotMine(format!("{}, and there is no refresh token", expired_reason())));
            }
            match refresh_profile(store, DEFAULT_PROFILE, ctx.config().clock(), &**ctx.endpoint(), None).await? {
                Refreshed::Token { profile, refreshed } => {
                    let detail = if refreshed {
                        format!("login token in {path}, refreshed")
                    } else {
                        format!("login token in {path}")
                    };
                    Self::saved_login(ctx, profile, detail)
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
            if ctx.requires_account() && account_id.is_none() {
                return Ok(Provided::NoAccount("not started, since no account is selected".to_owned()));
            }
            let api_url = default.and_then(|p| p.api_url);
            let token_provider = WebLoginToken::new(ctx.config().clone(), self.login.clone(), api_url.clone());
            let tokens = token_provider.provide_token(None).await?;
            Ok(Provided::Found(Found {
                credential: Credential::Token {
                    access_token: tokens.access_token,
                    expires_at: tokens.expires_at,
                    refresh_token: tokens.refresh_token,
                },
                token_provider: Arc::new(token_provider),
                account_id,
                account_slug: None,
                api_url,
                detail: "interactive login, kept in memory for this process".to_owned(),
            }))
        })
    }
}
