//! The keys of the store, parsed: which one signs at a given time, which
//! are published, and which are withdrawn (D03); and storing a new one,
//! its private half sealed with the master key (D04).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::ParsedPublicKey;
use komodo_protocol::oauth::Jwk;

use super::error::KeyError;
use super::material::{self, Signer};
use crate::clock::now;
use crate::config::SigningAlg;
use crate::crypto::{Secrets, random_token};
use crate::store::Store;
use crate::store::keys::SigningKeyRow;

/// A usable key.
pub struct LoadedKey {
    /// Key id.
    pub kid: String,
    /// Its one algorithm.
    pub alg: SigningAlg,
    pub(crate) signer: Signer,
    pub(crate) verifier: ParsedPublicKey,
    /// Its public JWK.
    pub jwk: Jwk,
    /// When it was created and published.
    pub created_at: i64,
    /// When it starts signing.
    pub active_from: i64,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("active_from", &self.active_from)
            .finish()
    }
}

/// A snapshot of all keys, oldest activation first.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<Arc<LoadedKey>>,
    pub(crate) loaded_at: Instant,
}

impl KeySet {
    /// The key that signs at `t`: the latest activated one.
    pub fn signing_key(&self, t: i64) -> Option<&Arc<LoadedKey>> {
        self.keys.iter().rev().find(|k| k.active_from <= t)
    }

    /// When key `index` stopped (or will stop) signing.
    fn retired_at(&self, index: usize) -> Option<i64> {
        self.keys.get(index + 1).map(|next| next.active_from)
    }

    /// Whether key `index` is still published at `t`: not retired longer
    /// ago than `max_token_lifetime`, so a token it signed may still be
    /// valid.
    fn is_published(&self, index: usize, t: i64, max_token_lifetime: Duration) -> bool {
        let max = max_token_lifetime.as_secs() as i64;
        self.retired_at(index).is_none_or(|retired| retired + max > t)
    }

    /// Keys to publish at `t`: all but those retired longer ago than
    /// `max_token_lifetime`.
    pub fn published(&self, t: i64, max_token_lifetime: Duration) -> Vec<&Arc<LoadedKey>> {
        (0..self.keys.len()).filter(|&i| self.is_published(i, t, max_token_lifetime)).map(|i| &self.keys[i]).collect()
    }

    /// Keys withdrawn at `t`: retired longer ago than `max_token_lifetime`,
    /// so every token they signed has expired and they may be deleted.
    pub fn withdrawn(&self, t: i64, max_token_lifetime: Duration) -> Vec<&Arc<LoadedKey>> {
        (0..self.keys.len()).filter(|&i| !self.is_published(i, t, max_token_lifetime)).map(|i| &self.keys[i]).collect()
    }

    /// A key by id.
    pub fn by_kid(&self, kid: &str) -> Option<&Arc<LoadedKey>> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// Reads and parses every key of the store.
pub(crate) async fn load(store: &Store, secrets: &Secrets) -> Result<KeySet, KeyError> {
    let rows = store.signing_keys().await?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let bad = |reason: String| KeyError::BadKey { kid: row.kid.clone(), reason };
        let jwk: Jwk =
            serde_json::from_str(&row.public_jwk).map_err(|_| bad("public JWK is not valid JSON".to_owned()))?;
        let private = secrets.open(&row.private_key, &row.kid)?;
        let (alg, signer, verifier) = material::parse(&row.alg, &jwk, &private).map_err(bad)?;
        keys.push(Arc::new(LoadedKey {
            kid: row.kid.clone(),
            alg,
            signer,
            verifier,
            jwk,
            created_at: row.created_at,
            active_from: row.active_from,
        }));
    }
    keys.sort_by(|a, b| a.active_from.cmp(&b.active_from).then_with(|| a.kid.cmp(&b.kid)));
    Ok(KeySet { keys, loaded_at: Instant::now() })
}

/// Generates a key for `alg` and stores it, published from now and signing
/// from `active_from`. Returns its `kid`.
pub(crate) async fn create_key(
    store: &Store,
    secrets: &Secrets,
    alg: SigningAlg,
    active_from: i64,
) -> Result<String, KeyError> {
    let kid = random_token::<12>();
    let generated = tokio::task::spawn_blocking(move || material::generate(alg))
        .await
        .map_err(|_| KeyError::Sign("key generation task failed".into()))??;
    let jwk = Jwk { kid: kid.clone(), alg: alg.as_str().to_owned(), use_: "sig".to_owned(), ..generated.public };
    let row = SigningKeyRow {
        kid: kid.clone(),
        alg: alg.as_str().to_owned(),
        private_key: secrets.seal(&generated.private_der, &kid)?,
        public_jwk: serde_json::to_string(&jwk).map_err(|e| KeyError::Sign(e.to_string()))?,
        created_at: now(),
        active_from,
    };
    store.insert_signing_key(&row).await?;
    tracing::info!(kid = %kid, alg = alg.as_str(), active_from, "created signing key");
    Ok(kid)
}
