//! What can go wrong with signing keys, and why a presented token is
//! refused.

use crate::crypto::CryptoError;
use crate::store::StoreError;

/// Errors of the key ring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Encryption or key generation failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A stored key could not be used.
    #[error("signing key {kid} is unusable: {reason}")]
    BadKey {
        /// The key.
        kid: String,
        /// Why.
        reason: String,
    },
    /// There is no key that may sign now.
    #[error("no active signing key; run `komodo-server admin rotate-keys`")]
    NoActiveKey,
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Why a presented token was rejected. Deliberately coarse: the messages go
/// back to callers and never contain the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a well-formed JWS (or longer than any token this issuer signs).
    #[error("the token is malformed")]
    Malformed,
    /// The `kid` is missing or not one of ours.
    #[error("the token was not signed by a key of this issuer")]
    UnknownKey,
    /// `alg` is not the algorithm of that `kid`.
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    /// `typ` is not `at+jwt`.
    #[error("the token is not an access token")]
    Type,
    /// The signature does not verify with the key the token names.
    #[error("the token is invalid: bad signature")]
    Signature,
    /// The signed claims are not those of an access token.
    #[error("the token is invalid: missing or malformed claims")]
    Claims,
    /// `exp` has passed (beyond the clock leeway).
    #[error("the token is invalid: expired")]
    Expired,
    /// `nbf` or `iat` lies in the future (beyond the clock leeway).
    #[error("the token is invalid: not yet valid")]
    NotYetValid,
    /// `iss` is not this platform.
    #[error("the token is invalid: wrong issuer")]
    Issuer,
    /// `aud` is not this platform's audience.
    #[error("the token is invalid: wrong audience")]
    Audience,
}
