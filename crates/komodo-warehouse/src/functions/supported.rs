//! The Snowflake functions the warehouse supports, with a line on each:
//! the source of the list in the crate's README (a test renders it into
//! the README's marked section and fails when they differ; run it with
//! `UPDATE_README=1` to rewrite the section), checked against the
//! functions registered in [`super::register`] and, by the conformance
//! corpus's test, against `tests/slt/*.slt` (every name here has a case
//! there).

/// What a group of functions is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Family {
    /// `IFF`, `DECODE`, `GREATEST`, ...
    Conditional,
    /// The session's account, database, schema, ...
    Context,
    /// `TO_DECIMAL`, `TO_DATE`, `TRY_CAST`, ...
    Conversion,
    /// `DATEADD`, `LAST_DAY`, `TIME_SLICE`, ...
    DateTime,
    /// `STRTOK`, `INITCAP`, `LPAD`, ...
    Text,
    /// `REGEXP_REPLACE`, `REGEXP_SUBSTR`, ...
    Regex,
    /// `MODE`, `MEDIAN`, `VARIANCE`, ...
    Aggregate,
    /// `SHA2`, `HASH`, `UUID_STRING`, `RANDOM`, ...
    HashRandom,
    /// `PARSE_JSON`, `OBJECT_CONSTRUCT`, `FLATTEN`, ...
    SemiStructured,
}

impl Family {
    /// The family's name in the README.
    pub fn title(self) -> &'static str {
        match self {
            Family::Conditional => "conditional",
            Family::Context => "context",
            Family::Conversion => "conversion",
            Family::DateTime => "date and time",
            Family::Text => "string",
            Family::Regex => "regular expressions",
            Family::Aggregate => "aggregate",
            Family::HashRandom => "hash, identifiers, random",
            Family::SemiStructured => "semi-structured data",
        }
    }
}

/// A Snowflake function (or synonyms) the warehouse supports, and what
/// to know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedFunction {
    /// The names, upper case, synonyms after the first.
    pub names: &'static [&'static str],
    /// What the function is about.
    pub family: Family,
    /// One line on its arguments or on semantics a user may not assume.
    pub notes: &'static str,
}

const fn f(names: &'static [&'static str], family: Family, notes: &'static str) -> SupportedFunction {
    SupportedFunction { names, family, notes }
}

use Family::{Aggregate, Conditional, Context, Conversion, DateTime, HashRandom, Regex, SemiStructured, Text};

/// Every Snowflake function with an implementation or a rewrite of its
/// own; DataFusion's built-ins whose name and meaning Snowflake shares
/// (`UPPER`, `ABS`, `ROUND`, `SUM`, ...) work too and are not listed
/// unless checked for Snowflake's semantics.
const SUPPORTED: &[SupportedFunction] = &[
    f(&["PARSE_JSON"], SemiStructured, "`PARSE_JSON(text)`: a VARIANT; invalid JSON is error 100069, `''` is NULL"),
    f(&["TRY_PARSE_JSON"], SemiStructured, "NULL where `PARSE_JSON` fails"),
    f(&["TO_VARIANT"], SemiStructured, "any value as a VARIANT; also `x::VARIANT`"),
    f(
        &["OBJECT_CONSTRUCT"],
        SemiStructured,
        "`OBJECT_CONSTRUCT(k1, v1, ...)`: pairs with a NULL value are left out; keys sorted",
    ),
    f(&["OBJECT_CONSTRUCT_KEEP_NULL"], SemiStructured, "keeps a NULL value as JSON `null`"),
    f(&["ARRAY_CONSTRUCT"], SemiStructured, "`ARRAY_CONSTRUCT(v1, ...)`: NULL as JSON `null`"),
    f(&["ARRAY_SIZE"], SemiStructured, "NULL for a value that is not an array"),
    f(&["ARRAY_CONTAINS"], SemiStructured, "`ARRAY_CONTAINS(value, array)`, values compared as JSON"),
    f(&["ARRAY_TO_STRING"], SemiStructured, "`ARRAY_TO_STRING(array, sep)`: strings without quotes, `null` as empty"),
    f(&["GET"], SemiStructured, "`GET(v, key)` of an object, `GET(v, index)` of an array"),
    f(&["GET_PATH"], SemiStructured, "`GET_PATH(v, 'a.b[0]')`; also `v:a.b[0]` and `v['a']`"),
    f(
        &["TYPEOF"],
        SemiStructured,
        "`INTEGER`, `DECIMAL`, `DOUBLE`, `VARCHAR`, `BOOLEAN`, `ARRAY`, `OBJECT`, `NULL_VALUE`",
    ),
    f(&["IS_OBJECT"], SemiStructured, ""),
    f(&["IS_ARRAY"], SemiStructured, ""),
    f(&["IS_NULL_VALUE"], SemiStructured, "a JSON `null`, not a SQL NULL"),
    f(&["SPLIT"], SemiStructured, "`SPLIT(text, sep)`: an ARRAY of strings"),
    f(&["IFF"], Conditional, "`IFF(cond, a, b)`"),
    f(&["NVL", "IFNULL"], Conditional, "first argument unless NULL"),
    f(&["NVL2"], Conditional, ""),
    f(&["COALESCE"], Conditional, ""),
    f(&["ZEROIFNULL", "NULLIFZERO"], Conditional, ""),
    f(&["DIV0", "DIV0NULL"], Conditional, "0 for a zero (`DIV0NULL`: or NULL) divisor; a DOUBLE"),
    f(&["DECODE"], Conditional, "NULL matches NULL; NULL without a match and no default"),
    f(&["EQUAL_NULL"], Conditional, "`IS NOT DISTINCT FROM`"),
    f(&["GREATEST", "LEAST"], Conditional, "NULL when any argument is NULL"),
    f(&["CURRENT_ACCOUNT", "CURRENT_DATABASE", "CURRENT_SCHEMA"], Context, "the session's values"),
    f(&["CURRENT_WAREHOUSE", "CURRENT_ROLE"], Context, "NULL"),
    f(&["CURRENT_VERSION"], Context, "the crate's version"),
    f(&["SYSDATE", "GETDATE"], Context, "the statement's start, a TIMESTAMP_NTZ in UTC"),
    f(
        &["TO_DECIMAL", "TO_NUMBER", "TO_NUMERIC"],
        Conversion,
        "`(x [, format] [, precision [, scale]])`, NUMBER(38, 0) by default, rounded half away from zero",
    ),
    f(&["TRY_TO_DECIMAL", "TRY_TO_NUMBER", "TRY_TO_NUMERIC"], Conversion, "NULL where `TO_DECIMAL` fails"),
    f(&["TO_DOUBLE", "TRY_TO_DOUBLE"], Conversion, ""),
    f(&["TO_BOOLEAN", "TRY_TO_BOOLEAN"], Conversion, ""),
    f(&["TO_CHAR", "TO_VARCHAR"], Conversion, "`(x [, format])`"),
    f(&["TRY_CAST"], Conversion, "NULL where `CAST` fails"),
    f(
        &["TO_DATE", "DATE", "TRY_TO_DATE"],
        Conversion,
        "`(string [, format])`, timestamps, strings of epoch seconds/millis/micros/nanos by magnitude",
    ),
    f(
        &["TO_TIMESTAMP", "TO_TIMESTAMP_NTZ", "TO_TIMESTAMP_LTZ", "TO_TIMESTAMP_TZ"],
        Conversion,
        "`(number [, scale])` (seconds, or units of 10^-scale s), `(string [, format])`, dates, timestamps; `_TZ` keeps the instant and the offset a string names (UTC otherwise)",
    ),
    f(
        &["TRY_TO_TIMESTAMP", "TRY_TO_TIMESTAMP_NTZ", "TRY_TO_TIMESTAMP_LTZ", "TRY_TO_TIMESTAMP_TZ"],
        Conversion,
        "NULL where the `TO_` form fails",
    ),
    f(&["DATEADD", "TIMESTAMPADD"], DateTime, "a DATE moved by hours or less becomes a TIMESTAMP_NTZ"),
    f(&["DATEDIFF", "TIMESTAMPDIFF"], DateTime, "part boundaries crossed"),
    f(
        &[
            "YEAR",
            "QUARTER",
            "MONTH",
            "WEEK",
            "DAY",
            "DAYOFMONTH",
            "DAYOFWEEK",
            "DAYOFYEAR",
            "HOUR",
            "MINUTE",
            "SECOND",
        ],
        DateTime,
        "",
    ),
    f(&["ADD_MONTHS"], DateTime, "last day of a month to last day of the target month"),
    f(&["LAST_DAY"], DateTime, "`(d [, year | quarter | month | week])`, a DATE; weeks end on Sunday"),
    f(&["DAYNAME", "MONTHNAME"], DateTime, "`Mon`, `Jan`"),
    f(&["DATE_FROM_PARTS", "DATEFROMPARTS"], DateTime, "out-of-range parts carry over (month 13 is next January)"),
    f(&["TIME_FROM_PARTS", "TIMEFROMPARTS"], DateTime, "`(h, m, s [, ns])`, wraps around midnight"),
    f(
        &["TIMESTAMP_FROM_PARTS", "TIMESTAMP_NTZ_FROM_PARTS", "TIMESTAMP_LTZ_FROM_PARTS", "TIMESTAMP_TZ_FROM_PARTS"],
        DateTime,
        "`(y, mo, d, h, mi, s [, ns])` or `(date, time)`; `_TZ` takes a time zone as 8th argument and keeps its offset",
    ),
    f(
        &["TIMESTAMPFROMPARTS", "TIMESTAMPNTZFROMPARTS", "TIMESTAMPLTZFROMPARTS", "TIMESTAMPTZFROMPARTS"],
        DateTime,
        "synonyms",
    ),
    f(
        &["CONVERT_TIMEZONE"],
        DateTime,
        "`(source, target, ntz)` (a `TIMESTAMP_NTZ`) or `(target, ts)` (a `TIMESTAMP_TZ` at the target's offset); IANA names or offsets",
    ),
    f(&["TIME_SLICE"], DateTime, "`(t, n, part [, 'START' | 'END'])`, slices aligned on 1970-01-01 (weeks on Monday)"),
    f(&["CONCAT"], Text, "`||` too; NULL when any argument is NULL; size checked"),
    f(&["REPEAT", "REPLACE"], Text, "size checked before the value is built"),
    f(&["LPAD", "RPAD"], Text, "cut to the length when longer; size checked"),
    f(&["STRTOK"], Text, "`(s [, delimiters [, part]])`, empty tokens skipped, NULL past the last"),
    f(&["INITCAP"], Text, "`(s [, delimiters])`, Snowflake's delimiters by default"),
    f(&["CHARINDEX", "POSITION"], Text, "`(needle, s [, start])`; `POSITION(a IN b)` too"),
    f(&["SPLIT_PART"], Text, ""),
    f(
        &["REGEXP_LIKE", "RLIKE"],
        Regex,
        "whole-subject match; `x RLIKE p` and `x REGEXP p` too; parameters c, i, m, e, s",
    ),
    f(
        &["REGEXP_REPLACE"],
        Regex,
        "every match by default (occurrence 0); position, occurrence, parameters; `\\\\1` back references",
    ),
    f(&["REGEXP_SUBSTR"], Regex, "position, occurrence, parameters, group number (`e` implied)"),
    f(&["REGEXP_INSTR"], Regex, "position, occurrence, option 0 (start) or 1 (after the match), parameters, group"),
    f(&["REGEXP_COUNT"], Regex, "position, parameters"),
    f(&["MODE"], Aggregate, "the smallest of the most frequent values on a tie"),
    f(&["MEDIAN"], Aggregate, "NUMBER with three more decimal places, DOUBLE for DOUBLE"),
    f(
        &["VARIANCE", "VAR_SAMP", "VARIANCE_SAMP", "VAR_POP", "VARIANCE_POP"],
        Aggregate,
        "NUMBER with at least six decimal places for exact numbers; the sample variance of one value is NULL",
    ),
    f(&["BOOLAND_AGG", "BOOLOR_AGG"], Aggregate, "numbers count as booleans (0 is FALSE)"),
    f(&["LISTAGG"], Aggregate, "`WITHIN GROUP (ORDER BY ...)`"),
    f(&["COUNT_IF"], Aggregate, ""),
    f(&["APPROX_COUNT_DISTINCT"], Aggregate, ""),
    f(&["SHA2", "SHA2_HEX", "SHA2_BINARY"], HashRandom, "`(x [, 224 | 256 | 384 | 512])`, lower-case hex"),
    f(&["SHA1", "SHA1_HEX", "SHA1_BINARY", "MD5", "MD5_HEX", "MD5_BINARY"], HashRandom, "lower-case hex"),
    f(&["HASH"], HashRandom, "a stable signed 64-bit hash (xxHash64); the values differ from Snowflake's"),
    f(&["UUID_STRING"], HashRandom, "version 4, or version 5 with `(namespace, name)`"),
    f(
        &["RANDOM"],
        HashRandom,
        "a signed 64-bit integer; a seed repeats the sequence (restarted each batch); values differ from Snowflake's",
    ),
    f(&["UNIFORM"], HashRandom, "`(min, max, gen)`, an integer for integer bounds"),
];

/// The Snowflake functions the warehouse supports (those with an
/// implementation or a rewrite of their own, and the DataFusion built-ins
/// checked for Snowflake's semantics), as the README lists them.
pub fn supported_functions() -> &'static [SupportedFunction] {
    SUPPORTED
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README section: one table, by family.
    fn render() -> String {
        let mut rows: Vec<&SupportedFunction> = SUPPORTED.iter().collect();
        rows.sort_by_key(|s| s.family);
        let mut out = String::from("| family | function | notes |\n|---|---|---|\n");
        for s in rows {
            let names: Vec<String> = s.names.iter().map(|n| format!("`{n}`")).collect();
            let notes = s.notes.replace('|', "\\|");
            out.push_str(&format!("| {} | {} | {notes} |\n", s.family.title(), names.join(", ")));
        }
        out
    }

    const START: &str = "<!-- functions:start (generated by src/functions/supported.rs; UPDATE_README=1 cargo test -p komodo-warehouse readme_lists_the_functions) -->\n";
    const END: &str = "<!-- functions:end -->";

    #[test]
    fn readme_lists_the_functions() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let start = readme.find(START).expect("the README has the functions section's start marker") + START.len();
        let end = readme[start..].find(END).expect("the README has the functions section's end marker") + start;
        let rendered = render();
        if readme[start..end] == rendered {
            return;
        }
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{}{}", &readme[..start], rendered, &readme[end..]);
            std::fs::write(&path, updated).unwrap();
            return;
        }
        panic!(
            "the README's list of functions differs from src/functions/supported.rs: run UPDATE_README=1 cargo test -p komodo-warehouse readme_lists_the_functions"
        );
    }

    #[test]
    fn names_are_listed_once() {
        let mut names: Vec<&str> = SUPPORTED.iter().flat_map(|s| s.names.iter().copied()).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a name is listed twice");
    }

    #[test]
    fn every_registered_function_is_listed() {
        let listed: Vec<String> =
            SUPPORTED.iter().flat_map(|s| s.names.iter().map(|n| n.to_ascii_lowercase())).collect();
        let mut missing = Vec::new();
        // `__komodo_*` functions are the rewrites' own, not Snowflake's.
        for name in super::super::registered_names().into_iter().filter(|n| !n.starts_with("__")) {
            if !listed.contains(&name) {
                missing.push(name);
            }
        }
        assert!(missing.is_empty(), "registered but not in SUPPORTED: {missing:?}");
    }
}
