//! Bind parameters typed where the statement names them.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{self, Expr, Statement, Value};

use super::ast::template;
use crate::WarehouseError;

/// Wraps every `$N` placeholder in a cast to its bound value's type, so the
/// planner knows the types (`? || ?`, `SELECT ?`). The values themselves are
/// bound on the plan afterwards.
pub(crate) fn type_placeholders(
    statement: &mut Statement,
    values: &[datafusion::scalar::ScalarValue],
) -> Result<(), WarehouseError> {
    use arrow_schema::{DataType as D, TimeUnit};
    let mut error = None;
    let _ = ast::visit_expressions_mut(statement, |e| {
        let Expr::Value(v) = e else { return ControlFlow::Continue(()) };
        let Value::Placeholder(p) = &v.value else { return ControlFlow::Continue(()) };
        let Some(i) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) else {
            return ControlFlow::Continue(());
        };
        let Some(value) = i.checked_sub(1).and_then(|i| values.get(i)) else { return ControlFlow::Continue(()) };
        let sql_type = match value.data_type() {
            t if crate::timestamp_tz::is_timestamp_tz(&t) => "TIMESTAMP_TZ".to_owned(),
            D::Utf8 => "VARCHAR".to_owned(),
            D::Int64 => "BIGINT".to_owned(),
            D::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
            D::Float64 => "DOUBLE".to_owned(),
            D::Boolean => "BOOLEAN".to_owned(),
            D::Date32 => "DATE".to_owned(),
            D::Time64(_) => "TIME".to_owned(),
            D::Timestamp(TimeUnit::Nanosecond, None) => "TIMESTAMP".to_owned(),
            D::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".to_owned(),
            D::Binary => "BYTEA".to_owned(),
            _ => return ControlFlow::Continue(()),
        };
        match template(&format!("CAST(__0 AS {sql_type})"), std::slice::from_ref(e)) {
            Ok(new) => *e = new,
            Err(err) => {
                error = Some(err);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    match error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
