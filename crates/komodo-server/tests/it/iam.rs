//! The IAM API and the tenancy rules T01-T03.

use komodo_protocol::iam::Role;
use komodo_testkit::{Platform, TestAccount};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

struct World {
    platform: Platform,
    a: TestAccount,
    b: TestAccount,
    admin_a: String,
    member_a: String,
    admin_b: String,
    sp_a: String,
    sp_a_id: String,
    sp_a_credentials: (String, String),
    sp_b_id: String,
}

async fn world() -> World {
    let platform = Platform::start().await;
    let a = platform.create_account("org-a", "account-a").await;
    let b = platform.create_account("org-b", "account-b").await;
    let admin_a = user(&platform, "admin-a@example.com").await;
    let member_a = user(&platform, "member-a@example.com").await;
    let admin_b = user(&platform, "admin-b@example.com").await;
    platform.add_member(&a.slug, &admin_a.email, Role::Admin).await;
    platform.add_member(&a.slug, &member_a.email, Role::Member).await;
    platform.add_member(&b.id, &admin_b.email, Role::Admin).await;
    let sp_a = platform.create_service_principal(&a.slug, "sp-a").await;
    let sp_b = platform.create_service_principal(&b.slug, "sp-b").await;
    let mut user_tokens = Vec::new();
    for u in [&admin_a, &member_a, &admin_b] {
        user_tokens.push(login(&platform, u, "openid").await.access_token.expose_secret().to_owned());
    }
    let [admin_a_t, member_a_t, admin_b_t]: [String; 3] = user_tokens.try_into().unwrap();
    let sp_a_t = sp_token(&platform, &sp_a.client_id, sp_a.client_secret.expose_secret()).await;
    World {
        a,
        b,
        admin_a: admin_a_t,
        member_a: member_a_t,
        admin_b: admin_b_t,
        sp_a: sp_a_t,
        sp_a_credentials: (sp_a.client_id.clone(), sp_a.client_secret.expose_secret().to_owned()),
        sp_a_id: sp_a.service_principal_id,
        sp_b_id: sp_b.service_principal_id,
        platform,
    }
}

fn account_ids(me: &Value) -> Vec<String> {
    me["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["accounts"].as_array().unwrap().iter().map(|a| a["account_id"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn users_me_lists_organizations_accounts_and_roles() {
    let w = world().await;
    let (status, me) =
        api(&w.platform, Method::GET, "/v1/iam/users/me?expand=organizations.accounts", Some(&w.admin_a), None, None)
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "admin-a@example.com");
    let org = &me["organizations"][0];
    assert_eq!(org["slug"], "org-a");
    assert!(org["organization_id"].is_string() && org["name"].is_string());
    let account = &org["accounts"][0];
    assert_eq!(account["account_id"], w.a.id);
    assert_eq!(account["slug"], "account-a");
    assert_eq!(account["role"], "admin");
    let (_, me) = api(&w.platform, Method::GET, "/v1/iam/users/me", Some(&w.member_a), None, None).await;
    assert_eq!(me["organizations"][0]["accounts"][0]["role"], "member");
    let (status, body) = api(&w.platform, Method::GET, "/v1/iam/users/me", None, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
}

#[tokio::test]
async fn t01_tenancy_matrix_over_every_iam_endpoint() {
    let w = world().await;
    let p = &w.platform;
    let (a, b) = (w.a.id.as_str(), w.b.id.as_str());

    // users/me: each user sees exactly their own accounts; a principal is not a user.
    for (token, expected) in [(&w.admin_a, vec![a]), (&w.member_a, vec![a]), (&w.admin_b, vec![b])] {
        let (status, me) =
            api(p, Method::GET, "/v1/iam/users/me?expand=organizations.accounts", Some(token), None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(account_ids(&me), expected);
    }
    let (status, _) = api(p, Method::GET, "/v1/iam/users/me", Some(&w.sp_a), None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // identity: everyone sees only themselves; the principal names its account.
    let (_, id) = api(p, Method::GET, "/v1/iam/identity", Some(&w.sp_a), Some(b), None).await;
    assert_eq!(id["jwt_type"], "service_principal");
    assert_eq!(id["service_principal"]["account_id"], a);
    let (_, id) = api(p, Method::GET, "/v1/iam/identity", Some(&w.admin_b), Some(a), None).await;
    assert_eq!(id["jwt_type"], "user");
    assert_eq!(id["user"]["email"], "admin-b@example.com");

    // The service-principal endpoints: (identity, account) -> expected status.
    let identities = [("admin_a", &w.admin_a), ("member_a", &w.member_a), ("admin_b", &w.admin_b), ("sp_a", &w.sp_a)];
    let allowed = |who: &str, account: &str| (who == "admin_a" && account == a) || (who == "admin_b" && account == b);
    for (who, token) in identities {
        for account in [a, b] {
            let expect = if allowed(who, account) { StatusCode::OK } else { StatusCode::FORBIDDEN };
            let (status, list) =
                api(p, Method::GET, "/internal/service-principals", Some(token), Some(account), None).await;
            assert_eq!(status, expect, "list {who} on {account}: {list}");
            if status == StatusCode::OK {
                let ids: Vec<&Value> =
                    list["service_principals"].as_array().unwrap().iter().map(|s| &s["account_id"]).collect();
                assert!(ids.iter().all(|id| *id == account), "{who} sees only {account}");
            }
            let (status, created) = api(
                p,
                Method::POST,
                "/internal/service-principals",
                Some(token),
                Some(account),
                Some(json!({"name": "x", "description": "d"})),
            )
            .await;
            let expect_create = if allowed(who, account) { StatusCode::CREATED } else { StatusCode::FORBIDDEN };
            assert_eq!(status, expect_create, "create {who} on {account}: {created}");
            if status == StatusCode::CREATED {
                assert_eq!(created["account_id"], account);
            }
            // Rotating or deleting the other account's principal through
            // one's own account finds nothing; through the other account is forbidden.
            let foreign = if account == a { &w.sp_b_id } else { &w.sp_a_id };
            let expect_foreign = if allowed(who, account) { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
            let (status, _) = api(
                p,
                Method::POST,
                &format!("/internal/service-principals/{foreign}/rotate-secret"),
                Some(token),
                Some(account),
                None,
            )
            .await;
            assert_eq!(status, expect_foreign, "rotate foreign {who} on {account}");
            let (status, _) = api(
                p,
                Method::DELETE,
                &format!("/internal/service-principals/{foreign}"),
                Some(token),
                Some(account),
                None,
            )
            .await;
            assert_eq!(status, expect_foreign, "delete foreign {who} on {account}");
        }
    }
    // An unknown account looks like a foreign one.
    let (status, _) = api(
        p,
        Method::GET,
        "/internal/service-principals",
        Some(&w.admin_a),
        Some("00000000-0000-0000-0000-000000000000"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api(p, Method::GET, "/internal/service-principals", Some(&w.admin_a), None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Both principals survived every foreign attempt.
    let (_, list) = api(p, Method::GET, "/internal/service-principals", Some(&w.admin_b), Some(b), None).await;
    assert!(
        list["service_principals"].as_array().unwrap().iter().any(|s| s["service_principal_id"] == w.sp_b_id.as_str())
    );
    let (status, _) = api(p, Method::GET, "/v1/iam/identity", Some(&w.sp_a), None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn t02_service_principal_acts_only_on_its_account_and_deletion_stops_tokens_at_once() {
    let w = world().await;
    let p = &w.platform;
    let claims = jwt_part(&w.sp_a, 1);
    assert_eq!(claims["account_id"], w.a.id);
    for account in [&w.a.id, &w.b.id] {
        let (status, _) = api(p, Method::GET, "/internal/service-principals", Some(&w.sp_a), Some(account), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = api(
        p,
        Method::DELETE,
        &format!("/internal/service-principals/{}", w.sp_a_id),
        Some(&w.admin_a),
        Some(&w.a.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api(p, Method::GET, "/v1/iam/identity", Some(&w.sp_a), None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Nor does it get new ones (its secret was in the replica's cache).
    let (client_id, secret) = &w.sp_a_credentials;
    let (status, body) = client_credentials(p, client_id, secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = api(
        p,
        Method::DELETE,
        &format!("/internal/service-principals/{}", w.sp_a_id),
        Some(&w.admin_a),
        Some(&w.a.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn t03_only_account_admins_manage_service_principals() {
    let w = world().await;
    let p = &w.platform;
    let a = w.a.id.as_str();
    let rotate = format!("/internal/service-principals/{}/rotate-secret", w.sp_a_id);
    let delete = format!("/internal/service-principals/{}", w.sp_a_id);
    for token in [&w.member_a, &w.sp_a, &w.admin_b] {
        for (method, path, body) in [
            (Method::POST, "/internal/service-principals", Some(json!({"name": "n"}))),
            (Method::GET, "/internal/service-principals", None),
            (Method::POST, rotate.as_str(), None),
            (Method::DELETE, delete.as_str(), None),
        ] {
            let (status, err) = api(p, method.clone(), path, Some(token), Some(a), body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
            assert_eq!(err["error"], "forbidden");
        }
    }
    // The admin can do all four, and rotation replaces the secret at once.
    let (status, created) = api(
        p,
        Method::POST,
        "/internal/service-principals",
        Some(&w.admin_a),
        Some(a),
        Some(json!({"name": "ci", "description": "CI"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (client_id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
    assert!(secret.starts_with("kmd_sp_"));
    let id = created["service_principal_id"].as_str().unwrap();
    // Used once, so that the replica holds it in its cache when it rotates.
    assert_eq!(client_credentials(p, client_id, secret).await.0, StatusCode::OK);
    let (status, rotated) = api(
        p,
        Method::POST,
        &format!("/internal/service-principals/{id}/rotate-secret"),
        Some(&w.admin_a),
        Some(a),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(client_credentials(p, client_id, secret).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(client_credentials(p, client_id, new_secret).await.0, StatusCode::OK);
    let (status, _) =
        api(p, Method::POST, "/internal/service-principals", Some(&w.admin_a), Some(a), Some(json!({"name": " "})))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn account_access_is_membership_or_own_account() {
    use komodo_server::identity::access::{AccessError, account_access};
    use komodo_server::identity::authenticate;
    let w = world().await;
    let state = w.platform.state();
    let principal = |token: &str| {
        let token = token.to_owned();
        async move { authenticate(state.keys(), state.store(), &token).await.unwrap() }
    };
    let cases = [
        (&w.admin_a, &w.a.id, Some(Some(Role::Admin))),
        (&w.member_a, &w.a.id, Some(Some(Role::Member))),
        (&w.member_a, &w.b.id, None),
        (&w.admin_b, &w.a.id, None),
        (&w.sp_a, &w.a.id, Some(None)),
        (&w.sp_a, &w.b.id, None),
    ];
    for (token, account, expected) in cases {
        let who = principal(token).await;
        let got = account_access(state.store(), &who, account).await;
        match expected {
            Some(role) => assert_eq!(got.unwrap().role, role),
            None => assert!(matches!(got.unwrap_err(), AccessError::NoAccess)),
        }
    }
}
