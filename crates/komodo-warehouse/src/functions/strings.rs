//! String functions whose result can be much larger than their arguments
//! (`REPEAT`, `LPAD`/`RPAD`, `REPLACE`, `CONCAT` and `||`), with
//! Snowflake's semantics, each checking the size of what it would build
//! before building it (SECURITY.md F05): one value at most
//! [`Limits::max_value_bytes`], one batch of results at most
//! [`Limits::max_batch_bytes`].

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::Limits;

/// The arguments as arrays of `number_rows`, strings as `StringArray`s.
fn arrays(args: &ScalarFunctionArgs) -> Result<Vec<ArrayRef>> {
    ColumnarValue::values_to_arrays(&args.args)
}

/// A `StringArray` built from `rows` values whose sizes were checked first.
fn build(rows: usize, total: usize, values: impl Iterator<Item = Option<String>>) -> Result<ColumnarValue> {
    let mut out = StringBuilder::with_capacity(rows, total);
    for v in values {
        out.append_option(v);
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
}

/// `REPEAT(string, n)`: `string` `n` times (empty for `n` below 1).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Repeat {
    signature: Signature,
    limits: Limits,
}

impl Repeat {
    pub(crate) fn new(limits: Limits) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), limits }
    }
}

impl ScalarUDFImpl for Repeat {
    fn name(&self) -> &str {
        "repeat"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 => Ok(vec![DataType::Utf8, DataType::Int64]),
            n => datafusion::common::plan_err!("REPEAT takes 2 arguments, {n} given"),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let strings = utf8(&arrays[0])?;
        let counts = arrays[1].as_primitive::<Int64Type>();
        let mut total = 0usize;
        for (s, n) in strings.iter().zip(counts.iter()) {
            if let (Some(s), Some(n)) = (s, n) {
                let len = s.len().saturating_mul(usize::try_from(n.max(0)).unwrap_or(usize::MAX));
                total = self.limits.check(len, total)?;
            }
        }
        let values = strings.iter().zip(counts.iter()).map(|(s, n)| Some(s?.repeat(usize::try_from(n?.max(0)).ok()?)));
        build(strings.len(), total, values)
    }
}

/// `LPAD(base, length [, pad])` and `RPAD`: `base` padded with `pad`
/// (default a space) or cut to `length` characters.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Pad {
    signature: Signature,
    left: bool,
    limits: Limits,
}

impl Pad {
    pub(crate) fn new(left: bool, limits: Limits) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), left, limits }
    }
}

impl ScalarUDFImpl for Pad {
    fn name(&self) -> &str {
        if self.left { "lpad" } else { "rpad" }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 => Ok(vec![DataType::Utf8, DataType::Int64]),
            3 => Ok(vec![DataType::Utf8, DataType::Int64, DataType::Utf8]),
            n => datafusion::common::plan_err!("{} takes 2 or 3 arguments, {n} given", self.name().to_uppercase()),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let base = utf8(&arrays[0])?;
        let lengths = arrays[1].as_primitive::<Int64Type>();
        let pads = arrays.get(2).map(utf8).transpose()?;
        let pad_at = |i: usize| -> Option<&str> {
            match &pads {
                Some(p) => p.is_valid(i).then(|| p.value(i)),
                None => Some(" "),
            }
        };
        let mut total = 0usize;
        for i in 0..base.len() {
            if let (true, true, Some(pad)) = (base.is_valid(i), lengths.is_valid(i), pad_at(i)) {
                let n = usize::try_from(lengths.value(i).max(0)).unwrap_or(usize::MAX);
                total = self.limits.check(padded_len(base.value(i), n, pad), total)?;
            }
        }
        let values = (0..base.len()).map(|i| {
            let (s, n, pad) =
                (base.is_valid(i).then(|| base.value(i))?, lengths.is_valid(i).then(|| lengths.value(i))?, pad_at(i)?);
            Some(pad_string(s, usize::try_from(n.max(0)).ok()?, pad, self.left))
        });
        build(base.len(), total, values)
    }
}

/// The byte length of [`pad_string`]'s result, without building it.
fn padded_len(s: &str, n: usize, pad: &str) -> usize {
    let len = s.chars().count();
    if len >= n {
        return s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    }
    if pad.is_empty() {
        return s.len();
    }
    let missing = n - len;
    let pad_chars = pad.chars().count();
    let rest: usize = pad.chars().take(missing % pad_chars).map(char::len_utf8).sum();
    s.len().saturating_add((missing / pad_chars).saturating_mul(pad.len())).saturating_add(rest)
}

fn pad_string(s: &str, n: usize, pad: &str, left: bool) -> String {
    let len = s.chars().count();
    if len >= n {
        return s.chars().take(n).collect();
    }
    if pad.is_empty() {
        return s.to_owned();
    }
    let fill: String = pad.chars().cycle().take(n - len).collect();
    if left { fill + s } else { format!("{s}{fill}") }
}

/// `CONCAT(a, b, ...)` and `a || b`: NULL when any argument is NULL, as in
/// Snowflake.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Concat {
    signature: Signature,
    limits: Limits,
}

impl Concat {
    pub(crate) fn new(limits: Limits) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), limits }
    }
}

impl ScalarUDFImpl for Concat {
    fn name(&self) -> &str {
        "concat"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.is_empty() {
            return datafusion::common::plan_err!("CONCAT takes at least one argument");
        }
        Ok(vec![DataType::Utf8; arg_types.len()])
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let parts: Vec<&StringArray> = arrays.iter().map(utf8).collect::<Result<_>>()?;
        let rows = args.number_rows;
        let mut total = 0usize;
        for i in 0..rows {
            if parts.iter().all(|p| p.is_valid(i)) {
                total = self.limits.check(parts.iter().map(|p| p.value(i).len()).sum(), total)?;
            }
        }
        let values = (0..rows)
            .map(|i| parts.iter().all(|p| p.is_valid(i)).then(|| parts.iter().map(|p| p.value(i)).collect::<String>()));
        build(rows, total, values)
    }
}

/// `REPLACE(subject, pattern [, replacement])`: every occurrence of
/// `pattern` replaced (removed without a replacement); an empty pattern
/// changes nothing.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Replace {
    signature: Signature,
    limits: Limits,
}

impl Replace {
    pub(crate) fn new(limits: Limits) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), limits }
    }
}

impl ScalarUDFImpl for Replace {
    fn name(&self) -> &str {
        "replace"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 | 3 => Ok(vec![DataType::Utf8; arg_types.len()]),
            n => datafusion::common::plan_err!("REPLACE takes 2 or 3 arguments, {n} given"),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let subject = utf8(&arrays[0])?;
        let pattern = utf8(&arrays[1])?;
        let replacement = arrays.get(2).map(utf8).transpose()?;
        let rows = subject.len();
        let row = |i: usize| -> Option<(&str, &str, &str)> {
            let with = match &replacement {
                Some(r) => get(r, i)?,
                None => "",
            };
            Some((get(subject, i)?, get(pattern, i)?, with))
        };
        let mut total = 0usize;
        for i in 0..rows {
            if let Some((s, p, r)) = row(i) {
                let len = if p.is_empty() { s.len() } else { s.len() + s.matches(p).count().saturating_mul(r.len()) };
                total = self.limits.check(len, total)?;
            }
        }
        let values =
            (0..rows).map(|i| row(i).map(|(s, p, r)| if p.is_empty() { s.to_owned() } else { s.replace(p, r) }));
        build(rows, total, values)
    }
}

/// Row `i` of `a`, `None` when NULL.
fn get(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// An argument coerced to `Utf8` by the function's signature.
fn utf8(array: &ArrayRef) -> Result<&StringArray> {
    array.as_string_opt::<i32>().ok_or_else(|| {
        datafusion::error::DataFusionError::Internal(format!("expected a string argument, got {}", array.data_type()))
    })
}

#[cfg(test)]
mod tests {
    use super::{pad_string, padded_len};

    #[test]
    fn padding_as_snowflake_pads() {
        for (s, n, pad) in [("abc", 6, "xy"), ("abcdef", 3, "x"), ("ab", 4, ""), ("é", 3, "ü"), ("a", 1000, "üx")] {
            assert_eq!(padded_len(s, n, pad), pad_string(s, n, pad, true).len(), "{s} {n} {pad}");
        }
        assert_eq!(pad_string("abc", 6, "xy", true), "xyxabc");
        assert_eq!(pad_string("abc", 6, "xy", false), "abcxyx");
        assert_eq!(pad_string("abcdef", 3, "x", true), "abc");
        assert_eq!(pad_string("ab", 4, "", true), "ab");
        assert_eq!(pad_string("é", 3, "ü", true), "üüé");
    }
}
