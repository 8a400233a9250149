//! Snowflake's semantics where DataFusion plans SQL: hooks that see each
//! expression's types, which the AST rewrite (`crate::dialect`) cannot.
//!
//! - [`SnowflakeExprPlanner`]: division with Snowflake's result scale and
//!   error on zero, numeric strings in arithmetic, comparisons of
//!   `TIMESTAMP_TZ` values.
//! - [`SnowflakeTypePlanner`]: Snowflake's type names (`FLOAT`, `REAL` and
//!   `DOUBLE` are 64-bit; `VARIANT`, `OBJECT`, `ARRAY`, `TIMESTAMP_TZ`).
//! - [`VariantCasts`] and [`ZonedTimestamps`]: how casts, comparisons and
//!   functions read semi-structured values and `TIMESTAMP_TZ` values.

mod operators;
mod types;
mod variants;
mod zoned;

pub(crate) use operators::SnowflakeExprPlanner;
pub(crate) use types::{
    COLUMN_DEFAULT, COLUMN_IDENTITY, LOGICAL_TYPE, SnowflakeTypePlanner, column_default, column_identity,
};
pub(crate) use variants::VariantCasts;
pub(crate) use zoned::{ZonedOrder, ZonedTimestamps};
