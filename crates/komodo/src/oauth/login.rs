//! An interactive login, as the credential chain sees it: something that
//! hands back tokens after the user logged in, or says why not.

use std::fmt;

use crate::BoxFuture;
use crate::token::{TokenError, TokenSet};

/// Performs an interactive login (a browser flow) and returns its tokens.
pub trait InteractiveLogin: Send + Sync + fmt::Debug {
    /// Runs the login against the platform at `api_url` (the default
    /// platform when `None`).
    fn login<'a>(&'a self, api_url: Option<&'a str>) -> BoxFuture<'a, Result<TokenSet, LoginError>>;
}

/// Why an interactive login failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The user denied the request.
    #[error("the login was denied")]
    Denied,
    /// The login was not completed in time.
    #[error("the login was not completed in time; try again")]
    TimedOut,
    /// The login was cancelled (Ctrl-C, a closed listener).
    #[error("the login was cancelled")]
    Cancelled,
    /// The login could not be started or completed.
    #[error("{0}")]
    Failed(String),
    /// The platform refused a token request during the login.
    #[error(transparent)]
    Token(#[from] TokenError),
}
