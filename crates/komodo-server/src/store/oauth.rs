//! OAuth state: pending authorization requests (login/consent pages),
//! authorization codes, refresh-token families, device codes and revoked
//! access-token ids. Every code and token is stored as its SHA-256 (S02).

use super::{Store, StoreError};
use crate::clock::now;

/// A pending browser interaction: an authorization request or a device
/// verification, from the login page to the consent decision.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthRequestRow {
    /// Random id carried by the pages' forms.
    pub id: String,
    /// `authorize` or `device`.
    pub kind: String,
    /// The requesting client.
    pub client_id: String,
    /// The validated redirect URI (authorize only).
    pub redirect_uri: Option<String>,
    /// Requested scope.
    pub scope: String,
    /// The client's `state` (authorize only).
    pub state: Option<String>,
    /// The OIDC `nonce` (authorize only).
    pub nonce: Option<String>,
    /// The S256 code challenge (authorize only).
    pub code_challenge: Option<String>,
    /// SHA-256 of the browser binding cookie.
    pub browser_hash: String,
    /// SHA-256 of the device code (device only).
    pub device_hash: Option<String>,
    /// The user, once logged in.
    pub user_id: Option<String>,
    /// When the user logged in.
    pub auth_time: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// When consent was decided.
    pub completed_at: Option<i64>,
    /// The audience asked for; `None`: the platform's default.
    pub audience: Option<String>,
}

/// A stored authorization code.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthCodeRow {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// Client it was issued to.
    pub client_id: String,
    /// Redirect URI it was issued for.
    pub redirect_uri: String,
    /// The user.
    pub user_id: String,
    /// Granted scope.
    pub scope: String,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// S256 challenge (always set by the authorize endpoint).
    pub code_challenge: Option<String>,
    /// Login time.
    pub auth_time: i64,
    /// The token family its redemption starts.
    pub family_id: String,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Redemption time.
    pub used_at: Option<i64>,
    /// The audience asked for; `None`: the platform's default.
    pub audience: Option<String>,
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: the code is now spent.
    Fresh(AuthCodeRow),
    /// The code was already spent (replay).
    Replayed(AuthCodeRow),
    /// No such code.
    Unknown,
}

/// A refresh-token family: one login session.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FamilyRow {
    /// Family (session) id; the `sid` claim.
    pub id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub user_id: String,
    /// Granted scope.
    pub scope: String,
    /// Login time.
    pub auth_time: i64,
    /// Creation time.
    pub created_at: i64,
    /// When revoked.
    pub revoked_at: Option<i64>,
    /// The audience of its access tokens; `None`: the platform's default.
    pub audience: Option<String>,
}

/// What using a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// The token was current and is now spent; its family.
    Fresh(FamilyRow),
    /// The token had been used before (reuse): the family id.
    Reused(String),
    /// Expired token.
    Expired,
    /// No such token.
    Unknown,
}

/// A device authorization.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceRow {
    /// SHA-256 of the device code.
    pub device_hash: String,
    /// User code, normalised (no dash, upper case).
    pub user_code: String,
    /// Client.
    pub client_id: String,
    /// Requested scope.
    pub scope: String,
    /// `pending`, `approved`, `denied` or `consumed`.
    pub status: String,
    /// The approving user.
    pub user_id: Option<String>,
    /// Login time.
    pub auth_time: Option<i64>,
    /// Token family its tokens will belong to.
    pub family_id: String,
    /// Current minimum poll interval.
    pub interval_secs: i64,
    /// Last poll, epoch milliseconds.
    pub last_poll_ms: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// The audience asked for; `None`: the platform's default.
    pub audience: Option<String>,
}

const AUTH_REQUEST_COLUMNS: &str = "id, kind, client_id, redirect_uri, scope, state, nonce, code_challenge, browser_hash, \
     device_hash, user_id, auth_time, created_at, expires_at, completed_at, audience";
const CODE_COLUMNS: &str = "code_hash, client_id, redirect_uri, user_id, scope, nonce, code_challenge, auth_time, family_id, \
     created_at, expires_at, used_at, audience";
const DEVICE_COLUMNS: &str = "device_hash, user_code, client_id, scope, status, user_id, auth_time, family_id, interval_secs, \
     last_poll_ms, created_at, expires_at, audience";

impl Store {
    /// Stores a pending authorization request.
    pub async fn insert_auth_request(&self, row: &AuthRequestRow) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO auth_requests ({AUTH_REQUEST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        )))
        .bind(&row.id)
        .bind(&row.kind)
        .bind(&row.client_id)
        .bind(&row.redirect_uri)
        .bind(&row.scope)
        .bind(&row.state)
        .bind(&row.nonce)
        .bind(&row.code_challenge)
        .bind(&row.browser_hash)
        .bind(&row.device_hash)
        .bind(&row.user_id)
        .bind(row.auth_time)
        .bind(row.created_at)
        .bind(row.expires_at)
        .bind(row.completed_at)
        .bind(&row.audience)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A pending authorization request by id.
    pub async fn auth_request(&self, id: &str) -> Result<Option<AuthRequestRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {AUTH_REQUEST_COLUMNS} FROM auth_requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records the logged-in user of a request.
    pub async fn set_auth_request_user(&self, id: &str, user_id: &str, auth_time: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE auth_requests SET user_id = $1, auth_time = $2 WHERE id = $3 AND completed_at IS NULL")
            .bind(user_id)
            .bind(auth_time)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Marks a request decided; false if it already was (double submit).
    pub async fn complete_auth_request(&self, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE auth_requests SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL")
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Stores an authorization code.
    pub async fn insert_auth_code(&self, row: &AuthCodeRow) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO auth_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        )))
        .bind(&row.code_hash)
        .bind(&row.client_id)
        .bind(&row.redirect_uri)
        .bind(&row.user_id)
        .bind(&row.scope)
        .bind(&row.nonce)
        .bind(&row.code_challenge)
        .bind(row.auth_time)
        .bind(&row.family_id)
        .bind(row.created_at)
        .bind(row.expires_at)
        .bind(row.used_at)
        .bind(&row.audience)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Spends a code atomically: exactly one caller ever gets `Fresh`.
    pub async fn redeem_auth_code(&self, code_hash: &str) -> Result<CodeRedemption, StoreError> {
        let row: Option<AuthCodeRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {CODE_COLUMNS} FROM auth_codes WHERE code_hash = $1")))
                .bind(code_hash)
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else { return Ok(CodeRedemption::Unknown) };
        if row.used_at.is_some() {
            return Ok(CodeRedemption::Replayed(row));
        }
        let result = sqlx::query("UPDATE auth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
            .bind(now())
            .bind(code_hash)
            .execute(self.pool())
            .await?;
        Ok(if result.rows_affected() == 1 { CodeRedemption::Fresh(row) } else { CodeRedemption::Replayed(row) })
    }

    /// Starts a token family.
    pub async fn create_family(&self, row: &FamilyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO token_families (id, client_id, user_id, scope, auth_time, created_at, revoked_at, audience) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&row.id)
        .bind(&row.client_id)
        .bind(&row.user_id)
        .bind(&row.scope)
        .bind(row.auth_time)
        .bind(row.created_at)
        .bind(row.revoked_at)
        .bind(&row.audience)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A token family by id.
    pub async fn family(&self, id: &str) -> Result<Option<FamilyRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, client_id, user_id, scope, auth_time, created_at, revoked_at, audience FROM token_families \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Revokes a family: its refresh tokens and its access tokens (`sid`)
    /// stop working, and the gateway sessions opened with them are closed
    /// (F07; the sessions' checks refuse a revoked family anyway). Creates
    /// nothing when the family was never started (a replayed code whose
    /// first redemption failed): an unknown family counts as revoked.
    pub async fn revoke_family(&self, id: &str) -> Result<(), StoreError> {
        let t = now();
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE token_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(t)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE gateway_sessions SET closed_at = $1 WHERE token_family = $2 AND closed_at IS NULL")
            .bind(t)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a family is unknown or revoked.
    pub async fn family_is_revoked(&self, id: &str) -> Result<bool, StoreError> {
        let revoked: Option<Option<i64>> = sqlx::query_scalar("SELECT revoked_at FROM token_families WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(!matches!(revoked, Some(None)))
    }

    /// Stores a refresh token of a family.
    pub async fn insert_refresh_token(
        &self,
        token_hash: &str,
        family_id: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(family_id)
        .bind(now())
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Spends a refresh token atomically.
    pub async fn use_refresh_token(&self, token_hash: &str) -> Result<RefreshUse, StoreError> {
        let row: Option<(String, i64, Option<i64>)> =
            sqlx::query_as("SELECT family_id, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(self.pool())
                .await?;
        let Some((family_id, expires_at, used_at)) = row else { return Ok(RefreshUse::Unknown) };
        if used_at.is_some() {
            return Ok(RefreshUse::Reused(family_id));
        }
        if expires_at <= now() {
            return Ok(RefreshUse::Expired);
        }
        let result = sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
            .bind(now())
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        if result.rows_affected() != 1 {
            return Ok(RefreshUse::Reused(family_id));
        }
        match self.family(&family_id).await? {
            Some(family) => Ok(RefreshUse::Fresh(family)),
            None => Ok(RefreshUse::Unknown),
        }
    }

    /// The family of a refresh token, used or not.
    pub async fn refresh_token_family(&self, token_hash: &str) -> Result<Option<FamilyRow>, StoreError> {
        let family_id: Option<String> =
            sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(self.pool())
                .await?;
        match family_id {
            Some(id) => self.family(&id).await,
            None => Ok(None),
        }
    }

    /// Stores a device authorization.
    pub async fn insert_device(&self, row: &DeviceRow) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO device_codes ({DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        )))
        .bind(&row.device_hash)
        .bind(&row.user_code)
        .bind(&row.client_id)
        .bind(&row.scope)
        .bind(&row.status)
        .bind(&row.user_id)
        .bind(row.auth_time)
        .bind(&row.family_id)
        .bind(row.interval_secs)
        .bind(row.last_poll_ms)
        .bind(row.created_at)
        .bind(row.expires_at)
        .bind(&row.audience)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A device authorization by device code hash.
    pub async fn device_by_hash(&self, device_hash: &str) -> Result<Option<DeviceRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DEVICE_COLUMNS} FROM device_codes WHERE device_hash = $1"
        )))
        .bind(device_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A device authorization by normalised user code.
    pub async fn device_by_user_code(&self, user_code: &str) -> Result<Option<DeviceRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DEVICE_COLUMNS} FROM device_codes WHERE user_code = $1"
        )))
        .bind(user_code)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records a poll and the interval in force from now on.
    pub async fn device_record_poll(
        &self,
        device_hash: &str,
        at_ms: i64,
        interval_secs: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE device_codes SET last_poll_ms = $1, interval_secs = $2 WHERE device_hash = $3")
            .bind(at_ms)
            .bind(interval_secs)
            .bind(device_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Approves or denies a pending, unexpired device authorization.
    pub async fn device_decide(
        &self,
        device_hash: &str,
        approve: bool,
        user_id: &str,
        auth_time: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE device_codes SET status = $1, user_id = $2, auth_time = $3 \
             WHERE device_hash = $4 AND status = 'pending' AND expires_at > $5",
        )
        .bind(if approve { "approved" } else { "denied" })
        .bind(user_id)
        .bind(auth_time)
        .bind(device_hash)
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Spends an approved device authorization; exactly one caller wins.
    pub async fn device_consume(&self, device_hash: &str) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE device_codes SET status = 'consumed' WHERE device_hash = $1 AND status = 'approved'")
                .bind(device_hash)
                .execute(self.pool())
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Revokes one access token by `jti` until it would have expired
    /// anyway, and closes the gateway sessions opened with it (F07), in one
    /// transaction.
    pub async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE gateway_sessions SET closed_at = $1 WHERE token_jti = $2 AND closed_at IS NULL")
            .bind(now())
            .bind(jti)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether an access token was revoked by `jti`.
    pub async fn jti_is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT expires_at FROM revoked_tokens WHERE jti = $1")
            .bind(jti)
            .fetch_optional(self.pool())
            .await?;
        Ok(found.is_some())
    }

    /// Deletes expired codes, requests and revocation entries.
    pub async fn purge_expired(&self) -> Result<(), StoreError> {
        let t = now();
        let day = 24 * 3600;
        // A session opened with a token that is revoked stays closed after
        // the token's revocation entry is gone (one that was opened while
        // the token was being revoked is refused only through that entry).
        sqlx::query(
            "UPDATE gateway_sessions SET closed_at = $1 WHERE closed_at IS NULL \
             AND token_jti IN (SELECT jti FROM revoked_tokens WHERE expires_at < $2)",
        )
        .bind(t)
        .bind(t - day)
        .execute(self.pool())
        .await?;
        for sql in [
            "DELETE FROM auth_requests WHERE expires_at < $1",
            "DELETE FROM auth_codes WHERE expires_at < $1",
            "DELETE FROM device_codes WHERE expires_at < $1",
            "DELETE FROM refresh_tokens WHERE expires_at < $1",
            "DELETE FROM revoked_tokens WHERE expires_at < $1",
            "DELETE FROM rate_limits WHERE window_start < $1",
        ] {
            sqlx::query(sql).bind(t - day).execute(self.pool()).await?;
        }
        Ok(())
    }
}
