//! Issued tokens verified against the published JWKS by two implementations
//! that share no code with the server's signer: the `jsonwebtoken` crate
//! (a widely used JWT library) and a minimal verifier written here.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use komodo_server::config::SigningAlg;
use komodo_testkit::Platform;
use serde_json::Value;

use crate::common::*;

fn b64d(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// Verifies `token` against `jwks` the way an unrelated resource server
/// would; returns the claims.
fn independent_verify(token: &str, jwks: &Value, issuer: &str, audience: &str) -> Result<Value, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err("not a JWS compact serialisation".into());
    }
    let header: Value = serde_json::from_slice(&b64d(parts[0])).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&b64d(parts[1])).map_err(|e| e.to_string())?;
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).ok_or("kid not in JWKS")?;
    if header["alg"] != jwk["alg"] {
        return Err("alg differs from the key's".into());
    }
    let message = format!("{}.{}", parts[0], parts[1]);
    let sig = b64d(parts[2]);
    match jwk["kty"].as_str() {
        Some("EC") => {
            let mut point = vec![4u8];
            point.extend(b64d(jwk["x"].as_str().unwrap()));
            point.extend(b64d(jwk["y"].as_str().unwrap()));
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message.as_bytes(), &sig)
                .map_err(|_| "bad EC signature")?;
        }
        Some("RSA") => {
            let key =
                RsaPublicKeyComponents { n: b64d(jwk["n"].as_str().unwrap()), e: b64d(jwk["e"].as_str().unwrap()) };
            key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, message.as_bytes(), &sig)
                .map_err(|_| "bad RSA signature")?;
        }
        _ => return Err("unknown key type".into()),
    }
    if header["typ"] != "at+jwt" {
        return Err("not an access token".into());
    }
    if claims["iss"] != issuer || claims["aud"] != audience {
        return Err("wrong issuer or audience".into());
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    if claims["exp"].as_i64().ok_or("no exp")? <= now {
        return Err("expired".into());
    }
    Ok(claims)
}

/// Verification with the `jsonwebtoken` crate.
fn with_jsonwebtoken(token: &str, jwks: &Value, issuer: &str, audience: &str) -> Result<Value, String> {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).map_err(|e| e.to_string())?;
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err("not an access token".into());
    }
    let jwk = set.find(header.kid.as_deref().ok_or("no kid")?).ok_or("kid not in JWKS")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).map(|data| data.claims).map_err(|e| e.to_string())
}

async fn check(alg: SigningAlg) {
    let platform = Platform::builder().config(move |c| c.signing_alg = alg).start().await;
    let ada = user(&platform, "ada@example.com").await;
    let account = platform.create_account("acme", "a").await;
    let sp = platform.create_service_principal(&account.slug, "etl").await;
    let jwks: Value =
        http().get(platform.url_for("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let user_token = login(&platform, &ada, "openid").await.access_token.expose_secret().to_owned();
    let sp_token = sp_token(&platform, &sp.client_id, sp.client_secret.expose_secret()).await;
    let claims = independent_verify(&user_token, &jwks, platform.issuer(), "komodo").unwrap();
    assert_eq!(claims["sub"], format!("user:{}", ada.id));
    let claims = independent_verify(&sp_token, &jwks, platform.issuer(), "komodo").unwrap();
    assert_eq!(claims["account_id"], account.id);
    for token in [&user_token, &sp_token] {
        let claims = with_jsonwebtoken(token, &jwks, platform.issuer(), "komodo").unwrap();
        assert!(claims["sub"].as_str().unwrap().contains(':'));
    }
    // And it does reject a tampered token.
    let mut parts: Vec<String> = sp_token.split('.').map(str::to_owned).collect();
    let mut forged: Value = serde_json::from_slice(&b64d(&parts[1])).unwrap();
    forged["account_id"] = Value::String("someone-else".into());
    parts[1] = b64(&forged);
    assert!(independent_verify(&parts.join("."), &jwks, platform.issuer(), "komodo").is_err());
    assert!(with_jsonwebtoken(&parts.join("."), &jwks, platform.issuer(), "komodo").is_err());
    assert!(with_jsonwebtoken(&sp_token, &jwks, platform.issuer(), "another-audience").is_err());
}

#[tokio::test]
async fn es256_tokens_verify_independently_against_the_jwks() {
    check(SigningAlg::Es256).await;
}

#[tokio::test]
async fn rs256_tokens_verify_independently_against_the_jwks() {
    check(SigningAlg::Rs256).await;
}
