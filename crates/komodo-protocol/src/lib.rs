//! Wire types shared by the Komodo SDK, the `komodo` CLI and `komodo-server`.
//!
//! Everything that crosses the network between a Komodo client and the
//! platform is described here once, with `serde`, so that both ends agree on
//! field names by construction. The crate also owns the secret newtypes
//! ([`secret`]) that every other crate uses for tokens, refresh tokens and
//! client secrets.
//!
//! ```
//! use komodo_protocol::secret::AccessToken;
//!
//! let token = AccessToken::new("eyJ0eXAiOiJKV1QiLCJhbGc...");
//! assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
//! assert_eq!(token.expose_secret(), "eyJ0eXAiOiJKV1QiLCJhbGc...");
//! ```

pub mod gateway;
pub mod iam;
pub mod oauth;
pub mod result_stream;
pub mod secret;
pub mod transfer;
