//! SECURITY.md I01 for form bodies and query strings: every form of the
//! OAuth provider (token, device authorization, revocation and
//! introspection, login, password, consent, activation) and every query
//! string of the provider and the gateway, through axum's own `Form` and
//! `Query` extractors, is a value or a rejection and never a panic. The
//! property test `i01_oauth_forms_never_panic` runs the same checks in CI.
#![no_main]

use std::sync::OnceLock;

use axum::extract::{FromRequest, Query};
use axum::http::{Request, Uri, header};
use komodo_protocol::gateway::LoginQuery;
use komodo_server::gateway::query::{ChunkQuery, RequestIdQuery};
use komodo_server::gateway::session::CloseQuery;
use komodo_server::oidc::{authorize, device, interaction, revoke, token};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("a runtime"))
}

/// `body` as a POSTed `application/x-www-form-urlencoded` form.
fn form<T: DeserializeOwned>(body: &[u8]) {
    let request = Request::post("/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(body.to_vec()))
        .expect("a request");
    let _ = runtime().block_on(axum::Form::<T>::from_request(request, &()));
}

/// `raw` as a query string, when it can be one.
fn query<T: DeserializeOwned>(raw: &[u8]) {
    if let Ok(uri) = Uri::builder().path_and_query([b"/?".as_slice(), raw].concat()).build() {
        let _ = Query::<T>::try_from_uri(&uri);
    }
}

fuzz_target!(|data: &[u8]| {
    form::<token::TokenForm>(data);
    form::<device::DeviceCodeForm>(data);
    form::<device::ActivateForm>(data);
    form::<revoke::TokenForm>(data);
    form::<interaction::LoginForm>(data);
    form::<interaction::PasswordForm>(data);
    form::<interaction::ConsentForm>(data);
    query::<authorize::AuthorizeQuery>(data);
    query::<device::ActivateQuery>(data);
    query::<device::DoneQuery>(data);
    query::<interaction::RequestQuery>(data);
    query::<RequestIdQuery>(data);
    query::<ChunkQuery>(data);
    query::<CloseQuery>(data);
    query::<LoginQuery>(data);
});
