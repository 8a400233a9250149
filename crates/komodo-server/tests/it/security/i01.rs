//! SECURITY.md I01 for the server: every parser of untrusted input returns a
//! value or an error for any input, and never panics. Each test drives the
//! entry points of one fuzz target in `fuzz/fuzz_targets/` (which CI cannot
//! run) with arbitrary bytes and with near-valid input: valid JSON of the
//! wrong types, numbers at and beyond the edges of their types, deep
//! nesting, truncated tokens and bodies.

use std::io::Write as _;

use axum::extract::{FromRequest, Query};
use axum::http::{HeaderMap, HeaderValue, Request, Uri, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use komodo_protocol::gateway::{AbortRequest, LoginQuery, LoginRequest, QueryRequest, TokenRequest};
use komodo_protocol::oauth::{AccessTokenClaims, CLI_CLIENT_ID};
use komodo_server::clock::now;
use komodo_server::gateway::body::parse_body;
use komodo_server::gateway::query::{ChunkQuery, RequestIdQuery, binding_rows, result_scan_target};
use komodo_server::gateway::session::CloseQuery;
use komodo_server::gateway::wire::credential;
use komodo_server::oidc::{authorize, device, interaction, revoke, token};
use komodo_server::{AppState, Config};
use komodo_testkit::Platform;
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::common::http;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn cases(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Numbers at and beyond the edges of `i64`, `u64` and `f64`, as JSON text.
const EDGE_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1.5",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-18446744073709551616",
    "1e308",
    "1e309",
    "-1e400",
    "1e-400",
    "123456789012345678901234567890",
];

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(&[i64::MIN, i64::MAX, -1, 0][..]).prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON text that `serde_json::Value` cannot hold or that stresses the
/// parser: edge numbers, nesting beyond serde_json's recursion limit,
/// unterminated documents, and rendered values.
fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        prop::sample::select(EDGE_NUMBERS).prop_map(str::to_owned),
        (0usize..400, prop::sample::select(&["[", "{\"a\":"][..])).prop_map(|(n, open)| open.repeat(n)),
        (0usize..200).prop_map(|n| format!("{}1{}", "[".repeat(n), "]".repeat(n))),
        ".{0,40}",
    ]
}

/// A JSON object (as text) with the given keys, each present or not, each
/// holding `right` (JSON text), any value, or an edge number.
fn object_with(keys: &'static [&'static str], right: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
    let field = prop_oneof![
        2 => right,
        1 => json_value().prop_map(|v| v.to_string()),
        1 => prop::sample::select(EDGE_NUMBERS).prop_map(str::to_owned),
    ];
    prop::collection::vec(prop::option::of(field), keys.len())
        .prop_map(move |fields| {
            let present = keys.iter().zip(fields).filter_map(|(key, value)| Some(format!("\"{key}\":{}", value?)));
            format!("{{{}}}", present.collect::<Vec<_>>().join(","))
        })
        .boxed()
}

// ---------------------------------------------------------------- JWTs

fn good_claims(state: &AppState) -> AccessTokenClaims {
    let t = now();
    AccessTokenClaims {
        iss: state.issuer().to_owned(),
        sub: "sp:00000000-0000-0000-0000-000000000001".into(),
        aud: state.config().audience.clone(),
        exp: t + 600,
        iat: t,
        nbf: Some(t),
        jti: "i01".into(),
        client_id: "kmd_spc_i01".into(),
        scope: "api".into(),
        account_id: Some("00000000-0000-0000-0000-000000000002".into()),
        sid: None,
    }
}

/// Claims as JSON objects: each field right, wrong-typed, huge or missing.
fn claims_json(good: &AccessTokenClaims) -> impl Strategy<Value = Value> {
    let good = serde_json::to_value(good).unwrap();
    let edge = prop::sample::select(&[i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX][..]).prop_map(Value::from);
    let keys: Vec<String> = good.as_object().unwrap().keys().cloned().collect();
    let field = prop_oneof![3 => Just(None), 1 => json_value().prop_map(Some), 1 => edge.prop_map(Some)];
    prop::collection::vec((field, any::<bool>()), keys.len()).prop_map(move |changes| {
        let mut claims = good.clone();
        let object = claims.as_object_mut().unwrap();
        for (key, (change, remove)) in keys.iter().zip(changes) {
            match change {
                Some(v) => {
                    object.insert(key.clone(), v);
                }
                None if remove => {
                    object.remove(key);
                }
                None => {}
            }
        }
        claims
    })
}

/// JWTs, the SDK's reading of `exp` and the server's verification
/// (`fuzz/fuzz_targets/jwt.rs`): arbitrary text, three base64url parts of
/// arbitrary JSON, a valid token truncated or spliced anywhere, and claims
/// of every shape signed with the platform's real key (reaching the claim
/// checks behind the signature). Nothing forged verifies, and what
/// verifies is exactly what was signed with valid claims.
#[test]
fn i01_jwt_parsers_never_panic() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.bootstrap = false;
    let (state, _) = rt.block_on(AppState::open(config, "http://127.0.0.1:8787".into())).unwrap();
    let keys = state.keys();
    let good_claims = good_claims(&state);
    let good = rt.block_on(keys.sign("at+jwt", &good_claims)).unwrap();
    assert_eq!(rt.block_on(keys.verify_access_token(&good)).unwrap(), good_claims);
    let verify = |token: &str| rt.block_on(keys.verify_access_token(token));
    let sdk = |token: &str| komodo::auth::jwt_expiry(&komodo_protocol::secret::AccessToken::new(token.to_owned()));

    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let parts: Vec<&str> = good.split('.').collect();
    let forged = prop_oneof![
        ".{0,300}",
        (json_text(), json_text(), ".{0,40}").prop_map(move |(h, c, s)| format!("{}.{}.{}", b64(&h), b64(&c), b64(&s))),
        (json_text(), 0usize..3).prop_map({
            let parts: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
            move |(junk, i)| {
                let mut spliced = parts.clone();
                spliced[i] = b64(&junk);
                spliced.join(".")
            }
        }),
        (0usize..2_000, any::<u8>()).prop_map({
            let good = good.clone();
            move |(i, byte)| {
                let mut bytes = good.clone().into_bytes();
                let i = i % bytes.len();
                if bytes[i] == byte {
                    bytes.truncate(i);
                } else {
                    bytes[i] = byte;
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
        }),
        (0usize..8, ".{0,12}").prop_map(|(n, s)| vec![s; n].join(".")),
    ];
    proptest!(cases(256), |(token in forged)| {
        prop_assert!(verify(&token).is_err(), "{token}");
        let _ = sdk(&token);
    });

    let typ = prop_oneof![3 => Just("at+jwt".to_owned()), 1 => Just("application/AT+JWT".to_owned()), 1 => ".{0,12}"];
    proptest!(cases(128), |(claims in claims_json(&good_claims), typ in typ)| {
        let token = rt.block_on(keys.sign(&typ, &claims)).unwrap();
        let _ = sdk(&token);
        if let Ok(verified) = verify(&token) {
            prop_assert_eq!(serde_json::from_value::<AccessTokenClaims>(claims).ok(), Some(verified));
        }
    });
}

// ---------------------------------------------------------------- forms

/// What axum's `Form` extractor makes of a POST body, as the handlers see it.
fn form<T: DeserializeOwned>(rt: &tokio::runtime::Runtime, body: &[u8]) -> bool {
    let request = Request::post("/")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(body.to_vec()))
        .unwrap();
    rt.block_on(axum::Form::<T>::from_request(request, &())).is_ok()
}

/// What axum's `Query` extractor makes of a query string, if it is one.
fn query<T: DeserializeOwned>(raw: &[u8]) -> bool {
    let Ok(uri) = Uri::builder().path_and_query([b"/?".as_slice(), raw].concat()).build() else { return false };
    Query::<T>::try_from_uri(&uri).is_ok()
}

/// Form bodies: arbitrary bytes, and `key=value` pairs of the OAuth
/// endpoints' fields with repeated keys, empty and missing values, bad
/// percent escapes and invalid UTF-8.
fn form_body() -> impl Strategy<Value = Vec<u8>> {
    const KEYS: &[&str] = &[
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "device_code",
        "client_id",
        "client_secret",
        "scope",
        "audience",
        "token",
        "token_type_hint",
        "request",
        "csrf",
        "email",
        "password",
        "decision",
        "user_code",
        "response_type",
        "state",
        "code_challenge",
        "code_challenge_method",
        "requestId",
        "format",
        "delete",
        "",
        "a[b]",
    ];
    const VALUES: &[&str] = &[
        "",
        "client_credentials",
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
        "password",
        "implicit",
        CLI_CLIENT_ID,
        "kmd_spc_x",
        "kmd_sps_x",
        "kmd_rt_x",
        "openid offline_access",
        "bogus",
        "http://127.0.0.1:1/callback",
        "%",
        "%zz",
        "%ff%fe",
        "%00",
        "+",
        "a%20b",
        "é",
        "ABCD-EFGH",
        "eyJ.eyJ.sig",
        "true",
        "-1",
        "18446744073709551616",
    ];
    let pair =
        (prop::sample::select(KEYS), prop_oneof![prop::sample::select(VALUES).prop_map(str::to_owned), ".{0,16}"])
            .prop_map(|(k, v)| if v.is_empty() && k.len() % 2 == 0 { k.to_owned() } else { format!("{k}={v}") });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        prop::collection::vec(pair, 0..8).prop_map(|pairs| pairs.join("&").into_bytes()),
    ]
}

/// Every form and query string of the OAuth provider and the gateway
/// (`fuzz/fuzz_targets/forms.rs`) through axum's own extractors; then the
/// back-channel endpoints over real HTTP, which answer every body with
/// their JSON error or success and never a server error.
#[test]
fn i01_oauth_forms_never_panic() {
    let rt = runtime();
    proptest!(cases(256), |(body in form_body())| {
        let _ = form::<token::TokenForm>(&rt, &body);
        let _ = form::<device::DeviceCodeForm>(&rt, &body);
        let _ = form::<device::ActivateForm>(&rt, &body);
        let _ = form::<revoke::TokenForm>(&rt, &body);
        let _ = form::<interaction::LoginForm>(&rt, &body);
        let _ = form::<interaction::PasswordForm>(&rt, &body);
        let _ = form::<interaction::ConsentForm>(&rt, &body);
        let _ = query::<authorize::AuthorizeQuery>(&body);
        let _ = query::<device::ActivateQuery>(&body);
        let _ = query::<device::DoneQuery>(&body);
        let _ = query::<interaction::RequestQuery>(&body);
        let _ = query::<RequestIdQuery>(&body);
        let _ = query::<ChunkQuery>(&body);
        let _ = query::<CloseQuery>(&body);
        let _ = query::<LoginQuery>(&body);
    });

    let platform = rt.block_on(Platform::start());
    let client = http();
    let endpoints =
        prop::sample::select(&["/oauth/token", "/oauth/device/code", "/oauth/revoke", "/oauth/introspect"][..]);
    proptest!(cases(64), |(endpoint in endpoints, body in form_body())| {
        let (status, text) = rt.block_on(async {
            let response = client
                .post(platform.url_for(endpoint))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        });
        let shown = String::from_utf8_lossy(&body);
        prop_assert!(matches!(status.as_u16(), 200 | 400 | 401), "{endpoint} {shown:?}: {status} {text}");
        if status.as_u16() != 200 {
            let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            prop_assert!(error["error"].is_string(), "{endpoint} {shown:?}: {status} {text}");
        }
    });
    rt.block_on(platform.stop());
}

// ---------------------------------------------------------------- gateway

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Near-valid gateway request bodies: the fields of each request type with
/// values right, wrong or at the edges; bindings of every shape.
fn gateway_json() -> impl Strategy<Value = String> {
    let type_name = prop_oneof![
        prop::sample::select(
            &["TEXT", "FIXED", "REAL", "BOOLEAN", "DATE", "TIME", "TIMESTAMP_TZ", "BINARY", "ANY"][..]
        )
        .prop_map(Value::from),
        json_value(),
    ];
    let scalar = prop_oneof![
        prop::sample::select(&["1", "-1.5", "1e400", "true", "1704153600000", "1000 1500", "00ff", "0", ""][..])
            .prop_map(Value::from),
        json_value(),
    ];
    let value = prop_oneof![scalar.clone(), prop::collection::vec(scalar, 0..4).prop_map(Value::from)];
    let binding = (type_name, value).prop_map(|(t, v)| json!({"type": t, "value": v}));
    let key = prop_oneof![
        prop::sample::select(&["1", "2", "3", "0", "01", "-1", "18446744073709551616", ""][..]).prop_map(str::to_owned),
        ".{0,4}",
    ];
    let bindings = prop::collection::btree_map(key, binding, 0..4).prop_map(|m| json!(m).to_string());
    let sql = prop_oneof![
        Just("select * from table(result_scan('123e4567-e89b-12d3-a456-426614174000'))".to_owned()),
        ".{0,20}".prop_map(|s| format!("SELECT * FROM TABLE ( RESULT_SCAN ( '{s}' ) ) ;")),
        ".{0,40}",
    ]
    .prop_map(|s| Value::from(s).to_string());
    let any_json = || json_value().prop_map(|v| v.to_string());
    const QUERY: &[&str] =
        &["sqlText", "bindings", "asyncExec", "sequenceId", "parameters", "describeOnly", "querySubmissionTime"];
    const LOGIN: &[&str] = &["ACCOUNT_NAME", "AUTHENTICATOR", "TOKEN", "SESSION_PARAMETERS", "CLIENT_APP_ID"];
    prop_oneof![
        object_with(QUERY, prop_oneof![sql, bindings]),
        object_with(&["data"], object_with(LOGIN, any_json())),
        object_with(&["oldSessionToken", "requestType"], any_json()),
        object_with(&["sqlText", "requestId"], any_json()),
        json_text(),
    ]
}

/// One gateway body through every step that reads it before the store or
/// the warehouse is involved.
fn gateway_body(bytes: &[u8], gzip_header: bool) {
    let _ = parse_body::<LoginRequest>(bytes, gzip_header);
    let _ = parse_body::<TokenRequest>(bytes, gzip_header);
    let _ = parse_body::<AbortRequest>(bytes, gzip_header);
    if let Ok(request) = parse_body::<QueryRequest>(bytes, gzip_header) {
        let _ = result_scan_target(&request.sql_text);
        if let Ok(rows) = binding_rows(request.bindings, 65_536) {
            for param in rows.iter().flatten() {
                let _ = param.to_scalar();
            }
        }
    }
}

/// Gateway requests (`fuzz/fuzz_targets/gateway.rs`): bodies plain and
/// gzip-compressed (whole, truncated, or announced but not compressed),
/// through `parse_body` into each request type, bindings into parameters
/// and scalars, the `RESULT_SCAN` shortcut, and the `Authorization` header.
#[test]
fn i01_gateway_json_never_panics() {
    let body = prop_oneof![gateway_json().prop_map(String::into_bytes), prop::collection::vec(any::<u8>(), 0..200),];
    proptest!(cases(256), |(body in body, cut in any::<prop::sample::Index>(), header in any::<bool>())| {
        gateway_body(&body, header);
        let compressed = gzip(&body);
        gateway_body(&compressed, header);
        gateway_body(&compressed[..cut.index(compressed.len() + 1)], header);
        let mut concatenated = compressed.clone();
        concatenated.extend_from_slice(&body);
        gateway_body(&concatenated, header);
    });

    let authorization = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80),
        (
            prop::sample::select(&["Snowflake Token=", "snowflake token=\"", "Bearer ", "bearer", "Basic "][..]),
            ".{0,20}"
        )
            .prop_map(|(scheme, rest)| format!("{scheme}{rest}").into_bytes()),
    ];
    proptest!(cases(256), |(value in authorization, sql in ".{0,60}")| {
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value);
            let _ = credential(&headers);
        }
        let _ = result_scan_target(&sql);
    });
}

fn graphql_depth(fields: &[komodo_server::iam::graphql::Field]) -> usize {
    fields.iter().map(|f| 1 + graphql_depth(&f.selection)).max().unwrap_or(0)
}

/// The GraphQL subset of the account-access check (fuzz target `graphql`):
/// arbitrary text and near-valid documents (deep, wide, unterminated,
/// escaped) parse or fail, never panic, and never nest past the bound.
#[test]
fn i01_graphql_never_panics() {
    use komodo_server::iam::graphql::{MAX_DEPTH, parse_query};
    let piece = prop::sample::select(
        &[
            "{",
            "}",
            "(",
            ")",
            ":",
            "query",
            "customerUniverse",
            "rbacAccountId",
            "\"a\"",
            "\"\\u00e9\"",
            "\"\\",
            "\"",
            "#c\n",
            " ",
            ",",
            "$v",
            "...",
            "@d",
            "1",
            "mutation",
            "\"\"\"",
            "subscriber",
            "tags",
        ][..],
    );
    let document = prop_oneof![
        ".{0,200}",
        prop::collection::vec(piece, 0..120).prop_map(|pieces| pieces.concat()),
        (1usize..40).prop_map(|n| format!("{}{}", "{ a ".repeat(n), "}".repeat(n))),
    ];
    proptest!(cases(512), |(document in document)| {
        if let Ok(fields) = parse_query(&document) {
            prop_assert!(graphql_depth(&fields) <= MAX_DEPTH);
        }
    });
}
