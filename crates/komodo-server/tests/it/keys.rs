//! One test per SECURITY.md rule of tokens and keys (D) and secrets (S).

use std::time::Duration;

use aws_lc_rs::hmac;
use komodo_protocol::oauth::{AccessTokenClaims, CLI_CLIENT_ID};
use komodo_server::clock::now;
use komodo_testkit::{Platform, pkce};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn d01_alg_none_hmac_unknown_kid_and_wrong_key_type_rejected() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let good = login(&platform, &ada, "openid").await.access_token.expose_secret().to_owned();
    let header = jwt_part(&good, 0);
    let claims = jwt_part(&good, 1);
    let kid = header["kid"].as_str().unwrap();
    let jwks: serde_json::Value =
        http().get(platform.url_for("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap().clone();
    assert_eq!(jwk["alg"], "ES256", "each kid names its one algorithm");
    let hs = |alg: &str, kid: &str, secret: &[u8]| {
        let signing_input = format!("{}.{}", b64(&json!({"alg": alg, "typ": "at+jwt", "kid": kid})), b64(&claims));
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let sig = hmac::sign(&key, signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig.as_ref())
        )
    };
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})), b64(&claims));
    let parts: Vec<&str> = good.split('.').collect();
    let rs_header = format!("{}.{}.{}", b64(&json!({"alg": "RS256", "typ": "at+jwt", "kid": kid})), parts[1], parts[2]);
    let unknown_kid =
        format!("{}.{}.{}", b64(&json!({"alg": "ES256", "typ": "at+jwt", "kid": "not-a-key"})), parts[1], parts[2]);
    let no_kid = format!("{}.{}.{}", b64(&json!({"alg": "ES256", "typ": "at+jwt"})), parts[1], parts[2]);
    for (name, token) in [
        ("alg none", none),
        ("HS256 keyed with the public key", hs("HS256", kid, serde_json::to_string(&jwk).unwrap().as_bytes())),
        ("HS256 keyed with x", hs("HS256", kid, jwk["x"].as_str().unwrap().as_bytes())),
        ("RS256 header on an EC kid", rs_header),
        ("unknown kid", unknown_kid),
        ("no kid", no_kid),
    ] {
        let (status, body) = api(&platform, Method::GET, "/v1/iam/identity", Some(&token), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
    }
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&good), None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn d02_expired_immature_wrong_issuer_audience_and_type_rejected() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let good = login(&platform, &ada, "openid").await.access_token.expose_secret().to_owned();
    let base: AccessTokenClaims = serde_json::from_value(jwt_part(&good, 1)).unwrap();
    let keys = platform.state().keys();
    let leeway = platform.state().config().clock_leeway.as_secs() as i64;
    let t = now();
    let cases: Vec<(&str, &str, AccessTokenClaims, StatusCode)> = vec![
        ("expired", "at+jwt", AccessTokenClaims { exp: t - leeway - 60, ..base.clone() }, StatusCode::UNAUTHORIZED),
        (
            "not yet valid",
            "at+jwt",
            AccessTokenClaims { nbf: Some(t + leeway + 60), ..base.clone() },
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong issuer",
            "at+jwt",
            AccessTokenClaims { iss: "http://evil.example".into(), ..base.clone() },
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong audience",
            "at+jwt",
            AccessTokenClaims { aud: "other".into(), ..base.clone() },
            StatusCode::UNAUTHORIZED,
        ),
        ("ID token type", "JWT", base.clone(), StatusCode::UNAUTHORIZED),
        ("within the leeway", "at+jwt", AccessTokenClaims { exp: t - leeway / 2, ..base.clone() }, StatusCode::OK),
    ];
    for (name, typ, claims, expected) in cases {
        let token = keys.sign(typ, &claims).await.unwrap();
        let (status, body) = api(&platform, Method::GET, "/v1/iam/identity", Some(&token), None, None).await;
        assert_eq!(status, expected, "{name}: {body}");
    }
    // An ID token is not an access token.
    let tokens = login(&platform, &ada, "openid").await;
    let (status, _) =
        api(&platform, Method::GET, "/v1/iam/identity", Some(tokens.id_token.unwrap().expose_secret()), None, None)
            .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn jwks_kids(platform: &Platform) -> Vec<String> {
    let jwks: serde_json::Value =
        http().get(platform.url_for("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn d03_key_rotation_is_staged() {
    let platform = Platform::builder()
        .config(|c| {
            c.key_publish_delay = Duration::from_secs(2);
            c.access_token_ttl = Duration::from_secs(4);
            c.id_token_ttl = Duration::from_secs(4);
            c.clock_leeway = Duration::ZERO;
        })
        .start()
        .await;
    let account = platform.create_account("acme", "a").await;
    let sp = platform.create_service_principal(&account.slug, "etl").await;
    let mint = || sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret());
    let old_kid = jwt_part(&mint().await, 0)["kid"].as_str().unwrap().to_owned();
    let (new_kid, _) = platform.admin().rotate_keys().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // key cache refresh
    // Published before it signs.
    let kids = jwks_kids(&platform).await;
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "{kids:?}");
    let during = mint().await;
    assert_eq!(jwt_part(&during, 0)["kid"], old_kid.as_str());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Now the new key signs; the retired key stays published while its
    // tokens can be valid, and they still verify.
    let after = mint().await;
    assert_eq!(jwt_part(&after, 0)["kid"], new_kid.as_str());
    assert!(jwks_kids(&platform).await.contains(&old_kid));
    let (status, _) = api(&platform, Method::GET, "/v1/iam/identity", Some(&during), None, None).await;
    assert_eq!(status, StatusCode::OK);
    // Once every token it signed has expired, it is withdrawn.
    tokio::time::sleep(Duration::from_millis(5000)).await;
    assert_eq!(jwks_kids(&platform).await, vec![new_kid]);
}

/// D03's end: a retired key is deleted from the store once every token it
/// signed has expired, and not a moment before.
#[tokio::test]
async fn d03_retired_keys_are_deleted_once_every_token_they_signed_has_expired() {
    let lifetime = Duration::from_secs(4);
    let platform = Platform::builder()
        .config(move |c| {
            c.key_publish_delay = Duration::ZERO;
            c.access_token_ttl = lifetime;
            c.id_token_ttl = lifetime;
            c.clock_leeway = Duration::ZERO;
        })
        .start()
        .await;
    let keys = platform.state().keys();
    let stored = || async {
        platform.state().store().signing_keys().await.unwrap().into_iter().map(|k| k.kid).collect::<Vec<_>>()
    };
    let old_kid = keys.active_kid().await.unwrap();
    let ada = user(&platform, "ada@example.com").await;
    let token = login(&platform, &ada, "openid").await.access_token.expose_secret().to_owned();
    assert_eq!(jwt_part(&token, 0)["kid"], old_kid.as_str());
    // Rotated without a publish delay, in the very second the first key
    // was activated: the new key still activates after it.
    let (new_kid, active_from) = platform.admin().rotate_keys().await.unwrap();
    let first = platform.state().store().signing_keys().await.unwrap();
    assert!(first.iter().all(|k| k.kid == new_kid || k.active_from < active_from), "{first:?}");
    let retired = std::time::Instant::now();
    // Retired, but a token it signed may still be valid: it stays.
    assert_eq!(keys.delete_withdrawn().await.unwrap(), Vec::<String>::new());
    assert!(stored().await.contains(&old_kid));
    assert!(retired.elapsed() < lifetime, "the checks above ran while its tokens could be valid");
    // Every token it signed has expired: deleted, and only it.
    tokio::time::sleep(lifetime + Duration::from_millis(2100)).await;
    assert_eq!(keys.delete_withdrawn().await.unwrap(), vec![old_kid.clone()]);
    assert_eq!(stored().await, vec![new_kid.clone()]);
    assert_eq!(keys.delete_withdrawn().await.unwrap(), Vec::<String>::new());
    assert_eq!(jwks_kids(&platform).await, vec![new_kid.clone()]);
    // The new key signs on.
    let fresh = login(&platform, &ada, "openid").await.access_token.expose_secret().to_owned();
    assert_eq!(jwt_part(&fresh, 0)["kid"], new_kid.as_str());
}

#[tokio::test]
async fn d04_private_keys_encrypted_at_rest_master_key_never_in_database() {
    let platform = Platform::start().await;
    let key_path = platform.data_dir().join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let master_b64 = std::fs::read_to_string(&key_path).unwrap().trim().to_owned();
    let master = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &master_b64).unwrap();
    let rows = platform.state().store().signing_keys().await.unwrap();
    assert!(!rows.is_empty());
    for row in &rows {
        let sealed = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &row.private_key).unwrap();
        // Not a DER private key: a 12-byte nonce, then ciphertext and tag.
        assert!(sealed.len() > 12 + 16);
        assert!(!row.private_key.contains("PRIVATE KEY"));
        assert!(!format!("{row:?}").contains(&row.private_key), "Debug hides the ciphertext too");
    }
    let mut db = Vec::new();
    for name in ["komodo.db", "komodo.db-wal"] {
        if let Ok(bytes) = std::fs::read(platform.data_dir().join(name)) {
            db.extend(bytes);
        }
    }
    assert!(!db.windows(master_b64.len()).any(|w| w == master_b64.as_bytes()));
    assert!(!db.windows(master.len()).any(|w| w == master.as_slice()));
    // Without the original master key the store cannot be opened.
    std::fs::remove_file(&key_path).unwrap();
    let mut config = komodo_testkit::test_config(platform.data_dir());
    config.bootstrap = false;
    let err = komodo_server::Server::bind(config).await.unwrap_err();
    assert!(err.to_string().contains("master key"), "{err}");
    assert!(!err.to_string().contains(&master_b64));
}

/// HMAC-SHA256 (RFC 2104) from SHA-256 alone, so that S01 does not check
/// the product's keyed hash with the product's own HMAC.
fn hmac_sha256_by_hand(key: &[u8], message: &[u8]) -> [u8; 32] {
    let sha256 = |parts: &[&[u8]]| {
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in parts {
            context.update(part);
        }
        let digest = context.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    };
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&sha256(&[key]));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = sha256(&[&inner_pad, message]);
    sha256(&[&outer_pad, &inner])
}

#[test]
fn hmac_by_hand_matches_rfc_4231() {
    // Test cases 1 and 6 of RFC 4231 (a short key, a key longer than a block).
    assert_eq!(
        hex::encode(hmac_sha256_by_hand(&[0x0b; 20], b"Hi There")),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
    assert_eq!(
        hex::encode(hmac_sha256_by_hand(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

#[tokio::test]
async fn s01_service_principal_secrets_prefixed_random_shown_once_keyed_hash() {
    let platform = Platform::start().await;
    let account = platform.create_account("acme", "a").await;
    let sp = platform.create_service_principal(&account.slug, "etl").await;
    let secret = sp.client_secret.expose_secret().to_owned();
    let random = secret.strip_prefix("kmd_sp_").expect("recognisable prefix");
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, random).unwrap();
    assert_eq!(bytes.len(), 32, "256 bits of randomness");
    let other = platform.create_service_principal(&account.slug, "etl2").await;
    assert_ne!(other.client_secret, sp.client_secret);
    let (stored,): (String,) = sqlx::query_as("SELECT secret_hash FROM service_principals WHERE id = $1")
        .bind(&sp.service_principal_id)
        .fetch_one(platform.state().store().pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 64, "hex HMAC-SHA256");
    assert_ne!(stored, komodo_server::crypto::token_hash(&secret), "keyed, not a plain hash");
    // Computed here from the master key file, independently of the
    // product's code: the pepper is HMAC-SHA256(master key,
    // "komodo/secret-pepper/v1"), the stored hash HMAC-SHA256(pepper, secret).
    let master_b64 = std::fs::read_to_string(platform.data_dir().join("master.key")).unwrap();
    let master = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, master_b64.trim()).unwrap();
    let pepper = hmac_sha256_by_hand(&master, b"komodo/secret-pepper/v1");
    assert_eq!(stored, hex::encode(hmac_sha256_by_hand(&pepper, secret.as_bytes())), "HMAC-SHA256 with the pepper");
    assert!(platform.state().secrets().verify_client_secret(&secret, &stored));
    // Never shown again: listing and identity carry no secret.
    let admin = user(&platform, "admin@example.com").await;
    platform.add_member(&account.slug, &admin.email, komodo_protocol::iam::Role::Admin).await;
    let token = login(&platform, &admin, "openid").await.access_token.expose_secret().to_owned();
    let (_, list) =
        api(&platform, Method::GET, "/internal/service-principals", Some(&token), Some(&account.id), None).await;
    assert!(!list.to_string().contains(&secret) && !list.to_string().contains("client_secret"));
    // A near-miss secret is refused.
    let mut near = secret.clone();
    near.pop();
    near.push(if secret.ends_with('A') { 'B' } else { 'A' });
    let (status, _) = client_credentials(&platform, &sp.client_id, &near).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn s02_codes_refresh_tokens_and_device_codes_stored_hashed() {
    let platform = Platform::start().await;
    let ada = user(&platform, "ada@example.com").await;
    let pair = pkce::Pair::new();
    let code = authorize_code(&platform, &ada, "openid offline_access", &pair).await;
    let (_, tokens) = exchange_code(&platform, &code, &pair.verifier).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let device: serde_json::Value = http()
        .post(platform.url_for("/oauth/device/code"))
        .form(&[("client_id", CLI_CLIENT_ID), ("scope", "openid")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_code = device["device_code"].as_str().unwrap().to_owned();
    let pool = platform.state().store().pool();
    let mut stored = String::new();
    for sql in [
        "SELECT code_hash FROM auth_codes",
        "SELECT token_hash FROM refresh_tokens",
        "SELECT device_hash FROM device_codes",
    ] {
        let values: Vec<String> = sqlx::query_scalar(sql).fetch_all(pool).await.unwrap();
        stored.push_str(&values.join(","));
    }
    for secret in [&code, &refresh_token, &device_code] {
        assert!(!stored.contains(secret.as_str()));
        assert!(stored.contains(&komodo_server::crypto::token_hash(secret)));
    }
    let mut db = Vec::new();
    for name in ["komodo.db", "komodo.db-wal"] {
        if let Ok(bytes) = std::fs::read(platform.data_dir().join(name)) {
            db.extend(bytes);
        }
    }
    for secret in [&code, &refresh_token, &device_code] {
        assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()), "raw value in the database file");
    }
}
