//! Dates and timestamps as Arrow stores them (days and nanoseconds since
//! the epoch) and as chrono computes with them, for the date and time
//! functions.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef, Date32Array, TimestampNanosecondArray};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use datafusion::error::Result;

use super::args::{execution, is_string, strings};
use super::datetime_text::parse_auto;

/// 1970-01-01.
pub(crate) const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

/// A timestamp without a time zone, in nanoseconds.
pub(crate) const TIMESTAMP_NTZ: DataType = DataType::Timestamp(TimeUnit::Nanosecond, None);

/// A timestamp with the session's time zone (always UTC here).
pub(crate) fn timestamp_ltz() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC")))
}

/// The date `days` after 1970-01-01.
pub(crate) fn date_of_days(days: i32) -> Option<NaiveDate> {
    EPOCH.checked_add_signed(chrono::TimeDelta::try_days(i64::from(days))?)
}

/// Days since 1970-01-01.
pub(crate) fn days_of_date(date: NaiveDate) -> Option<i32> {
    i32::try_from(date.signed_duration_since(EPOCH).num_days()).ok()
}

/// The UTC date and time `nanos` after the epoch.
pub(crate) fn datetime_of_nanos(nanos: i64) -> NaiveDateTime {
    DateTime::from_timestamp_nanos(nanos).naive_utc()
}

/// Nanoseconds since the epoch; `None` outside 1677-09-21 .. 2262-04-11.
pub(crate) fn nanos_of_datetime(t: NaiveDateTime) -> Option<i64> {
    t.and_utc().timestamp_nanos_opt()
}

/// The type a date or time function reads a value of `t` as: dates stay
/// dates, timestamps become nanosecond timestamps (keeping their zone),
/// strings stay strings; `None` for anything else.
pub(crate) fn temporal_operand(t: &DataType) -> Option<DataType> {
    match t {
        DataType::Date32 | DataType::Date64 => Some(DataType::Date32),
        DataType::Timestamp(_, tz) => Some(DataType::Timestamp(TimeUnit::Nanosecond, tz.clone())),
        t if is_string(t) => Some(DataType::Utf8),
        DataType::Null => Some(DataType::Utf8),
        _ => None,
    }
}

/// The values of an argument coerced by [`temporal_operand`], as UTC date
/// and times (dates at midnight; strings read as Snowflake reads them,
/// an error when one is not a date or timestamp).
pub(crate) fn datetimes(array: &ArrayRef) -> Result<Vec<Option<NaiveDateTime>>> {
    match array.data_type() {
        DataType::Date32 => Ok(array
            .as_primitive::<Date32Type>()
            .iter()
            .map(|d| Some(date_of_days(d?)?.and_time(NaiveTime::MIN)))
            .collect()),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Ok(array.as_primitive::<TimestampNanosecondType>().iter().map(|t| t.map(datetime_of_nanos)).collect())
        }
        DataType::Utf8 => strings(array)?
            .iter()
            .map(|s| match s {
                None => Ok(None),
                Some(s) => match parse_auto(s) {
                    Some(p) => Ok(Some(p.local)),
                    None => Err(execution(format!("Timestamp '{s}' is not recognized"))),
                },
            })
            .collect(),
        other => Err(execution(format!("expected a date or timestamp, got {other}"))),
    }
}

/// A date array from computed dates.
pub(crate) fn date_array(values: impl IntoIterator<Item = Option<NaiveDate>>) -> Result<ArrayRef> {
    let days: Result<Date32Array> = values
        .into_iter()
        .map(|d| d.map(|d| days_of_date(d).ok_or_else(|| execution("Date is out of range"))).transpose())
        .collect();
    Ok(Arc::new(days?))
}

/// A nanosecond timestamp array of type `data_type` from computed date
/// and times (UTC).
pub(crate) fn timestamp_array(
    values: impl IntoIterator<Item = Option<NaiveDateTime>>,
    data_type: &DataType,
) -> Result<ArrayRef> {
    let tz = match data_type {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let nanos: Result<TimestampNanosecondArray> = values
        .into_iter()
        .map(|t| {
            t.map(|t| {
                nanos_of_datetime(t)
                    .ok_or_else(|| execution(format!("Timestamp '{t}' is out of range (1677-09-21 to 2262-04-11)")))
            })
            .transpose()
        })
        .collect();
    Ok(Arc::new(nanos?.with_timezone_opt(tz)))
}

/// A date or timestamp array of the same kind as `data_type` (a date for
/// `Date32`, a timestamp otherwise).
pub(crate) fn temporal_array(values: Vec<Option<NaiveDateTime>>, data_type: &DataType) -> Result<ArrayRef> {
    match data_type {
        DataType::Date32 => date_array(values.into_iter().map(|t| t.map(|t| t.date()))),
        other => timestamp_array(values, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_nanos_round_trip() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 2).unwrap();
        assert_eq!(days_of_date(d), Some(19724));
        assert_eq!(date_of_days(19724), Some(d));
        let t = d.and_hms_opt(10, 0, 0).unwrap();
        assert_eq!(nanos_of_datetime(t).map(datetime_of_nanos), Some(t));
        assert!(nanos_of_datetime(NaiveDate::from_ymd_opt(2969, 1, 1).unwrap().and_time(NaiveTime::MIN)).is_none());
    }

    #[test]
    fn strings_are_read_as_snowflake_reads_them() {
        let a: ArrayRef = Arc::new(arrow_array::StringArray::from(vec![Some("2024-01-02 10:00:00"), None]));
        let got = datetimes(&a).unwrap();
        assert_eq!(got[0], NaiveDate::from_ymd_opt(2024, 1, 2).unwrap().and_hms_opt(10, 0, 0));
        assert_eq!(got[1], None);
        let bad: ArrayRef = Arc::new(arrow_array::StringArray::from(vec!["soon"]));
        assert!(datetimes(&bad).is_err());
    }
}
