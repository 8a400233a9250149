//! JSON text as Snowflake's semi-structured values: converting Arrow
//! values to JSON, walking paths, reading values back as SQL types.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, TimeUnit};
use chrono::{DateTime, NaiveDate, TimeDelta};
use jiter::{Jiter, Peek};

use crate::plan::LOGICAL_TYPE;

/// The Snowflake semi-structured type a field holds, if any.
pub(crate) fn logical_type(field: &Field) -> Option<&str> {
    field.metadata().get(LOGICAL_TYPE).map(String::as_str).filter(|t| matches!(*t, "VARIANT" | "OBJECT" | "ARRAY"))
}

/// One step of a path into a semi-structured value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// An object's member.
    Key(String),
    /// An array's element.
    Index(usize),
}

/// Parses Snowflake's path syntax: `a.b[0]["c d"].e`, `['a']`, `[1]`.
pub(crate) fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut chars = path.chars().peekable();
    let mut key = String::new();
    let flush = |key: &mut String, steps: &mut Vec<Step>| {
        if !key.is_empty() {
            steps.push(Step::Key(std::mem::take(key)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '.' => flush(&mut key, &mut steps),
            '[' => {
                flush(&mut key, &mut steps);
                match chars.peek() {
                    Some(&q @ ('"' | '\'')) => {
                        chars.next();
                        let mut name = String::new();
                        loop {
                            match chars.next() {
                                Some(c) if c == q => break,
                                Some(c) => name.push(c),
                                None => return Err(format!("invalid path {path:?}: unclosed quote")),
                            }
                        }
                        if chars.next() != Some(']') {
                            return Err(format!("invalid path {path:?}: expected ]"));
                        }
                        steps.push(Step::Key(name));
                    }
                    _ => {
                        let mut digits = String::new();
                        loop {
                            match chars.next() {
                                Some(']') => break,
                                Some(c) if c.is_ascii_digit() || c.is_whitespace() => digits.push(c),
                                _ => return Err(format!("invalid path {path:?}: expected an index")),
                            }
                        }
                        let index = digits.trim().parse().map_err(|_| format!("invalid path {path:?}: bad index"))?;
                        steps.push(Step::Index(index));
                    }
                }
            }
            '"' => {
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => key.push(c),
                        None => return Err(format!("invalid path {path:?}: unclosed quote")),
                    }
                }
                steps.push(Step::Key(std::mem::take(&mut key)));
            }
            c => key.push(c),
        }
    }
    flush(&mut key, &mut steps);
    Ok(steps)
}

/// The raw JSON text of the value at `path` in `json`, without parsing the
/// rest of the document; `None` where the path leads nowhere (Snowflake's
/// SQL NULL) or the text is not JSON.
pub(crate) fn get_path<'a>(json: &'a str, path: &[Step]) -> Option<&'a str> {
    let bytes = json.as_bytes();
    let mut jiter = Jiter::new(bytes);
    for step in path {
        let peek = jiter.peek().ok()?;
        match (step, peek) {
            (Step::Key(want), Peek::Object) => {
                let mut key = jiter.known_object().ok()?;
                loop {
                    match key {
                        Some(k) if k == want => break,
                        Some(_) => {
                            jiter.next_skip().ok()?;
                            key = jiter.next_key().ok()?;
                        }
                        None => return None,
                    }
                }
            }
            (Step::Index(want), Peek::Array) => {
                let mut element = jiter.known_array().ok()?;
                let mut i = 0;
                loop {
                    match element {
                        Some(_) if i == *want => break,
                        Some(_) => {
                            jiter.next_skip().ok()?;
                            element = jiter.array_step().ok()?;
                            i += 1;
                        }
                        None => return None,
                    }
                }
            }
            _ => return None,
        }
    }
    let peek = jiter.peek().ok()?;
    let start = jiter.current_index();
    jiter.known_skip(peek).ok()?;
    std::str::from_utf8(jiter.slice_to_current(start)).ok()
}

/// The deepest nesting of arrays and objects a JSON text may have.
const MAX_DEPTH: usize = 256;

/// JSON text as a semi-structured value keeps it: compact, object keys in
/// order (the last of a repeated key wins), numbers written as they were
/// (so `1e3` stays a DOUBLE and `1.50` a DECIMAL for `TYPEOF`). An error
/// says what is wrong with the text.
pub(crate) fn normalize(text: &str) -> Result<String, String> {
    fn value(j: &mut Jiter<'_>, out: &mut String, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let e = |e: jiter::JiterError| e.to_string();
        match j.peek().map_err(e)? {
            Peek::Null => {
                j.known_null().map_err(e)?;
                out.push_str("null");
            }
            Peek::True | Peek::False => {
                let peek = j.peek().map_err(e)?;
                out.push_str(if j.known_bool(peek).map_err(e)? { "true" } else { "false" });
            }
            Peek::String => push_json_string(out, j.known_str().map_err(e)?),
            Peek::Array => {
                out.push('[');
                let mut next = j.known_array().map_err(e)?;
                let mut first = true;
                while next.is_some() {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    value(j, out, depth + 1)?;
                    next = j.array_step().map_err(e)?;
                }
                out.push(']');
            }
            Peek::Object => {
                let mut members = std::collections::BTreeMap::new();
                let mut key = j.known_object().map_err(e)?.map(str::to_owned);
                while let Some(k) = key {
                    let mut v = String::new();
                    value(j, &mut v, depth + 1)?;
                    members.insert(k, v);
                    key = j.next_key().map_err(e)?.map(str::to_owned);
                }
                out.push('{');
                for (n, (k, v)) in members.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    push_json_string(out, k);
                    out.push(':');
                    out.push_str(v);
                }
                out.push('}');
            }
            _ => {
                let bytes = j.next_number_bytes().map_err(e)?;
                out.push_str(std::str::from_utf8(bytes).map_err(|e| e.to_string())?);
            }
        }
        Ok(())
    }
    let mut j = Jiter::new(text.as_bytes());
    let mut out = String::with_capacity(text.len());
    value(&mut j, &mut out, 0)?;
    j.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn decimal_text(value: i128, scale: i8) -> String {
    if scale <= 0 {
        let zeros = "0".repeat(usize::from(scale.unsigned_abs()));
        return format!("{value}{zeros}");
    }
    let scale = usize::from(scale.unsigned_abs());
    let digits = value.unsigned_abs().to_string();
    let digits =
        if digits.len() <= scale { format!("{}{digits}", "0".repeat(scale + 1 - digits.len())) } else { digits };
    let (int, frac) = digits.split_at(digits.len() - scale);
    let frac = frac.trim_end_matches('0');
    let sign = if value < 0 { "-" } else { "" };
    if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
}

fn float_text(v: f64) -> String {
    if v.is_finite() {
        if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.1}") } else { v.to_string() }
    } else if v.is_nan() {
        "\"NaN\"".to_owned()
    } else if v > 0.0 {
        "\"Infinity\"".to_owned()
    } else {
        "\"-Infinity\"".to_owned()
    }
}

/// Row `i` of `array` as JSON text, as `TO_VARIANT` makes it: a string is a
/// JSON string, unless `field` says it already holds JSON (a VARIANT); a
/// date or timestamp is a string in Snowflake's default format. `None` for
/// SQL NULL.
pub(crate) fn to_json(array: &ArrayRef, field: &Field, i: usize) -> Option<String> {
    if array.is_null(i) {
        return None;
    }
    let mut out = String::new();
    match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s = match array.data_type() {
                DataType::Utf8 => array.as_string::<i32>().value(i),
                DataType::LargeUtf8 => array.as_string::<i64>().value(i),
                _ => array.as_string_view().value(i),
            };
            if logical_type(field).is_some() {
                return Some(s.to_owned());
            }
            push_json_string(&mut out, s);
        }
        DataType::Boolean => out.push_str(if array.as_boolean().value(i) { "true" } else { "false" }),
        DataType::Int8 => out = array.as_primitive::<Int8Type>().value(i).to_string(),
        DataType::Int16 => out = array.as_primitive::<Int16Type>().value(i).to_string(),
        DataType::Int32 => out = array.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => out = array.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::UInt8 => out = array.as_primitive::<UInt8Type>().value(i).to_string(),
        DataType::UInt16 => out = array.as_primitive::<UInt16Type>().value(i).to_string(),
        DataType::UInt32 => out = array.as_primitive::<UInt32Type>().value(i).to_string(),
        DataType::UInt64 => out = array.as_primitive::<UInt64Type>().value(i).to_string(),
        DataType::Float32 => out = float_text(f64::from(array.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => out = float_text(array.as_primitive::<Float64Type>().value(i)),
        DataType::Decimal128(_, s) => out = decimal_text(array.as_primitive::<Decimal128Type>().value(i), *s),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(i);
            let date = NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|d| d.checked_add_signed(TimeDelta::try_days(i64::from(days))?))?;
            push_json_string(&mut out, &date.format("%Y-%m-%d").to_string());
        }
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i).checked_mul(1_000_000_000)?,
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(i).checked_mul(1_000_000)?
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(i).checked_mul(1_000)?
                }
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i),
            };
            let t = DateTime::from_timestamp_nanos(v).naive_utc();
            push_json_string(&mut out, &t.format("%Y-%m-%d %H:%M:%S%.3f").to_string());
        }
        DataType::Null => return None,
        _ => {
            let text = datafusion::arrow::util::display::array_value_to_string(array, i).ok()?;
            push_json_string(&mut out, &text);
        }
    }
    Some(out)
}

/// Snowflake's `TYPEOF` of a JSON value's text.
pub(crate) fn type_of(json: &str) -> &'static str {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Null) => "NULL_VALUE",
        Ok(serde_json::Value::Bool(_)) => "BOOLEAN",
        Ok(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => "INTEGER",
        Ok(serde_json::Value::Number(_)) => {
            if json.contains(['e', 'E']) {
                "DOUBLE"
            } else {
                "DECIMAL"
            }
        }
        Ok(serde_json::Value::String(_)) => "VARCHAR",
        Ok(serde_json::Value::Array(_)) => "ARRAY",
        Ok(serde_json::Value::Object(_)) => "OBJECT",
        Err(_) => "VARCHAR",
    }
}

/// A JSON value's text as the text a cast to a string gives: a JSON string
/// without its quotes, anything else as it is written (`null` is SQL NULL).
pub(crate) fn as_text(json: &str) -> Option<String> {
    let trimmed = json.trim();
    if trimmed == "null" {
        return None;
    }
    if trimmed.starts_with('"') {
        return serde_json::from_str::<String>(trimmed).ok();
    }
    Some(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_as_snowflake_writes_them() {
        assert_eq!(
            parse_path("a.b[0][\"c d\"]['e']").unwrap(),
            vec![
                Step::Key("a".into()),
                Step::Key("b".into()),
                Step::Index(0),
                Step::Key("c d".into()),
                Step::Key("e".into())
            ]
        );
        assert!(parse_path("a[x]").is_err());
    }

    #[test]
    fn get_path_returns_the_raw_value() {
        let doc = r#"{"a": {"b": [10, {"c": "x"}, null]}, "k": true, "z": 1.50}"#;
        let get = |p: &str| get_path(doc, &parse_path(p).unwrap());
        assert_eq!(get("a.b[0]"), Some("10"));
        assert_eq!(get("a.b[1]"), Some(r#"{"c": "x"}"#));
        assert_eq!(get("a.b[1].c"), Some("\"x\""));
        assert_eq!(get("a.b[2]"), Some("null"));
        assert_eq!(get("a.b[3]"), None);
        assert_eq!(get("k"), Some("true"));
        assert_eq!(get("z"), Some("1.50"));
        assert_eq!(get("nope"), None);
        assert_eq!(get("k.x"), None);
        assert_eq!(get_path("not json", &parse_path("a").unwrap()), None);
    }

    #[test]
    fn normalized_json_keeps_numbers_and_sorts_keys() {
        assert_eq!(
            normalize(r#" { "b" : 1e3, "a" : [1.50, "x\"y", null, true] } "#).unwrap(),
            r#"{"a":[1.50,"x\"y",null,true],"b":1e3}"#
        );
        assert!(normalize("{\"a\": }").is_err());
        assert!(normalize("[1] 2").is_err());
        assert!(normalize(&format!("{}{}", "[".repeat(300), "]".repeat(300))).is_err());
    }

    #[test]
    fn values_become_json() {
        assert_eq!(decimal_text(-150, 2), "-1.5");
        assert_eq!(decimal_text(5, 3), "0.005");
        assert_eq!(decimal_text(7, -2), "700");
        assert_eq!(as_text("\"a\\\"b\""), Some("a\"b".into()));
        assert_eq!(as_text("null"), None);
        assert_eq!(as_text("12"), Some("12".into()));
        assert_eq!(type_of("1"), "INTEGER");
        assert_eq!(type_of("1.5"), "DECIMAL");
        assert_eq!(type_of("{}"), "OBJECT");
    }
}
