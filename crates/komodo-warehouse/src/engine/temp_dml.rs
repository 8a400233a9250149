//! `UPDATE`, `DELETE` and `MERGE` (with `UPDATE ... FROM` and `DELETE ...
//! USING`) on the session's temporary tables: the table's new rows are
//! computed by one query over it (each assigned column as `CASE WHEN
//! <predicate> THEN <value> ELSE <column> END`, and whether the row
//! matched), then replace its rows at once, so a statement that fails
//! changes nothing.

use arrow_array::cast::AsArray;
use arrow_array::{Array as _, RecordBatch};
use datafusion::sql::sqlparser::ast::{
    self, CaseWhen, Expr, Ident, SelectItem, SetExpr, Statement, TableWithJoins, UnaryOperator,
};

use datafusion::catalog::TableProvider as _;

use super::guard::guard;
use super::merge_sources::MergeCounts;
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

/// Plans and runs `query` in the scope, under the session's time limit.
async fn run_query(
    scope: &Scope<'_>,
    query: ast::Query,
    params: Vec<Param>,
) -> Result<Vec<RecordBatch>, WarehouseError> {
    let Planned { plan, state, .. } =
        plan_statement(scope.s, Statement::Query(Box::new(query)), params, scope.database, scope.schema).await?;
    let plan = state.create_physical_plan(&plan).await.map_err(WarehouseError::from_datafusion)?;
    let stop = Stop::after(scope.s.max_timeout, Default::default());
    let plan = guard(plan, &stop).map_err(WarehouseError::from_datafusion)?;
    datafusion::physical_plan::collect(plan, scope.s.task.clone()).await.map_err(WarehouseError::from_datafusion)
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
    let batches = run_query(scope, query, params).await?;
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

/// What one `WHEN` clause does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Update,
    Delete,
    Insert,
}

/// `"name"`, quotes doubled.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

const ROW_ID: &str = "__komodo_rid";
const SOURCE_ID: &str = "__komodo_sid";

/// `MERGE INTO <temp> AS t USING s ON ... WHEN ...` (also what `UPDATE ...
/// FROM` and `DELETE ... USING` become): one query joins the table's rows,
/// numbered, with the source's (a full join), and says for each pair which
/// clause applies first and the row it makes; the table's rows are then
/// replaced at once. With `strict` (a `MERGE`), a table row that joins
/// several source rows and is updated or deleted is an error, as in
/// Snowflake; otherwise (`UPDATE ... FROM`, `DELETE ... USING`) its first
/// pair decides.
pub(crate) async fn merge(
    scope: &Scope<'_>,
    temp: &TempTable,
    strict: bool,
    ((target, target_alias), (source, source_alias)): ((&ast::TableFactor, &str), (&ast::TableFactor, &str)),
    on: &Expr,
    clauses: &[ast::MergeClause],
    params: Vec<Param>,
) -> Result<MergeCounts, WarehouseError> {
    let schema = temp.table.schema();
    let (t, s) = (quoted(target_alias), quoted(source_alias));
    let mut actions = Vec::with_capacity(clauses.len());
    let mut conditions = Vec::with_capacity(clauses.len());
    // Per clause, the value it gives each column.
    let mut values: Vec<Vec<String>> = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let predicate = clause.predicate.as_ref().map(|p| format!(" AND ({p}) IS TRUE")).unwrap_or_default();
        let kept = |name: &str| format!("{t}.{}", quoted(name));
        match (&clause.clause_kind, &clause.action) {
            (ast::MergeClauseKind::Matched, ast::MergeAction::Update(update)) => {
                let mut row: Vec<String> = schema.fields().iter().map(|f| kept(f.name())).collect();
                for assignment in &update.assignments {
                    let ast::AssignmentTarget::ColumnName(name) = &assignment.target else {
                        return Err(WarehouseError::Compilation("a MERGE assigns one column at a time".into()));
                    };
                    let name = super::statements::object_name_parts(name).pop().unwrap_or_default();
                    let i = schema.index_of(&name).map_err(|_| WarehouseError::InvalidIdentifier(name.clone()))?;
                    row[i] = format!("({})", assignment.value);
                }
                actions.push(Action::Update);
                values.push(row);
                conditions.push(format!(
                    "{t}.{} IS NOT NULL AND {s}.{} IS NOT NULL{predicate}",
                    quoted(ROW_ID),
                    quoted(SOURCE_ID)
                ));
            }
            (ast::MergeClauseKind::Matched, ast::MergeAction::Delete { .. }) => {
                actions.push(Action::Delete);
                values.push(schema.fields().iter().map(|f| kept(f.name())).collect());
                conditions.push(format!(
                    "{t}.{} IS NOT NULL AND {s}.{} IS NOT NULL{predicate}",
                    quoted(ROW_ID),
                    quoted(SOURCE_ID)
                ));
            }
            (
                ast::MergeClauseKind::NotMatched | ast::MergeClauseKind::NotMatchedByTarget,
                ast::MergeAction::Insert(insert),
            ) => {
                let ast::MergeInsertKind::Values(given) = &insert.kind else {
                    return Err(super::statements::not_allowed("MERGE ... INSERT ROW into a temporary table"));
                };
                let [given] = given.rows.as_slice() else {
                    return Err(WarehouseError::Compilation("a MERGE inserts one row of VALUES".into()));
                };
                let columns: Vec<String> = if insert.columns.is_empty() {
                    schema.fields().iter().map(|f| f.name().clone()).collect()
                } else {
                    insert
                        .columns
                        .iter()
                        .map(|c| super::statements::object_name_parts(c).pop().unwrap_or_default())
                        .collect()
                };
                if columns.len() != given.len() {
                    return Err(WarehouseError::Compilation(format!(
                        "a MERGE's INSERT names {} columns and gives {} values",
                        columns.len(),
                        given.len()
                    )));
                }
                let mut row = vec!["NULL".to_owned(); schema.fields().len()];
                for (name, value) in columns.iter().zip(given.iter()) {
                    let i = schema.index_of(name).map_err(|_| WarehouseError::InvalidIdentifier(name.clone()))?;
                    row[i] = format!("({value})");
                }
                actions.push(Action::Insert);
                values.push(row);
                conditions.push(format!("{t}.{} IS NULL{predicate}", quoted(ROW_ID)));
            }
            (kind, action) => {
                return Err(super::statements::not_allowed(&format!("MERGE ... WHEN {kind} THEN {action}")));
            }
        }
    }
    let mut items = vec![format!("{t}.{}", quoted(ROW_ID)), format!("{s}.{}", quoted(SOURCE_ID))];
    let mut action = String::from("CASE");
    for (i, condition) in conditions.iter().enumerate() {
        action.push_str(&format!(" WHEN {condition} THEN {}", i + 1));
    }
    action.push_str(" ELSE 0 END");
    items.push(action);
    for (c, field) in schema.fields().iter().enumerate() {
        let mut value = String::from("CASE");
        for (i, condition) in conditions.iter().enumerate() {
            value.push_str(&format!(" WHEN {condition} THEN {}", values[i][c]));
        }
        value.push_str(&format!(" ELSE {t}.{} END AS {}", quoted(field.name()), quoted(field.name())));
        items.push(value);
    }
    let sql = format!(
        "WITH \"__komodo_t\" AS (SELECT *, ROW_NUMBER() OVER () AS {rid} FROM {target}), \
         \"__komodo_s\" AS (SELECT *, ROW_NUMBER() OVER () AS {sid} FROM {source}) \
         SELECT {items} FROM \"__komodo_t\" AS {t} FULL OUTER JOIN \"__komodo_s\" AS {s} ON {on}",
        rid = quoted(ROW_ID),
        sid = quoted(SOURCE_ID),
        items = items.join(", "),
    );
    let dialect = datafusion::sql::sqlparser::dialect::SnowflakeDialect {};
    let query = datafusion::sql::sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_query())
        .map_err(|e| WarehouseError::Internal(format!("a temporary table's MERGE does not parse: {e}")))?;
    let query = *query;
    let batches = run_query(scope, query, params).await?;
    if strict {
        let mut seen: std::collections::HashMap<u64, (usize, bool)> = std::collections::HashMap::new();
        for batch in &batches {
            let (rids, acts) = ids_and_actions(batch)?;
            for i in (0..batch.num_rows()).filter(|&i| rids.is_valid(i)) {
                let entry = seen.entry(rids.value(i)).or_default();
                entry.0 += 1;
                entry.1 |= acts.value(i) != 0;
            }
        }
        if seen.values().any(|(count, acted)| *count > 1 && *acted) {
            return Err(WarehouseError::Execution(
                "Duplicate row detected during DML action: a row of the temporary table joins several source \
                 rows (make the ON condition match at most one source row per row)"
                    .into(),
            ));
        }
    }
    // A table row's first pair decides what becomes of it; its other pairs
    // are dropped.
    let mut merged = MergeCounts::default();
    let mut decided = std::collections::HashSet::new();
    let mut rows = Vec::with_capacity(batches.len());
    for batch in batches {
        let (rids, acts) = ids_and_actions(&batch)?;
        let keep: arrow_array::BooleanArray = (0..batch.num_rows())
            .map(|i| {
                let act = usize::try_from(acts.value(i)).unwrap_or(0);
                let action = act.checked_sub(1).and_then(|a| actions.get(a));
                if rids.is_valid(i) && !decided.insert(rids.value(i)) {
                    return Some(false);
                }
                let keep = match (rids.is_valid(i), action) {
                    (true, None) => true,
                    (true, Some(Action::Update)) => {
                        merged.updated += 1;
                        true
                    }
                    (true, Some(Action::Delete)) => {
                        merged.deleted += 1;
                        false
                    }
                    (false, Some(Action::Insert)) => {
                        merged.inserted += 1;
                        true
                    }
                    _ => false,
                };
                Some(keep)
            })
            .collect();
        let data = batch
            .project(&(3..batch.num_columns()).collect::<Vec<_>>())
            .map_err(|e| WarehouseError::Execution(e.to_string()))?;
        rows.push(
            datafusion::arrow::compute::filter_record_batch(&data, &keep)
                .map_err(|e| WarehouseError::Execution(e.to_string()))?,
        );
    }
    let rows = to_table_schema(temp, rows)?;
    temp.replace(rows).await?;
    Ok(merged)
}

/// The row ids and the clause numbers of a merge's batch.
fn ids_and_actions(batch: &RecordBatch) -> Result<(arrow_array::UInt64Array, arrow_array::Int64Array), WarehouseError> {
    let cast = |i: usize, to: &arrow_schema::DataType| {
        datafusion::arrow::compute::cast(batch.column(i), to).map_err(|e| WarehouseError::Internal(e.to_string()))
    };
    let rids = cast(0, &arrow_schema::DataType::UInt64)?.as_primitive::<arrow_array::types::UInt64Type>().clone();
    let acts = cast(2, &arrow_schema::DataType::Int64)?.as_primitive::<arrow_array::types::Int64Type>().clone();
    Ok((rids, acts))
}
