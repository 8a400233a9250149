//! Persistent state through sqlx, on SQLite (the default, in WAL mode) or
//! PostgreSQL, with one portable schema in `migrations/`.
//!
//! Queries use `$n` placeholders, TEXT ids, BIGINT epoch seconds and hex
//! hashes so that the same statements run on both backends through sqlx's
//! `Any` driver. Repositories are grouped by concern: [`iam`] (users,
//! organisations, accounts, memberships, service principals, OAuth clients),
//! [`gateway`] (connector sessions, query handles, results), [`oauth`] (authorization requests, codes, refresh-token families, device
//! codes, revoked tokens), [`keys`] (encrypted signing keys), [`limits`]
//! (rate-limit windows) and [`warehouses`] (accounts' upstream warehouses).

pub mod gateway;
pub mod iam;
pub mod keys;
pub mod limits;
pub mod oauth;
pub mod principals;
pub mod warehouses;

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed or refused a statement.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique name is already taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// A referenced row does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The database URL is not one the store supports.
    #[error("unsupported database URL `{0}`: expected sqlite://... or postgres://...")]
    UnsupportedUrl(String),
}

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (embedded).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The platform's store: a connection pool plus typed repositories.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    principals: std::sync::Arc<principals::PrincipalCache<iam::PrincipalSecret>>,
}

/// Only the backend: the pool's options hold the database password.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Connects to `url` and applies pending migrations. Safe to call from
    /// several processes at once (the admin CLI beside a running server, or
    /// replicas starting together).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        options = match backend {
            // A SQLite connection is a file handle that cannot go stale:
            // no ping (a round trip to its worker thread) before each use.
            Backend::Sqlite => options.max_connections(8).test_before_acquire(false).after_connect(|conn, _meta| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    // Reads map the file instead of copying pages: every
                    // write (a query's outcome, say) makes the pool's other
                    // connections drop their page caches, and a request's
                    // session check then reads its pages again.
                    conn.execute("PRAGMA mmap_size = 268435456").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options.max_connections(16),
        };
        let pool = options.connect(url).await?;
        // Another process (the admin CLI, a second replica) may be applying
        // the same migrations to a fresh SQLite file, which has no migration
        // lock: give it a moment and look again before failing.
        let mut attempt = 0;
        while let Err(error) = MIGRATOR.run(&pool).await {
            attempt += 1;
            if attempt == 5 {
                return Err(error.into());
            }
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
        }
        let principals = std::sync::Arc::new(principals::PrincipalCache::new(backend));
        Ok(Store { pool, backend, principals })
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Reads a value from the `meta` table.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1").bind(key).fetch_optional(&self.pool).await?)
    }

    /// Sets `key` in the `meta` table unless it is set; returns whether this
    /// call set it (a cross-process "run once" latch).
    pub async fn meta_insert_once(&self, key: &str, value: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database URL with any password replaced, fit for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => "[unparseable URL]".to_owned(),
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn conflict_as(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.to_owned()),
        _ => StoreError::Database(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("postgres://u:hunter2@db/x"), "postgres://u:REDACTED@db/x");
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
    }
}
