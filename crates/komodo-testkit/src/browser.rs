//! A scripted browser for the login, consent and device pages.

use std::collections::BTreeMap;
use std::sync::Mutex;

use komodo_protocol::secret::Password;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};

/// Approve or deny on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Press "Allow".
    Approve,
    /// Press "Deny".
    Deny,
}

/// What went wrong while driving the pages.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// The HTTP request failed.
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A page answered with an unexpected status.
    #[error("{step}: unexpected status {status}: {message}")]
    Unexpected {
        /// Which step.
        step: &'static str,
        /// The status.
        status: StatusCode,
        /// The page's error message, if any.
        message: String,
    },
    /// The user signed in with a one-time password and must choose a new
    /// one first: call [`Browser::change_password`] with `url`.
    #[error("the user must choose a new password at {url}")]
    PasswordChangeRequired {
        /// The password-change page.
        url: String,
    },
    /// A form field was not on the page.
    #[error("{step}: the page has no `{field}` field")]
    MissingField {
        /// Which step.
        step: &'static str,
        /// The field.
        field: &'static str,
    },
}

/// A page or redirect the browser received.
#[derive(Debug, Clone)]
pub struct BrowserResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The `Location` header, resolved against the platform.
    pub location: Option<String>,
    /// The body text.
    pub body: String,
}

impl BrowserResponse {
    /// The value of hidden/input field `name` in the page.
    pub fn field(&self, name: &str) -> Option<String> {
        form_field(&self.body, name)
    }

    /// The page's error message (`<p class="error">`), if any.
    pub fn error_message(&self) -> Option<String> {
        let start = self.body.find("class=\"error\"")?;
        let open = self.body[start..].find('>')? + start + 1;
        let close = self.body[open..].find("</p>")? + open;
        Some(unescape(&self.body[open..close]))
    }
}

/// A cookie-keeping HTTP client that never follows redirects by itself.
#[derive(Debug)]
pub struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    /// A browser for the platform at `platform_url`.
    pub fn new(platform_url: &str) -> Browser {
        Browser::connecting_from(platform_url, None)
    }

    /// A browser whose connections come from `local` (another loopback
    /// address such as `127.0.0.2` is another client to the platform).
    pub fn from_address(platform_url: &str, local: std::net::IpAddr) -> Browser {
        Browser::connecting_from(platform_url, Some(local))
    }

    fn connecting_from(platform_url: &str, local: Option<std::net::IpAddr>) -> Browser {
        Browser {
            base: platform_url.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(local)
                .build()
                .expect("HTTP client"),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') { format!("{}{}", self.base, url) } else { url.to_owned() }
    }

    fn cookie_header(&self, url: &str) -> Option<String> {
        if !url.starts_with(&self.base) {
            return None;
        }
        let cookies = self.cookies.lock().expect("cookie jar");
        (!cookies.is_empty()).then(|| cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    async fn finish(&self, response: reqwest::Response) -> Result<BrowserResponse, BrowserError> {
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            if let Ok(text) = value.to_str()
                && let Some((name, rest)) = text.split_once('=')
            {
                let value = rest.split(';').next().unwrap_or_default();
                self.cookies.lock().expect("cookie jar").insert(name.trim().to_owned(), value.to_owned());
            }
        }
        let location = headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(|l| self.absolute(l));
        let body = response.text().await?;
        Ok(BrowserResponse { status, headers, location, body })
    }

    /// GETs `url` (absolute or platform-relative) with the cookies.
    pub async fn get(&self, url: &str) -> Result<BrowserResponse, BrowserError> {
        let url = self.absolute(url);
        let mut request = self.client.get(&url);
        if let Some(cookie) = self.cookie_header(&url) {
            request = request.header(COOKIE, cookie);
        }
        self.finish(request.send().await?).await
    }

    /// POSTs a form to `url` with the cookies.
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Result<BrowserResponse, BrowserError> {
        let url = self.absolute(url);
        let mut request = self.client.post(&url).form(fields);
        if let Some(cookie) = self.cookie_header(&url) {
            request = request.header(COOKIE, cookie);
        }
        self.finish(request.send().await?).await
    }

    /// Points the browser at another replica of the same platform, keeping
    /// its cookies (a load balancer without sticky sessions).
    pub fn set_base(&mut self, platform_url: &str) {
        self.base = platform_url.trim_end_matches('/').to_owned();
    }

    /// Forgets all cookies (a different browser).
    pub fn clear_cookies(&self) {
        self.cookies.lock().expect("cookie jar").clear();
    }

    fn expect_redirect(step: &'static str, response: &BrowserResponse) -> Result<String, BrowserError> {
        match (&response.location, response.status) {
            (Some(location), StatusCode::SEE_OTHER) => Ok(location.clone()),
            _ => Err(BrowserError::Unexpected {
                step,
                status: response.status,
                message: response.error_message().unwrap_or_else(|| "no redirect".to_owned()),
            }),
        }
    }

    /// Signs in on the login page at `login_url` and returns the consent
    /// page's URL.
    pub async fn login(&self, login_url: &str, email: &str, password: &Password) -> Result<String, BrowserError> {
        let page = self.get(login_url).await?;
        if page.status != StatusCode::OK {
            return Err(BrowserError::Unexpected {
                step: "login page",
                status: page.status,
                message: page.error_message().unwrap_or_default(),
            });
        }
        let request =
            page.field("request").ok_or(BrowserError::MissingField { step: "login page", field: "request" })?;
        let csrf = page.field("csrf").ok_or(BrowserError::MissingField { step: "login page", field: "csrf" })?;
        let submitted = self
            .post_form(
                "/oauth/login",
                &[("request", &request), ("csrf", &csrf), ("email", email), ("password", password.expose_secret())],
            )
            .await?;
        Self::expect_redirect("login", &submitted)
    }

    /// Chooses a new password on the page at `url` (after a sign-in with a
    /// one-time password); returns the consent page's URL.
    pub async fn change_password(&self, url: &str, new_password: &Password) -> Result<String, BrowserError> {
        let page = self.get(url).await?;
        let request =
            page.field("request").ok_or(BrowserError::MissingField { step: "password page", field: "request" })?;
        let csrf = page.field("csrf").ok_or(BrowserError::MissingField { step: "password page", field: "csrf" })?;
        let secret = new_password.expose_secret();
        let submitted = self
            .post_form(
                "/oauth/password",
                &[("request", &request), ("csrf", &csrf), ("new_password", secret), ("confirm", secret)],
            )
            .await?;
        Self::expect_redirect("password change", &submitted)
    }

    fn after_login(next: String) -> Result<String, BrowserError> {
        if next.contains("/oauth/password?") {
            return Err(BrowserError::PasswordChangeRequired { url: next });
        }
        Ok(next)
    }

    /// Decides on the consent page at `consent_url`; returns where the 303
    /// points (the client's redirect URI, or the device done page).
    pub async fn consent(&self, consent_url: &str, decision: Decision) -> Result<String, BrowserError> {
        let page = self.get(consent_url).await?;
        if page.status != StatusCode::OK {
            return Err(BrowserError::Unexpected {
                step: "consent page",
                status: page.status,
                message: page.error_message().unwrap_or_default(),
            });
        }
        let request =
            page.field("request").ok_or(BrowserError::MissingField { step: "consent page", field: "request" })?;
        let csrf = page.field("csrf").ok_or(BrowserError::MissingField { step: "consent page", field: "csrf" })?;
        let value = match decision {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        };
        let submitted =
            self.post_form("/oauth/consent", &[("request", &request), ("csrf", &csrf), ("decision", value)]).await?;
        Self::expect_redirect("consent", &submitted)
    }

    /// Runs the whole authorization-code interaction from an authorization
    /// URL: the redirect to the login page, login, consent. Returns the
    /// client redirect (with `code` or `error`, `state` and `iss`) without
    /// following it.
    pub async fn authorize(
        &self,
        authorize_url: &str,
        email: &str,
        password: &Password,
        decision: Decision,
    ) -> Result<url::Url, BrowserError> {
        let start = self.get(authorize_url).await?;
        let login_url = Self::expect_redirect("authorize", &start)?;
        if !login_url.starts_with(&self.base) {
            // The platform redirected straight back to the client (an error).
            return Ok(url::Url::parse(&login_url).expect("redirect URL"));
        }
        let consent_url = Self::after_login(self.login(&login_url, email, password).await?)?;
        let redirect = self.consent(&consent_url, decision).await?;
        Ok(url::Url::parse(&redirect).expect("redirect URL"))
    }

    /// Like [`Browser::authorize`], then follows the 303 to the loopback
    /// redirect (where the application's listener receives the code);
    /// returns the redirect URL and the listener's status.
    pub async fn authorize_and_follow(
        &self,
        authorize_url: &str,
        email: &str,
        password: &Password,
        decision: Decision,
    ) -> Result<(url::Url, StatusCode), BrowserError> {
        let redirect = self.authorize(authorize_url, email, password, decision).await?;
        let response = self.client.get(redirect.as_str()).send().await?;
        Ok((redirect, response.status()))
    }

    /// Completes the device verification page for `user_code`: enter the
    /// code, log in, decide.
    pub async fn approve_device(
        &self,
        user_code: &str,
        email: &str,
        password: &Password,
        decision: Decision,
    ) -> Result<(), BrowserError> {
        let login_url = self.enter_user_code(user_code).await?;
        let consent_url = Self::after_login(self.login(&login_url, email, password).await?)?;
        let done = self.consent(&consent_url, decision).await?;
        let page = self.get(&done).await?;
        if page.status != StatusCode::OK {
            return Err(BrowserError::Unexpected {
                step: "device done page",
                status: page.status,
                message: page.error_message().unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Submits `user_code` on `/activate`; returns the login page URL.
    pub async fn enter_user_code(&self, user_code: &str) -> Result<String, BrowserError> {
        let page = self.get("/activate").await?;
        let csrf = page.field("csrf").ok_or(BrowserError::MissingField { step: "activate page", field: "csrf" })?;
        let submitted = self.post_form("/activate", &[("csrf", &csrf), ("user_code", user_code)]).await?;
        Self::expect_redirect("activate", &submitted)
    }
}

/// The `value` of the input named `name` in `html`.
fn form_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = html[at..].find('>')? + at;
    let tag = &html[tag_start..tag_end];
    let value_at = tag.find("value=\"")? + "value=\"".len();
    let value_end = tag[value_at..].find('"')? + value_at;
    Some(unescape(&tag[value_at..value_end]))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#x27;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_unescapes() {
        let html = r#"<form><input type="hidden" name="csrf" value="a&amp;b"><input name="request" value="r1"></form>"#;
        assert_eq!(form_field(html, "csrf").as_deref(), Some("a&b"));
        assert_eq!(form_field(html, "request").as_deref(), Some("r1"));
        assert_eq!(form_field(html, "nope"), None);
    }
}
