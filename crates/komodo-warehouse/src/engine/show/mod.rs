//! `SHOW DATABASES | SCHEMAS | TABLES | VIEWS | OBJECTS | COLUMNS | SEQUENCES`
//! (and, in [`definitions`], `STAGES | FILE FORMATS`) with
//! Snowflake's columns in its order (clients read some by position:
//! snowflake-sqlalchemy takes `row[1]` as a view's or schema's name), its
//! scopes (`IN ACCOUNT | DATABASE d | SCHEMA s | TABLE t | VIEW v`, and
//! without `IN` the current database, or the account when there is none),
//! its filters (`LIKE`, case-insensitive; `STARTS WITH`, case-sensitive;
//! `LIMIT n [FROM 'name']`, the rows after that name) and `TERSE`.
//!
//! What the warehouse does not keep (owners, comments, clustering) is NULL
//! or Snowflake's value for an object without it.

mod definitions;

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::sql::sqlparser::ast::{
    self, ShowStatementFilter, ShowStatementFilterPosition, ShowStatementInParentType as Parent, ShowStatementOptions,
};

use super::result::{QueryStream, StatementKind};
use super::session::SessionEntry;
use super::statements::{object_name_parts, table_key};
use crate::WarehouseError;
use crate::catalog::{ObjectKind, TableKey};
use crate::encode::{ColumnOrigin, row_types};
use crate::plan::column_default;
use crate::storage::delta;

/// The most rows `LIMIT` may ask for (Snowflake's cap on `SHOW`).
const MAX_LIMIT: u64 = 10_000;

/// A cell of a `SHOW` result.
#[derive(Debug, Clone)]
enum Cell {
    Text(Option<String>),
    Number(Option<i64>),
    /// Milliseconds since the epoch (a `TIMESTAMP_LTZ`).
    Time(Option<i64>),
}

fn t(text: impl Into<String>) -> Cell {
    Cell::Text(Some(text.into()))
}

const NULL: Cell = Cell::Text(None);

/// The type of a `SHOW` column.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Text,
    Number,
    Time,
}

/// A result of `columns` and `rows` (each row one cell per column).
fn result(columns: &[(&str, Ty)], rows: Vec<Vec<Cell>>) -> Result<QueryStream, WarehouseError> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, ty)| {
            let data_type = match ty {
                Ty::Text => DataType::Utf8,
                Ty::Number => DataType::Int64,
                Ty::Time => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            };
            Field::new(*name, data_type, true)
        })
        .collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, (name, ty)) in columns.iter().enumerate() {
        let cell = |row: &Vec<Cell>| row.get(i).cloned().unwrap_or(NULL);
        let wrong = || WarehouseError::Internal(format!("SHOW column {name} has a value of another type"));
        let array: ArrayRef = match ty {
            Ty::Text => Arc::new(StringArray::from(
                rows.iter()
                    .map(|r| match cell(r) {
                        Cell::Text(v) => Ok(v),
                        _ => Err(wrong()),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )),
            Ty::Number => Arc::new(Int64Array::from(
                rows.iter()
                    .map(|r| match cell(r) {
                        Cell::Number(v) => Ok(v),
                        Cell::Text(None) => Ok(None),
                        _ => Err(wrong()),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )),
            Ty::Time => Arc::new(
                TimestampMillisecondArray::from(
                    rows.iter()
                        .map(|r| match cell(r) {
                            Cell::Time(v) => Ok(v),
                            Cell::Text(None) => Ok(None),
                            _ => Err(wrong()),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                )
                .with_timezone("UTC"),
            ),
        };
        arrays.push(array);
    }
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| WarehouseError::Internal(e.to_string()))?;
    Ok(QueryStream::ready(StatementKind::Show, schema, vec![batch], None))
}

/// The columns of every `SHOW TERSE`.
const TERSE: &[(&str, Ty)] = &[
    ("created_on", Ty::Time),
    ("name", Ty::Text),
    ("kind", Ty::Text),
    ("database_name", Ty::Text),
    ("schema_name", Ty::Text),
];

/// The first columns of `SHOW TABLES` and `SHOW OBJECTS`.
const OBJECT_COLUMNS: &[(&str, Ty)] = &[
    ("created_on", Ty::Time),
    ("name", Ty::Text),
    ("database_name", Ty::Text),
    ("schema_name", Ty::Text),
    ("kind", Ty::Text),
    ("comment", Ty::Text),
    ("cluster_by", Ty::Text),
    ("rows", Ty::Number),
    ("bytes", Ty::Number),
    ("owner", Ty::Text),
    ("retention_time", Ty::Text),
];

/// The rest of `SHOW TABLES`'s columns.
const TABLE_COLUMNS: &[(&str, Ty)] = &[
    ("automatic_clustering", Ty::Text),
    ("change_tracking", Ty::Text),
    ("search_optimization", Ty::Text),
    ("search_optimization_progress", Ty::Text),
    ("search_optimization_bytes", Ty::Number),
    ("is_external", Ty::Text),
    ("enable_schema_evolution", Ty::Text),
    ("owner_role_type", Ty::Text),
    ("is_event", Ty::Text),
    ("budget", Ty::Text),
    ("is_hybrid", Ty::Text),
    ("is_iceberg", Ty::Text),
    ("is_dynamic", Ty::Text),
    ("is_immutable", Ty::Text),
];

/// What a `SHOW` covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    Account,
    Database(String),
    Schema(String, String),
    /// One table or view (`SHOW COLUMNS IN TABLE t`).
    Object(TableKey),
}

impl Scope {
    fn covers_database(&self, db: &str) -> bool {
        match self {
            Scope::Account => true,
            Scope::Database(d) | Scope::Schema(d, _) | Scope::Object((d, _, _)) => d == db,
        }
    }
    fn covers_schema(&self, db: &str, schema: &str) -> bool {
        match self {
            Scope::Account => true,
            Scope::Database(d) => d == db,
            Scope::Schema(d, s) | Scope::Object((d, s, _)) => d == db && s == schema,
        }
    }
}

/// The filters of a `SHOW`.
struct Filter {
    like: Option<String>,
    starts_with: Option<String>,
    limit: Option<usize>,
    from: Option<String>,
}

impl Filter {
    fn of(options: &ShowStatementOptions) -> Result<Self, WarehouseError> {
        let like = match &options.filter_position {
            Some(
                ShowStatementFilterPosition::Infix(ShowStatementFilter::Like(p) | ShowStatementFilter::ILike(p))
                | ShowStatementFilterPosition::Suffix(ShowStatementFilter::Like(p) | ShowStatementFilter::ILike(p)),
            ) => Some(p.clone()),
            Some(_) => return Err(WarehouseError::Compilation("SHOW filters with LIKE '<pattern>' only".into())),
            None => None,
        };
        let text = |v: &ast::ValueWithSpan| match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => Ok(s.clone()),
            other => Err(WarehouseError::Compilation(format!("a quoted name is expected, not {other}"))),
        };
        let limit = match &options.limit {
            None => None,
            Some(ast::Expr::Value(v)) => match &v.value {
                ast::Value::Number(n, _) => match n.parse::<u64>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => Some(n as usize),
                    _ => {
                        return Err(WarehouseError::Compilation(format!(
                            "SHOW ... LIMIT takes a number from 1 to {MAX_LIMIT}, not {n}"
                        )));
                    }
                },
                other => return Err(WarehouseError::Compilation(format!("invalid SHOW ... LIMIT {other}"))),
            },
            Some(other) => return Err(WarehouseError::Compilation(format!("invalid SHOW ... LIMIT {other}"))),
        };
        Ok(Self {
            like,
            starts_with: options.starts_with.as_ref().map(text).transpose()?,
            limit,
            from: options.limit_from.as_ref().map(text).transpose()?,
        })
    }

    /// Whether a row of object `name` is shown (before `LIMIT`).
    fn shows(&self, name: &str) -> bool {
        self.like.as_deref().is_none_or(|p| like_matches(p, name))
            && self.starts_with.as_deref().is_none_or(|p| name.starts_with(p))
            && self.from.as_deref().is_none_or(|from| name > from)
    }

    /// `rows` (shown ones, in order) cut to `LIMIT`.
    fn limited<T>(&self, mut rows: Vec<T>) -> Vec<T> {
        if let Some(limit) = self.limit {
            rows.truncate(limit);
        }
        rows
    }
}

/// What a `SHOW` of objects lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    /// `SHOW TABLES`.
    Tables,
    /// `SHOW VIEWS`.
    Views,
    /// `SHOW OBJECTS`.
    Objects,
}

/// The `SHOW` statements over a session's catalog.
pub(crate) struct Show<'a> {
    s: &'a SessionEntry,
    database: Option<String>,
    schema: Option<String>,
}

impl<'a> Show<'a> {
    pub(crate) fn new(s: &'a SessionEntry) -> Self {
        let (database, schema) = s.current.lock().clone();
        Self { s, database, schema }
    }

    /// The scope of `options`; a database or schema it names must exist.
    fn scope(&self, options: &ShowStatementOptions) -> Result<Scope, WarehouseError> {
        let Some(show_in) = &options.show_in else {
            return Ok(self.database.clone().map_or(Scope::Account, Scope::Database));
        };
        let parts = show_in.parent_name.as_ref().map(object_name_parts).unwrap_or_default();
        let current_db = || self.database.clone().ok_or_else(|| WarehouseError::NoCurrentDatabase("SHOW".into()));
        let scope = match (&show_in.parent_type, parts.as_slice()) {
            (Some(Parent::Account), []) => Scope::Account,
            (Some(Parent::Database), []) => Scope::Database(current_db()?),
            (Some(Parent::Database), [d]) => Scope::Database(d.clone()),
            (Some(Parent::Schema), []) => match (&self.database, &self.schema) {
                (Some(d), Some(sc)) => Scope::Schema(d.clone(), sc.clone()),
                _ => return Err(WarehouseError::NoCurrentDatabase("SHOW ... IN SCHEMA".into())),
            },
            (Some(Parent::Schema), [sc]) => Scope::Schema(current_db()?, sc.clone()),
            (Some(Parent::Schema) | None, [d, sc]) => Scope::Schema(d.clone(), sc.clone()),
            (Some(Parent::Table | Parent::View) | None, [_, _, _]) | (Some(Parent::Table | Parent::View), [_]) => {
                let name = show_in.parent_name.as_ref().expect("a name has parts");
                Scope::Object(table_key(name, &self.database, &self.schema)?)
            }
            (Some(Parent::Table | Parent::View), [sc, t]) => Scope::Object((current_db()?, sc.clone(), t.clone())),
            // `IN x`: a schema of the current database, else a database.
            (None, [x]) => match &self.database {
                Some(d) if self.s.tables.schema_names(d).contains(x) => Scope::Schema(d.clone(), x.clone()),
                _ => Scope::Database(x.clone()),
            },
            _ => {
                let name = show_in.parent_name.as_ref().map(ToString::to_string).unwrap_or_default();
                return Err(WarehouseError::Compilation(format!("invalid SHOW scope {name}")));
            }
        };
        let tables = &self.s.tables;
        match &scope {
            Scope::Account => {}
            Scope::Database(d) if !tables.database_names().contains(d) => {
                return Err(WarehouseError::ObjectNotFound(d.clone()));
            }
            Scope::Schema(d, sc) if !tables.schema_names(d).contains(sc) => {
                return Err(WarehouseError::ObjectNotFound(format!("{d}.{sc}")));
            }
            Scope::Object(key) if tables.kind(key).is_none() => {
                return Err(WarehouseError::ObjectNotFound(format!("{}.{}.{}", key.0, key.1, key.2)));
            }
            _ => {}
        }
        Ok(scope)
    }

    /// The objects in `scope` of the kinds `wanted` keeps, ordered by
    /// database, schema and name.
    fn objects(&self, scope: &Scope, wanted: impl Fn(ObjectKind) -> bool) -> Vec<(TableKey, ObjectKind)> {
        let tables = &self.s.tables;
        let mut found = Vec::new();
        for db in tables.database_names().into_iter().filter(|d| scope.covers_database(d)) {
            for sc in tables.schema_names(&db).into_iter().filter(|sc| scope.covers_schema(&db, sc)) {
                for (name, kind) in tables.table_names(&db, &sc) {
                    if let Scope::Object((_, _, only)) = scope
                        && *only != name
                    {
                        continue;
                    }
                    if wanted(kind) {
                        found.push(((db.clone(), sc.clone(), name), kind));
                    }
                }
            }
        }
        found
    }

    /// When an object was created, if known.
    fn created(&self, key: &TableKey, kind: ObjectKind) -> Result<Option<i64>, WarehouseError> {
        let own = &self.s.tables.own;
        Ok(match kind {
            ObjectKind::Table => own.created_ms(&key.0, Some(&key.1), Some(&key.2)),
            ObjectKind::View => own.view(&key.0, &key.1, &key.2)?.map(|v| v.created_ms),
            ObjectKind::Temporary | ObjectKind::Subscription => None,
        })
    }

    /// The rows and bytes of a table, if known.
    async fn size(&self, key: &TableKey, kind: ObjectKind) -> Result<(Option<i64>, Option<i64>), WarehouseError> {
        let tables = &self.s.tables;
        Ok(match kind {
            ObjectKind::Table => {
                let (rows, bytes) = delta::size(&tables.own_location(key)?).await?;
                (rows, Some(bytes))
            }
            ObjectKind::Temporary => match tables.temp(key) {
                Some(temp) => {
                    let (rows, bytes) = temp.size().await;
                    (i64::try_from(rows).ok(), i64::try_from(bytes).ok())
                }
                None => (None, None),
            },
            ObjectKind::View | ObjectKind::Subscription => (None, None),
        })
    }

    /// `SHOW [TERSE] TABLES | VIEWS | OBJECTS`.
    pub(crate) async fn objects_of(
        &self,
        what: Shown,
        terse: bool,
        options: &ShowStatementOptions,
    ) -> Result<QueryStream, WarehouseError> {
        let scope = self.scope(options)?;
        let filter = Filter::of(options)?;
        let wanted = |kind: ObjectKind| match what {
            Shown::Tables => kind != ObjectKind::View,
            Shown::Views => kind == ObjectKind::View,
            Shown::Objects => true,
        };
        let listed: Vec<_> = self.objects(&scope, wanted).into_iter().filter(|(key, _)| filter.shows(&key.2)).collect();
        let mut rows = Vec::new();
        for (key, kind) in filter.limited(listed) {
            let created = Cell::Time(self.created(&key, kind)?);
            let kind_name = match kind {
                ObjectKind::Temporary => "TEMPORARY",
                ObjectKind::View => "VIEW",
                ObjectKind::Table | ObjectKind::Subscription => "TABLE",
            };
            let (name, db, sc) = (t(&key.2), t(&key.0), t(&key.1));
            if terse {
                rows.push(vec![created, name, t(kind_name), db, sc]);
                continue;
            }
            if what == Shown::Views {
                let text = self.s.tables.own.view(&key.0, &key.1, &key.2)?.map(|v| v.ddl);
                rows.push(vec![
                    created,
                    name,
                    t(""),
                    db,
                    sc,
                    NULL,
                    t(""),
                    Cell::Text(text),
                    t("false"),
                    t("false"),
                    NULL,
                    t("OFF"),
                ]);
                continue;
            }
            let (rows_n, bytes) = self.size(&key, kind).await?;
            let retention = if kind == ObjectKind::View { NULL } else { t("1") };
            let mut row = vec![
                created,
                name,
                db,
                sc,
                t(kind_name),
                t(""),
                t(""),
                Cell::Number(rows_n),
                Cell::Number(bytes),
                NULL,
                retention,
            ];
            if what == Shown::Tables {
                row.extend([
                    t("OFF"),
                    t("OFF"),
                    t("OFF"),
                    NULL,
                    Cell::Number(None),
                    t("N"),
                    t("N"),
                    NULL,
                    t("N"),
                    NULL,
                    t("N"),
                    t("N"),
                    t("N"),
                    t("N"),
                ]);
            } else {
                row.push(NULL);
            }
            rows.push(row);
        }
        use Ty::{Text as T, Time as At};
        let columns: &[(&str, Ty)] = match (terse, what) {
            (true, _) => TERSE,
            (false, Shown::Views) => &[
                ("created_on", At),
                ("name", T),
                ("reserved", T),
                ("database_name", T),
                ("schema_name", T),
                ("owner", T),
                ("comment", T),
                ("text", T),
                ("is_secure", T),
                ("is_materialized", T),
                ("owner_role_type", T),
                ("change_tracking", T),
            ],
            (false, Shown::Tables) => &[OBJECT_COLUMNS, TABLE_COLUMNS].concat(),
            (false, Shown::Objects) => &[OBJECT_COLUMNS, &[("owner_role_type", T)]].concat(),
        };
        result(columns, rows)
    }

    /// `SHOW [TERSE] DATABASES`: the account's own databases and its
    /// subscription's (imported, read-only).
    pub(crate) fn databases(&self, terse: bool, options: &ShowStatementOptions) -> Result<QueryStream, WarehouseError> {
        let filter = Filter::of(options)?;
        let tables = &self.s.tables;
        let subscription = tables.data();
        let names: Vec<String> = tables.database_names().into_iter().filter(|d| filter.shows(d)).collect();
        let mut rows = Vec::new();
        for db in filter.limited(names) {
            let imported = subscription.tables.contains_key(&db);
            let created = Cell::Time(if imported { None } else { tables.own.created_ms(&db, None, None) });
            let kind = if imported { "IMPORTED DATABASE" } else { "STANDARD" };
            let current = if self.database.as_deref() == Some(db.as_str()) { "Y" } else { "N" };
            rows.push(match terse {
                true => vec![created, t(&db), t(kind), NULL, NULL],
                false => {
                    vec![created, t(&db), t("N"), t(current), t(""), NULL, t(""), t(""), t("1"), t(kind), NULL, NULL]
                }
            });
        }
        use Ty::{Text as T, Time as At};
        let columns: &[(&str, Ty)] = match terse {
            true => TERSE,
            false => &[
                ("created_on", At),
                ("name", T),
                ("is_default", T),
                ("is_current", T),
                ("origin", T),
                ("owner", T),
                ("comment", T),
                ("options", T),
                ("retention_time", T),
                ("kind", T),
                ("budget", T),
                ("owner_role_type", T),
            ],
        };
        result(columns, rows)
    }

    /// `SHOW SEQUENCES`: the named sequences of the account's own schemas,
    /// with the value a new claim would start at as `next_value`.
    pub(crate) fn sequences(&self, options: &ShowStatementOptions) -> Result<QueryStream, WarehouseError> {
        let tables = &self.s.tables;
        let mut rows = Vec::new();
        for (db, sc, name) in self.own_objects(options, |db, sc| tables.own.sequences(db, sc))? {
            let Some(d) = tables.own.sequence(&db, &sc, &name)? else { continue };
            let claimed = i64::try_from(tables.own.claimed(&d.id)?).unwrap_or(i64::MAX);
            let next = claimed.checked_mul(d.increment).and_then(|n| n.checked_add(d.start));
            rows.push(vec![
                Cell::Time(Some(d.created_ms)),
                t(&name),
                t(&db),
                t(&sc),
                Cell::Number(next),
                Cell::Number(Some(d.increment)),
                t(""),
                Cell::Text(d.comment.clone()),
                t("Y"),
            ]);
        }
        use Ty::{Number as N, Text as T, Time as At};
        let columns: &[(&str, Ty)] = &[
            ("created_on", At),
            ("name", T),
            ("database_name", T),
            ("schema_name", T),
            ("next_value", N),
            ("interval", N),
            ("owner", T),
            ("comment", T),
            ("ordered", T),
        ];
        result(columns, rows)
    }

    /// `SHOW [TERSE] SCHEMAS`: each database's schemas, its
    /// `INFORMATION_SCHEMA` included.
    pub(crate) fn schemas(&self, terse: bool, options: &ShowStatementOptions) -> Result<QueryStream, WarehouseError> {
        let scope = match self.scope(options)? {
            Scope::Schema(d, _) | Scope::Object((d, _, _)) => Scope::Database(d),
            other => other,
        };
        let filter = Filter::of(options)?;
        let tables = &self.s.tables;
        let mut listed = Vec::new();
        for db in tables.database_names().into_iter().filter(|d| scope.covers_database(d)) {
            let mut schemas = tables.schema_names(&db);
            schemas.insert(crate::information_schema::SCHEMA.to_owned());
            listed.extend(schemas.into_iter().filter(|sc| filter.shows(sc)).map(|sc| (db.clone(), sc)));
        }
        let mut rows = Vec::new();
        for (db, sc) in filter.limited(listed) {
            let own = !tables.data().tables.contains_key(&db) && sc != crate::information_schema::SCHEMA;
            let created = Cell::Time(if own { tables.own.created_ms(&db, Some(&sc), None) } else { None });
            let current =
                if self.database.as_deref() == Some(db.as_str()) && self.schema.as_deref() == Some(sc.as_str()) {
                    "Y"
                } else {
                    "N"
                };
            rows.push(match terse {
                true => vec![created, t(&sc), t("SCHEMA"), t(&db), NULL],
                false => vec![created, t(&sc), t("N"), t(current), t(&db), NULL, t(""), t(""), t("1"), NULL, NULL],
            });
        }
        use Ty::{Text as T, Time as At};
        let columns: &[(&str, Ty)] = match terse {
            true => TERSE,
            false => &[
                ("created_on", At),
                ("name", T),
                ("is_default", T),
                ("is_current", T),
                ("database_name", T),
                ("owner", T),
                ("comment", T),
                ("options", T),
                ("retention_time", T),
                ("owner_role_type", T),
                ("budget", T),
            ],
        };
        result(columns, rows)
    }

    /// `SHOW COLUMNS [LIKE ...] [IN ...]`: a row per column of each table
    /// and view in scope, with its type as Snowflake's JSON.
    /// `columns_of` gives an object's columns (a view's by planning it).
    pub(crate) async fn columns<F, Fut>(
        &self,
        options: &ShowStatementOptions,
        columns_of: F,
    ) -> Result<QueryStream, WarehouseError>
    where
        F: Fn(TableKey, ObjectKind) -> Fut,
        Fut: std::future::Future<Output = Result<Option<SchemaRef>, WarehouseError>>,
    {
        let scope = self.scope(options)?;
        let filter = Filter::of(options)?;
        let mut listed = Vec::new();
        for (key, kind) in self.objects(&scope, |_| true) {
            let Some(schema) = columns_of(key.clone(), kind).await? else { continue };
            for (rt, field) in row_types(&schema, &ColumnOrigin::default()).into_iter().zip(schema.fields()) {
                if filter.shows(&rt.name) {
                    listed.push((key.clone(), rt, column_default(field).unwrap_or_default()));
                }
            }
        }
        let rows = filter
            .limited(listed)
            .into_iter()
            .map(|((db, sc, table), rt, default)| {
                vec![
                    t(table),
                    t(sc),
                    t(&rt.name),
                    t(type_json(&rt)),
                    t(if rt.nullable { "true" } else { "false" }),
                    t(default),
                    t("COLUMN"),
                    t(""),
                    t(""),
                    t(db),
                    t(""),
                    NULL,
                ]
            })
            .collect();
        use Ty::Text as T;
        result(
            &[
                ("table_name", T),
                ("schema_name", T),
                ("column_name", T),
                ("data_type", T),
                ("null?", T),
                ("default", T),
                ("kind", T),
                ("expression", T),
                ("comment", T),
                ("database_name", T),
                ("autoincrement", T),
                ("schema_evolution_record", T),
            ],
            rows,
        )
    }
}

/// A column's type as `SHOW COLUMNS` writes it: Snowflake's JSON, keys in
/// its order (`{"type":"FIXED","precision":38,"scale":0,"nullable":true}`).
fn type_json(rt: &komodo_protocol::gateway::RowType) -> String {
    let kind = rt.type_name.to_ascii_uppercase();
    let nullable = rt.nullable;
    match kind.as_str() {
        "FIXED" => {
            format!(
                r#"{{"type":"FIXED","precision":{},"scale":{},"nullable":{nullable}}}"#,
                rt.precision.unwrap_or(38),
                rt.scale.unwrap_or(0)
            )
        }
        "TEXT" | "BINARY" => format!(
            r#"{{"type":"{kind}","length":{},"byteLength":{},"nullable":{nullable},"fixed":false}}"#,
            rt.length.unwrap_or(0),
            rt.byte_length.unwrap_or(0)
        ),
        "TIME" | "TIMESTAMP_NTZ" | "TIMESTAMP_LTZ" | "TIMESTAMP_TZ" => {
            format!(r#"{{"type":"{kind}","precision":0,"scale":{},"nullable":{nullable}}}"#, rt.scale.unwrap_or(9))
        }
        _ => format!(r#"{{"type":"{kind}","nullable":{nullable}}}"#),
    }
}

/// `LIKE` of `SHOW ... LIKE` (`%`, `_`, ASCII case-insensitive), in time
/// proportional to the pattern's length times the text's: a pattern of many
/// `%` would make a backtracking matcher exponential.
pub(crate) fn like_matches(pattern: &str, text: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    // matched[j]: whether the pattern read so far matches `t[..j]`.
    let mut matched = vec![false; t.len() + 1];
    matched[0] = true;
    for p in pattern.chars() {
        let mut next = vec![false; t.len() + 1];
        match p {
            '%' => {
                let mut any = false;
                for (n, m) in next.iter_mut().zip(&matched) {
                    any |= *m;
                    *n = any;
                }
            }
            _ => {
                for j in 1..=t.len() {
                    next[j] = matched[j - 1] && (p == '_' || t[j - 1].eq_ignore_ascii_case(&p));
                }
            }
        }
        matched = next;
    }
    matched[t.len()]
}

#[cfg(test)]
mod tests {
    use super::like_matches;

    #[test]
    fn show_like_patterns() {
        assert!(like_matches("CLA%", "CLAIMS"));
        assert!(like_matches("%ims", "CLAIMS"));
        assert!(!like_matches("PAT_", "PATIENTS"));
        assert!(like_matches("P_T%S", "PATIENTS"));
        assert!(like_matches("%", ""));
        assert!(!like_matches("_", ""));
        // Many wildcards stay linear in each (a backtracking matcher would not finish).
        assert!(!like_matches(&format!("{}X", "%".repeat(10_000)), "PRESCRIPTIONS_AND_MORE"));
        assert!(like_matches(&"%_".repeat(1_000), &"A".repeat(1_000)));
    }
}
