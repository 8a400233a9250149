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

/// An error and its sources on one line (`a: b: c`, a source whose text
/// is already there left out): how both ends of the protocol describe a
/// transport failure in a message.
///
/// ```
/// let io = std::io::Error::other("connection reset");
/// assert_eq!(komodo_protocol::error_text(&io), "connection reset");
/// ```
pub fn error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}
