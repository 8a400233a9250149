//! The device authorization grant (RFC 8628): `POST /oauth/device/code` and
//! the `/activate` verification page.

use axum::Form;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use komodo_protocol::oauth::DeviceAuthorizationResponse;
use komodo_protocol::secret::DeviceCode;
use serde::Deserialize;
use uuid::Uuid;

use super::{OAuthError, no_store, parse_scope, redirect};
use crate::clock::now;
use crate::crypto::{random_bytes, random_token, token_hash};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::oauth::{AuthRequestRow, DeviceRow};
use crate::web::browser::browser_secret;
use crate::web::pages;
use crate::web::request::ClientAddr;

/// The user-code alphabet: consonants only, no vowels (no words), no
/// look-alikes (B01).
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A fresh user code, 8 characters (≈34.6 bits), without the dash.
pub fn new_user_code() -> String {
    // Rejection sampling keeps the distribution uniform.
    let mut out = String::with_capacity(8);
    while out.len() < 8 {
        for b in random_bytes::<16>() {
            if b < 240 && out.len() < 8 {
                out.push(USER_CODE_ALPHABET[(b % 20) as usize] as char);
            }
        }
    }
    out
}

/// The counter of user-code entries of the whole platform.
const USER_CODE_PLATFORM_KEY: &str = "user_code:platform";

/// The metric counting user-code entries refused by a limit (label
/// `limit`: `address` or `platform`).
pub const USER_CODE_REFUSALS: &str = "komodo_user_code_refusals_total";

/// Normalises typed input: case-insensitive, dashes and spaces ignored.
pub fn normalise_user_code(input: &str) -> String {
    input.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_uppercase()).collect()
}

/// The device authorization request.
#[derive(Debug, Default, Deserialize)]
pub struct DeviceCodeForm {
    client_id: Option<String>,
    scope: Option<String>,
    audience: Option<String>,
    resource: Option<String>,
    client_secret: Option<komodo_protocol::secret::ClientSecret>,
}

/// `POST /oauth/device/code`.
pub async fn device_authorization(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<DeviceCodeForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, OAuthError> {
    let Form(form) =
        form.map_err(|_| OAuthError::invalid_request("the body must be an application/x-www-form-urlencoded form"))?;
    let presented = super::client_auth::presented(&headers, form.client_id.as_deref(), form.client_secret.as_ref())?;
    let client = super::client_auth::registered_client(&state, &presented).await?;
    if !client.allows(super::client_auth::CLIENT_GRANT_DEVICE) {
        return Err(OAuthError::new("unauthorized_client", "this client is not registered for the device grant"));
    }
    let audience =
        super::requested_audience(state.config(), &client, form.audience.as_deref(), form.resource.as_deref())?;
    let scopes = parse_scope(form.scope.as_deref())
        .ok_or_else(|| OAuthError::new("invalid_scope", "unknown scope requested"))?;
    let device_code = DeviceCode::new(random_token::<32>());
    let t = now();
    let ttl = state.config().device_code_ttl.as_secs();
    let interval = state.config().device_poll_interval.as_secs();
    let mut user_code = new_user_code();
    for attempt in 0..3 {
        let row = DeviceRow {
            device_hash: token_hash(device_code.expose_secret()),
            user_code: user_code.clone(),
            client_id: client.client_id.clone(),
            scope: scopes.join(" "),
            status: "pending".into(),
            user_id: None,
            auth_time: None,
            family_id: Uuid::new_v4().to_string(),
            interval_secs: interval as i64,
            last_poll_ms: None,
            created_at: t,
            expires_at: t + ttl as i64,
            audience: audience.clone(),
        };
        match state.store().insert_device(&row).await {
            Ok(()) => break,
            Err(StoreError::Database(e))
                if attempt < 2 && e.as_database_error().is_some_and(|d| d.is_unique_violation()) =>
            {
                user_code = new_user_code();
            }
            Err(e) => return Err(e.into()),
        }
    }
    let display = format!("{}-{}", &user_code[..4], &user_code[4..]);
    let verification_uri = state.url("/activate");
    Ok(no_store(Json(DeviceAuthorizationResponse {
        device_code,
        verification_uri_complete: format!("{verification_uri}?user_code={display}"),
        user_code: display,
        verification_uri,
        expires_in: ttl,
        interval,
    })))
}

/// `?user_code=` of the verification page.
#[derive(Debug, Default, Deserialize)]
pub struct ActivateQuery {
    #[serde(default)]
    user_code: String,
}

/// `GET /activate`: the user-code form (pre-filled from
/// `verification_uri_complete`; the user still confirms, B03).
pub async fn activate_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ActivateQuery>,
) -> Response {
    let (browser, fresh) = browser_secret(&headers);
    let csrf = state.secrets().csrf_token(&browser);
    let page = pages::activate(&csrf, &q.user_code, None);
    if fresh { page.with_browser_cookie(&browser).into_response() } else { page.into_response() }
}

/// The user-code form.
#[derive(Debug, Deserialize)]
pub struct ActivateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_code: String,
}

/// `POST /activate`: looks the code up (rate-limited per address, B01, and
/// wrong codes platform-wide, F08) and continues to the login page.
pub async fn activate_submit(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<ActivateForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return pages::error(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The form was incomplete. Go back and try again.",
        )
        .into_response();
    };
    let (browser, fresh) = browser_secret(&headers);
    if fresh || !state.secrets().verify_csrf(&browser, &form.csrf) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "Request refused",
            "The form's security token is missing or wrong. Reload the page and try again.",
        )
        .into_response();
    }
    let csrf = state.secrets().csrf_token(&browser);
    let internal = |e: StoreError| {
        tracing::error!(error = %e, "store error on /activate");
        pages::error(StatusCode::INTERNAL_SERVER_ERROR, "Error", "Something went wrong. Try again.").into_response()
    };
    let too_many =
        |message: &str| pages::activate(&csrf, "", Some(message)).status(StatusCode::TOO_MANY_REQUESTS).into_response();
    // Per address: every entry counts (B01).
    let per_address = state.config().user_code_limit_per_address;
    let address_key = format!("user_code:address:{addr}");
    match state.store().rate_hit(&address_key, per_address.window.as_secs() as i64).await {
        Ok(count) if count > i64::from(per_address.max) => {
            metrics::counter!(USER_CODE_REFUSALS, "limit" => "address").increment(1);
            return too_many("Too many attempts. Wait a few minutes and try again.");
        }
        Ok(_) => {}
        Err(e) => return internal(e),
    }
    // Platform-wide: wrong entries from every address together (F08). The
    // entry is counted before the code is looked up, so that parallel
    // guesses each get their own number, and given back when it was right.
    let platform = state.config().user_code_limit_platform;
    let window = platform.window.as_secs() as i64;
    match state.store().rate_hit(USER_CODE_PLATFORM_KEY, window).await {
        Ok(count) if count > i64::from(platform.max) => {
            metrics::counter!(USER_CODE_REFUSALS, "limit" => "platform").increment(1);
            if count == i64::from(platform.max) + 1 {
                // Once per window: the first entry refused.
                tracing::warn!(
                    limit = platform.max,
                    window_secs = window,
                    address = %addr,
                    "platform-wide limit of wrong device user codes reached; every user-code entry is refused \
                     until the window ends (--user-code-guesses-per-minute)"
                );
            }
            return too_many(
                "Too many wrong codes have been entered on this platform just now. Wait a minute and try again.",
            );
        }
        Ok(_) => {}
        Err(e) => return internal(e),
    }
    let code = normalise_user_code(&form.user_code);
    let device = match state.store().device_by_user_code(&code).await {
        Ok(found) => found.filter(|d| d.status == "pending" && d.expires_at > now()),
        Err(e) => return internal(e),
    };
    let Some(device) = device else {
        return pages::activate(
            &csrf,
            &form.user_code,
            Some("That code is not valid or has expired. Check the code on your device."),
        )
        .status(StatusCode::BAD_REQUEST)
        .into_response();
    };
    if let Err(e) = state.store().rate_refund(USER_CODE_PLATFORM_KEY, window).await {
        return internal(e);
    }
    let t = now();
    let row = AuthRequestRow {
        id: random_token::<24>(),
        kind: "device".into(),
        client_id: device.client_id.clone(),
        redirect_uri: None,
        scope: device.scope.clone(),
        state: None,
        nonce: None,
        code_challenge: None,
        browser_hash: token_hash(&browser),
        device_hash: Some(device.device_hash.clone()),
        user_id: None,
        auth_time: None,
        created_at: t,
        expires_at: device.expires_at.min(t + state.config().auth_request_ttl.as_secs() as i64),
        completed_at: None,
        audience: device.audience.clone(),
    };
    if let Err(e) = state.store().insert_auth_request(&row).await {
        return internal(e);
    }
    redirect::to_login(&row.id)
}

/// `?result=` of the done page.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    result: String,
}

/// `GET /activate/done`.
pub async fn activate_done(Query(q): Query<DoneQuery>) -> Response {
    pages::activate_done(q.result == "approved").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_alphabet() {
        for _ in 0..100 {
            let code = new_user_code();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)), "{code}");
        }
    }

    #[test]
    fn user_code_entry_ignores_case_and_dashes() {
        assert_eq!(normalise_user_code("bcdf-ghjk"), "BCDFGHJK");
        assert_eq!(normalise_user_code(" BCDF GHJK "), "BCDFGHJK");
    }
}
