//! [`Cursor`]: runs statements and fetches their results, as rows of
//! [`Value`]s or as Arrow record batches.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use komodo_protocol::gateway::{AbortRequest, Binding, QUERY_RESULT_FORMAT, QueryRequest, QueryResponseData, codes};
use komodo_protocol::result_stream;
use parking_lot::Mutex;
use reqwest::Method;

use super::connection::Connection;
use super::decode::{ColumnDescription, ColumnMeta};
use super::error::{GatewayError, InterfaceError};
use super::http::{Answer, Envelope};
use super::query::{QueryId, poll_backoff};
use super::result::{ArrowBatches, ResultSet, Row};
use super::session::Session;
use super::stream::StreamReader;
use super::transfer::{self, TransferProgress};
use super::value::Value;
use crate::Error;

/// A poll of a running statement that comes back faster than this was not
/// held by the gateway; the next one waits a little (see [`poll_backoff`]).
const QUICK_POLL: Duration = Duration::from_millis(100);

/// Running statements: each on a new [`Cursor`].
impl Connection {
    /// A new cursor on this connection.
    pub fn cursor(&self) -> Cursor {
        Cursor::new(self.clone())
    }

    /// Runs one statement with positional parameters (`?` or `:1`) and
    /// returns the cursor holding its result.
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<Cursor, Error> {
        let mut cursor = self.cursor();
        cursor.execute(sql, params).await?;
        Ok(cursor)
    }

    /// Runs one statement and streams its rows as Arrow record batches
    /// while the warehouse still produces them; see
    /// [`Cursor::stream_arrow`].
    pub async fn stream_arrow(&self, sql: &str, params: &[Value]) -> Result<ArrowBatches, Error> {
        self.cursor().stream_arrow(sql, params).await
    }
}

/// Runs statements on a [`Connection`] and fetches their results.
///
/// ```no_run
/// # async fn run(conn: komodo::warehouse::Connection) -> Result<(), komodo::Error> {
/// use komodo::warehouse::Value;
///
/// let mut cursor = conn.cursor();
/// cursor
///     .execute("SELECT claim_id, claim_amount FROM DEMO.HEALTHCARE.CLAIMS WHERE claim_amount > ?", &[Value::from(100)])
///     .await?;
/// for column in cursor.description().unwrap_or_default() {
///     println!("{} {}", column.name, column.type_name);
/// }
/// while let Some(row) = cursor.fetchone().await? {
///     println!("{row:?}");
/// }
/// # Ok(()) }
/// ```
pub struct Cursor {
    conn: Connection,
    running: Arc<Mutex<Option<Running>>>,
    result: Option<ResultSet>,
    description: Option<Vec<ColumnDescription>>,
    rowcount: Option<u64>,
    query_id: Option<QueryId>,
    sql_state: Option<String>,
    transfer_progress: Option<TransferProgress>,
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cursor")
            .field("query_id", &self.query_id)
            .field("rowcount", &self.rowcount)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// The statement a cursor is waiting for, as an abort request names it.
#[derive(Debug, Clone)]
struct Running {
    request_id: String,
    sql: String,
}

/// Marks a statement as running for as long as it is alive.
struct RunningGuard {
    slot: Arc<Mutex<Option<Running>>>,
    request_id: String,
}

impl RunningGuard {
    fn new(slot: Arc<Mutex<Option<Running>>>, request_id: &str, sql: &str) -> Self {
        *slot.lock() = Some(Running { request_id: request_id.to_owned(), sql: sql.to_owned() });
        Self { slot, request_id: request_id.to_owned() }
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let mut slot = self.slot.lock();
        if slot.as_ref().is_some_and(|r| r.request_id == self.request_id) {
            *slot = None;
        }
    }
}

/// Cancels the statement a cursor is running, from another task (a
/// Ctrl-C handler, a timer).
///
/// ```no_run
/// # async fn run(conn: komodo::warehouse::Connection) -> Result<(), komodo::Error> {
/// let mut cursor = conn.cursor();
/// let cancel = cursor.cancel_handle();
/// tokio::spawn(async move {
///     tokio::time::sleep(std::time::Duration::from_secs(10)).await;
///     let _ = cancel.cancel().await;
/// });
/// match cursor.execute("SELECT ...", &[]).await {
///     Err(komodo::Error::Warehouse(e)) if e.is_cancelled() => println!("cancelled"),
///     other => { other?; }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CancelHandle {
    session: Arc<Session>,
    running: Arc<Mutex<Option<Running>>>,
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle").field("running", &self.is_running()).finish_non_exhaustive()
    }
}

impl CancelHandle {
    /// Whether the cursor is waiting for a statement.
    pub fn is_running(&self) -> bool {
        self.running.lock().is_some()
    }

    /// Asks the gateway to cancel the running statement (by the request id
    /// it was submitted with); the statement then fails with code
    /// `000604`. Returns `false` when nothing was running.
    pub async fn cancel(&self) -> Result<bool, Error> {
        let Some(running) = self.running.lock().clone() else {
            return Ok(false);
        };
        let path = format!("queries/v1/abort-request?requestId={}", uuid::Uuid::new_v4());
        let body = serde_json::to_value(AbortRequest { sql_text: running.sql, request_id: running.request_id })
            .unwrap_or_default();
        let envelope = self.session.call(Method::POST, &path, Some(body)).await?;
        if envelope.success {
            Ok(true)
        } else {
            Err(self.session.envelope_error(&envelope, "the gateway refused to cancel the statement").into())
        }
    }
}

impl Cursor {
    pub(crate) fn new(conn: Connection) -> Self {
        Self {
            conn,
            running: Arc::new(Mutex::new(None)),
            result: None,
            description: None,
            rowcount: None,
            query_id: None,
            sql_state: None,
            transfer_progress: None,
        }
    }

    /// Calls `progress` as a `PUT` or `GET` run by this cursor moves its
    /// files (for a progress bar); `None` stops calling it.
    pub fn set_transfer_progress(&mut self, progress: Option<TransferProgress>) {
        self.transfer_progress = progress;
    }

    /// The connection the cursor runs on.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Runs one statement with positional parameters (`?` or `:1` in the
    /// SQL), waits for it, and makes its result ready to fetch. A statement
    /// that fails is an [`Error::Warehouse`] with Snowflake's code.
    ///
    /// `PUT file://<path> @stage` and `GET @stage file://<directory>` move
    /// the files between this machine and the stage over the gateway,
    /// streamed (a `PUT` gzips what is not compressed already, as
    /// Snowflake's connectors do), and answer Snowflake's rows for them.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<&mut Self, Error> {
        self.run(sql, scalar_bindings(params)).await
    }

    /// Runs the statement for each set of parameters. An `INSERT` whose
    /// sets agree on each column's type goes as one statement with array
    /// bindings (as snowflake-connector-python sends it); anything else
    /// runs once per set, in order. The row count is the total; the result
    /// is the last statement's.
    pub async fn executemany(&mut self, sql: &str, param_sets: &[Vec<Value>]) -> Result<&mut Self, Error> {
        if is_insert(sql)
            && let Some(bindings) = array_bindings(param_sets)
        {
            return self.run(sql, Some(bindings)).await;
        }
        self.reset();
        let mut total = 0;
        for params in param_sets {
            self.execute(sql, params).await?;
            total += self.rowcount.unwrap_or(0);
        }
        self.rowcount = Some(total);
        Ok(self)
    }

    async fn run(&mut self, sql: &str, bindings: Option<Bindings>) -> Result<&mut Self, Error> {
        self.reset();
        // A malformed PUT or GET goes to the gateway, which answers
        // Snowflake's compilation error for it.
        if let Some(Ok(moving)) = komodo_protocol::transfer::parse(sql) {
            let data = transfer::run(&self.conn.session, moving, self.transfer_progress.clone()).await?;
            self.load(data)?;
            return Ok(self);
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let running = RunningGuard::new(self.running.clone(), &request_id, sql);
        let envelope = self.submit(sql, bindings, false, &request_id).await?;
        let data = self.wait(envelope).await?;
        drop(running);
        self.load(data)?;
        Ok(self)
    }

    /// Submits a statement to run in the background and returns its query
    /// id at once; follow it with [`Connection::query_status`] and fetch its
    /// result with [`get_results_from_query_id`](Self::get_results_from_query_id).
    pub async fn execute_async(&mut self, sql: &str, params: &[Value]) -> Result<QueryId, Error> {
        self.reset();
        let request_id = uuid::Uuid::new_v4().to_string();
        let envelope = self.submit(sql, scalar_bindings(params), true, &request_id).await?;
        let session = self.conn.session.clone();
        if !envelope.success {
            return Err(session.envelope_error(&envelope, "the statement failed").into());
        }
        let finished = envelope.code.is_none();
        let mut data: QueryResponseData = session.success_data(envelope, "queries/v1/query-request")?;
        let query_id = data.query_id.take().ok_or_else(|| GatewayError::Protocol {
            endpoint: "POST /queries/v1/query-request".into(),
            reason: "the answer has no query id".into(),
        })?;
        let query_id = QueryId::new(query_id).map_err(|e| GatewayError::Protocol {
            endpoint: "POST /queries/v1/query-request".into(),
            reason: e.to_string(),
        })?;
        if finished {
            // The gateway ran it at once: keep the result.
            data.query_id = Some(query_id.to_string());
            self.load(data)?;
        }
        self.query_id = Some(query_id.clone());
        Ok(query_id)
    }

    /// Waits for the statement `query_id` (submitted by any cursor of the
    /// account) and makes its result ready to fetch. A statement that
    /// failed or was cancelled is its error.
    pub async fn get_results_from_query_id(&mut self, query_id: &QueryId) -> Result<&mut Self, Error> {
        self.reset();
        let path = format!("queries/{query_id}/result");
        let envelope = self.conn.session.call(Method::GET, &path, None).await?;
        let data = self.wait(envelope).await?;
        self.load(data)?;
        Ok(self)
    }

    /// A handle that cancels the statement this cursor is running, usable
    /// from another task.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle { session: self.conn.session.clone(), running: self.running.clone() }
    }

    /// Cancels the statement this cursor is running (see
    /// [`CancelHandle::cancel`]).
    pub async fn cancel(&self) -> Result<bool, Error> {
        self.cancel_handle().cancel().await
    }

    /// The result's columns (PEP 249's `description`); `None` before a
    /// statement ran.
    pub fn description(&self) -> Option<&[ColumnDescription]> {
        self.description.as_deref()
    }

    /// The number of rows the statement returned, or changed for DML;
    /// `None` before a statement ran.
    pub fn rowcount(&self) -> Option<u64> {
        self.rowcount
    }

    /// The id of the last statement (Snowflake's `sfqid`).
    pub fn sfqid(&self) -> Option<&QueryId> {
        self.query_id.as_ref()
    }

    /// The SQLSTATE of the last statement (`00000` on success).
    pub fn sqlstate(&self) -> Option<&str> {
        self.sql_state.as_deref()
    }

    /// The Arrow schema of the result, when it came as Arrow.
    pub fn arrow_schema(&self) -> Option<SchemaRef> {
        self.result.as_ref().and_then(|r| r.schema().cloned())
    }

    fn result(&mut self) -> Result<&mut ResultSet, Error> {
        self.result.as_mut().ok_or_else(|| InterfaceError::NoResult.into())
    }

    /// The next row, or `None` after the last.
    pub async fn fetchone(&mut self) -> Result<Option<Row>, Error> {
        self.result()?.next_row().await
    }

    /// Up to `size` further rows.
    pub async fn fetchmany(&mut self, size: usize) -> Result<Vec<Row>, Error> {
        let result = self.result()?;
        let mut rows = Vec::with_capacity(size.min(4096));
        while rows.len() < size {
            match result.next_row().await? {
                Some(row) => rows.push(row),
                None => break,
            }
        }
        Ok(rows)
    }

    /// Every remaining row.
    pub async fn fetchall(&mut self) -> Result<Vec<Row>, Error> {
        let result = self.result()?;
        let mut rows = Vec::new();
        while let Some(row) = result.next_row().await? {
            rows.push(row);
        }
        Ok(rows)
    }

    /// The remaining rows as a stream of Arrow record batches, exactly as
    /// the gateway sent them (no per-row conversion); the cursor has no
    /// rows left afterwards. Needs an Arrow result (the SDK asks for one).
    pub fn fetch_arrow_batches(&mut self) -> Result<ArrowBatches, Error> {
        let result = self.result.take().ok_or(InterfaceError::NoResult)?;
        if !result.is_arrow() {
            self.result = Some(result);
            return Err(InterfaceError::NotArrow.into());
        }
        Ok(ArrowBatches::new(Some(result)))
    }

    /// Runs one statement and streams its rows as Arrow record batches
    /// while the warehouse still produces them: the first batch can arrive
    /// long before the statement ends, and a large result is never held
    /// whole on either side. The cursor's [`description`](Self::description)
    /// and [`sfqid`](Self::sfqid) are set at once; its
    /// [`rowcount`](Self::rowcount) stays unknown, as the rows are still
    /// coming. A statement that fails before its first row is an error
    /// here, one that fails later is the stream's last item; dropping the
    /// stream stops the statement. The platform keeps nothing of a streamed
    /// result (no [`get_results_from_query_id`](Self::get_results_from_query_id)
    /// later). A gateway that does not stream results answers as usual, and
    /// the batches come from that answer.
    pub async fn stream_arrow(&mut self, sql: &str, params: &[Value]) -> Result<ArrowBatches, Error> {
        self.reset();
        let request_id = uuid::Uuid::new_v4().to_string();
        let running = RunningGuard::new(self.running.clone(), &request_id, sql);
        let session = self.conn.session.clone();
        let mut body =
            query_body(sql, scalar_bindings(params), false, session.next_sequence(), clock_millis(&self.conn));
        body["parameters"][result_stream::RESULT_STREAM] = serde_json::Value::Bool(true);
        let url = session.endpoint(&format!("queries/v1/query-request?requestId={request_id}"));
        match session.call_answer(Method::POST, url, Some(body)).await? {
            Answer::Envelope(envelope) => {
                let data = self.wait(envelope).await?;
                drop(running);
                self.load(data)?;
                self.fetch_arrow_batches()
            }
            Answer::Stream(response) => {
                drop(running);
                let mut reader = StreamReader::new(response, session);
                let head = reader.head().await?;
                let schema = reader.schema().await?;
                let rowtype = head.rowtype.unwrap_or_default();
                self.description = Some(rowtype.iter().map(ColumnDescription::from_row_type).collect());
                self.query_id = head.query_id.and_then(|id| QueryId::new(id).ok());
                self.sql_state = head.sql_state;
                Ok(ArrowBatches::streamed(schema, reader))
            }
            Answer::File(_) => Err(GatewayError::Protocol {
                endpoint: "POST /queries/v1/query-request".into(),
                reason: "a file where a statement's result was expected".into(),
            }
            .into()),
        }
    }

    /// Every remaining row as Arrow record batches.
    pub async fn fetch_arrow_all(&mut self) -> Result<Vec<RecordBatch>, Error> {
        self.fetch_arrow_batches()?.collect_all().await
    }

    /// Drops the result (stopping its downloads).
    pub fn close(&mut self) {
        self.reset();
    }

    fn reset(&mut self) {
        self.result = None;
        self.description = None;
        self.rowcount = None;
        self.query_id = None;
        self.sql_state = None;
    }

    async fn submit(
        &self,
        sql: &str,
        bindings: Option<Bindings>,
        async_exec: bool,
        request_id: &str,
    ) -> Result<Envelope, Error> {
        let session = &self.conn.session;
        let now = clock_millis(&self.conn);
        let body = query_body(sql, bindings, async_exec, session.next_sequence(), now);
        let path = format!("queries/v1/query-request?requestId={request_id}");
        session.call(Method::POST, &path, Some(body)).await
    }

    /// Follows a statement that is still running (`333333`) until it
    /// finishes; a failed statement is its error.
    async fn wait(&self, mut envelope: Envelope) -> Result<QueryResponseData, Error> {
        let session = &self.conn.session;
        let mut quick_polls = 0;
        loop {
            if !envelope.success {
                return Err(session.envelope_error(&envelope, "the statement failed").into());
            }
            if !matches!(envelope.code.as_deref(), Some(codes::QUERY_IN_PROGRESS | codes::QUERY_IN_PROGRESS_ASYNC)) {
                return session.success_data(envelope, "the query result");
            }
            let data: QueryResponseData = session.success_data(envelope, "the query progress")?;
            let url = match (data.get_result_url, data.query_id) {
                (Some(url), _) => session.gateway_url(&url)?,
                (None, Some(id)) => {
                    let id = QueryId::new(id).map_err(|e| GatewayError::Protocol {
                        endpoint: "getResultUrl".into(),
                        reason: e.to_string(),
                    })?;
                    session.endpoint(&format!("queries/{id}/result"))
                }
                (None, None) => {
                    return Err(GatewayError::Protocol {
                        endpoint: "getResultUrl".into(),
                        reason: "a running statement came without a result URL or query id".into(),
                    }
                    .into());
                }
            };
            if quick_polls > 0 {
                tokio::time::sleep(poll_backoff(quick_polls - 1)).await;
            }
            let started = Instant::now();
            envelope = session.call_url(Method::GET, url, None).await?;
            quick_polls = if started.elapsed() < QUICK_POLL { quick_polls + 1 } else { 0 };
        }
    }

    /// Makes a finished statement's result the cursor's.
    fn load(&mut self, mut data: QueryResponseData) -> Result<(), Error> {
        let session = self.conn.session.clone();
        let rowtype = data.rowtype.take().unwrap_or_default();
        let columns: Arc<[ColumnMeta]> = rowtype.iter().map(ColumnMeta::from_row_type).collect();
        let result = ResultSet::from_response(&mut data, columns, &session.http)?;
        self.rowcount = match data.statement_type_id {
            Some(id) if is_dml(id) => Some(dml_row_count(&rowtype, &result)?),
            _ => data.total.or(data.returned),
        };
        self.description = Some(rowtype.iter().map(ColumnDescription::from_row_type).collect());
        self.query_id = data.query_id.and_then(|id| QueryId::new(id).ok());
        self.sql_state = data.sql_state;
        session.update_context(data.final_database_name.as_deref(), data.final_schema_name.as_deref());
        self.result = Some(result);
        Ok(())
    }
}

fn clock_millis(conn: &Connection) -> i64 {
    let now = conn.client().config().clock().now();
    now.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Bindings keyed by position: `"1"`, `"2"`, ...
type Bindings = BTreeMap<String, Binding>;

/// One binding per parameter (`None` without parameters).
fn scalar_bindings(params: &[Value]) -> Option<Bindings> {
    (!params.is_empty())
        .then(|| params.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), v.to_binding())).collect())
}

/// Rows of parameters as one array binding per column, when there are
/// rows, they all have the same length, and each column's non-null values
/// share one binding type (`ANY` when they are all null).
fn array_bindings(param_sets: &[Vec<Value>]) -> Option<Bindings> {
    let width = param_sets.first()?.len();
    if width == 0 || param_sets.iter().any(|row| row.len() != width) {
        return None;
    }
    let mut bindings = Bindings::new();
    for column in 0..width {
        let mut type_name: Option<String> = None;
        let mut values = Vec::with_capacity(param_sets.len());
        for row in param_sets {
            let binding = row[column].to_binding();
            if !binding.value.is_null() {
                match &type_name {
                    Some(t) if *t != binding.type_name => return None,
                    Some(_) => {}
                    None => type_name = Some(binding.type_name),
                }
            }
            values.push(binding.value);
        }
        let binding = Binding {
            type_name: type_name.unwrap_or_else(|| "ANY".to_owned()),
            value: serde_json::Value::Array(values),
        };
        bindings.insert((column + 1).to_string(), binding);
    }
    Some(bindings)
}

/// Whether a statement is an `INSERT` (after leading blanks and parentheses).
fn is_insert(sql: &str) -> bool {
    let start = sql.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
    start.get(..6).is_some_and(|word| word.eq_ignore_ascii_case("insert"))
}

/// The body of `POST /queries/v1/query-request`: the statement, its
/// bindings, and a request for Arrow results.
pub(crate) fn query_body(
    sql: &str,
    bindings: Option<Bindings>,
    async_exec: bool,
    sequence_id: u64,
    submitted_at_ms: i64,
) -> serde_json::Value {
    let mut parameters = serde_json::Map::new();
    parameters.insert(QUERY_RESULT_FORMAT.to_owned(), serde_json::Value::from("ARROW"));
    let request = QueryRequest {
        sql_text: sql.to_owned(),
        async_exec,
        sequence_id,
        query_submission_time: Some(submitted_at_ms),
        bindings,
        parameters,
        describe_only: false,
    };
    serde_json::to_value(request).unwrap_or_default()
}

/// Whether a `statementTypeId` is DML (`0x3000`: insert, update, delete,
/// merge, multi-table insert), whose row count is the rows changed.
fn is_dml(statement_type_id: i64) -> bool {
    (0x3000..0x4000).contains(&statement_type_id)
}

/// The rows a DML statement changed: the sum of its first row's
/// `number of rows inserted/updated/deleted` columns, as the connectors
/// count them.
fn dml_row_count(rowtype: &[komodo_protocol::gateway::RowType], result: &ResultSet) -> Result<u64, Error> {
    let Some(row) = result.peek_first_row() else { return Ok(0) };
    let row = row?;
    let counted = |name: &str| {
        let name = name.to_ascii_lowercase();
        name.starts_with("number of rows inserted")
            || name == "number of rows updated"
            || name == "number of multi-joined rows updated"
            || name == "number of rows deleted"
    };
    Ok(rowtype
        .iter()
        .zip(row)
        .filter(|(rt, _)| counted(&rt.name))
        .filter_map(|(_, value)| value.as_i64())
        .map(|n| u64::try_from(n).unwrap_or(0))
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn query_bodies_ask_for_arrow_and_number_bindings_from_one() {
        let params = [Value::from(42), Value::from("x"), Value::Null, Value::from(date!(2024 - 01 - 02))];
        let body = query_body("SELECT ?, ?, ?, ?", scalar_bindings(&params), false, 3, 1_723_020_000_000);
        assert_eq!(
            body,
            serde_json::json!({
                "sqlText": "SELECT ?, ?, ?, ?",
                "asyncExec": false,
                "sequenceId": 3,
                "querySubmissionTime": 1_723_020_000_000i64,
                "bindings": {
                    "1": {"type": "FIXED", "value": "42"},
                    "2": {"type": "TEXT", "value": "x"},
                    "3": {"type": "ANY", "value": null},
                    "4": {"type": "DATE", "value": "1704153600000"},
                },
                "parameters": {"QUERY_RESULT_FORMAT": "ARROW"},
            })
        );
        let body = query_body("SELECT 1", scalar_bindings(&[]), true, 1, 0);
        assert_eq!(body["asyncExec"], true);
        assert!(body.get("bindings").is_none());
        // More than nine parameters keep their numbers.
        let many: Vec<Value> = (0..12).map(Value::from).collect();
        let body = query_body("x", scalar_bindings(&many), false, 1, 0);
        assert_eq!(body["bindings"]["12"]["value"], "11");
    }

    #[test]
    fn executemany_sends_columns_as_array_bindings() {
        let rows =
            vec![vec![Value::from(1), Value::from("a"), Value::Null], vec![Value::from(2), Value::Null, Value::Null]];
        let bindings = array_bindings(&rows).unwrap();
        assert_eq!(
            serde_json::to_value(&bindings).unwrap(),
            serde_json::json!({
                "1": {"type": "FIXED", "value": ["1", "2"]},
                "2": {"type": "TEXT", "value": ["a", null]},
                "3": {"type": "ANY", "value": [null, null]},
            })
        );
        // Types that disagree, ragged rows, no rows: one statement per row.
        assert!(array_bindings(&[vec![Value::from(1)], vec![Value::from(1.5)]]).is_none());
        assert!(array_bindings(&[vec![Value::from(1)], vec![]]).is_none());
        assert!(array_bindings(&[]).is_none());
        assert!(is_insert("  insert INTO t VALUES (?)") && is_insert("(INSERT"));
        assert!(!is_insert("SELECT 1") && !is_insert("ins"));
    }

    #[test]
    fn dml_statement_types() {
        assert!(is_dml(0x3100) && is_dml(0x3000) && is_dml(0x3400));
        assert!(!is_dml(0x1000) && !is_dml(0x6200) && !is_dml(0x4000));
    }
}
