//! An upstream Snowflake account as an account's warehouse: the pieces the
//! gateway uses to reach it with Snowflake's machine authentication.
//!
//! - [`keypair`]: the RSA key that signs key-pair JWTs
//!   (`AUTHENTICATOR = SNOWFLAKE_JWT`), its fingerprint, and the keys'
//!   file forms (PKCS#8, encrypted PKCS#8, PKCS#1);
//! - [`client`]: the calls to the upstream (login, statements, results,
//!   renewal, the session's end), with nothing secret in their errors;
//! - [`policy`]: what the gateway forwards (no `USE WAREHOUSE`/`ROLE`, an
//!   `ALTER SESSION` allow-list, the platform's `QUERY_TAG`);
//! - [`relay`]: upstream answers rewritten with the gateway's ids, URLs and
//!   secrets;
//! - [`breaker`]: the circuit breaker per account;
//! - [`registry`]: a replica's upstream accounts and sessions
//!   ([`Upstreams`]).

pub mod breaker;
pub mod client;
pub mod keypair;
pub mod policy;
pub mod registry;
pub mod relay;

pub use registry::{UpstreamFailure, Upstreams};
