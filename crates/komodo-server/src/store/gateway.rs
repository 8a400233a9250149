//! The connector gateway's sessions, query handles and persisted results.
//!
//! Everything a replica needs to serve a session another replica opened
//! lives here: the session (hashed tokens, expiry, current database and
//! schema), every query's status, and finished results that fit under the
//! persistence cap.

use super::{Store, StoreError};
use crate::clock::{now, now_ms};

/// A gateway session.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GatewaySessionRow {
    /// Id (UUID).
    pub id: String,
    /// The numeric id Snowflake's clients display.
    pub numeric_id: i64,
    /// The account it works in.
    pub account_id: String,
    /// Who opened it (`user:<id>` or `sp:<id>`).
    pub subject: String,
    /// The `sid` of the access token it was opened with: for a user, the
    /// refresh-token family of the login (revoking the login ends the
    /// session too); for a service principal, the id of the secret the
    /// token was minted from (rotating the secret ends the session).
    pub token_family: Option<String>,
    /// The `jti` of the access token it was opened with: revoking that
    /// token ends the session.
    pub token_jti: Option<String>,
    /// When the session token expires, epoch seconds.
    pub token_expires_at: i64,
    /// When the master token expires, epoch seconds.
    pub master_expires_at: i64,
    /// The current database.
    pub database_name: Option<String>,
    /// The current schema.
    pub schema_name: Option<String>,
    /// What the session set with `ALTER SESSION`, as JSON.
    pub parameters: Option<String>,
    /// The client that opened it (`PythonConnector`, `KomodoRust`, ...).
    pub client_app: Option<String>,
    /// When it was closed, epoch seconds.
    pub closed_at: Option<i64>,
}

/// A session and whether its principal still has its account.
#[derive(sqlx::FromRow)]
struct SessionAndAccess {
    #[sqlx(flatten)]
    session: GatewaySessionRow,
    allowed: i32,
    read_only: i32,
    prior_query: Option<String>,
}

/// A gateway session found by its token, with what a request needs to
/// know about it in the same round trip.
#[derive(Debug, Clone)]
pub struct SessionCheck {
    /// The session.
    pub session: GatewaySessionRow,
    /// Whether its principal may still use its account (membership or
    /// service principal, and a login family not revoked).
    pub allowed: bool,
    /// Whether its principal may only read the account's data: a user
    /// whose role there is neither `admin` nor `member` (the `reader`
    /// role, or one this replica does not know).
    pub read_only: bool,
    /// The query the session submitted earlier with the request id asked
    /// about (a retried request), if any.
    pub prior_query: Option<String>,
}

const SESSION_COLUMNS: &str = "id, numeric_id, account_id, subject, token_family, token_jti, token_expires_at, \
     master_expires_at, database_name, schema_name, parameters, client_app, closed_at";

/// Whether the principal of session `s` may still act in its account, as
/// SQL (1 or 0): a user who is a member and whose login is not revoked, or
/// a live service principal of that account whose secret is still the one
/// the session's token was minted from; and in both cases the token the
/// session was opened with is not revoked (F07).
fn session_allowed_sql() -> String {
    use komodo_protocol::oauth::{SERVICE_PRINCIPAL_SUB_PREFIX as SP, USER_SUB_PREFIX as USER};
    format!(
        "CASE WHEN s.token_jti IS NOT NULL AND EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = s.token_jti) \
           THEN 0 \
         WHEN s.subject LIKE '{USER}%' THEN CASE WHEN EXISTS (SELECT 1 FROM memberships m \
             WHERE m.user_id = SUBSTR(s.subject, {user_from}) AND m.account_id = s.account_id) \
           AND (s.token_family IS NULL OR EXISTS (SELECT 1 FROM token_families f \
             WHERE f.id = s.token_family AND f.revoked_at IS NULL)) THEN 1 ELSE 0 END \
         WHEN s.subject LIKE '{SP}%' THEN CASE WHEN EXISTS (SELECT 1 FROM service_principals p \
             WHERE p.id = SUBSTR(s.subject, {sp_from}) AND p.account_id = s.account_id \
             AND p.deleted_at IS NULL AND COALESCE(p.secret_id, '') = COALESCE(s.token_family, '')) \
           THEN 1 ELSE 0 END \
         ELSE 0 END",
        user_from = USER.len() + 1,
        sp_from = SP.len() + 1,
    )
}

/// Whether the principal of session `s` may only read its account's data,
/// as SQL (1 or 0): a user without the `admin` or `member` role there.
fn session_read_only_sql() -> String {
    use komodo_protocol::oauth::USER_SUB_PREFIX as USER;
    format!(
        "CASE WHEN s.subject LIKE '{USER}%' AND NOT EXISTS (SELECT 1 FROM memberships m \
             WHERE m.user_id = SUBSTR(s.subject, {user_from}) AND m.account_id = s.account_id \
             AND m.role IN ('admin', 'member')) THEN 1 ELSE 0 END",
        user_from = USER.len() + 1,
    )
}

/// A query's handle as recorded when it starts (or, for a quick
/// synchronous query, when it ends).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NewGatewayQuery {
    /// Id (UUID).
    pub id: String,
    /// Account.
    pub account_id: String,
    /// The gateway session (or `bearer:<subject>`).
    pub session_id: String,
    /// Who submitted it.
    pub subject: String,
    /// The client's request id.
    pub request_id: Option<String>,
    /// The statement.
    pub sql_text: String,
    /// `json` or `arrow`.
    pub result_format: String,
    /// The replica running it.
    pub replica: String,
    /// When it started, epoch milliseconds.
    pub started_at: i64,
    /// The query's id in the account's upstream Snowflake account, when
    /// the gateway forwarded it there.
    pub upstream_id: Option<String>,
}

/// A new session to store.
#[derive(Debug)]
pub struct NewGatewaySession<'a> {
    /// Id (UUID).
    pub id: &'a str,
    /// Numeric id.
    pub numeric_id: i64,
    /// Account.
    pub account_id: &'a str,
    /// Subject.
    pub subject: &'a str,
    /// The `sid` of the access token it is opened with (a user's login, a
    /// service principal's secret).
    pub token_family: Option<&'a str>,
    /// The `jti` of the access token it is opened with.
    pub token_jti: Option<&'a str>,
    /// Hash of the session token.
    pub token_hash: &'a str,
    /// Session token expiry, epoch seconds.
    pub token_expires_at: i64,
    /// Hash of the master token.
    pub master_hash: &'a str,
    /// Master token expiry, epoch seconds.
    pub master_expires_at: i64,
    /// Current database.
    pub database_name: Option<&'a str>,
    /// Current schema.
    pub schema_name: Option<&'a str>,
    /// Client name.
    pub client_app: Option<&'a str>,
}

/// The columns a query's record is inserted with (14).
const QUERY_INSERT_COLUMNS: &str = "id, account_id, session_id, subject, request_id, sql_text, status, \
     result_format, replica, started_at, error_code, error_message, sql_state, ended_at, upstream_id";

/// Binds the 15 values of a query's record ([`QUERY_INSERT_COLUMNS`]).
fn bind_record<'q>(
    insert: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    q: &'q NewGatewayQuery,
    status: &'q str,
    error: Option<&'q QueryError>,
    ended_at: Option<i64>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    insert
        .bind(&q.id)
        .bind(&q.account_id)
        .bind(&q.session_id)
        .bind(&q.subject)
        .bind(q.request_id.as_deref())
        .bind(&q.sql_text)
        .bind(status)
        .bind(&q.result_format)
        .bind(&q.replica)
        .bind(q.started_at)
        .bind(error.map(|e| e.code.as_str()))
        .bind(error.map(|e| e.message.as_str()))
        .bind(error.map(|e| e.sql_state.as_str()))
        .bind(ended_at)
        .bind(q.upstream_id.as_deref())
}

/// Rows per multi-row `INSERT` (well under SQLite's and PostgreSQL's
/// limits on bound values).
const ROWS_PER_INSERT: usize = 128;

/// `($1, ..., $k), ($k+1, ...), ...`: `rows` rows of `columns` placeholders.
fn placeholders(rows: usize, columns: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        out.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            let sep = if column == 0 { "" } else { ", " };
            let _ = write!(out, "{sep}${}", row * columns + column + 1);
        }
        out.push(')');
    }
    out
}

/// Inserts persisted results: (query id, account, result).
async fn insert_results<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    results: &[(&str, &str, &GatewayResultRow)],
) -> Result<(), StoreError> {
    if results.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO gateway_results (query_id, account_id, statement_type_id, rows_affected, total_rows, ipc, \
         created_at) VALUES {}",
        placeholders(results.len(), 7)
    );
    let created_at = now();
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (id, account_id, result) in results {
        insert = insert
            .bind(*id)
            .bind(*account_id)
            .bind(result.statement_type_id)
            .bind(result.rows_affected)
            .bind(result.total_rows)
            .bind(&result.ipc)
            .bind(created_at);
    }
    insert.execute(executor).await?;
    Ok(())
}

/// A query that ended before it was recorded, as
/// [`Store::record_finished_gateway_queries`] writes it.
#[derive(Debug, Clone)]
pub struct FinishedGatewayQuery {
    /// How it started.
    pub handle: NewGatewayQuery,
    /// Its final status ([`status::SUCCESS`], [`status::FAILED`] or
    /// [`status::ABORTED`]).
    pub status: &'static str,
    /// Why it failed.
    pub error: Option<QueryError>,
    /// When it ended, epoch milliseconds.
    pub ended_at: i64,
    /// Its result, when persisted.
    pub result: Option<GatewayResultRow>,
}

/// A failed query's error as Snowflake reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// Snowflake's error code.
    pub code: String,
    /// The message.
    pub message: String,
    /// The SQL state.
    pub sql_state: String,
}

/// A query handle as stored: how it started, and where it is now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GatewayQueryRow {
    /// Id, account, session, statement, format, replica and start.
    #[sqlx(flatten)]
    pub handle: NewGatewayQuery,
    /// `RUNNING`, `SUCCESS`, `FAILED_WITH_ERROR`, `ABORTING`, `ABORTED`.
    pub status: String,
    /// Snowflake's error code, when it failed.
    pub error_code: Option<String>,
    /// The error message, when it failed.
    pub error_message: Option<String>,
    /// SQLSTATE, when it failed.
    pub sql_state: Option<String>,
    /// End, epoch milliseconds.
    pub ended_at: Option<i64>,
}

const QUERY_COLUMNS: &str = "id, account_id, session_id, subject, request_id, sql_text, status, result_format, \
     replica, error_code, error_message, sql_state, started_at, ended_at, upstream_id";

/// A finished result persisted for every replica.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GatewayResultRow {
    /// Snowflake's statement type id.
    pub statement_type_id: i64,
    /// Rows changed, for DML.
    pub rows_affected: Option<i64>,
    /// Rows in the result.
    pub total_rows: i64,
    /// The result as an Arrow IPC stream, base64.
    pub ipc: String,
}

/// Query statuses as Snowflake names them.
pub mod status {
    /// Running.
    pub const RUNNING: &str = "RUNNING";
    /// Finished with a result.
    pub const SUCCESS: &str = "SUCCESS";
    /// Failed.
    pub const FAILED: &str = "FAILED_WITH_ERROR";
    /// A cancellation was asked for; the running replica will stop it.
    pub const ABORTING: &str = "ABORTING";
    /// Cancelled.
    pub const ABORTED: &str = "ABORTED";
    /// The replica running it went away before it finished.
    pub const DISCONNECTED: &str = "DISCONNECTED";
}

impl Store {
    /// Stores a new gateway session.
    pub async fn insert_gateway_session(&self, s: &NewGatewaySession<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO gateway_sessions (id, numeric_id, account_id, subject, token_family, token_hash, \
             token_expires_at, master_hash, master_expires_at, database_name, schema_name, client_app, created_at, \
             token_jti) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(s.id)
        .bind(s.numeric_id)
        .bind(s.account_id)
        .bind(s.subject)
        .bind(s.token_family)
        .bind(s.token_hash)
        .bind(s.token_expires_at)
        .bind(s.master_hash)
        .bind(s.master_expires_at)
        .bind(s.database_name)
        .bind(s.schema_name)
        .bind(s.client_app)
        .bind(now())
        .bind(s.token_jti)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session whose session token hashes to `token_hash`, and whether
    /// its principal may still act in its account (a member whose login is
    /// not revoked, or a live service principal of the account whose
    /// secret was not rotated since; and the token the session was opened
    /// with not revoked), in one round trip: every gateway request asks
    /// both.
    pub async fn gateway_session_for_request(
        &self,
        token_hash: &str,
        request_id: Option<&str>,
    ) -> Result<Option<SessionCheck>, StoreError> {
        let columns: Vec<String> = SESSION_COLUMNS.split(',').map(|c| format!("s.{}", c.trim())).collect();
        let sql = format!(
            "SELECT {columns}, {allowed} AS allowed, {read_only} AS read_only, \
             (SELECT q.id FROM gateway_queries q WHERE q.session_id = s.id AND q.request_id = $2 \
               ORDER BY q.started_at DESC LIMIT 1) AS prior_query \
             FROM gateway_sessions s WHERE s.token_hash = $1",
            columns = columns.join(", "),
            allowed = session_allowed_sql(),
            read_only = session_read_only_sql(),
        );
        let row: Option<SessionAndAccess> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(request_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| SessionCheck {
            session: r.session,
            allowed: r.allowed == 1,
            read_only: r.read_only != 0,
            prior_query: r.prior_query,
        }))
    }

    /// The session whose master token hashes to `master_hash`.
    pub async fn gateway_session_by_master(&self, master_hash: &str) -> Result<Option<GatewaySessionRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM gateway_sessions WHERE master_hash = $1"
        )))
        .bind(master_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Replaces a session's token (renewal); false when the session is
    /// closed or its old token was already replaced.
    pub async fn renew_gateway_session(
        &self,
        id: &str,
        old_token_hash: &str,
        new_token_hash: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE gateway_sessions SET token_hash = $1, token_expires_at = $2 \
             WHERE id = $3 AND token_hash = $4 AND closed_at IS NULL",
        )
        .bind(new_token_hash)
        .bind(expires_at)
        .bind(id)
        .bind(old_token_hash)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a session's current database and schema.
    pub async fn set_gateway_session_context(
        &self,
        id: &str,
        database: Option<&str>,
        schema: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE gateway_sessions SET database_name = $1, schema_name = $2 WHERE id = $3")
            .bind(database)
            .bind(schema)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records what a session set with `ALTER SESSION` (JSON).
    pub async fn set_gateway_session_parameters(&self, id: &str, parameters: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE gateway_sessions SET parameters = $1 WHERE id = $2")
            .bind(parameters)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Closes a session.
    pub async fn close_gateway_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE gateway_sessions SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL")
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether the principal of session `id` may still act in its account
    /// (as [`Store::gateway_session_for_request`] decides).
    pub async fn gateway_session_allowed(&self, id: &str) -> Result<bool, StoreError> {
        let sql = format!("SELECT {} AS allowed FROM gateway_sessions s WHERE s.id = $1", session_allowed_sql());
        let allowed: Option<i32> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(self.pool()).await?;
        Ok(allowed == Some(1))
    }

    /// Records a query that starts running.
    pub async fn insert_gateway_query(&self, q: &NewGatewayQuery) -> Result<(), StoreError> {
        let insert = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO gateway_queries ({QUERY_INSERT_COLUMNS}) VALUES {}",
            placeholders(1, 15)
        )));
        bind_record(insert, q, status::RUNNING, None, None).execute(self.pool()).await?;
        Ok(())
    }

    /// Records how query `id`, recorded when it started, ended, in one
    /// transaction: its final status and its result when it is persisted.
    /// An aborted query stays aborted.
    pub async fn record_gateway_outcome(
        &self,
        id: &str,
        account_id: &str,
        final_status: &str,
        error: Option<&QueryError>,
        result: Option<&GatewayResultRow>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE gateway_queries SET status = $1, error_code = $2, error_message = $3, sql_state = $4, \
             ended_at = $5 WHERE id = $6 AND status <> 'ABORTED'",
        )
        .bind(final_status)
        .bind(error.map(|e| e.code.as_str()))
        .bind(error.map(|e| e.message.as_str()))
        .bind(error.map(|e| e.sql_state.as_str()))
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(result) = result {
            insert_results(&mut *tx, &[(id, account_id, result)]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records queries that ended before they were recorded, whole (handle,
    /// outcome and persisted result), in one transaction of a few
    /// multi-row statements however many there are.
    pub async fn record_finished_gateway_queries(&self, queries: &[FinishedGatewayQuery]) -> Result<(), StoreError> {
        if queries.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for group in queries.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO gateway_queries ({QUERY_INSERT_COLUMNS}) VALUES {}",
                placeholders(group.len(), 15)
            );
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
            for f in group {
                insert = bind_record(insert, &f.handle, f.status, f.error.as_ref(), Some(f.ended_at));
            }
            insert.execute(&mut *tx).await?;
            let results: Vec<_> = group
                .iter()
                .filter_map(|f| f.result.as_ref().map(|r| (f.handle.id.as_str(), f.handle.account_id.as_str(), r)))
                .collect();
            insert_results(&mut *tx, &results).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Of the gateway sessions `ids`, those still open and allowed (their
    /// principal still in the account with the credential they were opened
    /// with, T01/T02/F07).
    pub async fn live_gateway_sessions(&self, ids: &[String]) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut live = std::collections::HashSet::new();
        for group in ids.chunks(100) {
            let sql = format!(
                "SELECT s.id FROM gateway_sessions s WHERE s.id IN ({}) AND s.closed_at IS NULL \
                 AND s.master_expires_at > ${} AND {} = 1",
                (1..=group.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", "),
                group.len() + 1,
                session_allowed_sql()
            );
            let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for id in group {
                query = query.bind(id);
            }
            live.extend(query.bind(now()).fetch_all(self.pool()).await?);
        }
        Ok(live)
    }

    /// A query of `account_id` by id (none for another account's query: T05).
    pub async fn gateway_query(&self, account_id: &str, id: &str) -> Result<Option<GatewayQueryRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {QUERY_COLUMNS} FROM gateway_queries WHERE id = $1 AND account_id = $2"
        )))
        .bind(id)
        .bind(account_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The query a session submitted with `request_id`.
    pub async fn gateway_query_by_request(
        &self,
        session_id: &str,
        request_id: &str,
    ) -> Result<Option<GatewayQueryRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {QUERY_COLUMNS} FROM gateway_queries WHERE session_id = $1 AND request_id = $2 \
             ORDER BY started_at DESC LIMIT 1"
        )))
        .bind(session_id)
        .bind(request_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Asks for a running query to be cancelled (by whichever replica runs
    /// it); false when it is no longer running.
    pub async fn request_gateway_abort(&self, account_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE gateway_queries SET status = 'ABORTING' WHERE id = $1 AND account_id = $2 AND status = 'RUNNING'",
        )
        .bind(id)
        .bind(account_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A persisted result of `account_id`.
    pub async fn gateway_result(
        &self,
        account_id: &str,
        query_id: &str,
    ) -> Result<Option<GatewayResultRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT statement_type_id, rows_affected, total_rows, ipc FROM gateway_results \
             WHERE query_id = $1 AND account_id = $2",
        )
        .bind(query_id)
        .bind(account_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Deletes query handles and results started before `before_ms`, and
    /// sessions whose master token expired before `before_s`.
    pub async fn purge_gateway(&self, before_ms: i64, before_s: i64) -> Result<u64, StoreError> {
        let results = sqlx::query(
            "DELETE FROM gateway_results WHERE query_id IN (SELECT id FROM gateway_queries WHERE started_at < $1)",
        )
        .bind(before_ms)
        .execute(self.pool())
        .await?;
        let queries = sqlx::query("DELETE FROM gateway_queries WHERE started_at < $1")
            .bind(before_ms)
            .execute(self.pool())
            .await?;
        let sessions = sqlx::query("DELETE FROM gateway_sessions WHERE master_expires_at < $1")
            .bind(before_s)
            .execute(self.pool())
            .await?;
        Ok(results.rows_affected() + queries.rows_affected() + sessions.rows_affected())
    }
}
