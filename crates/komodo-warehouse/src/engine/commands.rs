//! Statements the engine answers itself: `USE`, `ALTER SESSION`, session
//! variables, `DROP TABLE`, `DESCRIBE`, `SHOW ... KEYS` (the catalog's
//! other `SHOW`s are in `show`).

use std::time::Duration;

use datafusion::sql::sqlparser::ast::helpers::key_value_options::{KeyValueOptionKind, KeyValueOptions};
use datafusion::sql::sqlparser::ast::{ObjectName, Use, Value};

use super::result::{QueryStream, StatementKind, status_result, strings_result};
use super::session::SessionEntry;
use super::statements::object_name_parts;
use datafusion::scalar::ScalarValue;

use super::show::like_matches;
use super::tables::OwnTables;
use crate::catalog::TableKey;
use crate::plan::column_default;
use crate::{WarehouseError, information_schema};

/// Statements the engine answers itself (no DataFusion plan).
pub(crate) struct Commands<'a>(pub(crate) &'a SessionEntry);

impl Commands<'_> {
    pub(crate) fn use_statement(&self, u: &Use) -> Result<QueryStream, WarehouseError> {
        let s = self.0;
        let mut current = s.current.lock();
        match u {
            Use::Warehouse(_) => Err(WarehouseError::UseWarehouse),
            Use::Database(name) | Use::Catalog(name) => {
                let parts = object_name_parts(name);
                let [db] = parts.as_slice() else {
                    return Err(WarehouseError::Compilation(format!("invalid database name {name}")));
                };
                if !s.tables.database_names().contains(db) {
                    return Err(WarehouseError::ObjectNotFound(db.clone()));
                }
                *current =
                    (Some(db.clone()), Some("PUBLIC".to_owned()).filter(|p| s.tables.schema_names(db).contains(p)));
                Ok(status_result(StatementKind::Use, "Statement executed successfully.".into()))
            }
            Use::Schema(name) | Use::Object(name) => {
                let parts = object_name_parts(name);
                let (db, schema) = match parts.as_slice() {
                    [schema] if matches!(u, Use::Schema(_)) => match &current.0 {
                        Some(db) => (db.clone(), schema.clone()),
                        None => return Err(WarehouseError::NoCurrentDatabase("USE SCHEMA".into())),
                    },
                    [db] => {
                        // `USE x`: a database.
                        if !s.tables.database_names().contains(db) {
                            return Err(WarehouseError::ObjectNotFound(db.clone()));
                        }
                        *current = (Some(db.clone()), None);
                        return Ok(status_result(StatementKind::Use, "Statement executed successfully.".into()));
                    }
                    [db, schema] => (db.clone(), schema.clone()),
                    _ => return Err(WarehouseError::Compilation(format!("invalid schema name {name}"))),
                };
                if !s.tables.schema_names(&db).contains(&schema) {
                    return Err(WarehouseError::ObjectNotFound(format!("{db}.{schema}")));
                }
                *current = (Some(db), Some(schema));
                Ok(status_result(StatementKind::Use, "Statement executed successfully.".into()))
            }
            Use::Role(_) | Use::SecondaryRoles(_) => {
                Ok(status_result(StatementKind::Use, "Statement executed successfully.".into()))
            }
            Use::Default => Err(WarehouseError::Compilation("USE DEFAULT is not supported".into())),
        }
    }

    /// `ALTER SESSION SET|UNSET ...` of the parameters the engine honours
    /// (all or none of them):
    ///
    /// - `STATEMENT_TIMEOUT_IN_SECONDS`: a lower time limit than the
    ///   engine's (0 or `UNSET`: the engine's); a higher one is refused.
    /// - `QUERY_TAG`: kept with the session.
    /// - `QUERY_RESULT_FORMAT` and the connectors' own names for it
    ///   (`PYTHON_CONNECTOR_QUERY_RESULT_FORMAT`, `JDBC_...`, `ODBC_...`):
    ///   `JSON` or `ARROW`, for the gateway to answer in.
    /// - `AUTOCOMMIT`: with `FALSE`, a session's first write opens a
    ///   transaction (see `transaction`).
    /// - `TIMEZONE = 'UTC'`, what the engine does anyway.
    ///
    /// Anything else is refused with an error naming the parameter: no
    /// parameter is accepted and then ignored.
    pub(crate) fn alter_session(&self, set: bool, options: &KeyValueOptions) -> Result<QueryStream, WarehouseError> {
        let s = self.0;
        let mut params = s.params.lock().clone();
        for option in &options.options {
            let name = option.option_name.to_ascii_uppercase();
            let value = if set { Some(option_text(&name, &option.option_value)?) } else { None };
            let invalid = |what: &str| {
                WarehouseError::Compilation(format!(
                    "invalid value [{}] for parameter '{name}': {what}",
                    value.as_deref().unwrap_or("")
                ))
            };
            match name.as_str() {
                "STATEMENT_TIMEOUT_IN_SECONDS" => {
                    params.statement_timeout = match &value {
                        None => None,
                        Some(v) => match v.parse::<u64>() {
                            Ok(0) => None,
                            Ok(n) if Duration::from_secs(n) <= s.max_timeout => Some(Duration::from_secs(n)),
                            Ok(_) => {
                                return Err(invalid(&format!(
                                    "the platform's limit is {} seconds; set a lower one or 0 for the platform's",
                                    s.max_timeout.as_secs()
                                )));
                            }
                            Err(_) => return Err(invalid("a whole number of seconds is expected")),
                        },
                    }
                }
                "QUERY_TAG" => params.query_tag = value.filter(|v| !v.is_empty()),
                "QUERY_RESULT_FORMAT"
                | "PYTHON_CONNECTOR_QUERY_RESULT_FORMAT"
                | "JDBC_QUERY_RESULT_FORMAT"
                | "ODBC_QUERY_RESULT_FORMAT" => {
                    params.result_format = match value.as_deref().map(str::to_ascii_uppercase) {
                        None => None,
                        Some(f) if f == "JSON" || f == "ARROW" => Some(f),
                        Some(_) => return Err(invalid("JSON or ARROW is expected")),
                    }
                }
                "AUTOCOMMIT" => {
                    params.autocommit_off = match value.as_deref().map(str::to_ascii_uppercase).as_deref() {
                        None | Some("TRUE") => false,
                        Some("FALSE") => true,
                        Some(_) => return Err(invalid("TRUE or FALSE is expected")),
                    }
                }
                "TIMEZONE" => {
                    if value
                        .as_deref()
                        .is_some_and(|v| !matches!(v.to_ascii_uppercase().as_str(), "UTC" | "ETC/UTC" | "GMT"))
                    {
                        return Err(WarehouseError::NotAllowed(
                            "TIMEZONE other than 'UTC' is not supported: the warehouse works in UTC".into(),
                        ));
                    }
                }
                other => {
                    return Err(WarehouseError::NotAllowed(format!(
                        "session parameter {other} is not supported; ALTER SESSION can set STATEMENT_TIMEOUT_IN_SECONDS, \
                         QUERY_TAG, QUERY_RESULT_FORMAT, AUTOCOMMIT and TIMEZONE ('UTC')"
                    )));
                }
            }
        }
        *s.params.lock() = params;
        Ok(status_result(StatementKind::NoOp, "Statement executed successfully.".into()))
    }

    /// `SET name = value, ...` with the values already computed.
    pub(crate) fn set_variables(
        &self,
        names: Vec<String>,
        values: Vec<ScalarValue>,
    ) -> Result<QueryStream, WarehouseError> {
        let mut variables = self.0.variables.lock();
        for (name, value) in names.into_iter().zip(values) {
            let text_len = match &value {
                ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
                    s.len()
                }
                ScalarValue::Binary(Some(b)) | ScalarValue::LargeBinary(Some(b)) => b.len(),
                _ => 0,
            };
            if text_len > MAX_VARIABLE_BYTES {
                return Err(WarehouseError::Compilation(format!(
                    "Assignment to '{name}' not done because value exceeds size limit for variables. \
                     Its size is {text_len}; the limit is {MAX_VARIABLE_BYTES}"
                )));
            }
            if !variables.contains_key(&name) && variables.len() >= MAX_VARIABLES {
                return Err(WarehouseError::Compilation(format!(
                    "a session may set at most {MAX_VARIABLES} variables; UNSET some first"
                )));
            }
            variables.insert(name, value);
        }
        Ok(status_result(StatementKind::NoOp, "Statement executed successfully.".into()))
    }

    /// `UNSET name` / `UNSET (a, b)`.
    pub(crate) fn unset_variables(&self, names: &[ObjectName]) -> Result<QueryStream, WarehouseError> {
        let mut variables = self.0.variables.lock();
        for name in names {
            let key = object_name_parts(name).join(".").to_ascii_uppercase();
            if variables.remove(&key).is_none() {
                return Err(WarehouseError::Compilation(format!("Session variable '${key}' does not exist")));
            }
        }
        Ok(status_result(StatementKind::NoOp, "Statement executed successfully.".into()))
    }

    /// `SHOW VARIABLES [LIKE '...']`: name, value and type of each.
    pub(crate) fn show_variables(&self, like: Option<&str>) -> QueryStream {
        let (mut names, mut values, mut types) = (vec![], vec![], vec![]);
        for (name, value) in self.0.variables.lock().iter() {
            if like.as_ref().is_some_and(|p| !like_matches(p, name)) {
                continue;
            }
            names.push(name.clone());
            values.push(if value.is_null() { "NULL".to_owned() } else { value.to_string() });
            types.push(variable_type(value).to_owned());
        }
        strings_result(&["name", "value", "type"], vec![names, values, types])
    }

    /// `DROP TABLE`: the session's temporary table of that name, else the
    /// account's own table (kept aside for `UNDROP TABLE`).
    pub(crate) fn drop_tables(
        &self,
        names: &[ObjectName],
        if_exists: bool,
        own: &OwnTables<'_>,
    ) -> Result<QueryStream, WarehouseError> {
        let s = self.0;
        let mut dropped = Vec::new();
        for name in names {
            let key: TableKey = own.key(name)?;
            let removed = s.tables.temps.lock().remove(&key).is_some();
            if removed || own.drop_table(&key)? {
                dropped.push(key.2);
            } else if s.tables.subscription_has(&key) {
                return Err(super::statements::subscription_refused(&format!("table '{}'", key.2)));
            } else if !if_exists {
                return Err(WarehouseError::ObjectNotFound(key.2));
            }
        }
        let message = match dropped.as_slice() {
            [] => "Drop statement executed successfully (table already dropped).".to_owned(),
            names => format!("{} successfully dropped.", names.join(", ")),
        };
        Ok(status_result(StatementKind::DropTable, message))
    }

    /// `DESCRIBE TABLE`: one row per column of `schema` (the table's or the
    /// view's columns as planned), with Snowflake's columns.
    pub(crate) fn describe_table(&self, schema: &arrow_schema::Schema) -> QueryStream {
        let types = crate::encode::row_types(schema, &Default::default());
        let n = types.len();
        let fixed = |v: &str| vec![v.to_owned(); n];
        strings_result(
            &[
                "name",
                "type",
                "kind",
                "null?",
                "default",
                "primary key",
                "unique key",
                "check",
                "expression",
                "comment",
                "policy name",
                "privacy domain",
            ],
            vec![
                types.iter().map(|t| t.name.clone()).collect(),
                types.iter().map(information_schema::type_text).collect(),
                fixed("COLUMN"),
                types.iter().map(|t| if t.nullable { "Y" } else { "N" }.to_owned()).collect(),
                schema.fields().iter().map(|f| column_default(f).unwrap_or_default()).collect(),
                fixed("N"),
                fixed("N"),
                fixed(""),
                fixed(""),
                fixed(""),
                fixed(""),
                fixed(""),
            ],
        )
    }

    /// `SHOW PRIMARY KEYS | UNIQUE KEYS | IMPORTED KEYS ...`: the warehouse
    /// keeps no constraints, so no rows, with Snowflake's columns (what
    /// SQLAlchemy's reflection reads).
    pub(crate) fn show_keys(&self, imported: bool) -> QueryStream {
        let names: &[&str] = if imported {
            &[
                "created_on",
                "pk_database_name",
                "pk_schema_name",
                "pk_table_name",
                "pk_column_name",
                "fk_database_name",
                "fk_schema_name",
                "fk_table_name",
                "fk_column_name",
                "key_sequence",
                "update_rule",
                "delete_rule",
                "fk_name",
                "pk_name",
                "deferrability",
                "rely",
                "comment",
            ]
        } else {
            &[
                "created_on",
                "database_name",
                "schema_name",
                "table_name",
                "column_name",
                "key_sequence",
                "constraint_name",
                "rely",
                "comment",
            ]
        };
        strings_result(names, names.iter().map(|_| Vec::new()).collect())
    }
}

/// The most bytes a string or binary variable may hold (Snowflake's limit).
const MAX_VARIABLE_BYTES: usize = 256;

/// The most variables one session may hold.
const MAX_VARIABLES: usize = 1_000;

/// Snowflake's type name of a variable's value, as `SHOW VARIABLES` gives it.
fn variable_type(value: &ScalarValue) -> &'static str {
    use arrow_schema::DataType as D;
    match value.data_type() {
        D::Int8 | D::Int16 | D::Int32 | D::Int64 | D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => "fixed",
        D::Decimal128(..) | D::Decimal256(..) => "fixed",
        D::Float16 | D::Float32 | D::Float64 => "real",
        D::Boolean => "boolean",
        D::Date32 | D::Date64 => "date",
        D::Timestamp(..) => "timestamp_ntz",
        D::Time32(_) | D::Time64(_) => "time",
        D::Binary | D::LargeBinary => "binary",
        D::Null => "null",
        _ => "text",
    }
}

/// The text of a session parameter's value (`'x'`, `x`, `10`, `TRUE`).
fn option_text(name: &str, value: &KeyValueOptionKind) -> Result<String, WarehouseError> {
    let KeyValueOptionKind::Single(v) = value else {
        return Err(WarehouseError::Compilation(format!("parameter '{name}' takes a single value")));
    };
    Ok(match &v.value {
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) | Value::Placeholder(s) => s.clone(),
        Value::Number(n, _) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    })
}
