//! The Komodo platform: an OAuth 2.0 / OpenID Connect provider, the IAM API
//! (users, organisations, accounts, memberships, service principals), the
//! connector gateway in front of each account's warehouse, and operations
//! endpoints, as a library and the `komodo-server` binary.
//!
//! The library exposes [`app`], which turns an [`AppState`] into an axum
//! [`Router`]; the binary and the tests share it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use komodo_server::{Config, Server};
//!
//! let mut config = Config::new("/tmp/komodo-data");
//! config.listen = "127.0.0.1:0".into();
//! let server = Server::bind(config).await?;
//! eprintln!("listening on {}", server.url());
//! server.run(komodo_server::server::shutdown_signal()).await?;
//! # Ok(()) }
//! ```
//!
//! Layout, in layers, each using only those below it (`scripts/modcycles`
//! holds the crate to it; `docs/ARCHITECTURE.md` tells the whole story):
//!
//! 1. leaves: [`clock`], [`config`], [`crypto`] (randomness, hashes, the
//!    master key), [`telemetry`] (metrics recorder, log output), [`store`]
//!    (sqlx repositories and migrations for SQLite and PostgreSQL), [`web`]
//!    (pages, redirects, cookies, the JSON error);
//! 2. the domain: [`keys`] (signing keys, JWS, staged rotation), [`tokens`]
//!    (minting), [`identity`] (who is calling and what they may do),
//!    [`queries`] (the gateway's state on this replica), [`upstream`] (an
//!    upstream Snowflake account: key-pair authentication);
//! 3. composition: [`state`] ([`AppState`]), [`bootstrap`] (the first
//!    start);
//! 4. request authentication: [`extract`] (axum extractors);
//! 5. the HTTP surfaces: [`oidc`] (discovery, JWKS, authorize, token,
//!    device, revoke, introspect, userinfo), [`iam`] (the IAM API),
//!    [`gateway`] (Snowflake's REST protocol in front of each account's
//!    embedded warehouse, the `komodo-warehouse` crate), [`ops`] (health,
//!    readiness, metrics);
//! 6. [`app`], the router;
//! 7. entry points: [`server`] (binding, the accept loop and its limits),
//!    [`admin`] (the admin subcommands), [`cli`] (the binary's arguments).

pub mod admin;
pub mod bootstrap;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod extract;
pub mod gateway;
pub mod iam;
pub mod identity;
pub mod keys;
pub mod oidc;
pub mod ops;
pub mod queries;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod upstream;
pub mod web;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;

pub use config::Config;
/// The embedded warehouse engine the gateway runs statements on.
pub use komodo_warehouse as warehouse;
pub use server::Server;
pub use state::AppState;

/// The platform's HTTP application.
pub fn app(state: AppState) -> Router {
    let metrics_here = state.config().metrics_listen.is_none();
    Router::new()
        .merge(oidc::router())
        .merge(iam::router())
        .merge(gateway::router())
        .merge(ops::router(metrics_here))
        .route_layer(axum::middleware::from_fn(ops::track))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    web::api::ApiFailure { status: StatusCode::NOT_FOUND, code: "not_found", message: "no such endpoint".into() }
}
