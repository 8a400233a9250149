//! Date and time functions: Snowflake's date and time parts, and
//! `DATEDIFF`.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int64Type, Time64NanosecondType, TimestampNanosecondType};
use arrow_array::{ArrayRef, Date32Array, Int64Array, Time64NanosecondArray, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, FieldRef, TimeUnit};
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// A Snowflake date or time part (`DATEADD`, `DATEDIFF`, `DATE_TRUNC`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DatePart {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

impl DatePart {
    /// A part by any of Snowflake's names and abbreviations, in any case.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "YEAR" | "Y" | "YY" | "YYY" | "YYYY" | "YR" | "YEARS" | "YRS" => Self::Year,
            "QUARTER" | "Q" | "QTR" | "QTRS" | "QUARTERS" => Self::Quarter,
            "MONTH" | "MM" | "MON" | "MONS" | "MONTHS" => Self::Month,
            "WEEK" | "W" | "WK" | "WEEKOFYEAR" | "WOY" | "WY" | "WEEKS" => Self::Week,
            "DAY" | "D" | "DD" | "DAYS" | "DAYOFMONTH" => Self::Day,
            "HOUR" | "H" | "HH" | "HR" | "HOURS" | "HRS" => Self::Hour,
            "MINUTE" | "M" | "MI" | "MIN" | "MINUTES" | "MINS" => Self::Minute,
            "SECOND" | "S" | "SEC" | "SECONDS" | "SECS" => Self::Second,
            "MILLISECOND" | "MS" | "MSEC" | "MILLISECONDS" => Self::Millisecond,
            "MICROSECOND" | "US" | "USEC" | "MICROSECONDS" => Self::Microsecond,
            "NANOSECOND" | "NS" | "NSEC" | "NANOSEC" | "NSECOND" | "NANOSECONDS" => Self::Nanosecond,
            _ => return None,
        })
    }

    /// The canonical (lower-case) name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::Quarter => "quarter",
            Self::Month => "month",
            Self::Week => "week",
            Self::Day => "day",
            Self::Hour => "hour",
            Self::Minute => "minute",
            Self::Second => "second",
            Self::Millisecond => "millisecond",
            Self::Microsecond => "microsecond",
            Self::Nanosecond => "nanosecond",
        }
    }

    /// Whether the part is a whole number of days or more (what a `DATE`
    /// can be moved by and stay a `DATE`).
    fn is_date_part(self) -> bool {
        matches!(self, Self::Year | Self::Quarter | Self::Month | Self::Week | Self::Day)
    }

    /// The length of one unit of a part of fixed length, in nanoseconds.
    fn fixed_nanos(self) -> Option<i64> {
        Some(match self {
            Self::Day => 86_400_000_000_000,
            Self::Hour => 3_600_000_000_000,
            Self::Minute => 60_000_000_000,
            Self::Second => 1_000_000_000,
            Self::Millisecond => 1_000_000,
            Self::Microsecond => 1_000,
            Self::Nanosecond => 1,
            Self::Year | Self::Quarter | Self::Month | Self::Week => return None,
        })
    }
}

/// `DATEDIFF(part, from, to)`: how many `part` boundaries lie between two
/// dates or timestamps (Snowflake counts boundaries crossed, so
/// `DATEDIFF(year, '2023-12-31', '2024-01-01')` is 1). The part arrives as
/// a string (the dialect turns `DATEDIFF(day, ...)` into
/// `datediff('day', ...)`); the operands as timestamps without a zone.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateDiff {
    signature: Signature,
}

impl DateDiff {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

const TIMESTAMP: DataType = DataType::Timestamp(TimeUnit::Nanosecond, None);

fn boundaries(part: DatePart, from: i64, to: i64) -> i64 {
    let date = |nanos: i64| -> NaiveDateTime { DateTime::from_timestamp_nanos(nanos).naive_utc() };
    match part {
        DatePart::Year => i64::from(date(to).year()) - i64::from(date(from).year()),
        DatePart::Quarter => {
            let q = |d: NaiveDateTime| i64::from(d.year()) * 4 + i64::from(d.month0() / 3);
            q(date(to)) - q(date(from))
        }
        DatePart::Month => {
            let m = |d: NaiveDateTime| i64::from(d.year()) * 12 + i64::from(d.month0());
            m(date(to)) - m(date(from))
        }
        DatePart::Week => {
            // Weeks start on Monday; 1970-01-01 was a Thursday, so Monday
            // 1969-12-29 starts the week that holds day 0.
            const DAY: i64 = 86_400_000_000_000;
            let week = |nanos: i64| (nanos.div_euclid(DAY) + 3).div_euclid(7);
            week(to) - week(from)
        }
        fixed => {
            let unit = fixed.fixed_nanos().unwrap_or(1);
            to.div_euclid(unit) - from.div_euclid(unit)
        }
    }
}

impl ScalarUDFImpl for DateDiff {
    fn name(&self) -> &str {
        "datediff"
    }

    fn aliases(&self) -> &[String] {
        &[]
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3 {
            return plan_err!("DATEDIFF takes 3 arguments (part, from, to), {} given", arg_types.len());
        }
        Ok(vec![DataType::Utf8, TIMESTAMP, TIMESTAMP])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let part = match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(p))) => DatePart::parse(p),
            _ => None,
        };
        let Some(part) = part else {
            return exec_err!("DATEDIFF needs a date or time part such as day, month or hour as its first argument");
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args[1..])?;
        let from = arrays[0].as_primitive::<TimestampNanosecondType>();
        let to = arrays[1].as_primitive::<TimestampNanosecondType>();
        let out: Int64Array = from.iter().zip(to.iter()).map(|(a, b)| Some(boundaries(part, a?, b?))).collect();
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

/// The part named by a function's first argument, a string constant.
fn part_argument(function: &str, arg: Option<&ScalarValue>) -> Result<DatePart> {
    match arg {
        Some(ScalarValue::Utf8(Some(p))) => match DatePart::parse(p) {
            Some(part) => Ok(part),
            None => plan_err!("{function}: invalid date or time part '{p}'"),
        },
        _ => plan_err!("{function} needs a date or time part such as day, month or hour as its first argument"),
    }
}

/// `DATEADD(part, amount, value)`: `value` moved by `amount` units of
/// `part` (any integer expression). A `DATE` moved by days or more stays a
/// `DATE`; moved by hours or less it becomes a `TIMESTAMP_NTZ` with the
/// time part (Snowflake's rule). Months past the end of the target month
/// land on its last day (`DATEADD(month, 1, '2024-01-31')` is
/// 2024-02-29). Strings are read as timestamps.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateAdd {
    signature: Signature,
}

impl DateAdd {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

/// The type `DATEADD` reads a value of `t` as.
fn dateadd_operand(t: &DataType) -> DataType {
    match t {
        DataType::Date32 | DataType::Date64 => DataType::Date32,
        DataType::Time32(_) | DataType::Time64(_) => DataType::Time64(TimeUnit::Nanosecond),
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Nanosecond, tz.clone()),
        _ => TIMESTAMP,
    }
}

fn add_months(t: NaiveDateTime, months: i64) -> Option<NaiveDateTime> {
    let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    if months >= 0 { t.checked_add_months(m) } else { t.checked_sub_months(m) }
}

/// `t` moved by `n` units of `part`; `None` when out of range.
fn shift(part: DatePart, n: i64, t: NaiveDateTime) -> Option<NaiveDateTime> {
    match part {
        DatePart::Year => add_months(t, n.checked_mul(12)?),
        DatePart::Quarter => add_months(t, n.checked_mul(3)?),
        DatePart::Month => add_months(t, n),
        DatePart::Week => t.checked_add_signed(TimeDelta::try_days(n.checked_mul(7)?)?),
        DatePart::Day => {
            let d = Days::new(n.unsigned_abs());
            if n >= 0 { t.checked_add_days(d) } else { t.checked_sub_days(d) }
        }
        fixed => t.checked_add_signed(TimeDelta::nanoseconds(n.checked_mul(fixed.fixed_nanos()?)?)),
    }
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

impl ScalarUDFImpl for DateAdd {
    fn name(&self) -> &str {
        "dateadd"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3 {
            return plan_err!("DATEADD takes 3 arguments (part, amount, value), {} given", arg_types.len());
        }
        Ok(vec![DataType::Utf8, DataType::Int64, dateadd_operand(&arg_types[2])])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("DATEADD's type depends on its arguments")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        let part = part_argument("DATEADD", args.scalar_arguments.first().copied().flatten())?;
        let operand = args.arg_fields[2].data_type();
        let out = match operand {
            DataType::Date32 if !part.is_date_part() => TIMESTAMP,
            other => other.clone(),
        };
        Ok(Arc::new(Field::new(self.name(), out, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let part = match &args.args[0] {
            ColumnarValue::Scalar(p) => part_argument("DATEADD", Some(p))?,
            ColumnarValue::Array(_) => return exec_err!("DATEADD's date or time part must be a constant"),
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args[1..])?;
        let amounts = arrays[0].as_primitive::<Int64Type>();
        let out_of_range = || {
            datafusion::error::DataFusionError::External(Box::new(crate::WarehouseError::Execution(
                "DATEADD: the result is out of the range of dates".into(),
            )))
        };
        let out: ArrayRef = match arrays[1].data_type() {
            DataType::Date32 => {
                let dates = arrays[1].as_primitive::<Date32Type>();
                let moved = dates.iter().zip(amounts.iter()).map(|(d, n)| match (d, n) {
                    (Some(d), Some(n)) => {
                        let day = EPOCH.checked_add_signed(TimeDelta::try_days(i64::from(d))?)?;
                        Some(shift(part, n, day.and_hms_opt(0, 0, 0)?).ok_or_else(out_of_range))
                    }
                    _ => None,
                });
                if part.is_date_part() {
                    let days: Result<Date32Array> = moved
                        .map(|t| {
                            t.map(|t| {
                                let days = t?.date().signed_duration_since(EPOCH).num_days();
                                i32::try_from(days).map_err(|_| out_of_range())
                            })
                            .transpose()
                        })
                        .collect();
                    Arc::new(days?)
                } else {
                    let nanos: Result<TimestampNanosecondArray> = moved
                        .map(|t| t.map(|t| t?.and_utc().timestamp_nanos_opt().ok_or_else(out_of_range)).transpose())
                        .collect();
                    Arc::new(nanos?)
                }
            }
            DataType::Time64(_) => {
                let Some(step) = part.fixed_nanos().filter(|_| !part.is_date_part()) else {
                    return exec_err!("DATEADD can move a TIME by hours, minutes, seconds or fractions only");
                };
                const DAY: i128 = 86_400_000_000_000;
                let times = arrays[1].as_primitive::<Time64NanosecondType>();
                let moved: Time64NanosecondArray = times
                    .iter()
                    .zip(amounts.iter())
                    .map(|(t, n)| {
                        let nanos = (i128::from(t?) + i128::from(n?) * i128::from(step)).rem_euclid(DAY);
                        i64::try_from(nanos).ok()
                    })
                    .collect();
                Arc::new(moved)
            }
            DataType::Timestamp(_, tz) => {
                let stamps = arrays[1].as_primitive::<TimestampNanosecondType>();
                let moved: Result<TimestampNanosecondArray> = stamps
                    .iter()
                    .zip(amounts.iter())
                    .map(|(t, n)| match (t, n) {
                        (Some(t), Some(n)) => {
                            let t = DateTime::from_timestamp_nanos(t).naive_utc();
                            shift(part, n, t)
                                .and_then(|t| t.and_utc().timestamp_nanos_opt())
                                .ok_or_else(out_of_range)
                                .map(Some)
                        }
                        _ => Ok(None),
                    })
                    .collect();
                Arc::new(moved?.with_timezone_opt(tz.clone()))
            }
            other => return exec_err!("DATEADD cannot move a value of type {other}"),
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        let t = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
        t.and_utc().timestamp_nanos_opt().unwrap()
    }

    #[test]
    fn boundaries_crossed_as_snowflake_counts_them() {
        let (a, b) = (at("2023-12-31 23:59:59"), at("2024-01-01 00:00:00"));
        for part in [DatePart::Year, DatePart::Quarter, DatePart::Month, DatePart::Day, DatePart::Hour] {
            assert_eq!(boundaries(part, a, b), 1, "{part:?}");
            assert_eq!(boundaries(part, b, a), -1, "{part:?}");
        }
        assert_eq!(boundaries(DatePart::Second, a, b), 1);
        // 2023-12-31 is a Sunday, 2024-01-01 a Monday.
        assert_eq!(boundaries(DatePart::Week, a, b), 1);
        assert_eq!(boundaries(DatePart::Week, at("2024-01-01 00:00:00"), at("2024-01-07 23:00:00")), 0);
        assert_eq!(boundaries(DatePart::Month, at("2020-02-29 00:00:00"), at("2021-03-01 00:00:00")), 13);
        assert_eq!(boundaries(DatePart::Day, at("1969-12-31 23:00:00"), at("1970-01-01 01:00:00")), 1);
    }

    #[test]
    fn shifts_as_snowflake_moves_dates() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(shift(DatePart::Month, 1, t("2024-01-31 10:00:00")), Some(t("2024-02-29 10:00:00")));
        assert_eq!(shift(DatePart::Year, -1, t("2024-02-29 00:00:00")), Some(t("2023-02-28 00:00:00")));
        assert_eq!(shift(DatePart::Quarter, 1, t("2024-11-30 00:00:00")), Some(t("2025-02-28 00:00:00")));
        assert_eq!(shift(DatePart::Hour, 25, t("2024-01-01 00:00:00")), Some(t("2024-01-02 01:00:00")));
        assert_eq!(shift(DatePart::Week, -1, t("2024-01-01 00:00:00")), Some(t("2023-12-25 00:00:00")));
        assert_eq!(shift(DatePart::Day, i64::MAX, t("2024-01-01 00:00:00")), None);
    }

    #[test]
    fn part_names_and_abbreviations() {
        assert_eq!(DatePart::parse("yy"), Some(DatePart::Year));
        assert_eq!(DatePart::parse("QTR"), Some(DatePart::Quarter));
        assert_eq!(DatePart::parse("mi"), Some(DatePart::Minute));
        assert_eq!(DatePart::parse("fortnight"), None);
    }
}
