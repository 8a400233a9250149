//! Semi-structured data: `VARIANT`, `OBJECT` and `ARRAY` values as JSON
//! text in `Utf8` columns whose field metadata names the type
//! (`logicalType`, as in Snowflake's own Arrow results), and the functions
//! that make and read them.

pub(crate) mod json;
mod scalar;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef};
use datafusion::logical_expr::ScalarUDF;

pub(crate) use scalar::{FLATTEN, LIST_TO_ARRAY, LISTS_TO_OBJECT, VARIANT_CAST, VARIANT_GET, is_semi_structured};

use crate::plan::LOGICAL_TYPE;

/// A nullable field of Snowflake semi-structured type `logical`.
pub(crate) fn semi_field(name: &str, logical: &str) -> FieldRef {
    Arc::new(
        Field::new(name, DataType::Utf8, true)
            .with_metadata(HashMap::from([(LOGICAL_TYPE.to_owned(), logical.to_owned())])),
    )
}

/// The semi-structured function named `name` (one of this module's).
pub(crate) fn variant_function(name: &str) -> Option<ScalarUDF> {
    scalar::all().into_iter().find(|f| f.name() == name)
}

/// The scalar functions of semi-structured data.
pub(crate) fn scalar_functions() -> Vec<ScalarUDF> {
    scalar::all()
}
