//! [`Value`]: one SQL value, as rows are fetched and parameters bound, and
//! its encoding as a Snowflake binding.

use std::fmt;
use std::str::FromStr;

use komodo_protocol::gateway::Binding;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// One SQL value: a cell of a fetched row, or a bound parameter.
///
/// | Snowflake type | value |
/// |---|---|
/// | `NUMBER` with scale 0 | [`Value::Int`] (a [`Value::Decimal`] beyond `i64`) |
/// | `NUMBER(p, s)`, `s > 0` | [`Value::Decimal`] |
/// | `FLOAT` | [`Value::Float`] |
/// | `TEXT`, `VARIANT`, `OBJECT`, `ARRAY` | [`Value::Text`] (semi-structured values as JSON text) |
/// | `BOOLEAN` | [`Value::Bool`] |
/// | `BINARY` | [`Value::Binary`] |
/// | `DATE` | [`Value::Date`] |
/// | `TIME` | [`Value::Time`] |
/// | `TIMESTAMP_NTZ` | [`Value::Timestamp`] |
/// | `TIMESTAMP_LTZ`, `TIMESTAMP_TZ` | [`Value::TimestampTz`] |
///
/// Bound as a parameter, each value is encoded the way
/// snowflake-connector-python encodes the matching Python value (see
/// [`Value::to_binding`]).
///
/// ```
/// use komodo::warehouse::Value;
///
/// let params = [Value::from(42), Value::from("x"), Value::from(None::<i64>)];
/// assert_eq!(params[0].to_binding().value, "42");
/// assert_eq!(params[2], Value::Null);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An exact decimal number.
    Decimal(Decimal),
    /// A double-precision float.
    Float(f64),
    /// Text (and semi-structured values, as JSON text).
    Text(String),
    /// Bytes.
    Binary(Vec<u8>),
    /// A calendar date.
    Date(Date),
    /// A time of day.
    Time(Time),
    /// A timestamp without time zone (`TIMESTAMP_NTZ`).
    Timestamp(PrimitiveDateTime),
    /// An instant with an offset (`TIMESTAMP_LTZ`, `TIMESTAMP_TZ`).
    TimestampTz(OffsetDateTime),
}

impl Value {
    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The integer, if this is one (an integral decimal that fits counts).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            Value::Decimal(d) if d.scale == 0 => i64::try_from(d.value).ok(),
            _ => None,
        }
    }

    /// The number as a float, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(*v as f64),
            Value::Decimal(d) => Some(d.to_f64()),
            Value::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The parameter binding snowflake-connector-python sends for the
    /// matching Python value (`paramstyle="qmark"`):
    ///
    /// | value | `type` | `value` |
    /// |---|---|---|
    /// | `Null` | `ANY` | `null` |
    /// | `Bool` | `BOOLEAN` | `"true"` / `"false"` |
    /// | `Int`, `Decimal` | `FIXED` | `"42"`, `"12.50"` |
    /// | `Float` | `REAL` | Python's `str(float)`: `"1.5"`, `"1e-05"`, `"inf"`, `"nan"` |
    /// | `Text` | `TEXT` | the text |
    /// | `Binary` | `BINARY` | lower-case hex |
    /// | `Date` | `DATE` | milliseconds since the epoch |
    /// | `Time` | `TIME` | nanoseconds since midnight |
    /// | `Timestamp` | `TIMESTAMP_NTZ` | nanoseconds since the epoch |
    /// | `TimestampTz` | `TIMESTAMP_NTZ` | nanoseconds since the epoch of the instant (converted to UTC, as the connector does for aware datetimes) |
    pub fn to_binding(&self) -> Binding {
        let (type_name, value) = match self {
            Value::Null => ("ANY", None),
            Value::Bool(b) => ("BOOLEAN", Some(b.to_string())),
            Value::Int(v) => ("FIXED", Some(v.to_string())),
            Value::Decimal(d) => ("FIXED", Some(d.to_string())),
            Value::Float(v) => ("REAL", Some(python_float(*v))),
            Value::Text(s) => ("TEXT", Some(s.clone())),
            Value::Binary(bytes) => ("BINARY", Some(hex_lower(bytes))),
            Value::Date(d) => ("DATE", Some((days_since_epoch(*d) * 86_400_000).to_string())),
            Value::Time(t) => ("TIME", Some(nanos_since_midnight(*t).to_string())),
            Value::Timestamp(ts) => ("TIMESTAMP_NTZ", Some(ts.assume_utc().unix_timestamp_nanos().to_string())),
            Value::TimestampTz(ts) => ("TIMESTAMP_NTZ", Some(ts.unix_timestamp_nanos().to_string())),
        };
        Binding {
            type_name: type_name.to_owned(),
            value: value.map_or(serde_json::Value::Null, serde_json::Value::String),
        }
    }
}

/// Text for people: `NULL`, numbers as written, dates and times in ISO
/// 8601, bytes in lower-case hex.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::Float(v) => f.write_str(&display_float(*v)),
            Value::Text(s) => f.write_str(s),
            Value::Binary(bytes) => f.write_str(&hex_lower(bytes)),
            Value::Date(d) => write!(f, "{}", format_date(*d)),
            Value::Time(t) => f.write_str(&format_time_of_day(*t)),
            Value::Timestamp(ts) => write!(f, "{}T{}", format_date(ts.date()), format_time_of_day(ts.time())),
            Value::TimestampTz(ts) => {
                write!(f, "{}T{}{}", format_date(ts.date()), format_time_of_day(ts.time()), format_offset(ts.offset()))
            }
        }
    }
}

fn format_date(d: Date) -> String {
    let year = d.year();
    if (0..=9999).contains(&year) {
        format!("{year:04}-{:02}-{:02}", u8::from(d.month()), d.day())
    } else {
        format!("{year:+05}-{:02}-{:02}", u8::from(d.month()), d.day())
    }
}

/// `HH:MM:SS` with the fraction's significant digits (none when zero).
fn format_time_of_day(t: Time) -> String {
    let base = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    match t.nanosecond() {
        0 => base,
        n => {
            let frac = format!("{n:09}");
            format!("{base}.{}", frac.trim_end_matches('0'))
        }
    }
}

fn format_offset(offset: UtcOffset) -> String {
    if offset.is_utc() {
        return "Z".to_owned();
    }
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
}

/// Floats as people read them: Rust's shortest round-trip text, `NaN`,
/// `inf`, `-inf`.
fn display_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        v.to_string()
    }
}

/// Python's `str(float)`: the shortest round-trip digits, scientific
/// notation below 1e-4 and from 1e16 (`1e-05`, `1e+16`), `.0` on integral
/// values, `inf`, `-inf`, `nan`.
pub(crate) fn python_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let sci = format!("{v:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let text = v.to_string();
        if text.contains('.') { text } else { format!("{text}.0") }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    }
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

pub(crate) fn days_since_epoch(d: Date) -> i64 {
    i64::from(d.to_julian_day()) - i64::from(EPOCH_JULIAN_DAY)
}

/// The Julian day of 1970-01-01.
pub(crate) const EPOCH_JULIAN_DAY: i32 = 2_440_588;

pub(crate) fn nanos_since_midnight(t: Time) -> i64 {
    (i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second())) * 1_000_000_000
        + i64::from(t.nanosecond())
}

/// An exact decimal number: `value × 10^-scale` (`12.50` is `1250` with
/// scale 2). Snowflake's `NUMBER` holds up to 38 digits, so `i128` holds
/// every value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    /// The unscaled value.
    pub value: i128,
    /// The number of fraction digits.
    pub scale: u8,
}

impl Decimal {
    /// `value × 10^-scale`.
    pub fn new(value: i128, scale: u8) -> Self {
        Self { value, scale }
    }

    /// The nearest float.
    pub fn to_f64(self) -> f64 {
        // Through the text, so that 0.1 is the float nearest to 0.1.
        self.to_string().parse().unwrap_or(f64::NAN)
    }
}

/// The decimal with exactly `scale` fraction digits, the sign on the whole
/// value: `-0.50`.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.value);
        }
        let sign = if self.value < 0 { "-" } else { "" };
        let abs = self.value.unsigned_abs();
        let p = 10u128.pow(u32::from(self.scale));
        write!(f, "{sign}{}.{:0width$}", abs / p, abs % p, width = usize::from(self.scale))
    }
}

/// Why a text is not a decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a decimal number (expected digits with an optional sign and fraction, e.g. -12.50)")]
pub struct ParseDecimalError(String);

impl FromStr for Decimal {
    type Err = ParseDecimalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDecimalError(s.to_owned());
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
            || int.len() + frac.len() > 38
        {
            return Err(err());
        }
        let scale = u8::try_from(frac.len()).map_err(|_| err())?;
        let mut value: i128 = format!("{int}{frac}").parse().map_err(|_| err())?;
        if negative {
            value = -value;
        }
        Ok(Decimal { value, scale })
    }
}

macro_rules! from_via {
    ($($t:ty => $variant:ident($conv:expr)),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant($conv(v))
            }
        }
    )*};
}

from_via! {
    bool => Bool(std::convert::identity),
    i8 => Int(i64::from),
    i16 => Int(i64::from),
    i32 => Int(i64::from),
    i64 => Int(std::convert::identity),
    u8 => Int(i64::from),
    u16 => Int(i64::from),
    u32 => Int(i64::from),
    f32 => Float(f64::from),
    f64 => Float(std::convert::identity),
    Decimal => Decimal(std::convert::identity),
    String => Text(std::convert::identity),
    &str => Text(str::to_owned),
    &String => Text(String::clone),
    Vec<u8> => Binary(std::convert::identity),
    &[u8] => Binary(<[u8]>::to_vec),
    Date => Date(std::convert::identity),
    Time => Time(std::convert::identity),
    PrimitiveDateTime => Timestamp(std::convert::identity),
    OffsetDateTime => TimestampTz(std::convert::identity),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        match i64::try_from(v) {
            Ok(v) => Value::Int(v),
            Err(_) => Value::Decimal(Decimal::new(i128::from(v), 0)),
        }
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, time};

    fn binding(v: impl Into<Value>) -> (String, serde_json::Value) {
        let b = v.into().to_binding();
        (b.type_name, b.value)
    }

    fn s(type_name: &str, value: &str) -> (String, serde_json::Value) {
        (type_name.to_owned(), serde_json::Value::String(value.to_owned()))
    }

    #[test]
    fn bindings_match_the_python_connector() {
        assert_eq!(binding(Value::Null), ("ANY".to_owned(), serde_json::Value::Null));
        assert_eq!(binding(None::<i64>), ("ANY".to_owned(), serde_json::Value::Null));
        assert_eq!(binding(42), s("FIXED", "42"));
        assert_eq!(binding(-7i64), s("FIXED", "-7"));
        assert_eq!(binding(u64::MAX), s("FIXED", "18446744073709551615"));
        assert_eq!(binding("12.50".parse::<Decimal>().unwrap()), s("FIXED", "12.50"));
        assert_eq!(binding(1.5), s("REAL", "1.5"));
        assert_eq!(binding(true), s("BOOLEAN", "true"));
        assert_eq!(binding(false), s("BOOLEAN", "false"));
        assert_eq!(binding("x'y"), s("TEXT", "x'y"));
        assert_eq!(binding(&[0x01u8, 0xab][..]), s("BINARY", "01ab"));
        // date(2024, 1, 2) -> "1704153600000"
        assert_eq!(binding(date!(2024 - 01 - 02)), s("DATE", "1704153600000"));
        assert_eq!(binding(date!(1969 - 12 - 31)), s("DATE", "-86400000"));
        // time(1, 2, 3, 500000) -> "3723500000000"
        assert_eq!(binding(time!(01:02:03.5)), s("TIME", "3723500000000"));
        // datetime(2024, 1, 2, 3, 4, 5, 123456) -> "1704164645123456000"
        assert_eq!(binding(datetime!(2024-01-02 03:04:05.123456)), s("TIMESTAMP_NTZ", "1704164645123456000"));
        // An aware datetime is converted to UTC first.
        assert_eq!(binding(datetime!(2024-01-02 04:04:05.123456 +01:00)), s("TIMESTAMP_NTZ", "1704164645123456000"));
        assert_eq!(binding(datetime!(1969-12-31 23:59:59.5)), s("TIMESTAMP_NTZ", "-500000000"));
    }

    #[test]
    fn floats_are_written_as_python_writes_them() {
        let cases = [
            (1.5, "1.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (0.1, "0.1"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (v, expected) in cases {
            assert_eq!(python_float(v), expected, "{v:e}");
            assert!(expected.parse::<f64>().is_ok_and(|p| p == v || v.is_nan()), "{expected}");
        }
    }

    #[test]
    fn decimals_parse_and_print() {
        for text in ["0", "-0.50", "12.50", "99999999999999999999999999999999999999", "0.001"] {
            assert_eq!(text.parse::<Decimal>().unwrap().to_string(), text);
        }
        assert_eq!("+1.0".parse::<Decimal>().unwrap(), Decimal::new(10, 1));
        assert_eq!(Decimal::new(-5, 1).to_string(), "-0.5");
        assert_eq!(Decimal::new(7, 2).to_string(), "0.07");
        assert_eq!(Decimal::new(1, 1).to_f64(), 0.1);
        for bad in ["", "-", ".", "1e5", "1.2.3", "abc", "123456789012345678901234567890123456789"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
    }

    #[test]
    fn values_display_for_people() {
        assert_eq!(Value::Null.to_string(), "NULL");
        assert_eq!(Value::from(date!(2024 - 01 - 02)).to_string(), "2024-01-02");
        assert_eq!(Value::from(time!(01:02:03.5)).to_string(), "01:02:03.5");
        assert_eq!(Value::from(datetime!(2024-01-02 03:04:05)).to_string(), "2024-01-02T03:04:05");
        assert_eq!(Value::from(datetime!(2024-01-02 03:04:05.25 +01:30)).to_string(), "2024-01-02T03:04:05.25+01:30");
        assert_eq!(Value::from(datetime!(2024-01-02 03:04:05 UTC)).to_string(), "2024-01-02T03:04:05Z");
        assert_eq!(Value::from(vec![0u8, 255]).to_string(), "00ff");
        assert_eq!(Value::Float(f64::NAN).to_string(), "NaN");
        assert_eq!(Value::from(Some(3)).as_i64(), Some(3));
        assert_eq!(Value::Decimal(Decimal::new(250, 2)).as_f64(), Some(2.5));
        assert_eq!(Value::from("a").as_str(), Some("a"));
        assert_eq!(Value::from(true).as_bool(), Some(true));
        assert!(Value::Null.is_null());
    }
}
