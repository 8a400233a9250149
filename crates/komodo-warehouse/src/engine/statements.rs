//! Small helpers about statements: names and the refusal of what the
//! engine does not run.

use datafusion::sql::sqlparser::ast::ObjectName;

use crate::WarehouseError;

/// The error of a statement the engine refuses to run.
pub(crate) fn not_allowed(what: &str) -> WarehouseError {
    WarehouseError::NotAllowed(format!(
        "{what} is not allowed: the embedded warehouse runs queries on the account's data and the session's temporary tables only"
    ))
}

pub(crate) fn object_name_parts(name: &ObjectName) -> Vec<String> {
    name.0.iter().map(|p| p.as_ident().map(|i| i.value.clone()).unwrap_or_else(|| p.to_string())).collect()
}
