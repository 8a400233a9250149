//! Fixed-window counters shared by every replica (login attempts per
//! account and per address, user-code entries per address).

use super::{Store, StoreError, now};

impl Store {
    /// Adds one event to `key`'s window of `window_secs` and returns the
    /// count in the current window.
    pub async fn rate_hit(&self, key: &str, window_secs: i64) -> Result<i64, StoreError> {
        let t = now();
        // Start a new window when the old one has passed, else count on.
        sqlx::query(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.count + 1 END, \
               window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END",
        )
        .bind(key)
        .bind(t)
        .bind(t - window_secs)
        .execute(self.pool())
        .await?;
        self.rate_count(key, window_secs).await
    }

    /// The count in `key`'s current window (0 when it has passed).
    pub async fn rate_count(&self, key: &str, window_secs: i64) -> Result<i64, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as("SELECT window_start, count FROM rate_limits WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some((start, count)) if start > now() - window_secs => count,
            _ => 0,
        })
    }

    /// Forgets `key`'s window (after a successful login).
    pub async fn rate_reset(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rate_limits WHERE key = $1").bind(key).execute(self.pool()).await?;
        Ok(())
    }
}
