//! Binary operators planned with their operands' types known.

use std::sync::Arc;

use arrow_schema::DataType;
use datafusion::common::DFSchema;
use datafusion::error::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, ScalarUDF, cast};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use super::zoned::ZonedTimestamps;
use crate::functions::{date_part, divide, fixed_digits};

/// Plans the operators whose meaning differs in Snowflake:
///
/// - comparisons with a `TIMESTAMP_TZ`: of instants (see
///   `crate::plan::ZonedTimestamps`), and `EXTRACT` of its wall-clock time;
/// - `a / b` of numbers: the warehouse's division (`7 / 2` is `3.500000`;
///   see `crate::functions::arithmetic::Divide`).
/// - `+ - * / %` with a string operand: the string is read as a number
///   (`'1.5' + 1` is `2.5`, `'6' / '4'` is `1.5`), as Snowflake converts
///   it; a string that is not a number fails the statement (100038).
#[derive(Debug)]
pub(crate) struct SnowflakeExprPlanner {
    divide: Arc<ScalarUDF>,
    zoned: ZonedTimestamps,
    /// `DATE_PART` as the session registers it (taking `TIMESTAMP_TZ`).
    date_part: Arc<ScalarUDF>,
}

impl SnowflakeExprPlanner {
    pub(crate) fn new() -> Self {
        Self { divide: Arc::new(divide()), zoned: ZonedTimestamps::new(), date_part: Arc::new(date_part()) }
    }
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Null)
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl ExprPlanner for SnowflakeExprPlanner {
    /// `EXTRACT(part FROM x)`: the session's `DATE_PART` (DataFusion's own
    /// planner would call its function directly).
    fn plan_extract(&self, args: Vec<Expr>) -> Result<PlannerResult<Vec<Expr>>> {
        Ok(PlannerResult::Planned(Expr::ScalarFunction(ScalarFunction::new_udf(self.date_part.clone(), args))))
    }

    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        use BinaryOperator as Op;
        if matches!(expr.op, Op::Eq | Op::NotEq | Op::Lt | Op::LtEq | Op::Gt | Op::GtEq | Op::Spaceship)
            && let Some((left, right)) = self.zoned.comparison(&expr.left, &expr.right, schema)
        {
            // TIMESTAMP_TZ values compare by instant.
            return Ok(PlannerResult::Original(RawBinaryExpr { op: expr.op, left, right }));
        }
        if !matches!(expr.op, Op::Plus | Op::Minus | Op::Multiply | Op::Divide | Op::Modulo) {
            return Ok(PlannerResult::Original(expr));
        }
        let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        let RawBinaryExpr { op, mut left, mut right } = expr;
        // A string next to a number, or next to another string, is read
        // as a number.
        let (mut lt, mut rt) = (lt, rt);
        let both = is_string(&lt) && is_string(&rt);
        if is_string(&lt) && (is_numeric(&rt) || both) {
            left = cast(left, DataType::Float64);
            lt = DataType::Float64;
        }
        if is_string(&rt) && (is_numeric(&lt) || both) {
            right = cast(right, DataType::Float64);
            rt = DataType::Float64;
        }
        if op == Op::Divide && is_numeric(&lt) && is_numeric(&rt) && (fixed_digits(&lt).is_some() || lt.is_floating()) {
            let call = ScalarFunction::new_udf(self.divide.clone(), vec![left, right]);
            return Ok(PlannerResult::Planned(Expr::ScalarFunction(call)));
        }
        Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }))
    }
}
