//! Aggregates with Snowflake's result types: `MODE`, `MEDIAN` (a `NUMBER`
//! with three more decimal places than its argument, as Snowflake
//! returns: the median of 1 and 2 is 1.500), `VARIANCE`/`VAR_SAMP`/
//! `VARIANCE_SAMP` and `VAR_POP`/`VARIANCE_POP` (a `NUMBER` with at least
//! six decimal places for exact arguments, a `DOUBLE` for floating-point
//! ones). NULLs are ignored; with no value the result is NULL (and the
//! sample variance of one value is NULL).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::arrow::compute::cast;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use super::args::{arity, compilation, execution};

/// `MODE(x)`: the most frequent non-NULL value (the smallest of the most
/// frequent ones on a tie, where Snowflake picks any).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Mode {
    signature: Signature,
}

impl Mode {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl AggregateUDFImpl for Mode {
    fn name(&self) -> &str {
        "mode"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("MODE", arg_types.len(), 1, 1)?;
        Ok(vec![match &arg_types[0] {
            DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
            DataType::Dictionary(_, value) => value.as_ref().clone(),
            other => other.clone(),
        }])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        let value = args.input_fields[0].data_type().clone();
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "values"),
                DataType::List(Arc::new(Field::new_list_field(value, true))),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "counts"),
                DataType::List(Arc::new(Field::new_list_field(DataType::UInt64, true))),
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ModeAccumulator { data_type: args.return_type().clone(), counts: HashMap::new(), bytes: 0 }))
    }
}

#[derive(Debug)]
struct ModeAccumulator {
    data_type: DataType,
    counts: HashMap<ScalarValue, u64>,
    /// The memory the distinct values hold.
    bytes: usize,
}

impl ModeAccumulator {
    fn add(&mut self, value: ScalarValue, n: u64) {
        if value.is_null() {
            return;
        }
        let size = value.size();
        let entry = self.counts.entry(value).or_insert_with(|| 0);
        if *entry == 0 {
            self.bytes += size;
        }
        *entry += n;
    }
}

impl Accumulator for ModeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let array = &values[0];
        for i in 0..array.len() {
            if array.is_valid(i) {
                self.add(ScalarValue::try_from_array(array, i)?, 1);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let best = self
            .counts
            .iter()
            .max_by(|(a, n), (b, m)| n.cmp(m).then_with(|| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal)));
        match best {
            Some((value, _)) => Ok(value.clone()),
            None => ScalarValue::try_from(&self.data_type),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.bytes
            + self.counts.capacity() * (std::mem::size_of::<ScalarValue>() + std::mem::size_of::<u64>())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (values, counts): (Vec<ScalarValue>, Vec<ScalarValue>) =
            self.counts.iter().map(|(v, n)| (v.clone(), ScalarValue::UInt64(Some(*n)))).unzip();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.data_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::UInt64)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (values, counts) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..values.len() {
            if values.is_null(row) {
                continue;
            }
            let (v, n) = (values.value(row), counts.value(row));
            let n = n.as_primitive::<UInt64Type>();
            for i in 0..v.len() {
                self.add(ScalarValue::try_from_array(&v, i)?, n.value(i));
            }
        }
        Ok(())
    }
}

/// `MEDIAN(x)`: DataFusion's median computed on the argument widened by
/// three decimal places, so the middle of two values is exact.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Median {
    signature: Signature,
    inner: Arc<AggregateUDF>,
}

impl Median {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            inner: datafusion::functions_aggregate::median::median_udaf(),
        }
    }
}

impl AggregateUDFImpl for Median {
    fn name(&self) -> &str {
        "median"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("MEDIAN", arg_types.len(), 1, 1)?;
        Ok(vec![match &arg_types[0] {
            DataType::Decimal128(_, s) => DataType::Decimal128(38, (*s + 3).min(37)),
            DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
            DataType::Null => DataType::Decimal128(38, 3),
            t if t.is_integer() => DataType::Decimal128(38, 3),
            other => return Err(compilation(format!("MEDIAN takes a number, not a value of type {other}"))),
        }])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        self.inner.inner().state_fields(args)
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        self.inner.inner().accumulator(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs<'_>) -> bool {
        self.inner.inner().groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs<'_>,
    ) -> Result<Box<dyn datafusion::logical_expr::GroupsAccumulator>> {
        self.inner.inner().create_groups_accumulator(args)
    }
}

/// The sample or population variance.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Variance {
    signature: Signature,
    population: bool,
    aliases: Vec<String>,
    inner: Arc<AggregateUDF>,
}

impl Variance {
    pub(crate) fn new(population: bool) -> Self {
        let (aliases, inner): (&[&str], _) = if population {
            (&["variance_pop"], datafusion::functions_aggregate::variance::var_pop_udaf())
        } else {
            (&["var_samp", "variance_samp"], datafusion::functions_aggregate::variance::var_samp_udaf())
        };
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            population,
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            inner,
        }
    }
}

impl AggregateUDFImpl for Variance {
    fn name(&self) -> &str {
        if self.population { "var_pop" } else { "variance" }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity(&self.name().to_ascii_uppercase(), arg_types.len(), 1, 1)?;
        Ok(vec![match &arg_types[0] {
            t @ DataType::Decimal128(..) => t.clone(),
            DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
            DataType::Null => DataType::Decimal128(38, 0),
            t if t.is_integer() => DataType::Decimal128(38, 0),
            other => {
                return Err(compilation(format!(
                    "{} takes a number, not a value of type {other}",
                    self.name().to_ascii_uppercase()
                )));
            }
        }])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match &arg_types[0] {
            DataType::Decimal128(_, s) => DataType::Decimal128(38, (*s).max(6)),
            _ => DataType::Float64,
        })
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        self.inner.inner().state_fields(args)
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        let result = args.return_type().clone();
        Ok(Box::new(AsDecimal { inner: self.inner.inner().accumulator(args)?, result }))
    }
}

/// An accumulator over doubles whose input arrives as numbers and whose
/// result is converted to the aggregate's type.
#[derive(Debug)]
struct AsDecimal {
    inner: Box<dyn Accumulator>,
    result: DataType,
}

impl Accumulator for AsDecimal {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let doubles = cast(&values[0], &DataType::Float64)?;
        self.inner.update_batch(&[doubles])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let value = self.inner.evaluate()?;
        match (&self.result, value) {
            (DataType::Decimal128(p, s), ScalarValue::Float64(v)) => {
                let unscaled = v
                    .map(|v| {
                        let scaled = (v * 10f64.powi(i32::from(*s))).round();
                        if scaled.is_finite() && scaled.abs() < 1e38 {
                            Ok(scaled as i128)
                        } else {
                            Err(execution(format!("Numeric value '{v}' is out of range")))
                        }
                    })
                    .transpose()?;
                Ok(ScalarValue::Decimal128(unscaled, *p, *s))
            }
            (_, value) => Ok(value),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.inner.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }
}
