//! An `INSERT` prepared against its target table's columns, before it is
//! planned:
//!
//! - column defaults (`CREATE TABLE t (n INT, at TIMESTAMP DEFAULT
//!   CURRENT_TIMESTAMP())`): kept with each column as its SQL text (field
//!   metadata [`COLUMN_DEFAULT`], what `DESCRIBE TABLE`, `SHOW COLUMNS`,
//!   `INFORMATION_SCHEMA.COLUMNS` and `GET_DDL` show); an `INSERT` that
//!   names its columns without such a column (and a `MERGE ... INSERT`,
//!   `crate::engine::tables`) gets the default for it in every row; an
//!   identity column (`AUTOINCREMENT`) gets its sequence's next value
//!   (`crate::engine::sequences`);
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

use super::sequences::{self, Sequence};
use super::session::SessionEntry;
use crate::WarehouseError;
use crate::catalog::{ObjectKind, TableKey};
use crate::dialect::call;
use crate::plan::{COLUMN_DEFAULT, COLUMN_IDENTITY};
use crate::timestamp_tz::is_timestamp_tz;

/// The metadata a `CREATE TABLE` declares for its columns, by column name:
/// defaults (SQL text, [`COLUMN_DEFAULT`]) and identities
/// ([`COLUMN_IDENTITY`], each with a new sequence). The identity options
/// are taken out of `statement` (DataFusion plans none), and each `DEFAULT
/// s.NEXTVAL` gets the sequence's whole name.
pub(super) fn declared_columns(
    statement: &mut Statement,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, WarehouseError> {
    let mut declared: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (column, sequence) in sequences::declare_identities(statement, database, schema)? {
        declared.entry(column).or_default().insert(COLUMN_IDENTITY.to_owned(), sequence.to_metadata());
    }
    let Statement::CreateTable(ct) = statement else { return Ok(declared) };
    for c in &ct.columns {
        for o in &c.options {
            if let ast::ColumnOption::Default(e) = &o.option {
                declared.entry(c.name.value.clone()).or_default().insert(COLUMN_DEFAULT.to_owned(), e.to_string());
            }
        }
    }
    Ok(declared)
}

/// `input` (the rows of a new table) with each column's metadata from
/// `declared`, so that the table keeps it; a column taken from another
/// table (`CREATE TABLE ... AS SELECT`) does not keep that table's
/// default or identity (its keys are set empty, which means none: a
/// projection merges metadata, it cannot remove a key).
pub(super) fn mark_defaults(
    input: LogicalPlan,
    declared: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<LogicalPlan, WarehouseError> {
    let owned = |f: &Field| {
        [COLUMN_DEFAULT, COLUMN_IDENTITY].iter().any(|k| f.metadata().get(*k).is_some_and(|v| !v.is_empty()))
    };
    if declared.is_empty() && !input.schema().fields().iter().any(|f| owned(f)) {
        return Ok(input);
    }
    let exprs: Vec<PlanExpr> = input
        .schema()
        .columns()
        .into_iter()
        .zip(input.schema().fields())
        .map(|(column, field)| {
            let name = field.name().clone();
            let added = declared.get(&name);
            if added.is_none() && !owned(field) {
                return PlanExpr::Column(column);
            }
            let mut metadata: BTreeMap<String, String> = field.metadata().clone().into_iter().collect();
            for key in [COLUMN_DEFAULT, COLUMN_IDENTITY] {
                if metadata.contains_key(key) {
                    metadata.insert(key.to_owned(), String::new());
                }
            }
            metadata.extend(added.into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
            PlanExpr::Column(column).alias_with_metadata(name, Some(FieldMetadata::from(metadata)))
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

/// The default of column `field`, if it has one, as an expression (an
/// identity column's: its sequence's next value).
fn default_of(field: &Field) -> Result<Option<Expr>, WarehouseError> {
    if let Some(sequence) = field.metadata().get(COLUMN_IDENTITY).and_then(|m| Sequence::from_metadata(m)) {
        return Ok(Some(sequence.next_value()));
    }
    let Some(text) = field.metadata().get(COLUMN_DEFAULT).filter(|t| !t.is_empty()) else { return Ok(None) };
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
