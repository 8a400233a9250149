//! The HTTP building blocks the surfaces share: server-rendered HTML pages
//! ([`pages`]: login, consent, device verification and errors; no
//! JavaScript, every dynamic value through [`escape`]), 303 redirects, what
//! a request carries ([`request`]: cookies, a bearer token, the client's
//! address), the browser binding of a sign-in ([`browser`]) and the JSON
//! error answer of the APIs ([`api`]).
//!
//! Every page is sent with `Content-Security-Policy: default-src 'none';
//! frame-ancestors 'none'`, `X-Frame-Options: DENY`, `Referrer-Policy:
//! no-referrer` and `Cache-Control: no-store` (A12), and every form carries a
//! CSRF token bound to the browser's cookie.

pub mod api;
pub mod browser;
pub mod pages;
pub mod request;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// An HTML page with the platform's security headers.
#[derive(Debug)]
pub struct Page {
    /// Status code.
    pub status: StatusCode,
    /// `<title>` and heading.
    pub title: String,
    /// The body, already escaped.
    pub body_html: String,
    /// A `Set-Cookie` value to send.
    pub set_cookie: Option<String>,
}

impl Page {
    /// A page with status 200.
    pub fn new(title: impl Into<String>, body_html: String) -> Self {
        Page { status: StatusCode::OK, title: title.into(), body_html, set_cookie: None }
    }

    /// Sets the status.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Sets the browser binding cookie.
    pub fn with_browser_cookie(mut self, value: &str) -> Self {
        self.set_cookie = Some(browser::browser_cookie(value));
        self
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1d2330}\
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input[type=email],input[type=password],input[type=text]\
{width:100%;padding:.5rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1.2rem}.error{color:#a40000}\
.muted{color:#5a6170}ul{padding-left:1.2rem}";

/// Adds the security headers every page carries.
pub fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title} · Komodo</title><style>{STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>",
            title = escape(&self.title),
            body = self.body_html
        );
        let mut response = (self.status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
        security_headers(response.headers_mut());
        if let Some(cookie) = self.set_cookie
            && let Ok(value) = HeaderValue::from_str(&cookie)
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        response
    }
}

/// A 303 See Other to `location` (A13), with the page security headers.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    security_headers(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;");
    }
}
