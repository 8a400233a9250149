//! The key ring: signing keys generated on aws-lc-rs, stored encrypted with
//! the master key (D04), published in the JWKS, rotated in stages (D03), and
//! used to sign and verify tokens with one algorithm per `kid` (D01).
//!
//! Signing and verification use aws-lc-rs directly on keys parsed once per
//! load ([`jws`], [`material`]): parsing a key costs about as much as a
//! signature, so doing it per token would halve throughput. The integration
//! tests verify every issued token with the `jsonwebtoken` crate against
//! the JWKS, as an independent implementation.
//!
//! Rotation: `rotate` stores a new key whose `active_from` lies
//! `key_publish_delay` in the future. From creation it is published; from
//! `active_from` it signs. The key before it stops signing at that moment
//! and stays published until every token it signed has expired; then it is
//! withdrawn, and [`KeyRing::delete_withdrawn`] deletes it from the store.

pub mod error;
pub mod jws;
pub mod material;
pub mod set;
pub mod verified;

use std::sync::Arc;
use std::time::Duration;

use komodo_protocol::oauth::{AccessTokenClaims, JwkSet};
use serde::Serialize;
use tokio::sync::{Mutex, RwLock};

pub use error::{KeyError, TokenError};
pub use set::{KeySet, LoadedKey};

use crate::clock::now;
use crate::config::SigningAlg;
use crate::crypto::Secrets;
use crate::store::Store;
use jws::Expected;
use set::{create_key, load};
use verified::Verified;

/// The key ring shared by all handlers of one replica.
pub struct KeyRing {
    store: Store,
    secrets: Arc<Secrets>,
    set: RwLock<Arc<KeySet>>,
    reload: Mutex<()>,
    refresh_every: Duration,
    max_token_lifetime: Duration,
    issuer: String,
    audiences: Vec<String>,
    leeway: u64,
    verified: Verified,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`KeyRing`].
#[derive(Debug, Clone)]
pub struct KeyRingSettings {
    /// How often to re-read keys from the store.
    pub refresh_every: Duration,
    /// How long a retired key stays published.
    pub max_token_lifetime: Duration,
    /// Expected `iss`.
    pub issuer: String,
    /// The audiences accepted in `aud` of access tokens; the first is the
    /// one tokens get when none was asked for.
    pub audiences: Vec<String>,
    /// Clock leeway in seconds.
    pub leeway: u64,
}

impl KeyRing {
    /// Loads the keys, creating a first key (active at once) if the store
    /// has none.
    pub async fn open(
        store: Store,
        secrets: Arc<Secrets>,
        alg: SigningAlg,
        settings: KeyRingSettings,
    ) -> Result<KeyRing, KeyError> {
        if store.signing_keys().await?.is_empty() {
            create_key(&store, &secrets, alg, now()).await?;
        }
        let set = load(&store, &secrets).await?;
        Ok(KeyRing {
            store,
            secrets,
            set: RwLock::new(Arc::new(set)),
            reload: Mutex::new(()),
            refresh_every: settings.refresh_every,
            max_token_lifetime: settings.max_token_lifetime,
            issuer: settings.issuer,
            audiences: settings.audiences,
            leeway: settings.leeway,
            verified: Verified::default(),
        })
    }

    /// The issuer this ring signs and verifies for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The default audience of access tokens.
    pub fn audience(&self) -> &str {
        self.audiences.first().map(String::as_str).unwrap_or_default()
    }

    /// Every audience accepted in access tokens.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The current key set, re-read from the store when stale.
    pub async fn keys(&self) -> Arc<KeySet> {
        let current = self.set.read().await.clone();
        if current.loaded_at.elapsed() < self.refresh_every {
            return current;
        }
        self.reload(false).await.unwrap_or(current)
    }

    /// Re-reads the keys; with `force`, even if another task just did (but
    /// at most once a second, so unknown `kid`s cannot hammer the store).
    async fn reload(&self, force: bool) -> Option<Arc<KeySet>> {
        let _guard = self.reload.lock().await;
        let current = self.set.read().await.clone();
        let min_age = if force { Duration::from_secs(1) } else { self.refresh_every };
        if current.loaded_at.elapsed() < min_age {
            return Some(current);
        }
        match load(&self.store, &self.secrets).await {
            Ok(set) => {
                let set = Arc::new(set);
                *self.set.write().await = set.clone();
                Some(set)
            }
            Err(error) => {
                tracing::warn!(%error, "could not reload signing keys; keeping the ones in memory");
                None
            }
        }
    }

    /// The public JWKS.
    pub async fn jwks(&self) -> JwkSet {
        let set = self.keys().await;
        JwkSet { keys: set.published(now(), self.max_token_lifetime).into_iter().map(|k| k.jwk.clone()).collect() }
    }

    /// Signs `claims` with the active key, with header `typ`.
    pub async fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let set = self.keys().await;
        let key = set.signing_key(now()).ok_or(KeyError::NoActiveKey)?;
        jws::sign(key, typ, claims)
    }

    /// The `kid` that signs right now.
    pub async fn active_kid(&self) -> Option<String> {
        self.keys().await.signing_key(now()).map(|k| k.kid.clone())
    }

    /// Verifies an access token: a known `kid`, that key's algorithm only,
    /// `typ: at+jwt`, no unknown critical header, the signature, `exp` and
    /// `nbf` with the configured leeway, `iss` and `aud`.
    ///
    /// This is the fast path every authenticated call takes, so it works on
    /// pre-parsed public keys, decodes each part once, and checks the
    /// signature of a given token once ([`verified`]).
    pub async fn verify_access_token(&self, token: &str) -> Result<AccessTokenClaims, TokenError> {
        let presented = jws::split(token)?;
        let kid = presented.header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let mut set = self.keys().await;
        if set.by_kid(kid).is_none() {
            set = self.reload(true).await.unwrap_or(set);
        }
        let key = set.by_kid(kid).ok_or(TokenError::UnknownKey)?;
        if presented.header.alg != key.jwk.alg {
            return Err(TokenError::Algorithm);
        }
        if !jws::is_access_token_type(presented.header.typ.as_deref()) {
            return Err(TokenError::Type);
        }
        // Only while its key is still in the set does a remembered token
        // skip the signature check.
        let digest = verified::digest(token);
        let remembered = self.verified.get(&digest);
        let fresh = remembered.is_none();
        let claims = match remembered {
            Some(claims) => claims,
            None => jws::verified_claims(key, &presented)?,
        };
        let t = now();
        let leeway = i64::try_from(self.leeway).unwrap_or(i64::MAX);
        Expected { issuer: &self.issuer, audiences: &self.audiences, leeway }.check(&claims, t)?;
        if fresh {
            self.verified.insert(digest, claims.clone(), t, leeway);
        }
        Ok(claims)
    }

    /// Verifies like [`KeyRing::verify_access_token`], always checking the
    /// signature (for benchmarks of the signature check itself).
    #[doc(hidden)]
    pub async fn verify_access_token_uncached(&self, token: &str) -> Result<AccessTokenClaims, TokenError> {
        self.verified.clear();
        self.verify_access_token(token).await
    }

    /// Starts a staged rotation: a new key published now that signs from
    /// `publish_delay` later (rounded up to the next whole second, so never
    /// earlier), and in any case after every key already stored: keys sign
    /// in the order of their activation, so a key activated in the same
    /// second as the one before it would not reliably take over. Returns
    /// its `kid` and activation time (epoch seconds).
    pub async fn rotate(
        store: &Store,
        secrets: &Secrets,
        alg: SigningAlg,
        publish_delay: Duration,
    ) -> Result<(String, i64), KeyError> {
        let round_up = i64::from(!publish_delay.is_zero());
        let earliest = now() + publish_delay.as_secs() as i64 + round_up;
        let latest = store.signing_keys().await?.iter().map(|k| k.active_from).max();
        let active_from = latest.map_or(earliest, |latest| earliest.max(latest + 1));
        let kid = create_key(store, secrets, alg, active_from).await?;
        Ok((kid, active_from))
    }

    /// Deletes from the store the keys withdrawn from the JWKS: retired
    /// longer ago than the longest a token lives (with the clock leeway),
    /// so that every token they signed has expired (D03). Reads the keys
    /// afresh from the store first. Returns the deleted `kid`s.
    pub async fn delete_withdrawn(&self) -> Result<Vec<String>, KeyError> {
        let set = load(&self.store, &self.secrets).await?;
        let withdrawn: Vec<String> =
            set.withdrawn(now(), self.max_token_lifetime).into_iter().map(|k| k.kid.clone()).collect();
        for kid in &withdrawn {
            self.store.delete_signing_key(kid).await?;
            tracing::info!(kid = %kid, "deleted a retired signing key: every token it signed has expired");
        }
        if !withdrawn.is_empty() {
            self.reload(true).await;
        }
        Ok(withdrawn)
    }
}
