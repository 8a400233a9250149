//! Results as pyarrow and pandas read them: a `TIMESTAMP_TZ` column arrives
//! as Snowflake's struct of `epoch` (seconds), `fraction` (nanoseconds) and
//! `timezone` (offset in minutes + 1440), which pandas would show as
//! dictionaries; it is exported as a `timestamp[ns, tz=UTC]` column of the
//! instants (each value's own offset stays available through `fetchall`).
//! Tested through the package (`tests/test_connector_arrow.py`: the crate
//! is an extension module, built without Rust tests).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

fn is_timestamp_tz(t: &DataType) -> bool {
    let DataType::Struct(fields) = t else { return false };
    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
    names == ["epoch", "fraction", "timezone"]
        && fields[0].data_type() == &DataType::Int64
        && fields[1].data_type() == &DataType::Int32
        && fields[2].data_type() == &DataType::Int32
}

fn instant_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC")))
}

/// `schema` as exported.
pub(crate) fn export_schema(schema: &SchemaRef) -> SchemaRef {
    if !schema.fields().iter().any(|f| is_timestamp_tz(f.data_type())) {
        return schema.clone();
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let field = f.as_ref().clone();
            if is_timestamp_tz(f.data_type()) { field.with_data_type(instant_type()) } else { field }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` as exported (under [`export_schema`] of its schema).
pub(crate) fn export_batch(batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| is_timestamp_tz(f.data_type())) {
        return Ok(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .map(|c| if is_timestamp_tz(c.data_type()) { instants(c.as_ref()) } else { Ok(c.clone()) })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(export_schema(&schema), columns)
}

fn instants(column: &dyn Array) -> Result<ArrayRef, ArrowError> {
    let s = column.as_struct();
    let epoch = s.column(0).as_primitive::<Int64Type>();
    let fraction = s.column(1).as_primitive::<Int32Type>();
    let out_of_range = || ArrowError::ComputeError("a TIMESTAMP_TZ value is out of range for nanoseconds".into());
    let values = (0..s.len())
        .map(|i| {
            if s.is_null(i) || epoch.is_null(i) {
                return Ok(None);
            }
            epoch
                .value(i)
                .checked_mul(1_000_000_000)
                .and_then(|n| n.checked_add(i64::from(fraction.value(i))))
                .map(Some)
                .ok_or_else(out_of_range)
        })
        .collect::<Result<TimestampNanosecondArray, _>>()?;
    Ok(Arc::new(values.with_timezone("UTC")))
}
