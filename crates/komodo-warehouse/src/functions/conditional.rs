//! `DECODE(expr, search1, result1 [, search2, result2 ...] [, default])`,
//! in which NULL matches NULL, and `GREATEST`/`LEAST`, which answer NULL
//! when any argument is NULL (Snowflake's rules; DataFusion's own skip
//! NULLs). Each argument is evaluated once.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, new_null_array};
use arrow_schema::DataType;
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::kernels::{cmp, zip::zip};
use datafusion::error::Result;
use datafusion::logical_expr::type_coercion::binary::{comparison_coercion, type_union_resolution};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::args::{arity, arrays, compilation};
use crate::timestamp_tz::{instant_nanos, is_timestamp_tz, zoned_values};

/// The type values of all `types` can be compared as, or an error naming
/// `function`.
fn comparable(function: &str, types: &[&DataType]) -> Result<DataType> {
    let mut common = DataType::Null;
    for t in types {
        common = comparison_coercion(&common, t)
            .ok_or_else(|| compilation(format!("{function}: values of types {common} and {t} cannot be compared")))?;
    }
    Ok(if common == DataType::Null { DataType::Utf8 } else { common })
}

/// The type values of all `types` can be returned as.
fn unified(function: &str, types: &[&DataType]) -> Result<DataType> {
    let owned: Vec<DataType> = types.iter().map(|t| (*t).clone()).collect();
    match type_union_resolution(&owned) {
        Some(DataType::Null) | None if owned.iter().all(|t| t == &DataType::Null) => Ok(DataType::Utf8),
        Some(t) => Ok(t),
        None => comparable(function, types),
    }
}

/// `DECODE`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Decode {
    signature: Signature,
}

impl Decode {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for Decode {
    fn name(&self) -> &str {
        "decode"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("DECODE", arg_types.len(), 3, usize::MAX)?;
        let searches: Vec<&DataType> = std::iter::once(&arg_types[0])
            .chain(arg_types[1..].iter().step_by(2).take((arg_types.len() - 1) / 2))
            .collect();
        let mut results: Vec<&DataType> = arg_types[2..].iter().step_by(2).collect();
        if arg_types.len().is_multiple_of(2) {
            results.push(&arg_types[arg_types.len() - 1]);
        }
        let key = comparable("DECODE", &searches)?;
        let value = unified("DECODE", &results)?;
        let pairs = (arg_types.len() - 1) / 2;
        let mut types = vec![key.clone()];
        for _ in 0..pairs {
            types.push(key.clone());
            types.push(value.clone());
        }
        if arg_types.len().is_multiple_of(2) {
            types.push(value);
        }
        Ok(types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[2].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let rows = args.number_rows;
        let pairs = (arrays.len() - 1) / 2;
        let mut result: ArrayRef = if arrays.len().is_multiple_of(2) {
            Arc::clone(&arrays[arrays.len() - 1])
        } else {
            new_null_array(args.return_field.data_type(), rows)
        };
        // From the last pair to the first, so the first match wins.
        for pair in (0..pairs).rev() {
            let matched = cmp::not_distinct(&arrays[0], &arrays[1 + 2 * pair])?;
            result = zip(&matched, &arrays[2 + 2 * pair], &result)?;
        }
        Ok(ColumnarValue::Array(result))
    }
}

/// `GREATEST` or `LEAST`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Extreme {
    signature: Signature,
    greatest: bool,
}

impl Extreme {
    pub(crate) fn new(greatest: bool) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), greatest }
    }

    fn display(&self) -> &'static str {
        if self.greatest { "GREATEST" } else { "LEAST" }
    }
}

impl ScalarUDFImpl for Extreme {
    fn name(&self) -> &str {
        if self.greatest { "greatest" } else { "least" }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.display(), arg_types.len(), 1, usize::MAX)?;
        let all: Vec<&DataType> = arg_types.iter().collect();
        let common = comparable(self.display(), &all)?;
        Ok(vec![common; arg_types.len()])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        // What values compare by: a TIMESTAMP_TZ by its instant.
        let key = |a: &ArrayRef| -> Result<ArrayRef> {
            if is_timestamp_tz(a.data_type()) {
                Ok(Arc::new(instant_nanos(&zoned_values(a.as_ref())?)))
            } else {
                Ok(Arc::clone(a))
            }
        };
        let mut best = Arc::clone(&arrays[0]);
        let mut best_key = key(&best)?;
        let mut nulls = arrays[0].logical_nulls();
        for next in &arrays[1..] {
            let next_key = key(next)?;
            let better = if self.greatest { cmp::gt(&next_key, &best_key)? } else { cmp::lt(&next_key, &best_key)? };
            best = zip(&better, next, &best)?;
            best_key = zip(&better, &next_key, &best_key)?;
            nulls = NullBuffer::union(nulls.as_ref(), next.logical_nulls().as_ref());
        }
        let data = best.to_data().into_builder().nulls(nulls).build()?;
        Ok(ColumnarValue::Array(arrow_array::make_array(data)))
    }
}
