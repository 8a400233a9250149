//! An `INSERT` prepared against its target table's columns, before it is
//! planned:
//!
//! - column defaults (`CREATE TABLE t (n INT, at TIMESTAMP DEFAULT
//!   CURRENT_TIMESTAMP())`): kept with each column as its SQL text (field
//!   metadata [`COLUMN_DEFAULT`], what `DESCRIBE TABLE`, `SHOW COLUMNS`,
//!   `INFORMATION_SCHEMA.COLUMNS` and `GET_DDL` show); an `INSERT` that
//!   names its columns without such a column (and a `MERGE ... INSERT`,
//!   `crate::engine::tables`) gets the default for it in every row;
//! - `TIMESTAMP_TZ` columns (`crate::timestamp_tz`): DataFusion types an
//!   `INSERT`'s `VALUES` by the table's columns and casts a `SELECT`'s
//!   columns to them with Arrow's casts, which know no way from a string
//!   (or another timestamp) to Snowflake's struct, so the values going into
//!   such a column are read with `TO_TIMESTAMP_TZ` first, as a cast to
//!   `TIMESTAMP_TZ` reads them (the offset a string names is kept); so are
//!   the values `UPDATE` and `MERGE` assign to one ([`for_column`]).

use std::collections::BTreeMap;

use arrow_schema::{Field, Schema, SchemaRef};
use datafusion::common::metadata::FieldMetadata;
use datafusion::logical_expr::{Expr as PlanExpr, LogicalPlan, LogicalPlanBuilder};
use datafusion::sql::sqlparser::ast::{self, Expr, Ident, ObjectName, SelectItem, SetExpr, Statement};
use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::session::SessionEntry;
use crate::WarehouseError;
use crate::catalog::{ObjectKind, TableKey};
use crate::dialect::call;
use crate::plan::COLUMN_DEFAULT;
use crate::timestamp_tz::is_timestamp_tz;

/// The defaults a `CREATE TABLE` declares: column name, SQL text.
pub(super) fn declared_defaults(statement: &Statement) -> BTreeMap<String, String> {
    let Statement::CreateTable(ct) = statement else { return BTreeMap::new() };
    ct.columns
        .iter()
        .filter_map(|c| {
            c.options.iter().find_map(|o| match &o.option {
                ast::ColumnOption::Default(e) => Some((c.name.value.clone(), e.to_string())),
                _ => None,
            })
        })
        .collect()
}

/// `input` (the rows of a new table) with each column of `defaults` marked
/// with its default, so that the table keeps it.
pub(super) fn mark_defaults(
    input: LogicalPlan,
    defaults: &BTreeMap<String, String>,
) -> Result<LogicalPlan, WarehouseError> {
    if defaults.is_empty() {
        return Ok(input);
    }
    let exprs: Vec<PlanExpr> = input
        .schema()
        .columns()
        .into_iter()
        .zip(input.schema().fields())
        .map(|(column, field)| {
            let name = field.name().clone();
            match defaults.get(&name) {
                Some(text) => {
                    let mut metadata: BTreeMap<String, String> = field.metadata().clone().into_iter().collect();
                    metadata.insert(COLUMN_DEFAULT.to_owned(), text.clone());
                    PlanExpr::Column(column).alias_with_metadata(name, Some(FieldMetadata::from(metadata)))
                }
                None => PlanExpr::Column(column),
            }
        })
        .collect();
    LogicalPlanBuilder::from(input)
        .project(exprs)
        .and_then(LogicalPlanBuilder::build)
        .map_err(WarehouseError::from_datafusion)
}

/// Rewrites `insert` (into table `key`) when its target has column
/// defaults or `TIMESTAMP_TZ` columns.
pub(super) async fn prepare_insert(
    s: &SessionEntry,
    key: &TableKey,
    insert: &mut ast::Insert,
) -> Result<(), WarehouseError> {
    let Some(schema) = target_schema(s, key).await? else { return Ok(()) };
    let Some(source) = insert.source.as_mut() else { return Ok(()) };
    if !insert.columns.is_empty() {
        fill_defaults(&schema, &mut insert.columns, source.body.as_mut())?;
    }
    if !schema.fields().iter().any(|f| is_timestamp_tz(f.data_type())) {
        return Ok(());
    }
    // Whether the target of each value is a TIMESTAMP_TZ column, in order.
    let zoned: Vec<bool> = if insert.columns.is_empty() {
        schema.fields().iter().map(|f| is_timestamp_tz(f.data_type())).collect()
    } else {
        insert.columns.iter().map(|c| field_of(&schema, c).is_some_and(|f| is_timestamp_tz(f.data_type()))).collect()
    };
    each_value(source.body.as_mut(), |i, value| {
        if zoned.get(i).copied().unwrap_or(false) {
            read_zoned(value);
        }
    });
    Ok(())
}

/// The columns of table `key` (a temporary table first), with their
/// metadata; `None` when there is no such table.
pub(super) async fn target_schema(s: &SessionEntry, key: &TableKey) -> Result<Option<SchemaRef>, WarehouseError> {
    Ok(match s.tables.table_schema(key) {
        Some(schema) => Some(schema),
        None if s.tables.kind(key) == Some(ObjectKind::Table) => Some(s.tables.own_table(key, None).await?.schema()),
        None => None,
    })
}

/// `value` as column `field` takes it: read with `TO_TIMESTAMP_TZ` for a
/// `TIMESTAMP_TZ` column (see the module docs), else as it is.
pub(super) fn for_column(field: Option<&Field>, mut value: Expr) -> Expr {
    if field.is_some_and(|f| is_timestamp_tz(f.data_type())) {
        read_zoned(&mut value);
    }
    value
}

fn read_zoned(value: &mut Expr) {
    let taken = std::mem::replace(value, Expr::value(ast::Value::Null));
    *value = call("to_timestamp_tz", vec![taken]);
}

/// The default of column `field`, if it has one, as an expression.
fn default_of(field: &Field) -> Result<Option<Expr>, WarehouseError> {
    let Some(text) = field.metadata().get(COLUMN_DEFAULT) else { return Ok(None) };
    let dialect = SnowflakeDialect {};
    Parser::new(&dialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map(Some)
        .map_err(|e| WarehouseError::Internal(format!("the default of column {} does not parse: {e}", field.name())))
}

/// The field column `name` of an `INSERT`'s list names (exactly, else
/// ignoring ASCII case).
fn field_of<'a>(schema: &'a Schema, name: &ObjectName) -> Option<&'a Field> {
    field_named(schema, name.0.last().and_then(|p| p.as_ident()).map_or("", |i| i.value.as_str()))
}

/// The field of column `name` (exactly, else ignoring ASCII case).
pub(super) fn field_named<'a>(schema: &'a Schema, name: &str) -> Option<&'a Field> {
    let fields = schema.fields();
    fields
        .iter()
        .find(|f| f.name() == name)
        .or_else(|| fields.iter().find(|f| f.name().eq_ignore_ascii_case(name)))
        .map(|f| f.as_ref())
}

/// The columns of `schema` with a default that `named` leaves out, each
/// with its default.
pub(super) fn missing_defaults(schema: &Schema, named: &[String]) -> Result<Vec<(String, Expr)>, WarehouseError> {
    let mut missing = Vec::new();
    for field in schema.fields() {
        if !named.contains(field.name())
            && let Some(default) = default_of(field)?
        {
            missing.push((field.name().clone(), default));
        }
    }
    Ok(missing)
}

/// Adds each column with a default that `columns` leaves out, with its
/// default as the value of every row.
fn fill_defaults(schema: &Schema, columns: &mut Vec<ObjectName>, body: &mut SetExpr) -> Result<(), WarehouseError> {
    let named: Vec<String> = columns.iter().filter_map(|c| field_of(schema, c).map(|f| f.name().clone())).collect();
    let added = missing_defaults(schema, &named)?;
    if added.is_empty() {
        return Ok(());
    }
    match body {
        SetExpr::Values(values) => {
            for row in &mut values.rows {
                row.extend(added.iter().map(|(_, e)| e.clone()));
            }
        }
        SetExpr::Select(select) => {
            select.projection.extend(added.iter().map(|(_, e)| SelectItem::UnnamedExpr(e.clone())))
        }
        _ => {
            return Err(WarehouseError::NotAllowed(format!(
                "an INSERT from a set operation into a table with column defaults ({}); name every column, or insert from a SELECT",
                added.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    columns.extend(added.into_iter().map(|(name, _)| ObjectName::from(vec![Ident::with_quote('"', name)])));
    Ok(())
}

/// Calls `f` with the position and the expression of each value an
/// `INSERT`'s source gives (the rows of `VALUES`, or the items of a
/// `SELECT` list that are expressions).
fn each_value(body: &mut SetExpr, mut f: impl FnMut(usize, &mut Expr)) {
    match body {
        SetExpr::Values(values) => {
            for row in &mut values.rows {
                for (i, value) in row.iter_mut().enumerate() {
                    f(i, value);
                }
            }
        }
        SetExpr::Select(select) => {
            for (i, item) in select.projection.iter_mut().enumerate() {
                if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
                    f(i, e);
                }
            }
        }
        _ => {}
    }
}
