//! `GET_DDL('TABLE' | 'VIEW' | 'SCHEMA' | 'DATABASE', '<name>'
//! [, <fully qualified>])`: the statements that would make an object again,
//! as Snowflake writes them (`create or replace TABLE T (\n\tID
//! NUMBER(38,0) NOT NULL,\n\t...\n);`). Its arguments must be constants:
//! each call is replaced by its text before the statement is planned.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use arrow_schema::SchemaRef;
use datafusion::sql::sqlparser::ast::{self, Expr, Statement, Value};

use super::session::SessionEntry;
use super::statements::{object_name_parts, table_key};
use crate::catalog::{ObjectKind, TableKey};
use crate::dialect::ast::{function_name, plain_args, string};
use crate::encode::{ColumnOrigin, row_types};
use crate::plan::{COLUMN_DEFAULT, column_identity};
use crate::{WarehouseError, information_schema};

/// One `GET_DDL` call: what it asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Request {
    kind: String,
    name: String,
    qualified: bool,
}

/// The call's request, when `expr` is a `GET_DDL` call; an error when its
/// arguments are not constants of the right kinds.
fn request_of(expr: &Expr) -> Option<Result<Request, WarehouseError>> {
    let Expr::Function(f) = expr else { return None };
    if function_name(f).as_deref() != Some("GET_DDL") {
        return None;
    }
    let invalid = || {
        WarehouseError::Compilation(
            "GET_DDL takes constants: GET_DDL('TABLE' | 'VIEW' | 'SCHEMA' | 'DATABASE', '<name>' [, TRUE | FALSE])"
                .into(),
        )
    };
    let text = |e: &Expr| match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    let request = (|| {
        let args = plain_args(f)?;
        let (kind, name, qualified) = match args.as_slice() {
            [kind, name] => (text(kind)?, text(name)?, false),
            [kind, name, Expr::Value(v)] => match v.value {
                Value::Boolean(b) => (text(kind)?, text(name)?, b),
                _ => return None,
            },
            _ => return None,
        };
        Some(Request { kind: kind.trim().to_ascii_uppercase(), name, qualified })
    })();
    Some(request.ok_or_else(invalid))
}

/// Replaces each `GET_DDL(...)` call in `statement` with its text.
pub(crate) async fn expand_get_ddl(
    s: &SessionEntry,
    statement: &mut Statement,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<(), WarehouseError> {
    let mut requests = Vec::new();
    let visited = ast::visit_expressions(statement, |e| match request_of(e) {
        Some(Ok(r)) => {
            requests.push(r);
            ControlFlow::Continue(())
        }
        Some(Err(e)) => ControlFlow::Break(e),
        None => ControlFlow::Continue(()),
    });
    if let ControlFlow::Break(e) = visited {
        return Err(e);
    }
    if requests.is_empty() {
        return Ok(());
    }
    let mut texts = BTreeMap::new();
    for request in requests {
        if let std::collections::btree_map::Entry::Vacant(entry) = texts.entry(request) {
            let text = Ddl { s, database, schema }.of(entry.key()).await?;
            entry.insert(text);
        }
    }
    let _ = ast::visit_expressions_mut(statement, |e| {
        if let Some(Ok(request)) = request_of(e)
            && let Some(text) = texts.get(&request)
        {
            *e = string(text);
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(())
}

/// Writes the DDL of a session's objects.
struct Ddl<'a> {
    s: &'a SessionEntry,
    database: &'a Option<String>,
    schema: &'a Option<String>,
}

impl Ddl<'_> {
    async fn of(&self, request: &Request) -> Result<String, WarehouseError> {
        let name = parse_name(&request.name)?;
        let q = request.qualified;
        match request.kind.as_str() {
            "TABLE" => {
                let key = table_key(&name, self.database, self.schema)?;
                match self.s.tables.kind(&key) {
                    Some(ObjectKind::View) | None => Err(WarehouseError::ObjectNotFound(request.name.clone())),
                    Some(kind) => self.table(&key, kind, q).await,
                }
            }
            "VIEW" => {
                let key = table_key(&name, self.database, self.schema)?;
                self.view(&key)?.ok_or_else(|| WarehouseError::ObjectNotFound(request.name.clone()))
            }
            "SCHEMA" => {
                let (db, sc) = match object_name_parts(&name).as_slice() {
                    [sc] => (self.database.clone().ok_or_else(|| no_database("GET_DDL('SCHEMA', ...)"))?, sc.clone()),
                    [db, sc] => (db.clone(), sc.clone()),
                    _ => return Err(WarehouseError::Compilation(format!("invalid schema name {name}"))),
                };
                if !self.s.tables.schema_names(&db).contains(&sc) {
                    return Err(WarehouseError::ObjectNotFound(format!("{db}.{sc}")));
                }
                self.schema_ddl(&db, &sc, q).await
            }
            "DATABASE" => {
                let [db]: [String; 1] = object_name_parts(&name)
                    .try_into()
                    .map_err(|_| WarehouseError::Compilation(format!("invalid database name {name}")))?;
                if !self.s.tables.database_names().contains(&db) {
                    return Err(WarehouseError::ObjectNotFound(db));
                }
                let mut text = format!("create or replace database {};\n", quote(&db));
                for sc in self.s.tables.schema_names(&db) {
                    text.push('\n');
                    text.push_str(&self.schema_ddl(&db, &sc, true).await?);
                }
                Ok(text)
            }
            other => Err(WarehouseError::Compilation(format!(
                "GET_DDL of '{other}' is not supported: ask for a 'TABLE', 'VIEW', 'SCHEMA' or 'DATABASE'"
            ))),
        }
    }

    async fn schema_ddl(&self, db: &str, sc: &str, qualified: bool) -> Result<String, WarehouseError> {
        let schema_name = if qualified { format!("{}.{}", quote(db), quote(sc)) } else { quote(sc) };
        let mut text = format!("create or replace schema {schema_name};\n");
        for (name, kind) in self.s.tables.table_names(db, sc) {
            let key = (db.to_owned(), sc.to_owned(), name);
            let ddl = match kind {
                ObjectKind::View => self.view(&key)?,
                ObjectKind::Temporary => None,
                kind => Some(self.table(&key, kind, qualified).await?),
            };
            if let Some(ddl) = ddl {
                text.push('\n');
                text.push_str(&ddl);
                text.push('\n');
            }
        }
        Ok(text)
    }

    async fn table(&self, key: &TableKey, kind: ObjectKind, qualified: bool) -> Result<String, WarehouseError> {
        let tables = &self.s.tables;
        let columns: SchemaRef = match kind {
            ObjectKind::Table => tables.own_table(key, None).await?.schema(),
            _ => tables.table_schema(key).ok_or_else(|| WarehouseError::ObjectNotFound(key.2.clone()))?,
        };
        let lines: Vec<String> = row_types(&columns, &ColumnOrigin::default())
            .iter()
            .zip(columns.fields())
            .map(|(rt, field)| {
                let not_null = if rt.nullable { "" } else { " NOT NULL" };
                let default = match column_identity(field) {
                    Some((start, step)) => format!(" AUTOINCREMENT START {start} INCREMENT {step} ORDER"),
                    None => field
                        .metadata()
                        .get(COLUMN_DEFAULT)
                        .filter(|d| !d.is_empty())
                        .map(|d| format!(" DEFAULT {d}"))
                        .unwrap_or_default(),
                };
                format!("\t{} {}{default}{not_null}", quote(&rt.name), information_schema::type_text(rt))
            })
            .collect();
        let temporary = if kind == ObjectKind::Temporary { "TEMPORARY " } else { "" };
        Ok(format!("create or replace {temporary}TABLE {} (\n{}\n);", object_name(key, qualified), lines.join(",\n")))
    }

    fn view(&self, key: &TableKey) -> Result<Option<String>, WarehouseError> {
        Ok(self.s.tables.own.view(&key.0, &key.1, &key.2)?.map(|v| {
            let ddl = v.ddl.trim_end();
            if ddl.ends_with(';') { ddl.to_owned() } else { format!("{ddl};") }
        }))
    }
}

fn no_database(what: &str) -> WarehouseError {
    WarehouseError::NoCurrentDatabase(what.to_owned())
}

/// `key`'s name as DDL writes it: the table alone, or all three parts.
fn object_name(key: &TableKey, qualified: bool) -> String {
    match qualified {
        true => format!("{}.{}.{}", quote(&key.0), quote(&key.1), quote(&key.2)),
        false => quote(&key.2),
    }
}

/// An identifier as Snowflake writes it: bare when it reads back the same
/// unquoted (upper case letters, digits, `_`, `$`, not starting with a
/// digit or `$`), else in double quotes.
fn quote(name: &str) -> String {
    let bare = name.chars().next().is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if bare { name.to_owned() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

/// A name given as text (`'db.s.t'`, `'"Mixed".t'`), each part as Snowflake
/// resolves an identifier: quoted parts as written, others upper-cased.
pub(crate) fn parse_name(text: &str) -> Result<ast::ObjectName, WarehouseError> {
    let dialect = datafusion::sql::sqlparser::dialect::SnowflakeDialect {};
    let mut parser = datafusion::sql::sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(text)
        .map_err(|e| WarehouseError::Compilation(e.to_string()))?;
    let mut name = parser.parse_object_name(false).map_err(|e| WarehouseError::Compilation(e.to_string()))?;
    for part in &mut name.0 {
        if let ast::ObjectNamePart::Identifier(id) = part
            && id.quote_style.is_none()
        {
            id.value = id.value.to_uppercase();
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn identifiers_are_quoted_only_when_they_must_be() {
        assert_eq!(quote("ORDERS_2024"), "ORDERS_2024");
        assert_eq!(quote("_X$"), "_X$");
        assert_eq!(quote("orders"), "\"orders\"");
        assert_eq!(quote("2024"), "\"2024\"");
        assert_eq!(quote("A B"), "\"A B\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
