//! `FLATTEN` as a table function: `TABLE(FLATTEN(input => ...))` alone, or
//! `<table>, LATERAL FLATTEN(input => <table>.col) f` after a table, with
//! the columns `SEQ`, `KEY`, `PATH`, `INDEX`, `VALUE` and `THIS`.
//!
//! DataFusion has no lateral table functions, but it unnests a list in a
//! `SELECT` list next to other columns. `crate::functions::variant`'s
//! internal `FLATTEN` turns each input value into a list of structs (one per
//! element or member), so the table and its flatten become one derived table
//! under the table's own alias:
//!
//! ```text
//! FROM t, LATERAL FLATTEN(input => t.v) f
//!   -> FROM (SELECT t.*, unnest(__komodo_flatten(t.v)) AS "__komodo_flat_F" FROM t) AS t
//! ```
//!
//! and `f.VALUE` (or `VALUE` alone, when the table has no such column)
//! becomes a field of that struct. Flattens chain: the derived table is the
//! next flatten's table. Only what follows one table (or a previous
//! flatten) is lateral; `OUTER => TRUE` and `RECURSIVE => TRUE` are refused.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, GroupByExpr, Ident, ObjectName, Query, Select, SelectItem, SetExpr, Statement,
    TableAlias, TableFactor, Value, VisitMut, VisitorMut, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::ast::{call, string};
use crate::WarehouseError;
use crate::functions::variant::FLATTEN;

/// The columns of `FLATTEN`.
const COLUMNS: [&str; 6] = ["SEQ", "KEY", "PATH", "INDEX", "VALUE", "THIS"];

/// Rewrites every `FLATTEN` of `statement`; `columns` gives a table's
/// column names (to tell an unqualified `VALUE` of the flatten from a
/// column of the table).
pub(crate) fn rewrite_flattens(
    statement: &mut Statement,
    columns: &dyn Fn(&ObjectName) -> Option<Vec<String>>,
) -> Result<(), WarehouseError> {
    let mut v = Flattener { columns, error: None, next: 0 };
    let _ = statement.visit(&mut v);
    v.error.map_or(Ok(()), Err)
}

struct Flattener<'a> {
    columns: &'a dyn Fn(&ObjectName) -> Option<Vec<String>>,
    error: Option<WarehouseError>,
    next: usize,
}

/// A `FLATTEN` call in a `FROM`: its arguments and alias.
struct FlattenCall {
    input: Expr,
    path: Option<Expr>,
    alias: Option<TableAlias>,
}

fn is_flatten(name: &ObjectName) -> bool {
    name.0.last().and_then(|p| p.as_ident()).is_some_and(|id| id.value.eq_ignore_ascii_case("FLATTEN"))
}

fn arg_expr(arg: &FunctionArgExpr) -> Option<Expr> {
    match arg {
        FunctionArgExpr::Expr(e) => Some(e.clone()),
        _ => None,
    }
}

fn flatten_call(factor: &TableFactor) -> Result<Option<FlattenCall>, WarehouseError> {
    let (args, alias): (Vec<FunctionArg>, Option<TableAlias>) = match factor {
        TableFactor::Function { name, args, alias, .. } if is_flatten(name) => (args.clone(), alias.clone()),
        TableFactor::Table { name, args: Some(args), alias, .. } if is_flatten(name) => {
            (args.args.clone(), alias.clone())
        }
        TableFactor::TableFunction { expr: Expr::Function(f), alias } if is_flatten(&f.name) => {
            let args = match &f.args {
                datafusion::sql::sqlparser::ast::FunctionArguments::List(l) => l.args.clone(),
                _ => vec![],
            };
            (args, alias.clone())
        }
        _ => return Ok(None),
    };
    let (mut input, mut path) = (None, None);
    for (i, arg) in args.iter().enumerate() {
        let (name, value) = match arg {
            FunctionArg::Named { name, arg, .. } => (name.value.to_ascii_uppercase(), arg_expr(arg)),
            FunctionArg::ExprNamed { name: Expr::Identifier(name), arg, .. } => {
                (name.value.to_ascii_uppercase(), arg_expr(arg))
            }
            FunctionArg::Unnamed(arg) if i == 0 => ("INPUT".to_owned(), arg_expr(arg)),
            _ => return Err(WarehouseError::Compilation("FLATTEN takes named arguments: INPUT => ...".into())),
        };
        let value = value.ok_or_else(|| WarehouseError::Compilation(format!("FLATTEN: no value for {name}")))?;
        let is_true = matches!(&value, Expr::Value(v) if matches!(v.value, Value::Boolean(true)));
        match name.as_str() {
            "INPUT" => input = Some(value),
            "PATH" => path = Some(value),
            "OUTER" | "RECURSIVE" if is_true => {
                return Err(WarehouseError::Compilation(format!("FLATTEN: {name} => TRUE is not supported")));
            }
            "OUTER" | "RECURSIVE" => {}
            "MODE" if matches!(&value, Expr::Value(v) if matches!(&v.value, Value::SingleQuotedString(m) if m.eq_ignore_ascii_case("BOTH"))) =>
                {}
            other => return Err(WarehouseError::Compilation(format!("FLATTEN: {other} is not supported"))),
        }
    }
    let input = input.ok_or_else(|| WarehouseError::Compilation("FLATTEN needs INPUT => <value>".into()))?;
    Ok(Some(FlattenCall { input, path, alias }))
}

fn flatten_list(call_: &FlattenCall) -> Expr {
    let mut args = vec![call_.input.clone()];
    args.extend(call_.path.clone());
    call("unnest", vec![call(FLATTEN, args)])
}

fn parse_query(text: &str) -> Result<Box<Query>, WarehouseError> {
    match Parser::parse_sql(&SnowflakeDialect {}, text).map_err(|e| WarehouseError::Internal(e.to_string()))?.pop() {
        Some(Statement::Query(q)) => Ok(q),
        _ => Err(WarehouseError::Internal("a FLATTEN template is not a query".into())),
    }
}

/// Puts `exprs` in place of the identifiers `__0`, `__1`, ... of `query`
/// and `table` in place of `__TABLE`.
fn fill(query: &mut Query, exprs: &[Expr], table: Option<TableFactor>) {
    let _ = visit_expressions_mut(query, |e| {
        if let Expr::Identifier(id) = e
            && let Some(i) = id.value.strip_prefix("__").and_then(|n| n.parse::<usize>().ok())
            && let Some(x) = exprs.get(i)
        {
            *e = x.clone();
        }
        ControlFlow::<()>::Continue(())
    });
    if let (Some(table), SetExpr::Select(select)) = (table, query.body.as_mut())
        && let Some(first) = select.from.first_mut()
    {
        first.relation = table;
    }
}

fn field(of: Expr, name: &str) -> Expr {
    call("get_field", vec![of, string(name)])
}

fn alias_name(alias: &Option<TableAlias>) -> Option<String> {
    alias.as_ref().map(|a| a.name.value.clone())
}

fn table_alias(factor: &TableFactor) -> Option<(Ident, Option<ObjectName>)> {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            let id = alias.as_ref().map(|a| a.name.clone()).or_else(|| name.0.last()?.as_ident().cloned())?;
            Some((id, Some(name.clone())))
        }
        TableFactor::Derived { alias: Some(alias), .. } => Some((alias.name.clone(), None)),
        _ => None,
    }
}

impl Flattener<'_> {
    fn select(&mut self, select: &mut Select) -> Result<(), WarehouseError> {
        // References to rewrite in the select: (flatten alias, struct column).
        let mut refs: Vec<(Option<String>, Expr, Option<Vec<String>>)> = Vec::new();
        // A flatten alone as the first relation.
        if select.from.first().is_some_and(|t| t.joins.is_empty())
            && let Some(f) = flatten_call(&select.from[0].relation)?
        {
            let mut q = parse_query(
                "SELECT get_field(\"__komodo_flat\", 'SEQ') AS \"SEQ\", get_field(\"__komodo_flat\", 'KEY') AS \"KEY\", \
                 get_field(\"__komodo_flat\", 'PATH') AS \"PATH\", get_field(\"__komodo_flat\", 'INDEX') AS \"INDEX\", \
                 get_field(\"__komodo_flat\", 'VALUE') AS \"VALUE\", get_field(\"__komodo_flat\", 'THIS') AS \"THIS\" \
                 FROM (SELECT __0 AS \"__komodo_flat\")",
            )?;
            fill(&mut q, &[flatten_list(&f)], None);
            let alias = f.alias.clone().unwrap_or(TableAlias {
                explicit: true,
                name: Ident::new("FLATTEN"),
                columns: vec![],
                at: None,
            });
            select.from[0].relation =
                TableFactor::Derived { lateral: false, subquery: q, alias: Some(alias), sample: None };
        }
        // Each flatten right after the first relation: lateral over it.
        loop {
            let lateral = if select.from.len() >= 2 && select.from[0].joins.is_empty() {
                flatten_call(&select.from[1].relation)?.map(|f| (f, 1usize))
            } else {
                None
            };
            let lateral = match lateral {
                Some(l) => Some(l),
                None => match select.from.first().and_then(|t| t.joins.first()) {
                    Some(join) => flatten_call(&join.relation)?.map(|f| (f, 0usize)),
                    None => None,
                },
            };
            let Some((f, at)) = lateral else { break };
            let left = select.from[0].relation.clone();
            let Some((left_alias, left_table)) = table_alias(&left) else {
                return Err(WarehouseError::Compilation("the table before FLATTEN needs a name or an alias".into()));
            };
            self.next += 1;
            let flat = format!("__komodo_flat_{}", self.next);
            let mut q = parse_query(&format!("SELECT __0.*, __1 AS \"{flat}\" FROM __TABLE"))?;
            fill(&mut q, &[Expr::Identifier(left_alias.clone()), flatten_list(&f)], Some(left.clone()));
            // `__0.*` is a qualified wildcard of the name `__0`.
            if let SetExpr::Select(inner) = q.body.as_mut()
                && let Some(SelectItem::QualifiedWildcard(kind, _)) = inner.projection.first_mut()
            {
                *kind = datafusion::sql::sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(ObjectName(vec![
                    datafusion::sql::sqlparser::ast::ObjectNamePart::Identifier(left_alias.clone()),
                ]));
            }
            let derived = TableFactor::Derived {
                lateral: false,
                subquery: q,
                alias: Some(TableAlias { explicit: true, name: left_alias.clone(), columns: vec![], at: None }),
                sample: None,
            };
            let struct_col = Expr::CompoundIdentifier(vec![left_alias.clone(), Ident::with_quote('"', flat)]);
            let left_columns = left_table.as_ref().and_then(|t| (self.columns)(t));
            refs.push((alias_name(&f.alias), struct_col, left_columns));
            if at == 1 {
                let rest = select.from.remove(1);
                select.from[0].joins.extend(rest.joins);
            } else {
                select.from[0].joins.remove(0);
            }
            select.from[0].relation = derived;
        }
        let elsewhere = select.from.iter().enumerate().any(|(n, t)| {
            (n > 0 && flatten_call(&t.relation).ok().flatten().is_some())
                || t.joins.iter().any(|j| flatten_call(&j.relation).ok().flatten().is_some())
        });
        if elsewhere {
            return Err(WarehouseError::Compilation(
                "FLATTEN must follow a single table: t, LATERAL FLATTEN(input => t.col) f".into(),
            ));
        }
        for (alias, struct_col, left_columns) in refs.into_iter().rev() {
            let rewrite = |e: &mut Expr| {
                let _ = visit_expressions_mut(e, |x| {
                    let column = match x {
                        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                            let matches_alias = alias.as_deref().is_some_and(|a| parts[0].value == a);
                            (matches_alias && COLUMNS.contains(&parts[1].value.as_str()))
                                .then(|| parts[1].value.clone())
                        }
                        Expr::Identifier(id) if COLUMNS.contains(&id.value.as_str()) => {
                            let shadowed = left_columns.as_ref().is_none_or(|c| c.contains(&id.value));
                            (!shadowed).then(|| id.value.clone())
                        }
                        _ => None,
                    };
                    if let Some(column) = column {
                        *x = field(struct_col.clone(), &column);
                    }
                    ControlFlow::<()>::Continue(())
                });
            };
            for item in &mut select.projection {
                match item {
                    SelectItem::UnnamedExpr(e) => {
                        // Keep the column's name: `f.value` is VALUE.
                        let name = match e {
                            Expr::CompoundIdentifier(p) if p.len() == 2 => Some(p[1].clone()),
                            Expr::Identifier(id) => Some(id.clone()),
                            _ => None,
                        };
                        let before = e.clone();
                        rewrite(e);
                        if let Some(name) = name.filter(|_| *e != before) {
                            *item = SelectItem::ExprWithAlias { expr: e.clone(), alias: name };
                        }
                    }
                    SelectItem::ExprWithAlias { expr, .. } => rewrite(expr),
                    _ => {}
                }
            }
            if let Some(e) = &mut select.selection {
                rewrite(e);
            }
            if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
                exprs.iter_mut().for_each(&rewrite);
            }
            if let Some(e) = &mut select.having {
                rewrite(e);
            }
            if let Some(e) = &mut select.qualify {
                rewrite(e);
            }
        }
        Ok(())
    }
}

impl VisitorMut for Flattener<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut()
            && let Err(e) = self.select(select)
        {
            self.error = Some(e);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}
