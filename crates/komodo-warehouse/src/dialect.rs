//! Snowflake dialect on DataFusion: identifier case rules, positional
//! parameters, and rewrites of Snowflake functions and clauses that
//! DataFusion lacks (`IFF`, `DATEADD`, `DATEDIFF`, `TOP`, `LISTAGG`, ...).
//!
//! Two passes:
//! 1. [`prepare`] works on tokens and edits the original text in place:
//!    unquoted identifiers become UPPERCASE (Snowflake stores them so; quoted
//!    identifiers keep their case), `?` and `:N` become DataFusion's `$N`.
//!    Everything else, string literals included, is copied byte for byte.
//! 2. [`rewrite`] works on the parsed statement (AST nodes, never text):
//!    Snowflake functions are replaced by equivalent DataFusion expressions,
//!    `TOP n` becomes `LIMIT n`, and `CURRENT_ACCOUNT()` and friends become
//!    literals of the session's values.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments, Ident, LimitClause,
    ObjectName, ObjectNamePart, Query, SetExpr, Statement, TopQuantity, Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::WarehouseError;
use crate::functions::DatePart;

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
struct Offsets<'a> {
    sql: &'a str,
    line: u64,
    column: u64,
    byte: usize,
}

impl<'a> Offsets<'a> {
    fn new(sql: &'a str) -> Self {
        Self { sql, line: 1, column: 1, byte: 0 }
    }

    /// The byte offset of `(line, column)`; `None` for a position outside
    /// the text (the tokenizer's empty location, or one before the cursor).
    fn at(&mut self, line: u64, column: u64) -> Option<usize> {
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
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let start = offsets.at(t.span.start.line, t.span.start.column);
        let end = offsets.at(t.span.end.line, t.span.end.column);
        let (Some(start), Some(end)) = (start, end) else {
            i += 1;
            continue;
        };
        let replacement = match &t.token {
            Token::Word(w) if w.quote_style.is_none() => Some((end, w.value.to_uppercase())),
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

/// The session values that [`rewrite`] substitutes.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionValues {
    pub(crate) account: String,
    pub(crate) database: Option<String>,
    pub(crate) schema: Option<String>,
}

/// AST pass: Snowflake functions and `TOP`.
pub(crate) fn rewrite(statement: &mut Statement, session: &SessionValues) -> Result<(), WarehouseError> {
    if let Statement::CreateTable(ct) = statement {
        for column in &mut ct.columns {
            snowflake_data_type(&mut column.data_type);
        }
    }
    let mut v = Rewriter { session, error: None };
    let _ = statement.visit(&mut v);
    if let Some(e) = v.error {
        return Err(e);
    }
    let expressions = expression_count(statement);
    if expressions > MAX_EXPRESSIONS {
        return Err(WarehouseError::Compilation(format!(
            "statement too large: {expressions} expressions after rewriting, at most {MAX_EXPRESSIONS} are allowed \
             (put long IN lists or VALUES into a temporary table)"
        )));
    }
    Ok(())
}

/// The most expressions a statement may have once rewritten (SECURITY.md
/// F02): planning time and memory grow with them, and planning cannot be
/// interrupted half way, so this bounds how long a statement can hold a
/// thread before its deadline is looked at.
pub(crate) const MAX_EXPRESSIONS: usize = 200_000;

/// The number of expression nodes in `statement` (every sub-expression
/// counts).
pub(crate) fn expression_count(statement: &Statement) -> usize {
    let mut count = 0usize;
    let _ = ast::visit_expressions(statement, |_| {
        count += 1;
        ControlFlow::<()>::Continue(())
    });
    count
}

struct Rewriter<'a> {
    session: &'a SessionValues,
    error: Option<WarehouseError>,
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut()
            && let Some(top) = select.top.take()
        {
            if top.percent || top.with_ties {
                self.error = Some(WarehouseError::Compilation("TOP ... PERCENT / WITH TIES is not supported".into()));
                return ControlFlow::Break(());
            }
            let limit = match top.quantity {
                Some(TopQuantity::Constant(n)) => Expr::value(Value::Number(n.to_string(), false)),
                Some(TopQuantity::Expr(e)) => e,
                None => return ControlFlow::Continue(()),
            };
            if query.limit_clause.is_none() {
                query.limit_clause =
                    Some(LimitClause::LimitOffset { limit: Some(limit), offset: None, limit_by: vec![] });
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut ast::TableFactor) -> ControlFlow<()> {
        // Snowflake's `TABLE(f(...))` is DataFusion's `f(...)`.
        if let ast::TableFactor::TableFunction { expr: Expr::Function(f), alias } = factor
            && let FunctionArguments::List(list) = &f.args
            && list.clauses.is_empty()
        {
            *factor = ast::TableFactor::Table {
                name: f.name.clone(),
                alias: alias.take(),
                args: Some(ast::TableFunctionArgs { args: list.args.clone(), settings: None }),
                with_hints: vec![],
                version: None,
                with_ordinality: false,
                partitions: vec![],
                json_path: None,
                sample: None,
                index_hints: vec![],
            };
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Cast { data_type, .. } = expr {
            snowflake_data_type(data_type);
        }
        if matches!(expr, Expr::BinaryOp { op: ast::BinaryOperator::StringConcat, .. }) {
            let taken = std::mem::replace(expr, Expr::value(Value::Null));
            if let Expr::BinaryOp { left, right, .. } = taken {
                *expr = concat(*left, *right);
            }
            return ControlFlow::Continue(());
        }
        match self.rewrite_expr(expr) {
            Ok(Some(new)) => {
                *expr = new;
                ControlFlow::Continue(())
            }
            Ok(None) => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// Snowflake's type names that DataFusion does not know, as the types it does.
fn snowflake_data_type(data_type: &mut ast::DataType) {
    use ast::{DataType as T, ExactNumberInfo as N, TimezoneInfo as Tz};
    let replacement = match &*data_type {
        T::TimestampNtz(p) => T::Timestamp(*p, Tz::None),
        T::Decimal(N::None) | T::Numeric(N::None) => T::Decimal(N::PrecisionAndScale(38, 0)),
        T::Custom(name, args) => {
            let [ObjectNamePart::Identifier(id)] = name.0.as_slice() else { return };
            let numbers: Vec<u64> = args.iter().filter_map(|a| a.trim().parse().ok()).collect();
            match id.value.to_ascii_uppercase().as_str() {
                "NUMBER" => match numbers.as_slice() {
                    [] => T::Decimal(N::PrecisionAndScale(38, 0)),
                    [p] => T::Decimal(N::PrecisionAndScale(*p, 0)),
                    [p, s] => T::Decimal(N::PrecisionAndScale(*p, i64::try_from(*s).unwrap_or(0))),
                    _ => return,
                },
                "TIMESTAMP_NTZ" | "TIMESTAMPNTZ" | "DATETIME" => T::Timestamp(numbers.first().copied(), Tz::None),
                "TIMESTAMP_LTZ" | "TIMESTAMPLTZ" | "TIMESTAMP_TZ" | "TIMESTAMPTZ" => {
                    T::Timestamp(numbers.first().copied(), Tz::WithTimeZone)
                }
                "BYTEINT" => T::BigInt(None),
                _ => return,
            }
        }
        _ => return,
    };
    *data_type = replacement;
}

fn function_name(f: &ast::Function) -> Option<String> {
    match f.name.0.as_slice() {
        [ObjectNamePart::Identifier(id)] if id.quote_style.is_none() => Some(id.value.to_ascii_uppercase()),
        _ => None,
    }
}

fn plain_args(f: &ast::Function) -> Option<Vec<Expr>> {
    match &f.args {
        FunctionArguments::None => Some(vec![]),
        FunctionArguments::List(list) if list.clauses.is_empty() && list.duplicate_treatment.is_none() => list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// A call of function `name` (a DataFusion or Komodo function, looked up
/// by its lower-case name) with `args`.
fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(ast::Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: args.into_iter().map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e))).collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

fn string(s: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(s.to_owned()))
}

/// Parses a template expression and replaces the identifiers `__0`, `__1`,
/// ... with the given argument expressions (AST nodes, never text).
fn template(text: &str, args: &[Expr]) -> Result<Expr, WarehouseError> {
    let dialect = SnowflakeDialect {};
    let mut expr = Parser::new(&dialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| WarehouseError::Internal(format!("template {text}: {e}")))?;
    let _ = ast::visit_expressions_mut(&mut expr, |e| {
        if let Expr::Identifier(Ident { value, .. }) = e
            && let Some(i) = value.strip_prefix("__").and_then(|n| n.parse::<usize>().ok())
            && let Some(arg) = args.get(i)
        {
            *e = Expr::Nested(Box::new(arg.clone()));
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(expr)
}

/// A Snowflake date or time part named by an identifier (`day`) or a
/// string (`'day'`), as its canonical name.
fn date_part(e: &Expr) -> Option<&'static str> {
    let name = match e {
        Expr::Identifier(id) => &id.value,
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => s,
            _ => return None,
        },
        _ => return None,
    };
    DatePart::parse(name).map(DatePart::name)
}

/// Snowflake's format elements (`YYYY-MM-DD HH24:MI:SS`) as chrono's.
pub(crate) fn snowflake_format_to_chrono(fmt: &str) -> String {
    const ELEMENTS: &[(&str, &str)] = &[
        ("YYYY", "%Y"),
        ("HH24", "%H"),
        ("HH12", "%I"),
        ("FF9", "%9f"),
        ("FF6", "%6f"),
        ("FF3", "%3f"),
        ("MON", "%b"),
        ("DY", "%a"),
        ("YY", "%y"),
        ("MM", "%m"),
        ("DD", "%d"),
        ("HH", "%H"),
        ("MI", "%M"),
        ("SS", "%S"),
        ("AM", "%p"),
        ("PM", "%p"),
        ("FF", "%f"),
    ];
    let mut out = String::new();
    let mut rest = fmt;
    'outer: while !rest.is_empty() {
        let upper = rest.to_ascii_uppercase();
        for (sf, chrono) in ELEMENTS {
            if upper.starts_with(sf) {
                out.push_str(chrono);
                rest = &rest[sf.len()..];
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '%' {
            out.push_str("%%");
        } else if c != '"' {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

impl Rewriter<'_> {
    fn rewrite_expr(&self, expr: &Expr) -> Result<Option<Expr>, WarehouseError> {
        let Expr::Function(f) = expr else { return Ok(None) };
        let Some(name) = function_name(f) else { return Ok(None) };
        if f.over.is_some() || f.filter.is_some() {
            return Ok(None);
        }
        if name == "LISTAGG" {
            return Ok(Some(listagg(f)?));
        }
        let Some(args) = plain_args(f) else { return Ok(None) };
        let arity = |n: usize| -> Result<(), WarehouseError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(WarehouseError::Compilation(format!("function {name} takes {n} argument(s), {} given", args.len())))
            }
        };
        let opt = |v: &Option<String>| v.as_deref().map(string).unwrap_or_else(|| Expr::value(Value::Null));
        Ok(Some(match name.as_str() {
            "CURRENT_ACCOUNT" | "CURRENT_ACCOUNT_NAME" => string(&self.session.account),
            "CURRENT_DATABASE" => opt(&self.session.database),
            "CURRENT_SCHEMA" => opt(&self.session.schema),
            "CURRENT_WAREHOUSE" | "CURRENT_ROLE" if args.is_empty() => Expr::value(Value::Null),
            "SYSDATE" | "GETDATE" if args.is_empty() => template("CAST(now() AS TIMESTAMP)", &args)?,
            "CURRENT_VERSION" if args.is_empty() => string(env!("CARGO_PKG_VERSION")),
            "IFF" => {
                arity(3)?;
                template("CASE WHEN __0 THEN __1 ELSE __2 END", &args)?
            }
            "ZEROIFNULL" => {
                arity(1)?;
                template("coalesce(__0, 0)", &args)?
            }
            "NULLIFZERO" => {
                arity(1)?;
                template("nullif(__0, 0)", &args)?
            }
            "TO_VARCHAR" | "TO_CHAR" if args.len() == 1 => template("CAST(__0 AS VARCHAR)", &args)?,
            "TO_VARCHAR" | "TO_CHAR" if args.len() == 2 => match &args[1] {
                Expr::Value(v) if matches!(&v.value, Value::SingleQuotedString(_)) => {
                    let Value::SingleQuotedString(fmt) = &v.value else { unreachable!() };
                    template("to_char(__0, __1)", &[args[0].clone(), string(&snowflake_format_to_chrono(fmt))])?
                }
                _ => return Ok(None),
            },
            "TO_DATE" | "DATE" if args.len() == 2 => match &args[1] {
                Expr::Value(v) if matches!(&v.value, Value::SingleQuotedString(_)) => {
                    let Value::SingleQuotedString(fmt) = &v.value else { unreachable!() };
                    template("to_date(__0, __1)", &[args[0].clone(), string(&snowflake_format_to_chrono(fmt))])?
                }
                _ => return Ok(None),
            },
            "TO_DATE" | "DATE" if args.len() == 1 => template("CAST(__0 AS DATE)", &args)?,
            "TO_TIMESTAMP" | "TO_TIMESTAMP_NTZ" if args.len() == 1 => template("CAST(__0 AS TIMESTAMP)", &args)?,
            "TO_NUMBER" | "TO_DECIMAL" | "TO_NUMERIC" if args.len() == 1 => {
                template("CAST(__0 AS DECIMAL(38, 0))", &args)?
            }
            "TO_DOUBLE" if args.len() == 1 => template("CAST(__0 AS DOUBLE)", &args)?,
            "TO_BOOLEAN" if args.len() == 1 => template("CAST(__0 AS BOOLEAN)", &args)?,
            "DATEADD" | "TIMESTAMPADD" => {
                arity(3)?;
                let part = date_part(&args[0]).ok_or_else(|| {
                    WarehouseError::Compilation(format!("invalid date or time part in {name}: {}", args[0]))
                })?;
                call("dateadd", vec![string(part), args[1].clone(), args[2].clone()])
            }
            "YEAR" | "QUARTER" | "MONTH" | "WEEK" | "DAY" | "DAYOFMONTH" | "DAYOFWEEK" | "DAYOFYEAR" | "HOUR"
            | "MINUTE" | "SECOND"
                if args.len() == 1 =>
            {
                let part = match name.as_str() {
                    "DAYOFMONTH" => "day".to_owned(),
                    "DAYOFWEEK" => "dow".to_owned(),
                    "DAYOFYEAR" => "doy".to_owned(),
                    other => other.to_ascii_lowercase(),
                };
                template(&format!("CAST(date_part('{part}', __0) AS BIGINT)"), &args)?
            }
            "APPROX_COUNT_DISTINCT" if args.len() == 1 => template("approx_distinct(__0)", &args)?,
            "COUNT_IF" if args.len() == 1 => template("sum(CASE WHEN __0 THEN 1 ELSE 0 END)", &args)?,
            "DATEDIFF" | "TIMESTAMPDIFF" => {
                arity(3)?;
                let part = date_part(&args[0]).ok_or_else(|| {
                    WarehouseError::Compilation(format!("invalid date or time part in {name}: {}", args[0]))
                })?;
                // A function of its own: each operand is evaluated once (F02).
                call("datediff", vec![string(part), args[1].clone(), args[2].clone()])
            }
            _ => return Ok(None),
        }))
    }
}

/// `a || b` as Snowflake's `CONCAT` (NULL when either side is NULL, its
/// size checked before it is built): a chain of `||` becomes one call.
fn concat(left: Expr, right: Expr) -> Expr {
    let mut args = match left {
        Expr::Function(ast::Function { name, args: FunctionArguments::List(list), .. })
            if is_concat_name(&name) && list.clauses.is_empty() =>
        {
            // Only ever this function's own calls: every argument is plain.
            list.args
                .into_iter()
                .filter_map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                    _ => None,
                })
                .collect()
        }
        other => vec![other],
    };
    args.push(right);
    call(CONCAT, args)
}

/// The name [`concat`] calls (lower case, so a call written `CONCAT(...)`
/// by a user is not taken for one of its own).
const CONCAT: &str = "concat";

fn is_concat_name(name: &ObjectName) -> bool {
    matches!(name.0.as_slice(), [ObjectNamePart::Identifier(id)] if id.value == CONCAT && id.quote_style.is_none())
}

/// Wraps every `$N` placeholder in a cast to its bound value's type, so the
/// planner knows the types (`? || ?`, `SELECT ?`). The values themselves are
/// bound on the plan afterwards.
pub(crate) fn type_placeholders(
    statement: &mut Statement,
    values: &[datafusion::scalar::ScalarValue],
) -> Result<(), WarehouseError> {
    use arrow_schema::{DataType as D, TimeUnit};
    let mut error = None;
    let _ = ast::visit_expressions_mut(statement, |e| {
        let Expr::Value(v) = e else { return ControlFlow::Continue(()) };
        let Value::Placeholder(p) = &v.value else { return ControlFlow::Continue(()) };
        let Some(i) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) else {
            return ControlFlow::Continue(());
        };
        let Some(value) = i.checked_sub(1).and_then(|i| values.get(i)) else { return ControlFlow::Continue(()) };
        let sql_type = match value.data_type() {
            D::Utf8 => "VARCHAR".to_owned(),
            D::Int64 => "BIGINT".to_owned(),
            D::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
            D::Float64 => "DOUBLE".to_owned(),
            D::Boolean => "BOOLEAN".to_owned(),
            D::Date32 => "DATE".to_owned(),
            D::Time64(_) => "TIME".to_owned(),
            D::Timestamp(TimeUnit::Nanosecond, None) => "TIMESTAMP".to_owned(),
            D::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".to_owned(),
            D::Binary => "BYTEA".to_owned(),
            _ => return ControlFlow::Continue(()),
        };
        match template(&format!("CAST(__0 AS {sql_type})"), std::slice::from_ref(e)) {
            Ok(new) => *e = new,
            Err(err) => {
                error = Some(err);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `LISTAGG(x [, sep]) [WITHIN GROUP (ORDER BY ...)]` as
/// `string_agg(x, sep ORDER BY ...)`.
fn listagg(f: &ast::Function) -> Result<Expr, WarehouseError> {
    let mut f = f.clone();
    f.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("string_agg"))]);
    let FunctionArguments::List(list) = &mut f.args else {
        return Err(WarehouseError::Compilation("LISTAGG needs an argument".into()));
    };
    if list.args.len() == 1 {
        list.args.push(FunctionArg::Unnamed(FunctionArgExpr::Expr(string(""))));
    }
    let order = std::mem::take(&mut f.within_group);
    if !order.is_empty() {
        list.clauses.push(FunctionArgumentClause::OrderBy(order));
    }
    Ok(Expr::Function(f))
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

    #[test]
    fn snowflake_formats() {
        assert_eq!(snowflake_format_to_chrono("YYYY-MM-DD HH24:MI:SS"), "%Y-%m-%d %H:%M:%S");
        assert_eq!(snowflake_format_to_chrono("mon dd, yyyy"), "%b %d, %Y");
    }
}
