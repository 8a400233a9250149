//! File formats: the options of `FILE_FORMAT = (...)`, of `CREATE FILE
//! FORMAT` and of a stage, read into a [`FileFormat`].

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::ast::Value as SqlValue;
use datafusion::sql::sqlparser::ast::helpers::key_value_options::{
    KeyValueOption, KeyValueOptionKind, KeyValueOptions,
};

use super::statements::not_allowed;
use crate::WarehouseError;

/// A named object's options (`FILE_FORMAT = (TYPE = CSV SKIP_HEADER = 1)`):
/// upper-case names, values as text (a list for `NULL_IF = ('', 'NA')`).
pub(crate) type Options = BTreeMap<String, OptionValue>;

/// One option's value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum OptionValue {
    Text(String),
    List(Vec<String>),
}

impl OptionValue {
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t),
            Self::List(_) => None,
        }
    }
}

fn value_text(v: &SqlValue) -> String {
    match v {
        SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The options of sqlparser's `KeyValueOptions`.
pub(crate) fn options_of(kv: &KeyValueOptions) -> Result<Options, WarehouseError> {
    kv.options.iter().map(option_of).collect()
}

fn option_of(o: &KeyValueOption) -> Result<(String, OptionValue), WarehouseError> {
    let value = match &o.option_value {
        KeyValueOptionKind::Single(v) => OptionValue::Text(value_text(&v.value)),
        KeyValueOptionKind::Multi(vs) => OptionValue::List(vs.iter().map(|v| value_text(&v.value)).collect()),
        KeyValueOptionKind::KeyValueOptions(_) => {
            return Err(WarehouseError::Compilation(format!("option {} takes a value, not options", o.option_name)));
        }
    };
    Ok((o.option_name.to_ascii_uppercase(), value))
}

/// A file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Csv,
    Parquet,
    Json,
}

/// Whether a file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    /// gzip when the name ends in `.gz` (loading); gzip (unloading CSV and JSON).
    Auto,
    Gzip,
    None,
}

/// A file format: `FILE_FORMAT = (...)`, a named one, or a stage's.
#[derive(Debug, Clone)]
pub(crate) struct FileFormat {
    pub(crate) kind: Kind,
    pub(crate) delimiter: u8,
    pub(crate) skip_header: usize,
    pub(crate) quote: Option<u8>,
    pub(crate) escape: Option<u8>,
    pub(crate) null_if: Vec<String>,
    pub(crate) empty_field_as_null: bool,
    pub(crate) trim_space: bool,
    pub(crate) column_count_mismatch_is_error: bool,
    pub(crate) compression: Compression,
    /// JSON: each file is one array whose elements are the rows.
    pub(crate) strip_outer_array: bool,
}

/// Options Snowflake's clients send that change nothing here.
const IGNORED: &[&str] = &[
    "USE_VECTORIZED_SCANNER",
    "BINARY_AS_TEXT",
    "USE_LOGICAL_TYPE",
    "ENCODING",
    "DATE_FORMAT",
    "TIME_FORMAT",
    "TIMESTAMP_FORMAT",
    "FILE_EXTENSION",
    "RECORD_DELIMITER",
    "REPLACE_INVALID_CHARACTERS",
    "SKIP_BLANK_LINES",
];

pub(crate) fn flag(value: &OptionValue, name: &str) -> Result<bool, WarehouseError> {
    match value.text().map(str::to_ascii_uppercase).as_deref() {
        Some("TRUE") => Ok(true),
        Some("FALSE") => Ok(false),
        _ => Err(WarehouseError::Compilation(format!("{name} takes TRUE or FALSE"))),
    }
}

/// One byte of a `FIELD_DELIMITER`-like option (`','`, `'\t'`, `'|'`), or
/// `None` for `NONE`.
fn one_byte(value: &OptionValue, name: &str) -> Result<Option<u8>, WarehouseError> {
    let text = value.text().unwrap_or_default();
    let unescaped = match text {
        "\\t" => "\t",
        "\\\\" => "\\",
        other => other,
    };
    if unescaped.eq_ignore_ascii_case("NONE") {
        return Ok(None);
    }
    match unescaped.as_bytes() {
        [b] if b.is_ascii() => Ok(Some(*b)),
        _ => Err(WarehouseError::Compilation(format!("{name} takes one ASCII character, not {text:?}"))),
    }
}

impl FileFormat {
    /// The format `options` describe (CSV unless `TYPE` says otherwise).
    pub(crate) fn from_options(options: &Options) -> Result<Self, WarehouseError> {
        let mut format = Self {
            kind: Kind::Csv,
            delimiter: b',',
            skip_header: 0,
            quote: None,
            escape: None,
            null_if: vec!["\\N".to_owned()],
            empty_field_as_null: true,
            trim_space: false,
            column_count_mismatch_is_error: true,
            compression: Compression::Auto,
            strip_outer_array: false,
        };
        for (name, value) in options {
            let text = || value.text().unwrap_or_default().to_ascii_uppercase();
            match name.as_str() {
                "TYPE" => {
                    format.kind = match text().as_str() {
                        "CSV" => Kind::Csv,
                        "PARQUET" => Kind::Parquet,
                        "JSON" => Kind::Json,
                        other => {
                            return Err(not_allowed(&format!(
                                "file format TYPE = {other} (CSV, PARQUET and JSON are)"
                            )));
                        }
                    }
                }
                "FIELD_DELIMITER" => {
                    format.delimiter = one_byte(value, name)?
                        .ok_or_else(|| WarehouseError::Compilation("FIELD_DELIMITER cannot be NONE".into()))?;
                }
                "SKIP_HEADER" => {
                    format.skip_header = text()
                        .parse()
                        .map_err(|_| WarehouseError::Compilation("SKIP_HEADER takes a number of lines".into()))?;
                }
                "FIELD_OPTIONALLY_ENCLOSED_BY" => format.quote = one_byte(value, name)?,
                "ESCAPE" | "ESCAPE_UNENCLOSED_FIELD" => format.escape = one_byte(value, name)?,
                "NULL_IF" => {
                    format.null_if = match value {
                        OptionValue::List(items) => items.clone(),
                        OptionValue::Text(t) if t.is_empty() => Vec::new(),
                        OptionValue::Text(t) => vec![t.clone()],
                    };
                    format.null_if.iter_mut().for_each(|n| *n = n.replace("\\\\", "\\"));
                }
                "EMPTY_FIELD_AS_NULL" => format.empty_field_as_null = flag(value, name)?,
                "TRIM_SPACE" => format.trim_space = flag(value, name)?,
                "ERROR_ON_COLUMN_COUNT_MISMATCH" => format.column_count_mismatch_is_error = flag(value, name)?,
                "COMPRESSION" => {
                    format.compression = match text().as_str() {
                        "AUTO" | "SNAPPY" => Compression::Auto,
                        "GZIP" => Compression::Gzip,
                        "NONE" => Compression::None,
                        other => return Err(not_allowed(&format!("COMPRESSION = {other} (AUTO, GZIP and NONE are)"))),
                    }
                }
                "STRIP_OUTER_ARRAY" => format.strip_outer_array = flag(value, name)?,
                _ if IGNORED.contains(&name.as_str()) => {}
                other => {
                    return Err(not_allowed(&format!("the file format option {other}")));
                }
            }
        }
        Ok(format)
    }

    pub(crate) fn gzipped(&self, name: &str) -> bool {
        match self.compression {
            Compression::Gzip => true,
            Compression::None => false,
            Compression::Auto => name.to_ascii_lowercase().ends_with(".gz"),
        }
    }
}

impl FileFormat {
    /// A field's value: `None` for SQL NULL.
    pub(crate) fn value(&self, field: &str) -> Option<String> {
        let field = if self.trim_space { field.trim() } else { field };
        if (field.is_empty() && self.empty_field_as_null) || self.null_if.iter().any(|n| n == field) {
            return None;
        }
        Some(field.to_owned())
    }
}

/// Reads `KEY = value` options up to the end of the statement (what
/// `CREATE FILE FORMAT` takes): a value is a string, a number, a word, or
/// a parenthesized list of them.
pub(crate) fn parse_options(
    parser: &mut datafusion::sql::sqlparser::parser::Parser<'_>,
) -> Result<Options, WarehouseError> {
    use datafusion::sql::sqlparser::tokenizer::Token;
    let compilation = |e: &dyn std::fmt::Display| WarehouseError::Compilation(e.to_string());
    fn literal(parser: &mut datafusion::sql::sqlparser::parser::Parser<'_>) -> Result<String, WarehouseError> {
        let token = parser.next_token().token;
        match token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Ok(s),
            Token::Number(n, _) => Ok(n),
            Token::Word(w) => Ok(w.value),
            Token::Minus => match parser.next_token().token {
                Token::Number(n, _) => Ok(format!("-{n}")),
                other => Err(WarehouseError::Compilation(format!("expected a number after '-', found {other}"))),
            },
            other => Err(WarehouseError::Compilation(format!("expected an option's value, found {other}"))),
        }
    }
    let mut options = Options::new();
    loop {
        while parser.consume_token(&Token::Comma) {}
        if matches!(parser.peek_token().token, Token::EOF | Token::SemiColon) {
            break;
        }
        let key = parser.parse_identifier().map_err(|e| compilation(&e))?.value.to_ascii_uppercase();
        parser.expect_token(&Token::Eq).map_err(|e| compilation(&e))?;
        let value = if parser.consume_token(&Token::LParen) {
            let mut items = Vec::new();
            loop {
                while parser.consume_token(&Token::Comma) {}
                if parser.consume_token(&Token::RParen) {
                    break;
                }
                items.push(literal(parser)?);
            }
            OptionValue::List(items)
        } else {
            OptionValue::Text(literal(parser)?)
        };
        options.insert(key, value);
    }
    Ok(options)
}
