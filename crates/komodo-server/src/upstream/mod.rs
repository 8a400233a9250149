//! An upstream Snowflake account as an account's warehouse: the pieces the
//! gateway uses to reach it with Snowflake's machine authentication.
//!
//! - [`keypair`]: the RSA key that signs key-pair JWTs
//!   (`AUTHENTICATOR = SNOWFLAKE_JWT`), its fingerprint, and the keys'
//!   file forms (PKCS#8, encrypted PKCS#8, PKCS#1).

pub mod keypair;
