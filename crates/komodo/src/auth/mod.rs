//! Choosing credentials: argument validation, the resolution chain, token
//! refresh and the in-memory web login.
//!
//! Arguments are validated first ([`AuthArgs::validate`]), before any file
//! or network I/O. Then the first source that applies wins, and it is used
//! whole:
//!
//! 1. explicit arguments: `jwt` + `account_id`; `client_id` +
//!    `client_secret` + `account_id`; or `profile` (client credentials only);
//! 2. the environment: `KOMODO_ACCESS_TOKEN` + `KOMODO_ACCOUNT_ID`;
//!    `KOMODO_CLIENT_ID` + `KOMODO_CLIENT_SECRET` + `KOMODO_ACCOUNT_ID`; or
//!    `KOMODO_PROFILE`;
//! 3. the `[default]` profile, refreshing an expired token with its refresh
//!    token (one refresh across all processes sharing the file);
//! 4. an interactive web login whose tokens stay in memory (SDK only).
//!
//! An `account_id` passed alone (or `KOMODO_ACCOUNT_ID` set alone) selects
//! the account for the lower sources. Every [`ResolvedCredentials`] carries
//! its [`Provenance`]: which source won and which it shadowed.
//!
//! Each source is a [`ProvideCredentials`]: it says "not mine, go on",
//! fails the chain with a reason, or hands back what it found together with
//! a [`ProvideToken`], the provider that produces the source's token and
//! renews it (a client credentials grant, a refresh of `[default]` across
//! processes, the in-memory web login, or nothing for a token passed as it
//! is). A client keeps that provider behind a [`TokenCache`], which asks it
//! again when the token is due or the platform refused it.
//!
//! The modules are layered: `args` (the six rules), `provider` (token
//! providers, over `refresh` and `web_login`) and `cache` at the bottom,
//! `source` (the source trait and what a resolution shares) above them,
//! `sources` (the four sources) above that, and `chain` on top.

mod args;
mod cache;
mod chain;
mod provider;
pub mod refresh;
mod source;
mod sources;
mod web_login;

#[cfg(test)]
mod fakes;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

pub use args::{ArgsError, AuthArgs, Method};
pub use cache::TokenCache;
pub use chain::CredentialChain;
pub use provider::{ClientCredentialsToken, ProvideToken, SavedLoginToken, StaticToken, WebLoginToken};
pub use refresh::refresh_profile;
pub use source::{ChainContext, Found, ProvideCredentials, Provided};
pub use sources::{DefaultProfileProvider, EnvironmentProvider, ExplicitProvider, WebLoginProvider};
pub use web_login::WebLogin;

pub use crate::oauth::{InteractiveLogin, LoginError, TokenEndpoint};
pub use crate::token::{
    EXPIRY_SKEW, REFRESH_WINDOW, TokenError, TokenSet, TokenState, format_time, from_unix_seconds, jwt_expiry,
    unix_seconds,
};

use komodo_protocol::secret::{AccessToken, ClientSecret, RefreshToken};

use crate::credentials::CredentialsError;

/// What a source yields.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token, ready to send.
    Token {
        /// The token.
        access_token: AccessToken,
        /// When it expires, if known.
        expires_at: Option<SystemTime>,
        /// A refresh token that can renew it, if any.
        refresh_token: Option<RefreshToken>,
    },
    /// Service principal credentials, to exchange for a token with the
    /// client credentials grant.
    ClientCredentials {
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: ClientSecret,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Token { access_token, expires_at, refresh_token } => f
                .debug_struct("Token")
                .field("access_token", access_token)
                .field("expires_at", &expires_at.map(unix_seconds))
                .field("refresh_token", refresh_token)
                .finish(),
            Credential::ClientCredentials { client_id, client_secret } => f
                .debug_struct("ClientCredentials")
                .field("client_id", client_id)
                .field("client_secret", client_secret)
                .finish(),
        }
    }
}

impl Credential {
    /// A short name of the kind of credential: `token` or `client credentials`.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::Token { .. } => "token",
            Credential::ClientCredentials { .. } => "client credentials",
        }
    }

    /// The token the credential holds already, if it is one.
    pub fn token_set(&self) -> Option<TokenSet> {
        match self {
            Credential::Token { access_token, expires_at, refresh_token } => Some(TokenSet {
                access_token: access_token.clone(),
                expires_at: *expires_at,
                refresh_token: refresh_token.clone(),
            }),
            Credential::ClientCredentials { .. } => None,
        }
    }
}

/// Credentials chosen by the chain, with where they came from and the
/// provider of their token.
#[derive(Debug, Clone)]
pub struct ResolvedCredentials {
    /// The credential, as the source held it.
    pub credential: Credential,
    /// The provider that produces the credential's token and renews it.
    pub token_provider: Arc<dyn ProvideToken>,
    /// The account to act on (always set when the chain requires one).
    pub account_id: Option<String>,
    /// The account's slug, when the source records it.
    pub account_slug: Option<String>,
    /// The platform URL the source names, if any.
    pub api_url: Option<String>,
    /// Which source won and what it shadowed.
    pub provenance: Provenance,
}

/// The sources of the chain, highest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Arguments passed to the call.
    Arguments,
    /// `KOMODO_*` environment variables.
    Environment,
    /// The `[default]` profile of the credentials file.
    DefaultProfile,
    /// An interactive web login kept in memory.
    WebLogin,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Arguments => "arguments",
            Source::Environment => "environment",
            Source::DefaultProfile => "[default] profile",
            Source::WebLogin => "web login",
        })
    }
}

/// What happened to one source during a resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The source won; the detail says what it held.
    Used(String),
    /// The source holds credentials but a higher one won.
    Shadowed(String),
    /// The source did not apply; the reason says why.
    Skipped(String),
}

/// One source's part in a resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The source.
    pub source: Source,
    /// What happened to it.
    pub outcome: Outcome,
}

/// The record of a resolution: every source in order, and what happened to
/// it. Holds names, paths and times, never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// Every source consulted, highest precedence first.
    pub attempts: Vec<Attempt>,
}

impl Provenance {
    /// The source that won, with its detail.
    pub fn winner(&self) -> Option<(Source, &str)> {
        self.attempts.iter().find_map(|a| match &a.outcome {
            Outcome::Used(detail) => Some((a.source, detail.as_str())),
            _ => None,
        })
    }

    /// The sources the winner shadowed, with their details.
    pub fn shadowed(&self) -> impl Iterator<Item = (Source, &str)> {
        self.attempts.iter().filter_map(|a| match &a.outcome {
            Outcome::Shadowed(detail) => Some((a.source, detail.as_str())),
            _ => None,
        })
    }
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for attempt in &self.attempts {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            match &attempt.outcome {
                Outcome::Used(detail) => write!(f, "{}: used ({detail})", attempt.source)?,
                Outcome::Shadowed(detail) => write!(f, "{}: shadowed ({detail})", attempt.source)?,
                Outcome::Skipped(reason) => write!(f, "{}: {reason}", attempt.source)?,
            }
        }
        Ok(())
    }
}

/// Why no credentials could be chosen, or no token obtained with them.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The arguments break one of the six rules.
    #[error(transparent)]
    InvalidArguments(#[from] ArgsError),
    /// The `KOMODO_*` variables break one of the rules, or form a partial set.
    #[error("invalid environment: {0}")]
    InvalidEnvironment(ArgsError),
    /// A named profile does not exist.
    #[error("profile [{name}] not found in {}; {}", path.display(), available_profiles(available))]
    ProfileNotFound {
        /// The name asked for.
        name: String,
        /// The credentials file.
        path: PathBuf,
        /// The profiles that do exist.
        available: Vec<String>,
    },
    /// A named profile holds a login token rather than client credentials.
    #[error(
        "profile [{name}] in {} holds a login token, but named profiles only support service principal \
         credentials (client_id, client_secret, account_id); to use your login, pass no profile",
        path.display()
    )]
    ProfileHoldsToken {
        /// The profile.
        name: String,
        /// The credentials file.
        path: PathBuf,
    },
    /// A login was to be saved to, or removed from, a profile that holds
    /// service principal credentials.
    #[error(
        "profile [{name}] in {} holds service principal credentials, not a login; {}",
        path.display(),
        holds_client_credentials_fix(name)
    )]
    HoldsClientCredentials {
        /// The profile.
        name: String,
        /// The credentials file.
        path: PathBuf,
    },
    /// The credentials file is unreadable, malformed, or a profile in it is.
    #[error(transparent)]
    Credentials(#[from] Arc<CredentialsError>),
    /// Credentials were found but no account is selected.
    #[error(
        "no account selected: pass `account_id`, set KOMODO_ACCOUNT_ID, or run `komodo account set` \
         (sources: {provenance})"
    )]
    UnsetAccount {
        /// What each source said.
        provenance: Provenance,
    },
    /// No source holds usable credentials, and no web login is available.
    #[error("login required: no usable credentials ({provenance}); run `komodo login`")]
    LoginRequired {
        /// What each source said.
        provenance: Provenance,
    },
    /// A token passed as it is (argument or environment) has expired.
    #[error("the access token passed as {origin} expired at {at}; pass a fresh one (`komodo jwt` prints one)")]
    TokenExpired {
        /// Where the token came from (`` `jwt` ``, `KOMODO_ACCESS_TOKEN`).
        origin: String,
        /// When it expired (RFC 3339).
        at: String,
    },
    /// The login the credentials stand for no longer works: the saved
    /// login expired or was refused, or the platform refused a token passed
    /// as it is.
    #[error("login required: {reason}; run `komodo login`")]
    LoginExpired {
        /// What no longer works.
        reason: String,
        /// The platform's refusal, when there was one.
        #[source]
        source: Option<TokenError>,
    },
    /// A token could not be refreshed for a reason other than the platform
    /// rejecting the refresh token.
    #[error("cannot refresh the login token")]
    Refresh(#[source] TokenError),
    /// No token could be obtained for service principal credentials.
    #[error("cannot obtain an access token")]
    Token(#[source] TokenError),
    /// An interactive login failed.
    #[error("login failed")]
    Login(#[source] Arc<LoginError>),
}

impl From<CredentialsError> for AuthError {
    fn from(err: CredentialsError) -> Self {
        AuthError::Credentials(Arc::new(err))
    }
}

impl From<LoginError> for AuthError {
    fn from(err: LoginError) -> Self {
        AuthError::Login(Arc::new(err))
    }
}

impl AuthError {
    /// Whether the fix is to log in again (`komodo login`) or pass a fresh
    /// token.
    pub fn is_login_required(&self) -> bool {
        matches!(
            self,
            AuthError::LoginRequired { .. } | AuthError::LoginExpired { .. } | AuthError::TokenExpired { .. }
        )
    }
}

fn holds_client_credentials_fix(name: &str) -> &'static str {
    if name == "default" {
        "move them to a named profile (a login is saved in [default]), then log in again"
    } else {
        "to retire them, delete the service principal (`komodo service-principal delete ID`) and remove the profile"
    }
}

fn available_profiles(available: &[String]) -> String {
    if available.is_empty() {
        "the file has no profiles; create one with `komodo service-principal create --save-profile NAME`".to_owned()
    } else {
        let names: Vec<String> = available.iter().map(|n| format!("[{n}]")).collect();
        format!("available profiles: {}", names.join(", "))
    }
}
