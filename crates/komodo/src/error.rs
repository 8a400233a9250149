//! The SDK's top-level error, wrapping the error of each concern.

use crate::auth::{AuthError, TokenError};
use crate::credentials::CredentialsError;
use crate::iam::IamError;
use crate::platform::PlatformError;
use crate::warehouse::{GatewayError, InterfaceError, WarehouseError};

/// Anything a [`Client`](crate::client::Client) call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Choosing credentials failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The platform URL is unusable.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// A token request failed.
    #[error("cannot obtain an access token: {0}")]
    Token(#[from] TokenError),
    /// An IAM call failed.
    #[error(transparent)]
    Iam(#[from] IamError),
    /// Reading or writing the credentials file failed.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// A token passed explicitly (argument or environment) has expired.
    #[error("the access token passed as {origin} expired at {at}; pass a fresh one (`komodo jwt` prints one)")]
    TokenExpired {
        /// Where the token came from.
        origin: String,
        /// When it expired (RFC 3339).
        at: String,
    },
    /// The login saved in the credentials file no longer works.
    #[error("login required: {0}; run `komodo login`")]
    LoginExpired(String),
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

impl Error {
    /// Whether the fix is to log in again (`komodo login`).
    pub fn is_login_required(&self) -> bool {
        match self {
            Error::Auth(err) => err.is_login_required(),
            Error::LoginExpired(_) => true,
            _ => false,
        }
    }
}
