//! Bindings written into the text where no plan can take them.
//!
//! Values are bound on the logical plan everywhere a plan is made. Some
//! statements bind where there is none: `IDENTIFIER(?)` names an object
//! (`DROP TABLE IF EXISTS IDENTIFIER(?)`, what snowflake-connector-python's
//! `write_pandas` sends), commands such as `COPY ... ON_ERROR = ?` are not
//! planned, and a table function's arguments (`TABLE(INFER_SCHEMA(LOCATION
//! => ?))`) are read before planning. There, and only there, a bound value
//! becomes text:
//!
//! - `IDENTIFIER(?)`: the value must be an object name (`t`, `"My T"`,
//!   `db.schema.t`); it is parsed as one and written back as the parser
//!   read it, so nothing but a name can enter the statement.
//! - elsewhere: a string literal (quotes and backslashes escaped), a
//!   number checked to be one, `TRUE`/`FALSE`, or `NULL`; dates, times and
//!   binaries stay bindings.

use std::borrow::Cow;

use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use super::prepare::Offsets;
use crate::WarehouseError;
use crate::params::Param;

/// Writes the bindings described above into `sql`; returns the statement
/// and the bindings left for the plan (in order).
pub(crate) fn inline_binds(sql: &str, params: Vec<Param>) -> Result<(Cow<'_, str>, Vec<Param>), WarehouseError> {
    if params.is_empty() || !sql.contains('?') {
        return Ok((Cow::Borrowed(sql), params));
    }
    let dialect = SnowflakeDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| WarehouseError::Compilation(e.to_string()))?;
    // Numbered placeholders (`:1`, `?2`) name their values: leave them.
    if tokens.iter().any(|t| matches!(&t.token, Token::Placeholder(p) if p.len() > 1 && p.starts_with(['?', ':']))) {
        return Ok((Cow::Borrowed(sql), params));
    }
    let significant: Vec<&TokenWithSpan> =
        tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF)).collect();
    let planned = significant.first().is_some_and(|t| match &t.token {
        Token::Word(w) => matches!(
            w.keyword,
            Keyword::SELECT
                | Keyword::WITH
                | Keyword::INSERT
                | Keyword::UPDATE
                | Keyword::DELETE
                | Keyword::MERGE
                | Keyword::VALUES
        ),
        Token::LParen => true,
        _ => false,
    });
    let mut offsets = Offsets::new(sql);
    let mut out = String::with_capacity(sql.len() + 32);
    let mut copied = 0usize;
    let mut kept = Vec::new();
    let mut params = params.into_iter();
    // The depth of parentheses, and the depths at which a `TABLE(` opened.
    let mut depth = 0usize;
    let mut table_calls: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < significant.len() {
        let t = significant[i];
        match &t.token {
            Token::LParen => {
                depth += 1;
                if i > 0 && matches!(&significant[i - 1].token, Token::Word(w) if w.keyword == Keyword::TABLE) {
                    table_calls.push(depth);
                }
            }
            Token::RParen => {
                if table_calls.last() == Some(&depth) {
                    table_calls.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Placeholder(p) if p == "?" => {
                let Some(param) = params.next() else {
                    return Err(WarehouseError::Binding("more ? than bound values".into()));
                };
                let identifier = i >= 2
                    && significant[i - 1].token == Token::LParen
                    && matches!(&significant[i - 2].token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("IDENTIFIER"))
                    && significant.get(i + 1).is_some_and(|n| n.token == Token::RParen);
                let (from, to, text) = if identifier {
                    (significant[i - 2], significant[i + 1], Some(object_name(&param)?))
                } else if !planned || !table_calls.is_empty() {
                    (t, t, literal(&param))
                } else {
                    (t, t, None)
                };
                let Some(text) = text else {
                    kept.push(param);
                    i += 1;
                    continue;
                };
                let start = offsets.at(from.span.start.line, from.span.start.column);
                let end = offsets.at(to.span.end.line, to.span.end.column);
                let (Some(start), Some(end)) = (start, end) else {
                    return Err(WarehouseError::Internal("a placeholder's position is outside the statement".into()));
                };
                out.push_str(&sql[copied..start]);
                out.push_str(&text);
                copied = end;
                if identifier {
                    // The IDENTIFIER's `(` opened and its `)` closes here.
                    depth = depth.saturating_sub(1);
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    kept.extend(params);
    if copied == 0 {
        return Ok((Cow::Borrowed(sql), kept));
    }
    out.push_str(&sql[copied..]);
    Ok((Cow::Owned(out), kept))
}

/// A bound object name, parsed and written back as the parser read it.
fn object_name(param: &Param) -> Result<String, WarehouseError> {
    let invalid = |why: &str| WarehouseError::Binding(format!("IDENTIFIER(?) takes an object name: {why}"));
    let text = param.value.as_deref().ok_or_else(|| invalid("the value is NULL"))?;
    if !matches!(param.type_name.to_ascii_uppercase().as_str(), "TEXT" | "ANY") {
        return Err(invalid(&format!("a {} value is not one", param.type_name)));
    }
    let dialect = SnowflakeDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text).map_err(|e| invalid(&e.to_string()))?;
    let name = parser.parse_object_name(false).map_err(|_| invalid(&format!("{text:?} is not one")))?;
    let plain = name.0.iter().all(|part| part.as_ident().is_some_and(|id| matches!(id.quote_style, None | Some('"'))));
    if parser.peek_token_ref().token != Token::EOF || !plain {
        return Err(invalid(&format!("{text:?} is not one")));
    }
    Ok(name.to_string())
}

/// A bound value as a literal, or `None` when it stays a binding.
fn literal(param: &Param) -> Option<String> {
    let Some(value) = param.value.as_deref() else { return Some("NULL".into()) };
    match param.type_name.to_ascii_uppercase().as_str() {
        "TEXT" | "ANY" => Some(format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))),
        "FIXED" | "REAL" => {
            let number = value.parse::<f64>().is_ok_and(f64::is_finite)
                && value.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
            number.then(|| value.to_owned())
        }
        "BOOLEAN" => match value.to_ascii_lowercase().as_str() {
            "true" | "1" => Some("TRUE".into()),
            "false" | "0" => Some("FALSE".into()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(sql: &str, params: Vec<Param>) -> (String, Vec<Param>) {
        let (sql, kept) = inline_binds(sql, params).unwrap();
        (sql.into_owned(), kept)
    }

    #[test]
    fn identifiers_take_names_and_nothing_else() {
        let (sql, kept) = inline(
            "DROP TABLE IF EXISTS identifier( ? ) /* c */",
            vec![Param::text("\"DB\".\"S\".\"SNOWPARK_TEMP_TABLE_1\"")],
        );
        assert_eq!(sql, "DROP TABLE IF EXISTS \"DB\".\"S\".\"SNOWPARK_TEMP_TABLE_1\" /* c */");
        assert!(kept.is_empty());
        let (sql, _) =
            inline("ALTER TABLE identifier(?) RENAME TO identifier(?)", vec![Param::text("a"), Param::text("b.c")]);
        assert_eq!(sql, "ALTER TABLE a RENAME TO b.c");
        for hostile in ["t; DROP TABLE x", "t) UNION SELECT 1 --", "'t'", ""] {
            let err = inline_binds("SELECT * FROM identifier(?)", vec![Param::text(hostile)]).unwrap_err();
            assert!(err.to_string().contains("object name"), "{hostile}: {err}");
        }
        assert!(inline_binds("TRUNCATE identifier(?)", vec![Param::fixed(1)]).is_err());
    }

    #[test]
    fn commands_and_table_functions_take_literals_queries_keep_bindings() {
        let (sql, kept) = inline(
            "COPY INTO identifier(?) FROM @s PURGE=TRUE ON_ERROR=?",
            vec![Param::text("T"), Param::text("abort_statement")],
        );
        assert_eq!(sql, "COPY INTO T FROM @s PURGE=TRUE ON_ERROR='abort_statement'");
        assert!(kept.is_empty());
        let (sql, kept) = inline(
            "SELECT COLUMN_NAME, TYPE FROM table(infer_schema(location=>?, file_format=>?)) WHERE x = ?",
            vec![Param::text("@\"S\""), Param::text("it's \\"), Param::fixed(3)],
        );
        assert_eq!(
            sql,
            "SELECT COLUMN_NAME, TYPE FROM table(infer_schema(location=>'@\"S\"', file_format=>'it''s \\\\')) WHERE x = ?"
        );
        assert_eq!(kept, vec![Param::fixed(3)]);
        // A query's own values stay bindings, untouched.
        let (sql, kept) = inline("select ?, '?' from identifier(?)", vec![Param::fixed(1), Param::text("T")]);
        assert_eq!(sql, "select ?, '?' from T");
        assert_eq!(kept, vec![Param::fixed(1)]);
        let (sql, kept) = inline("select :1", vec![Param::fixed(1)]);
        assert_eq!((sql.as_str(), kept.len()), ("select :1", 1));
        assert_eq!(literal(&Param::new("FIXED", Some("1; DROP".into()))), None);
        assert_eq!(literal(&Param::new("TEXT", None)).as_deref(), Some("NULL"));
        assert!(inline_binds("COPY INTO t FROM @s ON_ERROR = ?", vec![]).is_ok());
        assert!(inline_binds("TRUNCATE identifier(?) x ?", vec![Param::text("t")]).is_err());
    }
}
