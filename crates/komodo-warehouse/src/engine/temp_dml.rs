//! `UPDATE` and `DELETE` on the session's temporary tables: the table's
//! new rows are computed by one query over it (each assigned column as
//! `CASE WHEN <predicate> THEN <value> ELSE <column> END`, and whether the
//! row matched), then replace its rows at once, so a statement that fails
//! changes nothing.

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use datafusion::sql::sqlparser::ast::{
    self, CaseWhen, Expr, Ident, SelectItem, SetExpr, Statement, TableWithJoins, UnaryOperator,
};

use datafusion::catalog::TableProvider as _;

use super::guard::guard;
use super::plan::{Planned, plan_statement, select_of};
use super::session::SessionEntry;
use super::stop::Stop;
use crate::catalog::TempTable;
use crate::{Param, WarehouseError};

/// Where the statement runs: its session, current database and schema.
pub(crate) struct Scope<'a> {
    pub(crate) s: &'a SessionEntry,
    pub(crate) database: &'a Option<String>,
    pub(crate) schema: &'a Option<String>,
}

/// The name of the column that says whether a row matched.
const HIT: &str = "__komodo_matched";

fn column(name: &str) -> Expr {
    Expr::Identifier(Ident::with_quote('"', name))
}

/// `(<predicate>) IS TRUE`, or `TRUE` without one.
fn matched(predicate: Option<&Expr>) -> Expr {
    match predicate {
        Some(p) => Expr::IsTrue(Box::new(Expr::Nested(Box::new(p.clone())))),
        None => Expr::Value(ast::Value::Boolean(true).into()),
    }
}

/// Runs `SELECT <items> FROM <table>` in the scope and returns its
/// batches, each split into the row columns and the [`HIT`] column.
async fn rows_and_hits(
    scope: &Scope<'_>,
    table: &TableWithJoins,
    items: Vec<SelectItem>,
    params: Vec<Param>,
) -> Result<Vec<(RecordBatch, arrow_array::BooleanArray)>, WarehouseError> {
    let mut query = select_of(vec![])?;
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.projection = items;
        select.from = vec![table.clone()];
    }
    let Planned { plan, state, .. } =
        plan_statement(scope.s, Statement::Query(Box::new(query)), params, scope.database, scope.schema).await?;
    let plan = state.create_physical_plan(&plan).await.map_err(WarehouseError::from_datafusion)?;
    let stop = Stop::after(scope.s.max_timeout, Default::default());
    let plan = guard(plan, &stop).map_err(WarehouseError::from_datafusion)?;
    let batches = datafusion::physical_plan::collect(plan, scope.s.task.clone())
        .await
        .map_err(WarehouseError::from_datafusion)?;
    batches
        .into_iter()
        .map(|b| {
            let last = b.num_columns() - 1;
            let hits = b.column(last).as_boolean().clone();
            let mut rows = b;
            rows.remove_column(last);
            Ok((rows, hits))
        })
        .collect()
}

/// The batches cast to the temporary table's column types.
fn to_table_schema(temp: &TempTable, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>, WarehouseError> {
    let schema = temp.table.schema();
    batches
        .into_iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| {
                    let options = datafusion::arrow::compute::CastOptions { safe: false, ..Default::default() };
                    datafusion::arrow::compute::cast_with_options(c, f.data_type(), &options)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| WarehouseError::Execution(e.to_string()))?;
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| WarehouseError::Execution(e.to_string()))
        })
        .collect()
}

fn true_count(hits: &arrow_array::BooleanArray) -> u64 {
    hits.true_count() as u64
}

/// `UPDATE <temp> SET c = v, ... [WHERE p]`: the number of rows updated.
pub(crate) async fn update(
    scope: &Scope<'_>,
    temp: &TempTable,
    table: &TableWithJoins,
    assignments: &[(String, Expr)],
    selection: Option<&Expr>,
    params: Vec<Param>,
) -> Result<u64, WarehouseError> {
    let schema = temp.table.schema();
    for (name, _) in assignments {
        if schema.field_with_name(name).is_err() {
            return Err(WarehouseError::InvalidIdentifier(name.clone()));
        }
    }
    let mut items: Vec<SelectItem> = schema
        .fields()
        .iter()
        .map(|f| {
            let value = match assignments.iter().rev().find(|(name, _)| name == f.name()) {
                None => column(f.name()),
                Some((_, v)) => match selection {
                    None => v.clone(),
                    Some(p) => Expr::Case {
                        case_token: ast::helpers::attached_token::AttachedToken::empty(),
                        end_token: ast::helpers::attached_token::AttachedToken::empty(),
                        operand: None,
                        conditions: vec![CaseWhen { condition: matched(Some(p)), result: v.clone() }],
                        else_result: Some(Box::new(column(f.name()))),
                    },
                },
            };
            SelectItem::ExprWithAlias { expr: value, alias: Ident::with_quote('"', f.name()) }
        })
        .collect();
    items.push(SelectItem::ExprWithAlias { expr: matched(selection), alias: Ident::with_quote('"', HIT) });
    let computed = rows_and_hits(scope, table, items, params).await?;
    let updated = computed.iter().map(|(_, hits)| true_count(hits)).sum();
    let rows = to_table_schema(temp, computed.into_iter().map(|(rows, _)| rows).collect())?;
    temp.replace(rows).await?;
    Ok(updated)
}

/// `DELETE FROM <temp> [WHERE p]`: the number of rows deleted.
pub(crate) async fn delete(
    scope: &Scope<'_>,
    temp: &TempTable,
    table: &TableWithJoins,
    selection: Option<&Expr>,
    params: Vec<Param>,
) -> Result<u64, WarehouseError> {
    let schema = temp.table.schema();
    let mut items: Vec<SelectItem> = schema
        .fields()
        .iter()
        .map(|f| SelectItem::ExprWithAlias { expr: column(f.name()), alias: Ident::with_quote('"', f.name()) })
        .collect();
    // The rows kept: those whose predicate is not true.
    let kept = Expr::UnaryOp { op: UnaryOperator::Not, expr: Box::new(matched(selection)) };
    items.push(SelectItem::ExprWithAlias { expr: kept, alias: Ident::with_quote('"', HIT) });
    let computed = rows_and_hits(scope, table, items, params).await?;
    let mut deleted = 0;
    let mut rows = Vec::with_capacity(computed.len());
    for (batch, keep) in computed {
        deleted += (batch.num_rows() as u64) - true_count(&keep);
        rows.push(
            datafusion::arrow::compute::filter_record_batch(&batch, &keep)
                .map_err(|e| WarehouseError::Execution(e.to_string()))?,
        );
    }
    let rows = to_table_schema(temp, rows)?;
    temp.replace(rows).await?;
    Ok(deleted)
}
