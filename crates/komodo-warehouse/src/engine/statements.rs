//! Small helpers about statements: names and the refusal of what the
//! engine does not run.

use datafusion::sql::sqlparser::ast::{Ident, ObjectName};

use crate::WarehouseError;
use crate::catalog::TableKey;

/// The error of a statement the engine refuses to run.
pub(crate) fn not_allowed(what: &str) -> WarehouseError {
    WarehouseError::NotAllowed(format!(
        "{what} is not supported by the embedded warehouse: see the warehouse README for what it runs"
    ))
}

/// The refusal of a change to subscription data (read-only for everyone).
pub(crate) fn subscription_refused(object: &str) -> WarehouseError {
    WarehouseError::InsufficientPrivileges(format!(
        "{object}: subscription data is read-only; copy what you need into a database of your own \
         (CREATE DATABASE, then CREATE TABLE ... AS SELECT)"
    ))
}

/// The parts of `name`, unquoted.
pub(crate) fn object_name_parts(name: &ObjectName) -> Vec<String> {
    name.0.iter().map(|p| p.as_ident().map(|i| i.value.clone()).unwrap_or_else(|| p.to_string())).collect()
}

/// Table `key` as a quoted three-part name (taken as it is written).
pub(crate) fn quoted_name(key: &TableKey) -> ObjectName {
    let quoted = |part: &str| Ident::with_quote('"', part);
    ObjectName::from(vec![quoted(&key.0), quoted(&key.1), quoted(&key.2)])
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
