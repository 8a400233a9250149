//! Result column names as Snowflake gives them.
//!
//! - An unaliased expression is named by its text, upper-cased (`COUNT(*)`,
//!   `CURRENT_DATABASE()`, `'X'`, `A + 1`); a column by its name (`t.a` is
//!   `A`). DataFusion would name them `count(*)` and `Utf8("x")`.
//! - The columns of `VALUES` are `COLUMN1`, `COLUMN2`, ...
//! - Names may repeat in a result (`SELECT 1 AS a, 2 AS a`, or
//!   `SELECT CURRENT_DATABASE(), CURRENT_DATABASE()`). DataFusion refuses
//!   repeated names in a projection, so a repeat is planned under a name of
//!   its own and the result is renamed afterwards ([`OutputNames`]).
//!
//! This pass runs before the rewrite of Snowflake's functions, so a name is
//! the user's expression (`IFF(A, 1, 2)`), not what it became.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, Query, Select, SelectItem, SetExpr, TableAlias, TableAliasColumnDef, TableFactor, VisitMut, VisitorMut,
};

/// The names of a statement's result columns where they differ from the
/// names it is planned with: `(planned, wanted)` pairs, for renaming the
/// result's schema after planning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OutputNames(pub(crate) Vec<(String, String)>);

impl OutputNames {
    /// The name a planned column should have.
    pub(crate) fn wanted<'a>(&'a self, planned: &'a str) -> &'a str {
        self.0.iter().find(|(p, _)| p == planned).map_or(planned, |(_, w)| w)
    }

    /// Whether nothing is renamed.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The prefix of the name a repeated column is planned with.
const REPEAT_PREFIX: &str = "__komodo_repeat_";

/// Names the result columns of `query` (and of every query in it) as
/// Snowflake does; returns the renames its result needs.
pub(crate) fn name_columns(query: &mut Query) -> OutputNames {
    let _ = query.visit(&mut Namer);
    let mut renames = Vec::new();
    if let SetExpr::Select(select) = query.body.as_mut() {
        dedupe(select, &mut renames);
    }
    if let SetExpr::Values(values) = query.body.as_ref() {
        // A bare `VALUES`: DataFusion names its columns `column1`, ...
        let width = values.rows.first().map_or(0, |row| row.len());
        renames.extend((1..=width).map(|i| (format!("column{i}"), format!("COLUMN{i}"))));
    }
    OutputNames(renames)
}

/// Gives repeats of a name in `select`'s list names of their own.
fn dedupe(select: &mut Select, renames: &mut Vec<(String, String)>) {
    let mut seen = HashSet::new();
    for (i, item) in select.projection.iter_mut().enumerate() {
        let name = match item {
            SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
            SelectItem::UnnamedExpr(Expr::Identifier(id)) => id.value.clone(),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(ids)) => match ids.last() {
                Some(id) => id.value.clone(),
                None => continue,
            },
            _ => continue,
        };
        if seen.insert(name.clone()) {
            continue;
        }
        let planned = format!("{REPEAT_PREFIX}{i}");
        let taken = std::mem::replace(item, SelectItem::Wildcard(Default::default()));
        *item = match taken {
            SelectItem::ExprWithAlias { expr, .. } | SelectItem::UnnamedExpr(expr) => {
                SelectItem::ExprWithAlias { expr, alias: Ident::with_quote('"', planned.clone()) }
            }
            other => other,
        };
        renames.push((planned, name));
    }
}

/// The Snowflake name of an unaliased expression, or `None` for a column
/// (which keeps its own).
fn expression_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => None,
        Expr::Nested(inner) if matches!(**inner, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) => None,
        other => Some(other.to_string().to_uppercase()),
    }
}

struct Namer;

impl VisitorMut for Namer {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        name_select_items(query.body.as_mut());
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        // `(VALUES ...) [AS t]` without column names: COLUMN1, COLUMN2, ...
        if let TableFactor::Derived { subquery, alias, .. } = factor
            && let SetExpr::Values(values) = subquery.body.as_ref()
            && alias.as_ref().is_none_or(|a| a.columns.is_empty())
        {
            let width = values.rows.first().map_or(0, |row| row.len());
            let columns = (1..=width)
                .map(|i| TableAliasColumnDef { name: Ident::with_quote('"', format!("COLUMN{i}")), data_type: None })
                .collect();
            let name = alias.take().map_or_else(|| Ident::new("VALUES"), |a| a.name);
            *alias = Some(TableAlias { explicit: true, name, columns, at: None });
        }
        ControlFlow::Continue(())
    }
}

fn name_select_items(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(expr) = item
                    && let Some(name) = expression_name(expr)
                {
                    let expr = std::mem::replace(expr, Expr::Identifier(Ident::new("")));
                    *item = SelectItem::ExprWithAlias { expr, alias: Ident::with_quote('"', name) };
                }
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            name_select_items(left);
            name_select_items(right);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::ast::Statement;
    use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn named(sql: &str) -> (String, OutputNames) {
        let mut statement = Parser::parse_sql(&SnowflakeDialect {}, sql).unwrap().remove(0);
        let Statement::Query(query) = &mut statement else { panic!("{sql}") };
        let renames = name_columns(query);
        (statement.to_string(), renames)
    }

    #[test]
    fn unaliased_expressions_are_named_by_their_text() {
        let (sql, renames) = named("SELECT COUNT(*), A, T.B, 'x', 1 + 2 FROM T");
        assert_eq!(sql, "SELECT COUNT(*) AS \"COUNT(*)\", A, T.B, 'x' AS \"'X'\", 1 + 2 AS \"1 + 2\" FROM T");
        assert!(renames.is_empty());
    }

    #[test]
    fn repeated_names_are_planned_apart_and_renamed() {
        let (sql, renames) = named("SELECT CURRENT_DATABASE(), CURRENT_DATABASE(), 1 AS A, 2 AS A");
        assert!(sql.contains("\"__komodo_repeat_1\""), "{sql}");
        assert_eq!(renames.wanted("__komodo_repeat_1"), "CURRENT_DATABASE()");
        assert_eq!(renames.wanted("__komodo_repeat_3"), "A");
        assert_eq!(renames.wanted("B"), "B");
    }

    #[test]
    fn values_columns_are_column1_column2() {
        let (sql, _) = named("SELECT * FROM (VALUES (1, 2)) AS t");
        assert!(sql.contains("AS t (\"COLUMN1\", \"COLUMN2\")"), "{sql}");
        let (_, renames) = named("VALUES (1, 'a')");
        assert_eq!(renames.wanted("column2"), "COLUMN2");
    }
}
