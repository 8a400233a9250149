//! `COPY INTO <table> FROM @stage` (loading staged files) and `COPY INTO
//! @stage FROM <query>` (unloading a result into a file).
//!
//! Loading reads each selected file (`FILES = (...)`, `PATTERN = '...'`,
//! or every file under the stage path) in its format: CSV by this module
//! (Snowflake's options: `FIELD_DELIMITER`, `SKIP_HEADER`,
//! `FIELD_OPTIONALLY_ENCLOSED_BY`, `ESCAPE`, `NULL_IF`,
//! `EMPTY_FIELD_AS_NULL`, `TRIM_SPACE`, `ERROR_ON_COLUMN_COUNT_MISMATCH`,
//! gzip by `COMPRESSION` or a `.gz` name), its fields given to the table's
//! columns in order and cast to their types one row at a time, so that a
//! bad value is an error of its row (`ON_ERROR = ABORT_STATEMENT |
//! CONTINUE | SKIP_FILE`); Parquet and JSON (one object per line) by
//! DataFusion's readers, their columns matched to the table's by name. The
//! rows of every file go into the table in one Delta commit, which also
//! records the files it loaded: a file is loaded once (the next `COPY`
//! skips it, on any replica) unless `FORCE = TRUE`. The answer is
//! Snowflake's, one row per file (`file`, `status`, `rows_parsed`,
//! `rows_loaded`, ..., `first_error`, `first_error_line`, ...).
//!
//! Unloading runs the query and writes one file (CSV and JSON gzipped
//! unless `COMPRESSION = NONE`, Parquet with Snappy), named as Snowflake
//! names them (`data_0_0_0.csv.gz` under a path ending in `/`, else the
//! path's last part as the prefix, or exactly the path with `SINGLE =
//! TRUE`); it answers `rows_unloaded`, `input_bytes`, `output_bytes`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::sql::sqlparser::ast::helpers::stmt_data_loading::{StageLoadSelectItem, StageLoadSelectItemKind};
use datafusion::sql::sqlparser::ast::{self, Statement};
use deltalake_core::kernel::transaction::CommitProperties;
use deltalake_core::protocol::SaveMode;
use futures::StreamExt as _;

use super::file_format::{FileFormat, Kind, Options, flag};
use super::guard::guard;
use super::load::{LoadFormat, matched, source_table, target_schema};
use super::result::{QueryStream, StatementKind, status_result};
use super::session::{Planning, SessionEntry};
use super::stages::{self, StageRef, StagedFile};
use super::statements::{not_allowed, subscription_refused, table_key};
use super::stop::Stop;
use super::transaction;
use crate::WarehouseError;
use crate::catalog::{ObjectKind, TableKey};
use crate::storage::{StageKey, delta};

/// Rows read into one batch.
const BATCH_ROWS: usize = 8192;

/// The commit metadata key listing the files a `COPY` loaded.
const LOADED_FILES: &str = "komodo.loadedFiles";

/// What `ON_ERROR` says to do with a file that has bad rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnError {
    Abort,
    Continue,
    SkipFile,
}

/// A bad row of a file.
#[derive(Debug, Clone)]
struct RowError {
    message: String,
    line: Option<u64>,
    column: Option<String>,
}

/// What reading one file gave.
struct FileRows {
    batches: Vec<RecordBatch>,
    parsed: u64,
    loaded: u64,
    errors: Vec<RowError>,
}

/// One row of the answer: a file's outcome.
struct Outcome {
    file: String,
    status: &'static str,
    parsed: u64,
    loaded: u64,
    errors: Vec<RowError>,
}

/// Runs a `COPY INTO` of session `s`.
pub(crate) async fn copy_into(
    s: &SessionEntry,
    statement: &Statement,
    stop: &Stop,
) -> Result<QueryStream, WarehouseError> {
    let Statement::CopyIntoSnowflake {
        kind,
        into,
        into_columns,
        from_obj,
        from_transformations,
        from_query,
        files,
        pattern,
        file_format,
        copy_options,
        validation_mode,
        stage_params,
        ..
    } = statement
    else {
        return Err(WarehouseError::Internal("not a COPY INTO statement".into()));
    };
    if stage_params.url.is_some() || stage_params.storage_integration.is_some() {
        return Err(not_allowed("COPY from or to an external location"));
    }
    if validation_mode.is_some() {
        return Err(not_allowed("COPY with VALIDATION_MODE"));
    }
    let (database, schema) = s.current.lock().clone();
    let copy_options = super::file_format::options_of(copy_options)?;
    let given_format = super::file_format::options_of(file_format)?;
    if transaction::is_open(s) {
        transaction::commit(s).await?;
    }
    match kind {
        ast::CopyIntoSnowflakeKind::Table => {
            let Some(from) = from_obj else {
                return Err(not_allowed("COPY INTO <table> FROM a query (load from a stage: FROM @stage)"));
            };
            let stage = stages::stage_ref(s, &from.to_string(), &database, &schema)?;
            let format = stages::file_format_of(s, &given_format, &stage, &database, &schema)?;
            let key = table_key(into, &database, &schema)?;
            let mapping = mapping_of(s, &key, into_columns.as_deref(), from_transformations.as_deref(), &format)?;
            let (files, pattern) = (files.clone(), pattern.clone());
            let load = Load { s, key, stage, format, mapping, files, pattern, stop };
            load.run(&copy_options).await
        }
        ast::CopyIntoSnowflakeKind::Location => {
            let stage = stages::stage_ref(s, &into.to_string(), &database, &schema)?;
            let format = stages::file_format_of(s, &given_format, &stage, &database, &schema)?;
            if into_columns.is_some() || from_transformations.is_some() {
                return Err(not_allowed("COPY INTO @stage with a column list"));
            }
            let query = match (from_query, from_obj) {
                (Some(q), _) => q.as_ref().clone(),
                (None, Some(table)) => super::plan::select_star_from(table.clone())?,
                (None, None) => return Err(WarehouseError::Compilation("COPY INTO @stage needs FROM".into())),
            };
            super::unload::unload(s, &stage, format, &copy_options, query, stop).await
        }
    }
}

/// `COPY INTO t (a, b) FROM (SELECT $1:x, $1:y FROM @stage)`: each table
/// column given by its file field (Parquet and JSON); the casts the
/// transformation may write are to the column's type, which loading casts
/// to anyway.
fn mapping_of(
    s: &SessionEntry,
    key: &TableKey,
    columns: Option<&[ast::Ident]>,
    items: Option<&[StageLoadSelectItemKind]>,
    format: &FileFormat,
) -> Result<Option<Vec<(String, String)>>, WarehouseError> {
    let Some(items) = items else {
        return match columns {
            Some(_) => Err(not_allowed(
                "COPY INTO <table> (columns) FROM @stage without a SELECT: name the columns' \
                 fields with FROM (SELECT $1:field, ... FROM @stage)",
            )),
            None => Ok(None),
        };
    };
    if format.kind == Kind::Csv {
        return Err(not_allowed("a COPY transformation of CSV files (load them by position, without a SELECT)"));
    }
    let fields = items
        .iter()
        .map(|item| match item {
            StageLoadSelectItemKind::StageLoadSelectItem(StageLoadSelectItem {
                file_col_num: 1,
                element: Some(field),
                ..
            }) => Ok(field.value.clone()),
            other => Err(not_allowed(&format!(
                "the COPY transformation item {other} (write $1:field for each column, optionally ::TYPE)"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let columns: Vec<String> = match columns {
        Some(columns) => columns.iter().map(|c| c.value.clone()).collect(),
        None => s
            .tables
            .table_schema(key)
            .map(|schema| schema.fields().iter().map(|f| f.name().clone()).collect())
            .unwrap_or_default(),
    };
    if columns.len() != fields.len() {
        return Err(WarehouseError::Compilation(format!(
            "the COPY names {} column{} and selects {} field{}: give one field per column",
            columns.len(),
            if columns.len() == 1 { "" } else { "s" },
            fields.len(),
            if fields.len() == 1 { "" } else { "s" },
        )));
    }
    Ok(Some(columns.into_iter().zip(fields).collect()))
}

/// Writes Snowflake's `COPY INTO t (...) FROM (SELECT $1:"f"::TYPE, ... FROM
/// '@stage')` (what snowflake-connector-python's `write_pandas` sends) as
/// the parser reads it: the casts after each field and the quotes around
/// the stage are taken off. Anything else is returned as it is.
pub(crate) fn plain_transformation(sql: &str) -> Result<std::borrow::Cow<'_, str>, WarehouseError> {
    use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

    let keyword = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.keyword == k);
    let head = sql.trim_start();
    if !head.get(..4).is_some_and(|w| w.eq_ignore_ascii_case("COPY")) {
        return Ok(std::borrow::Cow::Borrowed(sql));
    }
    let tokens = Tokenizer::new(&SnowflakeDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| WarehouseError::Compilation(e.to_string()))?;
    let significant: Vec<_> = tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF)).collect();
    // COPY INTO <name> [(<columns>)] FROM ( SELECT
    let mut depth = 0usize;
    let Some(from) = significant.iter().enumerate().position(|(i, t)| {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        i > 2 && depth == 0 && keyword(&t.token, Keyword::FROM)
    }) else {
        return Ok(std::borrow::Cow::Borrowed(sql));
    };
    let is_transformation = keyword(&significant[1].token, Keyword::INTO)
        && significant.get(from + 1).is_some_and(|t| t.token == Token::LParen)
        && significant.get(from + 2).is_some_and(|t| keyword(&t.token, Keyword::SELECT));
    if !is_transformation {
        return Ok(std::borrow::Cow::Borrowed(sql));
    }
    // Byte ranges to replace, in order.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut offsets = crate::dialect::Offsets::new(sql);
    let mut at = |t: &datafusion::sql::sqlparser::tokenizer::TokenWithSpan, end: bool| {
        let location = if end { t.span.end } else { t.span.start };
        offsets.at(location.line, location.column)
    };
    let mut depth = 0usize;
    let mut cast_from: Option<usize> = None;
    let mut i = from + 3;
    while i < significant.len() {
        let t = significant[i];
        let ends_item = depth == 0 && (t.token == Token::Comma || keyword(&t.token, Keyword::FROM));
        if ends_item && let Some(start) = cast_from.take() {
            let end = at(t, false).ok_or_else(|| WarehouseError::Internal("a token outside the statement".into()))?;
            edits.push((start, end, " ".into()));
        }
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::DoubleColon if depth == 0 && cast_from.is_none() => {
                cast_from = at(t, false);
            }
            _ => {}
        }
        if depth == 0 && keyword(&t.token, Keyword::FROM) {
            if let Some(next) = significant.get(i + 1)
                && let Token::SingleQuotedString(stage) = &next.token
            {
                if !stage.starts_with('@') || stage.contains(|c: char| c.is_whitespace() || c == '(' || c == ')') {
                    return Err(WarehouseError::Compilation(format!("'{stage}' is not a stage: name one as '@stage'")));
                }
                let (Some(start), Some(end)) = (at(next, false), at(next, true)) else {
                    return Err(WarehouseError::Internal("a token outside the statement".into()));
                };
                edits.push((start, end, stage.clone()));
            }
            break;
        }
        i += 1;
    }
    if edits.is_empty() {
        return Ok(std::borrow::Cow::Borrowed(sql));
    }
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    for (start, end, text) in edits {
        out.push_str(&sql[copied..start]);
        out.push_str(&text);
        copied = end;
    }
    out.push_str(&sql[copied..]);
    Ok(std::borrow::Cow::Owned(out))
}

struct Load<'a> {
    s: &'a SessionEntry,
    key: TableKey,
    stage: StageRef,
    format: FileFormat,
    /// Table columns and the file fields that fill them (a transformation).
    mapping: Option<Vec<(String, String)>>,
    files: Option<Vec<String>>,
    pattern: Option<String>,
    stop: &'a Stop,
}

impl Load<'_> {
    async fn run(self, copy_options: &Options) -> Result<QueryStream, WarehouseError> {
        let s = self.s;
        let key = &self.key;
        // A temporary table keeps no load history: its files load each time.
        let temporary = match s.tables.kind(key) {
            Some(ObjectKind::Table) => None,
            Some(ObjectKind::Temporary) => s.tables.temp(key),
            Some(ObjectKind::Subscription) => return Err(subscription_refused(&format!("table '{}'", key.2))),
            Some(ObjectKind::View) => return Err(not_allowed(&format!("COPY INTO {} (a view)", key.2))),
            None => return Err(WarehouseError::ObjectNotFound(key.2.clone())),
        };
        if *s.access.lock() == super::session::Access::ReadOnly {
            return Err(super::privileges::reader_refused(format!("table '{}'", key.2)));
        }
        let mut on_error = OnError::Abort;
        let mut force = false;
        let mut purge = false;
        for (name, value) in copy_options {
            match name.as_str() {
                "ON_ERROR" => {
                    on_error = match value.text().unwrap_or_default().to_ascii_uppercase().as_str() {
                        "ABORT_STATEMENT" => OnError::Abort,
                        "CONTINUE" => OnError::Continue,
                        "SKIP_FILE" => OnError::SkipFile,
                        other => return Err(not_allowed(&format!("ON_ERROR = {other}"))),
                    }
                }
                "FORCE" => force = flag(value, name)?,
                "PURGE" => purge = flag(value, name)?,
                "MATCH_BY_COLUMN_NAME" | "SIZE_LIMIT" | "RETURN_FAILED_ONLY" | "ENFORCE_LENGTH" | "TRUNCATECOLUMNS" => {
                }
                other => return Err(not_allowed(&format!("the COPY option {other}"))),
            }
        }
        let mut selected = stages::files(s, &self.stage, self.pattern.as_deref())?;
        if let Some(names) = &self.files {
            let wanted: BTreeSet<String> = names
                .iter()
                .map(|n| if self.stage.path.is_empty() { n.clone() } else { format!("{}/{n}", self.stage.path) })
                .collect();
            selected.retain(|f| wanted.contains(&f.relative));
        }
        let (table, target, loaded_before) = match &temporary {
            Some(temp) => (None, datafusion::datasource::TableProvider::schema(temp.table.as_ref()), BTreeSet::new()),
            None => {
                let location = s.tables.own.table_location(&key.0, &key.1, &key.2)?;
                let table = delta::open(&location, None).await?;
                let loaded_before = if force { BTreeSet::new() } else { loaded_files(&table).await };
                let target = target_schema(&table)?;
                (Some(table), target, loaded_before)
            }
        };
        let mut outcomes = Vec::new();
        let mut batches = Vec::new();
        let mut recorded = Vec::new();
        // The rows wait for the one commit: counted against the session's
        // and the server's memory limits as each file is read.
        let held = MemoryConsumer::new("COPY INTO rows").register(s.task.memory_pool());
        for file in selected {
            let id = file_id(&self.stage, &file);
            if loaded_before.contains(&id) {
                continue;
            }
            if let Some(reason) = self.stop.reason() {
                return Err(reason);
            }
            let name = self.stage.listed_name(&file.relative);
            let rows = match self.read(&file, &target).await {
                Ok(rows) => rows,
                Err(e @ (WarehouseError::Timeout(_) | WarehouseError::Cancelled)) => return Err(e),
                Err(e) => FileRows {
                    batches: Vec::new(),
                    parsed: 0,
                    loaded: 0,
                    errors: vec![RowError { message: e.to_string(), line: None, column: None }],
                },
            };
            let status = match (rows.errors.is_empty(), on_error) {
                (true, _) => "LOADED",
                (false, OnError::Abort) => {
                    let first = &rows.errors[0];
                    let at = first.line.map(|l| format!(", line {l}")).unwrap_or_default();
                    return Err(WarehouseError::Execution(format!(
                        "{}{at}: {} (nothing was loaded; fix the file, or COPY with ON_ERROR = CONTINUE to load its \
                         good rows)",
                        name, first.message
                    )));
                }
                (false, OnError::SkipFile) => "LOAD_FAILED",
                (false, OnError::Continue) if rows.loaded == 0 => "LOAD_FAILED",
                (false, OnError::Continue) => "PARTIALLY_LOADED",
            };
            let loaded = if status == "LOAD_FAILED" { 0 } else { rows.loaded };
            if loaded > 0 || status == "LOADED" {
                held.try_grow(rows.batches.iter().map(RecordBatch::get_array_memory_size).sum())
                    .map_err(WarehouseError::from_datafusion)?;
                batches.extend(rows.batches);
                recorded.push(id);
            }
            outcomes.push((Outcome { file: name, status, parsed: rows.parsed, loaded, errors: rows.errors }, file));
        }
        if outcomes.is_empty() {
            return Ok(status_result(StatementKind::Show, "Copy executed with 0 files processed.".into()));
        }
        if let Some(temp) = &temporary {
            let mut rows = Vec::new();
            for partition in &temp.table.batches {
                rows.extend(partition.read().await.iter().cloned());
            }
            rows.extend(batches);
            temp.replace(rows).await?;
        } else if let Some(table) = table
            && !recorded.is_empty()
        {
            let properties = CommitProperties::default()
                .with_metadata([(LOADED_FILES.to_owned(), serde_json::Value::from(recorded))]);
            let state = Planning::borrow(s);
            table
                .write(batches)
                .with_session_state(delta::operation_session(&state))
                .with_save_mode(SaveMode::Append)
                .with_commit_properties(properties)
                .await
                .map_err(delta::from_delta)?;
        }
        if purge {
            for (outcome, file) in &outcomes {
                if outcome.status != "LOAD_FAILED" {
                    let _ = std::fs::remove_file(&file.path);
                }
            }
        }
        answer(outcomes.into_iter().map(|(o, _)| o).collect())
    }

    /// The rows of `file` as table columns `target`.
    async fn read(&self, file: &StagedFile, target: &SchemaRef) -> Result<FileRows, WarehouseError> {
        match self.format.kind {
            Kind::Csv => {
                let format = self.format.clone();
                let (path, name, target) = (file.path.clone(), file.relative.clone(), target.clone());
                tokio::task::spawn_blocking(move || read_csv(&path, &name, &format, &target))
                    .await
                    .map_err(|e| WarehouseError::Internal(format!("reading a CSV file failed: {e}")))?
            }
            Kind::Parquet | Kind::Json => self.read_with_datafusion(file, target).await,
        }
    }

    async fn read_with_datafusion(&self, file: &StagedFile, target: &SchemaRef) -> Result<FileRows, WarehouseError> {
        let planning = Planning::borrow(self.s);
        let format = match self.format.kind {
            Kind::Json => LoadFormat::Json { gzip: self.format.gzipped(&file.relative) },
            _ => LoadFormat::Parquet,
        };
        let source = if self.format.kind == Kind::Json && self.format.strip_outer_array {
            let (path, gzip) = (file.path.clone(), self.format.gzipped(&file.relative));
            tokio::task::spawn_blocking(move || json_array_table(&path, gzip))
                .await
                .map_err(|e| WarehouseError::Internal(format!("reading a JSON file failed: {e}")))??
        } else {
            source_table(&planning, &file.path, format).await?
        };
        let source_schema = source.schema();
        let mut scan = LogicalPlanBuilder::scan("source", datafusion::datasource::provider_as_source(source), None)
            .map_err(WarehouseError::from_datafusion)?;
        let mut source_schema = source_schema;
        if let Some(mapping) = &self.mapping {
            let exprs = mapping
                .iter()
                .map(|(column, field)| {
                    let found = source_schema.fields().iter().position(|f| f.name() == field).or_else(|| {
                        let alike: Vec<usize> = (0..source_schema.fields().len())
                            .filter(|&i| source_schema.field(i).name().eq_ignore_ascii_case(field))
                            .collect();
                        (alike.len() == 1).then(|| alike[0])
                    });
                    let i = found.ok_or_else(|| {
                        WarehouseError::InvalidFile(format!("{} has no field {field} ($1:{field})", file.relative))
                    })?;
                    let name = source_schema.field(i).name();
                    Ok(datafusion::prelude::col(datafusion::common::Column::from_name(name)).alias(column))
                })
                .collect::<Result<Vec<_>, WarehouseError>>()?;
            scan = scan.project(exprs).map_err(WarehouseError::from_datafusion)?;
            source_schema = Arc::new(scan.schema().as_arrow().clone());
        }
        let columns = scan.schema().columns();
        let exprs = matched(&source_schema, &columns, target, &self.key.2)?;
        let plan = scan.project(exprs).and_then(LogicalPlanBuilder::build).map_err(WarehouseError::from_datafusion)?;
        let physical = planning.create_physical_plan(&plan).await.map_err(WarehouseError::from_datafusion)?;
        let physical = guard(physical, self.stop).map_err(WarehouseError::from_datafusion)?;
        let batches = datafusion::physical_plan::collect(physical, self.s.task.clone())
            .await
            .map_err(WarehouseError::from_datafusion)?;
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        let batches = batches.into_iter().map(|b| b.with_schema(target.clone())).collect::<Result<Vec<_>, _>>();
        let batches = batches.map_err(|e| WarehouseError::Internal(e.to_string()))?;
        Ok(FileRows { batches, parsed: rows, loaded: rows, errors: Vec::new() })
    }
}

/// The most bytes of JSON one `STRIP_OUTER_ARRAY` file may hold (it is
/// read whole).
const MAX_JSON_ARRAY_BYTES: u64 = 256 * 1024 * 1024;

/// A JSON file holding one array (`STRIP_OUTER_ARRAY = TRUE`) as a table
/// of its elements, their columns inferred from them.
fn json_array_table(path: &Path, gzip: bool) -> Result<Arc<dyn datafusion::datasource::TableProvider>, WarehouseError> {
    let io = |source| WarehouseError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let reader: Box<dyn Read> =
        if gzip { Box::new(flate2::read::GzDecoder::new(file)) } else { Box::new(std::io::BufReader::new(file)) };
    let mut text = Vec::new();
    reader.take(MAX_JSON_ARRAY_BYTES + 1).read_to_end(&mut text).map_err(io)?;
    if text.len() as u64 > MAX_JSON_ARRAY_BYTES {
        return Err(WarehouseError::InvalidFile(format!(
            "the file holds more than {} MiB of JSON in one array: split it, or write one object per line and \
             load it without STRIP_OUTER_ARRAY",
            MAX_JSON_ARRAY_BYTES >> 20
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| WarehouseError::InvalidFile(format!("it is not one JSON value: {e}")))?;
    drop(text);
    let serde_json::Value::Array(rows) = value else {
        return Err(WarehouseError::InvalidFile(
            "it is not a JSON array (STRIP_OUTER_ARRAY = TRUE reads one array of objects)".into(),
        ));
    };
    let invalid = |e: arrow_schema::ArrowError| WarehouseError::InvalidFile(e.to_string());
    let schema = arrow_json::reader::infer_json_schema_from_iterator(rows.iter().map(Ok)).map_err(invalid)?;
    if schema.fields().is_empty() {
        return Err(WarehouseError::InvalidFile("no columns were found in its objects".into()));
    }
    let schema = Arc::new(schema);
    let mut decoder =
        arrow_json::ReaderBuilder::new(schema.clone()).with_batch_size(BATCH_ROWS).build_decoder().map_err(invalid)?;
    let mut batches = Vec::new();
    for piece in rows.chunks(BATCH_ROWS) {
        decoder.serialize(piece).map_err(invalid)?;
        if let Some(batch) = decoder.flush().map_err(invalid)? {
            batches.push(batch);
        }
    }
    let table =
        datafusion::datasource::MemTable::try_new(schema, vec![batches]).map_err(WarehouseError::from_datafusion)?;
    Ok(Arc::new(table))
}

/// What identifies a staged file in the load history: its stage, path,
/// size and time of change (a file put again with new contents loads
/// again, as in Snowflake).
fn file_id(stage: &StageRef, file: &StagedFile) -> String {
    let modified = file.modified.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let stage = match &stage.stage {
        StageKey::User(user) => format!("~{user}"),
        StageKey::Table(db, schema, table) => format!("%{db}.{schema}.{table}"),
        StageKey::Named(db, schema, name) => format!("{db}.{schema}.{name}"),
    };
    format!("{stage}/{}:{}:{modified}", file.relative, file.size)
}

/// The files earlier `COPY`s loaded into the table (its commits' record).
async fn loaded_files(table: &deltalake_core::DeltaTable) -> BTreeSet<String> {
    let mut loaded = BTreeSet::new();
    let mut history = table.history(None);
    while let Some(commit) = history.next().await {
        let Ok(commit) = commit else { continue };
        if let Some(serde_json::Value::Array(files)) = commit.info.get(LOADED_FILES) {
            loaded.extend(files.iter().filter_map(|f| f.as_str().map(str::to_owned)));
        }
    }
    loaded
}

/// Reads CSV file `path` into `target`'s columns, one row at a time.
fn read_csv(path: &Path, name: &str, format: &FileFormat, target: &SchemaRef) -> Result<FileRows, WarehouseError> {
    let io = |source| WarehouseError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let reader: Box<dyn Read> = match format.gzipped(name) {
        true => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
        false => Box::new(BufReader::new(file)),
    };
    let mut reader = BufReader::new(reader);
    // Header lines are skipped as lines, before the CSV reader sees them.
    let mut line_no = 0u64;
    let mut skipped = String::new();
    for _ in 0..format.skip_header {
        skipped.clear();
        if reader.read_line(&mut skipped).map_err(|e| WarehouseError::InvalidFile(format!("{name}: {e}")))? == 0 {
            break;
        }
        line_no += 1;
    }
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(format.delimiter)
        .quoting(format.quote.is_some())
        .quote(format.quote.unwrap_or(b'"'))
        .escape(format.escape)
        .from_reader(reader);
    let width = target.fields().len();
    let mut out = FileRows { batches: Vec::new(), parsed: 0, loaded: 0, errors: Vec::new() };
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(BATCH_ROWS); width];
    let mut lines: Vec<u64> = Vec::with_capacity(BATCH_ROWS);
    let mut record = csv::StringRecord::new();
    loop {
        let more = csv.read_record(&mut record).map_err(|e| WarehouseError::InvalidFile(format!("{name}: {e}")))?;
        if !more {
            break;
        }
        let line = line_no + record.position().map_or(0, |p| p.line());
        out.parsed += 1;
        if record.len() != width && format.column_count_mismatch_is_error {
            out.errors.push(RowError {
                message: format!(
                    "Number of columns in file ({}) does not match that of the corresponding table ({width}), use \
                     file format option error_on_column_count_mismatch=false to ignore this error",
                    record.len()
                ),
                line: Some(line),
                column: None,
            });
            continue;
        }
        for (i, column) in columns.iter_mut().enumerate() {
            column.push(record.get(i).and_then(|v| format.value(v)));
        }
        lines.push(line);
        if lines.len() == BATCH_ROWS {
            convert(&mut columns, &mut lines, target, &mut out)?;
        }
    }
    convert(&mut columns, &mut lines, target, &mut out)?;
    // The first error is the first in the file.
    out.errors.sort_by_key(|e| e.line);
    Ok(out)
}

/// Casts the rows gathered in `columns` to the table's types into a batch
/// of `out`; a row with a value its column's type cannot take is an error
/// of that row.
fn convert(
    columns: &mut [Vec<Option<String>>],
    lines: &mut Vec<u64>,
    target: &SchemaRef,
    out: &mut FileRows,
) -> Result<(), WarehouseError> {
    let rows = lines.len();
    if rows == 0 {
        return Ok(());
    }
    let options = datafusion::arrow::compute::CastOptions { safe: true, ..Default::default() };
    let mut good = vec![true; rows];
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (column, field) in columns.iter_mut().zip(target.fields()) {
        let text = StringArray::from(std::mem::take(column));
        let cast = datafusion::arrow::compute::cast_with_options(&text, field.data_type(), &options).map_err(|e| {
            WarehouseError::NotAllowed(format!("loading column {} ({}) from CSV: {e}", field.name(), field.data_type()))
        })?;
        for row in 0..rows {
            let bad_value = text.is_valid(row) && cast.is_null(row);
            let missing = text.is_null(row) && !field.is_nullable();
            if good[row] && (bad_value || missing) {
                good[row] = false;
                let message = if missing {
                    format!("NULL result in a non-nullable column {}", field.name())
                } else {
                    format!(
                        "'{}' is not a valid {} for column {}",
                        text.value(row),
                        type_word(field.data_type()),
                        field.name()
                    )
                };
                out.errors.push(RowError { message, line: Some(lines[row]), column: Some(field.name().clone()) });
            }
        }
        arrays.push(cast);
    }
    let batch = RecordBatch::try_new(target.clone(), arrays).map_err(|e| WarehouseError::Internal(e.to_string()))?;
    let keep = BooleanArray::from(good);
    let batch = datafusion::arrow::compute::filter_record_batch(&batch, &keep)
        .map_err(|e| WarehouseError::Internal(e.to_string()))?;
    out.loaded += batch.num_rows() as u64;
    out.batches.push(batch);
    lines.clear();
    Ok(())
}

fn type_word(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Boolean => "BOOLEAN",
        DataType::Date32 | DataType::Date64 => "DATE",
        DataType::Timestamp(..) => "TIMESTAMP",
        DataType::Time32(_) | DataType::Time64(_) => "TIME",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR",
        DataType::Float32 | DataType::Float64 => "FLOAT",
        _ => "NUMBER",
    }
}

/// Snowflake's answer to a `COPY INTO <table>`: a row per file.
fn answer(outcomes: Vec<Outcome>) -> Result<QueryStream, WarehouseError> {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let number = |name: &str| Field::new(name, DataType::Int64, true);
    let schema = Arc::new(Schema::new(vec![
        text("file"),
        text("status"),
        number("rows_parsed"),
        number("rows_loaded"),
        number("error_limit"),
        number("errors_seen"),
        text("first_error"),
        number("first_error_line"),
        number("first_error_character"),
        text("first_error_column_name"),
    ]));
    let first = |o: &Outcome| o.errors.first().cloned();
    let count = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(outcomes.iter().map(|o| o.file.clone()))),
        Arc::new(StringArray::from_iter_values(outcomes.iter().map(|o| o.status))),
        Arc::new(Int64Array::from_iter_values(outcomes.iter().map(|o| count(o.parsed)))),
        Arc::new(Int64Array::from_iter_values(outcomes.iter().map(|o| count(o.loaded)))),
        Arc::new(Int64Array::from_iter_values(
            outcomes.iter().map(|o| if o.parsed == 0 { 1 } else { count(o.parsed) }),
        )),
        Arc::new(Int64Array::from_iter_values(outcomes.iter().map(|o| count(o.errors.len() as u64)))),
        Arc::new(StringArray::from(outcomes.iter().map(|o| first(o).map(|e| e.message)).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(
            outcomes.iter().map(|o| first(o).and_then(|e| e.line).map(count)).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(outcomes.iter().map(|o| first(o).map(|_| 1)).collect::<Vec<_>>())),
        Arc::new(StringArray::from(outcomes.iter().map(|o| first(o).and_then(|e| e.column)).collect::<Vec<_>>())),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| WarehouseError::Internal(e.to_string()))?;
    Ok(QueryStream::ready(StatementKind::Show, schema, vec![batch], None))
}
