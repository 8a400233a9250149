//! `DIV0` and `DIV0NULL`: division that answers 0 for a zero divisor
//! (`DIV0NULL` also for a NULL one).

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{ArrayRef, Float64Array};
use arrow_schema::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::Arc;

/// `DIV0(dividend, divisor)` or, with `null_is_zero`, `DIV0NULL`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Div0 {
    signature: Signature,
    null_is_zero: bool,
}

impl Div0 {
    pub(crate) fn new(null_is_zero: bool) -> Self {
        Self { signature: Signature::uniform(2, vec![DataType::Float64], Volatility::Immutable), null_is_zero }
    }
}

impl ScalarUDFImpl for Div0 {
    fn name(&self) -> &str {
        if self.null_is_zero { "div0null" } else { "div0" }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (dividend, divisor) = (arrays[0].as_primitive::<Float64Type>(), arrays[1].as_primitive::<Float64Type>());
        let quotient: Float64Array = dividend
            .iter()
            .zip(divisor.iter())
            .map(|(x, y)| match y {
                None if self.null_is_zero => Some(0.0),
                None => None,
                Some(0.0) => Some(0.0),
                Some(d) => x.map(|x| x / d),
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(quotient) as ArrayRef))
    }
}
