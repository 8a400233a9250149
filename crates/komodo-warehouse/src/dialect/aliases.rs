//! Lateral column aliases: an alias defined in a `SELECT` list used later
//! in the same list, in `WHERE`, `GROUP BY`, `HAVING` or `QUALIFY` (which
//! Snowflake allows and DataFusion does not).
//!
//! A name is taken for an alias only where it is not a column: the engine
//! plans the statement as written and, when a name is unknown
//! (`invalid identifier`), calls [`inline_alias`] for it and plans again.
//! So a column of the same name always wins, as in Snowflake.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, GroupByExpr, Query, Select, SelectItem, SetExpr, Statement, VisitMut, VisitorMut, visit_expressions_mut,
};

/// Replaces the references to alias `name` that follow its definition in
/// each `SELECT` of `statement` that defines it with the aliased
/// expression. Returns whether anything was replaced.
pub(crate) fn inline_alias(statement: &mut Statement, name: &str) -> bool {
    let mut v = Inliner { name, replaced: false };
    let _ = statement.visit(&mut v);
    v.replaced
}

struct Inliner<'a> {
    name: &'a str,
    replaced: bool,
}

impl VisitorMut for Inliner<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            self.replaced |= inline_in_select(select, self.name);
        }
        ControlFlow::Continue(())
    }
}

fn replace_in(expr: &mut Expr, name: &str, with: &Expr) -> bool {
    let mut replaced = false;
    let _ = visit_expressions_mut(expr, |e| {
        if let Expr::Identifier(id) = e
            && id.value == name
        {
            *e = Expr::Nested(Box::new(with.clone()));
            replaced = true;
        }
        ControlFlow::<()>::Continue(())
    });
    replaced
}

fn inline_in_select(select: &mut Select, name: &str) -> bool {
    let Some(at) = select
        .projection
        .iter()
        .position(|item| matches!(item, SelectItem::ExprWithAlias { alias, .. } if alias.value == name))
    else {
        return false;
    };
    let SelectItem::ExprWithAlias { expr: aliased, .. } = &select.projection[at] else { return false };
    let aliased = aliased.clone();
    let mut replaced = false;
    for item in &mut select.projection[at + 1..] {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                replaced |= replace_in(e, name, &aliased);
            }
            _ => {}
        }
    }
    if let Some(e) = &mut select.selection {
        replaced |= replace_in(e, name, &aliased);
    }
    if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
        for e in exprs {
            replaced |= replace_in(e, name, &aliased);
        }
    }
    if let Some(e) = &mut select.having {
        replaced |= replace_in(e, name, &aliased);
    }
    if let Some(e) = &mut select.qualify {
        replaced |= replace_in(e, name, &aliased);
    }
    replaced
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    #[test]
    fn later_references_take_the_aliased_expression() {
        let mut s = Parser::parse_sql(
            &SnowflakeDialect {},
            "SELECT A * 2 AS D, D + 1 AS E FROM T WHERE D > 3 GROUP BY D HAVING COUNT(D) > 0 QUALIFY D = 1",
        )
        .unwrap()
        .remove(0);
        assert!(inline_alias(&mut s, "D"));
        assert_eq!(
            s.to_string(),
            "SELECT A * 2 AS D, (A * 2) + 1 AS E FROM T WHERE (A * 2) > 3 GROUP BY (A * 2) HAVING COUNT((A * 2)) > 0 QUALIFY (A * 2) = 1"
        );
        assert!(!inline_alias(&mut s, "X"));
    }
}
