//! The dialect statements are parsed with: Snowflake's, under a work budget.
//!
//! sqlparser 0.62 backtracks exponentially on some malformed input: when a
//! keyword that opens an expression (`CASE`, `CAST`, `CEIL`, `POSITION`,
//! `INTERVAL`, ...) fails to parse, it parses the same tokens again with
//! the keyword as an identifier, so each level of nesting doubles the work
//! (`SELECT CASE WHEN 1 = 1 THEN ` repeated 30 times, then `)`, never
//! finishes), and `x-not-b.` chains do the same through compound
//! identifiers. Later sqlparser releases cache these failures; until
//! DataFusion moves to one, [`BudgetedSnowflake`] bounds the work.
//!
//! It is [`SnowflakeDialect`] in every respect (it reports Snowflake's type
//! id, so the parser's dialect checks treat it as Snowflake, and delegates
//! every method Snowflake overrides), except that it counts the parser's
//! calls to three hooks: `parse_prefix` (once before each expression is
//! parsed), `get_next_precedence` (once per operand parsed) and
//! `is_reserved_for_identifier` (once per keyword retried as an
//! identifier). A statement parses with a few calls per byte; past the
//! budget, the first two fail before any deeper parsing and the third
//! stops the retries, so the backtracking collapses and the parse ends
//! with an error that [`BudgetedSnowflake::exhausted`] explains.

use std::any::TypeId;
use std::cell::Cell;

use datafusion::sql::sqlparser::ast::{
    ColumnOption, Expr, Ident, ObjectName, ObjectNamePart, Set, ShowStatementFilter, Statement,
};
use datafusion::sql::sqlparser::dialect::{Dialect, SnowflakeDialect};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

/// Hook calls allowed per byte of the statement, on top of [`BASE_BUDGET`].
/// Ordinary statements need well under one per byte.
const BUDGET_PER_BYTE: u64 = 16;

/// Hook calls every statement may make, however short.
const BASE_BUDGET: u64 = 100_000;

/// [`SnowflakeDialect`] with a budget on the parser's work (see the module
/// documentation). One per parse: the count is never reset.
#[derive(Debug)]
pub(crate) struct BudgetedSnowflake {
    inner: SnowflakeDialect,
    calls: Cell<u64>,
    budget: u64,
}

impl BudgetedSnowflake {
    /// A dialect for parsing `sql`.
    pub(crate) fn for_statement(sql: &str) -> Self {
        let budget = BASE_BUDGET.saturating_add((sql.len() as u64).saturating_mul(BUDGET_PER_BYTE));
        Self { inner: SnowflakeDialect {}, calls: Cell::new(0), budget }
    }

    /// Whether the parse ran out of budget (its error then says little).
    pub(crate) fn exhausted(&self) -> bool {
        self.calls.get() > self.budget
    }

    /// Counts one hook call; `true` once the budget is spent.
    fn spend(&self) -> bool {
        self.calls.set(self.calls.get().saturating_add(1));
        self.exhausted()
    }

    #[cfg(test)]
    fn calls(&self) -> u64 {
        self.calls.get()
    }
}

impl Dialect for BudgetedSnowflake {
    fn dialect(&self) -> TypeId {
        TypeId::of::<SnowflakeDialect>()
    }

    // The two counted hooks.

    fn get_next_precedence(&self, parser: &Parser<'_>) -> Option<Result<u8, ParserError>> {
        if self.spend() {
            return Some(Err(ParserError::ParserError("statement too complex to parse".into())));
        }
        self.inner.get_next_precedence(parser)
    }

    fn is_reserved_for_identifier(&self, kw: Keyword) -> bool {
        self.spend() || self.inner.is_reserved_for_identifier(kw)
    }

    fn parse_prefix(&self, parser: &mut Parser<'_>) -> Option<Result<Expr, ParserError>> {
        if self.spend() {
            return Some(Err(ParserError::ParserError("statement too complex to parse".into())));
        }
        self.inner.parse_prefix(parser)
    }

    // Everything else SnowflakeDialect overrides, delegated unchanged.

    fn is_identifier_start(&self, ch: char) -> bool {
        self.inner.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.inner.is_identifier_part(ch)
    }
    fn supports_projection_trailing_commas(&self) -> bool {
        self.inner.supports_projection_trailing_commas()
    }
    fn supports_from_trailing_commas(&self) -> bool {
        self.inner.supports_from_trailing_commas()
    }
    fn supports_object_name_double_dot_notation(&self) -> bool {
        self.inner.supports_object_name_double_dot_notation()
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.inner.supports_string_literal_backslash_escape()
    }
    fn supports_within_after_array_aggregation(&self) -> bool {
        self.inner.supports_within_after_array_aggregation()
    }
    fn supports_outer_join_operator(&self) -> bool {
        self.inner.supports_outer_join_operator()
    }
    fn supports_connect_by(&self) -> bool {
        self.inner.supports_connect_by()
    }
    fn supports_execute_immediate(&self) -> bool {
        self.inner.supports_execute_immediate()
    }
    fn supports_match_recognize(&self) -> bool {
        self.inner.supports_match_recognize()
    }
    fn supports_dictionary_syntax(&self) -> bool {
        self.inner.supports_dictionary_syntax()
    }
    fn supports_window_function_null_treatment_arg(&self) -> bool {
        self.inner.supports_window_function_null_treatment_arg()
    }
    fn supports_parenthesized_set_variables(&self) -> bool {
        self.inner.supports_parenthesized_set_variables()
    }
    fn supports_comment_on(&self) -> bool {
        self.inner.supports_comment_on()
    }
    fn supports_extract_comma_syntax(&self) -> bool {
        self.inner.supports_extract_comma_syntax()
    }
    fn supports_subquery_as_function_arg(&self) -> bool {
        self.inner.supports_subquery_as_function_arg()
    }
    fn supports_create_view_comment_syntax(&self) -> bool {
        self.inner.supports_create_view_comment_syntax()
    }
    fn supports_array_typedef_without_element_type(&self) -> bool {
        self.inner.supports_array_typedef_without_element_type()
    }
    fn supports_parens_around_table_factor(&self) -> bool {
        self.inner.supports_parens_around_table_factor()
    }
    fn supports_values_as_table_factor(&self) -> bool {
        self.inner.supports_values_as_table_factor()
    }
    fn parse_statement(&self, parser: &mut Parser<'_>) -> Option<Result<Statement, ParserError>> {
        // `SHOW VARIABLES [LIKE '...']`, which sqlparser reads for MySQL only.
        if parser.parse_keywords(&[Keyword::SHOW, Keyword::VARIABLES]) {
            let filter = if parser.parse_keyword(Keyword::LIKE) {
                match parser.parse_literal_string() {
                    Ok(pattern) => Some(ShowStatementFilter::Like(pattern)),
                    Err(e) => return Some(Err(e)),
                }
            } else {
                None
            };
            return Some(Ok(Statement::ShowVariables { filter, global: false, session: true }));
        }
        // Snowflake's `UNSET name` / `UNSET (a, b)`, which sqlparser lacks:
        // a `SET` of the names to no values (see [`unset_names`]).
        if parser.parse_keyword(Keyword::UNSET) {
            let names = if parser.consume_token(&Token::LParen) {
                let names = parser.parse_comma_separated(|p| p.parse_object_name(false));
                names.and_then(|n| parser.expect_token(&Token::RParen).map(|_| n))
            } else {
                parser.parse_object_name(false).map(|n| vec![n])
            };
            return Some(
                names.map(|variables| Statement::Set(Set::ParenthesizedAssignments { variables, values: Vec::new() })),
            );
        }
        self.inner.parse_statement(parser)
    }
    fn parse_column_option(
        &self,
        parser: &mut Parser<'_>,
    ) -> Result<Option<Result<Option<ColumnOption>, ParserError>>, ParserError> {
        self.inner.parse_column_option(parser)
    }
    fn describe_requires_table_keyword(&self) -> bool {
        self.inner.describe_requires_table_keyword()
    }
    fn allow_extract_custom(&self) -> bool {
        self.inner.allow_extract_custom()
    }
    fn allow_extract_single_quotes(&self) -> bool {
        self.inner.allow_extract_single_quotes()
    }
    fn supports_show_like_before_in(&self) -> bool {
        self.inner.supports_show_like_before_in()
    }
    fn supports_left_associative_joins_without_parens(&self) -> bool {
        self.inner.supports_left_associative_joins_without_parens()
    }
    fn supports_partiql(&self) -> bool {
        self.inner.supports_partiql()
    }
    fn is_column_alias(&self, kw: &Keyword, parser: &mut Parser<'_>) -> bool {
        self.inner.is_column_alias(kw, parser)
    }
    fn is_table_alias(&self, kw: &Keyword, parser: &mut Parser<'_>) -> bool {
        self.inner.is_table_alias(kw, parser)
    }
    fn is_table_factor(&self, kw: &Keyword, parser: &mut Parser<'_>) -> bool {
        self.inner.is_table_factor(kw, parser)
    }
    fn supports_table_versioning(&self) -> bool {
        self.inner.supports_table_versioning()
    }
    fn supports_group_by_expr(&self) -> bool {
        self.inner.supports_group_by_expr()
    }
    fn get_reserved_keywords_for_select_item_operator(&self) -> &[Keyword] {
        self.inner.get_reserved_keywords_for_select_item_operator()
    }
    fn supports_space_separated_column_options(&self) -> bool {
        self.inner.supports_space_separated_column_options()
    }
    fn supports_comma_separated_drop_column_list(&self) -> bool {
        self.inner.supports_comma_separated_drop_column_list()
    }
    fn is_identifier_generating_function_name(&self, ident: &Ident, name_parts: &[ObjectNamePart]) -> bool {
        self.inner.is_identifier_generating_function_name(ident, name_parts)
    }
    fn supports_select_expr_star(&self) -> bool {
        self.inner.supports_select_expr_star()
    }
    fn supports_select_wildcard_exclude(&self) -> bool {
        self.inner.supports_select_wildcard_exclude()
    }
    fn supports_semantic_view_table_factor(&self) -> bool {
        self.inner.supports_semantic_view_table_factor()
    }
    fn supports_select_wildcard_replace(&self) -> bool {
        self.inner.supports_select_wildcard_replace()
    }
    fn supports_select_wildcard_ilike(&self) -> bool {
        self.inner.supports_select_wildcard_ilike()
    }
    fn supports_select_wildcard_rename(&self) -> bool {
        self.inner.supports_select_wildcard_rename()
    }
    fn supports_lambda_functions(&self) -> bool {
        self.inner.supports_lambda_functions()
    }
    fn supports_comma_separated_trim(&self) -> bool {
        self.inner.supports_comma_separated_trim()
    }
}

/// The names of an `UNSET` statement as [`BudgetedSnowflake`] parses it
/// (a `SET` of names to no values, which no `SET` can be).
pub(crate) fn unset_names(statement: &Statement) -> Option<&[ObjectName]> {
    match statement {
        Statement::Set(Set::ParenthesizedAssignments { variables, values }) if values.is_empty() => Some(variables),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParserBuilder;

    use super::*;

    fn parse(sql: &str, dialect: &dyn Dialect) -> Result<String, String> {
        DFParserBuilder::new(sql)
            .with_dialect(dialect)
            .with_recursion_limit(64)
            .build()
            .and_then(|mut p| p.parse_statements())
            .map(|statements| format!("{statements:?}"))
            .map_err(|e| e.to_string())
    }

    /// Statements using Snowflake's own syntax parse to the same trees as
    /// with `SnowflakeDialect`, well inside the budget.
    #[test]
    fn parses_as_snowflake_does() {
        for sql in [
            "SELECT a:b.c::INT, $1, t.* EXCLUDE (x) FROM db..t AS t WHERE x ILIKE 'a%' QUALIFY ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) = 1",
            "SELECT IFF(a > 1, 'x', 'y'), DATEADD(day, -1, d), LISTAGG(s, ',') WITHIN GROUP (ORDER BY s) FROM t GROUP BY ALL",
            "SELECT CAST(x AS NUMBER(38, 2)), TRY_CAST(y AS INT), CASE WHEN a THEN b ELSE c END, POSITION('a', s), CEIL(x, 2), interval FROM t",
            "SELECT * FROM t1 LEFT JOIN t2 ON t1.a = t2.a, LATERAL FLATTEN(input => t1.v) f LIMIT 10 OFFSET 5",
            "WITH x AS (SELECT 1 AS a) SELECT TOP 5 a FROM x UNION ALL SELECT 2",
            "CREATE TEMPORARY TABLE t (a NUMBER(10, 2), b TIMESTAMP_NTZ(9), c VARCHAR COMMENT 'c') AS SELECT 1, 2, 3",
            "COPY INTO t FROM @stage/path FILE_FORMAT = (TYPE = CSV)",
            "SHOW TABLES LIKE 'C%' IN SCHEMA demo.healthcare",
            "USE SCHEMA demo.healthcare",
            "ALTER SESSION SET QUERY_TAG = 'x'",
            "SELECT 1 +",
        ] {
            let budgeted = BudgetedSnowflake::for_statement(sql);
            assert_eq!(parse(sql, &budgeted), parse(sql, &SnowflakeDialect {}), "{sql}");
            assert!(budgeted.calls() < sql.len() as u64, "{sql}: {} hook calls", budgeted.calls());
        }
    }

    /// Inputs that backtrack exponentially in sqlparser 0.62 end quickly,
    /// with the budget exhausted.
    #[test]
    fn exponential_backtracking_is_cut_short() {
        for sql in [
            format!("SELECT {})", "CASE WHEN 1 = 1 THEN ".repeat(40)),
            format!("SELECT {}1 1", "CEIL(".repeat(40)),
            format!("SELECT {}1 1", "POSITION(".repeat(40)),
            format!("SELECT {}1 1", "INTERVAL (".repeat(40)),
            format!("SELECT {}", "x-not-b.".repeat(60)),
        ] {
            let budgeted = BudgetedSnowflake::for_statement(&sql);
            assert!(parse(&sql, &budgeted).is_err(), "{sql}");
            assert!(budgeted.exhausted(), "{sql}");
        }
    }
}
