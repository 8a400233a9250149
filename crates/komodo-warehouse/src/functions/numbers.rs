//! `TO_DECIMAL`/`TO_NUMBER`/`TO_NUMERIC(x [, format] [, precision [, scale]])`
//! and their `TRY_` forms: a `NUMBER(precision, scale)` (default 38, 0)
//! from a number or a string, rounded half away from zero to the scale.
//! A value with more integer digits than `precision - scale` is out of
//! range; a string that is not a number is not recognized (`TRY_` forms
//! answer NULL instead of failing).
//!
//! Strings are decimal numbers with an optional sign and exponent
//! (`-12.5`, `1e3`); a format (Snowflake's numeric format models) allows
//! `$`, group separators (`,` or `G`), a decimal point (`.` or `D`), a
//! trailing sign (`S`, `MI`) and limits the digits to the format's `9`s
//! and `0`s; `X` formats read hexadecimal; `TM9`, `TME` and `TM` accept
//! any number.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, DecimalType};
use arrow_array::{Array, ArrayRef, Decimal128Array};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{arity, arrays, compilation, constant_i64, execution, is_numeric, is_string, str_at, strings};

/// `TO_DECIMAL` or, with `try_`, `TRY_TO_DECIMAL`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ToDecimal {
    signature: Signature,
    try_: bool,
    aliases: Vec<String>,
}

impl ToDecimal {
    pub(crate) fn new(try_: bool) -> Self {
        let prefix = if try_ { "try_" } else { "" };
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            try_,
            aliases: vec![format!("{prefix}to_number"), format!("{prefix}to_numeric")],
        }
    }

    fn display(&self) -> &'static str {
        if self.try_ { "TRY_TO_DECIMAL" } else { "TO_DECIMAL" }
    }
}

/// Where the optional arguments are, by the type of the second one.
fn has_format(arg_types: &[DataType]) -> bool {
    arg_types.get(1).is_some_and(is_string)
}

impl ScalarUDFImpl for ToDecimal {
    fn name(&self) -> &str {
        if self.try_ { "try_to_decimal" } else { "to_decimal" }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let format = has_format(arg_types);
        arity(self.display(), arg_types.len(), 1, if format { 4 } else { 3 })?;
        let value = match &arg_types[0] {
            t if is_string(t) => DataType::Utf8,
            DataType::Null => DataType::Utf8,
            t @ DataType::Decimal128(..) => t.clone(),
            DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
            t if is_numeric(t) => DataType::Decimal128(38, 0),
            other => {
                return Err(compilation(format!(
                    "{} cannot convert a value of type {other} to a number",
                    self.display()
                )));
            }
        };
        let mut types = vec![value];
        for (i, _) in arg_types.iter().enumerate().skip(1) {
            types.push(if i == 1 && format { DataType::Utf8 } else { DataType::Int64 });
        }
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Err(compilation("TO_DECIMAL's type depends on its arguments"))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        let types: Vec<DataType> = args.arg_fields.iter().map(|f| f.data_type().clone()).collect();
        let first = if has_format(&types) { 2 } else { 1 };
        let constant = |i: usize, default: i64| -> Result<i64> {
            if i >= types.len() {
                return Ok(default);
            }
            constant_i64(args.scalar_arguments.get(i).copied().flatten()).ok_or_else(|| {
                compilation(format!("{}: the precision and scale must be integer constants", self.display()))
            })
        };
        let (precision, scale) = (constant(first, 38)?, constant(first + 1, 0)?);
        if !(1..=38).contains(&precision) {
            return Err(compilation(format!(
                "{}: invalid precision {precision}, it must be between 1 and 38",
                self.display()
            )));
        }
        if !(0..=precision).contains(&scale) {
            return Err(compilation(format!(
                "{}: invalid scale {scale}, it must be between 0 and the precision {precision}",
                self.display()
            )));
        }
        let (p, s) = (u8::try_from(precision).unwrap_or(38), i8::try_from(scale).unwrap_or(0));
        Ok(Arc::new(Field::new(self.name(), DataType::Decimal128(p, s), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::Decimal128(precision, scale) = args.return_field.data_type().clone() else {
            return Err(compilation("TO_DECIMAL must return a NUMBER"));
        };
        let arrays = arrays(&args)?;
        let format_column = if arrays.len() > 1 && arrays[1].data_type() == &DataType::Utf8 {
            Some(strings(&arrays[1])?)
        } else {
            None
        };
        let target = Target { precision: u32::from(precision), scale: u32::try_from(scale).unwrap_or(0) };
        let rows = args.number_rows;
        let mut out = Vec::with_capacity(rows);
        let value = &arrays[0];
        for i in 0..rows {
            let format = match format_column {
                Some(f) if f.is_null(i) => {
                    out.push(None);
                    continue;
                }
                Some(f) => Some(f.value(i)),
                None => None,
            };
            let converted = if value.is_null(i) {
                Ok(None)
            } else {
                match value.data_type() {
                    DataType::Utf8 => {
                        let text = str_at(strings(value)?, i).unwrap_or_default();
                        parse(text, format).and_then(|n| target.fit(&n, text)).map(Some)
                    }
                    DataType::Float64 => {
                        let v = value.as_primitive::<arrow_array::types::Float64Type>().value(i);
                        if v.is_finite() {
                            let text = format!("{v}");
                            parse(&text, None).and_then(|n| target.fit(&n, &text)).map(Some)
                        } else {
                            Err(Failure::NotRecognized(v.to_string()))
                        }
                    }
                    DataType::Decimal128(_, s) => {
                        let a = value.as_primitive::<Decimal128Type>();
                        let text = Decimal128Type::format_decimal(a.value(i), a.precision(), *s);
                        parse(&text, None).and_then(|n| target.fit(&n, &text)).map(Some)
                    }
                    other => Err(Failure::NotRecognized(format!("<{other}>"))),
                }
            };
            match converted {
                Ok(v) => out.push(v),
                Err(_) if self.try_ => out.push(None),
                Err(failure) => return Err(failure.into()),
            }
        }
        let array = Decimal128Array::from(out).with_precision_and_scale(precision, scale)?;
        Ok(ColumnarValue::Array(Arc::new(array) as ArrayRef))
    }
}

/// Why a value is not a `NUMBER(precision, scale)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The text is not a number (in the format).
    NotRecognized(String),
    /// The number has more integer digits than the precision allows.
    OutOfRange(String),
}

impl From<Failure> for datafusion::error::DataFusionError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::NotRecognized(text) => datafusion::error::DataFusionError::External(Box::new(
                crate::WarehouseError::NumericValueNotRecognized(text),
            )),
            Failure::OutOfRange(text) => execution(format!("Numeric value '{text}' is out of range")),
        }
    }
}

/// A decimal number read from text: its digits (no leading zeros), how
/// many of them are fraction digits (may be negative: trailing zeros
/// implied by an exponent), and its sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Digits {
    negative: bool,
    digits: Vec<u8>,
    fraction: i64,
}

/// The precision and scale a number is converted to.
struct Target {
    precision: u32,
    scale: u32,
}

impl Target {
    /// `n` rounded half away from zero to the scale, as the unscaled
    /// value; an error when it has too many digits.
    fn fit(&self, n: &Digits, text: &str) -> std::result::Result<i128, Failure> {
        let mut digits = n.digits.clone();
        let scale = i64::from(self.scale);
        let out_of_range = || Failure::OutOfRange(text.trim().to_owned());
        if n.fraction <= scale {
            let zeros = usize::try_from(scale - n.fraction).map_err(|_| out_of_range())?;
            if digits.len().saturating_add(zeros) > self.precision as usize && !digits.is_empty() {
                return Err(out_of_range());
            }
            if !digits.is_empty() {
                digits.extend(std::iter::repeat_n(0, zeros));
            }
        } else {
            let drop = usize::try_from(n.fraction - scale).map_err(|_| out_of_range())?;
            let keep = digits.len().saturating_sub(drop);
            let round_up = if drop <= digits.len() { digits[keep] >= 5 } else { false };
            digits.truncate(keep);
            if round_up {
                let mut i = digits.len();
                loop {
                    if i == 0 {
                        digits.insert(0, 1);
                        break;
                    }
                    i -= 1;
                    if digits[i] == 9 {
                        digits[i] = 0;
                    } else {
                        digits[i] += 1;
                        break;
                    }
                }
            }
        }
        let first = digits.iter().position(|d| *d != 0).unwrap_or(digits.len());
        let digits = &digits[first..];
        if digits.len() > self.precision as usize {
            return Err(out_of_range());
        }
        let mut value: i128 = 0;
        for d in digits {
            value = value.checked_mul(10).and_then(|v| v.checked_add(i128::from(*d))).ok_or_else(out_of_range)?;
        }
        Ok(if n.negative { -value } else { value })
    }
}

/// Reads a number from `text`, following `format` when given.
pub(crate) fn parse(text: &str, format: Option<&str>) -> std::result::Result<Digits, Failure> {
    let not_recognized = || Failure::NotRecognized(text.to_owned());
    let Some(format) = format.map(str::trim).filter(|f| !f.is_empty()) else {
        return plain(text.trim()).ok_or_else(not_recognized);
    };
    let upper = format.to_ascii_uppercase();
    let upper = upper.strip_prefix("FM").unwrap_or(&upper);
    if upper.starts_with("TM") {
        return plain(text.trim()).ok_or_else(not_recognized);
    }
    if !upper.is_empty() && upper.chars().all(|c| c == 'X') {
        return hexadecimal(text.trim(), upper.len()).ok_or_else(not_recognized);
    }
    formatted(text, upper).ok_or_else(not_recognized)
}

/// `[+-]digits[.digits][e[+-]digits]`, spaces allowed after the sign.
fn plain(text: &str) -> Option<Digits> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, text[1..].trim_start()),
        b'+' => (false, text[1..].trim_start()),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits(negative, int, frac, exponent))
}

fn digits(negative: bool, int: &str, frac: &str, exponent: i64) -> Digits {
    let all: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    let first = all.iter().position(|d| *d != 0).unwrap_or(all.len());
    let fraction = i64::try_from(frac.len()).unwrap_or(i64::MAX).saturating_sub(exponent);
    let digits = all[first..].to_vec();
    Digits { negative: negative && !digits.is_empty(), digits, fraction }
}

fn hexadecimal(text: &str, width: usize) -> Option<Digits> {
    if text.is_empty() || text.len() > width || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let value = u128::from_str_radix(text, 16).ok()?;
    plain(&value.to_string())
}

/// A number written as a (non-`X`, non-`TM`) numeric format describes it.
fn formatted(text: &str, format: &str) -> Option<Digits> {
    let (int_places, frac_places) = match format.find(['.', 'D']) {
        Some(i) => (places(&format[..i]), places(&format[i + 1..])),
        None => (places(format), 0),
    };
    let grouping = format.contains([',', 'G']);
    let dollar = format.contains('$');
    let trailing_sign = format.ends_with("MI") || format.ends_with('S');
    let mut s = text.trim().to_owned();
    let mut negative = false;
    if trailing_sign && (s.ends_with('-') || s.ends_with('+')) {
        negative = s.ends_with('-');
        s.pop();
        s = s.trim_end().to_owned();
    }
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest.trim_start().to_owned();
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest.trim_start().to_owned();
    }
    if dollar {
        s = s.strip_prefix('$').map(str::to_owned).unwrap_or(s);
    }
    if grouping {
        s.retain(|c| c != ',');
    }
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    if (int.is_empty() && frac.is_empty()) || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let significant = int.trim_start_matches('0');
    if significant.len() > int_places || frac.len() > frac_places {
        return None;
    }
    Some(digits(negative, int, frac, 0))
}

/// The digit places (`9` and `0`) in part of a format.
fn places(part: &str) -> usize {
    part.chars().filter(|c| matches!(c, '9' | '0')).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit(text: &str, format: Option<&str>, precision: u32, scale: u32) -> std::result::Result<i128, Failure> {
        Target { precision, scale }.fit(&parse(text, format)?, text)
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(fit("12.3456", None, 10, 1), Ok(123));
        assert_eq!(fit("98.76546", None, 10, 2), Ok(9877));
        assert_eq!(fit("-2.5", None, 38, 0), Ok(-3));
        assert_eq!(fit("9.99", None, 38, 1), Ok(100));
        assert_eq!(fit("0.0001", None, 38, 2), Ok(0));
        assert_eq!(fit("1e3", None, 38, 0), Ok(1000));
        assert_eq!(fit("1.5E-1", None, 38, 2), Ok(15));
    }

    #[test]
    fn out_of_range_and_not_recognized() {
        assert_eq!(fit("123", None, 2, 0), Err(Failure::OutOfRange("123".into())));
        assert_eq!(fit("1.5", None, 2, 2), Err(Failure::OutOfRange("1.5".into())));
        assert_eq!(fit("abc", None, 38, 0), Err(Failure::NotRecognized("abc".into())));
        assert!(fit("1.2.3", None, 38, 0).is_err());
        assert!(fit("", None, 38, 0).is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(fit("$1,234.56", Some("$9,999.99"), 10, 2), Ok(123456));
        assert_eq!(fit("- 0.1", Some("99.9"), 9, 5), Ok(-10000));
        assert_eq!(fit("12-", Some("99MI"), 38, 0), Ok(-12));
        assert_eq!(fit("FF", Some("XX"), 38, 0), Ok(255));
        assert!(fit("123.4", Some("99.9"), 38, 1).is_err());
        assert!(fit("1.23", Some("99.9"), 38, 1).is_err());
        assert_eq!(fit("12345.678", Some("TM9"), 38, 3), Ok(12345678));
    }
}
