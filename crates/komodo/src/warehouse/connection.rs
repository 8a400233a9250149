//! [`Connection`]: a gateway session opened with the credentials the chain
//! resolved, and the calls about the session and its statements (status,
//! abort, heartbeat, close). Running statements is the cursor's
//! ([`Connection::cursor`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use komodo_protocol::gateway::MonitoringData;
use reqwest::Method;

use super::error::WarehouseError;
use super::query::{QueryId, QueryStatus};
use super::session::{Session, SessionInfo};
use crate::{Client, Error};

/// A connection to the selected account's warehouse: a gateway session
/// that renews itself. Cheap to clone; clones share the session. Open one
/// with [`get_snowflake_connection`](super::get_snowflake_connection).
///
/// ```no_run
/// # async fn run() -> Result<(), komodo::Error> {
/// let conn = komodo::get_snowflake_connection().profile("production").connect().await?;
/// let mut cursor = conn.execute("SELECT COUNT(*) FROM DEMO.HEALTHCARE.CLAIMS", &[]).await?;
/// println!("{:?}", cursor.fetchone().await?);
/// conn.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connection {
    pub(crate) session: Arc<Session>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("api_url", &self.session.api_url().as_str())
            .field("session", &self.session_info())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a session on the warehouse of `client`'s account, starting in
    /// `database` and `schema` when given.
    pub async fn open(client: Client, database: Option<&str>, schema: Option<&str>) -> Result<Self, Error> {
        Ok(Self { session: Arc::new(Session::open(client, database, schema).await?) })
    }

    /// The account, database, schema and role of the session.
    pub fn session_info(&self) -> SessionInfo {
        self.session.info()
    }

    /// The account the session acts on.
    pub fn account_id(&self) -> &str {
        self.session.account()
    }

    /// The session's current database.
    pub fn database(&self) -> Option<String> {
        self.session_info().database
    }

    /// The session's current schema.
    pub fn schema(&self) -> Option<String> {
        self.session_info().schema
    }

    /// The client holding the credentials (and their provenance).
    pub fn client(&self) -> &Client {
        self.session.client()
    }

    /// The status of a statement, by its query id.
    pub async fn query_status(&self, query_id: &QueryId) -> Result<QueryStatus, Error> {
        Ok(self.query_status_entry(query_id).await?.0)
    }

    /// Like [`query_status`](Self::query_status), but a statement that
    /// failed or was cancelled is its error.
    pub async fn query_status_throw_if_error(&self, query_id: &QueryId) -> Result<QueryStatus, Error> {
        let (status, error) = self.query_status_entry(query_id).await?;
        match error {
            Some(error) if status.is_error() => Err(error.into()),
            _ => Ok(status),
        }
    }

    async fn query_status_entry(&self, query_id: &QueryId) -> Result<(QueryStatus, Option<WarehouseError>), Error> {
        let path = format!("monitoring/queries/{query_id}");
        let envelope = self.session.call(Method::GET, &path, None).await?;
        let monitoring: MonitoringData = self.session.success_data(envelope, &path)?;
        let Some(entry) = monitoring.queries.into_iter().next() else { return Ok((QueryStatus::NoData, None)) };
        let status = QueryStatus::from_str(&entry.status).unwrap_or_else(|never| match never {});
        let error = (!entry.error_code.is_empty() || !entry.error_message.is_empty()).then_some(WarehouseError {
            code: entry.error_code,
            sql_state: None,
            message: entry.error_message,
            query_id: Some(entry.id),
        });
        Ok((status, error))
    }

    /// Cancels a running statement by its query id. Returns whether the
    /// gateway accepted the request.
    pub async fn abort_query(&self, query_id: &QueryId) -> Result<bool, Error> {
        let path = format!("queries/{query_id}/abort-request");
        let envelope = self.session.call(Method::POST, &path, Some(serde_json::json!({}))).await?;
        Ok(envelope.success)
    }

    /// Tells the gateway the session is still in use.
    pub async fn heartbeat(&self) -> Result<(), Error> {
        let path = format!("session/heartbeat?requestId={}", uuid::Uuid::new_v4());
        let envelope = self.session.call(Method::POST, &path, None).await?;
        self.session.success_data::<serde_json::Value>(envelope, "session/heartbeat").map(|_| ())
    }

    /// Closes the session. Later calls on this connection, its clones and
    /// its cursors fail with [`InterfaceError::Closed`](super::InterfaceError::Closed).
    /// Closing twice is not an error.
    pub async fn close(&self) -> Result<(), Error> {
        self.session.close().await
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }
}
