//! Bind parameters: Snowflake's typed binding values turned into DataFusion
//! scalars. Values are bound on the logical plan, never spliced into SQL.

use std::sync::Arc;

use datafusion::scalar::ScalarValue;

use crate::WarehouseError;
use crate::timestamp_tz::{Zoned, zoned_array};

/// One bind parameter as Snowflake's connectors send it: a Snowflake type
/// name and the value as text (`null` for SQL NULL).
///
/// The text encodings are the connectors' (snowflake-connector-python's
/// `to_snowflake_bindings`, gosnowflake's bindings):
///
/// | type | value |
/// |---|---|
/// | `TEXT`, `ANY` | the string |
/// | `FIXED` | decimal text (`42`, `-1.50`) |
/// | `REAL` | float text (`1.5`, `inf`, `NaN`) |
/// | `BOOLEAN` | `true`/`false` (also `1`/`0`) |
/// | `DATE` | milliseconds since the epoch |
/// | `TIME` | nanoseconds since midnight |
/// | `TIMESTAMP_NTZ`, `TIMESTAMP_LTZ` | nanoseconds since the epoch |
/// | `TIMESTAMP_TZ` | nanoseconds since the epoch, a space, the offset in minutes + 1440 (kept with the value) |
/// | `BINARY` | hex |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Snowflake's type name (`TEXT`, `FIXED`, `REAL`, `BOOLEAN`, `DATE`,
    /// `TIME`, `TIMESTAMP_NTZ`, `TIMESTAMP_LTZ`, `TIMESTAMP_TZ`, `BINARY`,
    /// `ANY`), case-insensitive.
    pub type_name: String,
    /// The value in Snowflake's binding encoding; `None` is SQL NULL.
    pub value: Option<String>,
}

impl Param {
    /// A parameter of the given Snowflake type.
    pub fn new(type_name: impl Into<String>, value: Option<String>) -> Self {
        Self { type_name: type_name.into(), value }
    }
    /// A `TEXT` parameter.
    pub fn text(value: impl Into<String>) -> Self {
        Self::new("TEXT", Some(value.into()))
    }
    /// A `FIXED` (integer) parameter.
    pub fn fixed(value: i64) -> Self {
        Self::new("FIXED", Some(value.to_string()))
    }
    /// A `REAL` parameter.
    pub fn real(value: f64) -> Self {
        Self::new("REAL", Some(value.to_string()))
    }
    /// A `BOOLEAN` parameter.
    pub fn boolean(value: bool) -> Self {
        Self::new("BOOLEAN", Some(value.to_string()))
    }
    /// A `DATE` parameter from days since the epoch.
    pub fn date_from_days(days: i32) -> Self {
        Self::new("DATE", Some((i64::from(days) * 86_400_000).to_string()))
    }
    /// A SQL NULL (`ANY`).
    pub fn null() -> Self {
        Self::new("ANY", None)
    }

    /// The DataFusion scalar for this parameter.
    pub fn to_scalar(&self) -> Result<ScalarValue, WarehouseError> {
        let ty = self.type_name.to_ascii_uppercase();
        let bad = |what: &str| {
            WarehouseError::Binding(format!(
                "value of type {ty} is not a valid {what}: {:?}",
                self.value.as_deref().unwrap_or("")
            ))
        };
        let Some(v) = self.value.as_deref() else {
            return Ok(match ty.as_str() {
                "TEXT" => ScalarValue::Utf8(None),
                "FIXED" => ScalarValue::Int64(None),
                "REAL" => ScalarValue::Float64(None),
                "BOOLEAN" => ScalarValue::Boolean(None),
                "DATE" => ScalarValue::Date32(None),
                "TIME" => ScalarValue::Time64Nanosecond(None),
                "TIMESTAMP_NTZ" => ScalarValue::TimestampNanosecond(None, None),
                "TIMESTAMP_LTZ" => ScalarValue::TimestampNanosecond(None, Some(Arc::from("+00:00"))),
                "TIMESTAMP_TZ" => zoned_scalar(None),
                "BINARY" => ScalarValue::Binary(None),
                _ => ScalarValue::Null,
            });
        };
        let v = v.trim();
        Ok(match ty.as_str() {
            "TEXT" | "ANY" => ScalarValue::Utf8(Some(v.to_owned())),
            "FIXED" => parse_fixed(v).ok_or_else(|| bad("number"))?,
            "REAL" => ScalarValue::Float64(Some(v.parse::<f64>().map_err(|_| bad("float"))?)),
            "BOOLEAN" => ScalarValue::Boolean(Some(match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "t" | "yes" | "y" | "on" => true,
                "false" | "0" | "f" | "no" | "n" | "off" => false,
                _ => return Err(bad("boolean")),
            })),
            "DATE" => {
                let ms: i64 = v.parse().map_err(|_| bad("date (milliseconds since the epoch)"))?;
                let days = ms.div_euclid(86_400_000);
                ScalarValue::Date32(Some(i32::try_from(days).map_err(|_| bad("date"))?))
            }
            "TIME" => {
                ScalarValue::Time64Nanosecond(Some(v.parse().map_err(|_| bad("time (nanoseconds since midnight)"))?))
            }
            "TIMESTAMP_NTZ" => ScalarValue::TimestampNanosecond(
                Some(v.parse().map_err(|_| bad("timestamp (nanoseconds since the epoch)"))?),
                None,
            ),
            "TIMESTAMP_LTZ" => {
                let nanos = v.split_whitespace().next().unwrap_or("");
                ScalarValue::TimestampNanosecond(
                    Some(nanos.parse().map_err(|_| bad("timestamp (nanoseconds since the epoch)"))?),
                    Some(Arc::from("+00:00")),
                )
            }
            "TIMESTAMP_TZ" => {
                let mut parts = v.split_whitespace();
                let utc_nanos =
                    parts.next().unwrap_or("").parse().map_err(|_| bad("timestamp (nanoseconds since the epoch)"))?;
                // The offset in minutes + 1440 (UTC when absent).
                let offset_minutes = match parts.next() {
                    None => 0,
                    Some(o) => match o.parse::<i32>() {
                        Ok(o) if (0..2880).contains(&o) => o - 1440,
                        _ => return Err(bad("timestamp with an offset (minutes + 1440, 0 to 2879)")),
                    },
                };
                zoned_scalar(Some(Zoned { utc_nanos, offset_minutes }))
            }
            "BINARY" => ScalarValue::Binary(Some(decode_hex(v).ok_or_else(|| bad("hex string"))?)),
            other => {
                return Err(WarehouseError::Binding(format!("unsupported bind type {other}")));
            }
        })
    }
}

/// A `TIMESTAMP_TZ` value (`crate::timestamp_tz`) as a scalar.
fn zoned_scalar(value: Option<Zoned>) -> ScalarValue {
    let array = zoned_array([value]);
    match array.as_any().downcast_ref::<arrow_array::StructArray>() {
        Some(s) => ScalarValue::Struct(Arc::new(s.clone())),
        None => ScalarValue::Null,
    }
}

fn parse_fixed(v: &str) -> Option<ScalarValue> {
    if let Ok(i) = v.parse::<i64>() {
        return Some(ScalarValue::Int64(Some(i)));
    }
    let (neg, digits) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
        || int.len() + frac.len() > 38
    {
        return None;
    }
    let mut n: i128 = format!("{int}{frac}").parse().ok()?;
    if neg {
        n = -n;
    }
    Some(ScalarValue::Decimal128(Some(n), 38, i8::try_from(frac.len()).ok()?))
}

fn decode_hex(v: &str) -> Option<Vec<u8>> {
    if !v.len().is_multiple_of(2) {
        return None;
    }
    (0..v.len()).step_by(2).map(|i| u8::from_str_radix(v.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_encodings_decode() {
        assert_eq!(Param::text("a'b").to_scalar().unwrap(), ScalarValue::Utf8(Some("a'b".into())));
        assert_eq!(Param::fixed(-7).to_scalar().unwrap(), ScalarValue::Int64(Some(-7)));
        assert_eq!(
            Param::new("FIXED", Some("-1.50".into())).to_scalar().unwrap(),
            ScalarValue::Decimal128(Some(-150), 38, 2)
        );
        assert_eq!(Param::new("boolean", Some("false".into())).to_scalar().unwrap(), ScalarValue::Boolean(Some(false)));
        // python: date(2024, 1, 2) -> "1704153600000"
        assert_eq!(
            Param::new("DATE", Some("1704153600000".into())).to_scalar().unwrap(),
            ScalarValue::Date32(Some(19724))
        );
        // The offset (+60 minutes) stays with the value.
        assert_eq!(
            Param::new("TIMESTAMP_TZ", Some("1000000000 1500".into())).to_scalar().unwrap(),
            zoned_scalar(Some(Zoned { utc_nanos: 1_000_000_000, offset_minutes: 60 }))
        );
        assert_eq!(
            Param::new("TIMESTAMP_LTZ", Some("1000000000".into())).to_scalar().unwrap(),
            ScalarValue::TimestampNanosecond(Some(1_000_000_000), Some(Arc::from("+00:00")))
        );
        assert_eq!(
            Param::new("BINARY", Some("00ff".into())).to_scalar().unwrap(),
            ScalarValue::Binary(Some(vec![0, 255]))
        );
        assert_eq!(Param::null().to_scalar().unwrap(), ScalarValue::Null);
    }

    #[test]
    fn bad_values_are_binding_errors() {
        for p in [
            Param::new("FIXED", Some("12a".into())),
            Param::new("BOOLEAN", Some("maybe".into())),
            Param::new("BINARY", Some("0".into())),
            Param::new("TIMESTAMP_TZ", Some("0 9999".into())),
            Param::new("GEOGRAPHY", Some("x".into())),
        ] {
            assert!(matches!(p.to_scalar(), Err(WarehouseError::Binding(_))), "{p:?}");
        }
    }
}
