//! Snowflake functions as DataFusion expressions or calls of the
//! warehouse's own functions (`crate::functions`).

use datafusion::sql::sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, Value,
};

use crate::WarehouseError;

use super::ast::{call, date_part, function_name, plain_args, snowflake_format_to_chrono, string, template};
use super::session::SessionValues;

/// `expr` rewritten when it is a call of a Snowflake function DataFusion
/// lacks (or names differently); `None` to leave it as it is.
pub(crate) fn rewrite_function(expr: &Expr, session: &SessionValues) -> Result<Option<Expr>, WarehouseError> {
    if let Expr::RLike { negated, expr, pattern, .. } = expr {
        // `x RLIKE p` and `x REGEXP p` match the whole subject, as
        // `REGEXP_LIKE` does.
        let call = call("regexp_like", vec![(**expr).clone(), (**pattern).clone()]);
        return Ok(Some(if *negated {
            Expr::UnaryOp { op: ast::UnaryOperator::Not, expr: Box::new(call) }
        } else {
            call
        }));
    }
    let Expr::Function(f) = expr else { return Ok(None) };
    let Some(name) = function_name(f) else { return Ok(None) };
    if f.over.is_some() || f.filter.is_some() {
        return Ok(None);
    }
    if name == "LISTAGG" {
        return Ok(Some(listagg(f)?));
    }
    let Some(args) = plain_args(f) else { return Ok(None) };
    let arity = |n: usize| -> Result<(), WarehouseError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(WarehouseError::Compilation(format!("function {name} takes {n} argument(s), {} given", args.len())))
        }
    };
    let opt = |v: &Option<String>| v.as_deref().map(string).unwrap_or_else(|| Expr::value(Value::Null));
    Ok(Some(match name.as_str() {
        "CURRENT_ACCOUNT" | "CURRENT_ACCOUNT_NAME" => string(&session.account),
        "CURRENT_DATABASE" => opt(&session.database),
        "CURRENT_SCHEMA" => opt(&session.schema),
        "CURRENT_WAREHOUSE" | "CURRENT_ROLE" if args.is_empty() => Expr::value(Value::Null),
        "SYSDATE" | "GETDATE" if args.is_empty() => template("CAST(now() AS TIMESTAMP)", &args)?,
        "CURRENT_VERSION" if args.is_empty() => string(env!("CARGO_PKG_VERSION")),
        "IFF" => {
            arity(3)?;
            template("CASE WHEN __0 THEN __1 ELSE __2 END", &args)?
        }
        "ZEROIFNULL" => {
            arity(1)?;
            template("coalesce(__0, 0)", &args)?
        }
        "NULLIFZERO" => {
            arity(1)?;
            template("nullif(__0, 0)", &args)?
        }
        "TO_VARCHAR" | "TO_CHAR" if args.len() == 1 => template("CAST(__0 AS VARCHAR)", &args)?,
        "TO_VARCHAR" | "TO_CHAR" if args.len() == 2 => match &args[1] {
            Expr::Value(v) if matches!(&v.value, Value::SingleQuotedString(_)) => {
                let Value::SingleQuotedString(fmt) = &v.value else { unreachable!() };
                template("to_char(__0, __1)", &[args[0].clone(), string(&snowflake_format_to_chrono(fmt))])?
            }
            _ => return Ok(None),
        },
        "TO_DOUBLE" if args.len() == 1 => template("CAST(__0 AS DOUBLE)", &args)?,
        "TO_BOOLEAN" if args.len() == 1 => template("CAST(__0 AS BOOLEAN)", &args)?,
        // Snowflake functions that are another function or expression
        // with each argument used once (SECURITY.md F02); the rest are
        // the warehouse's own (`crate::functions`), found by name.
        "TRY_TO_DOUBLE" => {
            arity(1)?;
            template("TRY_CAST(__0 AS DOUBLE)", &args)?
        }
        "TRY_TO_BOOLEAN" => {
            arity(1)?;
            template("TRY_CAST(__0 AS BOOLEAN)", &args)?
        }
        "EQUAL_NULL" => {
            arity(2)?;
            template("__0 IS NOT DISTINCT FROM __1", &args)?
        }
        "BOOLAND_AGG" => {
            arity(1)?;
            template("bool_and(CAST(__0 AS BOOLEAN))", &args)?
        }
        "BOOLOR_AGG" => {
            arity(1)?;
            template("bool_or(CAST(__0 AS BOOLEAN))", &args)?
        }
        "DATEADD" | "TIMESTAMPADD" => {
            arity(3)?;
            let part = date_part(&args[0]).ok_or_else(|| {
                WarehouseError::Compilation(format!("invalid date or time part in {name}: {}", args[0]))
            })?;
            call("dateadd", vec![string(part), args[1].clone(), args[2].clone()])
        }
        "YEAR" | "QUARTER" | "MONTH" | "WEEK" | "DAY" | "DAYOFMONTH" | "DAYOFWEEK" | "DAYOFYEAR" | "HOUR"
        | "MINUTE" | "SECOND"
            if args.len() == 1 =>
        {
            let part = match name.as_str() {
                "DAYOFMONTH" => "day".to_owned(),
                "DAYOFWEEK" => "dow".to_owned(),
                "DAYOFYEAR" => "doy".to_owned(),
                other => other.to_ascii_lowercase(),
            };
            template(&format!("CAST(date_part('{part}', __0) AS BIGINT)"), &args)?
        }
        "APPROX_COUNT_DISTINCT" if args.len() == 1 => template("approx_distinct(__0)", &args)?,
        "COUNT_IF" if args.len() == 1 => template("sum(CASE WHEN __0 THEN 1 ELSE 0 END)", &args)?,
        "DATEDIFF" | "TIMESTAMPDIFF" => {
            arity(3)?;
            let part = date_part(&args[0]).ok_or_else(|| {
                WarehouseError::Compilation(format!("invalid date or time part in {name}: {}", args[0]))
            })?;
            // A function of its own: each operand is evaluated once (F02).
            call("datediff", vec![string(part), args[1].clone(), args[2].clone()])
        }
        _ => return Ok(None),
    }))
}

/// `a || b` as Snowflake's `CONCAT` (NULL when either side is NULL, its
/// size checked before it is built): a chain of `||` becomes one call.
pub(crate) fn concat(left: Expr, right: Expr) -> Expr {
    let mut args = match left {
        Expr::Function(ast::Function { name, args: FunctionArguments::List(list), .. })
            if is_concat_name(&name) && list.clauses.is_empty() =>
        {
            // Only ever this function's own calls: every argument is plain.
            list.args
                .into_iter()
                .filter_map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                    _ => None,
                })
                .collect()
        }
        other => vec![other],
    };
    args.push(right);
    call(CONCAT, args)
}

/// The name [`concat`] calls (lower case, so a call written `CONCAT(...)`
/// by a user is not taken for one of its own).
const CONCAT: &str = "concat";

fn is_concat_name(name: &ObjectName) -> bool {
    matches!(name.0.as_slice(), [ObjectNamePart::Identifier(id)] if id.value == CONCAT && id.quote_style.is_none())
}

/// `LISTAGG(x [, sep]) [WITHIN GROUP (ORDER BY ...)]` as
/// `string_agg(x, sep ORDER BY ...)`.
fn listagg(f: &ast::Function) -> Result<Expr, WarehouseError> {
    let mut f = f.clone();
    f.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("string_agg"))]);
    let FunctionArguments::List(list) = &mut f.args else {
        return Err(WarehouseError::Compilation("LISTAGG needs an argument".into()));
    };
    if list.args.len() == 1 {
        list.args.push(FunctionArg::Unnamed(FunctionArgExpr::Expr(string(""))));
    }
    let order = std::mem::take(&mut f.within_group);
    if !order.is_empty() {
        list.clauses.push(FunctionArgumentClause::OrderBy(order));
    }
    Ok(Expr::Function(f))
}
