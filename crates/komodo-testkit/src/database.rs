//! A throwaway PostgreSQL database per test.
//!
//! A test that needs PostgreSQL returns `Result<(), TestDatabaseError>` and
//! asks for its database with `TestDatabase::create().await?`: when the
//! server cannot be reached the test fails with a message that says how to
//! start one, not with a panic inside the fixture.

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The environment variable naming the PostgreSQL server tests use.
pub const TEST_DATABASE_URL_VAR: &str = "KOMODO_TEST_DATABASE_URL";

/// The PostgreSQL server tests use by default.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How to start the default PostgreSQL server on this project's machines.
pub const START_POSTGRES: &str = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

/// How long connecting to PostgreSQL may take before the test fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL server tests use: `KOMODO_TEST_DATABASE_URL`, default
/// `postgres://postgres@127.0.0.1:5432/test`.
pub fn test_database_url() -> String {
    std::env::var(TEST_DATABASE_URL_VAR).unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// Why a test database could not be had. `Debug` prints the same text as
/// `Display`, so that a test returning it reads well; neither shows a
/// password of the URL.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum TestDatabaseError {
    /// `KOMODO_TEST_DATABASE_URL` is not a URL.
    #[error("{TEST_DATABASE_URL_VAR} is not a URL: {0}")]
    BadUrl(url::ParseError),
    /// The server did not answer, or refused the connection.
    #[error(
        "cannot reach PostgreSQL at {url}: {reason}\n\
         This test needs a PostgreSQL server. Start the local one with\n    {START_POSTGRES}\n\
         (scripts/test starts it, and creates the `test` database), or set {TEST_DATABASE_URL_VAR} to the URL \
         of a server where this user may create databases."
    )]
    Unreachable {
        /// The server's maintenance URL, password redacted.
        url: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The server answered but would not create the database.
    #[error(
        "cannot create a test database on {url}: {reason}\n\
         The user of {TEST_DATABASE_URL_VAR} must be allowed to create databases."
    )]
    Create {
        /// The server's maintenance URL, password redacted.
        url: String,
        /// What the server said.
        reason: String,
    },
}

impl std::fmt::Debug for TestDatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A uniquely named database, created through the `postgres` maintenance
/// database and dropped when this value is dropped (or by [`TestDatabase::drop_now`]).
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    maintenance_url: String,
    name: String,
    dropped: bool,
}

impl TestDatabase {
    /// Creates a fresh, empty database on the server of
    /// [`test_database_url`].
    pub async fn create() -> Result<TestDatabase, TestDatabaseError> {
        let base = url::Url::parse(&test_database_url()).map_err(TestDatabaseError::BadUrl)?;
        let mut maintenance = base.clone();
        maintenance.set_path("/postgres");
        let shown = redacted(&maintenance);
        let mut bytes = [0u8; 8];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| TestDatabaseError::Create { url: shown.clone(), reason: "no system randomness".into() })?;
        let name = format!("komodo_test_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(maintenance.as_str())).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(TestDatabaseError::Unreachable { url: shown, reason: e.to_string() }),
            Err(_) => {
                let reason = format!("no answer within {} s", CONNECT_TIMEOUT.as_secs());
                return Err(TestDatabaseError::Unreachable { url: shown, reason });
            }
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .map_err(|e| TestDatabaseError::Create { url: shown.clone(), reason: e.to_string() })?;
        let _ = conn.close().await;
        let mut url = base;
        url.set_path(&format!("/{name}"));
        Ok(TestDatabase { url: url.to_string(), maintenance_url: maintenance.to_string(), name, dropped: false })
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database now (terminating its connections).
    pub async fn drop_now(mut self) {
        self.dropped = true;
        drop_database(&self.maintenance_url, &self.name).await;
    }
}

/// `url` with its password, if any, replaced.
fn redacted(url: &url::Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("REDACTED"));
    }
    url.to_string()
}

async fn drop_database(maintenance_url: &str, name: &str) {
    if let Ok(mut conn) = PgConnection::connect(maintenance_url).await {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (url, name) = (self.maintenance_url.clone(), self.name.clone());
        // Drop may run inside a runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(drop_database(&url, &name));
            }
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unreachable_message_says_how_to_start_postgres_and_hides_passwords() {
        let url = redacted(&url::Url::parse("postgres://app:hunter2@db:5432/postgres").unwrap());
        let error = TestDatabaseError::Unreachable { url, reason: "Connection refused".into() };
        let shown = format!("{error:?}");
        assert!(shown.contains("pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"), "{shown}");
        assert!(shown.contains("KOMODO_TEST_DATABASE_URL"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
