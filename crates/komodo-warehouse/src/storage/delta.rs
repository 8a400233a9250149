//! An account's own tables as Delta Lake tables (delta-rs): opening a
//! table at its latest or an earlier version, creating one from an Arrow
//! schema, and the errors of both in Snowflake's terms.
//!
//! Every write is one Delta commit: a statement's rows become visible
//! together or not at all, a writer killed half way leaves the table at its
//! last commit (its unreferenced files are ignored), and two writers
//! committing the same version resolve through the log's put-if-absent:
//! delta-rs retries a commit that does not conflict with the one that got
//! in first and fails one that does ([`WarehouseError::Conflict`]).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use deltalake_core::kernel::StructField;
use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake_core::kernel::transaction::TransactionError;
use deltalake_core::protocol::SaveMode;
use deltalake_core::{DeltaTable, DeltaTableBuilder, DeltaTableError};

use crate::WarehouseError;

/// The Arrow types a permanent table keeps as they are; others are stored
/// as the nearest type Delta Lake has (see [`storable_type`]).
fn storable_type(data_type: &DataType) -> Result<DataType, WarehouseError> {
    Ok(match data_type {
        // Delta Lake keeps microseconds.
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary | DataType::FixedSizeBinary(_) => DataType::Binary,
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Null => DataType::Utf8,
        DataType::Time32(_) | DataType::Time64(_) => {
            return Err(WarehouseError::NotAllowed(
                "TIME columns cannot be kept in a permanent table yet; store the time as a VARCHAR or a TIMESTAMP_NTZ"
                    .into(),
            ));
        }
        DataType::Float16 => DataType::Float32,
        other => other.clone(),
    })
}

/// The schema a permanent table is created with for rows of `schema`: the
/// types Delta Lake can keep, the field metadata (Snowflake's logical type
/// of a VARIANT, OBJECT or ARRAY column, a default) kept, but for keys
/// with an empty value (what a plan writes to mean "none": a projection
/// can add metadata keys, not remove them).
pub(crate) fn storable_schema(schema: &Schema) -> Result<SchemaRef, WarehouseError> {
    let fields = schema
        .fields()
        .iter()
        .map(|f| {
            let metadata = f.metadata().iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone()));
            Ok(Field::new(f.name(), storable_type(f.data_type())?, f.is_nullable()).with_metadata(metadata.collect()))
        })
        .collect::<Result<Vec<_>, WarehouseError>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// Opens the table at `location` at its latest version (or `version`).
pub(crate) async fn open(location: &url::Url, version: Option<u64>) -> Result<DeltaTable, WarehouseError> {
    let mut builder = DeltaTableBuilder::from_url(location.clone()).map_err(from_delta)?;
    if let Some(v) = version {
        builder = builder.with_version(v);
    }
    builder.load().await.map_err(from_delta)
}

/// The rows and bytes of the table at `location` at its latest version,
/// from the Delta log's file statistics (no data file is read): what
/// `SHOW TABLES` reports. Rows are `None` when a file has no row count.
pub(crate) async fn size(location: &url::Url) -> Result<(Option<i64>, i64), WarehouseError> {
    let table = open(location, None).await?;
    let snapshot = table.snapshot().map_err(from_delta)?;
    let (mut rows, mut bytes) = (Some(0i64), 0i64);
    for file in snapshot.log_data().iter() {
        bytes = bytes.saturating_add(file.size());
        rows = rows.zip(file.num_records()).map(|(sum, n)| sum.saturating_add(i64::try_from(n).unwrap_or(i64::MAX)));
    }
    Ok((rows, bytes))
}

/// The version of the table at `location` that was current at `moment`
/// (the last one committed at or before it). A moment before the table
/// was created has no version: Snowflake's 000707.
pub(crate) async fn version_at(
    location: &url::Url,
    name: &str,
    moment: chrono::DateTime<chrono::Utc>,
) -> Result<u64, WarehouseError> {
    use futures::StreamExt as _;
    let unavailable = || WarehouseError::InvalidValue {
        code: "000707",
        sql_state: "02000",
        message: format!(
            "Time travel data is not available for table {name}. The requested time is either beyond the allowed \
             time travel period or before the object creation time."
        ),
    };
    let table = DeltaTableBuilder::from_url(location.clone()).map_err(from_delta)?.with_timestamp(moment).load().await;
    let table = match table {
        Ok(table) => table,
        Err(DeltaTableError::NotATable(_) | DeltaTableError::InvalidVersion(_)) => return Err(unavailable()),
        Err(e) => return Err(from_delta(e)),
    };
    let version = table.version().ok_or_else(unavailable)?;
    if version == 0 {
        // The first version also answers for moments before it.
        let created = table.history(Some(1)).next().await.transpose().map_err(from_delta)?;
        if created.and_then(|c| c.timestamp).is_some_and(|ms| ms > moment.timestamp_millis()) {
            return Err(unavailable());
        }
    }
    Ok(version)
}

/// Creates an empty table at `location` with `schema` (already
/// [`storable_schema`]); fails with [`WarehouseError::AlreadyExists`] when
/// another statement created it first.
pub(crate) async fn create(location: &url::Url, name: &str, schema: &Schema) -> Result<DeltaTable, WarehouseError> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().try_into_kernel())
        .collect::<Result<Vec<StructField>, _>>()
        .map_err(|e| WarehouseError::Compilation(format!("a column's type cannot be kept in a table: {e}")))?;
    if columns.is_empty() {
        return Err(WarehouseError::Compilation("a table needs at least one column".into()));
    }
    let table = DeltaTableBuilder::from_url(location.clone()).map_err(from_delta)?.build().map_err(from_delta)?;
    table.create().with_table_name(name).with_columns(columns).with_save_mode(SaveMode::ErrorIfExists).await.map_err(
        |e| match e {
            DeltaTableError::Transaction { source: TransactionError::VersionAlreadyExists(_) } => {
                WarehouseError::AlreadyExists(name.to_owned())
            }
            DeltaTableError::Generic(msg) if msg.contains("already exists") => {
                WarehouseError::AlreadyExists(name.to_owned())
            }
            other => from_delta(other),
        },
    )
}

/// A DataFusion table over `table`'s loaded version, reading with
/// `session`'s settings (plain strings, not views).
pub(crate) async fn provider(
    table: &DeltaTable,
    session: &dyn Session,
) -> Result<Arc<dyn TableProvider>, WarehouseError> {
    table.update_datafusion_session(session).map_err(from_delta)?;
    let provider = table.table_provider().await.map_err(WarehouseError::from_datafusion)?;
    Ok(provider)
}

/// Writes every row of `source` into the table at `target` in one commit:
/// a new table when `target` has none (`overwrite` false), else replacing
/// all its rows (`overwrite` true, a commit that conflicts with any other
/// made since `target` was read).
pub(crate) async fn write_all(
    source: &DeltaTable,
    target: DeltaTable,
    name: &str,
    overwrite: bool,
    state: &datafusion::execution::session_state::SessionState,
) -> Result<(), WarehouseError> {
    let rows = provider(source, state).await?;
    let plan = datafusion::logical_expr::LogicalPlanBuilder::scan(
        "source",
        datafusion::datasource::provider_as_source(rows),
        None,
    )
    .and_then(datafusion::logical_expr::LogicalPlanBuilder::build)
    .map_err(WarehouseError::from_datafusion)?;
    let mode = if overwrite { SaveMode::Overwrite } else { SaveMode::ErrorIfExists };
    target
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(operation_session(state))
        .with_save_mode(mode)
        .with_table_name(name.to_owned())
        .await
        .map_err(from_delta)?;
    Ok(())
}

/// An unloaded handle on the table at `location` (to create or write it).
pub(crate) fn handle(location: &url::Url) -> Result<DeltaTable, WarehouseError> {
    DeltaTableBuilder::from_url(location.clone()).and_then(DeltaTableBuilder::build).map_err(from_delta)
}

/// The session a Delta Lake operation (update, delete, merge, write)
/// plans and runs with: the statement's own (its functions, limits and
/// memory pool) with delta-rs's planner for its operators.
pub(crate) fn operation_session(
    state: &datafusion::execution::session_state::SessionState,
) -> Arc<datafusion::execution::session_state::SessionState> {
    Arc::new(
        datafusion::execution::session_state::SessionStateBuilder::new_from_existing(state.clone())
            .with_query_planner(deltalake_core::delta_datafusion::planner::DeltaPlanner::new())
            .build(),
    )
}

/// A Delta Lake error in Snowflake's terms.
pub(crate) fn from_delta(e: DeltaTableError) -> WarehouseError {
    WarehouseError::from_delta(e)
}
