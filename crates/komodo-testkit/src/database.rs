//! A throwaway PostgreSQL database per test.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The PostgreSQL server tests use: `KOMODO_TEST_DATABASE_URL`, default
/// `postgres://postgres@127.0.0.1:5432/test`.
pub fn test_database_url() -> String {
    std::env::var("KOMODO_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
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
    /// Creates a fresh, empty database.
    pub async fn create() -> TestDatabase {
        let base = url::Url::parse(&test_database_url()).expect("KOMODO_TEST_DATABASE_URL must be a URL");
        let mut maintenance = base.clone();
        maintenance.set_path("/postgres");
        let mut bytes = [0u8; 8];
        aws_lc_rs::rand::fill(&mut bytes).expect("system random");
        let name = format!("komodo_test_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        let mut conn = PgConnection::connect(maintenance.as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {maintenance} (set KOMODO_TEST_DATABASE_URL): {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let _ = conn.close().await;
        let mut url = base;
        url.set_path(&format!("/{name}"));
        TestDatabase { url: url.to_string(), maintenance_url: maintenance.to_string(), name, dropped: false }
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
