//! Result encodings for the gateway: Snowflake's `rowtype` and JSON
//! `rowset`, and Arrow IPC streams (base64 for `rowsetBase64`).
//!
//! The JSON encodings are those that snowflake-connector-python's
//! `SnowflakeConverter` (`converter.py`) and gosnowflake decode; every value
//! is a JSON string or `null`:
//!
//! | Arrow type | rowtype `type` | value |
//! |---|---|---|
//! | Int8..UInt64 | `fixed` (precision 38, scale 0) | decimal text: `-42` |
//! | Decimal128/256(p, s) | `fixed` (p, s) | decimal text with `s` fraction digits: `-1.50` |
//! | Float16/32/64 | `real` | `1.5`, `inf`, `-inf`, `NaN` |
//! | Utf8, LargeUtf8, Utf8View | `text` | the string |
//! | Boolean | `boolean` | `"1"` / `"0"` (the connector tests `value in ("1", "TRUE")`) |
//! | Date32, Date64 | `date` | days since 1970-01-01: `19724` |
//! | Time32/64 | `time` (scale of the unit) | seconds since midnight with `scale` fraction digits: `3723.500` |
//! | Timestamp(unit, None) | `timestamp_ntz` (scale 0/3/6/9) | seconds since the epoch with `scale` fraction digits, the sign on the whole value: `-1.500000000` |
//! | Timestamp(unit, Some(tz)) | `timestamp_ltz` | the same, for the instant (the client applies the session `TIMEZONE`) |
//! | `TIMESTAMP_TZ` (`crate::timestamp_tz`'s struct) | `timestamp_tz` (scale 9) | the instant as above, a space, the value's offset in minutes + 1440: `1.500000000 1770` |
//! | Binary, LargeBinary, FixedSizeBinary, BinaryView | `binary` | upper-case hex (the connector decodes it with a strict `b16decode`) |
//! | List, LargeList, FixedSizeList | `array` | text |
//! | Struct, Map | `object` | text |
//! | anything else | `text` | Arrow's display text |

use std::sync::Arc;

use arrow_array::{Array, RecordBatch, cast::AsArray, types::*};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use base64::Engine as _;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use komodo_protocol::gateway::RowType;

use crate::WarehouseError;
use crate::timestamp_tz::{is_timestamp_tz, zoned_rowset_text, zoned_values};

/// Snowflake's maximum `text` length, reported for unbounded strings.
pub const MAX_TEXT_LENGTH: i64 = 16_777_216;
/// Snowflake's maximum `binary` length.
pub const MAX_BINARY_LENGTH: i64 = 8_388_608;

/// Where result columns come from, for the `database`/`schema`/`table`
/// fields of `rowtype` (empty strings when unknown, as Snowflake sends for
/// computed columns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnOrigin {
    /// The database name.
    pub database: String,
    /// The schema name.
    pub schema: String,
    /// The table name.
    pub table: String,
}

/// The Snowflake `rowtype` entries describing `schema`'s columns.
pub fn row_types(schema: &Schema, origin: &ColumnOrigin) -> Vec<RowType> {
    schema.fields().iter().map(|f| row_type(f, origin)).collect()
}

/// The Snowflake type name (lower case) of an Arrow type.
pub fn snowflake_type(data_type: &DataType) -> &'static str {
    use DataType as D;
    if is_timestamp_tz(data_type) {
        return "timestamp_tz";
    }
    match data_type {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => "fixed",
        D::Decimal32(..) | D::Decimal64(..) | D::Decimal128(..) | D::Decimal256(..) => "fixed",
        D::Float16 | D::Float32 | D::Float64 => "real",
        D::Boolean => "boolean",
        D::Date32 | D::Date64 => "date",
        D::Time32(_) | D::Time64(_) => "time",
        D::Timestamp(_, None) => "timestamp_ntz",
        D::Timestamp(_, Some(_)) => "timestamp_ltz",
        D::Binary | D::LargeBinary | D::FixedSizeBinary(_) | D::BinaryView => "binary",
        D::List(_) | D::LargeList(_) | D::FixedSizeList(..) | D::ListView(_) | D::LargeListView(_) => "array",
        D::Struct(_) | D::Map(..) => "object",
        D::Dictionary(_, value) => snowflake_type(value),
        _ => "text",
    }
}

fn unit_scale(unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    }
}

fn row_type(field: &Field, origin: &ColumnOrigin) -> RowType {
    use DataType as D;
    // A semi-structured value is JSON text marked with its type.
    let type_name = match field.metadata().get("logicalType").map(String::as_str) {
        Some("VARIANT") => "variant",
        Some("OBJECT") => "object",
        Some("ARRAY") => "array",
        _ => snowflake_type(field.data_type()),
    };
    let (mut precision, mut scale, mut length, mut byte_length) = (None, None, None, None);
    match field.data_type() {
        D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal128(p, s) | D::Decimal256(p, s) => {
            precision = Some(i64::from(*p).min(38));
            scale = Some(i64::from(*s));
        }
        t if type_name == "fixed" && t.is_integer() => {
            precision = Some(38);
            scale = Some(0);
        }
        D::Time32(u) | D::Time64(u) | D::Timestamp(u, _) => {
            precision = Some(0);
            scale = Some(unit_scale(u));
        }
        _ if type_name == "timestamp_tz" => {
            precision = Some(0);
            scale = Some(9);
        }
        _ if type_name == "text" || type_name == "variant" || type_name == "array" || type_name == "object" => {
            length = Some(MAX_TEXT_LENGTH);
            byte_length = Some(MAX_TEXT_LENGTH);
        }
        _ if type_name == "binary" => {
            length = Some(MAX_BINARY_LENGTH);
            byte_length = Some(MAX_BINARY_LENGTH);
        }
        _ => {}
    }
    RowType {
        name: field.name().clone(),
        database: origin.database.clone(),
        schema: origin.schema.clone(),
        table: origin.table.clone(),
        type_name: type_name.to_owned(),
        nullable: field.is_nullable(),
        length,
        precision,
        scale,
        byte_length,
        collation: None,
    }
}

/// Encodes batches as Snowflake's JSON `rowset`: one array per row, every
/// value a string in Snowflake's encoding (see the module docs) or `null`.
pub fn json_rowset(batches: &[RecordBatch]) -> Result<Vec<Vec<Option<String>>>, WarehouseError> {
    let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let columns = batch.columns().iter().map(|c| encode_column(c.as_ref())).collect::<Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c[i].clone()).collect());
        }
    }
    Ok(rows)
}

/// Encodes one column as Snowflake JSON values.
pub fn encode_column(array: &dyn Array) -> Result<Vec<Option<String>>, WarehouseError> {
    use DataType as D;
    fn each<F: Fn(usize) -> String>(array: &dyn Array, f: F) -> Vec<Option<String>> {
        (0..array.len()).map(|i| if array.is_null(i) { None } else { Some(f(i)) }).collect()
    }
    let a = array;
    if is_timestamp_tz(a.data_type()) {
        let values = zoned_values(a).map_err(|e| WarehouseError::Internal(e.to_string()))?;
        return Ok(values.into_iter().map(|v| v.map(zoned_rowset_text)).collect());
    }
    Ok(match a.data_type() {
        // A NullArray has no validity buffer: every value is NULL.
        D::Null => vec![None; a.len()],
        D::Boolean => {
            let b = a.as_boolean();
            each(a, |i| if b.value(i) { "1" } else { "0" }.to_owned())
        }
        D::Date32 => {
            let d = a.as_primitive::<Date32Type>();
            each(a, |i| d.value(i).to_string())
        }
        D::Date64 => {
            let d = a.as_primitive::<Date64Type>();
            each(a, |i| d.value(i).div_euclid(86_400_000).to_string())
        }
        D::Timestamp(unit, _) => {
            let scale = unit_scale(unit) as u32;
            let v: Vec<Option<i64>> = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().iter().collect(),
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().iter().collect(),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().iter().collect(),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().iter().collect(),
            };
            v.into_iter().map(|x| x.map(|x| scaled(i128::from(x), scale))).collect()
        }
        D::Time32(unit) | D::Time64(unit) => {
            let scale = unit_scale(unit) as u32;
            let v: Vec<Option<i64>> = match a.data_type() {
                D::Time32(TimeUnit::Second) => {
                    a.as_primitive::<Time32SecondType>().iter().map(|x| x.map(i64::from)).collect()
                }
                D::Time32(_) => a.as_primitive::<Time32MillisecondType>().iter().map(|x| x.map(i64::from)).collect(),
                D::Time64(TimeUnit::Microsecond) => a.as_primitive::<Time64MicrosecondType>().iter().collect(),
                _ => a.as_primitive::<Time64NanosecondType>().iter().collect(),
            };
            v.into_iter().map(|x| x.map(|x| scaled(i128::from(x), scale))).collect()
        }
        D::Decimal128(_, s) => {
            let d = a.as_primitive::<Decimal128Type>();
            let s = (*s).max(0) as u32;
            each(a, |i| scaled(d.value(i), s))
        }
        D::Decimal64(_, s) => {
            let d = a.as_primitive::<Decimal64Type>();
            let s = (*s).max(0) as u32;
            each(a, |i| scaled(i128::from(d.value(i)), s))
        }
        D::Decimal32(_, s) => {
            let d = a.as_primitive::<Decimal32Type>();
            let s = (*s).max(0) as u32;
            each(a, |i| scaled(i128::from(d.value(i)), s))
        }
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => {
            let casted = datafusion::arrow::compute::cast(a, &D::LargeBinary)
                .map_err(|e| WarehouseError::Internal(e.to_string()))?;
            let b = casted.as_binary::<i64>();
            each(a, |i| hex(b.value(i)))
        }
        D::Utf8 => {
            let s = a.as_string::<i32>();
            each(a, |i| s.value(i).to_owned())
        }
        D::LargeUtf8 => {
            let s = a.as_string::<i64>();
            each(a, |i| s.value(i).to_owned())
        }
        D::Utf8View => {
            let s = a.as_string_view();
            each(a, |i| s.value(i).to_owned())
        }
        D::Float64 => {
            let f = a.as_primitive::<Float64Type>();
            each(a, |i| float_text(f.value(i)))
        }
        D::Float32 => {
            let f = a.as_primitive::<Float32Type>();
            each(a, |i| float_text(f64::from(f.value(i))))
        }
        _ => {
            let options = FormatOptions::default();
            let formatter =
                ArrayFormatter::try_new(a, &options).map_err(|e| WarehouseError::Internal(e.to_string()))?;
            each(a, |i| formatter.value(i).to_string())
        }
    })
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        v.to_string()
    }
}

/// `value / 10^scale` as decimal text with exactly `scale` fraction digits,
/// the sign on the whole value (`-1500, 3` is `-1.500`, `-5, 1` is `-0.5`).
fn scaled(value: i128, scale: u32) -> String {
    if scale == 0 {
        return value.to_string();
    }
    let p = 10i128.pow(scale);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    let p = p as u128;
    format!("{sign}{}.{:0width$}", abs / p, abs % p, width = scale as usize)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Encodes batches as one Arrow IPC stream (schema message, then the
/// batches).
/// The Arrow type a column of type `data_type` has on the wire: string and
/// binary views as plain strings and binaries, which every Arrow reader
/// handles (as Snowflake's own Arrow results carry them) and a reader
/// validates in one pass, instead of value by value.
pub fn wire_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        other => other.clone(),
    }
}

/// `schema` with every column of its [`wire_type`].
pub fn wire_schema(schema: &Arc<Schema>) -> Arc<Schema> {
    if schema.fields().iter().all(|f| wire_type(f.data_type()) == *f.data_type()) {
        return schema.clone();
    }
    let fields: Vec<Field> =
        schema.fields().iter().map(|f| f.as_ref().clone().with_data_type(wire_type(f.data_type()))).collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` with its columns cast to their [`wire_type`]s (the batch itself
/// when there is nothing to cast), under `schema` (its [`wire_schema`]).
pub fn wire_batch(batch: &RecordBatch, schema: &Arc<Schema>) -> Result<RecordBatch, WarehouseError> {
    if Arc::ptr_eq(&batch.schema(), schema) || batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| datafusion::arrow::compute::cast(column, field.data_type()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| WarehouseError::Internal(e.to_string()))?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| WarehouseError::Internal(e.to_string()))
}

/// An Arrow IPC stream of `batches` (columns of their [`wire_type`]s).
pub fn arrow_ipc_stream(schema: &Arc<Schema>, batches: &[RecordBatch]) -> Result<Vec<u8>, WarehouseError> {
    // Sized up front: growing a buffer of hundreds of megabytes by doubling
    // copies it several times. Slices report their parents' buffers, so the
    // estimate can be high; it is capped, and untouched capacity costs no
    // memory.
    let estimate: usize = batches.iter().map(|b| b.get_array_memory_size()).sum::<usize>() + 4096;
    let mut out = Vec::with_capacity(estimate.min(512 << 20));
    let wire = wire_schema(schema);
    {
        let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut out, &wire)
            .map_err(|e| WarehouseError::Internal(e.to_string()))?;
        for batch in batches {
            writer.write(&wire_batch(batch, &wire)?).map_err(|e| WarehouseError::Internal(e.to_string()))?;
        }
        writer.finish().map_err(|e| WarehouseError::Internal(e.to_string()))?;
    }
    Ok(out)
}

/// [`arrow_ipc_stream`] in standard base64, as `rowsetBase64` carries it.
pub fn arrow_ipc_base64(schema: &Arc<Schema>, batches: &[RecordBatch]) -> Result<String, WarehouseError> {
    Ok(base64::engine::general_purpose::STANDARD.encode(arrow_ipc_stream(schema, batches)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::*;

    #[test]
    fn scaled_values_keep_sign_and_digits() {
        assert_eq!(scaled(-1_500_000_000, 9), "-1.500000000");
        assert_eq!(scaled(-5, 1), "-0.5");
        assert_eq!(scaled(1_704_153_600_123, 3), "1704153600.123");
        assert_eq!(scaled(42, 0), "42");
        assert_eq!(scaled(7, 2), "0.07");
    }

    #[test]
    fn json_rowset_matches_the_connectors_converters() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("I", DataType::Int64, true),
            Field::new("D", DataType::Decimal128(10, 2), true),
            Field::new("F", DataType::Float64, true),
            Field::new("S", DataType::Utf8, true),
            Field::new("B", DataType::Boolean, true),
            Field::new("DT", DataType::Date32, true),
            Field::new("TS", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("TM", DataType::Time64(TimeUnit::Nanosecond), true),
            Field::new("BIN", DataType::Binary, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![Some(-42), None])),
                Arc::new(Decimal128Array::from(vec![Some(-150), Some(7)]).with_precision_and_scale(10, 2).unwrap()),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN)])),
                Arc::new(StringArray::from(vec![Some("a\"b"), Some("")])),
                Arc::new(BooleanArray::from(vec![Some(true), Some(false)])),
                Arc::new(Date32Array::from(vec![Some(19724), Some(-1)])),
                Arc::new(TimestampMicrosecondArray::from(vec![Some(1_704_153_600_000_001), Some(-1_500_000)])),
                Arc::new(Time64NanosecondArray::from(vec![Some(3_723_500_000_000), None])),
                Arc::new(BinaryArray::from(vec![Some(&[0u8, 255][..]), None])),
            ],
        )
        .unwrap();
        let rows = json_rowset(&[batch]).unwrap();
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            rows[0],
            vec![
                s("-42"),
                s("-1.50"),
                s("1.5"),
                s("a\"b"),
                s("1"),
                s("19724"),
                s("1704153600.000001"),
                s("3723.500000000"),
                s("00FF")
            ]
        );
        assert_eq!(rows[1], vec![None, s("0.07"), s("NaN"), s(""), s("0"), s("-1"), s("-1.500000"), None, None]);

        let types = row_types(&schema, &ColumnOrigin::default());
        let names: Vec<_> = types.iter().map(|t| t.type_name.as_str()).collect();
        assert_eq!(names, ["fixed", "fixed", "real", "text", "boolean", "date", "timestamp_ntz", "time", "binary"]);
        assert_eq!((types[0].precision, types[0].scale), (Some(38), Some(0)));
        assert_eq!((types[1].precision, types[1].scale), (Some(10), Some(2)));
        assert_eq!(types[6].scale, Some(6));
        assert_eq!(types[3].length, Some(MAX_TEXT_LENGTH));
        let json = serde_json::to_value(&types[3]).unwrap();
        assert_eq!(json["byteLength"], MAX_TEXT_LENGTH);
        assert_eq!(json["type"], "text");
    }

    #[test]
    fn arrow_ipc_round_trips() {
        let schema = Arc::new(Schema::new(vec![Field::new("X", DataType::Int32, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(vec![1, 2, 3]))]).unwrap();
        let bytes = arrow_ipc_stream(&schema, std::slice::from_ref(&batch)).unwrap();
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        let back: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(back, vec![batch]);
        assert!(!arrow_ipc_base64(&schema, &[]).unwrap().is_empty());
    }

    #[test]
    fn views_go_on_the_wire_as_plain_strings_and_binaries() {
        use arrow_array::{BinaryViewArray, StringArray, StringViewArray};
        let schema = Arc::new(Schema::new(vec![
            Field::new("S", DataType::Utf8View, true),
            Field::new("B", DataType::BinaryView, false),
            Field::new("X", DataType::Int32, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringViewArray::from(vec![Some("short"), None, Some("a string longer than twelve bytes")])),
                Arc::new(BinaryViewArray::from(vec![b"\x00".as_slice(), b"", b"\xff\xfe"])),
                Arc::new(Int32Array::from(vec![1, 2, 3])),
            ],
        )
        .unwrap();
        let bytes = arrow_ipc_stream(&schema, std::slice::from_ref(&batch)).unwrap();
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        let back: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
        let wire = wire_schema(&schema);
        let types: Vec<&DataType> = wire.fields().iter().map(|f| f.data_type()).collect();
        assert_eq!(types, [&DataType::Utf8, &DataType::Binary, &DataType::Int32]);
        assert_eq!(back[0].schema(), wire);
        let strings = back[0].column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(
            strings.iter().collect::<Vec<_>>(),
            [Some("short"), None, Some("a string longer than twelve bytes")]
        );
        assert_eq!(back[0].column(1).as_binary::<i32>().value(2), b"\xff\xfe");
        // A slice keeps its own rows only.
        let sliced = wire_batch(&batch.slice(1, 2), &wire).unwrap();
        let strings = sliced.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(strings.iter().collect::<Vec<_>>(), [None, Some("a string longer than twelve bytes")]);
        let plain = Arc::new(Schema::new(vec![Field::new("X", DataType::Int32, false)]));
        assert!(Arc::ptr_eq(&wire_schema(&plain), &plain), "nothing to cast: the same schema");
    }
}
