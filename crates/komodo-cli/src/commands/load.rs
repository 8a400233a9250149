//! `komodo load`: a CSV, Parquet or Arrow file into a table of the
//! account's warehouse, streamed to the platform with a progress bar on
//! stderr, loaded there in one commit.

use std::sync::Arc;

use komodo::Error;
use komodo::warehouse::{ConnectionBuilder, LoadFormat, LoadOptions, LoadProgress};

use crate::Context;
use crate::cli::LoadArgs;
use crate::output::{Failure, exit};

pub(crate) async fn run(ctx: &Context, args: LoadArgs) -> Result<(), Failure> {
    let path = &args.file;
    let format = LoadFormat::from_path(path).ok_or_else(|| {
        Failure::new(exit::USAGE, format!("cannot tell the format of {} from its extension", path.display()))
            .hint("name the file *.csv (with a header row), *.parquet or *.arrow")
    })?;
    let size = std::fs::metadata(path)
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot read {}: {e}", path.display())))?
        .len();
    if args.table.trim().is_empty() {
        return Err(Failure::new(exit::USAGE, "--table is empty").hint("name the table: --table NAME"));
    }
    let mut builder = ConnectionBuilder::new(ctx.config.clone()).args(ctx.args()).web_login(None);
    if let Some(database) = &args.database {
        builder = builder.database(database).schema(args.schema.clone().unwrap_or_else(|| "PUBLIC".to_owned()));
    } else if let Some(schema) = &args.schema {
        builder = builder.schema(schema);
    }
    let spinner = ctx.ui.spinner("Connecting to the warehouse");
    let conn = tokio::select! {
        conn = builder.connect() => conn,
        _ = tokio::signal::ctrl_c() => {
            spinner.finish_and_clear();
            return Err(Failure::new(exit::INTERRUPTED, "interrupted"));
        }
    };
    spinner.finish_and_clear();
    let conn = conn?;

    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let bar = ctx.ui.bytes_bar(size, &format!("Uploading {name}"));
    let shown = bar.clone();
    let loading = format!("Loading into {}", args.table);
    let progress: LoadProgress = Arc::new(move |sent| {
        shown.set_position(sent);
        if sent >= size {
            shown.set_message(loading.clone());
        }
    });
    let options = LoadOptions::new().create(args.create).overwrite(args.overwrite);
    let outcome = tokio::select! {
        outcome = conn.load_file_with_progress(&args.table, path, format, options, Some(progress)) => outcome,
        // Dropping the upload ends the request: the platform commits nothing.
        _ = tokio::signal::ctrl_c() => {
            bar.finish_and_clear();
            return Err(Failure::new(exit::INTERRUPTED, "interrupted: nothing was loaded"));
        }
    };
    bar.finish_and_clear();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), conn.close()).await;
    let summary = outcome.map_err(|e| failure(e, &args))?;
    let table = format!("{}.{}.{}", summary.database, summary.schema, summary.table);
    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::json!({
            "table": table,
            "rows_loaded": summary.rows_loaded,
            "created": summary.created,
        }));
    } else {
        let plural = if summary.rows_loaded == 1 { "" } else { "s" };
        let created = if summary.created { " (created)" } else { "" };
        ctx.ui.success(format!("Loaded {} row{plural} into {table}{created}", summary.rows_loaded));
    }
    Ok(())
}

/// The failure of a load, with what fixes the common ones.
fn failure(error: Error, args: &LoadArgs) -> Failure {
    let hint = match &error {
        Error::Warehouse(e) if e.code == "002003" && !args.create => {
            Some("add --create to create the table from the file's columns".to_owned())
        }
        Error::Warehouse(e) if e.code == "001003" && e.message.contains("has no column") => Some(
            "the file's header names the columns; they must match the table's (or load into a new table)".to_owned(),
        ),
        _ => None,
    };
    let failure = Failure::from(error);
    match hint {
        Some(hint) => failure.hint(hint),
        None => failure,
    }
}
