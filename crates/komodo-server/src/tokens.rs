//! Minting access, refresh and ID tokens: the claims every token carries
//! (one audience, minimal scope: A10; `user:` and `sp:` subjects that
//! cannot collide: A11), signed by the key ring, and refresh tokens stored
//! only as hashes (S02). Shared by the token endpoint and the IAM API's
//! service principal token.

use komodo_protocol::oauth::{
    ACCESS_TOKEN_TYP, AccessTokenClaims, IdTokenClaims, SERVICE_PRINCIPAL_SUB_PREFIX, TokenResponse, USER_SUB_PREFIX,
};
use komodo_protocol::secret::{AccessToken, IdToken, RefreshToken};

use crate::clock::now;
use crate::config::Config;
use crate::crypto::{random_bytes, random_token, token_hash};
use crate::keys::KeyError;
use crate::keys::KeyRing;
use crate::store::iam::{ServicePrincipalRow, UserRow};
use crate::store::oauth::FamilyRow;
use crate::store::{Store, StoreError};

/// The scope every service principal token carries.
pub const SERVICE_PRINCIPAL_SCOPE: &str = "api";
/// The prefix of refresh tokens, for leak scanners.
pub const REFRESH_TOKEN_PREFIX: &str = "kmd_rt_";

/// Errors while minting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// Signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A fresh random `jti` (a UUID v4 from the process's CSPRNG, without a
/// system call per token).
fn new_jti() -> String {
    uuid::Builder::from_random_bytes(random_bytes::<16>()).into_uuid().to_string()
}

/// A user's `sub`.
pub fn user_sub(user_id: &str) -> String {
    format!("{USER_SUB_PREFIX}{user_id}")
}

/// A service principal's `sub`.
pub fn service_principal_sub(id: &str) -> String {
    format!("{SERVICE_PRINCIPAL_SUB_PREFIX}{id}")
}

/// What tokens are minted with: the key ring that signs them (and names
/// the issuer), the store that keeps refresh tokens, and the lifetimes and
/// audience of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Minter<'a> {
    keys: &'a KeyRing,
    store: &'a Store,
    config: &'a Config,
}

impl<'a> Minter<'a> {
    /// A minter over these parts.
    pub fn new(keys: &'a KeyRing, store: &'a Store, config: &'a Config) -> Self {
        Minter { keys, store, config }
    }

    /// An access token for a service principal, and its lifetime in seconds.
    pub async fn service_principal(&self, principal: &ServicePrincipalRow) -> Result<(AccessToken, u64), MintError> {
        let ttl = self.config.access_token_ttl.as_secs();
        let iat = now();
        let claims = AccessTokenClaims {
            iss: self.keys.issuer().to_owned(),
            sub: service_principal_sub(&principal.id),
            aud: self.config.audience.clone(),
            exp: iat + ttl as i64,
            iat,
            nbf: Some(iat),
            jti: new_jti(),
            client_id: principal.client_id.clone(),
            scope: SERVICE_PRINCIPAL_SCOPE.to_owned(),
            account_id: Some(principal.account_id.clone()),
            // The secret it was minted from: rotating the secret ends it.
            sid: principal.secret_id.clone(),
        };
        let token = self.keys.sign(ACCESS_TOKEN_TYP, &claims).await?;
        metrics::counter!("komodo_tokens_issued_total", "grant" => "client_credentials").increment(1);
        Ok((AccessToken::new(token), ttl))
    }

    /// Tokens for a user session (`family`): an access token, a new refresh
    /// token when `offline_access` was granted, and an ID token for `openid`.
    pub async fn user(
        &self,
        user: &UserRow,
        family: &FamilyRow,
        nonce: Option<String>,
        grant: &'static str,
    ) -> Result<TokenResponse, MintError> {
        let config = self.config;
        let scopes: Vec<&str> = family.scope.split_ascii_whitespace().collect();
        let iat = now();
        let ttl = config.access_token_ttl.as_secs();
        let claims = AccessTokenClaims {
            iss: self.keys.issuer().to_owned(),
            sub: user_sub(&user.id),
            aud: family.audience.clone().unwrap_or_else(|| config.audience.clone()),
            exp: iat + ttl as i64,
            iat,
            nbf: Some(iat),
            jti: new_jti(),
            client_id: family.client_id.clone(),
            scope: family.scope.clone(),
            account_id: None,
            sid: Some(family.id.clone()),
        };
        let access_token = AccessToken::new(self.keys.sign(ACCESS_TOKEN_TYP, &claims).await?);
        let refresh_token = if scopes.contains(&"offline_access") {
            let token = RefreshToken::new(format!("{REFRESH_TOKEN_PREFIX}{}", random_token::<32>()));
            let expires = iat + config.refresh_token_ttl.as_secs() as i64;
            self.store.insert_refresh_token(&token_hash(token.expose_secret()), &family.id, expires).await?;
            Some(token)
        } else {
            None
        };
        let id_token = if scopes.contains(&"openid") {
            let id_claims = IdTokenClaims {
                iss: self.keys.issuer().to_owned(),
                sub: user_sub(&user.id),
                aud: family.client_id.clone(),
                exp: iat + config.id_token_ttl.as_secs() as i64,
                iat,
                auth_time: family.auth_time,
                nonce,
                email: scopes.contains(&"email").then(|| user.email.clone()),
                name: if scopes.contains(&"profile") { user.name.clone() } else { None },
                sid: Some(family.id.clone()),
            };
            Some(IdToken::new(self.keys.sign("JWT", &id_claims).await?))
        } else {
            None
        };
        metrics::counter!("komodo_tokens_issued_total", "grant" => grant).increment(1);
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: ttl,
            refresh_token,
            id_token,
            scope: Some(family.scope.clone()),
        })
    }
}
