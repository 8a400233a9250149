//! `RANDOM([seed])`, a random signed 64-bit integer per row, and
//! `UNIFORM(min, max, gen)`, a number between `min` and `max` (both
//! included) drawn from `gen`, usually `RANDOM()`: an integer when both
//! bounds are integers, a double otherwise; a constant `gen` gives a
//! constant result.
//!
//! With a seed, `RANDOM` gives the same sequence of values every time
//! (SplitMix64 from the seed); the sequence starts again with each batch
//! of rows (8 192 by default), and the values are not Snowflake's.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::args::{arity, arrays, execution, f64_at, float64s, i64_at, int64s};

/// SplitMix64: a fast, well-mixed sequence from any 64-bit state.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A seed from the process's randomness (the standard library seeds each
/// `RandomState` from the operating system).
fn random_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

fn signed(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// `RANDOM([seed])`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Random {
    signature: Signature,
}

impl Random {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Volatile) }
    }
}

impl ScalarUDFImpl for Random {
    fn name(&self) -> &str {
        "random"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("RANDOM", arg_types.len(), 0, 1)?;
        Ok(vec![DataType::Int64; arg_types.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let seed = match args.args.first() {
            None => random_seed(),
            Some(ColumnarValue::Scalar(s)) => match super::args::constant_i64(Some(s)) {
                Some(seed) => u64::from_ne_bytes(seed.to_ne_bytes()),
                None => return Err(execution("RANDOM: the seed must be a non-NULL integer constant")),
            },
            Some(ColumnarValue::Array(_)) => {
                return Err(execution("RANDOM: the seed must be an integer constant"));
            }
        };
        let mut sequence = SplitMix64(seed);
        let mut out = Int64Builder::with_capacity(args.number_rows);
        for _ in 0..args.number_rows {
            out.append_value(signed(sequence.next()));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The name of [`RandomFraction`], for the warehouse's own rewrites
/// (`SAMPLE` without a seed); `RANDOM` itself is Snowflake's integer.
pub(crate) const RANDOM_FRACTION: &str = "__komodo_random_fraction";

/// `__komodo_random_fraction()`: a random double in `[0, 1)` per row.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct RandomFraction {
    signature: Signature,
}

impl RandomFraction {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::nullary(Volatility::Volatile) }
    }
}

impl ScalarUDFImpl for RandomFraction {
    fn name(&self) -> &str {
        RANDOM_FRACTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut sequence = SplitMix64(random_seed());
        let mut out = Float64Builder::with_capacity(args.number_rows);
        for _ in 0..args.number_rows {
            out.append_value(fraction(sequence.next()));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The top 53 bits of `bits` as a double in `[0, 1)`.
fn fraction(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// `UNIFORM(min, max, gen)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Uniform {
    signature: Signature,
}

impl Uniform {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for Uniform {
    fn name(&self) -> &str {
        "uniform"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("UNIFORM", arg_types.len(), 3, 3)?;
        let integers = arg_types[..2].iter().all(|t| t.is_integer() || t == &DataType::Null);
        let bound = if integers { DataType::Int64 } else { DataType::Float64 };
        Ok(vec![bound.clone(), bound, DataType::Int64])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let draws = int64s(&arrays[2])?;
        let rows = args.number_rows;
        let out: ArrayRef = if arrays[0].data_type() == &DataType::Int64 {
            let (low, high) = (int64s(&arrays[0])?, int64s(&arrays[1])?);
            let mut out = Int64Builder::with_capacity(rows);
            for i in 0..rows {
                let (Some(lo), Some(hi), Some(draw)) = (i64_at(low, i), i64_at(high, i), i64_at(draws, i)) else {
                    out.append_null();
                    continue;
                };
                if lo > hi {
                    return Err(execution(format!("UNIFORM: min {lo} is greater than max {hi}")));
                }
                let span = u128::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(1);
                let offset = u128::from(mix(draw)) % span;
                out.append_value(i64::try_from(i128::from(lo) + i128::try_from(offset).unwrap_or(0)).unwrap_or(hi));
            }
            Arc::new(out.finish())
        } else {
            let (low, high) = (float64s(&arrays[0])?, float64s(&arrays[1])?);
            let mut out = Float64Builder::with_capacity(rows);
            for i in 0..rows {
                let (Some(lo), Some(hi), Some(draw)) = (f64_at(low, i), f64_at(high, i), i64_at(draws, i)) else {
                    out.append_null();
                    continue;
                };
                if lo > hi {
                    return Err(execution(format!("UNIFORM: min {lo} is greater than max {hi}")));
                }
                // 53 random bits: a fraction in [0, 1].
                let fraction = (mix(draw) >> 11) as f64 / ((1u64 << 53) - 1) as f64;
                out.append_value(lo + (hi - lo) * fraction);
            }
            Arc::new(out.finish())
        };
        debug_assert_eq!(out.len(), rows);
        Ok(ColumnarValue::Array(out))
    }
}

/// A draw spread over all 64 bits, so consecutive or small `gen` values
/// give unrelated results.
fn mix(draw: i64) -> u64 {
    SplitMix64(u64::from_ne_bytes(draw.to_ne_bytes())).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat() {
        let (mut a, mut b) = (SplitMix64(42), SplitMix64(42));
        let xs: Vec<u64> = (0..5).map(|_| a.next()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
        assert_ne!(random_seed(), random_seed());
    }

    #[test]
    fn fractions_lie_in_the_unit_interval() {
        assert_eq!(fraction(0), 0.0);
        assert!(fraction(u64::MAX) < 1.0);
        assert!(fraction(u64::MAX) > 0.999_999);
    }
}
