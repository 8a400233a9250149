//! Semi-structured values read as SQL types where a statement uses them so:
//! `v:age::INT`, `TRY_CAST(v:x AS DATE)`, `v:name = 'Bob'`. A VARIANT holds
//! JSON text, so a plain cast would read `"Bob"` with its quotes; these are
//! rewritten to the warehouse's cast from VARIANT, which reads the JSON
//! value (see `crate::functions::variant`).

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::expr::{BinaryExpr, Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{Expr, ExprSchemable, Operator, ScalarUDF, lit};

use crate::functions::variant::{VARIANT_CAST, is_semi_structured, variant_function};
use crate::timestamp_tz::is_timestamp_tz;

/// The rewrite (a DataFusion function rewrite, applied with each
/// expression's input schema before type coercion).
#[derive(Debug)]
pub(crate) struct VariantCasts {
    cast: Arc<ScalarUDF>,
}

impl VariantCasts {
    pub(crate) fn new() -> Option<Self> {
        Some(Self { cast: Arc::new(variant_function(VARIANT_CAST)?) })
    }

    fn cast(&self, expr: Expr, to: &arrow_schema::DataType, try_: bool) -> Expr {
        let target = if try_ { format!("try:{to}") } else { to.to_string() };
        Expr::ScalarFunction(ScalarFunction::new_udf(
            self.cast.clone(),
            vec![expr, lit(ScalarValue::Utf8(Some(target)))],
        ))
    }
}

fn semi(expr: &Expr, schema: &DFSchema) -> bool {
    expr.to_field(schema).is_ok_and(|(_, f)| is_semi_structured(&f))
}

impl FunctionRewrite for VariantCasts {
    fn name(&self) -> &str {
        "snowflake_variant_casts"
    }

    fn rewrite(&self, expr: Expr, schema: &DFSchema, _config: &ConfigOptions) -> Result<Transformed<Expr>> {
        Ok(match expr {
            // To a TIMESTAMP_TZ: the VARIANT's text, which the cast to
            // TIMESTAMP_TZ then reads (`crate::plan::ZonedTimestamps`).
            Expr::Cast(Cast { expr, field }) if semi(&expr, schema) && is_timestamp_tz(field.data_type()) => {
                let text = self.cast(*expr, &arrow_schema::DataType::Utf8, false);
                Transformed::yes(Expr::Cast(Cast { expr: Box::new(text), field }))
            }
            Expr::TryCast(TryCast { expr, field }) if semi(&expr, schema) && is_timestamp_tz(field.data_type()) => {
                let text = self.cast(*expr, &arrow_schema::DataType::Utf8, true);
                Transformed::yes(Expr::TryCast(TryCast { expr: Box::new(text), field }))
            }
            Expr::Cast(Cast { expr, field }) if semi(&expr, schema) => {
                Transformed::yes(self.cast(*expr, field.data_type(), false))
            }
            Expr::TryCast(TryCast { expr, field }) if semi(&expr, schema) => {
                Transformed::yes(self.cast(*expr, field.data_type(), true))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(
                    op,
                    Operator::Eq | Operator::NotEq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
                ) && semi(&left, schema) != semi(&right, schema) =>
            {
                let (l_semi, other) = if semi(&left, schema) { (true, &right) } else { (false, &left) };
                let Ok(to) = other.get_type(schema) else {
                    return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })));
                };
                let (left, right) = if l_semi {
                    (Box::new(self.cast(*left, &to, false)), right)
                } else {
                    (left, Box::new(self.cast(*right, &to, false)))
                };
                Transformed::yes(Expr::BinaryExpr(BinaryExpr { left, op, right }))
            }
            other => Transformed::no(other),
        })
    }
}
