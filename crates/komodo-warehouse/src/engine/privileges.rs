//! Who may change what. A read-only session (an account's `reader` role)
//! reads every table it can see and changes none of the account's own
//! data; its temporary tables are its own and stay writable, and so does
//! the session itself (`USE`, `SET`, `ALTER SESSION`, transactions).
//!
//! The check is an allow-list on the parsed statement: what is not known
//! to leave the account's data as it is gets Snowflake's
//! insufficient-privileges error, whether or not the engine would run it.

use datafusion::sql::sqlparser::ast::{FromTable, ObjectName, ObjectType, Statement, TableFactor, TableObject};

use super::session::Access;
use super::tables::OwnTables;
use crate::WarehouseError;

/// Fails with [`WarehouseError::InsufficientPrivileges`] when a session
/// with `access` may not run `statement`.
pub(crate) fn check(access: Access, statement: &Statement, own: &OwnTables<'_>) -> Result<(), WarehouseError> {
    if access == Access::ReadWrite {
        return Ok(());
    }
    match changed_object(statement, own) {
        Some(object) => Err(reader_refused(object)),
        None => Ok(()),
    }
}

/// Fails when a read-only session names table `name` in `UNDROP TABLE`.
pub(crate) fn check_undrop(access: Access, name: &ObjectName) -> Result<(), WarehouseError> {
    match access {
        Access::ReadWrite => Ok(()),
        Access::ReadOnly => Err(reader_refused(format!("table '{name}'"))),
    }
}

pub(crate) fn reader_refused(object: String) -> WarehouseError {
    WarehouseError::InsufficientPrivileges(format!(
        "{object}: this session's role (READER) may only read; an account admin can make you a member \
         (`komodo-server admin add-member --role member`)"
    ))
}

/// The account object `statement` would change, described as Snowflake's
/// error names it (`table 'T'`); `None` when it changes none.
fn changed_object(statement: &Statement, own: &OwnTables<'_>) -> Option<String> {
    let table = |name: &ObjectName| -> Option<String> {
        match own.key(name) {
            Ok(key) if own.s.tables.is_temp(&key) => None,
            Ok(key) => Some(format!("table '{}'", key.2)),
            Err(_) => Some(format!("table '{name}'")),
        }
    };
    let relation = |factor: &TableFactor| match factor {
        TableFactor::Table { name, .. } => table(name),
        other => Some(format!("'{other}'")),
    };
    match statement {
        Statement::Query(_)
        | Statement::Explain { .. }
        | Statement::ExplainTable { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowObjects(_)
        | Statement::ShowColumns { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowFunctions { .. }
        | Statement::List(_)
        | Statement::Use(_)
        | Statement::Set(_)
        | Statement::AlterSession { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. } => None,
        Statement::CreateTable(ct) if ct.temporary => None,
        Statement::CreateTable(ct) => Some(format!("schema of table '{}'", ct.name)),
        Statement::Insert(insert) => match &insert.table {
            TableObject::TableName(name) => table(name),
            other => Some(format!("'{other}'")),
        },
        Statement::Update(update) => relation(&update.table.relation),
        Statement::Delete(delete) => {
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
            let targets = delete.tables.iter().filter_map(table);
            targets.chain(from.iter().filter_map(|t| relation(&t.relation))).next()
        }
        Statement::Merge(merge) => relation(&merge.table),
        Statement::Truncate(truncate) => truncate.table_names.iter().find_map(|t| table(&t.name)),
        Statement::Drop { object_type: ObjectType::Table, names, .. } => names.iter().find_map(table),
        Statement::Drop { object_type, names, .. } => {
            let names: Vec<String> = names.iter().map(ToString::to_string).collect();
            Some(format!("{} '{}'", object_type.to_string().to_lowercase(), names.join(", ")))
        }
        Statement::AlterTable(alter) => table(&alter.name),
        other => {
            let text = other.to_string();
            let verb: Vec<&str> = text.split_whitespace().take(2).collect();
            Some(format!("the account's objects ({})", verb.join(" ")))
        }
    }
}
