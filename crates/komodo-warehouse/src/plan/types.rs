//! Snowflake's type names as DataFusion types.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, TimeUnit};
use datafusion::error::Result;
use datafusion::logical_expr::planner::TypePlanner;
use datafusion::sql::sqlparser::ast::{DataType as SqlType, ObjectNamePart, TimezoneInfo};

use crate::timestamp_tz::timestamp_tz;

/// The field metadata key naming a column's Snowflake type where the Arrow
/// type alone does not say it (the key Snowflake's own Arrow results use).
pub(crate) const LOGICAL_TYPE: &str = "logicalType";

/// The field metadata key holding a column's default as SQL text (see
/// `crate::engine`'s `INSERT` preparation); empty means none.
pub(crate) const COLUMN_DEFAULT: &str = "default";

/// The field metadata key marking an identity (`AUTOINCREMENT`) column:
/// its sequence's id, start and step, `"<id> <start> <step>"` (see
/// `crate::engine`'s sequences).
pub(crate) const COLUMN_IDENTITY: &str = "identity";

/// The start and step of identity column `field`.
pub(crate) fn column_identity(field: &Field) -> Option<(i64, i64)> {
    let mut parts = field.metadata().get(COLUMN_IDENTITY)?.split(' ').skip(1);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The default of a table's column `field`, as SQL text (an identity
/// column's as `DESCRIBE TABLE` shows it: `IDENTITY START 1 INCREMENT 1
/// ORDER`).
pub(crate) fn column_default(field: &Field) -> Option<String> {
    if let Some((start, step)) = column_identity(field) {
        return Some(format!("IDENTITY START {start} INCREMENT {step} ORDER"));
    }
    field.metadata().get(COLUMN_DEFAULT).filter(|d| !d.is_empty()).cloned()
}

/// A `Utf8` field holding JSON text of Snowflake type `logical` (`VARIANT`,
/// `OBJECT` or `ARRAY`).
pub(crate) fn semi_structured_field(name: &str, logical: &str) -> Field {
    Field::new(name, DataType::Utf8, true).with_metadata(HashMap::from([(LOGICAL_TYPE.to_owned(), logical.to_owned())]))
}

/// A `TIMESTAMP_LTZ` of `precision` fraction digits (nanoseconds when not
/// given): an instant, shown in the session's time zone (UTC).
fn timestamp_ltz(precision: Option<u64>) -> DataType {
    let unit = match precision {
        Some(0) => TimeUnit::Second,
        Some(1..=3) => TimeUnit::Millisecond,
        Some(4..=6) => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    };
    DataType::Timestamp(unit, Some(Arc::from("UTC")))
}

/// Plans Snowflake's type names that DataFusion reads otherwise or not at
/// all: `FLOAT`, `FLOAT4`, `FLOAT8`, `REAL`, `DOUBLE` and `DOUBLE
/// PRECISION` are all 64-bit (DataFusion makes `FLOAT` and `REAL` 32-bit);
/// `VARIANT`, `OBJECT` and `ARRAY` are JSON text marked with their type;
/// `TIMESTAMP_LTZ` (and `TIMESTAMP WITH TIME ZONE`) is an instant in UTC,
/// the session's time zone; `TIMESTAMP_TZ` is Snowflake's struct of an
/// instant and its offset (`crate::timestamp_tz`).
#[derive(Debug, Default)]
pub(crate) struct SnowflakeTypePlanner;

impl TypePlanner for SnowflakeTypePlanner {
    fn plan_type_field(&self, sql_type: &SqlType) -> Result<Option<FieldRef>> {
        let field = match sql_type {
            SqlType::Float(_)
            | SqlType::Float4
            | SqlType::Float8
            | SqlType::Float32
            | SqlType::Float64
            | SqlType::Real
            | SqlType::Double(_)
            | SqlType::DoublePrecision => Field::new("", DataType::Float64, true),
            SqlType::Custom(name, args) => match name.0.as_slice() {
                [ObjectNamePart::Identifier(id)] => match id.value.to_ascii_uppercase().as_str() {
                    t @ ("VARIANT" | "OBJECT") if args.is_empty() => semi_structured_field("", t),
                    // Values keep their offsets at nanoseconds, whatever
                    // precision is asked for.
                    "TIMESTAMP_TZ" | "TIMESTAMPTZ" if args.len() <= 1 => Field::new("", timestamp_tz(), true),
                    "TIMESTAMP_LTZ" | "TIMESTAMPLTZ" if args.len() <= 1 => {
                        let precision = args.first().and_then(|a| a.trim().parse().ok());
                        Field::new("", timestamp_ltz(precision), true)
                    }
                    _ => return Ok(None),
                },
                _ => return Ok(None),
            },
            SqlType::Array(_) => semi_structured_field("", "ARRAY"),
            SqlType::Timestamp(_, TimezoneInfo::Tz) => Field::new("", timestamp_tz(), true),
            SqlType::Timestamp(precision, TimezoneInfo::WithTimeZone) => {
                Field::new("", timestamp_ltz(*precision), true)
            }
            _ => return Ok(None),
        };
        Ok(Some(Arc::new(field)))
    }
}
