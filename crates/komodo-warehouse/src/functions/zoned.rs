//! How the rest of the warehouse reads a `TIMESTAMP_TZ` value
//! (`crate::timestamp_tz`): its instant, its wall-clock time, its text
//! (what `crate::plan` plans casts and comparisons with), and the date and
//! time functions that take one ([`TAKING_ZONED`]). The readings are not
//! functions a statement can name.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{arrays, compilation, execution};
use super::instants::{TIMESTAMP_NTZ, timestamp_ltz};
use crate::timestamp_tz::{
    Zoned, instant_nanos, is_timestamp_tz, local_nanos, timestamp_tz, zoned_array, zoned_text, zoned_values,
};

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
            Reading::Instant => Arc::new(instant_nanos(&zoned).with_data_type(timestamp_ltz())),
            Reading::Local => Arc::new(local_nanos(&zoned).ok_or_else(out_of_range)?),
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

/// How a date or time function reads a `TIMESTAMP_TZ` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Takes {
    /// The wall-clock time at the value's offset (`DATE_PART`, `DAYNAME`,
    /// `TO_DATE`, ...).
    Local,
    /// The instant (`DATEDIFF`, `TO_TIMESTAMP_LTZ`, `CONVERT_TIMEZONE`).
    Instant,
    /// The wall-clock time, and its timestamp result is put back at the
    /// value's offset (`DATEADD`, `DATE_TRUNC`, `TIME_SLICE`,
    /// `ADD_MONTHS`).
    KeepOffset,
}

/// The date and time functions that take a `TIMESTAMP_TZ`, and how.
pub(crate) const TAKING_ZONED: &[(&str, Takes)] = &[
    ("date_part", Takes::Local),
    ("to_char", Takes::Local),
    ("to_date", Takes::Local),
    ("try_to_date", Takes::Local),
    ("to_timestamp_ntz", Takes::Local),
    ("try_to_timestamp_ntz", Takes::Local),
    ("dayname", Takes::Local),
    ("monthname", Takes::Local),
    ("last_day", Takes::Local),
    ("datediff", Takes::Instant),
    ("to_timestamp_ltz", Takes::Instant),
    ("try_to_timestamp_ltz", Takes::Instant),
    ("convert_timezone", Takes::Instant),
    ("dateadd", Takes::KeepOffset),
    ("date_trunc", Takes::KeepOffset),
    ("time_slice", Takes::KeepOffset),
    ("add_months", Takes::KeepOffset),
];

/// A date or time function that also takes `TIMESTAMP_TZ` arguments: it
/// runs `inner` on their wall-clock times or instants (see [`Takes`]) and
/// otherwise is `inner` itself, under its names. Made when a session's
/// functions are registered, so that a statement's types are right when it
/// is planned.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TakingZoned {
    inner: Arc<ScalarUDF>,
    takes: Takes,
    signature: Signature,
}

/// `inner` taking `TIMESTAMP_TZ` arguments as `takes` says.
pub(crate) fn taking_zoned(inner: Arc<ScalarUDF>, takes: Takes) -> ScalarUDF {
    let volatility = inner.signature().volatility;
    ScalarUDF::new_from_impl(TakingZoned { inner, takes, signature: Signature::user_defined(volatility) })
}

impl TakingZoned {
    /// The type `inner` sees for an argument of type `t`.
    fn seen(&self, t: &DataType) -> DataType {
        match (is_timestamp_tz(t), self.takes) {
            (false, _) => t.clone(),
            (true, Takes::Instant) => timestamp_ltz(),
            (true, _) => TIMESTAMP_NTZ,
        }
    }

    fn seen_fields(&self, fields: &[FieldRef]) -> Vec<FieldRef> {
        fields
            .iter()
            .map(|f| {
                if is_timestamp_tz(f.data_type()) {
                    Arc::new(Field::new(f.name(), self.seen(f.data_type()), true))
                } else {
                    f.clone()
                }
            })
            .collect()
    }

    /// Whether the result is put back at the offset of a `TIMESTAMP_TZ`
    /// argument: a timestamp result of a function that keeps offsets.
    fn keeps_offset(&self, fields: &[FieldRef], result: &DataType) -> bool {
        self.takes == Takes::KeepOffset
            && matches!(result, DataType::Timestamp(_, _))
            && fields.iter().any(|f| is_timestamp_tz(f.data_type()))
    }
}

impl ScalarUDFImpl for TakingZoned {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let fields: Vec<FieldRef> =
            arg_types.iter().map(|t| Arc::new(Field::new("", self.seen(t), true)) as FieldRef).collect();
        let coerced = fields_with_udf(&fields, self.inner.as_ref())?;
        // A TIMESTAMP_TZ stays one: it is read when the function runs.
        Ok(coerced
            .iter()
            .zip(arg_types)
            .map(|(f, t)| if is_timestamp_tz(t) { t.clone() } else { f.data_type().clone() })
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let seen: Vec<DataType> = arg_types.iter().map(|t| self.seen(t)).collect();
        self.inner.return_type(&seen)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        let fields = self.seen_fields(args.arg_fields);
        let field = self
            .inner
            .return_field_from_args(ReturnFieldArgs { arg_fields: &fields, scalar_arguments: args.scalar_arguments })?;
        if self.keeps_offset(args.arg_fields, field.data_type()) {
            return Ok(Arc::new(Field::new(field.name(), timestamp_tz(), true)));
        }
        Ok(field)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let zoned_position = args.arg_fields.iter().position(|f| is_timestamp_tz(f.data_type()));
        let Some(position) = zoned_position else {
            return self.inner.invoke_with_args(args);
        };
        let out_of_range = || execution("Timestamp is out of range (1677-09-21 to 2262-04-11)");
        let mut offsets: Option<Vec<Option<i32>>> = None;
        let mut inner_args = Vec::with_capacity(args.args.len());
        for (i, (arg, field)) in args.args.iter().zip(&args.arg_fields).enumerate() {
            if !is_timestamp_tz(field.data_type()) {
                inner_args.push(arg.clone());
                continue;
            }
            let values = zoned_values(arg.to_array(rows)?.as_ref())?;
            if i == position {
                offsets = Some(values.iter().map(|v| v.map(|v| v.offset_minutes)).collect());
            }
            let nanos = match self.takes {
                Takes::Instant => instant_nanos(&values),
                Takes::Local | Takes::KeepOffset => local_nanos(&values).ok_or_else(out_of_range)?,
            };
            let seen: ArrayRef = datafusion::arrow::compute::cast(&nanos, &self.seen(field.data_type()))?;
            inner_args.push(ColumnarValue::Array(seen));
        }
        let arg_fields = self.seen_fields(&args.arg_fields);
        // Planned to keep the offset: the call returns a TIMESTAMP_TZ.
        let keeps = self.takes == Takes::KeepOffset && is_timestamp_tz(args.return_field.data_type());
        let return_field = if keeps {
            let scalars: Vec<Option<&ScalarValue>> = inner_args
                .iter()
                .map(|a| match a {
                    ColumnarValue::Scalar(s) => Some(s),
                    ColumnarValue::Array(_) => None,
                })
                .collect();
            self.inner
                .return_field_from_args(ReturnFieldArgs { arg_fields: &arg_fields, scalar_arguments: &scalars })?
        } else {
            args.return_field.clone()
        };
        let result = self.inner.invoke_with_args(ScalarFunctionArgs {
            args: inner_args,
            arg_fields,
            number_rows: rows,
            return_field,
            config_options: args.config_options.clone(),
        })?;
        if !keeps {
            return Ok(result);
        }
        let local = datafusion::arrow::compute::cast(&result.to_array(rows)?, &TIMESTAMP_NTZ)?;
        let local = local.as_primitive::<TimestampNanosecondType>();
        let offsets = offsets.unwrap_or_default();
        let values = (0..rows)
            .map(|i| match (offsets.get(i).copied().flatten(), local.is_valid(i)) {
                (Some(offset), true) => Zoned::from_local(local.value(i), offset).map(Some).ok_or_else(out_of_range),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ColumnarValue::Array(zoned_array(values)))
    }
}
