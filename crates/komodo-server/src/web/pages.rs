//! The individual pages.

use axum::http::StatusCode;

use super::{Page, escape};

/// An error page (never a redirect: A02).
pub fn error(status: StatusCode, title: &str, message: &str) -> Page {
    Page::new(title, format!("<p class=\"error\">{}</p>", escape(message))).status(status)
}

/// The login form.
pub fn login(request_id: &str, csrf: &str, client_name: &str, email: &str, error: Option<&str>) -> Page {
    let error_html = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    Page::new(
        "Sign in",
        format!(
            "<p class=\"muted\">to continue to <strong>{client}</strong></p>{error_html}\
             <form method=\"post\" action=\"/oauth/login\">\
             <input type=\"hidden\" name=\"request\" value=\"{request}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"email\">Email</label><input id=\"email\" type=\"email\" name=\"email\" value=\"{email}\" autocomplete=\"username\" required>\
             <label for=\"password\">Password</label><input id=\"password\" type=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
             <button type=\"submit\">Sign in</button></form>",
            client = escape(client_name),
            request = escape(request_id),
            csrf = escape(csrf),
            email = escape(email),
        ),
    )
}

/// The form to replace a one-time password.
pub fn change_password(request_id: &str, csrf: &str, error: Option<&str>) -> Page {
    let error_html = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    Page::new(
        "Choose a new password",
        format!(
            "<p class=\"muted\">Your password was set for one sign-in only. Choose your own to continue.</p>{error_html}\
             <form method=\"post\" action=\"/oauth/password\">\
             <input type=\"hidden\" name=\"request\" value=\"{request}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"new_password\">New password</label><input id=\"new_password\" type=\"password\" name=\"new_password\" autocomplete=\"new-password\" required>\
             <label for=\"confirm\">Repeat it</label><input id=\"confirm\" type=\"password\" name=\"confirm\" autocomplete=\"new-password\" required>\
             <button type=\"submit\">Continue</button></form>",
            request = escape(request_id),
            csrf = escape(csrf),
        ),
    )
}

fn describe_scope(scope: &str) -> &'static str {
    match scope {
        "openid" => "confirm your identity",
        "profile" => "see your name",
        "email" => "see your email address",
        "offline_access" => "stay signed in (refresh tokens)",
        _ => "an unknown permission",
    }
}

/// The consent form: who asks for what, with explicit approve and deny (B03).
pub fn consent(
    request_id: &str,
    csrf: &str,
    client_name: &str,
    client_id: &str,
    user_email: &str,
    scopes: &[&str],
    device_code: Option<&str>,
) -> Page {
    let items: String =
        scopes.iter().map(|s| format!("<li><code>{}</code>: {}</li>", escape(s), describe_scope(s))).collect();
    let device = device_code
        .map(|code| format!("<p>Confirm that your device shows the code <strong>{}</strong>.</p>", escape(code)))
        .unwrap_or_default();
    Page::new(
        "Authorize access",
        format!(
            "<p><strong>{client}</strong> (<code>{client_id}</code>) asks to access your Komodo account \
             <strong>{email}</strong> and to:</p><ul>{items}</ul>{device}\
             <form method=\"post\" action=\"/oauth/consent\">\
             <input type=\"hidden\" name=\"request\" value=\"{request}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button> \
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            client = escape(client_name),
            client_id = escape(client_id),
            email = escape(user_email),
            request = escape(request_id),
            csrf = escape(csrf),
        ),
    )
}

/// The device verification form (user code entry).
pub fn activate(csrf: &str, user_code: &str, error: Option<&str>) -> Page {
    let error_html = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    Page::new(
        "Connect a device",
        format!(
            "<p class=\"muted\">Enter the code shown on your device.</p>{error_html}\
             <form method=\"post\" action=\"/activate\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"user_code\">Code</label><input id=\"user_code\" type=\"text\" name=\"user_code\" value=\"{code}\" \
             autocomplete=\"off\" autocapitalize=\"characters\" required>\
             <button type=\"submit\">Continue</button></form>",
            csrf = escape(csrf),
            code = escape(user_code),
        ),
    )
}

/// The page after a device decision.
pub fn activate_done(approved: bool) -> Page {
    if approved {
        Page::new("Device connected", "<p>You can close this window and return to your device.</p>".to_owned())
    } else {
        Page::new("Access denied", "<p>The device was not connected. You can close this window.</p>".to_owned())
    }
}
