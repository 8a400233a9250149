//! `ALTER TABLE` on the account's own tables and `CREATE TABLE ... LIKE`.
//!
//! `RENAME TO` moves the table's directory. Column changes (`ADD`,
//! `DROP`, `RENAME COLUMN`) write the table anew in one commit with its
//! new columns (a query over the old rows), so its history stays readable
//! by time travel and a failure changes nothing.

use datafusion::sql::sqlparser::ast::{
    self, AlterTableOperation, CastKind, ColumnOption, Expr, Ident, ObjectName, RenameTableNameKind, SelectItem,
    SetExpr, Statement,
};
use deltalake_core::operations::write::SchemaMode;
use deltalake_core::protocol::SaveMode;

use super::plan::{Planned, plan_statement, select_star_from};
use super::result::{QueryStream, StatementKind, status_result};
use super::statements::{not_allowed, quoted_name};
use super::tables::OwnTables;
use super::transaction;
use crate::WarehouseError;
use crate::catalog::{ObjectKind, TableKey};
use crate::plan::COLUMN_DEFAULT;
use crate::storage::delta;

fn quoted(name: &str) -> Ident {
    Ident::with_quote('"', name)
}

/// `ALTER TABLE [IF EXISTS] t <operation>` (one operation).
pub(crate) async fn alter_table(own: &OwnTables<'_>, alter: &ast::AlterTable) -> Result<QueryStream, WarehouseError> {
    let key = own.key(&alter.name)?;
    match own.s.tables.kind(&key) {
        Some(ObjectKind::Table) => {}
        None if alter.if_exists => {
            return Ok(status_result(StatementKind::Ddl, "Statement executed successfully.".into()));
        }
        None => return Err(WarehouseError::ObjectNotFound(key.2)),
        Some(ObjectKind::Temporary) => return Err(not_allowed("ALTER TABLE on a temporary table")),
        Some(ObjectKind::Subscription) => {
            return Err(super::statements::subscription_refused(&format!("table '{}'", key.2)));
        }
        Some(_) => return Err(not_allowed(&format!("ALTER TABLE on {} (only own tables change)", key.2))),
    }
    let [operation] = alter.operations.as_slice() else {
        return Err(WarehouseError::Compilation("ALTER TABLE takes one change at a time".into()));
    };
    let current = own.s.tables.own_table(&key, None).await?.schema();
    let columns: Vec<String> = current.fields().iter().map(|f| f.name().clone()).collect();
    // The columns that stay NOT NULL, by their new names.
    let mut not_null: Vec<String> =
        current.fields().iter().filter(|f| !f.is_nullable()).map(|f| f.name().clone()).collect();
    let keep = |name: &str| SelectItem::UnnamedExpr(Expr::Identifier(quoted(name)));
    let mut added_default = None;
    let projection: Vec<SelectItem> = match operation {
        AlterTableOperation::RenameTable { table_name: RenameTableNameKind::To(to) | RenameTableNameKind::As(to) } => {
            return rename(own, &key, to);
        }
        AlterTableOperation::AddColumn { if_not_exists, column_def, .. } => {
            let name = column_def.name.value.clone();
            if columns.contains(&name) {
                if *if_not_exists {
                    return Ok(status_result(StatementKind::Ddl, "Statement executed successfully.".into()));
                }
                return Err(WarehouseError::Compilation(format!("column '{name}' already exists")));
            }
            let mut value = Expr::Value(ast::Value::Null.into());
            for option in &column_def.options {
                match &option.option {
                    ColumnOption::Default(e) => {
                        // Existing rows get the default; later INSERTs too.
                        value = e.clone();
                        added_default = Some((name.clone(), e.to_string()));
                    }
                    ColumnOption::Null => {}
                    ColumnOption::NotNull => {
                        return Err(not_allowed("ADD COLUMN ... NOT NULL (add the column, fill it, then recreate)"));
                    }
                    other => return Err(not_allowed(&format!("ADD COLUMN ... {other}"))),
                }
            }
            let cast = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(value),
                data_type: column_def.data_type.clone(),
                array: false,
                format: None,
            };
            let mut items: Vec<SelectItem> = columns.iter().map(|c| keep(c)).collect();
            items.push(SelectItem::ExprWithAlias { expr: cast, alias: quoted(&name) });
            items
        }
        AlterTableOperation::DropColumn { column_names, if_exists, .. } => {
            let dropped: Vec<&str> = column_names.iter().map(|c| c.value.as_str()).collect();
            if let Some(missing) = dropped.iter().find(|d| !columns.iter().any(|c| c == *d)) {
                if *if_exists {
                    return Ok(status_result(StatementKind::Ddl, "Statement executed successfully.".into()));
                }
                return Err(WarehouseError::InvalidIdentifier((*missing).to_owned()));
            }
            let items: Vec<SelectItem> =
                columns.iter().filter(|c| !dropped.contains(&c.as_str())).map(|c| keep(c)).collect();
            if items.is_empty() {
                return Err(WarehouseError::Compilation("a table keeps at least one column".into()));
            }
            items
        }
        AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
            if !columns.contains(&old_column_name.value) {
                return Err(WarehouseError::InvalidIdentifier(old_column_name.value.clone()));
            }
            if columns.contains(&new_column_name.value) {
                return Err(WarehouseError::Compilation(format!("column '{}' already exists", new_column_name.value)));
            }
            for n in not_null.iter_mut() {
                if *n == old_column_name.value {
                    n.clone_from(&new_column_name.value);
                }
            }
            columns
                .iter()
                .map(|c| {
                    if *c == old_column_name.value {
                        SelectItem::ExprWithAlias {
                            expr: Expr::Identifier(quoted(c)),
                            alias: quoted(&new_column_name.value),
                        }
                    } else {
                        keep(c)
                    }
                })
                .collect()
        }
        other => return Err(not_allowed(&format!("ALTER TABLE ... {other}"))),
    };
    rewrite(own, &key, projection, &not_null, added_default).await?;
    Ok(status_result(StatementKind::Ddl, "Statement executed successfully.".into()))
}

/// `ALTER TABLE t RENAME TO u`.
fn rename(own: &OwnTables<'_>, key: &TableKey, to: &ObjectName) -> Result<QueryStream, WarehouseError> {
    let target = own.key(to)?;
    if own.s.tables.data().tables.contains_key(&target.0) {
        return Err(super::statements::subscription_refused(&format!("database '{}'", target.0)));
    }
    if own.s.tables.kind(&target).is_some() {
        return Err(WarehouseError::AlreadyExists(target.2));
    }
    own.s.tables.own.rename_table(key, &target)?;
    Ok(status_result(StatementKind::Ddl, "Statement executed successfully.".into()))
}

/// Writes table `key` anew as `SELECT <projection> FROM key`, its columns
/// replaced by the projection's (nullable but for `not_null`); the columns
/// it keeps keep their defaults (their metadata comes through the plan),
/// and `added_default` (column, SQL text) is an added column's.
async fn rewrite(
    own: &OwnTables<'_>,
    key: &TableKey,
    projection: Vec<SelectItem>,
    not_null: &[String],
    added_default: Option<(String, String)>,
) -> Result<(), WarehouseError> {
    let mut query = select_star_from(quoted_name(key))?;
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.projection = projection;
    }
    let Planned { plan, state, .. } =
        plan_statement(own.s, Statement::Query(Box::new(query)), vec![], &own.database, &own.schema).await?;
    let stored = delta::storable_schema(plan.schema().as_arrow())?;
    // Nullable but for the columns that were NOT NULL (a cast literal
    // would otherwise make an added column NOT NULL).
    let schema = arrow_schema::Schema::new(
        stored
            .fields()
            .iter()
            .map(|f| {
                let mut metadata = f.metadata().clone();
                if let Some((_, default)) = added_default.as_ref().filter(|(name, _)| name == f.name()) {
                    metadata.insert(COLUMN_DEFAULT.to_owned(), default.clone());
                }
                f.as_ref().clone().with_nullable(!not_null.contains(f.name())).with_metadata(metadata)
            })
            .collect::<Vec<_>>(),
    );
    let exprs: Vec<datafusion::logical_expr::Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            datafusion::logical_expr::cast(datafusion::logical_expr::Expr::Column(c), f.data_type().clone())
                .alias(f.name())
        })
        .collect();
    let output = datafusion::common::DFSchema::try_from(schema).map_err(WarehouseError::from_datafusion)?;
    let plan = datafusion::logical_expr::Projection::try_new_with_schema(
        exprs,
        std::sync::Arc::new(plan),
        std::sync::Arc::new(output),
    )
    .map(datafusion::logical_expr::LogicalPlan::Projection)
    .map_err(WarehouseError::from_datafusion)?;
    let table = delta::open(&transaction::write_location(own.s, key).await?, None).await?;
    table
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(delta::operation_session(&state))
        .with_save_mode(SaveMode::Overwrite)
        .with_schema_mode(SchemaMode::Overwrite)
        .await
        .map_err(delta::from_delta)?;
    Ok(())
}

/// `CREATE [OR REPLACE] TABLE t LIKE source`: an empty table with the
/// columns of `source` (a table, view or temporary table).
pub(crate) async fn create_like(
    own: &OwnTables<'_>,
    key: &TableKey,
    source: &ObjectName,
    if_not_exists: bool,
    or_replace: bool,
) -> Result<QueryStream, WarehouseError> {
    let mut query = select_star_from(source.clone())?;
    query.limit_clause = Some(ast::LimitClause::LimitOffset {
        limit: Some(Expr::Value(ast::Value::Number("0".into(), false).into())),
        offset: None,
        limit_by: vec![],
    });
    let Planned { plan, state, .. } =
        plan_statement(own.s, Statement::Query(Box::new(query)), vec![], &own.database, &own.schema).await?;
    own.create_table(key, plan, if_not_exists, or_replace, &state).await
}
