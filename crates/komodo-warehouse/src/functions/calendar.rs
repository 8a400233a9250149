//! Calendar functions: `LAST_DAY`, `ADD_MONTHS`, `DAYNAME`, `MONTHNAME`,
//! `DATE_FROM_PARTS`, `TIME_FROM_PARTS`, `TIMESTAMP_FROM_PARTS` (and its
//! `_NTZ`, `_LTZ`, `_TZ` forms) and `TIME_SLICE`, with Snowflake's rules:
//! weeks start on Monday, a month added to the last day of a month lands
//! on the last day of the target month, and out-of-range parts carry over
//! (`DATE_FROM_PARTS(2024, 13, 1)` is 2025-01-01, day 0 is the last day
//! of the month before).

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::Time64NanosecondType;
use arrow_array::{Array, ArrayRef, Time64NanosecondArray};
use arrow_schema::{DataType, TimeUnit};
use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::DatePart;
use super::args::{arity, arrays, compilation, execution, f64_at, float64s, i64_at, int64s, str_at, strings, upper};
use super::instants::{
    EPOCH, TIMESTAMP_NTZ, date_array, datetimes, nanos_of_datetime, temporal_array, temporal_operand, timestamp_array,
    timestamp_ltz,
};

/// The last day of `date`'s month.
fn last_of_month(date: NaiveDate) -> Option<NaiveDate> {
    let first = date.with_day(1)?;
    first.checked_add_months(Months::new(1))?.pred_opt()
}

/// The type of a date or time argument, or a compilation error naming
/// the function.
fn operand(function: &str, t: &DataType) -> Result<DataType> {
    temporal_operand(t)
        .ok_or_else(|| compilation(format!("{} takes a date or timestamp, not a value of type {t}", upper(function))))
}

/// What a function returns for an operand: the operand's own type (a
/// string operand is read as a `TIMESTAMP_NTZ`).
fn same_kind(t: &DataType) -> DataType {
    match t {
        DataType::Utf8 => TIMESTAMP_NTZ,
        other => other.clone(),
    }
}

/// `LAST_DAY(date_or_timestamp [, part])`: the last day of the month (or
/// year, quarter, week) holding the value, as a `DATE`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct LastDay {
    signature: Signature,
}

impl LastDay {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

fn last_day(date: NaiveDate, part: DatePart) -> Option<NaiveDate> {
    match part {
        DatePart::Year => NaiveDate::from_ymd_opt(date.year(), 12, 31),
        DatePart::Quarter => {
            let month = (date.month0() / 3) * 3 + 3;
            last_of_month(NaiveDate::from_ymd_opt(date.year(), month, 1)?)
        }
        DatePart::Week => {
            date.checked_add_signed(TimeDelta::days(6 - i64::from(date.weekday().num_days_from_monday())))
        }
        _ => last_of_month(date),
    }
}

impl ScalarUDFImpl for LastDay {
    fn name(&self) -> &str {
        "last_day"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("LAST_DAY", arg_types.len(), 1, 2)?;
        let mut types = vec![operand(self.name(), &arg_types[0])?];
        if arg_types.len() == 2 {
            types.push(DataType::Utf8);
        }
        Ok(types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let values = datetimes(&arrays[0])?;
        let parts = arrays.get(1).map(strings).transpose()?;
        let mut out = Vec::with_capacity(values.len());
        for (i, value) in values.into_iter().enumerate() {
            let part = match parts {
                None => Some(DatePart::Month),
                Some(p) => match str_at(p, i) {
                    None => None,
                    Some(name) => match DatePart::parse(name) {
                        Some(part @ (DatePart::Year | DatePart::Quarter | DatePart::Month | DatePart::Week)) => {
                            Some(part)
                        }
                        _ => {
                            return Err(execution(format!(
                                "Invalid date part '{name}' for function LAST_DAY: it takes YEAR, QUARTER, MONTH or WEEK"
                            )));
                        }
                    },
                },
            };
            out.push(match (value, part) {
                (Some(v), Some(part)) => last_day(v.date(), part),
                _ => None,
            });
        }
        Ok(ColumnarValue::Array(date_array(out)?))
    }
}

/// `ADD_MONTHS(date_or_timestamp, months)`: the value moved by a number
/// of months (rounded to a whole number); from the last day of a month
/// to the last day of the target month, otherwise to the same day or the
/// target month's last day when it is shorter. The time of day is kept.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct AddMonths {
    signature: Signature,
}

impl AddMonths {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

/// `t` moved by `months` with Snowflake's month-end rule.
pub(crate) fn add_months(t: NaiveDateTime, months: i64) -> Option<NaiveDateTime> {
    let date = t.date();
    let step = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    let first = date.with_day(1)?;
    let target_first = if months >= 0 { first.checked_add_months(step)? } else { first.checked_sub_months(step)? };
    let target_last = last_of_month(target_first)?;
    let day = if Some(date) == last_of_month(date) { target_last.day() } else { date.day().min(target_last.day()) };
    Some(target_first.with_day(day)?.and_time(t.time()))
}

impl ScalarUDFImpl for AddMonths {
    fn name(&self) -> &str {
        "add_months"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("ADD_MONTHS", arg_types.len(), 2, 2)?;
        Ok(vec![operand(self.name(), &arg_types[0])?, DataType::Float64])
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(same_kind(&arg_types[0]))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let values = datetimes(&arrays[0])?;
        let months = float64s(&arrays[1])?;
        let mut out = Vec::with_capacity(values.len());
        for (i, value) in values.into_iter().enumerate() {
            out.push(match (value, f64_at(months, i)) {
                (Some(t), Some(m)) => {
                    let m = m.round();
                    if !m.is_finite() || m.abs() > 1e9 {
                        return Err(execution(format!("ADD_MONTHS: {m} months is out of range")));
                    }
                    Some(add_months(t, m as i64).ok_or_else(|| execution("ADD_MONTHS: the result is out of range"))?)
                }
                _ => None,
            });
        }
        Ok(ColumnarValue::Array(temporal_array(out, args.return_field.data_type())?))
    }
}

/// `DAYNAME` (`Mon` ... `Sun`) or `MONTHNAME` (`Jan` ... `Dec`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct NameOf {
    signature: Signature,
    month: bool,
}

impl NameOf {
    pub(crate) fn new(month: bool) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), month }
    }
}

impl ScalarUDFImpl for NameOf {
    fn name(&self) -> &str {
        if self.month { "monthname" } else { "dayname" }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity(&upper(self.name()), arg_types.len(), 1, 1)?;
        Ok(vec![operand(self.name(), &arg_types[0])?])
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let mut out = StringBuilder::new();
        for value in datetimes(&arrays[0])? {
            out.append_option(value.map(|t| if self.month { t.format("%b") } else { t.format("%a") }.to_string()));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The date `year`-`month`-`day` with out-of-range months and days
/// carried over (month 0 is December of the year before, day 0 the last
/// day of the month before, day 32 of January is February 1).
pub(crate) fn date_from_parts(year: i64, month: i64, day: i64) -> Option<NaiveDate> {
    let months = year.checked_mul(12)?.checked_add(month.checked_sub(1)?)?;
    let first = NaiveDate::from_ymd_opt(
        i32::try_from(months.div_euclid(12)).ok()?,
        u32::try_from(months.rem_euclid(12) + 1).ok()?,
        1,
    )?;
    first.checked_add_signed(TimeDelta::try_days(day.checked_sub(1)?)?)
}

/// Midnight of `date` moved by hours, minutes, seconds and nanoseconds
/// (any of them out of range or negative).
fn at_time(date: NaiveDate, hour: i64, minute: i64, second: i64, nanos: i64) -> Option<NaiveDateTime> {
    let offset = TimeDelta::try_hours(hour)?
        .checked_add(&TimeDelta::try_minutes(minute)?)?
        .checked_add(&TimeDelta::try_seconds(second)?)?
        .checked_add(&TimeDelta::nanoseconds(nanos))?;
    date.and_time(NaiveTime::MIN).checked_add_signed(offset)
}

/// Which `*_FROM_PARTS` function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Parts {
    /// `DATE_FROM_PARTS(year, month, day)`.
    Date,
    /// `TIME_FROM_PARTS(hour, minute, second [, nanosecond])`.
    Time,
    /// `TIMESTAMP_FROM_PARTS` / `TIMESTAMP_NTZ_FROM_PARTS(year, month,
    /// day, hour, minute, second [, nanosecond])` or `(date, time)`.
    Ntz,
    /// `TIMESTAMP_LTZ_FROM_PARTS(year, month, day, hour, minute, second [, nanosecond])`.
    Ltz,
    /// `TIMESTAMP_TZ_FROM_PARTS(year, month, day, hour, minute, second [, nanosecond] [, time_zone])`.
    Tz,
}

/// One of the `*_FROM_PARTS` functions.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct FromParts {
    parts: Parts,
    signature: Signature,
    aliases: Vec<String>,
}

impl FromParts {
    pub(crate) fn new(parts: Parts) -> Self {
        let aliases: &[&str] = match parts {
            Parts::Date => &["datefromparts"],
            Parts::Time => &["timefromparts"],
            Parts::Ntz => &["timestampfromparts", "timestamp_ntz_from_parts", "timestampntzfromparts"],
            Parts::Ltz => &["timestampltzfromparts"],
            Parts::Tz => &["timestamptzfromparts"],
        };
        Self {
            parts,
            signature: Signature::user_defined(Volatility::Immutable),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    /// Whether the call is the `(date, time)` form.
    fn date_and_time(&self, arg_types: &[DataType]) -> bool {
        self.parts == Parts::Ntz && arg_types.len() == 2
    }
}

impl ScalarUDFImpl for FromParts {
    fn name(&self) -> &str {
        match self.parts {
            Parts::Date => "date_from_parts",
            Parts::Time => "time_from_parts",
            Parts::Ntz => "timestamp_from_parts",
            Parts::Ltz => "timestamp_ltz_from_parts",
            Parts::Tz => "timestamp_tz_from_parts",
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
        if self.date_and_time(arg_types) {
            return Ok(vec![DataType::Date32, DataType::Time64(TimeUnit::Nanosecond)]);
        }
        match self.parts {
            Parts::Date => arity(&name, arg_types.len(), 3, 3)?,
            Parts::Time => arity(&name, arg_types.len(), 3, 4)?,
            Parts::Ntz | Parts::Ltz => arity(&name, arg_types.len(), 6, 7)?,
            Parts::Tz => arity(&name, arg_types.len(), 6, 8)?,
        }
        let mut types = vec![DataType::Int64; arg_types.len()];
        if self.parts == Parts::Tz && arg_types.len() == 8 {
            types[7] = DataType::Utf8;
        }
        Ok(types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.parts {
            Parts::Date => DataType::Date32,
            Parts::Time => DataType::Time64(TimeUnit::Nanosecond),
            Parts::Ntz => TIMESTAMP_NTZ,
            Parts::Ltz => timestamp_ltz(),
            Parts::Tz => crate::timestamp_tz::timestamp_tz(),
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let rows = args.number_rows;
        let name = upper(self.name());
        let out_of_range = || execution(format!("{name}: the result is out of range"));
        if arrays.len() == 2 && self.parts == Parts::Ntz {
            let dates = datetimes(&arrays[0])?;
            let times = arrays[1].as_primitive::<Time64NanosecondType>();
            let values = (0..rows).map(|i| {
                let date = dates[i]?;
                let nanos = times.is_valid(i).then(|| times.value(i))?;
                date.checked_add_signed(TimeDelta::nanoseconds(nanos))
            });
            return Ok(ColumnarValue::Array(timestamp_array(values, &TIMESTAMP_NTZ)?));
        }
        let ints: Vec<_> =
            arrays.iter().filter(|a| a.data_type() == &DataType::Int64).map(int64s).collect::<Result<_>>()?;
        let zones = if self.parts == Parts::Tz && arrays.len() == 8 { Some(strings(&arrays[7])?) } else { None };
        let row = |i: usize| -> Option<Vec<i64>> {
            let mut values: Vec<i64> = ints.iter().map(|a| i64_at(a, i)).collect::<Option<_>>()?;
            let wanted = match self.parts {
                Parts::Date | Parts::Time => 4,
                _ => 7,
            };
            values.resize(wanted, 0);
            Some(values)
        };
        let array: ArrayRef = match self.parts {
            Parts::Date => {
                let mut out = Vec::with_capacity(rows);
                for i in 0..rows {
                    out.push(match row(i) {
                        Some(v) => Some(date_from_parts(v[0], v[1], v[2]).ok_or_else(out_of_range)?),
                        None => None,
                    });
                }
                date_array(out)?
            }
            Parts::Time => {
                const DAY: i128 = 86_400_000_000_000;
                let times: Time64NanosecondArray = (0..rows)
                    .map(|i| {
                        let v = row(i)?;
                        let nanos = (i128::from(v[0]) * 3_600_000_000_000
                            + i128::from(v[1]) * 60_000_000_000
                            + i128::from(v[2]) * 1_000_000_000
                            + i128::from(v[3]))
                        .rem_euclid(DAY);
                        i64::try_from(nanos).ok()
                    })
                    .collect();
                Arc::new(times)
            }
            Parts::Ntz | Parts::Ltz | Parts::Tz => {
                // Each row's wall-clock time and its instant: in the zone
                // TIMESTAMP_TZ_FROM_PARTS names as its 8th argument, else
                // UTC.
                let mut times = Vec::with_capacity(rows);
                for i in 0..rows {
                    let Some(v) = row(i) else {
                        times.push(None);
                        continue;
                    };
                    let local = date_from_parts(v[0], v[1], v[2])
                        .and_then(|d| at_time(d, v[3], v[4], v[5], v[6]))
                        .ok_or_else(out_of_range)?;
                    times.push(match zones.map(|z| str_at(z, i)) {
                        None => Some((local, local)),
                        Some(None) => None,
                        Some(Some(zone)) => Some((local, local_to_utc(local, zone)?)),
                    });
                }
                if self.parts != Parts::Tz {
                    timestamp_array(times.into_iter().map(|t| t.map(|(_, utc)| utc)), args.return_field.data_type())?
                } else {
                    // A TIMESTAMP_TZ keeps the zone's offset at the instant.
                    let zoned = times
                        .into_iter()
                        .map(|t| {
                            t.map(|(local, utc)| {
                                let offset_minutes =
                                    i32::try_from((local - utc).num_minutes()).map_err(|_| out_of_range())?;
                                let utc_nanos = nanos_of_datetime(utc).ok_or_else(out_of_range)?;
                                Ok(crate::timestamp_tz::Zoned { utc_nanos, offset_minutes })
                            })
                            .transpose()
                        })
                        .collect::<Result<Vec<_>>>()?;
                    crate::timestamp_tz::zoned_array(zoned)
                }
            }
        };
        Ok(ColumnarValue::Array(array))
    }
}

/// A time zone by its IANA name (`America/Los_Angeles`, `UTC`) or as a
/// fixed offset (`+05:30`, `-0800`).
pub(crate) enum Zone {
    Named(chrono_tz::Tz),
    Fixed(chrono::FixedOffset),
}

/// The time zone `name` names, or Snowflake's error for an unknown one.
pub(crate) fn zone(name: &str) -> Result<Zone> {
    let trimmed = name.trim();
    if let Ok(tz) = trimmed.parse::<chrono_tz::Tz>() {
        return Ok(Zone::Named(tz));
    }
    if let Some(tz) = chrono_tz::TZ_VARIANTS.iter().find(|tz| tz.name().eq_ignore_ascii_case(trimmed)) {
        return Ok(Zone::Named(*tz));
    }
    let offset = super::datetime_text::parse_auto(&format!("1970-01-01 00:00:00 {trimmed}"))
        .and_then(|p| p.offset)
        .and_then(chrono::FixedOffset::east_opt);
    offset.map(Zone::Fixed).ok_or_else(|| execution(format!("Unknown time zone '{name}'")))
}

/// The UTC instant of wall-clock time `local` in zone `name` (the earlier
/// one where clocks go back, the time after the gap where they go
/// forward).
pub(crate) fn local_to_utc(local: NaiveDateTime, name: &str) -> Result<NaiveDateTime> {
    fn resolve<Z: TimeZone>(z: &Z, local: NaiveDateTime) -> Option<NaiveDateTime> {
        match z.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => Some(t.naive_utc()),
            chrono::LocalResult::None => {
                z.from_local_datetime(&(local + TimeDelta::hours(1))).earliest().map(|t| t.naive_utc())
            }
        }
    }
    let utc = match zone(name)? {
        Zone::Named(tz) => resolve(&tz, local),
        Zone::Fixed(offset) => resolve(&offset, local),
    };
    utc.ok_or_else(|| execution(format!("Timestamp '{local}' does not exist in time zone '{name}'")))
}

/// The wall-clock time in zone `name` of UTC instant `utc`.
pub(crate) fn utc_to_local(utc: NaiveDateTime, name: &str) -> Result<NaiveDateTime> {
    Ok(match zone(name)? {
        Zone::Named(tz) => tz.from_utc_datetime(&utc).naive_local(),
        Zone::Fixed(offset) => offset.from_utc_datetime(&utc).naive_local(),
    })
}

/// `TIME_SLICE(date_or_timestamp, slice_length, part [, 'START' | 'END'])`:
/// the start (or end) of the slice of `slice_length` parts holding the
/// value, slices aligned on 1970-01-01 00:00:00 (weeks on Monday
/// 1969-12-29). A date stays a date.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimeSlice {
    signature: Signature,
}

impl TimeSlice {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

/// The start of the slice holding `t`, and the start of the next one.
fn slice(t: NaiveDateTime, length: i64, part: DatePart) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let months = |per: i64| -> Option<(NaiveDateTime, NaiveDateTime)> {
        let width = length.checked_mul(per)?;
        let index = (i64::from(t.year()) - 1970) * 12 + i64::from(t.month0());
        let start = index.div_euclid(width) * width;
        let first = |m: i64| date_from_parts(1970, m + 1, 1).map(|d| d.and_time(NaiveTime::MIN));
        Some((first(start)?, first(start.checked_add(width)?)?))
    };
    let fixed = |unit: TimeDelta, origin: NaiveDateTime| -> Option<(NaiveDateTime, NaiveDateTime)> {
        let width = unit.checked_mul(i32::try_from(length).ok()?)?.num_nanoseconds()?;
        let since = (t - origin).num_nanoseconds()?;
        let start = since.div_euclid(width).checked_mul(width)?;
        let start = origin.checked_add_signed(TimeDelta::nanoseconds(start))?;
        Some((start, start.checked_add_signed(TimeDelta::nanoseconds(width))?))
    };
    let epoch = EPOCH.and_time(NaiveTime::MIN);
    match part {
        DatePart::Year => months(12),
        DatePart::Quarter => months(3),
        DatePart::Month => months(1),
        DatePart::Week => fixed(TimeDelta::days(7), epoch - TimeDelta::days(3)),
        DatePart::Day => fixed(TimeDelta::days(1), epoch),
        DatePart::Hour => fixed(TimeDelta::hours(1), epoch),
        DatePart::Minute => fixed(TimeDelta::minutes(1), epoch),
        DatePart::Second => fixed(TimeDelta::seconds(1), epoch),
        _ => None,
    }
}

impl ScalarUDFImpl for TimeSlice {
    fn name(&self) -> &str {
        "time_slice"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("TIME_SLICE", arg_types.len(), 3, 4)?;
        let mut types = vec![operand(self.name(), &arg_types[0])?, DataType::Int64, DataType::Utf8];
        if arg_types.len() == 4 {
            types.push(DataType::Utf8);
        }
        Ok(types)
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(same_kind(&arg_types[0]))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let is_date = arrays[0].data_type() == &DataType::Date32;
        let values = datetimes(&arrays[0])?;
        let lengths = int64s(&arrays[1])?;
        let parts = strings(&arrays[2])?;
        let ends = arrays.get(3).map(strings).transpose()?;
        let mut out = Vec::with_capacity(values.len());
        for (i, value) in values.into_iter().enumerate() {
            let (Some(t), Some(length), Some(part)) = (value, i64_at(lengths, i), str_at(parts, i)) else {
                out.push(None);
                continue;
            };
            let end = match ends.map(|e| str_at(e, i)) {
                None => false,
                Some(None) => {
                    out.push(None);
                    continue;
                }
                Some(Some(e)) if e.eq_ignore_ascii_case("START") => false,
                Some(Some(e)) if e.eq_ignore_ascii_case("END") => true,
                Some(Some(e)) => {
                    return Err(execution(format!("TIME_SLICE: invalid value '{e}', it must be 'START' or 'END'")));
                }
            };
            if length < 1 {
                return Err(execution(format!("TIME_SLICE: the slice length must be at least 1, got {length}")));
            }
            let part = match DatePart::parse(part) {
                Some(p @ (DatePart::Year | DatePart::Quarter | DatePart::Month | DatePart::Week | DatePart::Day)) => p,
                Some(p @ (DatePart::Hour | DatePart::Minute | DatePart::Second)) if !is_date => p,
                _ => {
                    return Err(execution(format!(
                        "TIME_SLICE: invalid date or time part '{part}' for a {}",
                        if is_date { "DATE" } else { "TIMESTAMP" }
                    )));
                }
            };
            let (start, next) =
                slice(t, length, part).ok_or_else(|| execution("TIME_SLICE: the result is out of range"))?;
            out.push(Some(if end { next } else { start }));
        }
        Ok(ColumnarValue::Array(temporal_array(out, args.return_field.data_type())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::instants::days_of_date;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn parts_carry_over() {
        assert_eq!(date_from_parts(2004, 1, 1), Some(d(2004, 1, 1)));
        assert_eq!(date_from_parts(2024, 13, 1), Some(d(2025, 1, 1)));
        assert_eq!(date_from_parts(2004, 0, 1), Some(d(2003, 12, 1)));
        assert_eq!(date_from_parts(2004, 1, 0), Some(d(2003, 12, 31)));
        assert_eq!(date_from_parts(2004, -1, -1), Some(d(2003, 10, 30)));
        assert_eq!(date_from_parts(2010, 1, 100), Some(d(2010, 4, 10)));
        assert_eq!(days_of_date(d(1970, 1, 1)), Some(0));
    }

    #[test]
    fn months_added_at_month_end() {
        let t = |y, m, day| d(y, m, day).and_hms_opt(10, 0, 0).unwrap();
        assert_eq!(add_months(t(2016, 2, 29), 1), Some(t(2016, 3, 31)));
        assert_eq!(add_months(t(2016, 1, 31), 1), Some(t(2016, 2, 29)));
        assert_eq!(add_months(t(2016, 5, 15), 2), Some(t(2016, 7, 15)));
        assert_eq!(add_months(t(2016, 3, 31), -1), Some(t(2016, 2, 29)));
        assert_eq!(add_months(t(2016, 4, 30), 1), Some(t(2016, 5, 31)));
    }

    #[test]
    fn last_days() {
        assert_eq!(last_day(d(2015, 5, 8), DatePart::Month), Some(d(2015, 5, 31)));
        assert_eq!(last_day(d(2015, 5, 8), DatePart::Year), Some(d(2015, 12, 31)));
        assert_eq!(last_day(d(2015, 5, 8), DatePart::Quarter), Some(d(2015, 6, 30)));
        // 2024-01-03 is a Wednesday; its week ends on Sunday the 7th.
        assert_eq!(last_day(d(2024, 1, 3), DatePart::Week), Some(d(2024, 1, 7)));
        assert_eq!(last_day(d(2024, 2, 10), DatePart::Month), Some(d(2024, 2, 29)));
    }

    #[test]
    fn slices() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let (start, end) = slice(at("2019-02-28 00:00:00"), 4, DatePart::Month).unwrap();
        assert_eq!((start, end), (at("2019-01-01 00:00:00"), at("2019-05-01 00:00:00")));
        let (start, end) = slice(at("2019-02-28 01:23:45"), 8, DatePart::Hour).unwrap();
        assert_eq!((start, end), (at("2019-02-28 00:00:00"), at("2019-02-28 08:00:00")));
        let (start, _) = slice(at("1969-12-31 23:00:00"), 1, DatePart::Day).unwrap();
        assert_eq!(start, at("1969-12-31 00:00:00"));
        let (start, _) = slice(at("2024-01-03 12:00:00"), 1, DatePart::Week).unwrap();
        assert_eq!(start, at("2024-01-01 00:00:00"));
        let (start, _) = slice(at("1984-06-01 00:00:00"), 15, DatePart::Year).unwrap();
        assert_eq!(start, at("1970-01-01 00:00:00"));
    }

    #[test]
    fn zones() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(local_to_utc(at("2019-01-01 14:00:00"), "America/Los_Angeles").unwrap(), at("2019-01-01 22:00:00"));
        assert_eq!(utc_to_local(at("2019-01-01 22:00:00"), "America/New_York").unwrap(), at("2019-01-01 17:00:00"));
        assert_eq!(local_to_utc(at("2019-01-01 00:00:00"), "+05:30").unwrap(), at("2018-12-31 18:30:00"));
        assert!(zone("Mars/Olympus").is_err());
    }
}
