//! String functions with Snowflake's semantics: `STRTOK`, `INITCAP` and
//! `CHARINDEX`/`POSITION(substring, string [, start])`.

use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder};
use arrow_schema::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use super::Limits;
use super::args::{arity, arrays, execution, i64_at, int64s, str_at, strings};

/// `STRTOK(string [, delimiters [, part]])`: the `part`-th (default 1)
/// token of `string` split at any of the characters of `delimiters`
/// (default a space), empty tokens skipped; NULL when there is no such
/// token.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Strtok {
    signature: Signature,
}

impl Strtok {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

fn token<'a>(s: &'a str, delimiters: &str, part: usize) -> Option<&'a str> {
    s.split(|c| delimiters.contains(c)).filter(|t| !t.is_empty()).nth(part.checked_sub(1)?)
}

impl ScalarUDFImpl for Strtok {
    fn name(&self) -> &str {
        "strtok"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("STRTOK", arg_types.len(), 1, 3)?;
        let mut types = vec![DataType::Utf8; arg_types.len().min(2)];
        if arg_types.len() == 3 {
            types.push(DataType::Int64);
        }
        Ok(types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let subjects = strings(&arrays[0])?;
        let delimiters = arrays.get(1).map(strings).transpose()?;
        let parts = arrays.get(2).map(int64s).transpose()?;
        let mut out = StringBuilder::new();
        for i in 0..args.number_rows {
            let delimiter = match delimiters {
                Some(d) => str_at(d, i),
                None => Some(" "),
            };
            let part = match parts {
                Some(p) => i64_at(p, i),
                None => Some(1),
            };
            let (Some(s), Some(delimiter), Some(part)) = (str_at(subjects, i), delimiter, part) else {
                out.append_null();
                continue;
            };
            if part < 1 {
                return Err(execution(format!(
                    "Invalid value [{part}] for function 'STRTOK', parameter 3: must be a positive integer"
                )));
            }
            out.append_option(token(s, delimiter, usize::try_from(part).unwrap_or(usize::MAX)));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The characters after which `INITCAP` starts a word by default:
/// whitespace and `! ? @ " ^ # $ & ~ _ , . : ; + - * % / | \ [ ] ( ) { } < >`.
const WORD_DELIMITERS: &str = " \t\n\r\x0B\x0C!?@\"^#$&~_,.:;+-*%/|\\[](){}<>";

/// `INITCAP(string [, delimiters])`: the first letter of each word upper
/// case, the others lower case; words start at the beginning and after
/// each delimiter (Snowflake's list by default; `''` makes the whole
/// string one word).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Initcap {
    signature: Signature,
    limits: Limits,
}

impl Initcap {
    pub(crate) fn new(limits: Limits) -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), limits }
    }
}

/// `s` in initial capitals; each character maps to its upper or lower
/// case form, which may be longer (`ß` is `SS` upper case).
fn initcap_chars<'a>(s: &'a str, delimiters: &'a str) -> impl Iterator<Item = char> + 'a {
    let mut start = true;
    s.chars().flat_map(move |c| {
        let upper = start;
        start = delimiters.contains(c);
        let mapped: Vec<char> = if upper { c.to_uppercase().collect() } else { c.to_lowercase().collect() };
        mapped
    })
}

impl ScalarUDFImpl for Initcap {
    fn name(&self) -> &str {
        "initcap"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("INITCAP", arg_types.len(), 1, 2)?;
        Ok(vec![DataType::Utf8; arg_types.len()])
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let subjects = strings(&arrays[0])?;
        let delimiters = arrays.get(1).map(strings).transpose()?;
        let rows = args.number_rows;
        let row = |i: usize| -> Option<(&str, &str)> {
            let d = match delimiters {
                Some(d) => str_at(d, i)?,
                None => WORD_DELIMITERS,
            };
            Some((str_at(subjects, i)?, d))
        };
        // Case mapping can lengthen a value: sizes are checked before
        // anything is built (SECURITY.md F05).
        let mut total = 0usize;
        for i in 0..rows {
            if let Some((s, d)) = row(i) {
                total = self.limits.check(initcap_chars(s, d).map(char::len_utf8).sum(), total)?;
            }
        }
        let mut out = StringBuilder::with_capacity(rows, total);
        for i in 0..rows {
            out.append_option(row(i).map(|(s, d)| initcap_chars(s, d).collect::<String>()));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `CHARINDEX(substring, string [, start])` and `POSITION(substring,
/// string [, start])`: the 1-based position of the first occurrence of
/// `substring` in `string` at or after character `start` (default 1), 0
/// when there is none.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Charindex {
    signature: Signature,
    aliases: Vec<String>,
}

impl Charindex {
    pub(crate) fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable), aliases: vec!["position".to_owned()] }
    }
}

fn charindex(needle: &str, haystack: &str, start: i64) -> i64 {
    let skip = usize::try_from(start.max(1) - 1).unwrap_or(usize::MAX);
    let Some((offset, _)) = haystack.char_indices().chain(std::iter::once((haystack.len(), ' '))).nth(skip) else {
        return 0;
    };
    match haystack[offset..].find(needle) {
        Some(found) => i64::try_from(haystack[..offset + found].chars().count()).unwrap_or(i64::MAX) + 1,
        None => 0,
    }
}

impl ScalarUDFImpl for Charindex {
    fn name(&self) -> &str {
        "charindex"
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        arity("CHARINDEX", arg_types.len(), 2, 3)?;
        let mut types = vec![DataType::Utf8, DataType::Utf8];
        if arg_types.len() == 3 {
            types.push(DataType::Int64);
        }
        Ok(types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let (needles, haystacks) = (strings(&arrays[0])?, strings(&arrays[1])?);
        let starts = arrays.get(2).map(int64s).transpose()?;
        let mut out = Int64Builder::with_capacity(args.number_rows);
        for i in 0..args.number_rows {
            let start = match starts {
                Some(s) => i64_at(s, i),
                None => Some(1),
            };
            match (str_at(needles, i), str_at(haystacks, i), start) {
                (Some(n), Some(h), Some(s)) => out.append_value(charindex(n, h, s)),
                _ => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(token("a.b.c", ".", 1), Some("a"));
        assert_eq!(token("user@snowflake.com", "@.", 2), Some("snowflake"));
        assert_eq!(token("user@snowflake.com", "@.", 4), None);
        assert_eq!(token("  a  b ", " ", 2), Some("b"));
        assert_eq!(token("", " ", 1), None);
        assert_eq!(token("a b", "", 1), Some("a b"));
    }

    #[test]
    fn initial_capitals() {
        let f = |s: &str, d: &str| initcap_chars(s, d).collect::<String>();
        assert_eq!(f("hello WORLD", WORD_DELIMITERS), "Hello World");
        assert_eq!(f("this is the new Frame+Work", ""), "This is the new frame+work");
        assert_eq!(f("o'neil-smith", WORD_DELIMITERS), "O'neil-Smith");
        assert_eq!(f("ß", WORD_DELIMITERS), "SS");
    }

    #[test]
    fn positions() {
        assert_eq!(charindex("an", "banana", 1), 2);
        assert_eq!(charindex("an", "banana", 3), 4);
        assert_eq!(charindex("x", "banana", 1), 0);
        assert_eq!(charindex("ü", "aüb", 1), 2);
        assert_eq!(charindex("", "abc", 1), 1);
        assert_eq!(charindex("a", "abc", 10), 0);
    }
}
