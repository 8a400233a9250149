//! Operator-registered OAuth clients, requested audiences, an issuer kept
//! exactly as configured, the identity answer's fields, the gateway's
//! bearer login (`SNOWFLAKE_JWT`) and the subscription service's
//! account-access check: what Komodo Health's SDK needs, over real HTTP.

use komodo_protocol::oauth::{AccessTokenClaims, DeviceAuthorizationResponse, GRANT_DEVICE_CODE};
use komodo_server::admin::{CLIENT_APP_SECRET_PREFIX, NewClient};
use komodo_testkit::{Browser, Decision, Platform};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

const SDK_CLIENT: &str = "mkxXDmAae54idV6TIpviUfq2ySuRdC9Y";
const PLATFORM_AUDIENCE: &str = "https://komodohealth-platform.us.auth0.com/api/v2/";
const CLIENT_AUDIENCE: &str = "https://reports.example/";
const ISSUER: &str = "https://auth.example.com/";

async fn sdk_platform() -> Platform {
    let platform = Platform::builder()
        .issuer(ISSUER)
        .config(|c| {
            c.audiences = vec![PLATFORM_AUDIENCE.to_owned()];
            c.signing_alg = komodo_server::config::SigningAlg::Rs256;
        })
        .start()
        .await;
    platform
        .admin()
        .create_client(&NewClient {
            client_id: SDK_CLIENT.into(),
            name: "Komodo Health SDK".into(),
            public: true,
            grants: vec!["device".into()],
            audiences: vec![CLIENT_AUDIENCE.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    platform
}

async fn device_code(platform: &Platform, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = http().post(platform.url_for("/oauth/device/code")).form(fields).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A device login of `email` through the SDK's client, asking for
/// `audience`; the token response.
async fn sdk_login(platform: &Platform, user: &komodo_testkit::TestUser, audience: &str) -> Value {
    let (status, body) = device_code(
        platform,
        &[("client_id", SDK_CLIENT), ("audience", audience), ("scope", "openid profile email offline_access")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let device: DeviceAuthorizationResponse = serde_json::from_value(body).unwrap();
    assert!(device.verification_uri.starts_with("https://auth.example.com/activate"), "{}", device.verification_uri);
    Browser::new(platform.url())
        .approve_device(&device.user_code, &user.email, &user.password, Decision::Approve)
        .await
        .unwrap();
    let (status, body) = token_request(
        platform,
        &[
            ("grant_type", GRANT_DEVICE_CODE),
            ("device_code", device.device_code.expose_secret()),
            ("client_id", SDK_CLIENT),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A10: a request may name an audience (`audience` or RFC 8707 `resource`)
/// configured for the platform or for that client; the token carries it as
/// its one `aud`. Any other is `invalid_target`, and the platform's own
/// APIs accept only the platform's audiences.
#[tokio::test]
async fn a10_requested_audiences_must_be_configured_for_the_platform_or_the_client() {
    let platform = sdk_platform().await;
    let ada = user(&platform, "ada@example.com").await;
    let tokens = sdk_login(&platform, &ada, PLATFORM_AUDIENCE).await;
    let access = tokens["access_token"].as_str().unwrap();
    let claims = jwt_part(access, 1);
    assert_eq!(claims["aud"], PLATFORM_AUDIENCE, "one audience, the one asked for");
    assert_eq!(claims["iss"], ISSUER, "the issuer exactly as configured, trailing slash kept");
    assert_eq!(jwt_part(access, 0)["alg"], "RS256");
    let id = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!((id["aud"].as_str(), id["iss"].as_str()), (Some(SDK_CLIENT), Some(ISSUER)));
    assert_eq!(tokens["expires_in"], 3600, "access tokens live an hour by default");
    let (status, identity) = api(&platform, Method::GET, "/v1/iam/identity", Some(access), None, None).await;
    assert_eq!(status, StatusCode::OK, "{identity}");

    // The client's own audience may be asked for, by either parameter...
    for parameter in ["audience", "resource"] {
        let (status, body) = device_code(&platform, &[("client_id", SDK_CLIENT), (parameter, CLIENT_AUDIENCE)]).await;
        assert_eq!(status, StatusCode::OK, "{parameter}: {body}");
    }
    // ...but a token for it is not one for the platform's APIs.
    let mut other: AccessTokenClaims = serde_json::from_value(claims).unwrap();
    other.aud = CLIENT_AUDIENCE.into();
    other.jti = "client-audience".into();
    let token = platform.state().keys().sign("at+jwt", &other).await.unwrap();
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&token), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Anything else is refused, as are two different audiences at once,
    // and another client's audience.
    for fields in [
        vec![("client_id", SDK_CLIENT), ("audience", "https://elsewhere.example/")],
        vec![("client_id", SDK_CLIENT), ("resource", "https://komodohealth-platform.us.auth0.com/api/v2")],
        vec![("client_id", SDK_CLIENT), ("audience", PLATFORM_AUDIENCE), ("resource", CLIENT_AUDIENCE)],
        vec![("client_id", komodo_protocol::oauth::CLI_CLIENT_ID), ("audience", CLIENT_AUDIENCE)],
    ] {
        let (status, body) = device_code(&platform, &fields).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_target")), "{fields:?}");
    }
    // The platform's default audience and its further ones work for any client.
    let (status, _) =
        device_code(&platform, &[("client_id", komodo_protocol::oauth::CLI_CLIENT_ID), ("audience", "komodo")]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = device_code(
        &platform,
        &[("client_id", komodo_protocol::oauth::CLI_CLIENT_ID), ("audience", PLATFORM_AUDIENCE)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// The issuer is used exactly as given: discovery names it with its
/// trailing slash and every endpoint below it without a double slash.
#[tokio::test]
async fn the_issuer_is_kept_exactly_as_configured() {
    let platform = sdk_platform().await;
    let doc: Value =
        http().get(platform.url_for("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(doc["token_endpoint"], "https://auth.example.com/oauth/token");
    assert_eq!(doc["jwks_uri"], "https://auth.example.com/.well-known/jwks.json");
    assert_eq!(doc["device_authorization_endpoint"], "https://auth.example.com/oauth/device/code");
}

/// Registered clients get only the grants they were given, and an unknown
/// client id is refused.
#[tokio::test]
async fn registered_clients_get_only_their_grants() {
    let platform = sdk_platform().await;
    let (status, body) = token_request(
        &platform,
        &[("grant_type", "refresh_token"), ("refresh_token", "kmd_rt_x"), ("client_id", SDK_CLIENT)],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "{body}");
    let (status, body) = device_code(&platform, &[("client_id", "never-registered")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    // Bad registrations say what to do.
    let admin = platform.admin();
    for (new, why) in [
        (NewClient { client_id: "has space".into(), name: "x".into(), ..Default::default() }, "invalid client id"),
        (NewClient { client_id: "kmd_spc_x".into(), name: "x".into(), ..Default::default() }, "service principals"),
        (NewClient { client_id: "ok".into(), name: " ".into(), ..Default::default() }, "name"),
        (
            NewClient {
                client_id: "ok".into(),
                name: "x".into(),
                grants: vec!["authorization_code".into()],
                ..Default::default()
            },
            "--redirect-loopback",
        ),
        (
            NewClient {
                client_id: "ok".into(),
                name: "x".into(),
                grants: vec!["password".into()],
                ..Default::default()
            },
            "unknown grant",
        ),
        (
            NewClient {
                client_id: "ok".into(),
                name: "x".into(),
                redirect_uris: vec!["http://app.example/cb".into()],
                ..Default::default()
            },
            "https",
        ),
        (
            NewClient { client_id: SDK_CLIENT.into(), name: "again".into(), public: true, ..Default::default() },
            "already exists",
        ),
    ] {
        let error = admin.create_client(&new).await.unwrap_err().to_string();
        assert!(error.contains(why), "{why}: {error}");
    }
    let listed = admin.list_clients().await.unwrap();
    assert!(listed.iter().any(|c| c.client_id == SDK_CLIENT && c.is_public()));
    assert!(admin.delete_client(komodo_protocol::oauth::CLI_CLIENT_ID).await.is_err(), "the built-in client stays");
    admin.delete_client(SDK_CLIENT).await.unwrap();
    let (status, _) = device_code(&platform, &[("client_id", SDK_CLIENT)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a deleted client is unknown");
}

/// S01 for confidential registered clients: the secret is prefixed, 256
/// random bits, shown once, stored as a keyed hash, and required.
#[tokio::test]
async fn s01_confidential_client_secrets_are_prefixed_random_shown_once_keyed_hash() {
    let platform = Platform::start().await;
    let created = platform
        .admin()
        .create_client(&NewClient {
            client_id: "reporting-service".into(),
            name: "Reporting".into(),
            public: false,
            grants: vec!["device".into(), "refresh_token".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let secret = created.secret.expect("a confidential client's secret").expose_secret().to_owned();
    assert!(secret.starts_with(CLIENT_APP_SECRET_PREFIX) && secret.len() >= CLIENT_APP_SECRET_PREFIX.len() + 43);
    let stored = platform.state().store().client_by_id("reporting-service").await.unwrap().unwrap();
    let hash = stored.secret_hash.clone().unwrap();
    assert!(!hash.contains(&secret[CLIENT_APP_SECRET_PREFIX.len()..]) && hash != secret);
    assert_eq!(hash, platform.state().secrets().hash_client_secret(&secret), "a keyed hash");
    assert!(!format!("{stored:?}").contains(&hash), "Debug leaves the hash out");
    let again = platform.admin().list_clients().await.unwrap();
    assert!(!format!("{again:?}").contains(&hash));
    // Required, checked, by either method.
    let (status, body) = device_code(&platform, &[("client_id", "reporting-service")]).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let (status, _) =
        device_code(&platform, &[("client_id", "reporting-service"), ("client_secret", "kmd_cs_wrong")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) =
        device_code(&platform, &[("client_id", "reporting-service"), ("client_secret", secret.as_str())]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = http()
        .post(platform.url_for("/oauth/token"))
        .basic_auth("reporting-service", Some(&secret))
        .form(&[("grant_type", GRANT_DEVICE_CODE), ("device_code", body["device_code"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    let polled: Value = response.json().await.unwrap();
    assert_eq!(polled["error"], "authorization_pending", "authenticated with Basic: {polled}");
    let (_, polled) = token_request(
        &platform,
        &[
            ("grant_type", GRANT_DEVICE_CODE),
            ("device_code", body["device_code"].as_str().unwrap()),
            ("client_id", "reporting-service"),
        ],
    )
    .await;
    assert_eq!(polled["error"], "invalid_client", "no secret at the token endpoint either");
}

/// The identity answer has every field Komodo Health's strict models
/// require, for users and service principals (a description is a string).
#[tokio::test]
async fn the_identity_answer_has_every_field_the_sdk_requires() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let tokens = login(&platform, &ada, "openid").await;
    let (_, identity) =
        api(&platform, Method::GET, "/v1/iam/identity", Some(tokens.access_token.expose_secret()), None, None).await;
    let u = &identity["user"];
    assert_eq!(identity["jwt_type"], "user");
    assert_eq!((u["user_id"].as_str(), u["email"].as_str()), (Some(ada.id.as_str()), Some("ada@example.com")));
    assert_eq!((u["status"].as_str(), u["user_type"].as_str()), (Some("active"), Some("EXTERNAL")));
    for field in ["created_at", "updated_at"] {
        let value = u[field].as_str().unwrap();
        assert!(value.len() == 20 && value.ends_with('Z') && value.as_bytes()[10] == b'T', "{field}: {value}");
    }
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let (_, identity) = api(&platform, Method::GET, "/v1/iam/identity", Some(&token), None, None).await;
    let s = &identity["service_principal"];
    assert_eq!(identity["jwt_type"], "service_principal");
    assert_eq!(s["description"], "", "a string, never null");
    for field in ["service_principal_id", "client_id", "name", "created_at", "updated_at"] {
        assert!(s[field].as_str().is_some_and(|v| !v.is_empty()), "{field}: {identity}");
    }
}

async fn gateway_post(platform: &Platform, path: &str, headers: &[(&str, &str)], body: &Value) -> Value {
    let mut request = http().post(platform.url_for(path)).header("accept", "application/snowflake").json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().json().await.unwrap()
}

fn jwt_login_body(account: &str, login_name: &str) -> Value {
    json!({"data": {
        "CLIENT_APP_ID": "PythonConnector", "CLIENT_APP_VERSION": "4.0.0", "ACCOUNT_NAME": account,
        "LOGIN_NAME": login_name, "AUTHENTICATOR": "SNOWFLAKE_JWT",
        "SESSION_PARAMETERS": {"QUERY_TAG": "{}"}, "CLIENT_ENVIRONMENT": {"OS": "Linux"}
    }})
}

/// Komodo Health's connector logs in with `AUTHENTICATOR=SNOWFLAKE_JWT`,
/// its access token as `Authorization: Bearer` and `x-account-id`, then
/// sends the session token in `Snowflake-Authorization` beside the bearer
/// token. The token is checked as for OAUTH and LOGIN_NAME must name its
/// principal.
#[tokio::test]
async fn the_gateway_accepts_the_sdks_bearer_login() {
    let platform = Platform::start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let sp = platform.create_service_principal("demo", "etl").await;
    let token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let bearer = format!("Bearer {token}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("x-account-id", account.as_str()),
        ("x-user-id", sp.service_principal_id.as_str()),
    ];
    let path = "/session/v1/login-request?request_id=1&databaseName=DEMO&schemaName=HEALTHCARE";
    let login = gateway_post(&platform, path, &headers, &jwt_login_body(&account, &sp.service_principal_id)).await;
    assert_eq!(login["success"], true, "{login}");
    let session = format!("Snowflake Token=\"{}\"", login["data"]["token"].as_str().unwrap());
    let mut with_session = headers.to_vec();
    with_session.push(("snowflake-authorization", session.as_str()));
    let result = gateway_post(
        &platform,
        "/queries/v1/query-request?requestId=00000000-0000-0000-0000-000000000001",
        &with_session,
        &json!({"sqlText": "SELECT COUNT(*) FROM PATIENTS", "asyncExec": false, "sequenceId": 1, "parameters": {}}),
    )
    .await;
    assert_eq!(result["success"], true, "the session's database applies: {result}");

    // LOGIN_NAME must name the token's principal; no TOKEN in the body.
    let refused = gateway_post(&platform, path, &headers, &jwt_login_body(&account, "someone-else")).await;
    assert_eq!(refused["success"], false);
    assert!(refused["message"].as_str().unwrap().contains("LOGIN_NAME"), "{refused}");
    let mut with_token = jwt_login_body(&account, "");
    with_token["data"]["TOKEN"] = json!(token);
    let refused = gateway_post(&platform, path, &headers, &with_token).await;
    assert!(refused["message"].as_str().unwrap().contains("Key-pair"), "{refused}");
    let refused = gateway_post(&platform, path, &headers[1..], &jwt_login_body(&account, "")).await;
    assert!(refused["message"].as_str().unwrap().contains("Bearer"), "{refused}");
    // The token is checked as for OAUTH.
    let at = token.len() - 10;
    let swapped = if &token[at..at + 1] == "A" { "B" } else { "A" };
    let forged = format!("Bearer {}{swapped}{}", &token[..at], &token[at + 1..]);
    let refused = gateway_post(
        &platform,
        path,
        &[("authorization", forged.as_str()), ("x-account-id", account.as_str())],
        &jwt_login_body(&account, ""),
    )
    .await;
    assert_eq!(refused["success"], false, "{refused}");
    // The account named twice must be one account.
    let other = platform.create_account("demo", "other").await;
    let refused = gateway_post(&platform, path, &headers, &jwt_login_body(&other.id, "")).await;
    assert_eq!(refused["success"], false, "{refused}");
}

/// The subscription service's check that `komodo account set` posts: the
/// caller's accounts are subscribed, other accounts are not there.
#[tokio::test]
async fn the_account_access_check_answers_for_the_caller() {
    let platform = Platform::start().await;
    let account = platform.demo_account_id().unwrap().to_owned();
    let ada = user(&platform, "ada@example.com").await;
    platform.add_member("demo", &ada.email, komodo_protocol::iam::Role::Member).await;
    let token = login(&platform, &ada, "openid").await.access_token.expose_secret().to_owned();
    let check = |account: &str| {
        json!({"query": format!(
            "query full_customer_universe {{ customerUniverse(rbacAccountId: \"{account}\") {{ subscriber {{ tags }} }} }}"
        )})
    };
    for path in ["/platform-subscription-prod/graphql", "/graphql"] {
        let (status, body) =
            api(&platform, Method::POST, path, Some(&token), Some(&account), Some(check(&account))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"data": {"customerUniverse": [{"subscriber": {"tags": ["snowflake_managed"]}}]}}));
    }
    let other = platform.create_account("demo", "other").await;
    let (_, body) = api(&platform, Method::POST, "/graphql", Some(&token), None, Some(check(&other.id))).await;
    assert_eq!(body, json!({"data": {"customerUniverse": []}}), "not the caller's");
    let (_, body) = api(&platform, Method::POST, "/graphql", Some(&token), None, Some(check("no-such-account"))).await;
    assert_eq!(body, json!({"data": {"customerUniverse": []}}));
    let (_, body) =
        api(&platform, Method::POST, "/graphql", Some(&token), None, Some(json!({"query": "{ users { email } }"})))
            .await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("users"), "{body}");
    let (status, _) = api(&platform, Method::POST, "/graphql", None, None, Some(check(&account))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
