//! Statements on the account's own databases: `CREATE`/`DROP DATABASE`,
//! `SCHEMA`, `TABLE`, `UNDROP TABLE`, `TRUNCATE`, and `UPDATE`, `DELETE`,
//! `MERGE` as Delta Lake operations (one commit each; see
//! [`crate::storage::delta`]). `INSERT` runs as a plan (the Delta table's
//! own sink) from [`super::compile`].

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, TableReference};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast};
use datafusion::sql::sqlparser::ast::{
    self, Assignment, AssignmentTarget, FromTable, MergeAction, MergeClauseKind, MergeInsertKind, ObjectName,
    SchemaName, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins,
};
use deltalake_core::kernel::engine::arrow_conversion::TryIntoArrow as _;
use deltalake_core::protocol::SaveMode;

use super::insert_columns;
use super::merge_sources::{MergeCounts, delete_clause, ensure_alias, single_source, update_clause};
use super::plan::{Planned, plan_statement, select_of};
use super::result::{QueryStream, StatementKind, status_result};
use super::session::SessionEntry;
use super::statements::{not_allowed, object_name_parts, table_key};
use super::temp_dml;
use super::transaction;
use crate::WarehouseError;
use crate::catalog::{ObjectKind, TableKey};
use crate::storage::delta;

/// How long a dropped table can be brought back with `UNDROP TABLE`
/// (Snowflake's default data retention: one day).
pub(crate) const UNDROP_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// The statements on own tables of one session, with its current database
/// and schema.
pub(crate) struct OwnTables<'a> {
    pub(crate) s: &'a SessionEntry,
    pub(crate) database: Option<String>,
    pub(crate) schema: Option<String>,
}

fn one_row(columns: &[(&str, u64)]) -> Result<QueryStream, WarehouseError> {
    let schema =
        Arc::new(Schema::new(columns.iter().map(|(n, _)| Field::new(*n, DataType::UInt64, false)).collect::<Vec<_>>()));
    let arrays: Vec<ArrayRef> =
        columns.iter().map(|(_, v)| Arc::new(UInt64Array::from(vec![*v])) as ArrayRef).collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| WarehouseError::Internal(e.to_string()))?;
    let total = columns.iter().map(|(_, v)| v).sum();
    let kind = if columns.iter().any(|(n, _)| n.contains("inserted")) && columns.len() == 1 {
        StatementKind::Insert
    } else {
        StatementKind::Dml
    };
    Ok(QueryStream::ready(kind, schema, vec![batch], Some(total)))
}

/// A column name from an assignment target or an insert column list.
fn column_name(name: &ObjectName) -> Result<String, WarehouseError> {
    object_name_parts(name).pop().ok_or_else(|| WarehouseError::Compilation(format!("invalid column name {name}")))
}

/// `expr` with its column references unqualified (Delta Lake's operations
/// resolve them against the table alone).
fn unqualified(expr: Expr) -> Result<Expr, WarehouseError> {
    expr.transform(|e| match e {
        Expr::Column(c) if c.relation.is_some() => Ok(Transformed::yes(Expr::Column(Column::from_name(c.name)))),
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .map_err(WarehouseError::from_datafusion)
}

/// The expressions of a planned `SELECT e1, e2, ...`, aliases removed.
fn projected(plan: &LogicalPlan) -> Result<Vec<Expr>, WarehouseError> {
    let mut node = plan;
    loop {
        match node {
            LogicalPlan::Projection(p) => return Ok(p.expr.iter().map(|e| e.clone().unalias()).collect()),
            other => match other.inputs().as_slice() {
                [input] => node = input,
                _ => return Err(WarehouseError::Internal("expected a projection".into())),
            },
        }
    }
}

impl OwnTables<'_> {
    /// The full name of table `name` in the session's context.
    pub(crate) fn key(&self, name: &ObjectName) -> Result<TableKey, WarehouseError> {
        table_key(name, &self.database, &self.schema)
    }

    /// The scope statements on temporary tables run in.
    fn scope(&self) -> temp_dml::Scope<'_> {
        temp_dml::Scope { s: self.s, database: &self.database, schema: &self.schema }
    }

    /// Fails unless `db` is one of the account's own databases (the
    /// subscription's are read-only).
    fn writable_database(&self, db: &str) -> Result<(), WarehouseError> {
        if self.s.tables.data().tables.contains_key(db) {
            return Err(super::statements::subscription_refused(&format!("database '{db}'")));
        }
        if !self.s.tables.own.databases()?.iter().any(|d| d == db) {
            return Err(WarehouseError::ObjectNotFound(db.to_owned()));
        }
        Ok(())
    }

    /// Fails unless `key` is a table of the account's own databases.
    fn writable_table(&self, key: &TableKey) -> Result<(), WarehouseError> {
        match self.s.tables.kind(key) {
            Some(ObjectKind::Table) => Ok(()),
            Some(ObjectKind::Subscription) => {
                Err(super::statements::subscription_refused(&format!("table '{}'", key.2)))
            }
            Some(ObjectKind::View) => Err(not_allowed(&format!("changing view {} (change its tables)", key.2))),
            Some(ObjectKind::Temporary) => Err(WarehouseError::Internal("a temporary table reached own tables".into())),
            None => Err(WarehouseError::ObjectNotFound(format!("{}.{}.{}", key.0, key.1, key.2))),
        }
    }

    /// `CREATE [OR REPLACE] DATABASE [IF NOT EXISTS] name`: made with its
    /// `PUBLIC` schema, and the session's current database and schema.
    pub(crate) fn create_database(
        &self,
        name: &ObjectName,
        if_not_exists: bool,
        or_replace: bool,
    ) -> Result<QueryStream, WarehouseError> {
        let parts = object_name_parts(name);
        let [db] = parts.as_slice() else {
            return Err(WarehouseError::Compilation(format!("invalid database name {name}")));
        };
        if self.s.tables.data().tables.contains_key(db) {
            return Err(WarehouseError::AlreadyExists(db.clone()));
        }
        let own = &self.s.tables.own;
        if or_replace {
            own.drop_database(db)?;
        }
        if !own.create_database(db)? {
            if if_not_exists {
                return Ok(status_result(StatementKind::Ddl, format!("{db} already exists, statement succeeded.")));
            }
            return Err(WarehouseError::AlreadyExists(db.clone()));
        }
        *self.s.current.lock() = (Some(db.clone()), Some("PUBLIC".to_owned()));
        Ok(status_result(StatementKind::Ddl, format!("Database {db} successfully created.")))
    }

    /// `CREATE SCHEMA [IF NOT EXISTS] [db.]name`: it becomes the session's
    /// current schema.
    pub(crate) fn create_schema(&self, name: &SchemaName, if_not_exists: bool) -> Result<QueryStream, WarehouseError> {
        let (SchemaName::Simple(name) | SchemaName::NamedAuthorization(name, _)) = name else {
            return Err(WarehouseError::Compilation("CREATE SCHEMA needs a schema name".into()));
        };
        let parts = object_name_parts(name);
        let (db, schema) = match parts.as_slice() {
            [sc] => (
                self.database.clone().ok_or_else(|| WarehouseError::NoCurrentDatabase("CREATE SCHEMA".into()))?,
                sc.clone(),
            ),
            [d, sc] => (d.clone(), sc.clone()),
            _ => return Err(WarehouseError::Compilation(format!("invalid schema name {name}"))),
        };
        self.writable_database(&db)?;
        if !self.s.tables.own.create_schema(&db, &schema)? {
            if if_not_exists {
                return Ok(status_result(StatementKind::Ddl, format!("{schema} already exists, statement succeeded.")));
            }
            return Err(WarehouseError::AlreadyExists(schema));
        }
        *self.s.current.lock() = (Some(db), Some(schema.clone()));
        Ok(status_result(StatementKind::Ddl, format!("Schema {schema} successfully created.")))
    }

    /// `DROP DATABASE | SCHEMA [IF EXISTS] name`.
    pub(crate) fn drop_container(
        &self,
        object_type: ast::ObjectType,
        names: &[ObjectName],
        if_exists: bool,
    ) -> Result<QueryStream, WarehouseError> {
        let own = &self.s.tables.own;
        let mut dropped = Vec::new();
        for name in names {
            let parts = object_name_parts(name);
            let (db, schema) = match (object_type, parts.as_slice()) {
                (ast::ObjectType::Database, [d]) => (d.clone(), None),
                (ast::ObjectType::Schema, [sc]) => (
                    self.database.clone().ok_or_else(|| WarehouseError::NoCurrentDatabase("DROP SCHEMA".into()))?,
                    Some(sc.clone()),
                ),
                (ast::ObjectType::Schema, [d, sc]) => (d.clone(), Some(sc.clone())),
                _ => return Err(WarehouseError::Compilation(format!("invalid name {name}"))),
            };
            if self.s.tables.data().tables.contains_key(&db) {
                return Err(super::statements::subscription_refused(&format!("database '{db}'")));
            }
            let done = match &schema {
                None => own.drop_database(&db)?,
                Some(sc) => own.drop_schema(&db, sc)?,
            };
            if done {
                let mut current = self.s.current.lock();
                if current.0.as_deref() == Some(db.as_str())
                    && (schema.is_none() || current.1.as_deref() == schema.as_deref())
                {
                    if schema.is_none() {
                        current.0 = None;
                    }
                    current.1 = None;
                }
                dropped.push(schema.unwrap_or(db));
            } else if !if_exists {
                return Err(WarehouseError::ObjectNotFound(schema.map_or(db.clone(), |sc| format!("{db}.{sc}"))));
            }
        }
        let message = match dropped.as_slice() {
            [] => "Drop statement executed successfully (object already dropped).".to_owned(),
            names => format!("{} successfully dropped.", names.join(", ")),
        };
        Ok(status_result(StatementKind::Ddl, message))
    }

    /// Drops own table `key`; `false` when there is none.
    pub(crate) fn drop_table(&self, key: &TableKey) -> Result<bool, WarehouseError> {
        if self.s.tables.kind(key) != Some(ObjectKind::Table) {
            return Ok(false);
        }
        self.s.tables.own.drop_table(&key.0, &key.1, &key.2)
    }

    /// `CREATE [OR REPLACE] VIEW [IF NOT EXISTS] name [(columns)] AS query`:
    /// the query kept as text, its table names made whole. It is planned
    /// once here, so that a view that cannot run is refused at once.
    pub(crate) fn create_view(&self, v: &ast::CreateView, sql: &str) -> Result<QueryStream, WarehouseError> {
        if v.materialized {
            return Err(not_allowed("CREATE MATERIALIZED VIEW"));
        }
        if v.temporary {
            return Err(not_allowed("CREATE TEMPORARY VIEW (create a view in a database)"));
        }
        let key = self.key(&v.name)?;
        self.writable_database(&key.0)?;
        if !self.s.tables.own.schemas(&key.0)?.contains(&key.1) {
            return Err(WarehouseError::ObjectNotFound(format!("{}.{}", key.0, key.1)));
        }
        match self.s.tables.kind(&key) {
            Some(ObjectKind::View) if v.or_replace => {}
            Some(_) if v.if_not_exists => {
                return Ok(status_result(
                    StatementKind::Ddl,
                    format!("{} already exists, statement succeeded.", key.2),
                ));
            }
            Some(_) => return Err(WarehouseError::AlreadyExists(key.2.clone())),
            None => {}
        }
        let mut query = (*v.query).clone();
        crate::dialect::qualify_names(&mut query, &key.0, &key.1);
        if !v.columns.is_empty() {
            // `CREATE VIEW v (a, b) AS ...`: the names over the query's columns.
            let names: Vec<String> =
                v.columns.iter().map(|c| format!("\"{}\"", c.name.value.replace('"', "\"\""))).collect();
            let text = format!("SELECT * FROM ({query}) AS __view_columns ({})", names.join(", "));
            let prepared = crate::dialect::prepare(&text)?;
            let Statement::Query(q) = super::plan::parse_one(&prepared)? else {
                return Err(WarehouseError::Internal("the view's column list did not parse".into()));
            };
            query = *q;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let definition =
            crate::storage::ViewDefinition { query: query.to_string(), ddl: sql.trim().to_owned(), created_ms: now };
        self.s.tables.own.put_view(&key.0, &key.1, &key.2, &definition)?;
        Ok(status_result(StatementKind::Ddl, format!("View {} successfully created.", key.2)))
    }

    /// `DROP VIEW [IF EXISTS] name, ...`.
    pub(crate) fn drop_views(&self, names: &[ObjectName], if_exists: bool) -> Result<QueryStream, WarehouseError> {
        let mut dropped = Vec::new();
        for name in names {
            let key = self.key(name)?;
            if self.s.tables.own.drop_view(&key.0, &key.1, &key.2)? {
                dropped.push(key.2);
            } else if !if_exists {
                return Err(WarehouseError::ObjectNotFound(key.2));
            }
        }
        let message = match dropped.as_slice() {
            [] => "Drop statement executed successfully (view already dropped).".to_owned(),
            names => format!("{} successfully dropped.", names.join(", ")),
        };
        Ok(status_result(StatementKind::Ddl, message))
    }

    /// `UNDROP TABLE name`.
    pub(crate) fn undrop_table(&self, name: &ObjectName) -> Result<QueryStream, WarehouseError> {
        let key = self.key(name)?;
        self.writable_database(&key.0)?;
        if !self.s.tables.own.undrop_table(&key.0, &key.1, &key.2, UNDROP_RETENTION)? {
            return Err(WarehouseError::ObjectNotFound(format!(
                "{}: no dropped table of that name within the retention time",
                key.2
            )));
        }
        Ok(status_result(StatementKind::Ddl, format!("Table {} successfully restored.", key.2)))
    }

    /// `TRUNCATE [TABLE] [IF EXISTS] name`: every row removed in one commit.
    pub(crate) async fn truncate(&self, name: &ObjectName, if_exists: bool) -> Result<QueryStream, WarehouseError> {
        let key = self.key(name)?;
        if if_exists && self.s.tables.kind(&key).is_none() {
            return Ok(status_result(StatementKind::Ddl, "Statement executed successfully.".into()));
        }
        self.writable_table(&key)?;
        let table = delta::open(&transaction::write_location(self.s, &key).await?, None).await?;
        table.delete().with_session_state(delta::operation_session(&self.s.base)).await.map_err(delta::from_delta)?;
        Ok(status_result(StatementKind::Ddl, "Statement executed successfully.".into()))
    }

    /// `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] key (...) | AS SELECT`:
    /// the table and its rows in one commit (a failed `AS SELECT` leaves
    /// no table). `input` is the planned rows (none for a column list).
    pub(crate) async fn create_table(
        &self,
        key: &TableKey,
        input: LogicalPlan,
        if_not_exists: bool,
        or_replace: bool,
        planning: &datafusion::execution::session_state::SessionState,
    ) -> Result<QueryStream, WarehouseError> {
        self.writable_database(&key.0)?;
        if !self.s.tables.own.schemas(&key.0)?.contains(&key.1) {
            return Err(WarehouseError::ObjectNotFound(format!("{}.{}", key.0, key.1)));
        }
        match self.s.tables.kind(key) {
            Some(_) if if_not_exists => {
                return Ok(status_result(
                    StatementKind::CreateTable,
                    format!("{} already exists, statement succeeded.", key.2),
                ));
            }
            Some(ObjectKind::Table) if or_replace => {
                self.s.tables.own.drop_table(&key.0, &key.1, &key.2)?;
            }
            Some(ObjectKind::View) if or_replace => {
                return Err(WarehouseError::AlreadyExists(format!("{} (a view)", key.2)));
            }
            Some(_) => return Err(WarehouseError::AlreadyExists(key.2.clone())),
            None => {}
        }
        let location = self.s.tables.own.table_location(&key.0, &key.1, &key.2)?;
        let schema = delta::storable_schema(input.schema().as_arrow())?;
        if matches!(input, LogicalPlan::EmptyRelation(_)) {
            delta::create(&location, &key.2, &schema).await?;
        } else {
            // Each column cast to the type the table keeps.
            let exprs: Vec<Expr> = input
                .schema()
                .columns()
                .into_iter()
                .zip(schema.fields())
                .map(|(c, f)| cast(Expr::Column(c), f.data_type().clone()).alias(f.name()))
                .collect();
            let plan = LogicalPlanBuilder::from(input)
                .project(exprs)
                .and_then(LogicalPlanBuilder::build)
                .map_err(WarehouseError::from_datafusion)?;
            let table = deltalake_core::DeltaTableBuilder::from_url(location)
                .and_then(deltalake_core::DeltaTableBuilder::build)
                .map_err(delta::from_delta)?;
            table
                .write(Vec::new())
                .with_input_plan(plan)
                .with_session_state(delta::operation_session(planning))
                .with_save_mode(SaveMode::ErrorIfExists)
                .with_table_name(key.2.clone())
                .await
                .map_err(|e| match delta::from_delta(e) {
                    WarehouseError::Conflict(_) => WarehouseError::AlreadyExists(key.2.clone()),
                    other => other,
                })?;
        }
        Ok(status_result(StatementKind::CreateTable, format!("Table {} successfully created.", key.2)))
    }

    /// Plans `SELECT <exprs> FROM <from>` in the session (Snowflake's
    /// functions, variables and `params` bound) and returns the planned
    /// expressions and the planning state.
    async fn plan_exprs<'a>(
        &'a self,
        exprs: Vec<ast::Expr>,
        from: Vec<TableWithJoins>,
        params: Vec<crate::Param>,
    ) -> Result<(Vec<Expr>, super::session::Planning<'a>), WarehouseError> {
        let mut query = select_of(exprs)?;
        if let SetExpr::Select(select) = query.body.as_mut() {
            select.from = from;
        }
        let Planned { plan, state, .. } =
            plan_statement(self.s, Statement::Query(Box::new(query)), params, &self.database, &self.schema).await?;
        Ok((projected(&plan)?, state))
    }

    /// The table `factor` names, with its alias.
    fn target(&self, factor: &TableFactor) -> Result<TableKey, WarehouseError> {
        match factor {
            TableFactor::Table { name, args: None, version: None, .. } => self.key(name),
            other => Err(WarehouseError::Compilation(format!("{other} cannot be changed: name a table"))),
        }
    }

    /// `UPDATE t [alias] SET c = e, ... [FROM ...] [WHERE p]`.
    pub(crate) async fn update(
        &self,
        u: &ast::Update,
        params: Vec<crate::Param>,
    ) -> Result<QueryStream, WarehouseError> {
        if !u.table.joins.is_empty() {
            return Err(WarehouseError::Compilation("UPDATE names one table; join others in FROM".into()));
        }
        let key = self.target(&u.table.relation)?;
        let table_schema = insert_columns::target_schema(self.s, &key).await?;
        let mut columns = Vec::new();
        let mut values = Vec::new();
        for Assignment { target, value } in &u.assignments {
            let AssignmentTarget::ColumnName(name) = target else {
                return Err(WarehouseError::Compilation("UPDATE assigns one column at a time".into()));
            };
            let name = column_name(name)?;
            let field = table_schema.as_deref().and_then(|t| insert_columns::field_named(t, &name));
            values.push(insert_columns::for_column(field, value.clone()));
            columns.push(name);
        }
        let from = match &u.from {
            Some(ast::UpdateTableFromKind::BeforeSet(f) | ast::UpdateTableFromKind::AfterSet(f)) => Some(f.clone()),
            None => None,
        };
        let on = || u.selection.clone().unwrap_or(ast::Expr::Value(ast::Value::Boolean(true).into()));
        if let Some(temp) = self.s.tables.temp(&key) {
            if let Some(from) = from {
                let clauses = vec![update_clause(u.assignments.clone())];
                let sides = (u.table.relation.clone(), single_source(from)?);
                let counts = self.merge_temp(&temp, sides, on(), (clauses, false), params).await?;
                return one_row(&[
                    ("number of rows updated", counts.updated),
                    ("number of multi-joined rows updated", 0),
                ]);
            }
            let assignments: Vec<(String, ast::Expr)> = columns.into_iter().zip(values).collect();
            let updated =
                temp_dml::update(&self.scope(), &temp, &u.table, &assignments, u.selection.as_ref(), params).await?;
            return one_row(&[("number of rows updated", updated), ("number of multi-joined rows updated", 0)]);
        }
        self.writable_table(&key)?;
        if let Some(from) = from {
            // UPDATE ... FROM: a merge of the joined rows.
            let source = single_source(from)?;
            let clauses = vec![update_clause(u.assignments.clone())];
            let counts = self.merge_into(u.table.relation.clone(), source, on(), clauses, params).await?;
            return one_row(&[("number of rows updated", counts.updated), ("number of multi-joined rows updated", 0)]);
        }
        let mut exprs = values;
        let predicated = u.selection.is_some();
        exprs.extend(u.selection.clone());
        let (planned, state) = self.plan_exprs(exprs, vec![u.table.clone()], params).await?;
        let table = delta::open(&transaction::write_location(self.s, &key).await?, None).await?;
        let schema = table.snapshot().map_err(delta::from_delta)?.schema().clone();
        let mut planned = planned.into_iter().map(unqualified).collect::<Result<Vec<_>, _>>()?;
        let predicate = if predicated { planned.pop() } else { None };
        let mut builder = table.update().with_session_state(delta::operation_session(&state));
        if let Some(p) = predicate {
            builder = builder.with_predicate(p);
        }
        for (column, value) in columns.iter().zip(planned) {
            let field = schema.field(column).ok_or_else(|| WarehouseError::InvalidIdentifier(column.clone()))?;
            let arrow: arrow_schema::Field =
                field.try_into_arrow().map_err(|e| WarehouseError::Internal(format!("column {column}: {e}")))?;
            builder = builder.with_update(column.as_str(), cast(value, arrow.data_type().clone()));
        }
        let (_, metrics) = builder.await.map_err(delta::from_delta)?;
        one_row(&[
            ("number of rows updated", metrics.num_updated_rows as u64),
            ("number of multi-joined rows updated", 0),
        ])
    }

    /// `DELETE FROM t [USING ...] [WHERE p]`.
    pub(crate) async fn delete(
        &self,
        d: &ast::Delete,
        params: Vec<crate::Param>,
    ) -> Result<QueryStream, WarehouseError> {
        let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
        let [target] = from.as_slice() else {
            return Err(WarehouseError::Compilation("DELETE names one table; join others in USING".into()));
        };
        if !target.joins.is_empty() {
            return Err(WarehouseError::Compilation("DELETE names one table; join others in USING".into()));
        }
        let key = self.target(&target.relation)?;
        let on = || d.selection.clone().unwrap_or(ast::Expr::Value(ast::Value::Boolean(true).into()));
        if let Some(temp) = self.s.tables.temp(&key) {
            if let Some(using) = &d.using {
                let source = single_source(using.clone())?;
                let sides = (target.relation.clone(), source);
                let counts = self.merge_temp(&temp, sides, on(), (vec![delete_clause()], false), params).await?;
                return one_row(&[("number of rows deleted", counts.deleted)]);
            }
            let deleted = temp_dml::delete(&self.scope(), &temp, target, d.selection.as_ref(), params).await?;
            return one_row(&[("number of rows deleted", deleted)]);
        }
        self.writable_table(&key)?;
        if let Some(using) = &d.using {
            let source = single_source(using.clone())?;
            let counts = self.merge_into(target.relation.clone(), source, on(), vec![delete_clause()], params).await?;
            return one_row(&[("number of rows deleted", counts.deleted)]);
        }
        let table = delta::open(&transaction::write_location(self.s, &key).await?, None).await?;
        let (mut builder, state) = match &d.selection {
            Some(p) => {
                let (mut planned, state) = self.plan_exprs(vec![p.clone()], vec![target.clone()], params).await?;
                let predicate = unqualified(planned.remove(0))?;
                (table.delete().with_predicate(predicate), state)
            }
            None => (table.delete(), super::session::Planning::borrow(self.s)),
        };
        builder = builder.with_session_state(delta::operation_session(&state));
        let (_, metrics) = builder.await.map_err(delta::from_delta)?;
        one_row(&[("number of rows deleted", metrics.num_deleted_rows.unwrap_or(0) as u64)])
    }

    /// `MERGE INTO t USING s ON ... WHEN ...`.
    pub(crate) async fn merge(&self, m: &ast::Merge, params: Vec<crate::Param>) -> Result<QueryStream, WarehouseError> {
        let key = self.target(&m.table)?;
        let (target, source, on, clauses) = (m.table.clone(), m.source.clone(), (*m.on).clone(), m.clauses.clone());
        let counts = match self.s.tables.temp(&key) {
            Some(temp) => self.merge_temp(&temp, (target, source), on, (clauses, true), params).await?,
            None => {
                self.writable_table(&key)?;
                self.merge_into(target, source, on, clauses, params).await?
            }
        };
        let mut columns = Vec::new();
        let has = |kind: fn(&MergeAction) -> bool| m.clauses.iter().any(|c| kind(&c.action));
        if has(|a| matches!(a, MergeAction::Insert(_))) {
            columns.push(("number of rows inserted", counts.inserted));
        }
        if has(|a| matches!(a, MergeAction::Update(_))) {
            columns.push(("number of rows updated", counts.updated));
        }
        if has(|a| matches!(a, MergeAction::Delete { .. })) {
            columns.push(("number of rows deleted", counts.deleted));
        }
        one_row(&columns)
    }

    /// A merge into the session's temporary table `temp`.
    /// With `strict` (a `MERGE`), a row joining several source rows that
    /// a clause changes is an error.
    async fn merge_temp(
        &self,
        temp: &crate::catalog::TempTable,
        (mut target, mut source): (TableFactor, TableFactor),
        on: ast::Expr,
        (clauses, strict): (Vec<ast::MergeClause>, bool),
        params: Vec<crate::Param>,
    ) -> Result<MergeCounts, WarehouseError> {
        let (target_alias, source_alias) = (ensure_alias(&mut target, "TARGET"), ensure_alias(&mut source, "SOURCE"));
        let sides = ((&target, target_alias.as_str()), (&source, source_alias.as_str()));
        temp_dml::merge(&self.scope(), temp, strict, sides, &on, &clauses, params).await
    }

    /// Runs a merge of `source` into `target` as one Delta commit.
    async fn merge_into(
        &self,
        mut target: TableFactor,
        mut source: TableFactor,
        on: ast::Expr,
        clauses: Vec<ast::MergeClause>,
        params: Vec<crate::Param>,
    ) -> Result<MergeCounts, WarehouseError> {
        let key = self.target(&target)?;
        let target_alias = ensure_alias(&mut target, "TARGET");
        let source_alias = ensure_alias(&mut source, "SOURCE");
        if target_alias == source_alias {
            return Err(WarehouseError::Compilation(format!(
                "the target and the source of a MERGE are both named {target_alias}: give one an alias"
            )));
        }
        let table_schema = insert_columns::target_schema(self.s, &key).await?;
        let field = |name: &str| table_schema.as_deref().and_then(|t| insert_columns::field_named(t, name));
        // Every expression, planned once against both sides (never run).
        let mut exprs = vec![on];
        let mut shapes = Vec::new();
        for clause in &clauses {
            let predicate = clause.predicate.is_some();
            exprs.extend(clause.predicate.clone());
            match &clause.action {
                MergeAction::Update(u) => {
                    let mut columns = Vec::new();
                    for Assignment { target, value } in &u.assignments {
                        let AssignmentTarget::ColumnName(name) = target else {
                            return Err(WarehouseError::Compilation("MERGE assigns one column at a time".into()));
                        };
                        let name = column_name(name)?;
                        exprs.push(insert_columns::for_column(field(&name), value.clone()));
                        columns.push(name);
                    }
                    shapes.push((clause.clause_kind, predicate, Shape::Update(columns)));
                }
                MergeAction::Delete { .. } => shapes.push((clause.clause_kind, predicate, Shape::Delete)),
                MergeAction::Insert(i) => {
                    let MergeInsertKind::Values(values) = &i.kind else {
                        return Err(WarehouseError::Compilation("MERGE ... INSERT needs a VALUES list".into()));
                    };
                    let [row] = values.rows.as_slice() else {
                        return Err(WarehouseError::Compilation("MERGE ... INSERT VALUES takes one row".into()));
                    };
                    let named = !i.columns.is_empty();
                    let mut columns = if i.columns.is_empty() {
                        let location = self.s.tables.own.table_location(&key.0, &key.1, &key.2)?;
                        let table = delta::open(&location, None).await?;
                        let schema = table.snapshot().map_err(delta::from_delta)?.schema().clone();
                        schema.fields().map(|f| f.name().clone()).collect()
                    } else {
                        i.columns.iter().map(column_name).collect::<Result<Vec<_>, _>>()?
                    };
                    if columns.len() != row.len() {
                        return Err(WarehouseError::Compilation(format!(
                            "MERGE ... INSERT names {} columns and {} values",
                            columns.len(),
                            row.len()
                        )));
                    }
                    exprs.extend(
                        columns.iter().zip(row.iter()).map(|(c, v)| insert_columns::for_column(field(c), v.clone())),
                    );
                    // The columns it does not name take their defaults.
                    if named && let Some(t) = table_schema.as_deref() {
                        for (column, default) in insert_columns::missing_defaults(t, &columns)? {
                            exprs.push(insert_columns::for_column(insert_columns::field_named(t, &column), default));
                            columns.push(column);
                        }
                    }
                    shapes.push((clause.clause_kind, predicate, Shape::Insert(columns)));
                }
            }
        }
        let from = vec![
            TableWithJoins { relation: target.clone(), joins: vec![] },
            TableWithJoins { relation: source.clone(), joins: vec![] },
        ];
        let (planned, state) = self.plan_exprs(exprs, from, params.clone()).await?;
        // The source's rows, as planned in the session.
        let mut source_query = select_of(vec![])?;
        if let SetExpr::Select(select) = source_query.body.as_mut() {
            select.projection = vec![SelectItem::Wildcard(Default::default())];
            select.from = vec![TableWithJoins { relation: source, joins: vec![] }];
        }
        let Planned { plan: source_plan, .. } =
            plan_statement(self.s, Statement::Query(Box::new(source_query)), params, &self.database, &self.schema)
                .await?;
        let source_plan = LogicalPlanBuilder::from(source_plan)
            .alias(TableReference::bare(source_alias.clone()))
            .and_then(LogicalPlanBuilder::build)
            .map_err(WarehouseError::from_datafusion)?;
        let source_frame = DataFrame::new(state.clone(), source_plan);
        let table = delta::open(&transaction::write_location(self.s, &key).await?, None).await?;
        let mut planned = planned.into_iter();
        let mut next =
            || planned.next().ok_or_else(|| WarehouseError::Internal("a MERGE expression is missing".into()));
        let on = next()?;
        let mut builder = table
            .merge(source_frame, on)
            .with_source_alias(source_alias)
            .with_target_alias(target_alias)
            .with_session_state(delta::operation_session(&state));
        for (kind, predicated, shape) in shapes {
            let predicate = if predicated { Some(next()?) } else { None };
            let err = delta::from_delta;
            builder = match (kind, shape) {
                (MergeClauseKind::Matched, Shape::Update(columns)) => {
                    let mut sets = Vec::new();
                    for c in columns {
                        sets.push((c, next()?));
                    }
                    builder
                        .when_matched_update(|mut u| {
                            if let Some(p) = predicate {
                                u = u.predicate(p);
                            }
                            for (c, e) in sets {
                                u = u.update(c.as_str(), e);
                            }
                            u
                        })
                        .map_err(err)?
                }
                (MergeClauseKind::Matched, Shape::Delete) => builder
                    .when_matched_delete(|mut d| {
                        if let Some(p) = predicate {
                            d = d.predicate(p);
                        }
                        d
                    })
                    .map_err(err)?,
                (MergeClauseKind::NotMatched | MergeClauseKind::NotMatchedByTarget, Shape::Insert(columns)) => {
                    let mut sets = Vec::new();
                    for c in columns {
                        sets.push((c, next()?));
                    }
                    builder
                        .when_not_matched_insert(|mut i| {
                            if let Some(p) = predicate {
                                i = i.predicate(p);
                            }
                            for (c, e) in sets {
                                i = i.set(c.as_str(), e);
                            }
                            i
                        })
                        .map_err(err)?
                }
                (kind, _) => {
                    return Err(WarehouseError::Compilation(format!(
                        "WHEN {kind} cannot take that action: WHEN MATCHED updates or deletes, WHEN NOT MATCHED inserts"
                    )));
                }
            };
        }
        let (_, metrics) = builder.await.map_err(delta::from_delta)?;
        Ok(MergeCounts {
            inserted: metrics.num_target_rows_inserted as u64,
            updated: metrics.num_target_rows_updated as u64,
            deleted: metrics.num_target_rows_deleted as u64,
        })
    }
}

/// What a merge clause does, its columns named.
enum Shape {
    Update(Vec<String>),
    Delete,
    Insert(Vec<String>),
}
