//! The AST pass: Snowflake's functions, clauses and types rewritten for
//! DataFusion, the statement's size bounded.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, Expr, FunctionArguments, LimitClause, Query, SetExpr, Statement, TopQuantity, Value, VisitMut, VisitorMut,
};

use super::ast::{call, function_name};
use super::functions::{concat, rewrite_function};
use super::names::{OutputNames, name_columns};
use super::semi::rewrite_semi;
use super::session::SessionValues;
use super::types::snowflake_data_type;
use crate::WarehouseError;

/// AST pass: result column names, Snowflake functions and clauses. Returns
/// the renames the statement's result needs (see [`name_columns`]).
pub(crate) fn rewrite(statement: &mut Statement, session: &SessionValues) -> Result<OutputNames, WarehouseError> {
    let mut names = OutputNames::default();
    match statement {
        Statement::Query(query) => names = name_columns(query),
        Statement::CreateTable(ct) => {
            for column in &mut ct.columns {
                snowflake_data_type(&mut column.data_type);
            }
            if let Some(query) = &mut ct.query {
                name_columns(query);
            }
        }
        Statement::Insert(insert) => {
            if let Some(query) = &mut insert.source {
                name_columns(query);
            }
        }
        _ => {}
    }
    let mut v = Rewriter { session, error: None };
    let _ = statement.visit(&mut v);
    if let Some(e) = v.error {
        return Err(e);
    }
    check_size(statement)?;
    Ok(names)
}

/// Fails a statement larger than [`MAX_EXPRESSIONS`] (SECURITY.md F02).
pub(crate) fn check_size(statement: &Statement) -> Result<(), WarehouseError> {
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
        if let Some(lenient) = lenient_cast(expr) {
            *expr = lenient;
            return ControlFlow::Continue(());
        }
        // `1e3` is a FLOAT in Snowflake; other numbers with a point are NUMBER.
        if let Expr::Value(v) = expr
            && matches!(&v.value, Value::Number(n, _) if n.contains(['e', 'E']))
        {
            let number = std::mem::replace(expr, Expr::value(Value::Null));
            *expr = Expr::Cast {
                kind: ast::CastKind::Cast,
                expr: Box::new(number),
                data_type: ast::DataType::Double(ast::ExactNumberInfo::None),
                array: false,
                format: None,
            };
            return ControlFlow::Continue(());
        }
        if matches!(expr, Expr::BinaryOp { op: ast::BinaryOperator::StringConcat, .. }) {
            let taken = std::mem::replace(expr, Expr::value(Value::Null));
            if let Expr::BinaryOp { left, right, .. } = taken {
                *expr = concat(*left, *right);
            }
            return ControlFlow::Continue(());
        }
        let name = match &*expr {
            Expr::Function(f) => function_name(f),
            _ => None,
        };
        let semi = rewrite_semi(expr, name.as_deref());
        let rewritten = match semi {
            Ok(None) => rewrite_function(expr, self.session),
            other => other,
        };
        match rewritten {
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

/// Snowflake's lenient casts that DataFusion's casts and signatures do not
/// make: a string of digits cast to `TIMESTAMP` is an epoch count
/// (seconds, milliseconds, microseconds or nanoseconds by its magnitude,
/// as `TO_TIMESTAMP` reads it), `TRIM`, `LTRIM` and `RTRIM` take a
/// number as its text, and a minus sign before a string literal reads it as
/// a number (`-'3'`; the planner checks a negation's type before any later
/// rewrite could).
fn lenient_cast(expr: &Expr) -> Option<Expr> {
    match expr {
        Expr::UnaryOp { op: ast::UnaryOperator::Minus, expr: inner }
            if is_text(inner) && !matches!(**inner, Expr::Cast { .. }) =>
        {
            Some(Expr::UnaryOp {
                op: ast::UnaryOperator::Minus,
                expr: Box::new(Expr::Cast {
                    kind: ast::CastKind::Cast,
                    expr: inner.clone(),
                    data_type: ast::DataType::Double(ast::ExactNumberInfo::None),
                    array: false,
                    format: None,
                }),
            })
        }
        Expr::Cast {
            kind,
            expr: inner,
            data_type: ast::DataType::Timestamp(_, ast::TimezoneInfo::None),
            format: None,
            ..
        } if is_digit_string(inner) => {
            let name = if matches!(kind, ast::CastKind::TryCast | ast::CastKind::SafeCast) {
                "try_to_timestamp_ntz"
            } else {
                "to_timestamp_ntz"
            };
            Some(call(name, vec![(**inner).clone()]))
        }
        Expr::Trim { expr: inner, trim_where, trim_what, trim_characters } if !is_text(inner) => Some(Expr::Trim {
            expr: Box::new(as_text((**inner).clone())),
            trim_where: *trim_where,
            trim_what: trim_what.clone(),
            trim_characters: trim_characters.clone(),
        }),
        Expr::Function(f) if matches!(function_name(f).as_deref(), Some("LTRIM" | "RTRIM" | "TRIM" | "BTRIM")) => {
            let mut args = super::ast::plain_args(f)?;
            let first = args.first_mut().filter(|a| !is_text(a))?;
            *first = as_text(first.clone());
            Some(call(&function_name(f)?.to_ascii_lowercase(), args))
        }
        _ => None,
    }
}

/// A string literal of an optional sign and digits (`'1700000000'`).
fn is_digit_string(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => {
                let digits = s.trim().strip_prefix('-').unwrap_or(s.trim());
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            }
            _ => false,
        },
        _ => false,
    }
}

/// Whether `expr` is text already (a string literal, or a cast to text).
fn is_text(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => matches!(v.value, Value::SingleQuotedString(_) | Value::DoubleQuotedString(_)),
        Expr::Cast { data_type, .. } => matches!(
            data_type,
            ast::DataType::Varchar(_) | ast::DataType::Text | ast::DataType::String(_) | ast::DataType::Char(_)
        ),
        _ => false,
    }
}

/// `CAST(expr AS VARCHAR)`.
fn as_text(expr: Expr) -> Expr {
    Expr::Cast {
        kind: ast::CastKind::Cast,
        expr: Box::new(expr),
        data_type: ast::DataType::Varchar(None),
        array: false,
        format: None,
    }
}
