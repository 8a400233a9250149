//! The native `Connection` and `Cursor` over the SDK's
//! `komodo::warehouse`, and Arrow results handed to pyarrow through the
//! Arrow C data and stream interfaces (the PyCapsule protocol: no copy).
//!
//! Every network call runs with the GIL released on the process's one
//! runtime. A statement waits for Ctrl-C too: the signal aborts the
//! statement on the warehouse, then raises `KeyboardInterrupt`.
//!
//! A cursor's state sits behind a tokio mutex taken only with the GIL
//! released, so a cursor shared by mistake between threads serialises its
//! calls instead of deadlocking. What the Python getters read
//! (`description`, `rowcount`, ...) is a snapshot taken after each call, so
//! they never wait for a running statement.

use std::collections::VecDeque;
use std::ffi::CStr;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{Array, RecordBatch, RecordBatchIterator, StructArray};
use arrow_schema::{ArrowError, Schema, SchemaRef};
use komodo::warehouse::{self as wh, ArrowBatches, ColumnDescription, QueryId, Row};
use parking_lot::{Mutex, MutexGuard};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyList, PyTuple};

use crate::arrow_export::{export_batch, export_schema};
use crate::errors::{self, InterfaceError, NotSupportedError, OperationalError, ProgrammingError};
use crate::{auth_args, block_on, block_on_with, json_to_py, provider_config, runtime, values};

/// Rows fetched ahead for `fetchone` and iteration, so that each row costs
/// no trip into the runtime.
const ROW_BUFFER: usize = 1024;

/// How long Ctrl-C or a timeout waits for the warehouse to accept the abort.
const ABORT_WAIT: Duration = Duration::from_secs(5);

/// Opens a warehouse session with credentials resolved through the chain
/// (which validates them before any I/O), over the package's one HTTP
/// client.
#[pyfunction]
#[pyo3(signature = (account_id=None, jwt=None, client_id=None, client_secret=None, profile=None, database=None, schema=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn connect(
    py: Python<'_>,
    account_id: Option<String>,
    jwt: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    profile: Option<String>,
    database: Option<String>,
    schema: Option<String>,
) -> PyResult<Connection> {
    let args = auth_args(account_id, jwt, client_id, client_secret, profile);
    let mut builder = wh::ConnectionBuilder::new(provider_config()).args(args);
    if let Some(database) = database {
        builder = builder.database(database);
    }
    if let Some(schema) = schema {
        builder = builder.schema(schema);
    }
    let inner = block_on(py, builder.connect())?.map_err(|e| errors::convert(e, None))?;
    Ok(Connection { inner })
}

/// A warehouse session (the native half of `komodo.Connection`).
#[pyclass(module = "komodo._native", frozen)]
pub(crate) struct Connection {
    inner: wh::Connection,
}

fn query_id(sfqid: &str) -> PyResult<QueryId> {
    QueryId::new(sfqid).map_err(|e| errors::convert(e.into(), None))
}

#[pymethods]
impl Connection {
    /// The account whose warehouse this session reaches.
    #[getter]
    fn account_id(&self) -> String {
        self.inner.account_id().to_owned()
    }

    /// The session's id.
    #[getter]
    fn session_id(&self) -> i64 {
        self.inner.session_info().session_id
    }

    /// The session's current database.
    #[getter]
    fn database(&self) -> Option<String> {
        self.inner.database()
    }

    /// The session's current schema.
    #[getter]
    fn schema(&self) -> Option<String> {
        self.inner.schema()
    }

    /// Whether the session was closed.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// A new cursor.
    fn cursor(&self) -> Cursor {
        Cursor::new(self.inner.cursor())
    }

    /// The status of a statement (`RUNNING`, `SUCCESS`, ...).
    fn query_status(&self, py: Python<'_>, sfqid: &str) -> PyResult<String> {
        let id = query_id(sfqid)?;
        let conn = self.inner.clone();
        let status =
            block_on(py, async move { conn.query_status(&id).await })?.map_err(|e| errors::convert(e, None))?;
        Ok(status.to_string())
    }

    /// Aborts a statement by its id; whether the warehouse accepted.
    fn abort_query(&self, py: Python<'_>, sfqid: &str) -> PyResult<bool> {
        let id = query_id(sfqid)?;
        let conn = self.inner.clone();
        block_on(py, async move { conn.abort_query(&id).await })?.map_err(|e| errors::convert(e, None))
    }

    /// Loads `data`, a whole file in `format` (`arrow`, an Arrow IPC
    /// stream; `csv`; `parquet`), into `table` in one commit; returns
    /// `{"rows_loaded", "created", "database", "schema", "table"}`.
    #[pyo3(signature = (table, data, format="arrow", create=false, overwrite=false))]
    fn load_bytes(
        &self,
        py: Python<'_>,
        table: &str,
        data: pyo3::pybacked::PyBackedBytes,
        format: &str,
        create: bool,
        overwrite: bool,
    ) -> PyResult<Py<PyAny>> {
        let format = load_format(format)?;
        let (conn, table, data) = (self.inner.clone(), table.to_owned(), bytes::Bytes::copy_from_slice(&data));
        let options = wh::LoadOptions::new().create(create).overwrite(overwrite);
        let summary = block_on(py, async move { conn.load_bytes(&table, data, format, options).await })?
            .map_err(|e| errors::convert(e, None))?;
        summary_to_py(py, &summary)
    }

    /// Loads the file at `path` (streamed, never read whole into memory)
    /// into `table` in one commit, as `load_bytes` does.
    #[pyo3(signature = (table, path, format=None, create=false, overwrite=false))]
    fn load_file(
        &self,
        py: Python<'_>,
        table: &str,
        path: std::path::PathBuf,
        format: Option<&str>,
        create: bool,
        overwrite: bool,
    ) -> PyResult<Py<PyAny>> {
        let format = match format {
            Some(name) => load_format(name)?,
            None => wh::LoadFormat::from_path(&path).ok_or_else(|| {
                ProgrammingError::new_err(format!(
                    "cannot tell the format of {} from its extension: pass format='csv', 'parquet' or 'arrow'",
                    path.display()
                ))
            })?,
        };
        let (conn, table) = (self.inner.clone(), table.to_owned());
        let options = wh::LoadOptions::new().create(create).overwrite(overwrite);
        let summary = block_on(py, async move { conn.load_file(&table, &path, format, options).await })?
            .map_err(|e| errors::convert(e, None))?;
        summary_to_py(py, &summary)
    }

    /// Ends the session (harmless when already closed).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if self.inner.is_closed() {
            return Ok(());
        }
        let conn = self.inner.clone();
        block_on(py, async move { conn.close().await })?.map_err(|e| errors::convert(e, None))
    }

    fn __repr__(&self) -> String {
        format!(
            "komodo._native.Connection(account_id={:?}, closed={})",
            self.inner.account_id(),
            self.inner.is_closed()
        )
    }
}

/// The load format named `name`.
fn load_format(name: &str) -> PyResult<wh::LoadFormat> {
    match name.trim().to_ascii_lowercase().as_str() {
        "arrow" => Ok(wh::LoadFormat::Arrow),
        "csv" => Ok(wh::LoadFormat::Csv),
        "parquet" => Ok(wh::LoadFormat::Parquet),
        other => Err(ProgrammingError::new_err(format!("unknown format {other:?}: use 'arrow', 'csv' or 'parquet'"))),
    }
}

/// A load's summary as a dict.
fn summary_to_py(py: Python<'_>, summary: &wh::LoadSummary) -> PyResult<Py<PyAny>> {
    json_to_py(
        py,
        &serde_json::json!({
            "rows_loaded": summary.rows_loaded,
            "created": summary.created,
            "database": summary.database,
            "schema": summary.schema,
            "table": summary.table,
        }),
    )
}

/// What a cursor holds between calls.
struct State {
    cursor: wh::Cursor,
    /// Rows fetched ahead for `fetchone`.
    buffer: VecDeque<Row>,
    /// The Arrow stream, once an Arrow fetch began.
    batches: Option<ArrowBatches>,
    /// Whether an Arrow fetch took the whole result (later fetches are empty).
    drained: Option<SchemaRef>,
}

impl State {
    fn reset(&mut self) {
        self.buffer.clear();
        self.batches = None;
        self.drained = None;
    }
}

/// One column as PEP 249 describes it: `(name, type_code, display_size,
/// internal_size, precision, scale, null_ok)`.
type DescriptionTuple = (String, u8, Option<i64>, Option<i64>, Option<i64>, Option<i64>, bool);

/// What the getters read, refreshed after each call.
#[derive(Default)]
struct Snapshot {
    description: Option<Vec<ColumnDescription>>,
    rowcount: Option<u64>,
    sfqid: Option<String>,
    sqlstate: Option<String>,
    rownumber: Option<u64>,
}

/// Runs statements and fetches results (the native half of `komodo.Cursor`).
#[pyclass(module = "komodo._native", frozen)]
pub(crate) struct Cursor {
    state: Arc<tokio::sync::Mutex<State>>,
    cancel: wh::CancelHandle,
    snapshot: Mutex<Snapshot>,
}

impl Cursor {
    fn new(cursor: wh::Cursor) -> Self {
        let cancel = cursor.cancel_handle();
        let state = State { cursor, buffer: VecDeque::new(), batches: None, drained: None };
        Self { state: Arc::new(tokio::sync::Mutex::new(state)), cancel, snapshot: Mutex::default() }
    }

    fn snapshot(&self) -> MutexGuard<'_, Snapshot> {
        self.snapshot.lock()
    }

    /// Records the cursor's result metadata after a statement.
    fn refresh(&self, cursor: &wh::Cursor) {
        let mut snapshot = self.snapshot();
        snapshot.description = cursor.description().map(<[ColumnDescription]>::to_vec);
        snapshot.rowcount = cursor.rowcount();
        snapshot.sfqid = cursor.sfqid().map(ToString::to_string);
        snapshot.sqlstate = cursor.sqlstate().map(str::to_owned);
        snapshot.rownumber = snapshot.description.as_ref().map(|_| 0);
    }

    fn advance(&self, rows: usize) {
        if let Some(n) = self.snapshot().rownumber.as_mut() {
            *n += rows as u64;
        }
    }

    /// Runs `statement` on the cursor's state with the GIL released; Ctrl-C
    /// (or `timeout`) aborts the statement on the warehouse.
    fn run_statement<T, F, Fut>(
        &self,
        py: Python<'_>,
        sql: Option<&str>,
        timeout: Option<f64>,
        statement: F,
    ) -> PyResult<T>
    where
        F: FnOnce(tokio::sync::OwnedMutexGuard<State>) -> Fut + Send,
        Fut: Future<Output = (tokio::sync::OwnedMutexGuard<State>, Result<T, komodo::Error>)>,
        T: Send,
    {
        let state = self.state.clone();
        let cancel = self.cancel.clone();
        let deadline = match timeout {
            Some(t) if t.is_finite() && t > 0.0 => Some(Duration::from_secs_f64(t)),
            Some(t) => {
                return Err(ProgrammingError::new_err(format!(
                    "timeout must be a positive number of seconds, got {t}"
                )));
            }
            None => None,
        };
        let outcome = block_on_abortable(py, &cancel, deadline, move || async move {
            let mut guard = state.lock_owned().await;
            guard.reset();
            statement(guard).await
        })?;
        let (guard, result, timed_out) = outcome;
        self.refresh(&guard.cursor);
        drop(guard);
        match result {
            Ok(value) => Ok(value),
            Err(komodo::Error::Warehouse(err)) if timed_out && err.is_cancelled() => {
                let message = format!(
                    "the statement was cancelled after the timeout of {} s: {err}",
                    deadline.map_or(0.0, |d| d.as_secs_f64())
                );
                let py_err = OperationalError::new_err(message);
                errors::set_attributes(py, &py_err, &err, sql);
                Err(py_err)
            }
            Err(err) => Err(errors::convert(err, sql)),
        }
    }

    /// Runs a fetch with the GIL released (Ctrl-C stops waiting).
    fn fetch<T, F, Fut>(&self, py: Python<'_>, fetch: F) -> PyResult<T>
    where
        F: FnOnce(tokio::sync::OwnedMutexGuard<State>) -> Fut + Send,
        Fut: Future<Output = Result<T, komodo::Error>>,
        T: Send,
    {
        let state = self.state.clone();
        block_on_with(py, move || async move { fetch(state.lock_owned().await).await })?
            .map_err(|e| errors::convert(e, None))
    }
}

/// Like [`block_on`], but Ctrl-C aborts the running statement (through
/// `cancel`) before raising, and a `deadline` aborts it and lets it end
/// with its cancellation error. Returns the statement's output and whether
/// the deadline passed.
fn block_on_abortable<M, F, G, T>(
    py: Python<'_>,
    cancel: &wh::CancelHandle,
    deadline: Option<Duration>,
    make: M,
) -> PyResult<(G, T, bool)>
where
    M: FnOnce() -> F + Send,
    F: Future<Output = (G, T)>,
    G: Send,
    T: Send,
{
    let cancel = cancel.clone();
    py.detach(move || {
        runtime().block_on(async move {
            let future = make();
            tokio::pin!(future);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let sleep = tokio::time::sleep(deadline.unwrap_or(Duration::MAX / 4));
            tokio::pin!(sleep);
            let mut timed_out = false;
            loop {
                tokio::select! {
                    (guard, output) = &mut future => return Ok((guard, output, timed_out)),
                    _ = tick.tick() => {
                        if let Err(err) = Python::attach(|py| py.check_signals()) {
                            // Stop the statement on the warehouse, not only the wait for it.
                            let _ = tokio::time::timeout(ABORT_WAIT, cancel.cancel()).await;
                            return Err(err);
                        }
                    }
                    _ = &mut sleep, if deadline.is_some() && !timed_out => {
                        timed_out = true;
                        let _ = tokio::time::timeout(ABORT_WAIT, cancel.cancel()).await;
                    }
                }
            }
        })
    })
}

fn rows_to_list<'py>(py: Python<'py>, rows: &[Row]) -> PyResult<Bound<'py, PyList>> {
    let tuples = rows.iter().map(|row| values::row_to_py(py, row)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, tuples)
}

/// Takes up to `size` rows: the buffered ones first, then from the result.
async fn take_rows(state: &mut State, size: Option<usize>) -> Result<Vec<Row>, komodo::Error> {
    if state.batches.is_some() || state.drained.is_some() {
        return Ok(Vec::new());
    }
    let mut rows: Vec<Row> = match size {
        Some(n) => state.buffer.drain(..n.min(state.buffer.len())).collect(),
        None => state.buffer.drain(..).collect(),
    };
    match size {
        Some(n) if rows.len() < n => rows.extend(state.cursor.fetchmany(n - rows.len()).await?),
        Some(_) => {}
        None => rows.extend(state.cursor.fetchall().await?),
    }
    Ok(rows)
}

/// The Arrow stream of the remaining rows (starting it on first use).
fn arrow_batches(state: &mut State) -> Result<&mut ArrowBatches, komodo::Error> {
    if !state.buffer.is_empty() {
        return Err(wh::InterfaceError::NotArrow.into());
    }
    if state.batches.is_none() {
        state.batches = Some(state.cursor.fetch_arrow_batches()?);
    }
    Ok(state.batches.as_mut().expect("set above"))
}

fn arrow_error(err: ArrowError) -> PyErr {
    errors::InternalError::new_err(format!("cannot export the result to Arrow: {err}"))
}

#[pymethods]
impl Cursor {
    /// Runs one statement and waits for its result.
    #[pyo3(signature = (sql, params=None, timeout=None))]
    fn execute(
        &self,
        py: Python<'_>,
        sql: String,
        params: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let params = values::params_from_py(params)?;
        let text = sql.clone();
        self.run_statement(py, Some(&text), timeout, |mut guard| async move {
            let result = guard.cursor.execute(&sql, &params).await.map(drop);
            (guard, result)
        })
    }

    /// Runs one statement per parameter sequence; the row count is their total.
    fn executemany(&self, py: Python<'_>, sql: String, seq_of_params: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut param_sets = Vec::new();
        for params in seq_of_params.try_iter()? {
            param_sets.push(values::params_from_py(Some(&params?))?);
        }
        let text = sql.clone();
        self.run_statement(py, Some(&text), None, |mut guard| async move {
            let result = guard.cursor.executemany(&sql, &param_sets).await.map(drop);
            (guard, result)
        })
    }

    /// Submits a statement without waiting for it; its query id.
    #[pyo3(signature = (sql, params=None))]
    fn execute_async(&self, py: Python<'_>, sql: String, params: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let params = values::params_from_py(params)?;
        let text = sql.clone();
        self.run_statement(py, Some(&text), None, |mut guard| async move {
            let result = guard.cursor.execute_async(&sql, &params).await.map(|id| id.to_string());
            (guard, result)
        })
    }

    /// Waits for a statement by its id and makes its result the cursor's.
    fn get_results_from_sfqid(&self, py: Python<'_>, sfqid: &str) -> PyResult<()> {
        let id = query_id(sfqid)?;
        self.run_statement(py, None, None, |mut guard| async move {
            let result = guard.cursor.get_results_from_query_id(&id).await.map(drop);
            (guard, result)
        })
    }

    /// Aborts the statement this cursor is running; whether one was.
    fn cancel(&self, py: Python<'_>) -> PyResult<bool> {
        let cancel = self.cancel.clone();
        block_on(py, async move { cancel.cancel().await })?.map_err(|e| errors::convert(e, None))
    }

    /// The next row, or `None`.
    fn fetchone<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        // The common case, a buffered row, needs no trip into the runtime.
        let buffered = match self.state.try_lock() {
            Ok(mut state) => state.buffer.pop_front(),
            Err(_) => None,
        };
        let row = match buffered {
            Some(row) => Some(row),
            None => self.fetch(py, |mut state| async move {
                if state.buffer.is_empty() {
                    let rows = take_rows(&mut state, Some(ROW_BUFFER)).await?;
                    state.buffer.extend(rows);
                }
                Ok(state.buffer.pop_front())
            })?,
        };
        match row {
            Some(row) => {
                self.advance(1);
                Ok(Some(values::row_to_py(py, &row)?))
            }
            None => Ok(None),
        }
    }

    /// Up to `size` rows.
    fn fetchmany<'py>(&self, py: Python<'py>, size: usize) -> PyResult<Bound<'py, PyList>> {
        let rows = self.fetch(py, move |mut state| async move { take_rows(&mut state, Some(size)).await })?;
        self.advance(rows.len());
        rows_to_list(py, &rows)
    }

    /// Every remaining row.
    fn fetchall<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = self.fetch(py, |mut state| async move { take_rows(&mut state, None).await })?;
        self.advance(rows.len());
        rows_to_list(py, &rows)
    }

    /// The next Arrow record batch of the result (`__arrow_c_array__`), or `None`.
    fn fetch_arrow_batch(&self, py: Python<'_>) -> PyResult<Option<ArrowBatch>> {
        let batch = self.fetch(py, |mut state| async move {
            if state.drained.is_some() {
                return Ok(None);
            }
            arrow_batches(&mut state)?.next_batch().await
        })?;
        batch
            .map(|batch| {
                self.advance(batch.num_rows());
                Ok(ArrowBatch { batch: Mutex::new(Some(export_batch(batch).map_err(arrow_error)?)) })
            })
            .transpose()
    }

    /// Every remaining row as an Arrow stream (`__arrow_c_stream__`).
    fn fetch_arrow_all(&self, py: Python<'_>) -> PyResult<ArrowStream> {
        let (schema, batches) = self.fetch(py, |mut state| async move {
            if let Some(schema) = &state.drained {
                return Ok((schema.clone(), Vec::new()));
            }
            let stream = arrow_batches(&mut state)?;
            let mut batches = Vec::new();
            while let Some(batch) = stream.next_batch().await? {
                batches.push(batch);
            }
            let schema = stream
                .schema()
                .cloned()
                .or_else(|| batches.first().map(RecordBatch::schema))
                .unwrap_or_else(|| Arc::new(Schema::empty()));
            state.batches = None;
            state.drained = Some(schema.clone());
            Ok((schema, batches))
        })?;
        self.advance(batches.iter().map(RecordBatch::num_rows).sum());
        let batches = batches.into_iter().map(export_batch).collect::<Result<Vec<_>, _>>().map_err(arrow_error)?;
        Ok(ArrowStream { stream: Mutex::new(Some((export_schema(&schema), batches))) })
    }

    /// Drops the result.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let state = self.state.clone();
        block_on(py, async move {
            let mut guard = state.lock().await;
            guard.reset();
            guard.cursor.close();
        })?;
        *self.snapshot() = Snapshot::default();
        Ok(())
    }

    /// The result's columns as 7-tuples, or `None`.
    #[getter]
    fn description(&self) -> Option<Vec<DescriptionTuple>> {
        let snapshot = self.snapshot();
        snapshot.description.as_ref().map(|columns| {
            columns
                .iter()
                .map(|c| {
                    (c.name.clone(), c.type_code, c.display_size, c.internal_size, c.precision, c.scale, c.null_ok)
                })
                .collect()
        })
    }

    /// The rows the last statement returned or changed, or `None`.
    #[getter]
    fn rowcount(&self) -> Option<u64> {
        self.snapshot().rowcount
    }

    /// The last statement's query id.
    #[getter]
    fn sfqid(&self) -> Option<String> {
        self.snapshot().sfqid.clone()
    }

    /// The last statement's SQLSTATE.
    #[getter]
    fn sqlstate(&self) -> Option<String> {
        self.snapshot().sqlstate.clone()
    }

    /// The index of the next row, or `None` without a result.
    #[getter]
    fn rownumber(&self) -> Option<u64> {
        self.snapshot().rownumber
    }
}

const ARROW_SCHEMA: &CStr = c"arrow_schema";
const ARROW_ARRAY: &CStr = c"arrow_array";
const ARROW_ARRAY_STREAM: &CStr = c"arrow_array_stream";

fn no_requested_schema(requested_schema: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    match requested_schema {
        Some(schema) if !schema.is_none() => {
            Err(NotSupportedError::new_err("the result is exported in its own schema; cast it in pyarrow"))
        }
        _ => Ok(()),
    }
}

/// One Arrow record batch, exported once through the Arrow C data
/// interface (`pyarrow.record_batch(obj)`).
#[pyclass(module = "komodo._native", frozen)]
pub(crate) struct ArrowBatch {
    batch: Mutex<Option<RecordBatch>>,
}

#[pymethods]
impl ArrowBatch {
    /// The Arrow PyCapsule protocol: `(schema capsule, array capsule)`.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
        no_requested_schema(requested_schema)?;
        let batch =
            self.batch.lock().take().ok_or_else(|| InterfaceError::new_err("this Arrow batch was already exported"))?;
        let schema = FFI_ArrowSchema::try_from(batch.schema().as_ref()).map_err(arrow_error)?;
        let array = FFI_ArrowArray::new(&StructArray::from(batch).to_data());
        Ok((PyCapsule::new_with_value(py, schema, ARROW_SCHEMA)?, PyCapsule::new_with_value(py, array, ARROW_ARRAY)?))
    }
}

/// Record batches exported once as an Arrow C stream
/// (`pyarrow.RecordBatchReader.from_stream(obj)`).
#[pyclass(module = "komodo._native", frozen)]
pub(crate) struct ArrowStream {
    stream: Mutex<Option<(SchemaRef, Vec<RecordBatch>)>>,
}

#[pymethods]
impl ArrowStream {
    /// The Arrow PyCapsule protocol: an `arrow_array_stream` capsule.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        no_requested_schema(requested_schema)?;
        let (schema, batches) = self
            .stream
            .lock()
            .take()
            .ok_or_else(|| InterfaceError::new_err("this Arrow stream was already exported"))?;
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, ARROW_ARRAY_STREAM)
    }
}
