//! Signing keys, their private halves encrypted with the master key (D04).

use super::{Store, StoreError};

/// A stored signing key.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SigningKeyRow {
    /// Key id.
    pub kid: String,
    /// `ES256` or `RS256`.
    pub alg: String,
    /// AES-256-GCM ciphertext of the private key (base64 nonce‖ciphertext).
    pub private_key: String,
    /// The public JWK, JSON.
    pub public_jwk: String,
    /// Creation (= publication) time.
    pub created_at: i64,
    /// From when it signs.
    pub active_from: i64,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_key", &"[encrypted]")
            .field("created_at", &self.created_at)
            .field("active_from", &self.active_from)
            .finish()
    }
}

impl Store {
    /// Stores a new signing key.
    pub async fn insert_signing_key(&self, row: &SigningKeyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at, active_from) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.kid)
        .bind(&row.alg)
        .bind(&row.private_key)
        .bind(&row.public_jwk)
        .bind(row.created_at)
        .bind(row.active_from)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every signing key, oldest activation first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kid, alg, private_key, public_jwk, created_at, active_from FROM signing_keys ORDER BY active_from, kid",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Deletes a key (one withdrawn from the JWKS: every token it signed
    /// has expired).
    pub async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM signing_keys WHERE kid = $1").bind(kid).execute(self.pool()).await?;
        Ok(())
    }
}
