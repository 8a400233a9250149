//! What the functions share: their arguments as arrays of one type,
//! constant arguments, and errors in Snowflake's words.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use arrow_schema::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

use crate::WarehouseError;

/// A function's failure on a value (a string that is not a number, a
/// part that does not exist, ...): an execution error in Snowflake's words.
pub(crate) fn execution(message: impl Into<String>) -> DataFusionError {
    DataFusionError::External(Box::new(WarehouseError::of_value(message.into())))
}

/// A call that cannot be compiled (wrong number or types of arguments).
pub(crate) fn compilation(message: impl Into<String>) -> DataFusionError {
    DataFusionError::Plan(message.into())
}

/// Fails unless `given` arguments lie in `min..=max`.
pub(crate) fn arity(function: &str, given: usize, min: usize, max: usize) -> Result<()> {
    if (min..=max).contains(&given) {
        return Ok(());
    }
    let expected = match (min, max) {
        (a, b) if a == b => format!("{a}"),
        (a, usize::MAX) => format!("at least {a}"),
        (a, b) => format!("{a} to {b}"),
    };
    Err(compilation(format!("function {function} takes {expected} argument(s), {given} given")))
}

/// The arguments as arrays of the batch's length.
pub(crate) fn arrays(args: &ScalarFunctionArgs) -> Result<Vec<ArrayRef>> {
    ColumnarValue::values_to_arrays(&args.args)
}

/// An argument the signature coerced to `Utf8`.
pub(crate) fn strings(array: &ArrayRef) -> Result<&StringArray> {
    array.as_string_opt::<i32>().ok_or_else(|| internal("a string", array))
}

/// An argument the signature coerced to `Int64`.
pub(crate) fn int64s(array: &ArrayRef) -> Result<&Int64Array> {
    array.as_primitive_opt::<Int64Type>().ok_or_else(|| internal("an integer", array))
}

/// An argument the signature coerced to `Float64`.
pub(crate) fn float64s(array: &ArrayRef) -> Result<&Float64Array> {
    array.as_primitive_opt::<Float64Type>().ok_or_else(|| internal("a double", array))
}

fn internal(what: &str, array: &ArrayRef) -> DataFusionError {
    DataFusionError::Internal(format!("expected {what} argument, got {}", array.data_type()))
}

/// Row `i` of a string array, `None` when NULL.
pub(crate) fn str_at(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// Row `i` of an integer array, `None` when NULL.
pub(crate) fn i64_at(a: &Int64Array, i: usize) -> Option<i64> {
    a.is_valid(i).then(|| a.value(i))
}

/// Row `i` of a double array, `None` when NULL.
pub(crate) fn f64_at(a: &Float64Array, i: usize) -> Option<f64> {
    a.is_valid(i).then(|| a.value(i))
}

/// The value of a constant integer argument; `None` when the argument is
/// not a constant, is NULL or is not a whole number.
pub(crate) fn constant_i64(value: Option<&ScalarValue>) -> Option<i64> {
    match value? {
        ScalarValue::Int8(v) => v.map(i64::from),
        ScalarValue::Int16(v) => v.map(i64::from),
        ScalarValue::Int32(v) => v.map(i64::from),
        ScalarValue::Int64(v) => *v,
        ScalarValue::UInt8(v) => v.map(i64::from),
        ScalarValue::UInt16(v) => v.map(i64::from),
        ScalarValue::UInt32(v) => v.map(i64::from),
        ScalarValue::UInt64(v) => v.and_then(|v| i64::try_from(v).ok()),
        ScalarValue::Decimal128(Some(v), _, 0) => i64::try_from(*v).ok(),
        _ => None,
    }
}

/// The value of a constant string argument; `None` when the argument is
/// not a constant string or is NULL.
pub(crate) fn constant_str(value: Option<&ScalarValue>) -> Option<&str> {
    match value? {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => v.as_deref(),
        _ => None,
    }
}

/// Whether values of `t` are strings.
pub(crate) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Whether values of `t` are numbers of any kind.
pub(crate) fn is_numeric(t: &DataType) -> bool {
    t.is_numeric()
}

/// `name` in upper case, as Snowflake names a function in its messages.
pub(crate) fn upper(name: &str) -> String {
    name.to_ascii_uppercase()
}
