//! The browser binding of a sign-in: an HttpOnly cookie holding a random
//! secret, whose hash a pending login or device request stores and whose
//! HMAC is every form's CSRF token (A12).

use axum::http::HeaderMap;

use super::request::cookie;
use crate::crypto::random_token;

/// The cookie that binds a browser to its login/consent interaction.
pub const BROWSER_COOKIE: &str = "komodo_browser";

/// The `Set-Cookie` value of the browser binding cookie.
pub fn browser_cookie(value: &str) -> String {
    format!("{BROWSER_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600")
}

/// The browser's binding secret from its cookie, if it has one.
pub fn existing_secret(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, BROWSER_COOKIE)
}

/// The browser binding secret from the cookie, or a new one (`true`).
pub fn browser_secret(headers: &HeaderMap) -> (String, bool) {
    match existing_secret(headers).filter(|c| c.len() >= 32) {
        Some(existing) => (existing.to_owned(), false),
        None => (random_token::<32>(), true),
    }
}
