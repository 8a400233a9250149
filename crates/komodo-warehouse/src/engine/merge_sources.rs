//! The parts of a merge that `UPDATE ... FROM`, `DELETE ... USING` and
//! `MERGE` share, on the account's own tables and on temporary ones: the
//! sides' aliases, the one source relation, the clauses the first two
//! become, and what a merge changed.

use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    self, Assignment, Ident, MergeAction, MergeClauseKind, SelectItem, SetExpr, TableAlias, TableFactor, TableWithJoins,
};

use super::plan::select_of;
use super::statements::object_name_parts;
use crate::WarehouseError;

fn alias_of(factor: &TableFactor) -> Option<String> {
    match factor {
        TableFactor::Table { alias, .. } | TableFactor::Derived { alias, .. } => {
            alias.as_ref().map(|a| a.name.value.clone())
        }
        _ => None,
    }
}

/// Gives `factor` an alias when it has none (its table name), so that the
/// planned expressions are qualified by a name the merge knows; returns it.
pub(super) fn ensure_alias(factor: &mut TableFactor, fallback: &str) -> String {
    if let Some(a) = alias_of(factor) {
        return a;
    }
    let name = match factor {
        TableFactor::Table { name, .. } => object_name_parts(name).pop().unwrap_or_else(|| fallback.to_owned()),
        _ => fallback.to_owned(),
    };
    let alias =
        Some(TableAlias { explicit: true, name: Ident::with_quote('"', name.clone()), columns: vec![], at: None });
    match factor {
        TableFactor::Table { alias: a, .. } | TableFactor::Derived { alias: a, .. } => *a = alias,
        _ => {}
    }
    name
}

/// The rows a merge changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct MergeCounts {
    pub(super) inserted: u64,
    pub(super) updated: u64,
    pub(super) deleted: u64,
}

/// The one relation of an `UPDATE ... FROM` or `DELETE ... USING` (joins
/// within it kept, as a subquery).
pub(super) fn single_source(from: Vec<TableWithJoins>) -> Result<TableFactor, WarehouseError> {
    match <[TableWithJoins; 1]>::try_from(from) {
        Ok([t]) if t.joins.is_empty() => Ok(t.relation),
        Ok([t]) => {
            let mut query = select_of(vec![])?;
            if let SetExpr::Select(select) = query.body.as_mut() {
                select.projection = vec![SelectItem::Wildcard(Default::default())];
                select.from = vec![t];
            }
            Ok(TableFactor::Derived { lateral: false, subquery: Box::new(query), alias: None, sample: None })
        }
        Err(_) => Err(WarehouseError::Compilation(
            "UPDATE ... FROM and DELETE ... USING take one source here: join the sources in a subquery".into(),
        )),
    }
}

/// `WHEN MATCHED THEN UPDATE SET <assignments>` (`UPDATE ... FROM`).
pub(super) fn update_clause(assignments: Vec<Assignment>) -> ast::MergeClause {
    ast::MergeClause {
        when_token: AttachedToken::empty(),
        clause_kind: MergeClauseKind::Matched,
        predicate: None,
        action: MergeAction::Update(ast::MergeUpdateExpr {
            update_token: AttachedToken::empty(),
            assignments,
            update_predicate: None,
            delete_predicate: None,
        }),
    }
}

/// `WHEN MATCHED THEN DELETE` (`DELETE ... USING`).
pub(super) fn delete_clause() -> ast::MergeClause {
    ast::MergeClause {
        when_token: AttachedToken::empty(),
        clause_kind: MergeClauseKind::Matched,
        predicate: None,
        action: MergeAction::Delete { delete_token: AttachedToken::empty() },
    }
}
