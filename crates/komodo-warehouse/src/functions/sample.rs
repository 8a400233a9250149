//! The hash a seeded `SAMPLE` chooses rows by.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array};
use arrow_schema::DataType;
use datafusion::common::hash_utils::{QualityRandomState, create_hashes};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

/// `__komodo_sample_hash(seed, c1, c2, ...)`: a number in `[0, 100)`
/// determined by the seed and the row's values alone (see
/// `crate::dialect::sample`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SampleHash {
    signature: Signature,
}

impl SampleHash {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::variadic_any(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for SampleHash {
    fn name(&self) -> &str {
        crate::dialect::SAMPLE_HASH
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if arg_types.len() < 2 {
            return plan_err!("SAMPLE ... SEED needs a table with columns");
        }
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let seed = match &args.args[0] {
            ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(n)) => n,
                _ => return exec_err!("SEED must be a number"),
            },
            ColumnarValue::Array(_) => return exec_err!("SEED must be a constant"),
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args[1..])?;
        let mut hashes = vec![0u64; args.number_rows];
        create_hashes(&arrays, &QualityRandomState::with_seed(seed as u64), &mut hashes)?;
        let out: Float64Array = hashes.iter().map(|h| Some((*h >> 11) as f64 / (1u64 << 53) as f64 * 100.0)).collect();
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}
