//! How the rest of the warehouse reads a `TIMESTAMP_TZ` value
//! (`crate::timestamp_tz`): its instant, its wall-clock time, its text, and
//! functions of its wall-clock time whose result keeps its offset. `crate::plan` calls
//! these where an operator or a function meets a `TIMESTAMP_TZ`; they are
//! not functions a statement can name.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::{Array, ArrayRef, StringArray, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{arrays, compilation, execution, upper};
use super::instants::{TIMESTAMP_NTZ, timestamp_ltz};
use crate::timestamp_tz::{Zoned, is_timestamp_tz, timestamp_tz, zoned_array, zoned_text, zoned_values};

/// What a reading produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Reading {
    /// The instant, as a `TIMESTAMP_LTZ` (what comparisons use: Snowflake
    /// compares `TIMESTAMP_TZ` values in UTC).
    Instant,
    /// The wall-clock time at the value's own offset, as a
    /// `TIMESTAMP_NTZ` (what date parts, truncation and formats use).
    Local,
    /// The value as text (`2024-01-02 03:04:05.000 +0530`).
    Text,
}

/// One reading of a `TIMESTAMP_TZ`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ZonedReading {
    reading: Reading,
    signature: Signature,
}

/// The function for `reading` (see [`Reading`]).
pub(crate) fn zoned_reading(reading: Reading) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(ZonedReading {
        reading,
        signature: Signature::user_defined(Volatility::Immutable),
    }))
}

impl ScalarUDFImpl for ZonedReading {
    fn name(&self) -> &str {
        match self.reading {
            Reading::Instant => "__timestamp_tz_instant",
            Reading::Local => "__timestamp_tz_local",
            Reading::Text => "__timestamp_tz_text",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [zoned] if is_timestamp_tz(zoned) => Ok(vec![zoned.clone()]),
            _ => Err(compilation(format!("{} cannot read {arg_types:?}", self.name()))),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.reading {
            Reading::Instant => timestamp_ltz(),
            Reading::Local => TIMESTAMP_NTZ,
            Reading::Text => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let zoned = zoned_values(arrays[0].as_ref())?;
        let out_of_range = || execution("Timestamp is out of range (1677-09-21 to 2262-04-11)");
        let array: ArrayRef = match self.reading {
            Reading::Instant => Arc::new(
                zoned.iter().map(|v| v.map(|v| v.utc_nanos)).collect::<TimestampNanosecondArray>().with_timezone_opt(
                    match timestamp_ltz() {
                        DataType::Timestamp(TimeUnit::Nanosecond, tz) => tz,
                        _ => None,
                    },
                ),
            ),
            Reading::Local => Arc::new(
                zoned
                    .iter()
                    .map(|v| v.map(|v| v.local_nanos().ok_or_else(out_of_range)).transpose())
                    .collect::<Result<TimestampNanosecondArray>>()?,
            ),
            Reading::Text => Arc::new(
                zoned
                    .iter()
                    .map(|v| v.map(|v| zoned_text(v).ok_or_else(out_of_range)).transpose())
                    .collect::<Result<StringArray>>()?,
            ),
        };
        Ok(ColumnarValue::Array(array))
    }
}

/// The end of the name of a function made by [`keep_offset`].
pub(crate) const KEEPS_OFFSET_SUFFIX: &str = "__timestamp_tz";

/// A function whose timestamp result keeps the offset of its
/// `TIMESTAMP_TZ` argument (`DATEADD`, `DATE_TRUNC`, `TIME_SLICE`): it
/// runs `inner` on the argument's wall-clock time and puts the result back
/// at the argument's offset. One call wraps another without repeating it,
/// however deep a statement nests them (SECURITY.md F02).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeepOffset {
    inner: Arc<ScalarUDF>,
    /// Which argument is the `TIMESTAMP_TZ`.
    position: usize,
    name: String,
    signature: Signature,
}

/// `inner` keeping the offset of its argument at `position`.
pub(crate) fn keep_offset(inner: Arc<ScalarUDF>, position: usize) -> Arc<ScalarUDF> {
    let name = format!("{}{KEEPS_OFFSET_SUFFIX}", inner.name());
    Arc::new(ScalarUDF::new_from_impl(KeepOffset {
        inner,
        position,
        name,
        signature: Signature::user_defined(Volatility::Immutable),
    }))
}

impl KeepOffset {
    /// The arguments' fields as `inner` sees them: the wall-clock time in
    /// place of the `TIMESTAMP_TZ`.
    fn inner_fields(&self, fields: &[FieldRef]) -> Vec<FieldRef> {
        fields
            .iter()
            .enumerate()
            .map(
                |(i, f)| {
                    if i == self.position { Arc::new(Field::new(f.name(), TIMESTAMP_NTZ, true)) } else { f.clone() }
                },
            )
            .collect()
    }
}

impl ScalarUDFImpl for KeepOffset {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let zoned = arg_types.get(self.position).filter(|t| is_timestamp_tz(t)).cloned();
        let Some(zoned) = zoned else {
            return Err(compilation(format!("{} needs a TIMESTAMP_TZ argument", upper(self.inner.name()))));
        };
        let fields: Vec<FieldRef> = arg_types.iter().map(|t| Arc::new(Field::new("", t.clone(), true))).collect();
        let mut types: Vec<DataType> = fields_with_udf(&self.inner_fields(&fields), self.inner.as_ref())?
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        types[self.position] = zoned;
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(timestamp_tz())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let zoned = zoned_values(args.args[self.position].to_array(rows)?.as_ref())?;
        let out_of_range = || execution("Timestamp is out of range (1677-09-21 to 2262-04-11)");
        let local: TimestampNanosecondArray = zoned
            .iter()
            .map(|v| v.map(|v| v.local_nanos().ok_or_else(out_of_range)).transpose())
            .collect::<Result<_>>()?;
        let mut inner_args = args.args.clone();
        inner_args[self.position] = ColumnarValue::Array(Arc::new(local));
        let arg_fields = self.inner_fields(&args.arg_fields);
        let scalars: Vec<Option<&ScalarValue>> = inner_args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(s) => Some(s),
                ColumnarValue::Array(_) => None,
            })
            .collect();
        let return_field = self
            .inner
            .return_field_from_args(ReturnFieldArgs { arg_fields: &arg_fields, scalar_arguments: &scalars })?;
        let result = self.inner.invoke_with_args(ScalarFunctionArgs {
            args: inner_args,
            arg_fields,
            number_rows: rows,
            return_field,
            config_options: args.config_options.clone(),
        })?;
        let result = datafusion::arrow::compute::cast(&result.to_array(rows)?, &TIMESTAMP_NTZ)?;
        let result = result.as_primitive::<TimestampNanosecondType>();
        let values = zoned
            .iter()
            .enumerate()
            .map(|(i, v)| match (v, result.is_valid(i)) {
                (Some(v), true) => {
                    Zoned::from_local(result.value(i), v.offset_minutes).map(Some).ok_or_else(out_of_range)
                }
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ColumnarValue::Array(zoned_array(values)))
    }
}
