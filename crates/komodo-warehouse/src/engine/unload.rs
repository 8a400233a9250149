//! `COPY INTO @stage FROM <query>`: a query's result unloaded into one
//! staged file (see [`super::copy`]).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::{self, Statement};

use super::file_format::{Compression, FileFormat, Kind, Options, flag};
use super::guard::guard;
use super::plan::{Planned, plan_statement};
use super::result::{QueryStream, StatementKind};
use super::session::SessionEntry;
use super::stages::{self, StageRef};
use super::statements::not_allowed;
use super::stop::Stop;
use crate::WarehouseError;

/// `COPY INTO @stage FROM <query>`.
pub(super) async fn unload(
    s: &SessionEntry,
    stage: &StageRef,
    format: FileFormat,
    copy_options: &Options,
    query: ast::Query,
    stop: &Stop,
) -> Result<QueryStream, WarehouseError> {
    let (mut header, mut overwrite, mut single) = (false, false, false);
    let mut format = format;
    for (name, value) in copy_options {
        match name.as_str() {
            "HEADER" => header = flag(value, name)?,
            "OVERWRITE" => overwrite = flag(value, name)?,
            "SINGLE" => single = flag(value, name)?,
            "MAX_FILE_SIZE" | "INCLUDE_QUERY_ID" | "DETAILED_OUTPUT" => {}
            "FILE_FORMAT" => {}
            "COMPRESSION" => {
                let mut options = Options::new();
                options.insert(name.clone(), value.clone());
                format.compression = FileFormat::from_options(&options)?.compression;
            }
            other => return Err(not_allowed(&format!("the COPY option {other}"))),
        }
    }
    let gzip = format.kind != Kind::Parquet && format.compression != Compression::None;
    let extension = match format.kind {
        Kind::Csv => "csv",
        Kind::Json => "json",
        Kind::Parquet => "snappy.parquet",
    };
    let suffix = if gzip { ".gz" } else { "" };
    let (dir, name) = match stage.path.rsplit_once('/') {
        _ if single && !stage.path.is_empty() => {
            let (dir, file) = stage.path.rsplit_once('/').unwrap_or(("", stage.path.as_str()));
            (dir.to_owned(), file.to_owned())
        }
        _ if stage.folder => (stage.path.clone(), format!("data_0_0_0.{extension}{suffix}")),
        Some((dir, prefix)) => (dir.to_owned(), format!("{prefix}_0_0_0.{extension}{suffix}")),
        None => (String::new(), format!("{}_0_0_0.{extension}{suffix}", stage.path)),
    };
    let (database, schema) = s.current.lock().clone();
    let Planned { plan, state, names } =
        plan_statement(s, Statement::Query(Box::new(query)), vec![], &database, &schema).await?;
    let physical = state.create_physical_plan(&plan).await.map_err(WarehouseError::from_datafusion)?;
    let physical = guard(physical, stop).map_err(WarehouseError::from_datafusion)?;
    let batches =
        datafusion::physical_plan::collect(physical, s.task.clone()).await.map_err(WarehouseError::from_datafusion)?;
    drop(state);
    let fields: Vec<Field> =
        plan.schema().fields().iter().map(|f| f.as_ref().clone().with_name(names.wanted(f.name()))).collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let batches = batches.into_iter().map(|b| b.with_schema(schema.clone())).collect::<Result<Vec<_>, _>>();
    let batches = batches.map_err(|e| WarehouseError::Internal(e.to_string()))?;
    let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    let input_bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
    let root = s.tables.own.stage_location(&stage.stage)?;
    let relative = if dir.is_empty() { name } else { format!("{dir}/{name}") };
    let relative = stages::checked_path(&relative, false)?;
    let target = root.join(&relative);
    if target.exists() && !overwrite {
        return Err(WarehouseError::Execution(format!(
            "Files already existing at the unload destination: {}. Use overwrite option to force unloading.",
            stage.listed_name(&relative)
        )));
    }
    let written = tokio::task::spawn_blocking(move || write_file(&target, &schema, &batches, &format, header, gzip))
        .await
        .map_err(|e| WarehouseError::Internal(format!("writing the unloaded file failed: {e}")))??;
    let result_schema = Arc::new(Schema::new(vec![
        Field::new("rows_unloaded", DataType::Int64, false),
        Field::new("input_bytes", DataType::Int64, false),
        Field::new("output_bytes", DataType::Int64, false),
    ]));
    let count = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let batch = RecordBatch::try_new(
        result_schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![count(rows)])),
            Arc::new(Int64Array::from(vec![count(input_bytes as u64)])),
            Arc::new(Int64Array::from(vec![count(written)])),
        ],
    )
    .map_err(|e| WarehouseError::Internal(e.to_string()))?;
    Ok(QueryStream::ready(StatementKind::Show, result_schema, vec![batch], None))
}

/// Writes `batches` to `target` (written aside, then renamed into place);
/// returns its size.
fn write_file(
    target: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: &FileFormat,
    header: bool,
    gzip: bool,
) -> Result<u64, WarehouseError> {
    let dir = target.parent().map(Path::to_owned).unwrap_or_default();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| WarehouseError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let staging = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let file = std::fs::File::create(&staging).map_err(io(&staging))?;
    let failed = |e: &dyn std::fmt::Display| WarehouseError::Execution(format!("unloading: {e}"));
    let result = (|| -> Result<(), WarehouseError> {
        match format.kind {
            Kind::Parquet => {
                let properties = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .build();
                let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(properties))
                    .map_err(|e| failed(&e))?;
                for b in batches {
                    writer.write(b).map_err(|e| failed(&e))?;
                }
                writer.close().map_err(|e| failed(&e))?;
            }
            Kind::Csv | Kind::Json => {
                let sink = match gzip {
                    true => Sink::Gzip(flate2::write::GzEncoder::new(file, flate2::Compression::default())),
                    false => Sink::Plain(std::io::BufWriter::new(file)),
                };
                let sink = if format.kind == Kind::Csv {
                    let mut writer = arrow_csv::WriterBuilder::new()
                        .with_header(header)
                        .with_delimiter(format.delimiter)
                        .with_null(format.null_if.first().cloned().unwrap_or_default())
                        .with_timestamp_format("%Y-%m-%d %H:%M:%S%.3f".into())
                        .build(sink);
                    for b in batches {
                        writer.write(b).map_err(|e| failed(&e))?;
                    }
                    writer.into_inner()
                } else {
                    let mut writer = arrow_json::LineDelimitedWriter::new(sink);
                    for b in batches {
                        writer.write(b).map_err(|e| failed(&e))?;
                    }
                    writer.finish().map_err(|e| failed(&e))?;
                    writer.into_inner()
                };
                sink.finish().map_err(|e| failed(&e))?;
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&staging);
        return Err(e);
    }
    std::fs::rename(&staging, target).map_err(io(target))?;
    Ok(std::fs::metadata(target).map_err(io(target))?.len())
}

/// Where an unloaded CSV or JSON file's bytes go.
enum Sink {
    Gzip(flate2::write::GzEncoder<std::fs::File>),
    Plain(std::io::BufWriter<std::fs::File>),
}

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Gzip(w) => w.write(buf),
            Self::Plain(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Gzip(w) => w.flush(),
            Self::Plain(w) => w.flush(),
        }
    }
}

impl Sink {
    /// Writes what is left (a gzip stream's trailer) and syncs the file.
    fn finish(self) -> std::io::Result<()> {
        let file = match self {
            Self::Gzip(w) => w.finish()?,
            Self::Plain(w) => w.into_inner().map_err(|e| e.into_error())?,
        };
        file.sync_all()
    }
}
