//! Test support for Komodo.
//!
//! - [`Platform`]: the real `komodo-server` on `127.0.0.1:0` with a
//!   temporary data directory (SQLite) or a [`TestDatabase`] (PostgreSQL),
//!   with fixtures for users, accounts, memberships and service principals.
//! - [`Browser`]: a scripted browser that completes the login and consent
//!   pages over HTTP (GET the page, read its CSRF token, POST the form,
//!   follow the 303 to the loopback redirect).
//! - [`pkce`]: PKCE pairs and authorization URLs.
//! - [`TempHome`]: a temporary `HOME` with `~/.komodo/credentials` helpers.
//!
//! ```no_run
//! # async fn demo() {
//! use komodo_testkit::{Browser, Decision, Platform, pkce};
//!
//! let platform = Platform::start().await;
//! let user = platform.create_user("ada@example.com", "correct horse battery").await;
//! let account = platform.create_account("acme", "analytics").await;
//! platform.add_member(&account.slug, &user.email, komodo_protocol::iam::Role::Admin).await;
//!
//! let pair = pkce::Pair::new();
//! let url = pkce::authorize_url(platform.url(), "http://127.0.0.1:1234/callback", "openid offline_access", "st", &pair);
//! let redirect = Browser::new(platform.url())
//!     .authorize(&url, &user.email, &user.password, Decision::Approve)
//!     .await
//!     .unwrap();
//! assert_eq!(redirect.query_pairs().find(|(k, _)| k == "state").unwrap().1, "st");
//!
//! // Or in one call: the tokens `komodo login` would get.
//! let tokens = platform.login(&user, "openid offline_access").await;
//! assert!(tokens.refresh_token.is_some());
//! # }
//! ```

mod browser;
mod database;
mod home;
pub mod pkce;
mod platform;

pub use browser::{Browser, BrowserError, BrowserResponse, Decision};
pub use database::{
    DEFAULT_TEST_DATABASE_URL, START_POSTGRES, TEST_DATABASE_URL_VAR, TestDatabase, TestDatabaseError,
    test_database_url,
};
pub use home::TempHome;
pub use platform::{Platform, PlatformBuilder, RUNAWAY_SQL, TEST_DEMO_CLAIMS, TestAccount, TestUser, test_config};
