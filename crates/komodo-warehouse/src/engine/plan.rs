//! Planning one statement: parsing, views, the Snowflake rewrite, lateral
//! column aliases and bindings, down to DataFusion's logical plan.

use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::scalar::ScalarValue;
use datafusion::sql::parser::{DFParserBuilder, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{
    Expr, Ident, ObjectName, Query, Select, SelectItem, SetExpr, Statement, TableFactor,
};

use super::guard::guard;
use super::stop::Stop;

use super::sequences;
use super::session::{Planning, SessionEntry};
use super::statements::{not_allowed, object_name_parts, table_key};
use crate::catalog::{ObjectKind, TableKey};
use crate::dialect::{self, Moment, OutputNames, SessionValues};
use crate::parser::BudgetedSnowflake;
use crate::storage::delta;
use crate::{Param, WarehouseError};

/// Parses the text of [`dialect::prepare`] into its one statement:
/// DataFusion's parser in Snowflake's dialect, nesting limited to 64, work
/// limited by [`BudgetedSnowflake`], and DataFusion's own statements
/// (`CREATE EXTERNAL TABLE`, `COPY ... TO`, `EXPLAIN`, `RESET`) refused.
pub(super) fn parse_one(prepared: &dialect::Prepared) -> Result<Statement, WarehouseError> {
    let dialect = BudgetedSnowflake::for_statement(&prepared.sql);
    let mut statements = DFParserBuilder::new(prepared.sql.as_str())
        .with_dialect(&dialect)
        .with_recursion_limit(64)
        .build()
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| {
            if dialect.exhausted() {
                WarehouseError::Compilation(
                    "statement too complex to parse: simplify the nesting of CASE, CAST and function calls".into(),
                )
            } else {
                WarehouseError::Compilation(e.to_string())
            }
        })?;
    if statements.len() != 1 {
        return Err(WarehouseError::Compilation(format!("expected exactly one statement, found {}", statements.len())));
    }
    match statements.pop_front().expect("one statement") {
        DfStatement::Statement(s) => Ok(*s),
        DfStatement::CreateExternalTable(_) => Err(not_allowed("CREATE EXTERNAL TABLE")),
        DfStatement::CopyTo(_) => Err(not_allowed("COPY")),
        DfStatement::Explain(_) => Err(not_allowed("EXPLAIN")),
        DfStatement::Reset(_) => Err(not_allowed("RESET")),
    }
}

/// The query of view `name` in session `s`, when `name` is one of the
/// account's views (parsed as stored).
pub(super) fn view_query(
    s: &SessionEntry,
    database: &Option<String>,
    schema: &Option<String>,
    name: &ObjectName,
) -> Result<Option<Query>, WarehouseError> {
    let Ok(key) = table_key(name, database, schema) else { return Ok(None) };
    if s.tables.kind(&key) != Some(ObjectKind::View) {
        return Ok(None);
    }
    let Some(view) = s.tables.own.view(&key.0, &key.1, &key.2)? else { return Ok(None) };
    let prepared = dialect::prepare(&view.query)?;
    match parse_one(&prepared)? {
        Statement::Query(q) => Ok(Some(*q)),
        _ => Err(WarehouseError::Internal(format!("view {} does not hold a query", key.2))),
    }
}

/// A query parsed from `template`, a `SELECT` this module writes, and its
/// `SELECT` to fill in.
fn template(template: &str, fill: impl FnOnce(&mut Select)) -> Result<Query, WarehouseError> {
    let parsed = datafusion::sql::sqlparser::parser::Parser::parse_sql(
        &datafusion::sql::sqlparser::dialect::SnowflakeDialect {},
        template,
    )
    .map_err(|e| WarehouseError::Internal(e.to_string()))?;
    let Some(Statement::Query(mut query)) = parsed.into_iter().next() else {
        return Err(WarehouseError::Internal(format!("{template} did not parse as a query")));
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err(WarehouseError::Internal(format!("{template} did not parse as a SELECT")));
    };
    fill(select);
    Ok(*query)
}

/// `SELECT <exprs>` (no `FROM`).
pub(super) fn select_of(exprs: Vec<Expr>) -> Result<Query, WarehouseError> {
    template("SELECT 1", |select| select.projection = exprs.into_iter().map(SelectItem::UnnamedExpr).collect())
}

/// `SELECT * FROM <name>`.
pub(super) fn select_star_from(name: ObjectName) -> Result<Query, WarehouseError> {
    template("SELECT * FROM T", |select| {
        if let Some(TableFactor::Table { name: table, .. }) = select.from.first_mut().map(|f| &mut f.relation) {
            *table = name;
        }
    })
}

/// A statement planned by [`plan_statement`].
pub(super) struct Planned<'a> {
    pub(super) plan: LogicalPlan,
    pub(super) names: OutputNames,
    /// The planning state, to make the physical plan with.
    pub(super) state: Planning<'a>,
}

/// The values of `exprs` (a `SET`'s right-hand side), evaluated as one
/// `SELECT` in the session, under the statement's stop.
pub(super) async fn evaluate(
    s: &SessionEntry,
    exprs: Vec<Expr>,
    database: &Option<String>,
    schema: &Option<String>,
    stop: &Stop,
) -> Result<Vec<ScalarValue>, WarehouseError> {
    let query = select_of(exprs)?;
    let Planned { plan, state, .. } =
        plan_statement(s, Statement::Query(Box::new(query)), vec![], database, schema).await?;
    let plan = state.create_physical_plan(&plan).await.map_err(WarehouseError::from_datafusion)?;
    let plan = guard(plan, stop).map_err(WarehouseError::from_datafusion)?;
    let batches =
        datafusion::physical_plan::collect(plan, s.task.clone()).await.map_err(WarehouseError::from_datafusion)?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Err(WarehouseError::Compilation("SET: the expression returned no row".into()));
    };
    batch.columns().iter().map(|c| ScalarValue::try_from_array(c, 0).map_err(WarehouseError::from_datafusion)).collect()
}

/// Replaces each time-travel clause of `statement` (`AT(...)`,
/// `BEFORE(...)`) by the name under which the catalog opens the table at
/// the version current at that moment; only the account's own tables
/// have versions.
async fn resolve_time_travels(
    s: &SessionEntry,
    statement: &mut Statement,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<(), WarehouseError> {
    let clauses = dialect::time_travels(statement)?;
    if clauses.is_empty() {
        return Ok(());
    }
    let stop = Stop::after(s.max_timeout, Default::default());
    let mut names = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let key = table_key(&clause.name, database, schema)?;
        match s.tables.kind(&key) {
            Some(ObjectKind::Table) => {}
            Some(_) => {
                return Err(WarehouseError::NotAllowed(format!(
                    "time travel on {}: only the account's own tables keep their history",
                    key.2
                )));
            }
            None => return Err(WarehouseError::ObjectNotFound(key.2)),
        }
        let (expr, offset, before, statement) = match clause.moment {
            Moment::Offset(e) => (e, true, false, false),
            Moment::At(e) => (e, false, false, false),
            Moment::Before(e) => (e, false, true, false),
            Moment::AtStatement(e) => (e, false, false, true),
            Moment::BeforeStatement(e) => (e, false, true, true),
        };
        let value = Box::pin(evaluate(s, vec![expr], database, schema, &stop)).await?.remove(0);
        let moment = if statement {
            statement_moment(s, &value, before).await?
        } else if offset {
            let seconds = match value.cast_to(&arrow_schema::DataType::Float64) {
                Ok(ScalarValue::Float64(Some(n))) if n.is_finite() && n <= 0.0 => n,
                _ => {
                    return Err(WarehouseError::Compilation(format!(
                        "AT(OFFSET => {value}): the offset is a number of seconds before now (0 or negative)"
                    )));
                }
            };
            chrono::Utc::now() + chrono::Duration::milliseconds((seconds * 1000.0) as i64)
        } else {
            let unit = arrow_schema::TimeUnit::Microsecond;
            let micros = match value.cast_to(&arrow_schema::DataType::Timestamp(unit, None)) {
                Ok(ScalarValue::TimestampMicrosecond(Some(us), _)) => us,
                _ => {
                    return Err(WarehouseError::Compilation(format!(
                        "AT/BEFORE(TIMESTAMP => {value}): the value is not a timestamp"
                    )));
                }
            };
            let at = chrono::DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| WarehouseError::Compilation(format!("AT/BEFORE(TIMESTAMP => {value}): out of range")))?;
            if before { at - chrono::Duration::milliseconds(1) } else { at }
        };
        let location = s.tables.own.table_location(&key.0, &key.1, &key.2)?;
        let version = delta::version_at(&location, &key.2, moment).await?;
        names.push(ObjectName::from(vec![
            Ident::new(key.0),
            Ident::new(key.1),
            Ident::new(dialect::versioned_name(&key.2, version)),
        ]));
    }
    dialect::apply_time_travels(statement, names);
    Ok(())
}

/// The moment of `AT(STATEMENT => id)` (when the statement ended: its
/// changes included) or `BEFORE(STATEMENT => id)` (just before it started).
async fn statement_moment(
    s: &SessionEntry,
    value: &ScalarValue,
    before: bool,
) -> Result<chrono::DateTime<chrono::Utc>, WarehouseError> {
    let id = match value {
        ScalarValue::Utf8(Some(id)) | ScalarValue::LargeUtf8(Some(id)) | ScalarValue::Utf8View(Some(id)) => id.clone(),
        _ => {
            return Err(WarehouseError::Compilation(format!(
                "STATEMENT => {value}: give the statement's query id as a string"
            )));
        }
    };
    let times = s.statement_times.read().clone();
    let unknown = || {
        WarehouseError::Compilation(format!(
            "Statement {id} not found: time travel to a statement takes the query id of one of this account's \
             statements (cursor.sfqid)"
        ))
    };
    let Some(times) = times else { return Err(unknown()) };
    let (started, ended) = times.times(&s.account_id, &id).await.ok_or_else(unknown)?;
    let ms = if before {
        started - 1
    } else {
        ended.ok_or_else(|| {
            WarehouseError::Compilation(format!(
                "Statement {id} has not ended: AT(STATEMENT => ...) needs one that did"
            ))
        })?
    };
    chrono::DateTime::from_timestamp_millis(ms).ok_or_else(unknown)
}

/// Rewrites and plans `statement` in session `s`: `IDENTIFIER(...)`, time
/// travel, views, sequences' `NEXTVAL`, `INFER_SCHEMA`, the Snowflake rewrite, lateral column aliases (inlined where a name is not
/// a column, then planned again), session variables and `params` bound on
/// the plan.
pub(super) async fn plan_statement<'a>(
    s: &'a SessionEntry,
    mut statement: Statement,
    params: Vec<Param>,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<Planned<'a>, WarehouseError> {
    let variables = s.variables.lock().clone();
    dialect::resolve_identifiers(&mut statement, &variables)?;
    resolve_time_travels(s, &mut statement, database, schema).await?;
    dialect::expand_views(&mut statement, &|name| view_query(s, database, schema, name))?;
    sequences::resolve_sequences(s, &mut statement, database, schema)?;
    super::infer_schema::resolve_infer_schema(s, &mut statement, database, schema)?;
    let columns = |name: &ObjectName| -> Option<Vec<String>> {
        let parts = object_name_parts(name);
        let key: TableKey = match parts.as_slice() {
            [t] => (database.clone()?, schema.clone()?, t.clone()),
            [sc, t] => (database.clone()?, sc.clone(), t.clone()),
            [d, sc, t] => (d.clone(), sc.clone(), t.clone()),
            _ => return None,
        };
        let fields = s.tables.table_schema(&key)?;
        Some(fields.fields().iter().map(|f| f.name().clone()).collect())
    };
    dialect::rewrite_samples(&mut statement, &columns)?;
    dialect::rewrite_flattens(&mut statement, &columns)?;
    let values = SessionValues { account: s.account_id.clone(), database: database.clone(), schema: schema.clone() };
    let names = dialect::rewrite(&mut statement, &values)?;
    let mut scalars = params.iter().map(Param::to_scalar).collect::<Result<Vec<_>, _>>()?;
    scalars.extend(dialect::bind_variables(&mut statement, &variables, scalars.len())?);
    if !scalars.is_empty() {
        dialect::type_placeholders(&mut statement, &scalars)?;
    }
    let mut state = Planning::borrow(s);
    // Fixes now(), current_date() and friends for this statement.
    state.mark_start_execution();
    {
        let catalog = &mut state.config_mut().options_mut().catalog;
        catalog.default_catalog = database.clone().unwrap_or_default();
        catalog.default_schema = schema.clone().unwrap_or_default();
    }
    // One more try per lateral alias a statement can use.
    let mut inlined = 0;
    let plan = loop {
        let attempt = state.statement_to_plan(DfStatement::Statement(Box::new(statement.clone()))).await;
        match attempt.map_err(WarehouseError::from_datafusion) {
            Ok(plan) => break plan,
            Err(WarehouseError::InvalidIdentifier(name))
                if inlined < 64 && dialect::inline_alias(&mut statement, &name) =>
            {
                inlined += 1;
                dialect::check_size(&statement)?;
            }
            Err(WarehouseError::ObjectNotFound(name)) if name.starts_with('.') || name.contains("..") => {
                return Err(WarehouseError::NoCurrentDatabase("SELECT".into()));
            }
            Err(e) => return Err(e),
        }
    };
    let plan = if scalars.is_empty() {
        plan
    } else {
        plan.with_param_values(ParamValues::from(scalars)).map_err(|e| WarehouseError::Binding(e.to_string()))?
    };
    Ok(Planned { plan, names, state })
}
