//! `CONVERT_TIMEZONE(source_tz, target_tz, timestamp_ntz)` (the wall-clock
//! time in `target_tz` of a wall-clock time in `source_tz`, a
//! `TIMESTAMP_NTZ`) and `CONVERT_TIMEZONE(target_tz, timestamp)` (the
//! instant, as a timestamp in `target_tz`; a `TIMESTAMP_NTZ` is read in
//! the session's time zone, UTC). Zones are IANA names (`Europe/Warsaw`)
//! or offsets (`+05:30`).

use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, TimeUnit};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{arity, arrays, constant_str, str_at, strings};
use super::calendar::{Zone, local_to_utc, utc_to_local, zone};
use super::instants::{TIMESTAMP_NTZ, datetimes, temporal_operand, timestamp_array, timestamp_ltz};

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
            match constant_str(args.scalar_arguments.first().copied().flatten()).map(zone) {
                Some(Ok(Zone::Named(tz))) => DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from(tz.name()))),
                Some(Ok(Zone::Fixed(offset))) => {
                    DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from(offset.to_string())))
                }
                Some(Err(e)) => return Err(e),
                None => timestamp_ltz(),
            }
        };
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let last = arrays.len() - 1;
        let values = datetimes(&arrays[last])?;
        let zones: Vec<_> = arrays[..last].iter().map(strings).collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(values.len());
        for (i, value) in values.into_iter().enumerate() {
            let names: Option<Vec<&str>> = zones.iter().map(|z| str_at(z, i)).collect();
            out.push(match (value, names.as_deref()) {
                (Some(t), Some([source, target])) => Some(utc_to_local(local_to_utc(t, source)?, target)?),
                // The two-argument form keeps the instant; checking the
                // zone's name is all there is to do.
                (Some(t), Some([target])) => zone(target).map(|_| t).map(Some)?,
                _ => None,
            });
        }
        Ok(ColumnarValue::Array(timestamp_array(out, args.return_field.data_type())?))
    }
}
