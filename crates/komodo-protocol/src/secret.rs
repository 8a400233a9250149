//! Secret newtypes: values that must never reach a log, an error message or
//! `Debug` output by accident.
//!
//! Each type wraps a [`secrecy::SecretString`], so its memory is zeroized on
//! drop. `Debug` and `Display` print `[redacted]`; the value is only reachable
//! through an explicit [`expose_secret`](AccessToken::expose_secret) call,
//! which makes every place that handles the raw value easy to find.
//!
//! Serialisation writes the raw value: these types appear in wire messages
//! (a token response carries the token), and a message is only ever sent to
//! the party entitled to it.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The text every secret prints as in `Debug` and `Display` output.
pub const REDACTED: &str = "[redacted]";

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a raw secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// Returns the raw value. Call this only where the value must
            /// leave the process (a request header, the credentials file, the
            /// one command whose job is to print it).
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }

            /// Whether the secret is the empty string.
            pub fn is_empty(&self) -> bool {
                self.0.expose_secret().is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), REDACTED)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }

        /// Equality runs in time independent of where the values differ.
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                constant_time_eq(self.expose_secret().as_bytes(), other.expose_secret().as_bytes())
            }
        }

        impl Eq for $name {}

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.expose_secret())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }
    };
}

secret_type!(
    /// An OAuth access token (a JWT issued by the platform).
    AccessToken
);
secret_type!(
    /// An OAuth refresh token.
    RefreshToken
);
secret_type!(
    /// An OpenID Connect ID token.
    IdToken
);
secret_type!(
    /// A service principal's client secret.
    ClientSecret
);
secret_type!(
    /// A user's password.
    Password
);
secret_type!(
    /// An OAuth authorization code.
    AuthorizationCode
);
secret_type!(
    /// A PKCE code verifier (RFC 7636).
    CodeVerifier
);
secret_type!(
    /// An RFC 8628 device code.
    DeviceCode
);
secret_type!(
    /// A gateway session token or master token.
    SessionToken
);

/// Compares two byte strings without an early exit on the first difference.
///
/// The length is not hidden; callers compare values of public, fixed shape
/// (hashes, tokens of a known format).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keep the optimiser from turning the fold back into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let secret = ClientSecret::new("kmd_sp_super_secret_value");
        assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:#?}", Some(&secret)), "Some(\n    ClientSecret([redacted]),\n)");
    }

    #[test]
    fn serde_round_trips_the_raw_value() {
        let token = AccessToken::new("abc.def.ghi");
        let json = serde_json::to_string(&token).unwrap();
        assert_eq!(json, "\"abc.def.ghi\"");
        let back: AccessToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back, token);
        assert_ne!(back, AccessToken::new("abc.def.ghj"));
    }

    #[test]
    fn constant_time_eq_compares_lengths_and_bytes() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
