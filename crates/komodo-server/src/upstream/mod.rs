//! An upstream Snowflake account as an account's warehouse: the pieces the
//! gateway uses to reach it with Snowflake's machine authentication.
//!
//! - [`keypair`]: the RSA key that signs key-pair JWTs
//!   (`AUTHENTICATOR = SNOWFLAKE_JWT`), its fingerprint, and the keys'
//!   file forms (PKCS#8, encrypted PKCS#8, PKCS#1);
//! - [`client`]: the calls to the upstream (login, statements, the
//!   session's end), with nothing secret in their errors.

pub mod client;
pub mod keypair;
