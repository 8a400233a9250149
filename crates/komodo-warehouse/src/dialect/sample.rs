//! `SAMPLE` / `TABLESAMPLE` on a table, which DataFusion does not plan:
//! rewritten into a subquery.
//!
//! - `SAMPLE (p)` / `SAMPLE BERNOULLI|ROW|SYSTEM|BLOCK (p)`: each row with
//!   probability `p` percent.
//! - `SAMPLE (n ROWS)`: `n` rows (or all, if fewer).
//! - `SEED (s)` / `REPEATABLE (s)`: the rows are chosen by a hash of their
//!   values and the seed, so the same seed over the same data gives the
//!   same sample, whatever order the rows are read in.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, ObjectName, Statement, TableAlias, TableFactor, TableSampleKind, TableSampleUnit, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::ast::call;
use crate::WarehouseError;

/// The function that hashes a row for a seeded sample.
pub(crate) const SAMPLE_HASH: &str = "__komodo_sample_hash";

/// Rewrites every sampled table of `statement`; `columns` gives a table's
/// column names (for seeded samples).
pub(crate) fn rewrite_samples(
    statement: &mut Statement,
    columns: &dyn Fn(&ObjectName) -> Option<Vec<String>>,
) -> Result<(), WarehouseError> {
    let mut v = Sampler { columns, error: None };
    let _ = statement.visit(&mut v);
    v.error.map_or(Ok(()), Err)
}

struct Sampler<'a> {
    columns: &'a dyn Fn(&ObjectName) -> Option<Vec<String>>,
    error: Option<WarehouseError>,
}

impl VisitorMut for Sampler<'_> {
    type Break = ();

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, alias, sample, .. } = factor else { return ControlFlow::Continue(()) };
        let Some(kind) = sample.take() else { return ControlFlow::Continue(()) };
        let sample = match kind {
            TableSampleKind::BeforeTableAlias(s) | TableSampleKind::AfterTableAlias(s) => s,
        };
        match sampled(name, sample.as_ref(), self.columns) {
            Ok(subquery) => {
                let alias = alias.take().unwrap_or_else(|| TableAlias {
                    explicit: true,
                    name: name.0.last().and_then(|p| p.as_ident().cloned()).unwrap_or_else(|| Ident::new("SAMPLE")),
                    columns: vec![],
                    at: None,
                });
                *factor = TableFactor::Derived { lateral: false, subquery, alias: Some(alias), sample: None };
                ControlFlow::Continue(())
            }
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

fn sampled(
    table: &ObjectName,
    sample: &datafusion::sql::sqlparser::ast::TableSample,
    columns: &dyn Fn(&ObjectName) -> Option<Vec<String>>,
) -> Result<Box<datafusion::sql::sqlparser::ast::Query>, WarehouseError> {
    let Some(quantity) = &sample.quantity else {
        return Err(WarehouseError::Compilation("SAMPLE needs a size: a percentage, or a number of ROWS".into()));
    };
    if sample.bucket.is_some() || sample.offset.is_some() {
        return Err(WarehouseError::Compilation("SAMPLE ... BUCKET / OFFSET is not supported".into()));
    }
    let rows = matches!(quantity.unit, Some(TableSampleUnit::Rows));
    let key = match &sample.seed {
        None => call(crate::functions::RANDOM_FRACTION, vec![]),
        Some(seed) => {
            let columns = columns(table).ok_or_else(|| {
                WarehouseError::Compilation(format!("SAMPLE ... SEED: cannot find the columns of {table}"))
            })?;
            let mut args = vec![Expr::Value(seed.value.clone())];
            args.extend(columns.into_iter().map(|c| Expr::Identifier(Ident::with_quote('"', c))));
            call(SAMPLE_HASH, args)
        }
    };
    // A fixed text, parsed; the table, the key and the size are AST nodes
    // put in its place, never text.
    let text = if rows {
        "SELECT * FROM __TABLE ORDER BY __KEY LIMIT __SIZE"
    } else if sample.seed.is_some() {
        "SELECT * FROM __TABLE WHERE __KEY < __SIZE"
    } else {
        "SELECT * FROM __TABLE WHERE __KEY * 100 < __SIZE"
    };
    let mut statement = Parser::parse_sql(&SnowflakeDialect {}, text)
        .map_err(|e| WarehouseError::Internal(e.to_string()))?
        .pop()
        .ok_or_else(|| WarehouseError::Internal("the sample template is empty".into()))?;
    let _ = datafusion::sql::sqlparser::ast::visit_relations_mut(&mut statement, |r| {
        if r.to_string() == "__TABLE" {
            *r = table.clone();
        }
        ControlFlow::<()>::Continue(())
    });
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut statement, |e| {
        if let Expr::Identifier(id) = e {
            match id.value.as_str() {
                "__KEY" => *e = key.clone(),
                "__SIZE" => *e = Expr::Nested(Box::new(quantity.value.clone())),
                _ => {}
            }
        }
        ControlFlow::<()>::Continue(())
    });
    match statement {
        Statement::Query(q) => Ok(q),
        _ => Err(WarehouseError::Internal("the sample template is not a query".into())),
    }
}
