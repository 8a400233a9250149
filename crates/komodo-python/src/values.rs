//! Conversions between the SDK's [`Value`] and Python objects: result
//! cells to Python values, and statement parameters to values.
//!
//! | warehouse | Python |
//! |---|---|
//! | NULL | `None` |
//! | `BOOLEAN` | `bool` |
//! | `NUMBER` with scale 0 | `int` |
//! | `NUMBER(p, s)`, `s > 0` | `decimal.Decimal` |
//! | `FLOAT` | `float` |
//! | `TEXT`, `VARIANT`, `OBJECT`, `ARRAY` | `str` |
//! | `BINARY` | `bytes` |
//! | `DATE` | `datetime.date` |
//! | `TIME` | `datetime.time` |
//! | `TIMESTAMP_NTZ` | naive `datetime.datetime` |
//! | `TIMESTAMP_LTZ`, `TIMESTAMP_TZ` | aware `datetime.datetime` (its offset) |
//!
//! Python's date types hold microseconds: finer fractions are truncated.

use komodo::warehouse::{Decimal, Value};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyFloat, PyInt, PyMemoryView, PyString,
    PyTime, PyTimeAccess, PyTuple, PyTzInfo, PyTzInfoAccess,
};

use crate::errors::{DataError, ProgrammingError};

/// `decimal.Decimal`, imported once.
fn decimal_type(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static DECIMAL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    DECIMAL.import(py, "decimal", "Decimal")
}

/// One result cell as a Python object.
pub(crate) fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    let object = match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(v) => v.into_pyobject(py)?.into_any(),
        Value::Decimal(d) if d.scale == 0 => d.value.into_pyobject(py)?.into_any(),
        Value::Decimal(d) => decimal_type(py)?.call1((d.to_string(),))?,
        Value::Float(v) => PyFloat::new(py, *v).into_any(),
        Value::Text(s) => PyString::new(py, s).into_any(),
        Value::Binary(bytes) => PyBytes::new(py, bytes).into_any(),
        Value::Date(d) => date(py, *d)?.into_any(),
        Value::Time(t) => time_of_day(py, *t)?.into_any(),
        Value::Timestamp(ts) => datetime(py, ts.date(), ts.time(), None)?.into_any(),
        Value::TimestampTz(ts) => {
            let seconds = ts.offset().whole_seconds();
            let offset = PyDelta::new(py, 0, seconds, 0, true)?;
            let zone = PyTzInfo::fixed_offset(py, offset)?;
            datetime(py, ts.date(), ts.time(), Some(&zone))?.into_any()
        }
    };
    Ok(object)
}

/// A row as a tuple.
pub(crate) fn row_to_py<'py>(py: Python<'py>, row: &[Value]) -> PyResult<Bound<'py, PyTuple>> {
    let cells = row.iter().map(|v| to_py(py, v)).collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, cells)
}

fn out_of_range(what: &str, value: impl std::fmt::Display) -> PyErr {
    DataError::new_err(format!("the {what} {value} is outside Python's range (years 1 to 9999)"))
}

fn date(py: Python<'_>, d: time::Date) -> PyResult<Bound<'_, PyDate>> {
    PyDate::new(py, d.year(), u8::from(d.month()), d.day()).map_err(|_| out_of_range("date", d))
}

fn time_of_day(py: Python<'_>, t: time::Time) -> PyResult<Bound<'_, PyTime>> {
    PyTime::new(py, t.hour(), t.minute(), t.second(), t.microsecond(), None)
}

fn datetime<'py>(
    py: Python<'py>,
    d: time::Date,
    t: time::Time,
    zone: Option<&Bound<'py, PyTzInfo>>,
) -> PyResult<Bound<'py, PyDateTime>> {
    PyDateTime::new(py, d.year(), u8::from(d.month()), d.day(), t.hour(), t.minute(), t.second(), t.microsecond(), zone)
        .map_err(|_| out_of_range("timestamp", d))
}

fn unsupported(object: &Bound<'_, PyAny>) -> PyErr {
    let name = object.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_owned());
    ProgrammingError::new_err(format!(
        "cannot bind a parameter of type {name}: use None, bool, int, float, decimal.Decimal, str, bytes, \
         datetime.date, datetime.time or datetime.datetime"
    ))
}

/// One statement parameter as a value, encoded as snowflake-connector-python
/// encodes it (`bool` before `int`, `datetime` before `date`; an aware
/// `datetime` is an instant).
pub(crate) fn from_py(object: &Bound<'_, PyAny>) -> PyResult<Value> {
    if object.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = object.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(int) = object.cast::<PyInt>() {
        if let Ok(v) = int.extract::<i64>() {
            return Ok(Value::Int(v));
        }
        return match int.extract::<i128>() {
            Ok(v) if v.unsigned_abs() < 10u128.pow(38) => Ok(Value::Decimal(Decimal::new(v, 0))),
            _ => Err(ProgrammingError::new_err("an int parameter has more than 38 digits")),
        };
    }
    if let Ok(f) = object.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = object.cast::<PyString>() {
        return Ok(Value::Text(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = object.cast::<PyBytes>() {
        return Ok(Value::Binary(b.as_bytes().to_vec()));
    }
    if let Ok(b) = object.cast::<PyByteArray>() {
        return Ok(Value::Binary(b.to_vec()));
    }
    if object.cast::<PyMemoryView>().is_ok() {
        let bytes = object.call_method0("tobytes")?;
        return Ok(Value::Binary(bytes.cast::<PyBytes>()?.as_bytes().to_vec()));
    }
    if let Ok(dt) = object.cast::<PyDateTime>() {
        return datetime_value(dt);
    }
    if let Ok(d) = object.cast::<PyDate>() {
        return Ok(Value::Date(date_value(d.get_year(), d.get_month(), d.get_day())?));
    }
    if let Ok(t) = object.cast::<PyTime>() {
        return Ok(Value::Time(time_value(t.get_hour(), t.get_minute(), t.get_second(), t.get_microsecond())?));
    }
    if object.is_instance(decimal_type(object.py())?)? {
        // `format(d, "f")` has no exponent: `Decimal("1E+3")` is `1000`.
        let text: String = object.py().import("builtins")?.call_method1("format", (object, "f"))?.extract()?;
        return text
            .parse::<Decimal>()
            .map(Value::Decimal)
            .map_err(|e| ProgrammingError::new_err(format!("cannot bind Decimal {text}: {e}")));
    }
    Err(unsupported(object))
}

fn date_value(year: i32, month: u8, day: u8) -> PyResult<time::Date> {
    let month = time::Month::try_from(month).map_err(|e| ProgrammingError::new_err(e.to_string()))?;
    time::Date::from_calendar_date(year, month, day).map_err(|e| ProgrammingError::new_err(e.to_string()))
}

fn time_value(hour: u8, minute: u8, second: u8, microsecond: u32) -> PyResult<time::Time> {
    time::Time::from_hms_micro(hour, minute, second, microsecond).map_err(|e| ProgrammingError::new_err(e.to_string()))
}

fn datetime_value(dt: &Bound<'_, PyDateTime>) -> PyResult<Value> {
    let date = date_value(dt.get_year(), dt.get_month(), dt.get_day())?;
    let time = time_value(dt.get_hour(), dt.get_minute(), dt.get_second(), dt.get_microsecond())?;
    let local = time::PrimitiveDateTime::new(date, time);
    if dt.get_tzinfo().is_none() {
        return Ok(Value::Timestamp(local));
    }
    let offset = dt.call_method0("utcoffset")?;
    if offset.is_none() {
        return Ok(Value::Timestamp(local));
    }
    let seconds: f64 = offset.call_method0("total_seconds")?.extract()?;
    // Offsets are whole seconds for every zone Python ships (and `time` allows no finer).
    #[allow(clippy::cast_possible_truncation)]
    let offset = time::UtcOffset::from_whole_seconds(seconds as i32)
        .map_err(|e| ProgrammingError::new_err(format!("cannot bind a datetime's offset: {e}")))?;
    Ok(Value::TimestampTz(local.assume_offset(offset)))
}

/// The parameters of a statement.
pub(crate) fn params_from_py(params: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Value>> {
    let Some(params) = params else { return Ok(Vec::new()) };
    let mut values = Vec::new();
    for item in params.try_iter()? {
        values.push(from_py(&item?)?);
    }
    Ok(values)
}
