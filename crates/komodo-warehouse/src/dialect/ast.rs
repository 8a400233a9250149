//! Building and reading AST nodes: calls, literals, templates, names.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, ObjectNamePart, Value,
};
use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::WarehouseError;
use crate::functions::DatePart;

pub(crate) fn function_name(f: &ast::Function) -> Option<String> {
    match f.name.0.as_slice() {
        [ObjectNamePart::Identifier(id)] if id.quote_style.is_none() => Some(id.value.to_ascii_uppercase()),
        _ => None,
    }
}

pub(crate) fn plain_args(f: &ast::Function) -> Option<Vec<Expr>> {
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
pub(crate) fn call(name: &str, args: Vec<Expr>) -> Expr {
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

pub(crate) fn string(s: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(s.to_owned()))
}

/// Parses a template expression and replaces the identifiers `__0`, `__1`,
/// ... with the given argument expressions (AST nodes, never text).
pub(crate) fn template(text: &str, args: &[Expr]) -> Result<Expr, WarehouseError> {
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
pub(crate) fn date_part(e: &Expr) -> Option<&'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snowflake_formats() {
        assert_eq!(snowflake_format_to_chrono("YYYY-MM-DD HH24:MI:SS"), "%Y-%m-%d %H:%M:%S");
        assert_eq!(snowflake_format_to_chrono("mon dd, yyyy"), "%b %d, %Y");
    }
}
