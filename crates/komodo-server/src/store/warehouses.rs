//! Each account's warehouse backend: no row is the embedded warehouse; a
//! row names an upstream Snowflake account and the key-pair credentials
//! the gateway reaches it with (the private key sealed with the master
//! key).

use super::{Store, StoreError};

/// An account's upstream Snowflake warehouse.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WarehouseBackendRow {
    /// The Komodo account.
    pub account_id: String,
    /// `snowflake`.
    pub kind: String,
    /// The upstream's base URL (`https://<account>.snowflakecomputing.com`).
    pub host: String,
    /// The Snowflake account name (its locator or `org-account`).
    pub account_name: String,
    /// The Snowflake user the gateway logs in as.
    pub user_name: String,
    /// The PKCS#8 private key, sealed (base64 nonce‖ciphertext).
    pub private_key: String,
    /// `SHA256:<base64>` of the public key (what Snowflake shows as
    /// `RSA_PUBLIC_KEY_FP`).
    pub key_fingerprint: String,
    /// The role sessions use, if not the user's default.
    pub role_name: Option<String>,
    /// The virtual warehouse sessions use.
    pub warehouse: Option<String>,
    /// The database sessions start in.
    pub database_name: Option<String>,
    /// The schema sessions start in.
    pub schema_name: Option<String>,
    /// When it was last set (seconds since the epoch).
    pub updated_at: i64,
}

impl std::fmt::Debug for WarehouseBackendRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarehouseBackendRow")
            .field("account_id", &self.account_id)
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("account_name", &self.account_name)
            .field("user_name", &self.user_name)
            .field("private_key", &"[encrypted]")
            .field("key_fingerprint", &self.key_fingerprint)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Sets (or replaces) an account's upstream warehouse.
    pub async fn set_warehouse_backend(&self, row: &WarehouseBackendRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO warehouse_backends (account_id, kind, host, account_name, user_name, private_key, \
             key_fingerprint, role_name, warehouse, database_name, schema_name, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (account_id) DO UPDATE SET kind = excluded.kind, host = excluded.host, \
             account_name = excluded.account_name, user_name = excluded.user_name, \
             private_key = excluded.private_key, key_fingerprint = excluded.key_fingerprint, \
             role_name = excluded.role_name, warehouse = excluded.warehouse, \
             database_name = excluded.database_name, schema_name = excluded.schema_name, \
             updated_at = excluded.updated_at",
        )
        .bind(&row.account_id)
        .bind(&row.kind)
        .bind(&row.host)
        .bind(&row.account_name)
        .bind(&row.user_name)
        .bind(&row.private_key)
        .bind(&row.key_fingerprint)
        .bind(&row.role_name)
        .bind(&row.warehouse)
        .bind(&row.database_name)
        .bind(&row.schema_name)
        .bind(row.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// An account's upstream warehouse; `None`: the embedded one.
    pub async fn warehouse_backend(&self, account_id: &str) -> Result<Option<WarehouseBackendRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT account_id, kind, host, account_name, user_name, private_key, key_fingerprint, role_name, \
             warehouse, database_name, schema_name, updated_at FROM warehouse_backends WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Returns an account to the embedded warehouse; whether it had another.
    pub async fn clear_warehouse_backend(&self, account_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM warehouse_backends WHERE account_id = $1")
            .bind(account_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
