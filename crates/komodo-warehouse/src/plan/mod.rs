//! Snowflake's semantics where DataFusion plans SQL: hooks that see each
//! expression's types, which the AST rewrite (`crate::dialect`) cannot.
//!
//! - [`SnowflakeExprPlanner`]: division with Snowflake's result scale and
//!   error on zero, numeric strings in arithmetic.
//! - [`SnowflakeTypePlanner`]: Snowflake's type names (`FLOAT`, `REAL` and
//!   `DOUBLE` are 64-bit; `VARIANT`, `OBJECT`, `ARRAY`).

mod operators;
mod types;
mod variants;

pub(crate) use operators::SnowflakeExprPlanner;
pub(crate) use types::{LOGICAL_TYPE, SnowflakeTypePlanner};
pub(crate) use variants::VariantCasts;
