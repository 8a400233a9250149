//! The token pass: unquoted identifiers UPPERCASE, placeholders numbered,
//! the text copied byte for byte otherwise, in time linear in its length.

use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::WarehouseError;

/// The result of [`prepare`]: SQL text for DataFusion's parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prepared {
    pub(crate) sql: String,
}

/// Turns the tokenizer's positions (1-based line, 1-based column counted in
/// characters) into byte offsets of the text, in one pass over it: the
/// positions asked for never go backwards (tokens come in order), so the
/// cursor only moves forward and the whole statement costs time linear in
/// its length (SECURITY.md F01). Counting each column from the start of its
/// line instead made a long one-line statement quadratic.
pub(crate) struct Offsets<'a> {
    sql: &'a str,
    line: u64,
    column: u64,
    byte: usize,
}

impl<'a> Offsets<'a> {
    pub(crate) fn new(sql: &'a str) -> Self {
        Self { sql, line: 1, column: 1, byte: 0 }
    }

    /// The byte offset of `(line, column)`; `None` for a position outside
    /// the text (the tokenizer's empty location, or one before the cursor).
    pub(crate) fn at(&mut self, line: u64, column: u64) -> Option<usize> {
        if line == 0 || column == 0 || (line, column) < (self.line, self.column) {
            return None;
        }
        let rest = &self.sql[self.byte..];
        let mut chars = rest.char_indices();
        let base = self.byte;
        while (self.line, self.column) < (line, column) {
            let Some((i, c)) = chars.next() else { break };
            self.byte = base + i + c.len_utf8();
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        Some(self.byte)
    }
}

/// The most binary operators (`+`, `=`, `AND`, ...) one statement may have:
/// operator chains parse into trees as deep as they are long, and planning
/// them takes time and stack quadratic in their depth.
pub(crate) const MAX_OPERATORS: usize = 1_000;

/// Token pass: uppercase unquoted identifiers and keywords, number the
/// placeholders. String literals and quoted identifiers are untouched.
pub(crate) fn prepare(sql: &str) -> Result<Prepared, WarehouseError> {
    let dialect = SnowflakeDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| WarehouseError::Compilation(e.to_string()))?;
    let operators = tokens
        .iter()
        .filter(|t| match &t.token {
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq => true,
            Token::Word(w) => w.quote_style.is_none() && matches!(w.keyword, Keyword::AND | Keyword::OR),
            _ => false,
        })
        .count();
    if operators > MAX_OPERATORS {
        return Err(WarehouseError::Compilation(format!(
            "statement too complex: {operators} operators, at most {MAX_OPERATORS} are allowed (use IN lists or a temporary table)"
        )));
    }
    let mut offsets = Offsets::new(sql);
    let mut out = String::with_capacity(sql.len() + 8);
    let mut copied = 0usize;
    let mut next_question = 0usize;
    // Inside a path into a semi-structured value (`v:Name.first[0]`), whose
    // keys keep their case: JSON keys are case-sensitive.
    let mut in_path = false;
    // Inside a stage reference (`@stage/Path/File.csv`): the stage's name
    // is an identifier, the path after it keeps its case (file names are
    // case-sensitive). `None` outside one, `Some(false)` in the name,
    // `Some(true)` in the path.
    let mut stage: Option<bool> = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let adjacent = i > 0 && tokens[i - 1].span.end == t.span.start;
        stage = match (&t.token, stage) {
            (Token::AtSign, _) => Some(false),
            (Token::Div, Some(_)) if adjacent => Some(true),
            (Token::Whitespace(_), _) => None,
            (_, Some(part)) if adjacent => Some(part),
            _ => None,
        };
        in_path = match &t.token {
            Token::Word(_) | Token::Period | Token::LBracket | Token::RBracket | Token::Number(..) => {
                in_path
                    || (matches!(t.token, Token::Word(_))
                        && i > 0
                        && tokens[i - 1].token == Token::Colon
                        && tokens[i - 1].span.end == t.span.start)
            }
            Token::SingleQuotedString(_) => in_path,
            _ => false,
        };
        let start = offsets.at(t.span.start.line, t.span.start.column);
        let end = offsets.at(t.span.end.line, t.span.end.column);
        let (Some(start), Some(end)) = (start, end) else {
            i += 1;
            continue;
        };
        let replacement = match &t.token {
            Token::Word(w) if w.quote_style.is_none() && !in_path && stage != Some(true) => {
                Some((end, w.value.to_uppercase()))
            }
            Token::Placeholder(p) if p.starts_with('?') => {
                let n = if p.len() > 1 {
                    p[1..].to_owned()
                } else {
                    next_question += 1;
                    next_question.to_string()
                };
                Some((end, format!("${n}")))
            }
            Token::Colon => match tokens.get(i + 1) {
                Some(next)
                    if matches!(&next.token, Token::Number(n, false) if n.chars().all(|c| c.is_ascii_digit()))
                        && next.span.start == t.span.end =>
                {
                    let Token::Number(n, _) = &next.token else { unreachable!() };
                    let next_end = offsets.at(next.span.end.line, next.span.end.column);
                    i += 1;
                    next_end.map(|e| (e, format!("${n}")))
                }
                _ => None,
            },
            _ => None,
        };
        if let Some((end, text)) = replacement
            && start >= copied
        {
            out.push_str(&sql[copied..start]);
            out.push_str(&text);
            copied = end;
        }
        i += 1;
    }
    out.push_str(&sql[copied..]);
    Ok(Prepared { sql: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_uppercased_strings_are_not() {
        let p = prepare("select a, \"b\" from demo.healthcare.claims where x = 'it''s lower' -- c\n").unwrap();
        assert_eq!(p.sql, "SELECT A, \"b\" FROM DEMO.HEALTHCARE.CLAIMS WHERE X = 'it''s lower' -- c\n");
    }

    #[test]
    fn placeholders_are_numbered() {
        assert_eq!(prepare("select ?, ? where a = ?").unwrap().sql, "SELECT $1, $2 WHERE A = $3");
        assert_eq!(prepare("select :2, :1").unwrap().sql, "SELECT $2, $1");
        assert_eq!(prepare("select '?', ':1'").unwrap().sql, "SELECT '?', ':1'");
        assert_eq!(prepare("select x::int").unwrap().sql, "SELECT X::INT");
    }

    #[test]
    fn paths_into_variants_keep_their_case() {
        assert_eq!(
            prepare("select v:Name.first[0]::string, t.v:a, x from t").unwrap().sql,
            "SELECT V:Name.first[0]::STRING, T.V:a, X FROM T"
        );
        assert_eq!(prepare("select v['Key'], v:k1 as k").unwrap().sql, "SELECT V['Key'], V:k1 AS K");
    }

    #[test]
    fn stage_paths_keep_their_case() {
        let p = prepare("copy into t from @stage/Dir/File.csv pattern = '.*' file_format = (type = csv)").unwrap();
        assert_eq!(p.sql, "COPY INTO T FROM @STAGE/Dir/File.csv PATTERN = '.*' FILE_FORMAT = (TYPE = CSV)");
        assert_eq!(prepare("list @~/Data").unwrap().sql, "LIST @~/Data");
        assert_eq!(prepare("list @%orders").unwrap().sql, "LIST @%ORDERS");
        assert_eq!(prepare("remove @db.sc.st/a/B").unwrap().sql, "REMOVE @DB.SC.ST/a/B");
    }

    #[test]
    fn multi_line_and_unicode_offsets() {
        let p = prepare("select 'é', x_col,\n  'ü' y\nfrom t").unwrap();
        assert_eq!(p.sql, "SELECT 'é', X_COL,\n  'ü' Y\nFROM T");
    }

    proptest::proptest! {
        /// I01: the token pass never panics, and string literals survive it byte for byte.
        #[test]
        fn prepare_never_panics(sql in "\\PC{0,200}", literal in "[^'\\\\]{0,40}") {
            let _ = prepare(&sql);
            let text = format!("select '{literal}', {sql}");
            if let Ok(p) = prepare(&text) {
                proptest::prop_assert!(p.sql.starts_with(&format!("SELECT '{literal}'")), "{}", p.sql);
            }
        }
    }

    #[test]
    fn too_many_operators_is_a_compilation_error() {
        let sql = format!("select 1{}", " + 1".repeat(MAX_OPERATORS + 1));
        assert!(matches!(prepare(&sql), Err(WarehouseError::Compilation(m)) if m.contains("too complex")));
    }
}
