//! The Komodo SDK: authenticate with the Komodo platform and reach your
//! account's warehouse.
//!
//! - [`credentials`]: the `~/.komodo/credentials` file, parsed strictly and
//!   edited in place with locked, atomic writes.
//! - [`auth`]: argument validation and the credential resolution chain
//!   (explicit arguments, the environment, the `[default]` profile, web
//!   login), with provenance on every result; each source hands over the
//!   provider of its token, which a [`Client`] keeps behind a refreshing
//!   cache.
//! - [`login`]: `komodo login`, `komodo logout` and the account choice, the
//!   login saved in `[default]`.
//! - [`env`](mod@env): every `KOMODO_*` variable, and the injectable [`env::Env`].
//! - [`warehouse`]: connections to the account's warehouse
//!   ([`get_snowflake_connection`]), cursors, rows and Arrow results.
//!
//! Every failure is an [`Error`], whose [`kind`](Error::kind) says what the
//! caller can do about it; the CLI's exit codes and the Python package's
//! exceptions follow that one classification.
//!
//! ```no_run
//! use komodo::auth::{AuthArgs, CredentialChain};
//! use komodo::config::ProviderConfig;
//!
//! # async fn example() -> Result<(), komodo::auth::AuthError> {
//! let chain = CredentialChain::cli(ProviderConfig::from_process(), None);
//! let resolved = chain.resolve(&AuthArgs::new().profile("production")).await?;
//! println!("using {}", resolved.provenance);
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod client;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod env;
mod error;
pub mod iam;
pub mod login;
pub mod oauth;
pub mod platform;
mod token;
pub mod warehouse;

pub use client::Client;
pub use error::{Error, ErrorKind};
pub use komodo_protocol::secret;
pub use warehouse::get_snowflake_connection;

/// A boxed, sendable future: what the SDK's pluggable traits return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
