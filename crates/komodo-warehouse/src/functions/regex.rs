//! Snowflake's regular expression functions: `REGEXP_LIKE`/`RLIKE`,
//! `REGEXP_REPLACE`, `REGEXP_SUBSTR`, `REGEXP_INSTR` and `REGEXP_COUNT`,
//! with Snowflake's arguments and defaults:
//!
//! - `position` (1-based, in characters, default 1): where the search
//!   starts; what lies before it is kept as it is;
//! - `occurrence`: which match (`REGEXP_REPLACE`: 0, the default, replaces
//!   every match; the others default to the first);
//! - `parameters` (default `'c'`): `c` case-sensitive, `i` case-insensitive
//!   (the last of the two wins), `m` multi-line (`^` and `$` at line
//!   ends), `s` (`.` matches a newline), `e` (extract a group);
//! - `group_num` (`REGEXP_SUBSTR`, `REGEXP_INSTR`): the group to return,
//!   which implies `e`; `e` alone means group 1.
//!
//! `REGEXP_LIKE` matches the whole subject (Snowflake anchors the pattern
//! at both ends). Replacements refer to groups as `\1` ... `\9` (in SQL
//! text `'\\1'`). Any NULL argument makes the result NULL.
//!
//! Patterns are Rust's `regex` syntax, which covers POSIX ERE; the Perl
//! classes `\d`, `\w`, `\s` and `\b` are ASCII, as Snowflake defines
//! them. Alternation prefers the leftmost alternative (`'a|ab'` matches
//! `a` in `ab`) where POSIX prefers the longest. Matching takes time
//! linear in the subject and no memory per match; `REGEXP_REPLACE`
//! measures its result before building it (SECURITY.md F05).

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, Int64Array, StringArray};
use arrow_schema::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use regex::{CaptureLocations, Regex, RegexBuilder};

use super::Limits;
use super::args::{arity, arrays, execution, i64_at, int64s, str_at, strings, upper};

/// Which of the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// `REGEXP_LIKE(subject, pattern [, parameters])`, also `RLIKE`.
    Like,
    /// `REGEXP_REPLACE(subject, pattern [, replacement [, position [, occurrence [, parameters]]]])`.
    Replace,
    /// `REGEXP_SUBSTR(subject, pattern [, position [, occurrence [, parameters [, group_num]]]])`.
    Substr,
    /// `REGEXP_INSTR(subject, pattern [, position [, occurrence [, option [, parameters [, group_num]]]]])`.
    Instr,
    /// `REGEXP_COUNT(subject, pattern [, position [, parameters]])`.
    Count,
}

/// An optional argument after the subject and the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    Replacement,
    Position,
    Occurrence,
    Option,
    Parameters,
    Group,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Like => "regexp_like",
            Kind::Replace => "regexp_replace",
            Kind::Substr => "regexp_substr",
            Kind::Instr => "regexp_instr",
            Kind::Count => "regexp_count",
        }
    }

    /// The optional arguments, in order.
    fn optional(self) -> &'static [Arg] {
        use Arg::*;
        match self {
            Kind::Like => &[Parameters],
            Kind::Replace => &[Replacement, Position, Occurrence, Parameters],
            Kind::Substr => &[Position, Occurrence, Parameters, Group],
            Kind::Instr => &[Position, Occurrence, Option, Parameters, Group],
            Kind::Count => &[Position, Parameters],
        }
    }
}

/// One of the regular expression functions.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Regexp {
    kind: Kind,
    signature: Signature,
    aliases: Vec<String>,
    limits: Limits,
}

impl Regexp {
    pub(crate) fn new(kind: Kind, limits: Limits) -> Self {
        let aliases = match kind {
            Kind::Like => vec!["rlike".to_owned()],
            _ => vec![],
        };
        Self { kind, signature: Signature::user_defined(Volatility::Immutable), aliases, limits }
    }
}

/// What `parameters` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
struct Flags {
    case_insensitive: bool,
    multi_line: bool,
    dot_all: bool,
    extract: bool,
}

fn parse_flags(function: &str, parameters: &str) -> Result<Flags> {
    let mut flags = Flags::default();
    for c in parameters.chars() {
        match c {
            'c' => flags.case_insensitive = false,
            'i' => flags.case_insensitive = true,
            'm' => flags.multi_line = true,
            's' => flags.dot_all = true,
            'e' => flags.extract = true,
            other => {
                return Err(execution(format!(
                    "Invalid regular expression parameter '{other}' for function '{}': \
                     the parameters are c, i, m, e and s",
                    upper(function)
                )));
            }
        }
    }
    Ok(flags)
}

/// The last compiled pattern, reused while the pattern and flags stay the
/// same (they are constants in almost every call).
#[derive(Default)]
struct Compiled {
    key: Option<(String, Flags)>,
    regex: Option<Regex>,
}

impl Compiled {
    fn get(&mut self, pattern: &str, flags: Flags, anchored: bool) -> Result<&Regex> {
        let fresh = !matches!(&self.key, Some((p, f)) if p == pattern && *f == flags);
        if fresh || self.regex.is_none() {
            let pattern_text = ascii_classes(pattern);
            let source = if anchored { format!(r"\A(?:{pattern_text})\z") } else { pattern_text };
            let regex = RegexBuilder::new(&source)
                .case_insensitive(flags.case_insensitive)
                .multi_line(flags.multi_line)
                .dot_matches_new_line(flags.dot_all)
                .size_limit(1 << 24)
                .build()
                .map_err(|e| {
                    let reason = e.to_string();
                    let reason = reason.lines().last().unwrap_or_default().trim_start_matches("error: ").to_owned();
                    execution(format!("Invalid regular expression: '{pattern}', {reason}"))
                })?;
            self.key = Some((pattern.to_owned(), flags));
            self.regex = Some(regex);
        }
        self.regex.as_ref().ok_or_else(|| execution("Invalid regular expression"))
    }
}

/// `pattern` with the Perl classes as Snowflake defines them, ASCII
/// only: `\w` is `[0-9A-Za-z_]`, `\d` is `[0-9]`, `\s` the six ASCII
/// spaces, `\b` a boundary between those word characters and others (the
/// `regex` crate's are Unicode-aware).
fn ascii_classes(pattern: &str) -> String {
    const WORD: &str = "0-9A-Za-z_";
    const SPACE: &str = r"\t\n\x0B\x0C\r ";
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut in_class = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('w') => out.push_str(&format!("[{WORD}]")),
                Some('W') => out.push_str(&format!("[^{WORD}]")),
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('s') => out.push_str(&format!("[{SPACE}]")),
                Some('S') => out.push_str(&format!("[^{SPACE}]")),
                Some('b') if in_class == 0 => out.push_str(r"(?-u:\b)"),
                Some('B') if in_class == 0 => out.push_str(r"(?-u:\B)"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' => {
                in_class += 1;
                out.push(c);
            }
            ']' if in_class > 0 => {
                in_class -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The byte offset of the 1-based character position `position` in `s`;
/// `None` past the end (one past the last character is the end itself).
fn byte_offset(s: &str, position: i64) -> Option<usize> {
    let n = usize::try_from(position - 1).ok()?;
    if n == 0 {
        return Some(0);
    }
    match s.char_indices().nth(n) {
        Some((i, _)) => Some(i),
        None if s.chars().count() == n => Some(s.len()),
        None => None,
    }
}

/// The 1-based character position of byte offset `byte`.
fn char_position(s: &str, byte: usize) -> i64 {
    i64::try_from(s[..byte].chars().count()).unwrap_or(i64::MAX) + 1
}

/// Calls `f` with the groups of each match of `regex` in `s` from byte
/// `start` on, in order, until `f` answers `false`. An empty match moves
/// the search on by one character. The groups' locations are kept in one
/// buffer for all matches: a subject with millions of matches takes no
/// memory per match.
fn each_match(regex: &Regex, s: &str, start: usize, mut f: impl FnMut(&CaptureLocations) -> bool) {
    let mut locations = regex.capture_locations();
    let mut at = start;
    while at <= s.len() {
        let Some(whole) = regex.captures_read_at(&mut locations, s, at) else { break };
        let (begin, end) = (whole.start(), whole.end());
        if !f(&locations) {
            break;
        }
        at = if end > begin {
            end
        } else {
            match s[end..].chars().next() {
                Some(c) => end + c.len_utf8(),
                None => s.len() + 1,
            }
        };
    }
}

/// The groups of the `nth` (1-based) match, as byte ranges.
fn nth_match(regex: &Regex, s: &str, start: usize, nth: usize) -> Option<Vec<Option<(usize, usize)>>> {
    let mut seen = 0usize;
    let mut found = None;
    each_match(regex, s, start, |locations| {
        seen += 1;
        if seen == nth {
            found = Some((0..locations.len()).map(|g| locations.get(g)).collect());
            return false;
        }
        true
    });
    found
}

/// A replacement string: text and references to groups (`\1`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
}

fn parse_replacement(replacement: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(d) if d.is_ascii_digit() => {
                chars.next();
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Group(d.to_digit(10).map_or(0, |d| d as usize)));
            }
            Some('\\') => {
                chars.next();
                text.push('\\');
            }
            _ => text.push('\\'),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// The byte length of a replacement for a match with groups `group`.
fn expansion_len(pieces: &[Piece], group: impl Fn(usize) -> Option<(usize, usize)>) -> usize {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.len(),
            Piece::Group(g) => group(*g).map_or(0, |(a, b)| b - a),
        })
        .sum()
}

/// Appends the replacement for a match of `s` with groups `group`.
fn expand(pieces: &[Piece], s: &str, group: impl Fn(usize) -> Option<(usize, usize)>, out: &mut String) {
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Group(g) => out.push_str(group(*g).map_or("", |(a, b)| &s[a..b])),
        }
    }
}

/// The arguments of one row, NULL when any of them is.
struct Row<'a> {
    subject: &'a str,
    pattern: &'a str,
    replacement: &'a str,
    position: i64,
    occurrence: Option<i64>,
    option: i64,
    parameters: &'a str,
    group: Option<i64>,
}

/// The batch's arguments by role.
struct Columns<'a> {
    subject: &'a StringArray,
    pattern: &'a StringArray,
    optional: Vec<(Arg, Column<'a>)>,
}

enum Column<'a> {
    Text(&'a StringArray),
    Integer(&'a Int64Array),
}

impl<'a> Columns<'a> {
    fn new(kind: Kind, arrays: &'a [ArrayRef]) -> Result<Self> {
        let mut optional = Vec::new();
        for (arg, array) in kind.optional().iter().zip(&arrays[2..]) {
            let column = match arg {
                Arg::Replacement | Arg::Parameters => Column::Text(strings(array)?),
                _ => Column::Integer(int64s(array)?),
            };
            optional.push((*arg, column));
        }
        Ok(Self { subject: strings(&arrays[0])?, pattern: strings(&arrays[1])?, optional })
    }

    fn row(&self, i: usize) -> Option<Row<'a>> {
        let mut row = Row {
            subject: str_at(self.subject, i)?,
            pattern: str_at(self.pattern, i)?,
            replacement: "",
            position: 1,
            occurrence: None,
            option: 0,
            parameters: "c",
            group: None,
        };
        for (arg, column) in &self.optional {
            match (arg, column) {
                (Arg::Replacement, Column::Text(a)) => row.replacement = str_at(a, i)?,
                (Arg::Parameters, Column::Text(a)) => row.parameters = str_at(a, i)?,
                (Arg::Position, Column::Integer(a)) => row.position = i64_at(a, i)?,
                (Arg::Occurrence, Column::Integer(a)) => row.occurrence = Some(i64_at(a, i)?),
                (Arg::Option, Column::Integer(a)) => row.option = i64_at(a, i)?,
                (Arg::Group, Column::Integer(a)) => row.group = Some(i64_at(a, i)?),
                _ => {}
            }
        }
        Some(row)
    }
}

/// The 1-based index of an optional argument among all arguments, for
/// messages.
fn parameter_number(kind: Kind, arg: Arg) -> usize {
    kind.optional().iter().position(|a| *a == arg).map_or(0, |i| i + 3)
}

impl Regexp {
    fn invalid(&self, arg: Arg, value: i64, rule: &str) -> datafusion::error::DataFusionError {
        execution(format!(
            "Invalid value [{value}] for function '{}', parameter {}: {rule}",
            upper(self.kind.name()),
            parameter_number(self.kind, arg)
        ))
    }

    /// The group a row extracts: `group_num` when given (it implies `e`),
    /// group 1 for `e` alone (the whole match when the pattern has no
    /// group), the whole match otherwise.
    fn group(&self, regex: &Regex, row: &Row<'_>, flags: Flags) -> Result<usize> {
        let groups = regex.captures_len() - 1;
        match row.group {
            Some(g) if g < 0 => Err(self.invalid(Arg::Group, g, "must be a non-negative integer")),
            Some(g) => {
                let g = usize::try_from(g).unwrap_or(usize::MAX);
                if g > groups {
                    return Err(self.invalid(
                        Arg::Group,
                        i64::try_from(g).unwrap_or(i64::MAX),
                        &format!("the pattern has {groups} group(s)"),
                    ));
                }
                Ok(g)
            }
            None if flags.extract && groups > 0 => Ok(1),
            None => Ok(0),
        }
    }

    fn start(&self, row: &Row<'_>) -> Result<Option<usize>> {
        if row.position < 1 {
            return Err(self.invalid(Arg::Position, row.position, "must be a positive integer"));
        }
        Ok(byte_offset(row.subject, row.position))
    }

    /// `occurrence` for the functions that look for one match.
    fn nth(&self, row: &Row<'_>) -> Result<usize> {
        match row.occurrence {
            None => Ok(1),
            Some(n) if n < 1 => Err(self.invalid(Arg::Occurrence, n, "must be a positive integer")),
            Some(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        }
    }
}

impl ScalarUDFImpl for Regexp {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let optional = self.kind.optional();
        arity(&upper(self.kind.name()), arg_types.len(), 2, 2 + optional.len())?;
        let mut types = vec![DataType::Utf8, DataType::Utf8];
        for arg in &optional[..arg_types.len() - 2] {
            types.push(match arg {
                Arg::Replacement | Arg::Parameters => DataType::Utf8,
                _ => DataType::Int64,
            });
        }
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Like => DataType::Boolean,
            Kind::Replace | Kind::Substr => DataType::Utf8,
            Kind::Instr | Kind::Count => DataType::Int64,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = arrays(&args)?;
        let columns = Columns::new(self.kind, &arrays)?;
        let rows = args.number_rows;
        let mut compiled = Compiled::default();
        let name = self.kind.name();
        let out: ArrayRef = match self.kind {
            Kind::Like => {
                let mut out = BooleanBuilder::with_capacity(rows);
                for i in 0..rows {
                    let Some(row) = columns.row(i) else {
                        out.append_null();
                        continue;
                    };
                    let flags = parse_flags(name, row.parameters)?;
                    out.append_value(compiled.get(row.pattern, flags, true)?.is_match(row.subject));
                }
                Arc::new(out.finish())
            }
            Kind::Count => {
                let mut out = Int64Builder::with_capacity(rows);
                for i in 0..rows {
                    let Some(row) = columns.row(i) else {
                        out.append_null();
                        continue;
                    };
                    let flags = parse_flags(name, row.parameters)?;
                    let regex = compiled.get(row.pattern, flags, false)?;
                    let mut count = 0usize;
                    if let Some(start) = self.start(&row)? {
                        each_match(regex, row.subject, start, |_| {
                            count += 1;
                            true
                        });
                    }
                    out.append_value(i64::try_from(count).unwrap_or(i64::MAX));
                }
                Arc::new(out.finish())
            }
            Kind::Substr | Kind::Instr => {
                let mut text = StringBuilder::new();
                let mut numbers = Int64Builder::with_capacity(rows);
                for i in 0..rows {
                    let Some(row) = columns.row(i) else {
                        text.append_null();
                        numbers.append_null();
                        continue;
                    };
                    let flags = parse_flags(name, row.parameters)?;
                    let regex = compiled.get(row.pattern, flags, false)?;
                    let nth = self.nth(&row)?;
                    let group = self.group(regex, &row, flags)?;
                    if self.kind == Kind::Instr && !matches!(row.option, 0 | 1) {
                        return Err(self.invalid(Arg::Option, row.option, "must be 0 or 1"));
                    }
                    let found = match self.start(&row)? {
                        Some(start) => nth_match(regex, row.subject, start, nth),
                        None => None,
                    };
                    let m = found.as_ref().and_then(|groups| groups.get(group).copied().flatten());
                    text.append_option(m.map(|(a, b)| &row.subject[a..b]));
                    numbers.append_value(match m {
                        Some((_, end)) if row.option == 1 => char_position(row.subject, end),
                        Some((begin, _)) => char_position(row.subject, begin),
                        None => 0,
                    });
                }
                if self.kind == Kind::Substr { Arc::new(text.finish()) } else { Arc::new(numbers.finish()) }
            }
            Kind::Replace => {
                let mut out = StringBuilder::new();
                let mut total = 0usize;
                let mut pieces: Option<(String, Vec<Piece>)> = None;
                for i in 0..rows {
                    let Some(row) = columns.row(i) else {
                        out.append_null();
                        continue;
                    };
                    let flags = parse_flags(name, row.parameters)?;
                    let regex = compiled.get(row.pattern, flags, false)?;
                    let occurrence = match row.occurrence {
                        Some(n) if n < 0 => {
                            return Err(self.invalid(Arg::Occurrence, n, "must be a non-negative integer"));
                        }
                        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                        None => 0,
                    };
                    if !matches!(&pieces, Some((r, _)) if r == row.replacement) {
                        pieces = Some((row.replacement.to_owned(), parse_replacement(row.replacement)));
                    }
                    let replacement = pieces.as_ref().map_or(&[][..], |(_, p)| p.as_slice());
                    let Some(start) = self.start(&row)? else {
                        total = self.limits.check(row.subject.len(), total)?;
                        out.append_value(row.subject);
                        continue;
                    };
                    // The value's size is checked before it is built (SECURITY.md
                    // F05): one pass over the matches to measure, one to build.
                    let value = if occurrence > 0 {
                        let Some(groups) = nth_match(regex, row.subject, start, occurrence) else {
                            total = self.limits.check(row.subject.len(), total)?;
                            out.append_value(row.subject);
                            continue;
                        };
                        let group = |g: usize| groups.get(g).copied().flatten();
                        let (begin, end) = group(0).unwrap_or((0, 0));
                        let len = row.subject.len() - (end - begin) + expansion_len(replacement, group);
                        total = self.limits.check(len, total)?;
                        let mut value = String::with_capacity(len);
                        value.push_str(&row.subject[..begin]);
                        expand(replacement, row.subject, group, &mut value);
                        value.push_str(&row.subject[end..]);
                        value
                    } else {
                        let mut len = row.subject.len();
                        each_match(regex, row.subject, start, |locations| {
                            let (begin, end) = locations.get(0).unwrap_or((0, 0));
                            len = len
                                .saturating_sub(end - begin)
                                .saturating_add(expansion_len(replacement, |g| locations.get(g)));
                            true
                        });
                        total = self.limits.check(len, total)?;
                        let mut value = String::with_capacity(len);
                        let mut copied = 0;
                        each_match(regex, row.subject, start, |locations| {
                            let (begin, end) = locations.get(0).unwrap_or((0, 0));
                            value.push_str(&row.subject[copied..begin]);
                            expand(replacement, row.subject, |g| locations.get(g), &mut value);
                            copied = end;
                            true
                        });
                        value.push_str(&row.subject[copied..]);
                        value
                    };
                    out.append_value(value);
                }
                Arc::new(out.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacements_refer_to_groups() {
        assert_eq!(
            parse_replacement(r"\3, \1 \\2x\q"),
            vec![Piece::Group(3), Piece::Text(", ".into()), Piece::Group(1), Piece::Text(r" \2x\q".into()),]
        );
    }

    #[test]
    fn positions_are_characters() {
        assert_eq!(byte_offset("héllo", 1), Some(0));
        assert_eq!(byte_offset("héllo", 3), Some(3));
        assert_eq!(byte_offset("héllo", 6), Some(6));
        assert_eq!(byte_offset("héllo", 7), None);
        assert_eq!(char_position("héllo", 3), 3);
    }

    #[test]
    fn empty_matches_move_on() {
        let re = Regex::new("x*").unwrap();
        let count = |s: &str| {
            let mut n = 0;
            each_match(&re, s, 0, |_| {
                n += 1;
                true
            });
            n
        };
        assert_eq!(count("ab"), 3);
        assert_eq!(count("é"), 2);
        assert_eq!(nth_match(&re, "ab", 0, 2), Some(vec![Some((1, 1))]));
        assert_eq!(nth_match(&re, "ab", 0, 4), None);
    }

    #[test]
    fn perl_classes_are_ascii() {
        assert_eq!(ascii_classes(r"\w+\\d"), r"[0-9A-Za-z_]+\\d");
        assert_eq!(ascii_classes(r"[\d.]\b"), r"[[0-9].](?-u:\b)");
        let re = Regex::new(&ascii_classes(r"\w+")).unwrap();
        assert_eq!(re.find("é1_a").map(|m| m.as_str()), Some("1_a"));
        assert!(Regex::new(&ascii_classes(r"\bx\B[\W\S]")).is_ok());
    }

    #[test]
    fn flags() {
        let f = parse_flags("regexp_like", "ice").unwrap();
        assert!(!f.case_insensitive && f.extract);
        assert!(parse_flags("regexp_like", "q").is_err());
    }
}
