//! Views: a stored query expanded where its name is used (`FROM v` becomes
//! `FROM (<query>) AS v`) before planning, and the names a view's query
//! uses made whole when it is created, so that it reads the same tables
//! whichever database and schema the session that uses it is in.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Query, Statement, TableAlias, TableFactor, VisitMut, VisitorMut,
};

use crate::WarehouseError;

/// How deep views may be built on views (a view naming itself, directly
/// or not, stops here).
const MAX_VIEW_DEPTH: usize = 16;

/// Replaces every table name in `statement` that `lookup` knows as a view
/// by the view's query, views within views too.
pub(crate) fn expand_views(
    statement: &mut Statement,
    lookup: &dyn Fn(&ObjectName) -> Result<Option<Query>, WarehouseError>,
) -> Result<(), WarehouseError> {
    for _ in 0..MAX_VIEW_DEPTH {
        let mut expander = Expander { lookup, expanded: false, error: None };
        let _ = statement.visit(&mut expander);
        if let Some(e) = expander.error {
            return Err(e);
        }
        if !expander.expanded {
            return Ok(());
        }
    }
    Err(WarehouseError::Compilation(format!(
        "views are nested more than {MAX_VIEW_DEPTH} deep (does a view use itself?)"
    )))
}

struct Expander<'a> {
    lookup: &'a dyn Fn(&ObjectName) -> Result<Option<Query>, WarehouseError>,
    expanded: bool,
    error: Option<WarehouseError>,
}

impl VisitorMut for Expander<'_> {
    type Break = ();

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, alias, args: None, version: None, .. } = factor else {
            return ControlFlow::Continue(());
        };
        match (self.lookup)(name) {
            Ok(Some(query)) => {
                let alias = alias.clone().unwrap_or_else(|| TableAlias {
                    explicit: true,
                    name: name.0.last().and_then(ObjectNamePart::as_ident).cloned().unwrap_or_else(|| Ident::new("V")),
                    columns: vec![],
                    at: None,
                });
                *factor = TableFactor::Derived {
                    lateral: false,
                    subquery: Box::new(query),
                    alias: Some(alias),
                    sample: None,
                };
                self.expanded = true;
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

/// Makes every table name in `query` name its database and schema
/// (`t` -> `DB.SCHEMA.t`, `s.t` -> `DB.s.t`), leaving the query's own
/// common table expressions alone.
pub(crate) fn qualify_names(query: &mut Query, database: &str, schema: &str) {
    let mut ctes = BTreeSet::new();
    collect_ctes(query, &mut ctes);
    let _ = datafusion::sql::sqlparser::ast::visit_relations_mut(query, |name| {
        let ident = |v: &str| ObjectNamePart::Identifier(Ident::with_quote('"', v));
        match name.0.len() {
            1 => {
                let single = name.0[0].as_ident().map(|i| i.value.clone()).unwrap_or_default();
                if !ctes.contains(&single) {
                    name.0.insert(0, ident(schema));
                    name.0.insert(0, ident(database));
                }
            }
            2 => name.0.insert(0, ident(database)),
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
}

fn collect_ctes(query: &Query, names: &mut BTreeSet<String>) {
    struct Ctes<'a>(&'a mut BTreeSet<String>);
    impl datafusion::sql::sqlparser::ast::Visitor for Ctes<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                for cte in &with.cte_tables {
                    self.0.insert(cte.alias.name.value.clone());
                }
            }
            ControlFlow::Continue(())
        }
    }
    use datafusion::sql::sqlparser::ast::Visit as _;
    let _ = query.visit(&mut Ctes(names));
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn query(sql: &str) -> Query {
        match Parser::parse_sql(&SnowflakeDialect {}, sql).unwrap().pop().unwrap() {
            Statement::Query(q) => *q,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn names_are_made_whole_except_ctes() {
        let mut q = query("WITH c AS (SELECT 1) SELECT * FROM t JOIN s.u ON true JOIN c ON true JOIN d.s.v ON true");
        qualify_names(&mut q, "DB", "SC");
        assert_eq!(
            q.to_string(),
            "WITH c AS (SELECT 1) SELECT * FROM \"DB\".\"SC\".t JOIN \"DB\".s.u ON true JOIN c ON true JOIN d.s.v ON true"
        );
    }

    #[test]
    fn views_expand_and_cycles_stop() {
        let mut statement = Parser::parse_sql(&SnowflakeDialect {}, "SELECT * FROM v1 AS x, t").unwrap().remove(0);
        let lookup = |name: &ObjectName| -> Result<Option<Query>, WarehouseError> {
            Ok(match name.to_string().as_str() {
                "v1" => Some(query("SELECT * FROM v2")),
                "v2" => Some(query("SELECT 1 AS a")),
                _ => None,
            })
        };
        expand_views(&mut statement, &lookup).unwrap();
        assert_eq!(statement.to_string(), "SELECT * FROM (SELECT * FROM (SELECT 1 AS a) AS v2) AS x, t");
        let cyclic = |name: &ObjectName| -> Result<Option<Query>, WarehouseError> {
            Ok((name.to_string() == "v1").then(|| query("SELECT * FROM v1")))
        };
        let mut statement = Parser::parse_sql(&SnowflakeDialect {}, "SELECT * FROM v1").unwrap().remove(0);
        assert!(matches!(expand_views(&mut statement, &cyclic), Err(WarehouseError::Compilation(_))));
    }
}
