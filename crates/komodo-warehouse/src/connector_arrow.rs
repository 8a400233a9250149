//! Snowflake's own Arrow result encoding: the one the official connectors
//! (snowflake-connector-python's nanoarrow decoder behind `fetchall`,
//! `fetch_pandas_all` and `fetch_arrow_batches`; gosnowflake; JDBC) decode
//! when a response says `queryResultFormat: "arrow"`.
//!
//! Every column carries Snowflake's field metadata (`logicalType`,
//! `precision`, `scale`, `charLength`, `byteLength`, as text) and the
//! physical type the decoder expects for that logical type:
//!
//! | Warehouse type | `logicalType` | Arrow type on the wire |
//! |---|---|---|
//! | Int8..Int64, UInt8..UInt32 | `FIXED` (38, 0) | int64 |
//! | UInt64 | `FIXED` (38, 0) | int64 when every value fits, else decimal128(20, 0) |
//! | Decimal(p, s), p <= 18 | `FIXED` (p, s) | int64: the unscaled value |
//! | Decimal(p, s), p > 18 | `FIXED` (p, s) | int64 (unscaled) when every value of the result fits, else decimal128(p, s) |
//! | Float16/32/64 | `REAL` | float64 |
//! | Utf8 (and views) | `TEXT`, or the field's own `VARIANT`/`OBJECT`/`ARRAY` | utf8 |
//! | Boolean | `BOOLEAN` | bool |
//! | Date32, Date64 | `DATE` | date32 |
//! | Time32/64(unit) | `TIME` (scale of the unit) | int64: units since midnight |
//! | Timestamp(unit, None) | `TIMESTAMP_NTZ` (scale of the unit) | int64: units since the epoch |
//! | Timestamp(unit, Some(_)) | `TIMESTAMP_LTZ` (scale of the unit) | int64: units since the epoch (the client shows it in the session `TIMEZONE`) |
//! | `TIMESTAMP_TZ` (`crate::timestamp_tz`) | `TIMESTAMP_TZ` (scale 9, byteLength 16) | struct of `epoch` (int64 seconds), `fraction` (int32 nanoseconds), `timezone` (int32: offset in minutes + 1440), as it is kept |
//! | Binary (all kinds) | `BINARY` | binary |
//! | List, Struct, Map, anything else | `ARRAY`, `OBJECT`, `TEXT` | utf8: the JSON rowset's text |
//!
//! The "every value fits" choices are made once for a whole result (see
//! [`ConnectorSchema::new`]), so that every chunk of it has the same schema:
//! the connector concatenates chunks' tables without promoting types.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, cast::AsArray, types::*};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::compute::cast;

use crate::WarehouseError;
use crate::encode::{MAX_BINARY_LENGTH, MAX_TEXT_LENGTH, encode_column, snowflake_type};
use crate::timestamp_tz::{is_timestamp_tz, timestamp_tz};

/// How one column goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    /// Cast to the wire field's type (int64, float64, utf8, bool, date32,
    /// binary, decimal128).
    Cast,
    /// A decimal's unscaled values as int64.
    Unscaled,
    /// A time or timestamp's count of its unit as int64.
    Units,
    /// The JSON rowset's text of each value, as utf8.
    Text,
}

/// The wire form of a result's columns, decided once for the whole result.
#[derive(Debug, Clone)]
pub struct ConnectorSchema {
    schema: SchemaRef,
    conversions: Vec<Conversion>,
}

fn unit_scale(unit: &TimeUnit) -> u8 {
    match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    }
}

/// Snowflake's field metadata.
fn metadata(logical: &str, precision: i64, scale: i64, length: i64) -> HashMap<String, String> {
    HashMap::from([
        ("logicalType".to_owned(), logical.to_owned()),
        ("precision".to_owned(), precision.to_string()),
        ("scale".to_owned(), scale.to_string()),
        ("charLength".to_owned(), if logical == "BINARY" { 0 } else { length }.to_string()),
        ("byteLength".to_owned(), length.to_string()),
        ("finalType".to_owned(), "T".to_owned()),
    ])
}

/// Whether every value of every column `index` of `batches` fits in an
/// int64 once unscaled (a decimal) or as it is (an unsigned integer).
fn fits_int64(batches: &[RecordBatch], index: usize) -> bool {
    batches.iter().all(|batch| {
        let column = batch.column(index);
        match column.data_type() {
            DataType::Decimal128(..) => {
                column.as_primitive::<Decimal128Type>().iter().flatten().all(|v| i64::try_from(v).is_ok())
            }
            DataType::Decimal256(..) => column
                .as_primitive::<Decimal256Type>()
                .iter()
                .flatten()
                .all(|v| v.to_i128().is_some_and(|v| i64::try_from(v).is_ok())),
            DataType::UInt64 => column.as_primitive::<UInt64Type>().iter().flatten().all(|v| i64::try_from(v).is_ok()),
            _ => true,
        }
    })
}

impl ConnectorSchema {
    /// The wire form of a result of `schema` made of `batches` (all of its
    /// rows: the inline ones and every chunk's).
    pub fn new(schema: &Schema, batches: &[RecordBatch]) -> Self {
        let mut fields = Vec::with_capacity(schema.fields().len());
        let mut conversions = Vec::with_capacity(schema.fields().len());
        for (index, field) in schema.fields().iter().enumerate() {
            let (wire, conversion) = wire_field(field, || fits_int64(batches, index));
            fields.push(wire);
            conversions.push(conversion);
        }
        Self { schema: Arc::new(Schema::new(fields)), conversions }
    }

    /// The schema sent to the client.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// `batch` (of the result's schema) in its wire form.
    pub fn batch(&self, batch: &RecordBatch) -> Result<RecordBatch, WarehouseError> {
        let internal = |e: arrow_schema::ArrowError| WarehouseError::Internal(e.to_string());
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
        for ((column, field), conversion) in batch.columns().iter().zip(self.schema.fields()).zip(&self.conversions) {
            let column = match column.data_type() {
                DataType::Dictionary(_, value) => cast(column, value).map_err(internal)?,
                _ => column.clone(),
            };
            columns.push(match conversion {
                Conversion::Cast => cast(&column, field.data_type()).map_err(internal)?,
                Conversion::Unscaled => Arc::new(unscaled(column.as_ref())?),
                Conversion::Units => Arc::new(units(column.as_ref())?),
                Conversion::Text => Arc::new(StringArray::from(encode_column(column.as_ref())?)),
            });
        }
        RecordBatch::try_new(self.schema.clone(), columns).map_err(internal)
    }

    /// One Arrow IPC stream of `batches` (of the result's schema) in their
    /// wire form: what `rowsetBase64` (in base64) and a chunk download
    /// carry.
    pub fn ipc_stream(&self, batches: &[RecordBatch]) -> Result<Vec<u8>, WarehouseError> {
        let internal = |e: arrow_schema::ArrowError| WarehouseError::Internal(e.to_string());
        let estimate: usize = batches.iter().map(|b| b.get_array_memory_size()).sum::<usize>() + 4096;
        let mut out = Vec::with_capacity(estimate.min(512 << 20));
        {
            let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut out, &self.schema).map_err(internal)?;
            for batch in batches.iter().filter(|b| b.num_rows() > 0) {
                writer.write(&self.batch(batch)?).map_err(internal)?;
            }
            writer.finish().map_err(internal)?;
        }
        Ok(out)
    }
}

/// The wire field of `field` and how its values get there; `fits` tells
/// whether the result's values of a wide decimal or an unsigned 64-bit
/// column all fit in an int64.
fn wire_field(field: &Field, fits: impl Fn() -> bool) -> (Field, Conversion) {
    use DataType as D;
    let data_type = match field.data_type() {
        D::Dictionary(_, value) => value.as_ref().clone(),
        other => other.clone(),
    };
    let wire = |data_type: DataType, meta: HashMap<String, String>| {
        Field::new(field.name(), data_type, field.is_nullable()).with_metadata(meta)
    };
    let semi = field.metadata().get("logicalType").filter(|t| matches!(t.as_str(), "VARIANT" | "OBJECT" | "ARRAY"));
    if let Some(logical) = semi {
        let conversion = if data_type.is_null() || !matches!(data_type, D::Utf8 | D::LargeUtf8 | D::Utf8View) {
            Conversion::Text
        } else {
            Conversion::Cast
        };
        return (wire(D::Utf8, metadata(logical, 0, 0, MAX_TEXT_LENGTH)), conversion);
    }
    if is_timestamp_tz(&data_type) {
        // byteLength 16 tells the decoders the three-field struct.
        let mut meta = metadata("TIMESTAMP_TZ", 0, 9, 0);
        meta.insert("byteLength".to_owned(), "16".to_owned());
        return (wire(timestamp_tz(), meta), Conversion::Cast);
    }
    let fixed = |p: i64, s: i64| metadata("FIXED", p, s, 0);
    match &data_type {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 => {
            (wire(D::Int64, fixed(38, 0)), Conversion::Cast)
        }
        D::UInt64 if fits() => (wire(D::Int64, fixed(38, 0)), Conversion::Cast),
        D::UInt64 => (wire(D::Decimal128(20, 0), fixed(38, 0)), Conversion::Cast),
        D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal128(p, s) | D::Decimal256(p, s) => {
            let (p, s) = (*p, (*s).max(0));
            let meta = fixed(i64::from(p).min(38), i64::from(s));
            if p <= 18 || fits() {
                (wire(D::Int64, meta), Conversion::Unscaled)
            } else {
                (wire(D::Decimal128(p.min(38), s), meta), Conversion::Cast)
            }
        }
        D::Float16 | D::Float32 | D::Float64 => (wire(D::Float64, metadata("REAL", 0, 0, 0)), Conversion::Cast),
        D::Utf8 | D::LargeUtf8 | D::Utf8View => {
            (wire(D::Utf8, metadata("TEXT", 0, 0, MAX_TEXT_LENGTH)), Conversion::Cast)
        }
        D::Boolean => (wire(D::Boolean, metadata("BOOLEAN", 0, 0, 0)), Conversion::Cast),
        D::Date32 | D::Date64 => (wire(D::Date32, metadata("DATE", 0, 0, 0)), Conversion::Cast),
        D::Time32(unit) | D::Time64(unit) => {
            (wire(D::Int64, metadata("TIME", 0, i64::from(unit_scale(unit)), 0)), Conversion::Units)
        }
        D::Timestamp(unit, tz) => {
            let logical = if tz.is_some() { "TIMESTAMP_LTZ" } else { "TIMESTAMP_NTZ" };
            (wire(D::Int64, metadata(logical, 0, i64::from(unit_scale(unit)), 0)), Conversion::Units)
        }
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => {
            (wire(D::Binary, metadata("BINARY", 0, 0, MAX_BINARY_LENGTH)), Conversion::Cast)
        }
        other => {
            let logical = snowflake_type(other).to_ascii_uppercase();
            let logical = if matches!(logical.as_str(), "ARRAY" | "OBJECT") { logical } else { "TEXT".to_owned() };
            (wire(D::Utf8, metadata(&logical, 0, 0, MAX_TEXT_LENGTH)), Conversion::Text)
        }
    }
}

/// A decimal column's unscaled values as int64 (they fit: checked when the
/// wire form was chosen).
fn unscaled(column: &dyn Array) -> Result<Int64Array, WarehouseError> {
    let too_wide = || WarehouseError::Internal("a decimal value does not fit the int64 chosen for its column".into());
    Ok(match column.data_type() {
        DataType::Decimal32(..) => column.as_primitive::<Decimal32Type>().unary(i64::from),
        DataType::Decimal64(..) => column.as_primitive::<Decimal64Type>().unary(|v| v),
        DataType::Decimal128(..) => column
            .as_primitive::<Decimal128Type>()
            .try_unary(|v| i64::try_from(v).map_err(|_| arrow_schema::ArrowError::ComputeError(String::new())))
            .map_err(|_| too_wide())?,
        DataType::Decimal256(..) => column
            .as_primitive::<Decimal256Type>()
            .try_unary(|v| {
                v.to_i128()
                    .and_then(|v| i64::try_from(v).ok())
                    .ok_or_else(|| arrow_schema::ArrowError::ComputeError(String::new()))
            })
            .map_err(|_| too_wide())?,
        other => return Err(WarehouseError::Internal(format!("{other} is not a decimal"))),
    })
}

/// A time or timestamp column's count of its unit as int64.
fn units(column: &dyn Array) -> Result<Int64Array, WarehouseError> {
    use DataType as D;
    Ok(match column.data_type() {
        D::Time32(TimeUnit::Second) => column.as_primitive::<Time32SecondType>().unary(i64::from),
        D::Time32(_) => column.as_primitive::<Time32MillisecondType>().unary(i64::from),
        D::Time64(TimeUnit::Microsecond) => column.as_primitive::<Time64MicrosecondType>().unary(|v| v),
        D::Time64(_) => column.as_primitive::<Time64NanosecondType>().unary(|v| v),
        D::Timestamp(TimeUnit::Second, _) => column.as_primitive::<TimestampSecondType>().unary(|v| v),
        D::Timestamp(TimeUnit::Millisecond, _) => column.as_primitive::<TimestampMillisecondType>().unary(|v| v),
        D::Timestamp(TimeUnit::Microsecond, _) => column.as_primitive::<TimestampMicrosecondType>().unary(|v| v),
        D::Timestamp(TimeUnit::Nanosecond, _) => column.as_primitive::<TimestampNanosecondType>().unary(|v| v),
        other => return Err(WarehouseError::Internal(format!("{other} is not a time or a timestamp"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::*;

    fn meta<'a>(schema: &'a Schema, column: usize, key: &str) -> &'a str {
        schema.field(column).metadata().get(key).map(String::as_str).unwrap_or_default()
    }

    #[test]
    fn every_type_gets_the_decoders_physical_type_and_metadata() {
        let semi = Field::new("V", DataType::Utf8, true)
            .with_metadata(HashMap::from([("logicalType".to_owned(), "VARIANT".to_owned())]));
        let schema = Arc::new(Schema::new(vec![
            Field::new("I", DataType::Int32, true),
            Field::new("D", DataType::Decimal128(10, 2), true),
            Field::new("W", DataType::Decimal128(38, 0), true),
            Field::new("F", DataType::Float32, true),
            Field::new("S", DataType::Utf8View, true),
            Field::new("B", DataType::Boolean, true),
            Field::new("DT", DataType::Date64, true),
            Field::new("TM", DataType::Time64(TimeUnit::Nanosecond), true),
            Field::new("NTZ", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("LTZ", DataType::Timestamp(TimeUnit::Nanosecond, Some("+00:00".into())), true),
            Field::new("BIN", DataType::BinaryView, true),
            semi,
            Field::new("N", DataType::Null, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from(vec![Some(-42), None])),
                Arc::new(Decimal128Array::from(vec![Some(-150), Some(7)]).with_precision_and_scale(10, 2).unwrap()),
                Arc::new(Decimal128Array::from(vec![Some(5), None]).with_precision_and_scale(38, 0).unwrap()),
                Arc::new(Float32Array::from(vec![Some(1.5), None])),
                Arc::new(StringViewArray::from(vec![Some("a"), None])),
                Arc::new(BooleanArray::from(vec![Some(true), None])),
                Arc::new(Date64Array::from(vec![Some(86_400_000), None])),
                Arc::new(Time64NanosecondArray::from(vec![Some(3_723_500_000_000), None])),
                Arc::new(TimestampMicrosecondArray::from(vec![Some(-1_500_000), None])),
                Arc::new(TimestampNanosecondArray::from(vec![Some(1), None]).with_timezone("+00:00")),
                Arc::new(BinaryViewArray::from(vec![Some(b"\x00\xff".as_slice()), None])),
                Arc::new(StringArray::from(vec![Some("{\"a\":1}"), None])),
                Arc::new(NullArray::new(2)),
            ],
        )
        .unwrap();
        let wire = ConnectorSchema::new(&schema, std::slice::from_ref(&batch));
        let s = wire.schema();
        let types: Vec<&DataType> = s.fields().iter().map(|f| f.data_type()).collect();
        use DataType as D;
        assert_eq!(
            types,
            [
                &D::Int64,
                &D::Int64,
                &D::Int64,
                &D::Float64,
                &D::Utf8,
                &D::Boolean,
                &D::Date32,
                &D::Int64,
                &D::Int64,
                &D::Int64,
                &D::Binary,
                &D::Utf8,
                &D::Utf8
            ]
        );
        let logical: Vec<&str> = (0..s.fields().len()).map(|i| meta(s, i, "logicalType")).collect();
        assert_eq!(
            logical,
            [
                "FIXED",
                "FIXED",
                "FIXED",
                "REAL",
                "TEXT",
                "BOOLEAN",
                "DATE",
                "TIME",
                "TIMESTAMP_NTZ",
                "TIMESTAMP_LTZ",
                "BINARY",
                "VARIANT",
                "TEXT"
            ]
        );
        assert_eq!((meta(s, 1, "precision"), meta(s, 1, "scale")), ("10", "2"));
        assert_eq!((meta(s, 7, "scale"), meta(s, 8, "scale"), meta(s, 9, "scale")), ("9", "6", "9"));
        assert_eq!(meta(s, 4, "charLength"), MAX_TEXT_LENGTH.to_string());

        let out = wire.batch(&batch).unwrap();
        assert_eq!(out.column(0).as_primitive::<Int64Type>().iter().collect::<Vec<_>>(), [Some(-42), None]);
        assert_eq!(out.column(1).as_primitive::<Int64Type>().values().to_vec(), [-150, 7]);
        assert_eq!(out.column(2).as_primitive::<Int64Type>().iter().collect::<Vec<_>>(), [Some(5), None]);
        assert_eq!(out.column(6).as_primitive::<Date32Type>().value(0), 1);
        assert_eq!(out.column(7).as_primitive::<Int64Type>().value(0), 3_723_500_000_000);
        assert_eq!(out.column(8).as_primitive::<Int64Type>().value(0), -1_500_000);
        assert_eq!(out.column(10).as_binary::<i32>().value(0), b"\x00\xff");
        assert_eq!(out.column(11).as_string::<i32>().value(0), "{\"a\":1}");
        assert_eq!(out.column(12).null_count(), 2);

        let bytes = wire.ipc_stream(&[batch.slice(0, 1), batch.slice(1, 1)]).unwrap();
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        let back: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(back.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
        assert_eq!(meta(&back[0].schema(), 1, "scale"), "2", "the metadata survives IPC");
    }

    #[test]
    fn a_timestamp_tz_goes_as_the_three_field_struct_the_decoders_read() {
        use crate::timestamp_tz::{Zoned, zoned_array};
        let column = zoned_array([Some(Zoned { utc_nanos: 1_500_000_000, offset_minutes: 60 }), None]);
        let schema = Arc::new(Schema::new(vec![Field::new("TZ", column.data_type().clone(), true)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![column]).unwrap();
        let wire = ConnectorSchema::new(&schema, std::slice::from_ref(&batch));
        let s = wire.schema();
        // snowflake-connector-python picks its converter by byteLength:
        // 16 is epoch, fraction and timezone (8 would be two fields).
        assert_eq!(
            (meta(s, 0, "logicalType"), meta(s, 0, "scale"), meta(s, 0, "byteLength")),
            ("TIMESTAMP_TZ", "9", "16")
        );
        let out = wire.batch(&batch).unwrap();
        let tz = out.column(0).as_struct();
        assert_eq!(tz.column_names(), ["epoch", "fraction", "timezone"]);
        assert_eq!(tz.column(0).as_primitive::<Int64Type>().value(0), 1);
        assert_eq!(tz.column(1).as_primitive::<Int32Type>().value(0), 500_000_000);
        assert_eq!(tz.column(2).as_primitive::<Int32Type>().value(0), 1500);
        assert!(tz.is_null(1));
    }

    #[test]
    fn wide_decimals_stay_decimal128_only_when_a_value_needs_it() {
        let schema = Schema::new(vec![Field::new("W", DataType::Decimal128(38, 2), true)]);
        let big = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![Arc::new(
                Decimal128Array::from(vec![Some(i128::from(i64::MAX) + 1), Some(-1)])
                    .with_precision_and_scale(38, 2)
                    .unwrap(),
            )],
        )
        .unwrap();
        let small = big.slice(1, 1);
        let wire = ConnectorSchema::new(&schema, std::slice::from_ref(&small));
        assert_eq!(wire.schema().field(0).data_type(), &DataType::Int64);
        let wire = ConnectorSchema::new(&schema, &[small.clone(), big.clone()]);
        assert_eq!(wire.schema().field(0).data_type(), &DataType::Decimal128(38, 2));
        let out = wire.batch(&big).unwrap();
        assert_eq!(out.column(0).as_primitive::<Decimal128Type>().value(0), i128::from(i64::MAX) + 1);
    }
}
