//! Loading a local file into a table of the account's own databases: an
//! Arrow IPC stream (what `write_pandas` sends), CSV with a header row, or
//! Parquet, streamed batch by batch from the file into one Delta commit.
//!
//! The file is read by DataFusion's own readers (CSV with schema
//! inference), its columns matched to the table's by name (exactly, then
//! ignoring ASCII case) and cast to the table's types; target columns the
//! file lacks are NULL. A missing table is created from the file's columns
//! when asked, in the same commit as its rows, so a failed load leaves
//! the table (or its absence) exactly as it was.

use std::path::Path;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Column;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::arrow::ArrowFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, cast, lit};
use datafusion::scalar::ScalarValue;
use deltalake_core::kernel::engine::arrow_conversion::TryIntoArrow as _;
use deltalake_core::protocol::SaveMode;
use futures::StreamExt as _;

use super::session::{Access, Planning, SessionEntry};
use super::statements::{not_allowed, subscription_refused, table_key};
use super::transaction;
use crate::WarehouseError;
use crate::catalog::{ObjectKind, TableKey};
use crate::storage::delta;

/// The format of a file to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadFormat {
    /// An Arrow IPC stream (or an Arrow IPC file): what `write_pandas`
    /// sends, columns and types as written.
    Arrow,
    /// CSV with a header row naming the columns; types are inferred from
    /// the first rows.
    Csv,
    /// Parquet.
    Parquet,
    /// JSON, one object per line (gzipped when `gzip`); types inferred
    /// from the first rows.
    Json {
        /// Whether the file is gzip-compressed.
        gzip: bool,
    },
}

impl LoadFormat {
    /// The format named `name` (`arrow`, `csv`, `parquet`, any case).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "arrow" | "arrow_ipc" | "ipc" | "arrows" => Some(Self::Arrow),
            "csv" => Some(Self::Csv),
            "parquet" => Some(Self::Parquet),
            "json" | "ndjson" | "jsonl" => Some(Self::Json { gzip: false }),
            _ => None,
        }
    }

    /// The format's name, as [`LoadFormat::from_name`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Arrow => "arrow",
            Self::Csv => "csv",
            Self::Parquet => "parquet",
            Self::Json { .. } => "json",
        }
    }
}

/// What a load does when the table is missing or has rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Create the table (its columns those of the file) when it does not
    /// exist; without it a missing table is an error (002003).
    pub create: bool,
    /// Replace every row of the table with the file's (one commit);
    /// without it the rows are appended.
    pub overwrite: bool,
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadSummary {
    /// The table's database.
    pub database: String,
    /// The table's schema.
    pub schema: String,
    /// The table's name.
    pub table: String,
    /// The rows written.
    pub rows_loaded: u64,
    /// Whether the load created the table.
    pub created: bool,
}

/// Reads `name` (`T`, `S.T`, `D.S.T`, parts quoted or not) as Snowflake
/// resolves an identifier, in the session's current database and schema.
pub(crate) fn load_key(
    name: &str,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<TableKey, WarehouseError> {
    let parsed = super::ddl::parse_name(name).map_err(|_| {
        WarehouseError::Compilation(format!(
            "invalid table name {name:?}: name a table as TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE (quote a part \
             to keep its case)"
        ))
    })?;
    table_key(&parsed, database, schema)
}

/// Loads the file at `path` into table `key` of session `s` (on the
/// engine's threads; the caller holds the statement's stop).
pub(crate) async fn load(
    s: &SessionEntry,
    key: TableKey,
    path: &Path,
    format: LoadFormat,
    options: LoadOptions,
) -> Result<LoadSummary, WarehouseError> {
    if *s.access.lock() == Access::ReadOnly {
        return Err(super::privileges::reader_refused(format!("table '{}'", key.2)));
    }
    // Loading is DML with a commit of its own: an open transaction is
    // committed first, as DDL does.
    if transaction::is_open(s) {
        transaction::commit(s).await?;
    }
    let exists = match s.tables.kind(&key) {
        Some(ObjectKind::Table) => true,
        Some(ObjectKind::Subscription) => return Err(subscription_refused(&format!("table '{}'", key.2))),
        Some(ObjectKind::View) => return Err(not_allowed(&format!("loading a file into view {}", key.2))),
        Some(ObjectKind::Temporary) => {
            return Err(not_allowed(&format!(
                "loading a file into temporary table {} (load a permanent table)",
                key.2
            )));
        }
        None if s.tables.subscription_has(&key) || s.tables.data().tables.contains_key(&key.0) => {
            return Err(subscription_refused(&format!("database '{}'", key.0)));
        }
        None if !options.create => {
            return Err(WarehouseError::ObjectNotFound(format!("{}.{}.{}", key.0, key.1, key.2)));
        }
        None => {
            if !s.tables.own.databases()?.contains(&key.0) {
                return Err(WarehouseError::ObjectNotFound(key.0.clone()));
            }
            if !s.tables.own.schemas(&key.0)?.contains(&key.1) {
                return Err(WarehouseError::ObjectNotFound(format!("{}.{}", key.0, key.1)));
            }
            false
        }
    };
    let planning = Planning::borrow(s);
    // The file's batches go straight to the writer, one at a time: no
    // round-robin repartition buffering them for parallel writers when the
    // writer is slower than the reader (an Arrow file reads at memory
    // speed), which would hold much of the file in memory.
    let mut config = planning.config().clone();
    config.options_mut().optimizer.enable_round_robin_repartition = false;
    let state = &datafusion::execution::session_state::SessionStateBuilder::new_from_existing((*planning).clone())
        .with_config(config)
        .build();
    let source = source_table(state, path, format).await?;
    let source_schema = source.schema();
    let location = s.tables.own.table_location(&key.0, &key.1, &key.2)?;
    let (target, target_schema, mode) = if exists {
        let table = delta::open(&location, None).await?;
        let schema = target_schema(&table)?;
        let mode = if options.overwrite { SaveMode::Overwrite } else { SaveMode::Append };
        (table, schema, mode)
    } else {
        let stored = delta::storable_schema(&loadable(&source_schema))?;
        let nullable: Vec<Field> = stored.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
        (delta::handle(&location)?, Arc::new(Schema::new(nullable)), SaveMode::ErrorIfExists)
    };
    let scan = LogicalPlanBuilder::scan("source", datafusion::datasource::provider_as_source(source), None)
        .map_err(WarehouseError::from_datafusion)?;
    let columns = scan.schema().columns();
    let exprs = matched(&source_schema, &columns, &target_schema, &key.2)?;
    let plan = scan.project(exprs).and_then(LogicalPlanBuilder::build).map_err(WarehouseError::from_datafusion)?;
    let written = target
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(delta::operation_session(state))
        .with_save_mode(mode)
        .with_table_name(key.2.clone())
        .await
        .map_err(|e| match delta::from_delta(e) {
            WarehouseError::Conflict(_) if !exists => WarehouseError::AlreadyExists(key.2.clone()),
            other => other,
        })?;
    drop(planning);
    let rows_loaded = added_rows(&written).await;
    Ok(LoadSummary { database: key.0, schema: key.1, table: key.2, rows_loaded, created: !exists })
}

/// A Delta table's columns, as its rows are written.
pub(super) fn target_schema(table: &deltalake_core::DeltaTable) -> Result<SchemaRef, WarehouseError> {
    let schema = table.snapshot().map_err(delta::from_delta)?.schema().clone();
    let fields = schema
        .fields()
        .map(|f| {
            let field: Result<Field, _> = f.try_into_arrow();
            field.map_err(|e| WarehouseError::Internal(format!("column {}: {e}", f.name())))
        })
        .collect::<Result<Vec<Field>, _>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// The rows the table's last commit added (from its commit's metrics).
async fn added_rows(table: &deltalake_core::DeltaTable) -> u64 {
    let commit = table.history(Some(1)).next().await.and_then(Result::ok);
    commit
        .and_then(|c| c.info.get("operationMetrics").cloned())
        .and_then(|m| m.get("num_added_rows").and_then(serde_json::Value::as_u64))
        .unwrap_or(0)
}

/// A DataFusion table over the one file at `path`.
pub(super) async fn source_table(
    state: &datafusion::execution::session_state::SessionState,
    path: &Path,
    format: LoadFormat,
) -> Result<Arc<dyn TableProvider>, WarehouseError> {
    let invalid = |what: String| WarehouseError::InvalidFile(what);
    let size = std::fs::metadata(path).map_err(|source| WarehouseError::Io { path: path.to_owned(), source })?.len();
    if size == 0 {
        return Err(invalid("the file is empty".into()));
    }
    let text = path.to_str().ok_or_else(|| invalid("the file's path is not UTF-8".into()))?;
    let url = ListingTableUrl::parse(text).map_err(|e| invalid(e.to_string()))?;
    let file_format: Arc<dyn FileFormat> = match format {
        LoadFormat::Arrow => Arc::new(ArrowFormat),
        LoadFormat::Csv => Arc::new(CsvFormat::default().with_has_header(true)),
        LoadFormat::Parquet => Arc::new(ParquetFormat::default()),
        LoadFormat::Json { gzip } => {
            let compression = match gzip {
                true => datafusion::datasource::file_format::file_compression_type::FileCompressionType::GZIP,
                false => datafusion::datasource::file_format::file_compression_type::FileCompressionType::UNCOMPRESSED,
            };
            Arc::new(
                datafusion::datasource::file_format::json::JsonFormat::default()
                    .with_file_compression_type(compression),
            )
        }
    };
    // The file is named by its path alone, whatever its extension.
    let options = ListingOptions::new(file_format).with_file_extension("");
    let schema = options.infer_schema(state as &dyn Session, &url).await.map_err(|e| {
        invalid(format!("it cannot be read as {}: {}", format.name(), WarehouseError::from_datafusion(e)))
    })?;
    if schema.fields().is_empty() {
        return Err(invalid(format!("no columns were found in it as {}", format.name())));
    }
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(schema);
    let table = ListingTable::try_new(config).map_err(WarehouseError::from_datafusion)?;
    Ok(Arc::new(table))
}

/// The expressions that make the table's rows from the file's: each
/// target column from the file's column of the same name (exactly, else
/// ignoring ASCII case), cast to its type, or NULL when the file has none.
pub(super) fn matched(
    source: &SchemaRef,
    columns: &[Column],
    target: &SchemaRef,
    table: &str,
) -> Result<Vec<Expr>, WarehouseError> {
    let names: Vec<&str> = source.fields().iter().map(|f| f.name().as_str()).collect();
    let mut used = vec![false; names.len()];
    let mut exprs = Vec::with_capacity(target.fields().len());
    let mut missing_required = Vec::new();
    for field in target.fields() {
        let wanted = field.name();
        let found = match names.iter().position(|n| *n == wanted.as_str()) {
            Some(i) => Some(i),
            None => {
                let alike: Vec<usize> = (0..names.len())
                    .filter(|&i| !used[i] && names[i].eq_ignore_ascii_case(wanted))
                    .filter(|&i| !target.fields().iter().any(|t| t.name().as_str() == names[i]))
                    .collect();
                match alike.as_slice() {
                    [] => None,
                    [one] => Some(*one),
                    several => {
                        let list: Vec<&str> = several.iter().map(|&i| names[i]).collect();
                        return Err(WarehouseError::Compilation(format!(
                            "the file's columns {} all match column {wanted} of table {table} when case is ignored; \
                             rename all but one",
                            quoted_list(&list)
                        )));
                    }
                }
            }
        };
        let expr = match found {
            Some(i) => {
                used[i] = true;
                let column =
                    columns.get(i).cloned().ok_or_else(|| WarehouseError::Internal("a column is missing".into()))?;
                cast(Expr::Column(column), field.data_type().clone())
            }
            None if field.is_nullable() => cast(lit(ScalarValue::Null), field.data_type().clone()),
            None => {
                missing_required.push(wanted.as_str());
                continue;
            }
        };
        exprs.push(expr.alias(wanted));
    }
    let extra: Vec<&str> = names.iter().zip(&used).filter(|(_, u)| !**u).map(|(n, _)| *n).collect();
    if !extra.is_empty() {
        return Err(WarehouseError::Compilation(format!(
            "table {table} has no column {} (the file's columns are matched to the table's by name); add the \
             column{} to the table (ALTER TABLE {table} ADD COLUMN ...) or leave {} out of the file",
            quoted_list(&extra),
            if extra.len() == 1 { "" } else { "s" },
            if extra.len() == 1 { "it" } else { "them" },
        )));
    }
    if !missing_required.is_empty() {
        return Err(WarehouseError::Compilation(format!(
            "column{} {} of table {table} {} NOT NULL and the file has no such column; add {} to the file",
            if missing_required.len() == 1 { "" } else { "s" },
            quoted_list(&missing_required),
            if missing_required.len() == 1 { "is" } else { "are" },
            if missing_required.len() == 1 { "it" } else { "them" },
        )));
    }
    if exprs.is_empty() {
        return Err(WarehouseError::Compilation(format!("the file has none of table {table}'s columns")));
    }
    Ok(exprs)
}

fn quoted_list(names: &[&str]) -> String {
    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}

/// The columns a table created from a file gets, before they are made
/// storable: dictionary-encoded columns (pandas categoricals) as their
/// values, `Date64` as a date, and timestamps with a time zone as instants
/// in UTC (what a table keeps).
fn loadable(schema: &Schema) -> Schema {
    fn plain(data_type: &DataType) -> DataType {
        match data_type {
            DataType::Dictionary(_, values) => plain(values),
            DataType::Date64 => DataType::Date32,
            DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, Some("UTC".into())),
            DataType::Timestamp(TimeUnit::Second, None) => DataType::Timestamp(TimeUnit::Microsecond, None),
            other => other.clone(),
        }
    }
    Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), plain(f.data_type()), f.is_nullable()).with_metadata(f.metadata().clone()))
            .collect::<Vec<_>>(),
    )
}
