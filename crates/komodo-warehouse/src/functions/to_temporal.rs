//! `TO_DATE`/`DATE`, `TO_TIMESTAMP`/`TO_TIMESTAMP_NTZ`, `TO_TIMESTAMP_LTZ`,
//! `TO_TIMESTAMP_TZ` and their `TRY_` forms (NULL where the plain form
//! fails), as Snowflake converts:
//!
//! - a string in one of the formats Snowflake detects (`2024-01-02`,
//!   `2024-01-02 03:04:05.123`, `2024-01-02T03:04:05Z`, `02-Jan-2024`,
//!   `01/02/2024`, with an optional offset) or read with a format model
//!   given as the second argument (`'DD/MM/YYYY HH24:MI'`);
//! - a string of digits: seconds, milliseconds, microseconds or
//!   nanoseconds since the epoch, by its magnitude;
//! - a number (timestamps only): seconds since the epoch, or units of
//!   `10^-scale` seconds with a scale (`TO_TIMESTAMP(1000, 3)` is one
//!   second after the epoch);
//! - a date (midnight) or a timestamp of another kind.
//!
//! `TO_TIMESTAMP_NTZ` keeps the wall-clock time a string names and drops
//! its offset; `TO_TIMESTAMP_LTZ` keeps the instant (the session time zone
//! is UTC); `TO_TIMESTAMP_TZ` keeps the instant and the offset the string
//! names (UTC when it names none, and for numbers, dates and other
//! timestamps). `TO_DATE` of a timestamp is its date.

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use chrono::NaiveDateTime;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::args::{arity, arrays, compilation, execution, i64_at, int64s, is_string, str_at, strings, upper};
use super::datetime_text::{Parsed, parse_auto, parse_with_format};
use super::instants::{
    TIMESTAMP_NTZ, date_array, datetime_of_nanos, datetimes, nanos_of_datetime, timestamp_array, timestamp_ltz,
};
use crate::timestamp_tz::{Zoned, is_timestamp_tz, timestamp_tz, zoned_array};

/// What a conversion produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// `DATE`.
    Date,
    /// `TIMESTAMP_NTZ`: the wall-clock time.
    Ntz,
    /// `TIMESTAMP_LTZ`: the instant, in the session's time zone.
    Ltz,
    /// `TIMESTAMP_TZ`: the instant and its offset.
    Tz,
}

/// One of the conversion functions.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ToTemporal {
    target: Target,
    try_: bool,
    signature: Signature,
    aliases: Vec<String>,
}

impl ToTemporal {
    pub(crate) fn new(target: Target, try_: bool) -> Self {
        let prefix = if try_ { "try_" } else { "" };
        let aliases = match target {
            Target::Date if !try_ => vec!["date".to_owned()],
            Target::Ntz => vec![format!("{prefix}to_timestamp")],
            _ => vec![],
        };
        Self { target, try_, signature: Signature::user_defined(Volatility::Immutable), aliases }
    }

    fn what(&self) -> &'static str {
        if self.target == Target::Date { "Date" } else { "Timestamp" }
    }
}

impl ScalarUDFImpl for ToTemporal {
    fn name(&self) -> &str {
        match (self.target, self.try_) {
            (Target::Date, false) => "to_date",
            (Target::Date, true) => "try_to_date",
            (Target::Ntz, false) => "to_timestamp_ntz",
            (Target::Ntz, true) => "try_to_timestamp_ntz",
            (Target::Ltz, false) => "to_timestamp_ltz",
            (Target::Ltz, true) => "try_to_timestamp_ltz",
            (Target::Tz, false) => "to_timestamp_tz",
            (Target::Tz, true) => "try_to_timestamp_tz",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = upper(self.name());
        arity(&name, arg_types.len(), 1, 2)?;
        let value = match &arg_types[0] {
            t if is_timestamp_tz(t) && self.target == Target::Tz && arg_types.len() == 1 => t.clone(),
            t if is_string(t) => DataType::Utf8,
            DataType::Null => DataType::Utf8,
            DataType::Date32 | DataType::Date64 => DataType::Date32,
            DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Nanosecond, tz.clone()),
            t @ DataType::Decimal128(..) if self.target != Target::Date => t.clone(),
            DataType::Float16 | DataType::Float32 | DataType::Float64 if self.target != Target::Date => {
                DataType::Float64
            }
            t if t.is_integer() && self.target != Target::Date => DataType::Int64,
            other => return Err(compilation(format!("{name} does not accept an argument of type {other}"))),
        };
        let second = match (&value, arg_types.get(1)) {
            (_, None) => None,
            (DataType::Utf8, Some(_)) => Some(DataType::Utf8),
            (DataType::Int64 | DataType::Decimal128(..) | DataType::Float64, Some(_)) => Some(DataType::Int64),
            (_, Some(_)) => {
                return Err(compilation(format!(
                    "{name} takes a format only with a string and a scale only with a number"
                )));
            }
        };
        Ok(std::iter::once(value).chain(second).collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.target {
            Target::Date => DataType::Date32,
            Target::Ntz => TIMESTAMP_NTZ,
            Target::Ltz => timestamp_ltz(),
            Target::Tz => timestamp_tz(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let rows = args.number_rows;
        let value = &arrays[0];
        if is_timestamp_tz(value.data_type()) {
            return Ok(ColumnarValue::Array(value.clone()));
        }
        let mut out: Vec<Option<NaiveDateTime>> = Vec::with_capacity(rows);
        // The offset (in minutes) each string named, for TIMESTAMP_TZ.
        let mut offsets = vec![0i32; if self.target == Target::Tz { rows } else { 0 }];
        let fail = |message: String, out: &mut Vec<Option<NaiveDateTime>>| -> Result<()> {
            if self.try_ {
                out.push(None);
                Ok(())
            } else {
                Err(execution(message))
            }
        };
        match value.data_type() {
            DataType::Utf8 => {
                let texts = strings(value)?;
                let formats = arrays.get(1).map(strings).transpose()?;
                for i in 0..rows {
                    let Some(text) = str_at(texts, i) else {
                        out.push(None);
                        continue;
                    };
                    let parsed: std::result::Result<Parsed, String> = match formats {
                        Some(f) => match str_at(f, i) {
                            None => {
                                out.push(None);
                                continue;
                            }
                            Some(format) => parse_with_format(text, format).ok_or_else(|| {
                                format!("Can't parse '{text}' as {} with format '{format}'", self.what().to_lowercase())
                            }),
                        },
                        None => parse_auto(text).ok_or_else(|| format!("{} '{text}' is not recognized", self.what())),
                    };
                    match parsed {
                        Ok(p) if self.target == Target::Tz => {
                            if let Some(o) = offsets.get_mut(i) {
                                *o = p.offset.unwrap_or(0) / 60;
                            }
                            out.push(Some(p.utc()));
                        }
                        Ok(p) => out.push(Some(match self.target {
                            Target::Date | Target::Ntz => p.local,
                            Target::Ltz | Target::Tz => p.utc(),
                        })),
                        Err(message) => fail(message, &mut out)?,
                    }
                }
            }
            DataType::Int64 | DataType::Decimal128(..) | DataType::Float64 => {
                let scales = arrays.get(1).map(int64s).transpose()?;
                for i in 0..rows {
                    let scale = match scales {
                        Some(s) => match i64_at(s, i) {
                            Some(s) if (0..=9).contains(&s) => s,
                            Some(s) => {
                                return Err(execution(format!(
                                    "Invalid scale {s} for function '{}': it must be between 0 and 9",
                                    upper(self.name())
                                )));
                            }
                            None => {
                                out.push(None);
                                continue;
                            }
                        },
                        None => 0,
                    };
                    if value.is_null(i) {
                        out.push(None);
                        continue;
                    }
                    match epoch_nanos(value, i, scale) {
                        Some(nanos) => out.push(Some(datetime_of_nanos(nanos))),
                        None => fail(format!("{} is out of range", self.what()), &mut out)?,
                    }
                }
            }
            DataType::Date32 | DataType::Timestamp(TimeUnit::Nanosecond, _) => out = datetimes(value)?,
            other => return Err(execution(format!("{} cannot convert {other}", upper(self.name())))),
        }
        if self.try_ {
            // Out of range is one more way for a TRY_ form to answer NULL.
            for t in &mut out {
                let in_range = match (self.target, *t) {
                    (_, None) => true,
                    (Target::Date, Some(t)) => super::instants::days_of_date(t.date()).is_some(),
                    (_, Some(t)) => super::instants::nanos_of_datetime(t).is_some(),
                };
                if !in_range {
                    *t = None;
                }
            }
        }
        let array: ArrayRef = match self.target {
            Target::Date => date_array(out.into_iter().map(|t| t.map(|t| t.date())))?,
            Target::Tz => {
                let values = out
                    .into_iter()
                    .zip(offsets)
                    .map(|(t, offset_minutes)| {
                        t.map(|t| {
                            nanos_of_datetime(t)
                                .map(|utc_nanos| Zoned { utc_nanos, offset_minutes })
                                .ok_or_else(|| execution(format!("Timestamp '{t}' is out of range")))
                        })
                        .transpose()
                    })
                    .collect::<Result<Vec<_>>>()?;
                zoned_array(values)
            }
            _ => timestamp_array(out, args.return_field.data_type())?,
        };
        Ok(ColumnarValue::Array(array))
    }
}

/// Nanoseconds since the epoch of number `i` of `array`, counted in units
/// of `10^-scale` seconds; `None` out of range.
fn epoch_nanos(array: &ArrayRef, i: usize, scale: i64) -> Option<i64> {
    let unit = 10i128.pow(u32::try_from(9 - scale).ok()?);
    let nanos: i128 = match array.data_type() {
        DataType::Int64 => i128::from(array.as_primitive::<Int64Type>().value(i)) * unit,
        DataType::Decimal128(_, s) => {
            let v = array.as_primitive::<Decimal128Type>().value(i);
            let s = i64::from(*s);
            if s <= 9 - scale {
                v.checked_mul(10i128.checked_pow(u32::try_from(9 - scale - s).ok()?)?)?
            } else {
                v / 10i128.checked_pow(u32::try_from(s - (9 - scale)).ok()?)?
            }
        }
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(i) * 10f64.powi(i32::try_from(9 - scale).ok()?);
            if !v.is_finite() || v.abs() >= 9.2e18 {
                return None;
            }
            v.round() as i128
        }
        _ => return None,
    };
    i64::try_from(nanos).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn numbers_count_units_of_the_scale() {
        let a: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![1_000_000_000]));
        assert_eq!(epoch_nanos(&a, 0, 0), Some(1_000_000_000_000_000_000));
        assert_eq!(epoch_nanos(&a, 0, 3), Some(1_000_000_000_000_000));
        assert_eq!(epoch_nanos(&a, 0, 9), Some(1_000_000_000));
        let f: ArrayRef = Arc::new(arrow_array::Float64Array::from(vec![1.5]));
        assert_eq!(epoch_nanos(&f, 0, 0), Some(1_500_000_000));
        let d: ArrayRef =
            Arc::new(arrow_array::Decimal128Array::from(vec![15i128]).with_precision_and_scale(10, 1).unwrap());
        assert_eq!(epoch_nanos(&d, 0, 0), Some(1_500_000_000));
        let big: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![i64::MAX]));
        assert_eq!(epoch_nanos(&big, 0, 0), None);
    }
}
