//! The tokens whose signature [`KeyRing::verify_access_token`](super::KeyRing::verify_access_token)
//! remembers: a client presents the same access token on every call for
//! its lifetime, and checking an ES256 signature costs far more than
//! everything else. A token is remembered by the SHA-256 of all its bytes
//! (header and `kid` included, so only the very same token matches); the
//! time, issuer and audience checks run on every call regardless.

use std::collections::HashMap;

use komodo_protocol::oauth::AccessTokenClaims;
use parking_lot::Mutex;

/// Tokens remembered at most.
const CAPACITY: usize = 16_384;

/// The SHA-256 of a token.
pub(crate) type Digest = [u8; 32];

/// The digest of `token`.
pub(crate) fn digest(token: &str) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// Claims of tokens whose signature checked, by digest.
#[derive(Debug, Default)]
pub(crate) struct Verified(Mutex<HashMap<Digest, AccessTokenClaims>>);

impl Verified {
    /// The claims of a token verified before.
    pub(crate) fn get(&self, digest: &Digest) -> Option<AccessTokenClaims> {
        self.0.lock().get(digest).cloned()
    }

    /// Remembers a verified token. When full, tokens expired at `t` (with
    /// `leeway`) go first; if that frees little, it starts over.
    pub(crate) fn insert(&self, digest: Digest, claims: AccessTokenClaims, t: i64, leeway: i64) {
        let mut verified = self.0.lock();
        if verified.len() >= CAPACITY {
            verified.retain(|_, c| c.exp.saturating_add(leeway) > t);
            if verified.len() >= CAPACITY / 2 {
                verified.clear();
            }
        }
        verified.insert(digest, claims);
    }

    /// Forgets every token.
    pub(crate) fn clear(&self) {
        self.0.lock().clear();
    }
}
