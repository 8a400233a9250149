//! `TIMESTAMP_TZ` values (`crate::timestamp_tz`) where a statement uses
//! them, as Snowflake reads them:
//!
//! - casts to `TIMESTAMP_TZ` convert as `TO_TIMESTAMP_TZ` does (a string's
//!   offset is kept); casts from it give the wall-clock time at the
//!   value's offset (`TIMESTAMP_NTZ`, `DATE`), the instant
//!   (`TIMESTAMP_LTZ`) or its text (`VARCHAR`);
//! - comparisons compare instants: `10:00 +01:00` equals `09:00 +00:00`
//!   (`BETWEEN` and `IN` here; `=`, `<`, ... where the planner meets them,
//!   `crate::plan::SnowflakeExprPlanner`, since their types are checked as
//!   they are planned);
//! - date and time functions read them as `crate::functions` registers
//!   them (the wall-clock time at the value's offset, or the instant).
//!
//! [`ZonedOrder`] sorts by instant too (`ORDER BY`; a window's order is
//! rewritten here). `GROUP BY`, `DISTINCT`, `COALESCE`, `CASE` and the like
//! take the value as it is: two values at one instant with different
//! offsets are two groups.

use std::sync::Arc;

use arrow_schema::DataType;
use datafusion::common::DFSchema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::expr::{Between, Cast, InList, ScalarFunction, TryCast};
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, ScalarUDF, Sort, SortExpr, cast, try_cast};
use datafusion::optimizer::AnalyzerRule;

use crate::functions::{Reading, to_timestamp_tz, zoned_reading};
use crate::timestamp_tz::is_timestamp_tz;

/// The rewrite (a DataFusion function rewrite, applied with each
/// expression's input schema before type coercion).
#[derive(Debug)]
pub(crate) struct ZonedTimestamps {
    instant: Arc<ScalarUDF>,
    local: Arc<ScalarUDF>,
    text: Arc<ScalarUDF>,
    convert: Arc<ScalarUDF>,
    try_convert: Arc<ScalarUDF>,
}

impl ZonedTimestamps {
    pub(crate) fn new() -> Self {
        Self {
            instant: zoned_reading(Reading::Instant),
            local: zoned_reading(Reading::Local),
            text: zoned_reading(Reading::Text),
            convert: Arc::new(to_timestamp_tz(false)),
            try_convert: Arc::new(to_timestamp_tz(true)),
        }
    }

    fn call(udf: &Arc<ScalarUDF>, args: Vec<Expr>) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(udf.clone(), args))
    }

    /// `expr` as a `TIMESTAMP_TZ` (a cast to it).
    fn to_zoned(&self, expr: Expr, try_: bool) -> Expr {
        Self::call(if try_ { &self.try_convert } else { &self.convert }, vec![expr])
    }

    /// A cast of `TIMESTAMP_TZ` `expr` to `to`.
    fn zoned_as(&self, expr: Expr, to: &DataType, try_: bool) -> Expr {
        let reading = match to {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => &self.text,
            DataType::Timestamp(_, Some(_)) => &self.instant,
            _ => &self.local,
        };
        let read = Self::call(reading, vec![expr]);
        if try_ { try_cast(read, to.clone()) } else { cast(read, to.clone()) }
    }

    /// The operands of comparison `left op right` when either is a
    /// `TIMESTAMP_TZ`: their instants (a string read as a `TIMESTAMP_TZ`
    /// first); `None` when neither is one.
    pub(crate) fn comparison(&self, left: &Expr, right: &Expr, schema: &DFSchema) -> Option<(Expr, Expr)> {
        if !zoned(left, schema) && !zoned(right, schema) {
            return None;
        }
        Some((self.instant_of(left.clone(), schema), self.instant_of(right.clone(), schema)))
    }

    /// An operand of a comparison with a `TIMESTAMP_TZ`: its instant.
    fn instant_of(&self, expr: Expr, schema: &DFSchema) -> Expr {
        match expr.get_type(schema) {
            Ok(t) if is_timestamp_tz(&t) => Self::call(&self.instant, vec![expr]),
            Ok(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
                Self::call(&self.instant, vec![self.to_zoned(expr, false)])
            }
            _ => expr,
        }
    }
}

fn zoned(expr: &Expr, schema: &DFSchema) -> bool {
    expr.get_type(schema).is_ok_and(|t| is_timestamp_tz(&t))
}

impl FunctionRewrite for ZonedTimestamps {
    fn name(&self) -> &str {
        "snowflake_timestamp_tz"
    }

    fn rewrite(&self, expr: Expr, schema: &DFSchema, _config: &ConfigOptions) -> Result<Transformed<Expr>> {
        Ok(match expr {
            Expr::Cast(Cast { expr, field }) => match (zoned(&expr, schema), is_timestamp_tz(field.data_type())) {
                (false, true) => Transformed::yes(self.to_zoned(*expr, false)),
                (true, false) => Transformed::yes(self.zoned_as(*expr, field.data_type(), false)),
                _ => Transformed::no(Expr::Cast(Cast { expr, field })),
            },
            Expr::TryCast(TryCast { expr, field }) => {
                match (zoned(&expr, schema), is_timestamp_tz(field.data_type())) {
                    (false, true) => Transformed::yes(self.to_zoned(*expr, true)),
                    (true, false) => Transformed::yes(self.zoned_as(*expr, field.data_type(), true)),
                    _ => Transformed::no(Expr::TryCast(TryCast { expr, field })),
                }
            }
            Expr::Between(Between { expr, negated, low, high })
                if zoned(&expr, schema) || zoned(&low, schema) || zoned(&high, schema) =>
            {
                Transformed::yes(Expr::Between(Between {
                    expr: Box::new(self.instant_of(*expr, schema)),
                    negated,
                    low: Box::new(self.instant_of(*low, schema)),
                    high: Box::new(self.instant_of(*high, schema)),
                }))
            }
            Expr::InList(InList { expr, list, negated })
                if zoned(&expr, schema) || list.iter().any(|e| zoned(e, schema)) =>
            {
                Transformed::yes(Expr::InList(InList {
                    expr: Box::new(self.instant_of(*expr, schema)),
                    list: list.into_iter().map(|e| self.instant_of(e, schema)).collect(),
                    negated,
                }))
            }
            // A window's order: by instant, as ORDER BY (`ZonedOrder`).
            Expr::WindowFunction(mut w) if w.params.order_by.iter().any(|o| zoned(&o.expr, schema)) => {
                let order_by = std::mem::take(&mut w.params.order_by);
                w.params.order_by = order_by
                    .into_iter()
                    .map(|o| {
                        if zoned(&o.expr, schema) {
                            SortExpr { expr: Self::call(&self.instant, vec![o.expr]), ..o }
                        } else {
                            o
                        }
                    })
                    .collect();
                Transformed::yes(Expr::WindowFunction(w))
            }
            other => Transformed::no(other),
        })
    }
}

/// `ORDER BY` a `TIMESTAMP_TZ`: by its instant (values at one instant are
/// ties, whatever their offsets), as Snowflake orders them. An analyzer
/// rule: a sort key is an expression like any other to a function rewrite.
#[derive(Debug)]
pub(crate) struct ZonedOrder {
    instant: Arc<ScalarUDF>,
}

impl ZonedOrder {
    pub(crate) fn new() -> Self {
        Self { instant: zoned_reading(Reading::Instant) }
    }
}

impl AnalyzerRule for ZonedOrder {
    fn name(&self) -> &str {
        "snowflake_timestamp_tz_order"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let LogicalPlan::Sort(Sort { expr, input, fetch }) = node else {
                return Ok(Transformed::no(node));
            };
            let schema = input.schema().clone();
            if !expr.iter().any(|s| zoned(&s.expr, &schema)) {
                return Ok(Transformed::no(LogicalPlan::Sort(Sort { expr, input, fetch })));
            }
            let expr = expr
                .into_iter()
                .map(|s| {
                    if zoned(&s.expr, &schema) {
                        SortExpr { expr: ZonedTimestamps::call(&self.instant, vec![s.expr]), ..s }
                    } else {
                        s
                    }
                })
                .collect();
            Ok(Transformed::yes(LogicalPlan::Sort(Sort { expr, input, fetch })))
        })
        .map(|t| t.data)
    }
}
