//! Fixed-window counters shared by every replica (login attempts per
//! account and per address, user-code entries per address and for the
//! whole platform).
//!
//! A limit is enforced by counting an attempt *before* the work it guards
//! (a password check, a user-code lookup): [`Store::rate_hit`] adds the
//! attempt and returns the new count in one statement, so that parallel
//! requests, on one replica or on several sharing PostgreSQL, each see a
//! different count and at most `max` of them go ahead (F04, F08). An
//! attempt that turns out to be legitimate can be given back with
//! [`Store::rate_refund`].

use super::{Store, StoreError};
use crate::clock::now;

impl Store {
    /// Adds one event to `key`'s window of `window_secs` and returns the
    /// count in the current window, this event included, atomically: one
    /// `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` statement, which
    /// both SQLite and PostgreSQL run under the row's lock.
    pub async fn rate_hit(&self, key: &str, window_secs: i64) -> Result<i64, StoreError> {
        let t = now();
        // Start a new window when the old one has passed, else count on.
        let count: i64 = sqlx::query_scalar(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.count + 1 END, \
               window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END \
             RETURNING count",
        )
        .bind(key)
        .bind(t)
        .bind(t - window_secs)
        .fetch_one(self.pool())
        .await?;
        Ok(count)
    }

    /// Gives back one event counted by [`rate_hit`](Self::rate_hit) in the
    /// current window (a login whose password was right, a user code that
    /// was valid). Nothing happens once the window has passed.
    pub async fn rate_refund(&self, key: &str, window_secs: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE rate_limits SET count = count - 1 WHERE key = $1 AND count > 0 AND window_start > $2")
            .bind(key)
            .bind(now() - window_secs)
            .execute(self.pool())
            .await?;
        Ok(())
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
