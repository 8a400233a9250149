//! The AST pass: Snowflake's functions, clauses and types rewritten for
//! DataFusion, the statement's size bounded.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, Expr, FunctionArguments, LimitClause, Query, SetExpr, Statement, TopQuantity, Value, VisitMut, VisitorMut,
};

use super::ast::function_name;
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
