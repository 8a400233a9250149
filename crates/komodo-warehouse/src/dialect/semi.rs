//! Semi-structured data in the syntax tree: `v:path` and `v['key']`, casts
//! to `VARIANT`/`OBJECT`/`ARRAY`, `ARRAY_AGG` and `OBJECT_AGG` (as
//! Snowflake returns them: JSON, NULLs left out), each made a call of the
//! warehouse's functions (`crate::functions::variant`).

use datafusion::sql::sqlparser::ast::{
    self, BinaryOperator, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments,
    Ident, JsonPathElem, ObjectName, ObjectNamePart, Value,
};

use super::ast::{call, string};
use crate::WarehouseError;
use crate::functions::variant::{LIST_TO_ARRAY, LISTS_TO_OBJECT, VARIANT_GET};

/// The path text of a `:`/`[...]` access, in the syntax `GET_PATH` reads.
fn path_text(path: &[JsonPathElem]) -> Result<String, WarehouseError> {
    let mut text = String::new();
    for elem in path {
        match elem {
            JsonPathElem::Dot { key, quoted } => {
                if *quoted || key.contains(['.', '[', ']', '"']) {
                    text.push_str(&format!("[\"{}\"]", key.replace('"', "")));
                } else {
                    if !text.is_empty() {
                        text.push('.');
                    }
                    text.push_str(key);
                }
            }
            JsonPathElem::Bracket { key } | JsonPathElem::ColonBracket { key } => match key {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => text.push_str(&format!("[{n}]")),
                    Value::SingleQuotedString(k) | Value::DoubleQuotedString(k) => {
                        text.push_str(&format!("[\"{}\"]", k.replace('"', "")));
                    }
                    other => {
                        return Err(WarehouseError::Compilation(format!("unsupported key {other} in a path")));
                    }
                },
                other => {
                    return Err(WarehouseError::Compilation(format!(
                        "a path key must be a constant here, not {other}; use GET(v, expr)"
                    )));
                }
            },
        }
    }
    Ok(text)
}

/// The semi-structured type a SQL type names, if it names one.
pub(crate) fn semi_type(data_type: &DataType) -> Option<&'static str> {
    match data_type {
        DataType::Custom(name, args) if args.is_empty() => match name.0.as_slice() {
            [ObjectNamePart::Identifier(id)] => match id.value.to_ascii_uppercase().as_str() {
                "VARIANT" => Some("VARIANT"),
                "OBJECT" => Some("OBJECT"),
                _ => None,
            },
            _ => None,
        },
        DataType::Array(_) => Some("ARRAY"),
        _ => None,
    }
}

fn named(name: &str) -> ObjectName {
    ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))])
}

/// `x IS NOT NULL [AND y IS NOT NULL]`: the filter of the aggregates.
fn not_null(args: &[Expr]) -> Option<Expr> {
    args.iter().map(|a| Expr::IsNotNull(Box::new(a.clone()))).reduce(|a, b| Expr::BinaryOp {
        left: Box::new(a),
        op: BinaryOperator::And,
        right: Box::new(b),
    })
}

/// `array_agg(arg [ORDER BY ...]) FILTER (WHERE <all args not null>)`.
fn list_agg(f: &ast::Function, arg: Expr, filter_on: &[Expr]) -> Expr {
    let mut clauses = Vec::new();
    if !f.within_group.is_empty() {
        clauses.push(FunctionArgumentClause::OrderBy(f.within_group.clone()));
    }
    if let FunctionArguments::List(list) = &f.args {
        clauses.extend(list.clauses.iter().cloned());
    }
    let duplicate_treatment = match &f.args {
        FunctionArguments::List(list) => list.duplicate_treatment,
        _ => None,
    };
    Expr::Function(ast::Function {
        name: named("array_agg"),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment,
            args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))],
            clauses,
        }),
        filter: not_null(filter_on).map(Box::new),
        null_treatment: None,
        over: f.over.clone(),
        within_group: vec![],
    })
}

/// `expr` rewritten when it is semi-structured syntax; `None` otherwise.
pub(crate) fn rewrite_semi(expr: &Expr, name: Option<&str>) -> Result<Option<Expr>, WarehouseError> {
    match expr {
        Expr::JsonAccess { value, path } => {
            Ok(Some(call(VARIANT_GET, vec![(**value).clone(), string(&path_text(&path.path)?)])))
        }
        Expr::Cast { expr: inner, data_type, .. } if semi_type(data_type).is_some() => {
            Ok(Some(call("to_variant", vec![(**inner).clone()])))
        }
        Expr::Function(f) => {
            let args: Vec<Expr> = match &f.args {
                FunctionArguments::List(list) => list
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => vec![],
            };
            match name {
                // The values are aggregated as JSON text (what LIST_TO_ARRAY
                // and LISTS_TO_OBJECT read), so VARIANT values stay JSON.
                Some("ARRAY_AGG" | "ARRAYAGG") if args.len() == 1 => {
                    // DISTINCT orders by its argument itself: aggregate the
                    // values as they are, and convert them afterwards.
                    let distinct = matches!(&f.args, FunctionArguments::List(l) if l.duplicate_treatment.is_some());
                    if distinct {
                        let values = list_agg(f, args[0].clone(), &args);
                        return Ok(Some(call(LIST_TO_ARRAY, vec![values, string("values")])));
                    }
                    let values = list_agg(f, call("to_variant", vec![args[0].clone()]), &args);
                    Ok(Some(call(LIST_TO_ARRAY, vec![values])))
                }
                Some("OBJECT_AGG") if args.len() == 2 => {
                    let keys = list_agg(f, args[0].clone(), &args);
                    let values = list_agg(f, call("to_variant", vec![args[1].clone()]), &args);
                    Ok(Some(call(LISTS_TO_OBJECT, vec![keys, values])))
                }
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_get_path_syntax() {
        let dot = |k: &str| JsonPathElem::Dot { key: k.into(), quoted: false };
        let idx = |n: &str| JsonPathElem::Bracket { key: Expr::value(Value::Number(n.into(), false)) };
        assert_eq!(path_text(&[dot("a"), dot("b"), idx("0")]).unwrap(), "a.b[0]");
        assert_eq!(
            path_text(&[JsonPathElem::Bracket { key: Expr::value(Value::SingleQuotedString("k k".into())) }]).unwrap(),
            "[\"k k\"]"
        );
    }
}
