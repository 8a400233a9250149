//! `INSERT` into `TIMESTAMP_TZ` columns (`crate::timestamp_tz`). DataFusion
//! types an `INSERT`'s `VALUES` by the table's columns and casts a `SELECT`'s
//! columns to them with Arrow's casts, which know no way from a string (or
//! another timestamp) to Snowflake's struct; the values going into such a
//! column are read with `TO_TIMESTAMP_TZ` first, as a cast to
//! `TIMESTAMP_TZ` reads them (the offset a string names is kept).

use datafusion::sql::sqlparser::ast::{self, Expr, SelectItem, SetExpr, Statement};

use super::session::SessionEntry;
use super::tables::OwnTables;
use crate::WarehouseError;
use crate::catalog::ObjectKind;
use crate::dialect::call;
use crate::timestamp_tz::is_timestamp_tz;

/// Rewrites `statement` when it is an `INSERT` with `TIMESTAMP_TZ` target
/// columns; any other statement is left as it is.
pub(super) async fn read_zoned_values(
    s: &SessionEntry,
    own: &OwnTables<'_>,
    statement: &mut Statement,
) -> Result<(), WarehouseError> {
    let Statement::Insert(insert) = statement else { return Ok(()) };
    let ast::TableObject::TableName(name) = &insert.table else { return Ok(()) };
    let Ok(key) = own.key(name) else { return Ok(()) };
    let schema = match s.tables.table_schema(&key) {
        Some(schema) => schema,
        None if s.tables.kind(&key) == Some(ObjectKind::Table) => s.tables.own_table(&key, None).await?.schema(),
        None => return Ok(()),
    };
    if !schema.fields().iter().any(|f| is_timestamp_tz(f.data_type())) {
        return Ok(());
    }
    // The target column of each value, in order.
    let zoned: Vec<bool> = if insert.columns.is_empty() {
        schema.fields().iter().map(|f| is_timestamp_tz(f.data_type())).collect()
    } else {
        insert
            .columns
            .iter()
            .map(|c| {
                let name = c.0.last().and_then(|p| p.as_ident()).map_or("", |i| i.value.as_str());
                schema
                    .fields()
                    .iter()
                    .find(|f| f.name() == name)
                    .or_else(|| schema.fields().iter().find(|f| f.name().eq_ignore_ascii_case(name)))
                    .is_some_and(|f| is_timestamp_tz(f.data_type()))
            })
            .collect()
    };
    let Some(source) = insert.source.as_mut() else { return Ok(()) };
    match source.body.as_mut() {
        SetExpr::Values(values) => {
            for row in &mut values.rows {
                for (value, zoned) in row.iter_mut().zip(&zoned) {
                    if *zoned {
                        read_zoned(value);
                    }
                }
            }
        }
        SetExpr::Select(select) => {
            for (item, zoned) in select.projection.iter_mut().zip(&zoned) {
                match item {
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } if *zoned => read_zoned(e),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `TO_TIMESTAMP_TZ(expr)` in place of `expr`.
fn read_zoned(expr: &mut Expr) {
    let value = std::mem::replace(expr, Expr::value(ast::Value::Null));
    *expr = call("to_timestamp_tz", vec![value]);
}
