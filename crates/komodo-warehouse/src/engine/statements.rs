//! Small helpers about statements: names and the refusal of what the
//! engine does not run.

use datafusion::sql::sqlparser::ast::ObjectName;

use crate::WarehouseError;
use crate::catalog::TableKey;

/// The error of a statement the engine refuses to run.
pub(crate) fn not_allowed(what: &str) -> WarehouseError {
    WarehouseError::NotAllowed(format!(
        "{what} is not supported by the embedded warehouse: see the warehouse README for what it runs"
    ))
}

/// The parts of `name`, unquoted.
pub(crate) fn object_name_parts(name: &ObjectName) -> Vec<String> {
    name.0.iter().map(|p| p.as_ident().map(|i| i.value.clone()).unwrap_or_else(|| p.to_string())).collect()
}

/// The whole name (database, schema, object) of `name` in a session whose
/// current database and schema are `database` and `schema`.
pub(crate) fn table_key(
    name: &ObjectName,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<TableKey, WarehouseError> {
    let parts = object_name_parts(name);
    let current =
        |what: &Option<String>| what.clone().ok_or_else(|| WarehouseError::NoCurrentDatabase(format!("naming {name}")));
    match parts.as_slice() {
        [t] => Ok((current(database)?, current(schema)?, t.clone())),
        [sc, t] => Ok((current(database)?, sc.clone(), t.clone())),
        [d, sc, t] => Ok((d.clone(), sc.clone(), t.clone())),
        _ => Err(WarehouseError::Compilation(format!("invalid object name {name}"))),
    }
}
