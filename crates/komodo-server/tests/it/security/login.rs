//! The login and consent pages (A12-A15) and the counting of login
//! attempts (F04), on one replica and across two.

use komodo_testkit::{Browser, Platform, pkce};
use reqwest::{Method, StatusCode};

use super::{as_refs, authorize_with, good_params};
use crate::common::*;

async fn start_login(platform: &Platform, browser: &Browser) -> String {
    let pair = pkce::Pair::new();
    let url = pkce::authorize_url(platform.url(), REDIRECT, "openid", "s", &pair);
    browser.get(&url).await.unwrap().location.unwrap()
}

#[tokio::test]
async fn a12_pages_cannot_be_framed_send_no_referrer_and_forms_carry_csrf() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let browser = Browser::new(platform.url());
    let login_url = start_login(&platform, &browser).await;
    let page = browser.get(&login_url).await.unwrap();
    let check_headers = |headers: &reqwest::header::HeaderMap| {
        assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["x-frame-options"], "DENY");
    };
    check_headers(&page.headers);
    let request = page.field("request").unwrap();
    let csrf = page.field("csrf").unwrap();
    // Missing or wrong CSRF token: refused.
    for token in ["", "AAAA", &csrf[..csrf.len() - 2]] {
        let refused = browser
            .post_form(
                "/oauth/login",
                &[("request", &request), ("csrf", token), ("email", &ada.email), ("password", PASSWORD)],
            )
            .await
            .unwrap();
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{token}");
    }
    // Another browser (without the binding cookie) cannot use the request.
    let other = Browser::new(platform.url());
    let refused = other
        .post_form(
            "/oauth/login",
            &[("request", &request), ("csrf", &csrf), ("email", &ada.email), ("password", PASSWORD)],
        )
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    // The consent page has the same protections.
    let consent_url = browser.login(&login_url, &ada.email, &ada.password).await.unwrap();
    let consent = browser.get(&consent_url).await.unwrap();
    check_headers(&consent.headers);
    assert!(consent.field("csrf").is_some());
    let refused = browser
        .post_form("/oauth/consent", &[("request", &request), ("csrf", "bad"), ("decision", "approve")])
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // The device entry form too.
    let activate = browser.get("/activate").await.unwrap();
    check_headers(&activate.headers);
    assert!(activate.field("csrf").is_some());
    let refused = browser.post_form("/activate", &[("csrf", "bad"), ("user_code", "BBBB-BBBB")]).await.unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a13_credential_posts_are_answered_with_303() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let browser = Browser::new(platform.url());
    let login_url = start_login(&platform, &browser).await;
    let page = browser.get(&login_url).await.unwrap();
    let (request, csrf) = (page.field("request").unwrap(), page.field("csrf").unwrap());
    let posted = browser
        .post_form(
            "/oauth/login",
            &[("request", &request), ("csrf", &csrf), ("email", &ada.email), ("password", PASSWORD)],
        )
        .await
        .unwrap();
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    let consent = browser.get(posted.location.as_deref().unwrap()).await.unwrap();
    let posted = browser
        .post_form(
            "/oauth/consent",
            &[("request", &request), ("csrf", &consent.field("csrf").unwrap()), ("decision", "approve")],
        )
        .await
        .unwrap();
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert!(posted.location.unwrap().starts_with(REDIRECT));
}

#[tokio::test]
async fn a14_no_cors_on_the_authorization_endpoint() {
    let platform = Platform::start().await;
    let pair = pkce::Pair::new();
    let params: Vec<(String, String)> = good_params(&pair).into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let url = authorize_with(&platform, &as_refs(&params));
    let response = http().get(&url).header("origin", "https://evil.example").send().await.unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());
    let preflight = http()
        .request(Method::OPTIONS, &url)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
    assert!(preflight.headers().get("access-control-allow-methods").is_none());
}

async fn attempt(platform: &Platform, browser: &Browser, email: &str, password: &str) -> (StatusCode, String) {
    let login_url = start_login(platform, browser).await;
    let page = browser.get(&login_url).await.unwrap();
    let (request, csrf) = (page.field("request").unwrap(), page.field("csrf").unwrap());
    let posted = browser
        .post_form("/oauth/login", &[("request", &request), ("csrf", &csrf), ("email", email), ("password", password)])
        .await
        .unwrap();
    let message = posted.error_message().unwrap_or_default();
    (posted.status, message)
}

/// A login form ready to be posted: (request id, CSRF token).
async fn login_form(platform: &Platform, browser: &Browser) -> (String, String) {
    let login_url = start_login(platform, browser).await;
    let page = browser.get(&login_url).await.unwrap();
    (page.field("request").unwrap(), page.field("csrf").unwrap())
}

/// Posts prepared login forms all at once; the statuses, in order.
async fn post_logins_at_once(
    browser: &Browser,
    forms: &[(String, String)],
    attempts: &[(&str, &str)],
) -> Vec<StatusCode> {
    let posts = forms.iter().zip(attempts).map(|((request, csrf), (email, password))| async move {
        browser
            .post_form(
                "/oauth/login",
                &[("request", request.as_str()), ("csrf", csrf.as_str()), ("email", email), ("password", password)],
            )
            .await
            .unwrap()
            .status
    });
    futures::future::join_all(posts).await
}

#[tokio::test]
async fn a15_logins_rate_limited_per_account_and_address_without_revealing_users() {
    let platform = Platform::builder()
        .config(|c| {
            c.login_limit_per_account.max = 3;
            c.login_limit_per_address.max = 10;
        })
        .start()
        .await;
    let ada = user(&platform, "ada@example.com").await;
    let browser = Browser::new(platform.url());
    let mut real = Vec::new();
    let mut ghost = Vec::new();
    for _ in 0..4 {
        real.push(attempt(&platform, &browser, &ada.email, "wrong password!").await);
        ghost.push(attempt(&platform, &browser, "nobody@example.com", "wrong password!").await);
    }
    // Existing and unknown users get identical answers at every step.
    assert_eq!(real, ghost);
    assert_eq!(real[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(real[3].0, StatusCode::TOO_MANY_REQUESTS);
    // Locked: even the right password is refused now.
    let (status, _) = attempt(&platform, &browser, &ada.email, PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Per address: every attempt counts (9 so far), so the 11th from this
    // address is refused whatever the account and the password.
    let (status, _) = attempt(&platform, &browser, "carol@example.com", "wrong password!").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let bob = user(&platform, "bob@example.com").await;
    let (status, _) = attempt(&platform, &browser, &bob.email, PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the address has used its 10 attempts");
    // Another address has a budget of its own.
    let elsewhere = Browser::from_address(platform.url(), "127.0.0.2".parse().unwrap());
    let (status, _) = attempt(&platform, &elsewhere, &bob.email, PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "bob signs in from another address");
    // Parallel attempts are counted before any password is checked (F04):
    // of 12 at once against one account, 3 are checked, and an unknown
    // account is answered the same way.
    for (address, email) in [("127.0.0.3", bob.email.as_str()), ("127.0.0.4", "nobody-else@example.com")] {
        let browser = Browser::from_address(platform.url(), address.parse().unwrap());
        let mut forms = Vec::new();
        for _ in 0..12 {
            forms.push(login_form(&platform, &browser).await);
        }
        let statuses = post_logins_at_once(&browser, &forms, &[(email, "wrong password!"); 12]).await;
        let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
        let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!((checked, refused), (3, 9), "{email}: {statuses:?}");
    }
    let metrics = http().get(platform.url_for("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("komodo_failed_logins_total"));
}

/// F04: the review's attack. Many password guesses sent at once for one
/// account, each in its own sign-in: only as many passwords are checked as
/// the limit allows, however the requests interleave, and the right
/// password is refused afterwards.
#[tokio::test]
async fn f04_parallel_login_attempts_are_counted_before_the_password_is_checked() {
    let platform = Platform::builder()
        .config(|c| {
            c.login_limit_per_account.max = 5;
            c.login_limit_per_address.max = 1000;
        })
        .start()
        .await;
    let ada = user(&platform, "ada@example.com").await;
    let browser = Browser::new(platform.url());
    let mut forms = Vec::new();
    for _ in 0..30 {
        forms.push(login_form(&platform, &browser).await);
    }
    let statuses = post_logins_at_once(&browser, &forms, &[(ada.email.as_str(), "wrong password!"); 30]).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, refused), (5, 25), "5 passwords checked, 25 attempts refused: {statuses:?}");
    let (status, _) = attempt(&platform, &browser, &ada.email, PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the right password comes too late");

    // The per-address budget is counted the same way: from one address, 20
    // attempts at once against 20 accounts, 8 allowed.
    let platform = Platform::builder()
        .config(|c| {
            c.login_limit_per_account.max = 1000;
            c.login_limit_per_address.max = 8;
        })
        .start()
        .await;
    let browser = Browser::new(platform.url());
    let mut forms = Vec::new();
    for _ in 0..20 {
        forms.push(login_form(&platform, &browser).await);
    }
    let emails: Vec<String> = (0..20).map(|i| format!("user{i}@example.com")).collect();
    let attempts: Vec<(&str, &str)> = emails.iter().map(|e| (e.as_str(), "wrong password!")).collect();
    let statuses = post_logins_at_once(&browser, &forms, &attempts).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!(checked, 8, "{statuses:?}");
}

/// F04 across replicas: two replicas on one PostgreSQL, guesses for one
/// account sent at once to both; the limit holds for the two together.
#[tokio::test]
async fn f04_the_login_limit_holds_across_replicas() -> Result<(), TestDatabaseError> {
    let (a, b, db) = two_replicas_with(|c| {
        c.login_limit_per_account.max = 4;
        c.login_limit_per_address.max = 1000;
    })
    .await?;
    let ada = user(&a, "ada@example.com").await;
    let on_a = Browser::new(a.url());
    let mut on_b = Browser::new(a.url());
    let (mut forms_a, mut forms_b) = (Vec::new(), Vec::new());
    for _ in 0..12 {
        forms_a.push(login_form(&a, &on_a).await);
        forms_b.push(login_form(&a, &on_b).await);
    }
    // The second browser's sign-ins started on A and are posted to B.
    on_b.set_base(b.url());
    let attempts = [(ada.email.as_str(), "wrong password!"); 12];
    let (statuses_a, statuses_b) =
        tokio::join!(post_logins_at_once(&on_a, &forms_a, &attempts), post_logins_at_once(&on_b, &forms_b, &attempts));
    let all: Vec<StatusCode> = statuses_a.into_iter().chain(statuses_b).collect();
    let checked = all.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    assert_eq!(checked, 4, "4 passwords checked over both replicas: {all:?}");
    drop((a, b));
    db.drop_now().await;
    Ok(())
}
