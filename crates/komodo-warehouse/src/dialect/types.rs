//! Snowflake's type names as DataFusion's.

use datafusion::sql::sqlparser::ast::{self, ObjectNamePart};

/// Snowflake's type names that DataFusion does not know, as the types it does.
pub(crate) fn snowflake_data_type(data_type: &mut ast::DataType) {
    use ast::{DataType as T, ExactNumberInfo as N, TimezoneInfo as Tz};
    let replacement = match &*data_type {
        T::TimestampNtz(p) => T::Timestamp(*p, Tz::None),
        // Snowflake's BINARY(n) and VARBINARY(n): variable-length bytes.
        T::Binary(_) | T::Varbinary(_) => T::Bytea,
        T::Decimal(N::None) | T::Numeric(N::None) => T::Decimal(N::PrecisionAndScale(38, 0)),
        T::Custom(name, args) => {
            let [ObjectNamePart::Identifier(id)] = name.0.as_slice() else { return };
            let numbers: Vec<u64> = args.iter().filter_map(|a| a.trim().parse().ok()).collect();
            match id.value.to_ascii_uppercase().as_str() {
                "NUMBER" => match numbers.as_slice() {
                    [] => T::Decimal(N::PrecisionAndScale(38, 0)),
                    [p] => T::Decimal(N::PrecisionAndScale(*p, 0)),
                    [p, s] => T::Decimal(N::PrecisionAndScale(*p, i64::try_from(*s).unwrap_or(0))),
                    _ => return,
                },
                "TIMESTAMP_NTZ" | "TIMESTAMPNTZ" | "DATETIME" => T::Timestamp(numbers.first().copied(), Tz::None),
                // TIMESTAMP_LTZ and TIMESTAMP_TZ are planned as types of
                // their own (`crate::plan`).
                "BYTEINT" => T::BigInt(None),
                _ => return,
            }
        }
        _ => return,
    };
    *data_type = replacement;
}
