//! The browser interaction shared by the authorization code flow and the
//! device flow: the login page and the consent page.
//!
//! A pending request is bound to the browser that started it (an HttpOnly
//! cookie whose hash the request stores) and every form carries a CSRF token
//! derived from that cookie (A12). Successful POSTs answer 303 (A13). Login
//! attempts count against the email address and the client address before
//! the password is checked (F04); the answers for unknown users and wrong
//! passwords are identical (A15).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use komodo_protocol::secret::Password;
use serde::Deserialize;
use uuid::Uuid;

use super::redirect;
use crate::clock::now;
use crate::crypto::{ct_eq, random_token, token_hash};
use crate::identity::password;
use crate::state::AppState;
use crate::store::oauth::{AuthCodeRow, AuthRequestRow};
use crate::web::browser::existing_secret;
use crate::web::request::ClientAddr;
use crate::web::{pages, see_other};

fn internal(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "internal error in login interaction");
    pages::error(StatusCode::INTERNAL_SERVER_ERROR, "Error", "Something went wrong. Start again from your application.")
        .into_response()
}

fn expired() -> Response {
    pages::error(
        StatusCode::BAD_REQUEST,
        "Sign-in expired",
        "This sign-in request is unknown, finished or expired. Start again from your application.",
    )
    .into_response()
}

/// [`load`] for a form post: also checks the form's CSRF token.
async fn load_posted(
    state: &AppState,
    id: &str,
    csrf: &str,
    headers: &HeaderMap,
) -> Result<(AuthRequestRow, String), Response> {
    let (row, browser) = load(state, id, headers).await?;
    if !state.secrets().verify_csrf(&browser, csrf) {
        return Err(csrf_refused());
    }
    Ok((row, browser))
}

/// Loads a pending request and checks that this browser started it.
async fn load(state: &AppState, id: &str, headers: &HeaderMap) -> Result<(AuthRequestRow, String), Response> {
    let row = match state.store().auth_request(id).await {
        Ok(Some(row)) => row,
        Ok(None) => return Err(expired()),
        Err(e) => return Err(internal(e)),
    };
    if row.completed_at.is_some() || row.expires_at <= now() {
        return Err(expired());
    }
    let browser = existing_secret(headers).unwrap_or_default();
    if browser.is_empty() || !ct_eq(token_hash(browser).as_bytes(), row.browser_hash.as_bytes()) {
        return Err(pages::error(
            StatusCode::BAD_REQUEST,
            "Sign-in interrupted",
            "This sign-in was started in another browser or your cookies are disabled. Start again from your application.",
        )
        .into_response());
    }
    Ok((row, browser.to_owned()))
}

fn bad_form() -> Response {
    pages::error(StatusCode::BAD_REQUEST, "Invalid request", "The form was incomplete. Go back and try again.")
        .into_response()
}

fn csrf_refused() -> Response {
    pages::error(
        StatusCode::FORBIDDEN,
        "Request refused",
        "The form's security token is missing or wrong. Reload the page and try again.",
    )
    .into_response()
}

async fn client_name(state: &AppState, client_id: &str) -> String {
    match state.store().client_by_id(client_id).await {
        Ok(Some(client)) => client.name,
        _ => client_id.to_owned(),
    }
}

/// `?request=` of the login and consent pages.
#[derive(Debug, Deserialize)]
pub struct RequestQuery {
    request: String,
}

/// `GET /oauth/login`.
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<RequestQuery>) -> Response {
    let (row, browser) = match load(&state, &q.request, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let csrf = state.secrets().csrf_token(&browser);
    pages::login(&row.id, &csrf, &client_name(&state, &row.client_id).await, "", None).into_response()
}

/// The login form.
#[derive(Deserialize)]
pub struct LoginForm {
    request: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    password: Password,
}

const INVALID_LOGIN: &str = "Invalid email or password.";
const LOCKED_OUT: &str = "Too many failed sign-in attempts. Wait a few minutes and try again.";

/// `POST /oauth/login`.
pub async fn login_submit(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return bad_form();
    };
    let (row, browser) = match load_posted(&state, &form.request, &form.csrf, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let csrf = state.secrets().csrf_token(&browser);
    let name = client_name(&state, &row.client_id).await;
    let email = crate::store::iam::normalise_email(&form.email);
    let config = state.config();
    let account_key = format!("login:account:{}", token_hash(&email));
    let address_key = format!("login:address:{addr}");
    let (acct_limit, addr_limit) = (config.login_limit_per_account, config.login_limit_per_address);
    let store = state.store();
    // Every attempt is counted before its password is checked, in one
    // statement per counter that returns the new count (F04): parallel
    // attempts, on one replica or several, each get their own number, and
    // only the first `max` of a window reach the password check. The
    // address is counted first, so that an address over its budget cannot
    // add to any account's count.
    let address_count = match store.rate_hit(&address_key, addr_limit.window.as_secs() as i64).await {
        Ok(count) => count,
        Err(e) => return internal(e),
    };
    let over = if address_count > i64::from(addr_limit.max) {
        Some("address")
    } else {
        match store.rate_hit(&account_key, acct_limit.window.as_secs() as i64).await {
            Ok(count) if count > i64::from(acct_limit.max) => Some("account"),
            Ok(_) => None,
            Err(e) => return internal(e),
        }
    };
    if let Some(limit) = over {
        metrics::counter!("komodo_failed_logins_total", "reason" => "locked").increment(1);
        // The same answer whether or not the account exists (A15).
        tracing::info!(address = %addr, limit, "login refused: too many attempts");
        return pages::login(&row.id, &csrf, &name, &form.email, Some(LOCKED_OUT))
            .status(StatusCode::TOO_MANY_REQUESTS)
            .into_response();
    }
    let credentials = match store.credentials_by_email(&email).await {
        Ok(found) => found,
        Err(e) => return internal(e),
    };
    let (user_id, hash) = credentials.map(|(id, hash)| (Some(id), Some(hash))).unwrap_or((None, None));
    let verified = password::verify(&form.password, hash).await;
    let Some(user_id) = user_id.filter(|_| verified) else {
        metrics::counter!("komodo_failed_logins_total", "reason" => "invalid_credentials").increment(1);
        tracing::info!(address = %addr, "login failed");
        return pages::login(&row.id, &csrf, &name, &form.email, Some(INVALID_LOGIN))
            .status(StatusCode::UNAUTHORIZED)
            .into_response();
    };
    // A successful login clears the account's count and gives back the
    // address's attempt: the address budget counts failures.
    if let Err(e) = store.rate_reset(&account_key).await {
        return internal(e);
    }
    if let Err(e) = store.rate_refund(&address_key, addr_limit.window.as_secs() as i64).await {
        return internal(e);
    }
    if let Err(e) = store.set_auth_request_user(&row.id, &user_id, now()).await {
        return internal(e);
    }
    tracing::info!(user_id = %user_id, client_id = %row.client_id, "user signed in");
    match store.password_change_required(&user_id).await {
        Ok(true) => redirect::to_password_change(&row.id),
        Ok(false) => redirect::to_consent(&row.id),
        Err(e) => internal(e),
    }
}

/// `GET /oauth/password`: replace a one-time password before consent.
pub async fn password_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RequestQuery>,
) -> Response {
    let (row, browser) = match load(&state, &q.request, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if row.user_id.is_none() {
        return redirect::to_login(&row.id);
    }
    pages::change_password(&row.id, &state.secrets().csrf_token(&browser), None).into_response()
}

/// The password-change form.
#[derive(Deserialize)]
pub struct PasswordForm {
    request: String,
    #[serde(default)]
    csrf: String,
    new_password: Password,
    confirm: Password,
}

/// `POST /oauth/password`.
pub async fn password_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return bad_form();
    };
    let (row, browser) = match load_posted(&state, &form.request, &form.csrf, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(user_id) = row.user_id.as_deref() else {
        return redirect::to_login(&row.id);
    };
    let csrf = state.secrets().csrf_token(&browser);
    if form.new_password != form.confirm {
        return pages::change_password(&row.id, &csrf, Some("The two passwords differ."))
            .status(StatusCode::BAD_REQUEST)
            .into_response();
    }
    if let Err(problem) = password::check_new(&form.new_password) {
        return pages::change_password(&row.id, &csrf, Some(&problem)).status(StatusCode::BAD_REQUEST).into_response();
    }
    let hash = password::hash(&form.new_password).await;
    if let Err(e) = state.store().set_password_hash_by_id(user_id, &hash).await {
        return internal(e);
    }
    tracing::info!(user_id = %user_id, "one-time password replaced");
    redirect::to_consent(&row.id)
}

/// Sends a user who still holds a one-time password to the change page.
async fn pending_password_change(state: &AppState, request_id: &str, user_id: &str) -> Option<Response> {
    match state.store().password_change_required(user_id).await {
        Ok(true) => Some(redirect::to_password_change(request_id)),
        Ok(false) => None,
        Err(e) => Some(internal(e)),
    }
}

fn format_user_code(code: &str) -> String {
    if code.len() == 8 { format!("{}-{}", &code[..4], &code[4..]) } else { code.to_owned() }
}

/// `GET /oauth/consent`.
pub async fn consent_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RequestQuery>,
) -> Response {
    let (row, browser) = match load(&state, &q.request, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(user_id) = row.user_id.as_deref() else {
        return redirect::to_login(&row.id);
    };
    if let Some(redirect) = pending_password_change(&state, &row.id, user_id).await {
        return redirect;
    }
    let user = match state.store().user_by_id(user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return expired(),
        Err(e) => return internal(e),
    };
    let device_code = match &row.device_hash {
        Some(hash) => match state.store().device_by_hash(hash).await {
            Ok(Some(device)) => Some(format_user_code(&device.user_code)),
            Ok(None) => return expired(),
            Err(e) => return internal(e),
        },
        None => None,
    };
    let csrf = state.secrets().csrf_token(&browser);
    let scopes: Vec<&str> = row.scope.split_ascii_whitespace().collect();
    let name = client_name(&state, &row.client_id).await;
    pages::consent(&row.id, &csrf, &name, &row.client_id, &user.email, &scopes, device_code.as_deref()).into_response()
}

/// The consent form.
#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    request: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

/// `POST /oauth/consent`.
pub async fn consent_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return bad_form();
    };
    let (row, _) = match load_posted(&state, &form.request, &form.csrf, &headers).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let (Some(user_id), Some(auth_time)) = (row.user_id.clone(), row.auth_time) else {
        return redirect::to_login(&row.id);
    };
    if let Some(redirect) = pending_password_change(&state, &row.id, &user_id).await {
        return redirect;
    }
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return pages::error(StatusCode::BAD_REQUEST, "Invalid request", "Choose Allow or Deny.").into_response(),
    };
    match state.store().complete_auth_request(&row.id).await {
        Ok(true) => {}
        Ok(false) => return expired(),
        Err(e) => return internal(e),
    }
    if let Some(device_hash) = &row.device_hash {
        return match state.store().device_decide(device_hash, approve, &user_id, auth_time).await {
            Ok(true) => {
                tracing::info!(user_id = %user_id, approved = approve, "device authorization decided");
                see_other(if approve { "/activate/done?result=approved" } else { "/activate/done?result=denied" })
            }
            Ok(false) => pages::error(
                StatusCode::BAD_REQUEST,
                "Code expired",
                "This device code has expired or was already used. Start again on your device.",
            )
            .into_response(),
            Err(e) => internal(e),
        };
    }
    let redirect_uri = row.redirect_uri.clone().unwrap_or_default();
    if !approve {
        return redirect::to_client(
            &redirect_uri,
            &[("error", "access_denied"), ("error_description", "the user denied the request")],
            row.state.as_deref(),
            state.issuer(),
        );
    }
    let code = random_token::<32>();
    let t = now();
    let code_row = AuthCodeRow {
        code_hash: token_hash(&code),
        client_id: row.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        user_id,
        scope: row.scope.clone(),
        nonce: row.nonce.clone(),
        code_challenge: row.code_challenge.clone(),
        auth_time,
        family_id: Uuid::new_v4().to_string(),
        created_at: t,
        expires_at: t + state.config().auth_code_ttl.as_secs() as i64,
        used_at: None,
        audience: row.audience.clone(),
    };
    if let Err(e) = state.store().insert_auth_code(&code_row).await {
        return internal(e);
    }
    redirect::to_client(&redirect_uri, &[("code", &code)], row.state.as_deref(), state.issuer())
}
