//! `TABLE(INFER_SCHEMA(LOCATION => '@stage[/path]', FILE_FORMAT =>
//! 'format' [, FILES => 'a.parquet', ...]))`: the columns of staged Parquet
//! files, as Snowflake describes them (`COLUMN_NAME`, `TYPE`, `NULLABLE`,
//! `EXPRESSION`, `FILENAMES`, `ORDER_ID`), what snowflake-connector-python's
//! `write_pandas(auto_create_table=True)` asks before it creates a table.
//!
//! The call is answered before planning: its rows replace it as a derived
//! table of literals. Only each file's footer is read.

use std::ops::ControlFlow;

use arrow_schema::{DataType, Field};
use datafusion::sql::sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, FunctionArgOperator, FunctionArguments, Statement, TableFactor,
};
use datafusion::sql::sqlparser::dialect::SnowflakeDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::file_format::{Kind, OptionValue, Options};
use super::session::SessionEntry;
use super::stages;
use crate::WarehouseError;

/// The most columns one answer describes.
const MAX_COLUMNS: usize = 10_000;

/// The result's columns, as Snowflake names them.
const COLUMNS: &str = "COLUMN_NAME, TYPE, NULLABLE, EXPRESSION, FILENAMES, ORDER_ID";

/// Replaces each `TABLE(INFER_SCHEMA(...))` of `statement` with its rows.
pub(crate) fn resolve_infer_schema(
    s: &SessionEntry,
    statement: &mut Statement,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<(), WarehouseError> {
    let mut failed = None;
    let mut visit = |factor: &mut TableFactor| {
        let TableFactor::TableFunction { expr: Expr::Function(f), alias } = factor else {
            return ControlFlow::Continue(());
        };
        let is_infer =
            f.name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| i.value.eq_ignore_ascii_case("INFER_SCHEMA"));
        if !is_infer {
            return ControlFlow::Continue(());
        }
        match infer(s, &f.args, database, schema) {
            Ok(subquery) => {
                let alias = alias.take().or_else(|| {
                    Some(ast::TableAlias {
                        explicit: true,
                        name: ast::Ident::new("INFER_SCHEMA"),
                        columns: vec![],
                        at: None,
                    })
                });
                *factor = TableFactor::Derived { lateral: false, subquery: Box::new(subquery), alias, sample: None };
                ControlFlow::Continue(())
            }
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    };
    let _ = visit_table_factors(statement, &mut visit);
    failed.map_or(Ok(()), Err)
}

fn visit_table_factors(
    statement: &mut Statement,
    visit: &mut dyn FnMut(&mut TableFactor) -> ControlFlow<()>,
) -> ControlFlow<()> {
    struct Visitor<'a>(&'a mut dyn FnMut(&mut TableFactor) -> ControlFlow<()>);
    impl ast::VisitorMut for Visitor<'_> {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            (self.0)(factor)
        }
    }
    ast::VisitMut::visit(statement, &mut Visitor(visit))
}

/// The call's rows as a query of literals.
fn infer(
    s: &SessionEntry,
    args: &FunctionArguments,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<ast::Query, WarehouseError> {
    let usage = "INFER_SCHEMA takes LOCATION => '@stage[/path]', FILE_FORMAT => '<file format>' and optionally \
                 FILES => '<file>', ...";
    let FunctionArguments::List(list) = args else {
        return Err(WarehouseError::Compilation(usage.into()));
    };
    let (mut location, mut format_name, mut files) = (None, None, None::<Vec<String>>);
    for arg in &list.args {
        let FunctionArg::Named { name, arg: FunctionArgExpr::Expr(value), operator: FunctionArgOperator::RightArrow } =
            arg
        else {
            return Err(WarehouseError::Compilation(usage.into()));
        };
        let text = |e: &Expr| match e {
            Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(t) => Ok(t.clone()),
                _ => Err(WarehouseError::Compilation(usage.into())),
            },
            _ => Err(WarehouseError::Compilation(usage.into())),
        };
        match name.value.to_ascii_uppercase().as_str() {
            "LOCATION" => location = Some(text(value)?),
            "FILE_FORMAT" => format_name = Some(text(value)?),
            "FILES" => files.get_or_insert_with(Vec::new).push(text(value)?),
            "IGNORE_CASE" | "MAX_FILE_COUNT" | "MAX_RECORDS_PER_FILE" | "KIND" => {}
            _ => return Err(WarehouseError::Compilation(usage.into())),
        }
    }
    let (Some(location), Some(format_name)) = (location, format_name) else {
        return Err(WarehouseError::Compilation(usage.into()));
    };
    let stage = stages::stage_ref(s, &location, database, schema)?;
    let options: Options = [("FORMAT_NAME".to_owned(), OptionValue::Text(format_name))].into_iter().collect();
    let format = stages::file_format_of(s, &options, &stage, database, schema)?;
    if format.kind != Kind::Parquet {
        return Err(super::statements::not_allowed("INFER_SCHEMA of files other than Parquet"));
    }
    let mut staged = stages::files(s, &stage, None)?;
    if let Some(names) = &files {
        staged.retain(|f| names.iter().any(|n| f.relative == *n || f.relative.ends_with(&format!("/{n}"))));
    }
    // Columns in the order first seen, with the files that have them.
    let mut columns: Vec<(Field, Vec<String>)> = Vec::new();
    for file in &staged {
        let reader =
            std::fs::File::open(&file.path).map_err(|source| WarehouseError::Io { path: file.path.clone(), source })?;
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(reader).map_err(|e| {
            WarehouseError::InvalidFile(format!("{} cannot be read as Parquet: {e}", stage.listed_name(&file.relative)))
        })?;
        let name = file.relative.rsplit('/').next().unwrap_or(&file.relative).to_owned();
        for field in builder.schema().fields() {
            let count = columns.len();
            match columns.iter_mut().find(|(f, _)| f.name() == field.name()) {
                Some((known, names)) => {
                    if field.is_nullable() && !known.is_nullable() {
                        *known = known.clone().with_nullable(true);
                    }
                    names.push(name.clone());
                }
                None if count < MAX_COLUMNS => columns.push((field.as_ref().clone(), vec![name.clone()])),
                None => {
                    return Err(WarehouseError::Compilation(format!(
                        "the files have more than {MAX_COLUMNS} columns: INFER_SCHEMA describes at most that many"
                    )));
                }
            }
        }
    }
    let quote = |t: &str| format!("'{}'", t.replace('\\', "\\\\").replace('\'', "''"));
    let sql = if columns.is_empty() {
        "SELECT CAST(NULL AS VARCHAR) AS COLUMN_NAME, CAST(NULL AS VARCHAR) AS TYPE, CAST(NULL AS BOOLEAN) AS NULLABLE, \
         CAST(NULL AS VARCHAR) AS EXPRESSION, CAST(NULL AS VARCHAR) AS FILENAMES, CAST(NULL AS BIGINT) AS ORDER_ID \
         WHERE FALSE"
            .to_owned()
    } else {
        let rows: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (field, names))| {
                let type_name = snowflake_type(field.data_type());
                format!(
                    "({}, {}, {}, {}, {}, {i})",
                    quote(field.name()),
                    quote(&type_name),
                    if field.is_nullable() { "TRUE" } else { "FALSE" },
                    quote(&format!("$1:{}::{type_name}", field.name())),
                    quote(&names.join(", ")),
                )
            })
            .collect();
        format!("SELECT * FROM (VALUES {}) AS T({COLUMNS})", rows.join(", "))
    };
    let dialect = SnowflakeDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(&sql)
        .map_err(|e| WarehouseError::Internal(format!("INFER_SCHEMA's answer does not parse: {e}")))?;
    parser
        .parse_query()
        .map(|q| *q)
        .map_err(|e| WarehouseError::Internal(format!("INFER_SCHEMA's answer does not parse: {e}")))
}

/// The Snowflake type INFER_SCHEMA names for a Parquet column read as Arrow.
fn snowflake_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => "NUMBER(38, 0)".into(),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "REAL".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("NUMBER({p}, {s})"),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME(9)".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP_NTZ(9)".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP_LTZ(9)".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            "BINARY".into()
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) | DataType::ListView(_) => {
            "ARRAY".into()
        }
        DataType::Struct(_) | DataType::Map(..) => "OBJECT".into(),
        DataType::Dictionary(_, value) => snowflake_type(value),
        _ => "TEXT".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_types_are_named_as_snowflake_names_them() {
        assert_eq!(snowflake_type(&DataType::Int64), "NUMBER(38, 0)");
        assert_eq!(snowflake_type(&DataType::Float64), "REAL");
        assert_eq!(snowflake_type(&DataType::Utf8), "TEXT");
        assert_eq!(snowflake_type(&DataType::Decimal128(10, 2)), "NUMBER(10, 2)");
        assert_eq!(snowflake_type(&DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, None)), "TIMESTAMP_NTZ(9)");
        assert_eq!(snowflake_type(&DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))), "TEXT");
    }
}
