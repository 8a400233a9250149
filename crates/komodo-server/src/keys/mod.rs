//! The key ring: signing keys generated on aws-lc-rs, stored encrypted with
//! the master key, published in the JWKS, rotated in stages (D03), and used
//! to sign and verify tokens with one algorithm per `kid` (D01).
//!
//! Signing and verification use aws-lc-rs directly on keys parsed once per
//! load (compact JWS, RFC 7515): parsing a key costs about as much as a
//! signature, so doing it per token would halve throughput. The integration
//! tests verify every issued token with the `jsonwebtoken` crate against
//! the JWKS, as an independent implementation.
//!
//! Rotation: `rotate` stores a new key whose `active_from` lies
//! `key_publish_delay` in the future. From creation it is published; from
//! `active_from` it signs. The key before it stops signing at that moment
//! and stays published until every token it signed has expired.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use komodo_protocol::oauth::{ACCESS_TOKEN_TYP, AccessTokenClaims, Jwk, JwkSet};
use serde::Deserialize;
use serde::Serialize;
use tokio::sync::{Mutex, RwLock};
use zeroize::Zeroizing;

use crate::clock::now;
use crate::config::SigningAlg;
use crate::crypto::{CryptoError, Secrets, random_token};
use crate::store::keys::SigningKeyRow;
use crate::store::{Store, StoreError};

/// Errors of the key ring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Encryption or key generation failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A stored key could not be used.
    #[error("signing key {kid} is unusable: {reason}")]
    BadKey {
        /// The key.
        kid: String,
        /// Why.
        reason: String,
    },
    /// There is no key that may sign now.
    #[error("no active signing key; run `komodo-server admin rotate-keys`")]
    NoActiveKey,
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Why a presented token was rejected. Deliberately coarse: the messages go
/// back to callers and never contain the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a well-formed JWS (or longer than any token this issuer signs).
    #[error("the token is malformed")]
    Malformed,
    /// The `kid` is missing or not one of ours.
    #[error("the token was not signed by a key of this issuer")]
    UnknownKey,
    /// `alg` is not the algorithm of that `kid`.
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    /// `typ` is not `at+jwt`.
    #[error("the token is not an access token")]
    Type,
    /// The signature does not verify with the key the token names.
    #[error("the token is invalid: bad signature")]
    Signature,
    /// The signed claims are not those of an access token.
    #[error("the token is invalid: missing or malformed claims")]
    Claims,
    /// `exp` has passed (beyond the clock leeway).
    #[error("the token is invalid: expired")]
    Expired,
    /// `nbf` or `iat` lies in the future (beyond the clock leeway).
    #[error("the token is invalid: not yet valid")]
    NotYetValid,
    /// `iss` is not this platform.
    #[error("the token is invalid: wrong issuer")]
    Issuer,
    /// `aud` is not this platform's audience.
    #[error("the token is invalid: wrong audience")]
    Audience,
}

/// A usable key.
pub struct LoadedKey {
    /// Key id.
    pub kid: String,
    /// Its one algorithm.
    pub alg: SigningAlg,
    signer: Signer,
    verifier: ParsedPublicKey,
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

/// A snapshot of all keys.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<Arc<LoadedKey>>,
    loaded_at: Instant,
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

    /// Keys to publish at `t`: all but those retired longer ago than
    /// `max_token_lifetime`.
    pub fn published(&self, t: i64, max_token_lifetime: Duration) -> Vec<&Arc<LoadedKey>> {
        let max = max_token_lifetime.as_secs() as i64;
        (0..self.keys.len())
            .filter(|&i| self.retired_at(i).is_none_or(|retired| retired + max > t))
            .map(|i| &self.keys[i])
            .collect()
    }

    /// A key by id.
    pub fn by_kid(&self, kid: &str) -> Option<&Arc<LoadedKey>> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// The key ring shared by all handlers of one replica.
pub struct KeyRing {
    store: Store,
    secrets: Arc<Secrets>,
    set: RwLock<Arc<KeySet>>,
    reload: Mutex<()>,
    refresh_every: Duration,
    max_token_lifetime: Duration,
    issuer: String,
    audience: String,
    leeway: u64,
    verified: std::sync::Mutex<HashMap<[u8; 32], AccessTokenClaims>>,
}

/// Tokens whose signature [`KeyRing::verify_access_token`] remembers: a
/// client presents the same access token on every call for its lifetime,
/// and checking an ES256 signature costs far more than everything else.
const VERIFIED_TOKENS: usize = 16_384;

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
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
    /// Expected `aud` of access tokens.
    pub audience: String,
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
            audience: settings.audience,
            leeway: settings.leeway,
            verified: std::sync::Mutex::default(),
        })
    }

    /// The issuer this ring signs and verifies for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience of access tokens.
    pub fn audience(&self) -> &str {
        &self.audience
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
        let header = serde_json::to_vec(&SignHeader { alg: key.alg.as_str(), typ, kid: &key.kid })
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Sign(e.to_string()))?;
        let mut jws = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 400);
        URL_SAFE_NO_PAD.encode_string(&header, &mut jws);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
        let signature = key.signer.sign(jws.as_bytes())?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut jws);
        Ok(jws)
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
    /// pre-parsed public keys and decodes each part once.
    pub async fn verify_access_token(&self, token: &str) -> Result<AccessTokenClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (header, claims) = signing_input.split_once('.').ok_or(TokenError::Malformed)?;
        let header: JoseHeader = decode_part(header)?;
        if header.crit.is_some() {
            return Err(TokenError::Malformed);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let mut set = self.keys().await;
        if set.by_kid(kid).is_none() {
            set = self.reload(true).await.unwrap_or(set);
        }
        let key = set.by_kid(kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != key.jwk.alg {
            return Err(TokenError::Algorithm);
        }
        match header.typ.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some(ACCESS_TOKEN_TYP) | Some("application/at+jwt") => {}
            _ => return Err(TokenError::Type),
        }
        // A token verified before (by the SHA-256 of all its bytes, header
        // and `kid` included, so only the very same token matches, and only
        // while its key is still in the set) skips the signature check; the
        // time, issuer and audience checks below always run.
        let digest: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes");
        let remembered = self.verified.lock().unwrap_or_else(|e| e.into_inner()).get(&digest).cloned();
        let fresh = remembered.is_none();
        let claims = match remembered {
            Some(claims) => claims,
            None => {
                let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
                key.verifier.verify_sig(signing_input.as_bytes(), &signature).map_err(|_| TokenError::Signature)?;
                decode_part::<AccessTokenClaims>(claims).map_err(|_| TokenError::Claims)?
            }
        };
        let t = now();
        // Saturating: `exp` is whatever integer the signed claims hold.
        let leeway = i64::try_from(self.leeway).unwrap_or(i64::MAX);
        if claims.exp.saturating_add(leeway) <= t {
            return Err(TokenError::Expired);
        }
        let latest = t.saturating_add(leeway);
        if claims.nbf.is_some_and(|nbf| nbf > latest) || claims.iat > latest {
            return Err(TokenError::NotYetValid);
        }
        if claims.iss != self.issuer {
            return Err(TokenError::Issuer);
        }
        if claims.aud != self.audience {
            return Err(TokenError::Audience);
        }
        if fresh {
            let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if verified.len() >= VERIFIED_TOKENS {
                // Expired tokens go first; if that frees little, start over.
                verified.retain(|_, c| c.exp.saturating_add(leeway) > t);
                if verified.len() >= VERIFIED_TOKENS / 2 {
                    verified.clear();
                }
            }
            verified.insert(digest, claims.clone());
        }
        Ok(claims)
    }

    /// Verifies like [`KeyRing::verify_access_token`], always checking the
    /// signature (for benchmarks of the signature check itself).
    #[doc(hidden)]
    pub async fn verify_access_token_uncached(&self, token: &str) -> Result<AccessTokenClaims, TokenError> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.verify_access_token(token).await
    }

    /// Starts a staged rotation: a new key published now that signs from
    /// `publish_delay` later (rounded up to the next whole second, so never
    /// earlier). Returns its `kid` and activation time (epoch seconds).
    pub async fn rotate(
        store: &Store,
        secrets: &Secrets,
        alg: SigningAlg,
        publish_delay: Duration,
    ) -> Result<(String, i64), KeyError> {
        let round_up = i64::from(!publish_delay.is_zero());
        let active_from = now() + publish_delay.as_secs() as i64 + round_up;
        let kid = create_key(store, secrets, alg, active_from).await?;
        Ok((kid, active_from))
    }
}

/// A private key, parsed once (parsing validates the key pair, which costs
/// about as much as a signature).
enum Signer {
    Ec(EcdsaKeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair),
}

impl Signer {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            Signer::Ec(pair) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| KeyError::Sign("ECDSA signing failed".into())),
            Signer::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Sign("RSA signing failed".into()))?;
                Ok(signature)
            }
        }
    }
}

/// The JOSE header the signer writes.
#[derive(Serialize)]
struct SignHeader<'a> {
    alg: &'static str,
    typ: &'a str,
    kid: &'a str,
}

/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The JOSE header fields the verifier looks at.
#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<serde_json::Value>,
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

async fn create_key(store: &Store, secrets: &Secrets, alg: SigningAlg, active_from: i64) -> Result<String, KeyError> {
    let kid = random_token::<12>();
    let generated = tokio::task::spawn_blocking(move || generate(alg))
        .await
        .map_err(|_| KeyError::Sign("key generation task failed".into()))??;
    let jwk = Jwk { kid: kid.clone(), alg: alg.as_str().to_owned(), use_: "sig".to_owned(), ..generated.public };
    let row = SigningKeyRow {
        kid: kid.clone(),
        alg: alg.as_str().to_owned(),
        private_key: secrets.seal(&generated.private_der, &kid)?,
        public_jwk: serde_json::to_string(&jwk).expect("a JWK serialises"),
        created_at: now(),
        active_from,
    };
    store.insert_signing_key(&row).await?;
    tracing::info!(kid = %kid, alg = alg.as_str(), active_from, "created signing key");
    Ok(kid)
}

struct Generated {
    /// PKCS#8 for ES256, PKCS#1 (RFC 8017) for RS256.
    private_der: Zeroizing<Vec<u8>>,
    public: Jwk,
}

fn generate(alg: SigningAlg) -> Result<Generated, CryptoError> {
    let empty = Jwk {
        kty: String::new(),
        kid: String::new(),
        alg: String::new(),
        use_: String::new(),
        crv: None,
        x: None,
        y: None,
        n: None,
        e: None,
    };
    match alg {
        SigningAlg::Es256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| CryptoError::Operation("generate EC key"))?;
            let pkcs8 = pair.to_pkcs8v1().map_err(|_| CryptoError::Operation("export EC key"))?;
            let point = pair.public_key().as_ref();
            if point.len() != 65 || point[0] != 4 {
                return Err(CryptoError::Operation("unexpected EC public key encoding"));
            }
            Ok(Generated {
                private_der: Zeroizing::new(pkcs8.as_ref().to_vec()),
                public: Jwk {
                    kty: "EC".into(),
                    crv: Some("P-256".into()),
                    x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
                    y: Some(URL_SAFE_NO_PAD.encode(&point[33..65])),
                    ..empty
                },
            })
        }
        SigningAlg::Rs256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| CryptoError::Operation("generate RSA key"))?;
            let pkcs8: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| CryptoError::Operation("export RSA key"))?;
            let pkcs1 =
                pkcs1_from_pkcs8(pkcs8.as_ref()).ok_or(CryptoError::Operation("unexpected RSA key encoding"))?;
            let public = pair.public_key();
            Ok(Generated {
                private_der: Zeroizing::new(pkcs1.to_vec()),
                public: Jwk {
                    kty: "RSA".into(),
                    n: Some(URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero())),
                    e: Some(URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero())),
                    ..empty
                },
            })
        }
    }
}

/// Reads one DER TLV, returning (tag, contents, rest).
fn der_read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn der_push(out: &mut Vec<u8>, tag: u8, contents: &[u8]) {
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
}

fn der_unsigned_integer(out: &mut Vec<u8>, magnitude: &[u8]) {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|b| *b == 0).collect();
    let mut contents = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        contents.push(0);
    }
    contents.extend(trimmed);
    der_push(out, 0x02, &contents);
}

/// RFC 8017 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    der_unsigned_integer(&mut body, n);
    der_unsigned_integer(&mut body, e);
    let mut out = Vec::new();
    der_push(&mut out, 0x30, &body);
    out
}

/// The RSAPrivateKey inside a PKCS#8 PrivateKeyInfo.
fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Option<&[u8]> {
    let (tag, info, _) = der_read(pkcs8)?;
    if tag != 0x30 {
        return None;
    }
    let (version_tag, _, rest) = der_read(info)?;
    let (alg_tag, _, rest) = der_read(rest)?;
    let (key_tag, key, _) = der_read(rest)?;
    (version_tag == 0x02 && alg_tag == 0x30 && key_tag == 0x04).then_some(key)
}

async fn load(store: &Store, secrets: &Secrets) -> Result<KeySet, KeyError> {
    let rows = store.signing_keys().await?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let bad = |reason: &str| KeyError::BadKey { kid: row.kid.clone(), reason: reason.to_owned() };
        let jwk: Jwk = serde_json::from_str(&row.public_jwk).map_err(|_| bad("public JWK is not valid JSON"))?;
        let private = secrets.open(&row.private_key, &row.kid)?;
        let b64 = |field: Option<&str>, what: &str| {
            field
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
                .ok_or_else(|| bad(&format!("JWK without a valid `{what}`")))
        };
        let (alg, signer, verifier) = match row.alg.as_str() {
            "ES256" => {
                let mut point = vec![4u8];
                point.extend(b64(jwk.x.as_deref(), "x")?);
                point.extend(b64(jwk.y.as_deref(), "y")?);
                let verifier =
                    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).map_err(|_| bad("EC public key"))?;
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &private)
                    .map_err(|_| bad("EC private key"))?;
                (SigningAlg::Es256, Signer::Ec(pair), verifier)
            }
            "RS256" => {
                let der = rsa_public_key_der(&b64(jwk.n.as_deref(), "n")?, &b64(jwk.e.as_deref(), "e")?);
                let verifier =
                    ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der).map_err(|_| bad("RSA public key"))?;
                let pair = aws_lc_rs::rsa::KeyPair::from_der(&private).map_err(|_| bad("RSA private key"))?;
                (SigningAlg::Rs256, Signer::Rsa(pair), verifier)
            }
            _ => return Err(bad("unsupported algorithm")),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_keys_export_pkcs1_that_signs() {
        let generated = generate(SigningAlg::Rs256).unwrap();
        assert!(aws_lc_rs::rsa::KeyPair::from_der(&generated.private_der).is_ok());
        assert_eq!(generated.public.kty, "RSA");
        assert_eq!(generated.public.e.as_deref(), Some("AQAB"));
    }

    #[test]
    fn ec_keys_have_coordinates() {
        let generated = generate(SigningAlg::Es256).unwrap();
        assert_eq!(generated.public.crv.as_deref(), Some("P-256"));
        assert_eq!(URL_SAFE_NO_PAD.decode(generated.public.x.unwrap()).unwrap().len(), 32);
    }

    #[test]
    fn rsa_public_key_der_round_trips() {
        let der = rsa_public_key_der(&[0x80, 0x01], &[0x01, 0x00, 0x01]);
        assert_eq!(der, vec![0x30, 0x0a, 0x02, 0x03, 0x00, 0x80, 0x01, 0x02, 0x03, 0x01, 0x00, 0x01]);
        let (tag, body, rest) = der_read(&der).unwrap();
        assert_eq!((tag, rest.len()), (0x30, 0));
        let (tag, n, _) = der_read(body).unwrap();
        assert_eq!((tag, n), (0x02, &[0x00, 0x80, 0x01][..]));
    }

    #[test]
    fn der_reader_rejects_truncation() {
        assert!(der_read(&[0x30, 0x05, 0x01]).is_none());
        assert!(pkcs1_from_pkcs8(&[0x30, 0x00]).is_none());
    }
}
