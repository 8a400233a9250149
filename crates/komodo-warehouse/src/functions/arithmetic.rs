//! `DIV0` and `DIV0NULL`: division that answers 0 for a zero divisor
//! (`DIV0NULL` also for a NULL one).

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array};
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

/// The leading digits and scale of a number of type `t`, as Snowflake
/// counts them (an `INT` is a `NUMBER(19, 0)`, ...); `None` for a type
/// that is not a fixed-point number.
pub(crate) fn fixed_digits(t: &DataType) -> Option<(i16, i16)> {
    Some(match t {
        DataType::Int8 | DataType::UInt8 => (3, 0),
        DataType::Int16 | DataType::UInt16 => (5, 0),
        DataType::Int32 | DataType::UInt32 => (10, 0),
        DataType::Int64 => (19, 0),
        DataType::UInt64 => (20, 0),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => (i16::from(*p) - i16::from(*s), i16::from(*s)),
        DataType::Null => (1, 0),
        _ => return None,
    })
}

/// Snowflake's type of `a / b` for fixed-point operands: `L = L1 + S2`
/// leading digits, scale `S = max(S1, min(S1 + 6, 12))`, precision at most
/// 38 (the leading digits give way).
pub(crate) fn division_type(a: (i16, i16), b: (i16, i16)) -> (u8, i8) {
    let scale = a.1.max((a.1 + 6).min(12));
    let leading = a.0 + b.1;
    let precision = (leading + scale).clamp(1, 38);
    (u8::try_from(precision).unwrap_or(38), i8::try_from(scale.min(precision)).unwrap_or(12))
}

/// `a / b` as Snowflake divides: fixed-point operands give a fixed-point
/// result with the scale of [`division_type`] (`7 / 2` is `3.500000`, not
/// DataFusion's integer `3`), rounded half away from zero; a floating-point
/// operand gives a `FLOAT`; dividing by zero is an error (Snowflake's
/// 100051), never infinity.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Divide {
    signature: Signature,
}

/// The name the SQL planner calls (`crate::plan`).
pub(crate) const DIVIDE: &str = "__komodo_divide";

impl Divide {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

fn division_by_zero() -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::External(Box::new(crate::WarehouseError::DivisionByZero))
}

impl ScalarUDFImpl for Divide {
    fn name(&self) -> &str {
        DIVIDE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [a, b] = arg_types else {
            return datafusion::common::plan_err!("division takes two operands");
        };
        match (fixed_digits(a), fixed_digits(b)) {
            (Some(x), Some(y)) => {
                let to = |(l, s): (i16, i16)| {
                    DataType::Decimal128(u8::try_from((l + s).clamp(1, 38)).unwrap_or(38), i8::try_from(s).unwrap_or(0))
                };
                Ok(vec![to(x), to(y)])
            }
            _ => Ok(vec![DataType::Float64, DataType::Float64]),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match (fixed_digits(&arg_types[0]), fixed_digits(&arg_types[1])) {
            (Some(a), Some(b)) => {
                let (p, s) = division_type(a, b);
                Ok(DataType::Decimal128(p, s))
            }
            _ => Ok(DataType::Float64),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        match args.return_field.data_type() {
            DataType::Decimal128(p, s) => {
                use arrow_array::types::Decimal128Type;
                use arrow_buffer::i256;
                let (a, b) = (arrays[0].as_primitive::<Decimal128Type>(), arrays[1].as_primitive::<Decimal128Type>());
                let (sa, sb) = (i32::from(decimal_scale(a.data_type())), i32::from(decimal_scale(b.data_type())));
                // a / 10^sa / (b / 10^sb) * 10^s = a * 10^(s - sa + sb) / b
                let shift = u32::try_from(i32::from(*s) - sa + sb).unwrap_or(0);
                let factor = i256::from_i128(10).wrapping_pow(shift);
                let max = i256::from_i128(10).wrapping_pow(u32::from(*p));
                let mut out = arrow_array::builder::Decimal128Builder::with_capacity(a.len());
                for (x, y) in a.iter().zip(b.iter()) {
                    match (x, y) {
                        (Some(_), Some(0)) => return Err(division_by_zero()),
                        (Some(x), Some(y)) => {
                            let (n, d) = (i256::from_i128(x).wrapping_mul(factor), i256::from_i128(y));
                            let (q, r) = (n.wrapping_div(d), n.wrapping_rem(d));
                            // Half away from zero: |2r| >= |d| moves q away from zero.
                            let twice = r.wrapping_mul(i256::from_i128(2));
                            let q = if twice.wrapping_abs() >= d.wrapping_abs() {
                                if (n < i256::ZERO) != (d < i256::ZERO) {
                                    q.wrapping_sub(i256::ONE)
                                } else {
                                    q.wrapping_add(i256::ONE)
                                }
                            } else {
                                q
                            };
                            if q.wrapping_abs() >= max {
                                return Err(datafusion::error::DataFusionError::External(Box::new(
                                    crate::WarehouseError::Execution(format!(
                                        "Number out of representable range: type FIXED[SB16]({p},{s}){{nullable=true}}"
                                    )),
                                )));
                            }
                            out.append_value(q.as_i128());
                        }
                        _ => out.append_null(),
                    }
                }
                let out = out.finish().with_precision_and_scale(*p, *s)?;
                Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
            }
            _ => {
                let (a, b) = (arrays[0].as_primitive::<Float64Type>(), arrays[1].as_primitive::<Float64Type>());
                let mut out = arrow_array::builder::Float64Builder::with_capacity(a.len());
                for (x, y) in a.iter().zip(b.iter()) {
                    match (x, y) {
                        (Some(_), Some(0.0)) => return Err(division_by_zero()),
                        (Some(x), Some(y)) => out.append_value(x / y),
                        _ => out.append_null(),
                    }
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
            }
        }
    }
}

fn decimal_scale(t: &DataType) -> i8 {
    match t {
        DataType::Decimal128(_, s) => *s,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_scale_follows_snowflake() {
        // 7 / 2: NUMBER(1,0) / NUMBER(1,0) -> scale 6.
        assert_eq!(division_type((1, 0), (1, 0)), (7, 6));
        // 10.01 / 1.1: L = 2 + 1, S = max(2, min(8, 12)) = 8.
        assert_eq!(division_type((2, 2), (1, 1)), (11, 8));
        // A scale past 12 stays.
        assert_eq!(division_type((1, 14), (1, 0)), (15, 14));
        // Precision is capped at 38.
        assert_eq!(division_type((38, 0), (1, 10)), (38, 6));
    }
}
