//! The device authorization grant: pending, slow_down, approve, deny,
//! expiry (B01-B03).

use std::time::Duration;

use komodo_protocol::oauth::{CLI_CLIENT_ID, DeviceAuthorizationResponse, GRANT_DEVICE_CODE};
use komodo_testkit::{Browser, Decision, Platform};
use reqwest::StatusCode;

use crate::common::*;

async fn start_device(platform: &Platform, scope: &str) -> DeviceAuthorizationResponse {
    let response = http()
        .post(platform.url_for("/oauth/device/code"))
        .form(&[("client_id", CLI_CLIENT_ID), ("scope", scope)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn poll(platform: &Platform, device: &DeviceAuthorizationResponse) -> (StatusCode, serde_json::Value) {
    token_request(
        platform,
        &[
            ("grant_type", GRANT_DEVICE_CODE),
            ("device_code", device.device_code.expose_secret()),
            ("client_id", CLI_CLIENT_ID),
        ],
    )
    .await
}

#[tokio::test]
async fn device_flow_pending_then_approved_then_single_use() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let device = start_device(&platform, "openid offline_access").await;
    assert_eq!(device.verification_uri, platform.url_for("/activate"));
    assert!(device.verification_uri_complete.ends_with(&device.user_code));
    assert_eq!(device.interval, 1);
    let (status, body) = poll(&platform, &device).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("authorization_pending")));
    Browser::new(platform.url())
        .approve_device(&device.user_code, &ada.email, &ada.password, Decision::Approve)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = poll(&platform, &device).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refresh_token"].is_string());
    assert_eq!(jwt_part(body["access_token"].as_str().unwrap(), 1)["sub"], format!("user:{}", ada.id));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, body) = poll(&platform, &device).await;
    assert_eq!(body["error"], "invalid_grant", "a device code is single use");
}

#[tokio::test]
async fn device_flow_denied() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let device = start_device(&platform, "openid").await;
    Browser::new(platform.url())
        .approve_device(&device.user_code, &ada.email, &ada.password, Decision::Deny)
        .await
        .unwrap();
    let (_, body) = poll(&platform, &device).await;
    assert_eq!(body["error"], "access_denied");
}

#[tokio::test]
async fn device_flow_expires() {
    let platform = Platform::builder().config(|c| c.device_code_ttl = Duration::from_secs(2)).start().await;
    let device = start_device(&platform, "openid").await;
    assert_eq!(device.expires_in, 2);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let (_, body) = poll(&platform, &device).await;
    assert_eq!(body["error"], "expired_token");
    // The expired user code is refused on the verification page too.
    let browser = Browser::new(platform.url());
    let err = browser.enter_user_code(&device.user_code).await.unwrap_err();
    assert!(err.to_string().contains("not valid or has expired"), "{err}");
}

/// Enters `code` on the verification page from `browser`; the status.
async fn enter(browser: &Browser, code: &str) -> StatusCode {
    let page = browser.get("/activate").await.unwrap();
    let csrf = page.field("csrf").unwrap();
    browser.post_form("/activate", &[("csrf", &csrf), ("user_code", code)]).await.unwrap().status
}

#[tokio::test]
async fn b01_device_codes_high_entropy_single_use_expiring_user_codes_unambiguous_and_rate_limited() {
    let platform = Platform::builder()
        .config(|c| {
            c.device_code_ttl = Duration::from_secs(3600);
            c.user_code_limit_per_address.max = 3;
            c.user_code_limit_platform.max = 4;
        })
        .start()
        .await;
    let device = start_device(&platform, "openid").await;
    // Lifetimes are capped at 15 minutes whatever the configuration says.
    assert_eq!(device.expires_in, 900);
    // 32 random bytes, base64url.
    assert_eq!(device.device_code.expose_secret().len(), 43);
    let other = start_device(&platform, "openid").await;
    assert_ne!(device.device_code, other.device_code);
    let (code, dash) = (device.user_code.replace('-', ""), device.user_code.as_bytes()[4]);
    assert_eq!(dash, b'-');
    assert!(code.len() == 8 && code.bytes().all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b)), "{}", device.user_code);
    // Case-insensitive and dashes ignored: lower case without the dash works.
    let browser = Browser::new(platform.url());
    let login = browser.enter_user_code(&code.to_lowercase()).await.unwrap();
    assert!(login.contains("/oauth/login?request="));
    // Entry is rate-limited per address: the 4th entry within the window is refused.
    browser.enter_user_code("BBBB-BBBB").await.unwrap_err();
    browser.enter_user_code("BBBB-BBBB").await.unwrap_err();
    assert_eq!(enter(&browser, &other.user_code).await, StatusCode::TOO_MANY_REQUESTS);
    // Another address is another client, with a budget of its own.
    let elsewhere = Browser::from_address(platform.url(), "127.0.0.2".parse().unwrap());
    let login = elsewhere.enter_user_code(&other.user_code).await.unwrap();
    assert!(login.contains("/oauth/login?request="));
    // Wrong codes also count platform-wide (F08): 2 so far, 2 more from a
    // third address reach the limit of 4, and from then on every entry
    // from any address is refused, a right code included.
    let third = Browser::from_address(platform.url(), "127.0.0.3".parse().unwrap());
    assert_eq!(enter(&third, "BBBB-CCCC").await, StatusCode::BAD_REQUEST);
    assert_eq!(enter(&third, "BBBB-DDDD").await, StatusCode::BAD_REQUEST);
    let valid = start_device(&platform, "openid").await;
    let fourth = Browser::from_address(platform.url(), "127.0.0.4".parse().unwrap());
    assert_eq!(enter(&fourth, "BBBB-FFFF").await, StatusCode::TOO_MANY_REQUESTS);
    let page = fourth.get("/activate").await.unwrap();
    let csrf = page.field("csrf").unwrap();
    let refused = fourth.post_form("/activate", &[("csrf", &csrf), ("user_code", &valid.user_code)]).await.unwrap();
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.error_message().unwrap_or_default().contains("Wait a minute"), "{}", refused.body);
    // Stored hashed, single use: covered by s02 and the approve test.
}

/// F08: wrong user codes from many addresses at once are limited for the
/// platform as a whole: of 100 guesses from 10 addresses (each within its
/// own budget), sent together, only the platform's 5 per minute are
/// looked up; the limit is counted in a metric.
#[tokio::test]
async fn f08_wrong_user_codes_are_limited_platform_wide() {
    let platform = Platform::builder()
        .config(|c| {
            c.user_code_limit_per_address.max = 100;
            c.user_code_limit_platform.max = 5;
        })
        .start()
        .await;
    let browsers: Vec<Browser> =
        (2..12).map(|host| Browser::from_address(platform.url(), format!("127.0.0.{host}").parse().unwrap())).collect();
    // Ten forms per address, each with a different wrong code.
    let mut forms = Vec::new();
    for browser in &browsers {
        for letter in ["C", "D", "F", "G", "H", "J", "K", "L", "M", "N"] {
            let page = browser.get("/activate").await.unwrap();
            forms.push((browser, page.field("csrf").unwrap(), format!("BBBB-{}", letter.repeat(4))));
        }
    }
    let posts = forms.iter().map(|(browser, csrf, code)| async move {
        browser.post_form("/activate", &[("csrf", csrf.as_str()), ("user_code", code.as_str())]).await.unwrap().status
    });
    let statuses = futures::future::join_all(posts).await;
    let looked_up = statuses.iter().filter(|s| **s == StatusCode::BAD_REQUEST).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((looked_up, refused), (5, 95), "{statuses:?}");
    // A right code from an address that has not tried yet is refused too
    // until the minute is over.
    let device = start_device(&platform, "openid").await;
    let newcomer = Browser::from_address(platform.url(), "127.0.0.20".parse().unwrap());
    assert_eq!(enter(&newcomer, &device.user_code).await, StatusCode::TOO_MANY_REQUESTS);
    let metrics = http().get(platform.url_for("/metrics")).send().await.unwrap().text().await.unwrap();
    let refusals = metrics
        .lines()
        .find(|l| l.starts_with("komodo_user_code_refusals_total") && l.contains("limit=\"platform\""))
        .unwrap_or_else(|| panic!("no platform refusals in the metrics:\n{metrics}"));
    let counted: f64 = refusals.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(counted >= 96.0, "{refusals}");
}

#[tokio::test]
async fn b02_polling_too_fast_gets_slow_down() {
    let platform = Platform::start().await;
    let device = start_device(&platform, "openid").await;
    let (_, first) = poll(&platform, &device).await;
    assert_eq!(first["error"], "authorization_pending");
    let (status, second) = poll(&platform, &device).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(second["error"], "slow_down");
    // The interval grew by 5 s: a poll after the old interval is still too fast.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, third) = poll(&platform, &device).await;
    assert_eq!(third["error"], "slow_down");
}

#[tokio::test]
async fn b03_verification_page_shows_client_and_scopes_and_needs_approval() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let device = start_device(&platform, "openid email offline_access").await;
    let browser = Browser::new(platform.url());
    let login = browser.enter_user_code(&device.user_code).await.unwrap();
    let consent_url = browser.login(&login, &ada.email, &ada.password).await.unwrap();
    let page = browser.get(&consent_url).await.unwrap();
    assert!(page.body.contains("Komodo CLI"));
    assert!(page.body.contains(CLI_CLIENT_ID));
    for scope in ["openid", "email", "offline_access"] {
        assert!(page.body.contains(scope), "consent page lists {scope}");
    }
    assert!(page.body.contains(&device.user_code), "consent page shows the user code to compare");
    // Logging in alone approves nothing.
    let (_, body) = poll(&platform, &device).await;
    assert_eq!(body["error"], "authorization_pending");
    // A POST without an explicit decision is refused.
    let request = page.field("request").unwrap();
    let csrf = page.field("csrf").unwrap();
    let response = browser.post_form("/oauth/consent", &[("request", &request), ("csrf", &csrf)]).await.unwrap();
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, body) = poll(&platform, &device).await;
    assert_eq!(body["error"], "authorization_pending");
}
