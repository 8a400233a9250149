//! Snowflake's `TIMESTAMP_TZ`: an instant together with the offset from UTC
//! it was written with, kept for each value.
//!
//! Arrow's timestamps carry one time zone per column, so a `TIMESTAMP_TZ`
//! value is kept the way Snowflake's own Arrow results carry it: a struct
//! of `epoch` (whole seconds since 1970-01-01 UTC, int64), `fraction`
//! (nanoseconds, int32) and `timezone` (the offset in minutes plus 1440,
//! int32). The same struct is stored in permanent tables, computed with
//! (see `crate::plan` for how operators and functions read it) and sent to
//! clients, whose Arrow decoders read it as Snowflake's.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, StructArray, TimestampNanosecondArray};
use arrow_buffer::NullBuffer;
use arrow_schema::{ArrowError, DataType, Field, Fields};

/// The struct's fields, in Snowflake's order.
pub(crate) const FIELDS: [&str; 3] = ["epoch", "fraction", "timezone"];

const NANOS_PER_SECOND: i64 = 1_000_000_000;
/// Minutes added to an offset in the `timezone` field (so that it is never
/// negative), as Snowflake encodes it.
const OFFSET_BIAS: i32 = 1440;

fn fields() -> Fields {
    Fields::from(vec![
        Field::new(FIELDS[0], DataType::Int64, true),
        Field::new(FIELDS[1], DataType::Int32, true),
        Field::new(FIELDS[2], DataType::Int32, true),
    ])
}

/// The Arrow type of a `TIMESTAMP_TZ`.
pub(crate) fn timestamp_tz() -> DataType {
    DataType::Struct(fields())
}

/// Whether `t` is a `TIMESTAMP_TZ` (the struct above, whatever the
/// nullability of its fields, as a table read back may report it).
pub(crate) fn is_timestamp_tz(t: &DataType) -> bool {
    let DataType::Struct(fs) = t else { return false };
    fs.len() == 3
        && fs.iter().zip(FIELDS).all(|(f, name)| f.name() == name)
        && fs[0].data_type() == &DataType::Int64
        && fs[1].data_type() == &DataType::Int32
        && fs[2].data_type() == &DataType::Int32
}

/// One value: nanoseconds since the epoch (UTC) and the offset in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Zoned {
    /// The instant, in nanoseconds since 1970-01-01 UTC.
    pub(crate) utc_nanos: i64,
    /// The offset from UTC the value was written with, in minutes.
    pub(crate) offset_minutes: i32,
}

impl Zoned {
    /// The wall-clock time at the value's offset, in nanoseconds since
    /// 1970-01-01 (as a `TIMESTAMP_NTZ` holds it); `None` out of range.
    pub(crate) fn local_nanos(self) -> Option<i64> {
        self.utc_nanos.checked_add(i64::from(self.offset_minutes) * 60 * NANOS_PER_SECOND)
    }

    /// The value whose wall-clock time at `offset_minutes` is `local_nanos`.
    pub(crate) fn from_local(local_nanos: i64, offset_minutes: i32) -> Option<Self> {
        let utc_nanos = local_nanos.checked_sub(i64::from(offset_minutes) * 60 * NANOS_PER_SECOND)?;
        Some(Self { utc_nanos, offset_minutes })
    }
}

/// A `TIMESTAMP_TZ` array of `values`.
pub(crate) fn zoned_array(values: impl IntoIterator<Item = Option<Zoned>>) -> ArrayRef {
    let values: Vec<Option<Zoned>> = values.into_iter().collect();
    let epoch: Int64Array =
        values.iter().map(|v| Some(v.map_or(0, |v| v.utc_nanos.div_euclid(NANOS_PER_SECOND)))).collect();
    let fraction: Int32Array =
        values.iter().map(|v| Some(v.map_or(0, |v| v.utc_nanos.rem_euclid(NANOS_PER_SECOND) as i32))).collect();
    let timezone: Int32Array =
        values.iter().map(|v| Some(v.map_or(OFFSET_BIAS, |v| v.offset_minutes + OFFSET_BIAS))).collect();
    let nulls = NullBuffer::from(values.iter().map(Option::is_some).collect::<Vec<_>>());
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    Arc::new(StructArray::new(fields(), vec![Arc::new(epoch), Arc::new(fraction), Arc::new(timezone)], nulls))
}

/// The values of a `TIMESTAMP_TZ` array (see [`is_timestamp_tz`]).
pub(crate) fn zoned_values(array: &dyn Array) -> Result<Vec<Option<Zoned>>, ArrowError> {
    let s = array
        .as_struct_opt()
        .filter(|_| is_timestamp_tz(array.data_type()))
        .ok_or_else(|| ArrowError::InvalidArgumentError(format!("{} is not a TIMESTAMP_TZ", array.data_type())))?;
    let epoch = s.column(0).as_primitive::<Int64Type>();
    let fraction = s.column(1).as_primitive::<Int32Type>();
    let timezone = s.column(2).as_primitive::<Int32Type>();
    (0..s.len())
        .map(|i| {
            if s.is_null(i) || epoch.is_null(i) {
                return Ok(None);
            }
            let utc_nanos = epoch
                .value(i)
                .checked_mul(NANOS_PER_SECOND)
                .and_then(|n| n.checked_add(i64::from(fraction.value(i))))
                .ok_or_else(|| ArrowError::ComputeError("a TIMESTAMP_TZ value is out of range".into()))?;
            let offset_minutes = if timezone.is_null(i) { 0 } else { timezone.value(i) - OFFSET_BIAS };
            Ok(Some(Zoned { utc_nanos, offset_minutes }))
        })
        .collect()
}

/// The instants of `values`, in nanoseconds since the epoch (NULL where a
/// value is): what they compare by.
pub(crate) fn instant_nanos(values: &[Option<Zoned>]) -> TimestampNanosecondArray {
    values.iter().map(|v| v.map(|v| v.utc_nanos)).collect()
}

/// The wall-clock times of `values` at their own offsets, in nanoseconds
/// since 1970-01-01 (as a `TIMESTAMP_NTZ` holds them); `None` when one is
/// out of range.
pub(crate) fn local_nanos(values: &[Option<Zoned>]) -> Option<TimestampNanosecondArray> {
    values
        .iter()
        .map(|v| match v {
            None => Some(None),
            Some(v) => v.local_nanos().map(Some),
        })
        .collect()
}

/// The text Snowflake shows for a value by default
/// (`TIMESTAMP_TZ_OUTPUT_FORMAT` `YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM`):
/// `2024-01-02 03:04:05.123 +0530`.
pub(crate) fn zoned_text(v: Zoned) -> Option<String> {
    let local = chrono::DateTime::from_timestamp_nanos(v.local_nanos()?).naive_utc();
    let sign = if v.offset_minutes < 0 { '-' } else { '+' };
    let m = v.offset_minutes.unsigned_abs();
    Some(format!("{} {sign}{:02}{:02}", local.format("%Y-%m-%d %H:%M:%S%.3f"), m / 60, m % 60))
}

/// The JSON rowset text of a value: seconds since the epoch with nine
/// decimals, a space, the offset in minutes plus 1440 (what the connectors'
/// `TIMESTAMP_TZ` converters read).
pub(crate) fn zoned_rowset_text(v: Zoned) -> String {
    let seconds = v.utc_nanos.div_euclid(NANOS_PER_SECOND);
    let nanos = v.utc_nanos.rem_euclid(NANOS_PER_SECOND);
    // The sign goes on the whole value: -1.5 s is "-1.500000000".
    let text = if seconds < 0 && nanos > 0 {
        let total = -i128::from(v.utc_nanos);
        format!("-{}.{:09}", total / 1_000_000_000, total % 1_000_000_000)
    } else {
        format!("{seconds}.{nanos:09}")
    };
    format!("{text} {}", v.offset_minutes + OFFSET_BIAS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_the_struct_with_their_offsets() {
        let values = vec![
            Some(Zoned { utc_nanos: 1_700_000_000_123_456_789, offset_minutes: 330 }),
            None,
            Some(Zoned { utc_nanos: -1_500_000_000, offset_minutes: -480 }),
        ];
        let array = zoned_array(values.clone());
        assert!(is_timestamp_tz(array.data_type()));
        assert_eq!(array.null_count(), 1);
        assert_eq!(zoned_values(array.as_ref()).unwrap(), values);
        // Snowflake's encoding: seconds, nanoseconds, offset + 1440.
        let s = array.as_struct();
        assert_eq!(s.column(0).as_primitive::<Int64Type>().value(2), -2);
        assert_eq!(s.column(1).as_primitive::<Int32Type>().value(2), 500_000_000);
        assert_eq!(s.column(2).as_primitive::<Int32Type>().value(0), 1770);
    }

    #[test]
    fn text_shows_the_wall_clock_at_the_values_own_offset() {
        let v = Zoned::from_local(1_704_103_200_000_000_000, 330).unwrap(); // 2024-01-01 10:00 local
        assert_eq!(zoned_text(v).unwrap(), "2024-01-01 10:00:00.000 +0530");
        let v = Zoned { utc_nanos: 0, offset_minutes: -480 };
        assert_eq!(zoned_text(v).unwrap(), "1969-12-31 16:00:00.000 -0800");
        assert_eq!(zoned_rowset_text(v), "0.000000000 960");
        assert_eq!(zoned_rowset_text(Zoned { utc_nanos: -1_500_000_000, offset_minutes: 0 }), "-1.500000000 1440");
    }

    #[test]
    fn other_structs_are_not_timestamps() {
        assert!(!is_timestamp_tz(&DataType::Struct(Fields::from(vec![Field::new("epoch", DataType::Int64, true)]))));
        assert!(!is_timestamp_tz(&DataType::Int64));
    }
}
