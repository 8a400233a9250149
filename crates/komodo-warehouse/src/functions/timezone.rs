//! `CONVERT_TIMEZONE(source_tz, target_tz, timestamp_ntz)` (the wall-clock
//! time in `target_tz` of a wall-clock time in `source_tz`, a
//! `TIMESTAMP_NTZ`) and `CONVERT_TIMEZONE(target_tz, timestamp)` (the
//! instant as a `TIMESTAMP_TZ` at `target_tz`'s offset at that instant; a
//! `TIMESTAMP_NTZ` is read in the session's time zone, UTC). Zones are IANA names (`Europe/Warsaw`)
//! or offsets (`+05:30`).

use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{arity, arrays, constant_str, execution, str_at, strings};
use super::calendar::{local_to_utc, utc_to_local, zone};
use super::instants::{TIMESTAMP_NTZ, datetimes, nanos_of_datetime, temporal_operand, timestamp_array};
use crate::timestamp_tz::{Zoned, timestamp_tz, zoned_array};

/// `CONVERT_TIMEZONE`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ConvertTimezone {
    signature: Signature,
}

impl ConvertTimezone {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for ConvertTimezone {
    fn name(&self) -> &str {
        "convert_timezone"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("CONVERT_TIMEZONE", arg_types.len(), 2, 3)?;
        let last = arg_types.len() - 1;
        let value = match temporal_operand(&arg_types[last]) {
            Some(DataType::Date32) | None => TIMESTAMP_NTZ,
            Some(t) => t,
        };
        let mut types = vec![DataType::Utf8; last];
        types.push(value);
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(TIMESTAMP_NTZ)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        let data_type = if args.arg_fields.len() == 3 {
            TIMESTAMP_NTZ
        } else {
            // A constant zone is checked when the statement compiles.
            if let Some(name) = constant_str(args.scalar_arguments.first().copied().flatten()) {
                zone(name)?;
            }
            timestamp_tz()
        };
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let last = arrays.len() - 1;
        let values = datetimes(&arrays[last])?;
        let zones: Vec<_> = arrays[..last].iter().map(strings).collect::<Result<_>>()?;
        if zones.len() == 1 {
            // The instant, at the target zone's offset at that instant.
            let mut out = Vec::with_capacity(values.len());
            for (i, value) in values.into_iter().enumerate() {
                out.push(match (value, str_at(zones[0], i)) {
                    (Some(t), Some(target)) => {
                        let offset_minutes = i32::try_from((utc_to_local(t, target)? - t).num_minutes())
                            .map_err(|_| execution("the time zone's offset is out of range"))?;
                        let utc_nanos = nanos_of_datetime(t).ok_or_else(|| execution("Timestamp is out of range"))?;
                        Some(Zoned { utc_nanos, offset_minutes })
                    }
                    _ => None,
                });
            }
            return Ok(ColumnarValue::Array(zoned_array(out)));
        }
        let mut out = Vec::with_capacity(values.len());
        for (i, value) in values.into_iter().enumerate() {
            let names: Option<Vec<&str>> = zones.iter().map(|z| str_at(z, i)).collect();
            out.push(match (value, names.as_deref()) {
                (Some(t), Some([source, target])) => Some(utc_to_local(local_to_utc(t, source)?, target)?),
                _ => None,
            });
        }
        Ok(ColumnarValue::Array(timestamp_array(out, args.return_field.data_type())?))
    }
}
