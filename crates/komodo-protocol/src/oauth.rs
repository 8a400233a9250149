//! OAuth 2.0 / OpenID Connect wire types (RFC 6749, 7009, 7662, 8414, 8628,
//! 9068 and OpenID Connect Core), with the field names of `PROTOCOL.md`.
//!
//! Every type is both `Serialize` and `Deserialize`: the platform writes
//! them, the SDK reads them, and tests construct them directly.

use serde::{Deserialize, Serialize};

use crate::secret::{AccessToken, DeviceCode, IdToken, RefreshToken};

/// The `grant_type` of the authorization code grant.
pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
/// The `grant_type` of the refresh token grant.
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
/// The `grant_type` of the client credentials grant.
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// The `grant_type` of the device authorization grant (RFC 8628).
pub const GRANT_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The JOSE `typ` of an access token (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// The registered id of the `komodo` CLI's public client.
pub const CLI_CLIENT_ID: &str = "komodo-cli";
/// The prefix of every user `sub` (`user:<uuid>`).
pub const USER_SUB_PREFIX: &str = "user:";
/// The prefix of every service principal `sub` (`sp:<uuid>`).
pub const SERVICE_PRINCIPAL_SUB_PREFIX: &str = "sp:";

/// A successful token endpoint response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token, a JWT.
    pub access_token: AccessToken,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    /// A refresh token, when `offline_access` was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<RefreshToken>,
    /// An OpenID Connect ID token, when `openid` was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<IdToken>,
    /// The granted scope, space separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// An OAuth error response body (RFC 6749 §5.2, RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error code: `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `authorization_pending`, `slow_down`, `access_denied`,
    /// `expired_token`, ...
    pub error: String,
    /// A human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceAuthorizationResponse {
    /// The device verification code, polled for at the token endpoint.
    pub device_code: DeviceCode,
    /// The code the user types on the verification page (two groups of four letters, such as `BCDF-GHJK`).
    pub user_code: String,
    /// The verification page.
    pub verification_uri: String,
    /// The verification page with the user code filled in.
    pub verification_uri_complete: String,
    /// Lifetime of the codes in seconds.
    pub expires_in: u64,
    /// Minimum seconds between two polls.
    pub interval: u64,
}

/// The OpenID Connect discovery / RFC 8414 metadata document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryDocument {
    /// The issuer identifier (`iss` of every token).
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The device authorization endpoint.
    pub device_authorization_endpoint: String,
    /// The revocation endpoint.
    pub revocation_endpoint: String,
    /// The introspection endpoint.
    pub introspection_endpoint: String,
    /// The userinfo endpoint.
    pub userinfo_endpoint: String,
    /// The JWKS document.
    pub jwks_uri: String,
    /// Supported scopes.
    pub scopes_supported: Vec<String>,
    /// Supported response types (only `code`).
    pub response_types_supported: Vec<String>,
    /// Supported grant types.
    pub grant_types_supported: Vec<String>,
    /// Supported PKCE methods (only `S256`).
    pub code_challenge_methods_supported: Vec<String>,
    /// Client authentication methods at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Subject identifier types.
    pub subject_types_supported: Vec<String>,
    /// Algorithms used to sign ID tokens.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Whether the authorization response carries `iss` (RFC 9207).
    pub authorization_response_iss_parameter_supported: bool,
    /// The client id of the `komodo` CLI's public client.
    pub komodo_cli_client_id: String,
}

/// A JSON Web Key Set (RFC 7517) holding the platform's public keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// One public signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC` or `RSA`.
    pub kty: String,
    /// Key id, unique across rotations.
    pub kid: String,
    /// The one algorithm this key signs with: `ES256` or `RS256`.
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// EC curve (`P-256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// The claims of a platform access token (RFC 9068).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: `user:<uuid>` or `sp:<uuid>`.
    pub sub: String,
    /// The single audience.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique token id.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scope, space separated.
    pub scope: String,
    /// For a service principal: the one account it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// For a user login: the session (refresh-token family) id. For a
    /// service principal: the id of the secret the token was minted from
    /// (not the secret), which a rotation of the secret retires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// The claims of an OpenID Connect ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject (`user:<uuid>`).
    pub sub: String,
    /// The client id.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// When the user authenticated, seconds since the epoch.
    pub auth_time: i64,
    /// The `nonce` of the authorization request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The user's email (scope `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's display name (scope `profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// An introspection response (RFC 7662 §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    /// Whether the token is currently active.
    pub active: bool,
    /// Granted scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The account of a service principal token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// The OpenID Connect userinfo response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Subject (`user:<uuid>`).
    pub sub: String,
    /// Email address (scope `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the address was verified by the platform operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Display name (scope `profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_round_trips_and_redacts() {
        let json = r#"{"access_token":"a.b.c","token_type":"Bearer","expires_in":900,"refresh_token":"r1"}"#;
        let parsed: TokenResponse = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.access_token.expose_secret(), "a.b.c");
        assert!(parsed.id_token.is_none());
        let debug = format!("{parsed:?}");
        assert!(!debug.contains("a.b.c") && !debug.contains("r1"), "{debug}");
        let back: TokenResponse = serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(back, parsed);
    }

    #[test]
    fn jwk_use_field_is_named_use() {
        let jwk = Jwk {
            kty: "EC".into(),
            kid: "k1".into(),
            alg: "ES256".into(),
            use_: "sig".into(),
            crv: Some("P-256".into()),
            x: Some("x".into()),
            y: Some("y".into()),
            n: None,
            e: None,
        };
        let value = serde_json::to_value(&jwk).unwrap();
        assert_eq!(value["use"], "sig");
        assert!(value.get("n").is_none());
    }
}
