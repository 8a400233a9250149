//! Result decoding: column descriptions from Snowflake's `rowtype`, and
//! values from Arrow arrays or from Snowflake's JSON `rowset` strings.
//!
//! Arrow columns are decoded by their Arrow type, with the `rowtype` as a
//! hint for Snowflake's own Arrow conventions (integers carrying a
//! `NUMBER`'s scale, or epoch values for dates, times and timestamps), so
//! that results from the embedded warehouse and from Snowflake decode alike.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrowPrimitiveType, StructArray};
use arrow_schema::{DataType, TimeUnit};
use komodo_protocol::gateway::RowType;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::error::InterfaceError;
use super::value::{Decimal, EPOCH_JULIAN_DAY, Value};

/// One result column, as PEP 249's `cursor.description` describes it
/// (`name, type_code, display_size, internal_size, precision, scale,
/// null_ok`), with Snowflake's type name added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ColumnDescription {
    /// The column's name.
    pub name: String,
    /// Snowflake's type code (the index in the connectors' `FIELD_TYPES`:
    /// 0 `fixed`, 1 `real`, 2 `text`, 3 `date`, 4 `timestamp`, 5 `variant`,
    /// 6 `timestamp_ltz`, 7 `timestamp_tz`, 8 `timestamp_ntz`, 9 `object`,
    /// 10 `array`, 11 `binary`, 12 `time`, 13 `boolean`, ...).
    pub type_code: u8,
    /// Snowflake's type name in upper case (`FIXED`, `TEXT`, `TIMESTAMP_NTZ`).
    pub type_name: String,
    /// Always `None`, as in Snowflake's connectors.
    pub display_size: Option<i64>,
    /// The maximum length of a text or binary column.
    pub internal_size: Option<i64>,
    /// The precision of a number.
    pub precision: Option<i64>,
    /// The scale of a number, time or timestamp.
    pub scale: Option<i64>,
    /// Whether the column may hold NULL.
    pub null_ok: bool,
}

/// Snowflake's type names, indexed by type code (`constants.py:FIELD_TYPES`).
const FIELD_TYPES: [&str; 21] = [
    "fixed",
    "real",
    "text",
    "date",
    "timestamp",
    "variant",
    "timestamp_ltz",
    "timestamp_tz",
    "timestamp_ntz",
    "object",
    "array",
    "binary",
    "time",
    "boolean",
    "geography",
    "geometry",
    "vector",
    "map",
    "file",
    "interval_year_month",
    "interval_day_time",
];

impl ColumnDescription {
    pub(crate) fn from_row_type(row_type: &RowType) -> Self {
        let lower = row_type.type_name.to_ascii_lowercase();
        // An unknown name gets type code 0, as in the connectors.
        let type_code = FIELD_TYPES.iter().position(|t| *t == lower).unwrap_or(0);
        Self {
            name: row_type.name.clone(),
            type_code: u8::try_from(type_code).unwrap_or(0),
            type_name: lower.to_ascii_uppercase(),
            display_size: None,
            internal_size: row_type.length,
            precision: row_type.precision,
            scale: row_type.scale,
            null_ok: row_type.nullable,
        }
    }
}

/// How a column's values are to be read, from its `rowtype` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnMeta {
    pub name: String,
    pub kind: Kind,
    pub scale: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Fixed,
    Real,
    Text,
    Boolean,
    Binary,
    Date,
    Time,
    TimestampNtz,
    TimestampLtz,
    TimestampTz,
    Other,
}

impl ColumnMeta {
    pub(crate) fn from_row_type(row_type: &RowType) -> Self {
        let kind = match row_type.type_name.to_ascii_lowercase().as_str() {
            "fixed" => Kind::Fixed,
            "real" => Kind::Real,
            "text" | "variant" | "object" | "array" | "map" | "vector" | "geography" | "geometry" => Kind::Text,
            "boolean" => Kind::Boolean,
            "binary" => Kind::Binary,
            "date" => Kind::Date,
            "time" => Kind::Time,
            "timestamp_ntz" | "timestamp" => Kind::TimestampNtz,
            "timestamp_ltz" => Kind::TimestampLtz,
            "timestamp_tz" => Kind::TimestampTz,
            _ => Kind::Other,
        };
        let scale = row_type.scale.and_then(|s| u32::try_from(s).ok()).unwrap_or(0).min(38);
        Self { name: row_type.name.clone(), kind, scale }
    }

    fn bad(&self, reason: impl Into<String>) -> InterfaceError {
        InterfaceError::BadValue { column: self.name.clone(), reason: reason.into() }
    }

    fn unsupported(&self, data_type: &DataType) -> InterfaceError {
        InterfaceError::UnsupportedType { column: self.name.clone(), data_type: data_type.to_string() }
    }
}

/// The value at row `i` of an Arrow column.
pub(crate) fn arrow_value(array: &dyn Array, i: usize, col: &ColumnMeta) -> Result<Value, InterfaceError> {
    use DataType as D;
    if array.is_null(i) {
        return Ok(Value::Null);
    }
    let a = array;
    Ok(match a.data_type() {
        D::Null => Value::Null,
        D::Boolean => Value::Bool(a.as_boolean().value(i)),
        D::Int8 => integer(i128::from(prim::<Int8Type>(a, i)), col)?,
        D::Int16 => integer(i128::from(prim::<Int16Type>(a, i)), col)?,
        D::Int32 => integer(i128::from(prim::<Int32Type>(a, i)), col)?,
        D::Int64 => integer(i128::from(prim::<Int64Type>(a, i)), col)?,
        D::UInt8 => integer(i128::from(prim::<UInt8Type>(a, i)), col)?,
        D::UInt16 => integer(i128::from(prim::<UInt16Type>(a, i)), col)?,
        D::UInt32 => integer(i128::from(prim::<UInt32Type>(a, i)), col)?,
        D::UInt64 => integer(i128::from(prim::<UInt64Type>(a, i)), col)?,
        D::Float16 => Value::Float(prim::<Float16Type>(a, i).to_f64()),
        D::Float32 => Value::Float(f64::from(prim::<Float32Type>(a, i))),
        D::Float64 => Value::Float(prim::<Float64Type>(a, i)),
        D::Decimal32(_, s) => decimal(i128::from(prim::<Decimal32Type>(a, i)), *s, col)?,
        D::Decimal64(_, s) => decimal(i128::from(prim::<Decimal64Type>(a, i)), *s, col)?,
        D::Decimal128(_, s) => decimal(prim::<Decimal128Type>(a, i), *s, col)?,
        D::Decimal256(_, s) => {
            let v = prim::<Decimal256Type>(a, i).to_i128().ok_or_else(|| col.bad("a number beyond 38 digits"))?;
            decimal(v, *s, col)?
        }
        D::Utf8 => Value::Text(a.as_string::<i32>().value(i).to_owned()),
        D::LargeUtf8 => Value::Text(a.as_string::<i64>().value(i).to_owned()),
        D::Utf8View => Value::Text(a.as_string_view().value(i).to_owned()),
        D::Binary => Value::Binary(a.as_binary::<i32>().value(i).to_vec()),
        D::LargeBinary => Value::Binary(a.as_binary::<i64>().value(i).to_vec()),
        D::BinaryView => Value::Binary(a.as_binary_view().value(i).to_vec()),
        D::FixedSizeBinary(_) => Value::Binary(a.as_fixed_size_binary().value(i).to_vec()),
        D::Date32 => date_from_days(i64::from(prim::<Date32Type>(a, i)), col)?,
        D::Date64 => date_from_days(prim::<Date64Type>(a, i).div_euclid(86_400_000), col)?,
        D::Time32(TimeUnit::Second) => {
            time_from_nanos(i128::from(prim::<Time32SecondType>(a, i)) * 1_000_000_000, col)?
        }
        D::Time32(_) => time_from_nanos(i128::from(prim::<Time32MillisecondType>(a, i)) * 1_000_000, col)?,
        D::Time64(TimeUnit::Microsecond) => {
            time_from_nanos(i128::from(prim::<Time64MicrosecondType>(a, i)) * 1_000, col)?
        }
        D::Time64(_) => time_from_nanos(i128::from(prim::<Time64NanosecondType>(a, i)), col)?,
        D::Timestamp(unit, tz) => {
            let (raw, per_unit) = match unit {
                TimeUnit::Second => (prim::<TimestampSecondType>(a, i), 1_000_000_000),
                TimeUnit::Millisecond => (prim::<TimestampMillisecondType>(a, i), 1_000_000),
                TimeUnit::Microsecond => (prim::<TimestampMicrosecondType>(a, i), 1_000),
                TimeUnit::Nanosecond => (prim::<TimestampNanosecondType>(a, i), 1),
            };
            let nanos = i128::from(raw) * per_unit;
            match (tz, col.kind) {
                (Some(tz), _) => timestamp_tz(nanos, parse_offset(tz).unwrap_or(UtcOffset::UTC), col)?,
                (None, Kind::TimestampLtz | Kind::TimestampTz) => timestamp_tz(nanos, UtcOffset::UTC, col)?,
                (None, _) => timestamp_ntz(nanos, col)?,
            }
        }
        D::Dictionary(key, _) => {
            let (values, k) = match key.as_ref() {
                D::Int8 => dictionary::<Int8Type>(a, i),
                D::Int16 => dictionary::<Int16Type>(a, i),
                D::Int32 => dictionary::<Int32Type>(a, i),
                D::Int64 => dictionary::<Int64Type>(a, i),
                D::UInt8 => dictionary::<UInt8Type>(a, i),
                D::UInt16 => dictionary::<UInt16Type>(a, i),
                D::UInt32 => dictionary::<UInt32Type>(a, i),
                D::UInt64 => dictionary::<UInt64Type>(a, i),
                other => return Err(col.unsupported(other)),
            };
            match k {
                Some(k) => arrow_value(values.as_ref(), k, col)?,
                None => Value::Null,
            }
        }
        D::Struct(fields) if fields.find("epoch").is_some() => snowflake_timestamp_struct(a.as_struct(), i, col)?,
        D::List(_) | D::LargeList(_) | D::FixedSizeList(..) | D::Struct(_) | D::Map(..) => {
            Value::Text(json_of(a, i, col)?.to_string())
        }
        other => return Err(col.unsupported(other)),
    })
}

fn prim<T: ArrowPrimitiveType>(a: &dyn Array, i: usize) -> T::Native {
    a.as_primitive::<T>().value(i)
}

fn dictionary<K: arrow_array::types::ArrowDictionaryKeyType>(
    a: &dyn Array,
    i: usize,
) -> (arrow_array::ArrayRef, Option<usize>) {
    let d = a.as_dictionary::<K>();
    (d.values().clone(), d.key(i))
}

/// An integer column: a plain integer, or one of Snowflake's Arrow
/// conventions when the `rowtype` says so.
fn integer(v: i128, col: &ColumnMeta) -> Result<Value, InterfaceError> {
    match col.kind {
        Kind::Fixed if col.scale > 0 => Ok(Value::Decimal(Decimal::new(v, col.scale as u8))),
        Kind::Date => date_from_days(i64::try_from(v).map_err(|_| col.bad("date out of range"))?, col),
        Kind::Time => time_from_nanos(scale_to_nanos(v, col.scale), col),
        Kind::TimestampNtz => timestamp_ntz(scale_to_nanos(v, col.scale), col),
        Kind::TimestampLtz | Kind::TimestampTz => timestamp_tz(scale_to_nanos(v, col.scale), UtcOffset::UTC, col),
        _ => Ok(i64::try_from(v).map_or(Value::Decimal(Decimal::new(v, 0)), Value::Int)),
    }
}

fn decimal(v: i128, scale: i8, col: &ColumnMeta) -> Result<Value, InterfaceError> {
    if scale < 0 {
        let factor =
            10i128.checked_pow(u32::from(scale.unsigned_abs())).ok_or_else(|| col.bad("scale out of range"))?;
        let v = v.checked_mul(factor).ok_or_else(|| col.bad("a number beyond 38 digits"))?;
        return Ok(i64::try_from(v).map_or(Value::Decimal(Decimal::new(v, 0)), Value::Int));
    }
    if scale == 0 {
        return Ok(i64::try_from(v).map_or(Value::Decimal(Decimal::new(v, 0)), Value::Int));
    }
    Ok(Value::Decimal(Decimal::new(v, scale.unsigned_abs())))
}

/// `v × 10^-scale` seconds, in nanoseconds.
fn scale_to_nanos(v: i128, scale: u32) -> i128 {
    match scale {
        0..=9 => v * 10i128.pow(9 - scale),
        _ => v / 10i128.pow(scale - 9),
    }
}

fn date_from_days(days: i64, col: &ColumnMeta) -> Result<Value, InterfaceError> {
    i32::try_from(days + i64::from(EPOCH_JULIAN_DAY))
        .ok()
        .and_then(|jd| Date::from_julian_day(jd).ok())
        .map(Value::Date)
        .ok_or_else(|| col.bad(format!("{days} days since 1970-01-01 is out of range")))
}

fn time_from_nanos(nanos: i128, col: &ColumnMeta) -> Result<Value, InterfaceError> {
    const DAY: i128 = 86_400_000_000_000;
    if !(0..DAY).contains(&nanos) {
        return Err(col.bad(format!("{nanos} ns is not a time of day")));
    }
    let secs = nanos / 1_000_000_000;
    let (h, m, s) = ((secs / 3600) as u8, ((secs / 60) % 60) as u8, (secs % 60) as u8);
    Time::from_hms_nano(h, m, s, (nanos % 1_000_000_000) as u32).map(Value::Time).map_err(|e| col.bad(e.to_string()))
}

fn instant(nanos: i128, col: &ColumnMeta) -> Result<OffsetDateTime, InterfaceError> {
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map_err(|_| col.bad(format!("timestamp {nanos} ns since the epoch is out of range")))
}

fn timestamp_ntz(nanos: i128, col: &ColumnMeta) -> Result<Value, InterfaceError> {
    let t = instant(nanos, col)?;
    Ok(Value::Timestamp(PrimitiveDateTime::new(t.date(), t.time())))
}

fn timestamp_tz(nanos: i128, offset: UtcOffset, col: &ColumnMeta) -> Result<Value, InterfaceError> {
    let t = instant(nanos, col)?;
    t.checked_to_offset(offset).map(Value::TimestampTz).ok_or_else(|| col.bad("timestamp out of range"))
}

/// A fixed offset named as Arrow time zones are: `+01:00`, `-0530`,
/// `+05`, `UTC`, `Z`. Named zones (`Europe/Paris`) give `None`: the
/// instant is then shown in UTC.
fn parse_offset(tz: &str) -> Option<UtcOffset> {
    if ["utc", "z", "gmt", "etc/utc"].contains(&tz.to_ascii_lowercase().as_str()) {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match tz.as_bytes().first()? {
        b'+' => (1i8, &tz[1..]),
        b'-' => (-1i8, &tz[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i8>().ok()?, 0),
        4 => (digits[..2].parse::<i8>().ok()?, digits[2..].parse::<i8>().ok()?),
        _ => return None,
    };
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

/// Snowflake's Arrow encoding of a timestamp as a struct of `epoch`
/// (seconds), `fraction` (nanoseconds) and, for `TIMESTAMP_TZ`,
/// `timezone` (offset in minutes + 1440).
fn snowflake_timestamp_struct(s: &StructArray, i: usize, col: &ColumnMeta) -> Result<Value, InterfaceError> {
    let int_at = |name: &str| -> Option<i64> {
        let c = s.column_by_name(name)?;
        match c.data_type() {
            DataType::Int64 => Some(prim::<Int64Type>(c.as_ref(), i)),
            DataType::Int32 => Some(i64::from(prim::<Int32Type>(c.as_ref(), i))),
            _ => None,
        }
    };
    let epoch = int_at("epoch").ok_or_else(|| col.bad("timestamp struct without an integer epoch"))?;
    let nanos = i128::from(epoch) * 1_000_000_000 + i128::from(int_at("fraction").unwrap_or(0));
    match (col.kind, int_at("timezone")) {
        (Kind::TimestampNtz, _) => timestamp_ntz(nanos, col),
        (_, Some(tz)) => {
            let minutes = tz - 1440;
            let offset =
                UtcOffset::from_whole_seconds(i32::try_from(minutes * 60).unwrap_or(0)).unwrap_or(UtcOffset::UTC);
            timestamp_tz(nanos, offset, col)
        }
        (_, None) => timestamp_tz(nanos, UtcOffset::UTC, col),
    }
}

/// A nested value (list, struct, map) as JSON, the way Snowflake returns
/// `ARRAY` and `OBJECT` columns.
fn json_of(a: &dyn Array, i: usize, col: &ColumnMeta) -> Result<serde_json::Value, InterfaceError> {
    use serde_json::Value as J;
    if a.is_null(i) {
        return Ok(J::Null);
    }
    let items = |values: &dyn Array| -> Result<J, InterfaceError> {
        (0..values.len()).map(|j| json_of(values, j, col)).collect::<Result<Vec<_>, _>>().map(J::Array)
    };
    Ok(match a.data_type() {
        DataType::List(_) => items(a.as_list::<i32>().value(i).as_ref())?,
        DataType::LargeList(_) => items(a.as_list::<i64>().value(i).as_ref())?,
        DataType::FixedSizeList(..) => items(a.as_fixed_size_list().value(i).as_ref())?,
        DataType::Struct(fields) => {
            let s = a.as_struct();
            let mut object = serde_json::Map::new();
            for (field, column) in fields.iter().zip(s.columns()) {
                object.insert(field.name().clone(), json_of(column.as_ref(), i, col)?);
            }
            J::Object(object)
        }
        DataType::Map(..) => {
            let entries = a.as_map().value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            let mut object = serde_json::Map::new();
            for j in 0..entries.len() {
                let key = match json_of(keys.as_ref(), j, col)? {
                    J::String(s) => s,
                    other => other.to_string(),
                };
                object.insert(key, json_of(values.as_ref(), j, col)?);
            }
            J::Object(object)
        }
        _ => {
            let plain = ColumnMeta { name: col.name.clone(), kind: Kind::Other, scale: 0 };
            match arrow_value(a, i, &plain)? {
                Value::Null => J::Null,
                Value::Bool(b) => J::Bool(b),
                Value::Int(v) => J::from(v),
                Value::Float(v) => serde_json::Number::from_f64(v).map_or_else(|| J::String(v.to_string()), J::Number),
                Value::Text(s) => J::String(s),
                other => J::String(other.to_string()),
            }
        }
    })
}

/// The value of one cell of Snowflake's JSON `rowset` (every value a
/// string, or `null`), decoded as snowflake-connector-python's converter
/// does.
pub(crate) fn json_value(text: Option<&str>, col: &ColumnMeta) -> Result<Value, InterfaceError> {
    let Some(text) = text else { return Ok(Value::Null) };
    let bad = |what: &str| col.bad(format!("{text:?} is not a valid {what}"));
    Ok(match col.kind {
        Kind::Fixed => {
            let d: Decimal = text.parse().map_err(|_| bad("number"))?;
            if d.scale == 0 { i64::try_from(d.value).map_or(Value::Decimal(d), Value::Int) } else { Value::Decimal(d) }
        }
        Kind::Real => Value::Float(text.parse().map_err(|_| bad("float"))?),
        Kind::Boolean => match text.to_ascii_lowercase().as_str() {
            "1" | "true" => Value::Bool(true),
            "0" | "false" => Value::Bool(false),
            _ => return Err(bad("boolean")),
        },
        Kind::Binary => Value::Binary(decode_hex(text).ok_or_else(|| bad("hex string"))?),
        Kind::Date => date_from_days(text.parse().map_err(|_| bad("date (days since 1970-01-01)"))?, col)?,
        Kind::Time => time_from_nanos(seconds_to_nanos(text).ok_or_else(|| bad("time"))?, col)?,
        Kind::TimestampNtz => timestamp_ntz(seconds_to_nanos(text).ok_or_else(|| bad("timestamp"))?, col)?,
        Kind::TimestampLtz => {
            timestamp_tz(seconds_to_nanos(text).ok_or_else(|| bad("timestamp"))?, UtcOffset::UTC, col)?
        }
        Kind::TimestampTz => {
            let (secs, tz) = text.split_once(' ').ok_or_else(|| bad("TIMESTAMP_TZ"))?;
            let nanos = seconds_to_nanos(secs).ok_or_else(|| bad("TIMESTAMP_TZ"))?;
            let minutes: i32 = tz.trim().parse::<i32>().map_err(|_| bad("TIMESTAMP_TZ"))? - 1440;
            let offset = UtcOffset::from_whole_seconds(minutes * 60).map_err(|_| bad("TIMESTAMP_TZ"))?;
            timestamp_tz(nanos, offset, col)?
        }
        Kind::Text | Kind::Other => Value::Text(text.to_owned()),
    })
}

/// `"1704164645.123456789"` (seconds with a fraction) in nanoseconds.
fn seconds_to_nanos(text: &str) -> Option<i128> {
    let d: Decimal = text.parse().ok()?;
    Some(scale_to_nanos(d.value, u32::from(d.scale)))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::*;
    use arrow_schema::{Field, Fields};
    use time::macros::{date, datetime, time};

    use super::*;

    fn row_type(name: &str, type_name: &str, scale: Option<i64>) -> RowType {
        RowType {
            name: name.into(),
            database: String::new(),
            schema: String::new(),
            table: String::new(),
            type_name: type_name.into(),
            nullable: true,
            length: None,
            precision: None,
            scale,
            byte_length: None,
            collation: None,
        }
    }

    fn meta(type_name: &str, scale: Option<i64>) -> ColumnMeta {
        ColumnMeta::from_row_type(&row_type("C", type_name, scale))
    }

    fn all(array: &dyn Array, col: &ColumnMeta) -> Vec<Value> {
        (0..array.len()).map(|i| arrow_value(array, i, col).unwrap()).collect()
    }

    #[test]
    fn arrow_values_from_the_embedded_warehouse() {
        let fixed = meta("fixed", Some(0));
        assert_eq!(all(&Int64Array::from(vec![Some(-42), None]), &fixed), [Value::Int(-42), Value::Null]);
        assert_eq!(all(&UInt64Array::from(vec![u64::MAX]), &fixed), [Value::Decimal(Decimal::new(u64::MAX.into(), 0))]);
        let d = Decimal128Array::from(vec![-150, 7]).with_precision_and_scale(10, 2).unwrap();
        assert_eq!(
            all(&d, &meta("fixed", Some(2))),
            [Value::Decimal(Decimal::new(-150, 2)), Value::Decimal(Decimal::new(7, 2))]
        );
        let d0 = Decimal128Array::from(vec![12]).with_precision_and_scale(38, 0).unwrap();
        assert_eq!(all(&d0, &fixed), [Value::Int(12)]);
        assert_eq!(all(&Float64Array::from(vec![1.5]), &meta("real", None)), [Value::Float(1.5)]);
        assert_eq!(all(&StringArray::from(vec!["a"]), &meta("text", None)), [Value::from("a")]);
        assert_eq!(all(&StringViewArray::from(vec!["v"]), &meta("text", None)), [Value::from("v")]);
        assert_eq!(all(&BooleanArray::from(vec![true, false]), &meta("boolean", None)), [true.into(), false.into()]);
        assert_eq!(all(&BinaryArray::from(vec![&[0u8, 255][..]]), &meta("binary", None)), [vec![0u8, 255].into()]);
        assert_eq!(
            all(&Date32Array::from(vec![19724, -1]), &meta("date", None)),
            [date!(2024 - 01 - 02).into(), date!(1969 - 12 - 31).into()]
        );
        assert_eq!(
            all(&Time64NanosecondArray::from(vec![3_723_500_000_000]), &meta("time", Some(9))),
            [time!(01:02:03.5).into()]
        );
        let ntz = TimestampMicrosecondArray::from(vec![1_704_164_645_123_456, -1_500_000]);
        assert_eq!(
            all(&ntz, &meta("timestamp_ntz", Some(6))),
            [datetime!(2024-01-02 03:04:05.123456).into(), datetime!(1969-12-31 23:59:58.5).into()]
        );
        let ltz = TimestampNanosecondArray::from(vec![0]).with_timezone("+01:00");
        assert_eq!(all(&ltz, &meta("timestamp_ltz", Some(9))), [datetime!(1970-01-01 01:00 +01:00).into()]);
        let utc = TimestampSecondArray::from(vec![0]).with_timezone("UTC");
        assert_eq!(all(&utc, &meta("timestamp_ltz", Some(0))), [datetime!(1970-01-01 0:00 UTC).into()]);
    }

    #[test]
    fn arrow_values_in_snowflakes_conventions() {
        // NUMBER(10, 2) as a scaled integer.
        assert_eq!(
            all(&Int32Array::from(vec![-150]), &meta("fixed", Some(2))),
            [Value::Decimal(Decimal::new(-150, 2))]
        );
        // TIMESTAMP_NTZ(3) as epoch milliseconds in an Int64.
        assert_eq!(
            all(&Int64Array::from(vec![1_704_164_645_123]), &meta("timestamp_ntz", Some(3))),
            [datetime!(2024-01-02 03:04:05.123).into()]
        );
        // DATE as days in an Int32.
        assert_eq!(all(&Int32Array::from(vec![19724]), &meta("date", None)), [date!(2024 - 01 - 02).into()]);
        // TIMESTAMP_TZ as {epoch, fraction, timezone}.
        let s = StructArray::from(vec![
            (Arc::new(Field::new("epoch", DataType::Int64, false)), Arc::new(Int64Array::from(vec![0])) as ArrayRef),
            (Arc::new(Field::new("fraction", DataType::Int32, false)), Arc::new(Int32Array::from(vec![500_000_000]))),
            (Arc::new(Field::new("timezone", DataType::Int32, false)), Arc::new(Int32Array::from(vec![1500]))),
        ]);
        assert_eq!(all(&s, &meta("timestamp_tz", Some(9))), [datetime!(1970-01-01 01:00:00.5 +01:00).into()]);
    }

    #[test]
    fn nested_and_dictionary_values() {
        let mut list = ListBuilder::new(StringBuilder::new());
        list.values().append_value("a");
        list.values().append_null();
        list.append(true);
        let list = list.finish();
        assert_eq!(all(&list, &meta("array", None)), [Value::from(r#"["a",null]"#)]);
        let fields = Fields::from(vec![Field::new("x", DataType::Int64, true)]);
        let s = StructArray::new(fields, vec![Arc::new(Int64Array::from(vec![1])) as ArrayRef], None);
        assert_eq!(all(&s, &meta("object", None)), [Value::from(r#"{"x":1}"#)]);
        let dict: DictionaryArray<Int32Type> = vec![Some("b"), None, Some("b")].into_iter().collect();
        assert_eq!(all(&dict, &meta("text", None)), [Value::from("b"), Value::Null, Value::from("b")]);
    }

    #[test]
    fn unsupported_types_name_the_column() {
        let a = DurationSecondArray::from(vec![1]);
        let err = arrow_value(&a, 0, &meta("text", None)).unwrap_err();
        assert!(err.to_string().contains("column \"C\" has type Duration"), "{err}");
    }

    #[test]
    fn json_rowset_values_as_the_python_connector_reads_them() {
        let cases: Vec<(&str, Option<i64>, Option<&str>, Value)> = vec![
            ("fixed", Some(0), Some("-5"), Value::Int(-5)),
            ("fixed", Some(2), Some("12.34"), Value::Decimal(Decimal::new(1234, 2))),
            (
                "fixed",
                Some(0),
                Some("123456789012345678901234567890"),
                Value::Decimal("123456789012345678901234567890".parse().unwrap()),
            ),
            ("real", None, Some("1e-05"), Value::Float(1e-5)),
            ("real", None, Some("-inf"), Value::Float(f64::NEG_INFINITY)),
            ("text", None, Some("a"), Value::from("a")),
            ("boolean", None, Some("1"), Value::Bool(true)),
            ("boolean", None, Some("FALSE"), Value::Bool(false)),
            ("date", None, Some("19724"), date!(2024 - 01 - 02).into()),
            ("time", Some(9), Some("3723.500000000"), time!(01:02:03.5).into()),
            ("timestamp_ntz", Some(9), Some("1704164645.123456789"), datetime!(2024-01-02 03:04:05.123456789).into()),
            ("timestamp_ntz", Some(9), Some("-0.500000000"), datetime!(1969-12-31 23:59:59.5).into()),
            ("timestamp_ltz", Some(0), Some("0"), datetime!(1970-01-01 0:00 UTC).into()),
            (
                "timestamp_tz",
                Some(9),
                Some("1704164645.123456789 1500"),
                datetime!(2024-01-02 04:04:05.123456789 +01:00).into(),
            ),
            ("binary", None, Some("01AB"), vec![1u8, 0xab].into()),
            ("variant", None, Some("{\"a\": 1}"), Value::from("{\"a\": 1}")),
            ("text", None, None, Value::Null),
        ];
        for (type_name, scale, text, expected) in cases {
            assert_eq!(json_value(text, &meta(type_name, scale)).unwrap(), expected, "{type_name} {text:?}");
        }
        for (type_name, text) in [("fixed", "x"), ("boolean", "yes"), ("binary", "0"), ("date", "1.5"), ("time", "-1")]
        {
            let err = json_value(Some(text), &meta(type_name, Some(0))).unwrap_err();
            assert!(err.to_string().starts_with("column \"C\""), "{err}");
        }
    }

    #[test]
    fn descriptions_follow_pep_249() {
        let mut rt = row_type("X", "fixed", Some(0));
        rt.precision = Some(38);
        rt.nullable = false;
        let d = ColumnDescription::from_row_type(&rt);
        assert_eq!((d.name.as_str(), d.type_code, d.type_name.as_str()), ("X", 0, "FIXED"));
        assert_eq!((d.precision, d.scale, d.null_ok, d.display_size), (Some(38), Some(0), false, None));
        let mut rt = row_type("Y", "TEXT", None);
        rt.length = Some(16_777_216);
        let d = ColumnDescription::from_row_type(&rt);
        assert_eq!((d.type_code, d.internal_size), (2, Some(16_777_216)));
        assert_eq!(ColumnDescription::from_row_type(&row_type("Z", "timestamp_ntz", Some(9))).type_code, 8);
        assert_eq!(ColumnDescription::from_row_type(&row_type("B", "boolean", None)).type_code, 13);
        assert_eq!(ColumnDescription::from_row_type(&row_type("U", "geo", None)).type_code, 0);
    }
}
