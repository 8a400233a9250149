//! The SDK's top-level error, wrapping the error of each concern, and its
//! one classification ([`ErrorKind`]) that the CLI's exit codes and the
//! Python package's exceptions both follow.
//!
//! An error that wraps another says only what it adds: the wrapped error
//! is its [`source`](std::error::Error::source), never repeated in its
//! message, so a renderer prints the chain as it is.

use crate::auth::{AuthError, LoginError, TokenError};
use crate::credentials::CredentialsError;
use crate::iam::IamError;
use crate::platform::PlatformError;
use crate::warehouse::{GatewayError, InterfaceError, WarehouseError};

/// Anything a [`Client`](crate::client::Client) or a warehouse connection
/// can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Choosing credentials, or obtaining a token with them, failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The platform URL is unusable.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// An IAM call failed.
    #[error(transparent)]
    Iam(#[from] IamError),
    /// Reading or writing the credentials file failed.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The warehouse reported an error: a statement failed, the login to
    /// the gateway was refused, or the session ended (Snowflake's code,
    /// SQLSTATE and query id inside).
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// The warehouse gateway could not be reached or answered something
    /// unexpected.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// A warehouse connection or cursor was used in a way that cannot work.
    #[error(transparent)]
    Interface(#[from] InterfaceError),
}

/// What kind of failure an [`Error`] is, which says what the caller can do
/// about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The credentials passed (as arguments or `KOMODO_*` variables) break
    /// one of the six rules: fix the call.
    InvalidArguments,
    /// The configuration cannot work: the credentials file or a profile in
    /// it, the platform URL, or no account selected.
    Configuration,
    /// No usable login: log in again (`komodo login`) or pass a fresh token.
    LoginRequired,
    /// An interactive login did not complete: denied, timed out, failed.
    LoginFailed,
    /// The user cancelled (Ctrl-C during a login).
    Cancelled,
    /// The platform refused the request: not allowed, not found, bad
    /// client credentials.
    Refused,
    /// The platform could not be reached.
    Unreachable,
    /// The platform failed (HTTP 5xx); trying again later may help.
    ServerError,
    /// The platform answered something this client does not understand.
    Protocol,
    /// The warehouse reported an error for a statement (Snowflake's code
    /// and SQLSTATE are in the error).
    Statement,
    /// A connection or cursor was used in a way that cannot work.
    Interface,
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Auth(err) => auth_kind(err),
            Error::Platform(_) | Error::Credentials(_) => ErrorKind::Configuration,
            Error::Iam(err) => iam_kind(err),
            Error::Warehouse(err) if err.is_token_rejected() => ErrorKind::LoginRequired,
            Error::Warehouse(err) if err.is_access_denied() => ErrorKind::Refused,
            Error::Warehouse(_) => ErrorKind::Statement,
            Error::Gateway(err) => gateway_kind(err),
            Error::Interface(_) => ErrorKind::Interface,
        }
    }

    /// Whether the fix is to log in again (`komodo login`).
    pub fn is_login_required(&self) -> bool {
        self.kind() == ErrorKind::LoginRequired
    }

    /// The broken rule, when the credentials passed (or set in `KOMODO_*`
    /// variables) break one.
    pub fn args_error(&self) -> Option<&crate::auth::ArgsError> {
        match self {
            Error::Auth(AuthError::InvalidArguments(err) | AuthError::InvalidEnvironment(err)) => Some(err),
            _ => None,
        }
    }
}

fn auth_kind(err: &AuthError) -> ErrorKind {
    match err {
        AuthError::InvalidArguments(_) | AuthError::InvalidEnvironment(_) => ErrorKind::InvalidArguments,
        AuthError::LoginRequired { .. } | AuthError::TokenExpired { .. } | AuthError::LoginExpired { .. } => {
            ErrorKind::LoginRequired
        }
        AuthError::Refresh(err) | AuthError::Token(err) => token_kind(err),
        AuthError::Login(err) => match &**err {
            LoginError::Cancelled => ErrorKind::Cancelled,
            LoginError::Token(TokenError::Unavailable(_)) => ErrorKind::Unreachable,
            _ => ErrorKind::LoginFailed,
        },
        _ => ErrorKind::Configuration,
    }
}

fn token_kind(err: &TokenError) -> ErrorKind {
    match err {
        TokenError::Rejected { .. } => ErrorKind::Refused,
        TokenError::Unavailable(_) => ErrorKind::Unreachable,
        _ => ErrorKind::Protocol,
    }
}

fn iam_kind(err: &IamError) -> ErrorKind {
    match err {
        IamError::Api { status: 401, .. } => ErrorKind::LoginRequired,
        IamError::Api { status: 500.., .. } => ErrorKind::ServerError,
        IamError::Api { .. } => ErrorKind::Refused,
        IamError::Unavailable(_) => ErrorKind::Unreachable,
        _ => ErrorKind::Protocol,
    }
}

fn gateway_kind(err: &GatewayError) -> ErrorKind {
    match err {
        GatewayError::Unavailable { .. } => ErrorKind::Unreachable,
        GatewayError::Http { status: 500.., .. } | GatewayError::Chunk { status: 500.., .. } => ErrorKind::ServerError,
        GatewayError::Chunk { .. } => ErrorKind::Refused,
        _ => ErrorKind::Protocol,
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::sync::Arc;

    use super::*;
    use crate::auth::{ArgsError, Provenance};

    #[test]
    fn every_concern_has_its_kind() {
        let token = |err| Error::Auth(AuthError::Token(err));
        let cases: Vec<(Error, ErrorKind)> = vec![
            (AuthError::from(ArgsError::Empty { name: "jwt" }).into(), ErrorKind::InvalidArguments),
            (
                AuthError::InvalidEnvironment(ArgsError::Empty { name: "KOMODO_PROFILE" }).into(),
                ErrorKind::InvalidArguments,
            ),
            (AuthError::UnsetAccount { provenance: Provenance::default() }.into(), ErrorKind::Configuration),
            (CredentialsError::NoHome.into(), ErrorKind::Configuration),
            (PlatformError::UnknownEnvironment("moon".into()).into(), ErrorKind::Configuration),
            (AuthError::LoginRequired { provenance: Provenance::default() }.into(), ErrorKind::LoginRequired),
            (AuthError::TokenExpired { origin: "`jwt`".into(), at: "then".into() }.into(), ErrorKind::LoginRequired),
            (token(TokenError::Rejected { code: "invalid_client".into(), description: None }), ErrorKind::Refused),
            (token(TokenError::Unavailable("down".into())), ErrorKind::Unreachable),
            (token(TokenError::Protocol("what".into())), ErrorKind::Protocol),
            (AuthError::from(LoginError::Denied).into(), ErrorKind::LoginFailed),
            (AuthError::from(LoginError::Cancelled).into(), ErrorKind::Cancelled),
            (
                IamError::Api { status: 401, code: "unauthorized".into(), message: "no".into() }.into(),
                ErrorKind::LoginRequired,
            ),
            (IamError::Api { status: 403, code: "forbidden".into(), message: "no".into() }.into(), ErrorKind::Refused),
            (
                IamError::Api { status: 503, code: "unavailable".into(), message: "no".into() }.into(),
                ErrorKind::ServerError,
            ),
            (WarehouseError::new("390303", "invalid OAuth token").into(), ErrorKind::LoginRequired),
            (WarehouseError::new("390100", "no right to the account").into(), ErrorKind::Refused),
            (WarehouseError::new("002003", "no such table").into(), ErrorKind::Statement),
            (GatewayError::Http { status: 502, endpoint: "POST /x".into() }.into(), ErrorKind::ServerError),
            (GatewayError::Http { status: 404, endpoint: "POST /x".into() }.into(), ErrorKind::Protocol),
            (InterfaceError::Closed.into(), ErrorKind::Interface),
        ];
        for (err, kind) in cases {
            assert_eq!(err.kind(), kind, "{err:?}");
        }
    }

    #[test]
    fn a_wrapped_error_is_a_source_and_not_repeated() {
        let err = Error::Auth(AuthError::Login(Arc::new(LoginError::Token(TokenError::Unavailable(
            "connection refused".into(),
        )))));
        assert_eq!(err.to_string(), "login failed");
        let source = err.source().expect("the login error");
        assert_eq!(source.to_string(), "cannot reach the platform: connection refused");
        let mut chain = vec![err.to_string()];
        let mut next = err.source();
        while let Some(cause) = next {
            chain.push(cause.to_string());
            next = cause.source();
        }
        for (i, text) in chain.iter().enumerate() {
            for later in &chain[i + 1..] {
                assert!(!text.contains(later.as_str()), "{text:?} repeats {later:?}");
            }
        }
        let io = CredentialsError::Io {
            action: "read",
            path: "/x/credentials".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert_eq!(io.to_string(), "cannot read /x/credentials");
        assert!(io.source().is_some());
    }
}
