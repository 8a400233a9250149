//! Session variables (`SET x = ...`, `$x`) and `IDENTIFIER(...)`.
//!
//! A variable in an expression becomes one more bind parameter: its value
//! is bound on the plan like a connector's binding, never spliced into the
//! text. `IDENTIFIER('db.schema.t')` and `IDENTIFIER($name)` name an object
//! with a string, so they are resolved on the syntax tree.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, ObjectNamePart, Statement,
    TableFactor, Value, VisitMut, VisitorMut,
};

use crate::WarehouseError;

/// A variable's name as written after `$` (not a positional `$1`).
fn variable_name(placeholder: &str) -> Option<String> {
    let name = placeholder.strip_prefix('$')?;
    (!name.is_empty() && !name.bytes().all(|b| b.is_ascii_digit())).then(|| name.to_ascii_uppercase())
}

fn unknown(name: &str) -> WarehouseError {
    WarehouseError::Compilation(format!("Session variable '${name}' does not exist; set it with SET {name} = ..."))
}

/// Turns every `$NAME` in `statement` into a positional placeholder after
/// the `bound` ones the statement already has, and returns the values to
/// bind to them, in order.
pub(crate) fn bind_variables(
    statement: &mut Statement,
    variables: &BTreeMap<String, ScalarValue>,
    bound: usize,
) -> Result<Vec<ScalarValue>, WarehouseError> {
    let mut order: Vec<String> = Vec::new();
    let mut error = None;
    let _ = ast::visit_expressions_mut(statement, |e| {
        let Expr::Value(v) = e else { return ControlFlow::Continue(()) };
        let Value::Placeholder(p) = &v.value else { return ControlFlow::Continue(()) };
        let Some(name) = variable_name(p) else { return ControlFlow::Continue(()) };
        if !variables.contains_key(&name) {
            error = Some(unknown(&name));
            return ControlFlow::Break(());
        }
        let index = match order.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                order.push(name);
                order.len() - 1
            }
        };
        v.value = Value::Placeholder(format!("${}", bound + index + 1));
        ControlFlow::Continue(())
    });
    if let Some(e) = error {
        return Err(e);
    }
    Ok(order.iter().map(|n| variables[n].clone()).collect())
}

/// An object name written as a string (`'db.schema."t"'`): dot-separated
/// parts, unquoted ones upper-cased, quoted ones exact.
fn parse_object_name(text: &str) -> Result<ObjectName, WarehouseError> {
    let invalid = || WarehouseError::Compilation(format!("invalid identifier '{text}' in IDENTIFIER(...)"));
    let mut parts = Vec::new();
    let mut rest = text.trim();
    loop {
        let (part, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                        value.push('"');
                        chars.next();
                    }
                    Some((i, '"')) => break i + 1,
                    Some((_, c)) => value.push(c),
                    None => return Err(invalid()),
                }
            };
            (Ident::with_quote('"', value), &quoted[end..])
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            let name = rest[..end].trim();
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                return Err(invalid());
            }
            (Ident::new(name.to_uppercase()), &rest[end..])
        };
        parts.push(ObjectNamePart::Identifier(part));
        match after.trim_start().strip_prefix('.') {
            Some(next) => rest = next.trim_start(),
            None if after.trim().is_empty() => break,
            None => return Err(invalid()),
        }
    }
    Ok(ObjectName(parts))
}

/// The text an `IDENTIFIER(...)` argument names: a string literal, or a
/// variable holding one.
fn identifier_text(arg: &Expr, variables: &BTreeMap<String, ScalarValue>) -> Result<String, WarehouseError> {
    match arg {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Ok(s.clone()),
            Value::Placeholder(p) => match variable_name(p) {
                Some(name) => match variables.get(&name) {
                    Some(
                        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)),
                    ) => Ok(s.clone()),
                    Some(_) => Err(WarehouseError::Compilation(format!(
                        "IDENTIFIER(${name}): the variable does not hold a string"
                    ))),
                    None => Err(unknown(&name)),
                },
                None => Err(WarehouseError::Compilation("IDENTIFIER(...) takes a string or a variable".into())),
            },
            _ => Err(WarehouseError::Compilation("IDENTIFIER(...) takes a string or a variable".into())),
        },
        _ => Err(WarehouseError::Compilation("IDENTIFIER(...) takes a string or a variable".into())),
    }
}

fn is_identifier_call(name: &ObjectName) -> bool {
    matches!(name.0.as_slice(), [ObjectNamePart::Identifier(id)] if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("IDENTIFIER"))
}

fn single_arg(args: &[FunctionArg]) -> Option<&Expr> {
    match args {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Some(e),
        _ => None,
    }
}

/// Replaces every `IDENTIFIER(...)` of `statement` with the name it holds.
pub(crate) fn resolve_identifiers(
    statement: &mut Statement,
    variables: &BTreeMap<String, ScalarValue>,
) -> Result<(), WarehouseError> {
    let mut v = Identifiers { variables, error: None };
    let _ = statement.visit(&mut v);
    v.error.map_or(Ok(()), Err)
}

struct Identifiers<'a> {
    variables: &'a BTreeMap<String, ScalarValue>,
    error: Option<WarehouseError>,
}

impl Identifiers<'_> {
    fn fail(&mut self, e: WarehouseError) -> ControlFlow<()> {
        self.error = Some(e);
        ControlFlow::Break(())
    }
}

impl VisitorMut for Identifiers<'_> {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<()> {
        // `IDENTIFIER(...)` as (part of) a table name, as sqlparser reads it.
        if !relation
            .0
            .iter()
            .any(|p| matches!(p, ObjectNamePart::Function(f) if f.name.value.eq_ignore_ascii_case("IDENTIFIER")))
        {
            return ControlFlow::Continue(());
        }
        let mut parts = Vec::with_capacity(relation.0.len());
        for part in std::mem::take(&mut relation.0) {
            match part {
                ObjectNamePart::Function(f) if f.name.value.eq_ignore_ascii_case("IDENTIFIER") => {
                    let Some(arg) = single_arg(&f.args) else {
                        return self.fail(WarehouseError::Compilation("IDENTIFIER(...) takes one argument".into()));
                    };
                    match identifier_text(arg, self.variables).and_then(|t| parse_object_name(&t)) {
                        Ok(name) => parts.extend(name.0),
                        Err(e) => return self.fail(e),
                    }
                }
                other => parts.push(other),
            }
        }
        relation.0 = parts;
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, args: Some(args), .. } = factor
            && is_identifier_call(name)
        {
            let Some(arg) = single_arg(&args.args) else {
                return self.fail(WarehouseError::Compilation("IDENTIFIER(...) takes one argument".into()));
            };
            let resolved = identifier_text(arg, self.variables).and_then(|t| parse_object_name(&t));
            match resolved {
                Ok(resolved) => {
                    if let TableFactor::Table { name, args, .. } = factor {
                        *name = resolved;
                        *args = None;
                    }
                }
                Err(e) => return self.fail(e),
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(f) = expr else { return ControlFlow::Continue(()) };
        if !is_identifier_call(&f.name) {
            return ControlFlow::Continue(());
        }
        let FunctionArguments::List(list) = &f.args else {
            return self.fail(WarehouseError::Compilation("IDENTIFIER(...) takes one argument".into()));
        };
        let Some(arg) = single_arg(&list.args) else {
            return self.fail(WarehouseError::Compilation("IDENTIFIER(...) takes one argument".into()));
        };
        match identifier_text(arg, self.variables).and_then(|t| parse_object_name(&t)) {
            Ok(name) => {
                let mut idents: Vec<Ident> = name.0.into_iter().filter_map(|p| p.as_ident().cloned()).collect();
                *expr = if idents.len() == 1 {
                    Expr::Identifier(idents.remove(0))
                } else {
                    Expr::CompoundIdentifier(idents)
                };
                ControlFlow::Continue(())
            }
            Err(e) => self.fail(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_in_strings_follow_identifier_rules() {
        assert_eq!(parse_object_name("demo.healthcare.claims").unwrap().to_string(), "DEMO.HEALTHCARE.CLAIMS");
        assert_eq!(parse_object_name("\"My Table\"").unwrap().to_string(), "\"My Table\"");
        assert_eq!(parse_object_name("db.\"a\"\"b\"").unwrap().to_string(), "DB.\"a\"\"b\"");
        for bad in ["", "a..b", "a b", "\"open", "x;drop table t"] {
            assert!(parse_object_name(bad).is_err(), "{bad}");
        }
    }
}
