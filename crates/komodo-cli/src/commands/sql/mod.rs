//! `komodo sql`: runs statements on the account's warehouse, in order, and
//! prints each result as a table, CSV or JSON on stdout.
//!
//! While a statement runs, a spinner with the elapsed time shows on stderr
//! (only when stderr is a terminal). Ctrl-C cancels the running statement
//! on the platform and exits with 130.

mod render;
mod split;

use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use komodo::Error;
use komodo::warehouse::{ConnectionBuilder, Cursor, TransferEvent, TransferProgress};
use tokio::sync::watch;

use crate::Context;
use crate::cli::{OutputFormat, SqlArgs};
use crate::output::{Failure, exit};

/// How long a cancellation may take before the CLI gives up waiting.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// Rows fetched at a time when streaming CSV or JSON.
const FETCH_ROWS: usize = 10_000;

pub(crate) async fn run(ctx: &Context, args: SqlArgs) -> Result<(), Failure> {
    let text = read_sql(&args)?;
    let statements = split::split_statements(&text);
    if statements.is_empty() {
        return Err(no_sql("the input holds no SQL statement"));
    }
    let interrupt = Interrupt::listen();
    let mut builder = ConnectionBuilder::new(ctx.config.clone()).args(ctx.args()).web_login(None);
    if let Some(database) = &args.database {
        builder = builder.database(database);
    }
    if let Some(schema) = &args.schema {
        builder = builder.schema(schema);
    }
    let spinner = ctx.ui.spinner("Connecting to the warehouse");
    let conn = tokio::select! {
        conn = builder.connect() => conn,
        () = interrupt.wait() => {
            spinner.finish_and_clear();
            return Err(Failure::new(exit::INTERRUPTED, "interrupted"));
        }
    };
    spinner.finish_and_clear();
    let conn = conn?;

    let mut printer = Printer { format: ctx.ui.format, results: 0 };
    let mut outcome = Ok(());
    for (index, sql) in statements.iter().enumerate() {
        let position = (index + 1, statements.len());
        match statement(ctx, &conn, sql, position, &interrupt, &mut printer).await {
            Ok(Printed::Rows) => {}
            Ok(Printed::StdoutClosed) => break,
            Err(mut failure) => {
                if statements.len() > 1 && failure.code != exit::INTERRUPTED {
                    failure.message = format!("statement {} of {} failed: {}", position.0, position.1, failure.message);
                }
                outcome = Err(failure);
                break;
            }
        }
    }
    // The session ends with the command; a failure to say so changes nothing.
    let _ = tokio::time::timeout(CANCEL_WAIT, conn.close()).await;
    outcome
}

/// Runs one statement and prints its result.
async fn statement(
    ctx: &Context,
    conn: &komodo::warehouse::Connection,
    sql: &str,
    (number, total): (usize, usize),
    interrupt: &Interrupt,
    printer: &mut Printer,
) -> Result<Printed, Failure> {
    let label = if total > 1 { format!("Running statement {number} of {total}") } else { "Running".to_owned() };
    let started = Instant::now();
    let mut cursor = conn.cursor();
    // PUT and GET move files: a bar of their bytes instead of a spinner.
    let spinner = match komodo_protocol::transfer::parse(sql) {
        Some(Ok(moving)) => {
            let verb =
                if matches!(moving, komodo_protocol::transfer::Transfer::Put(_)) { "Sending" } else { "Fetching" };
            let bar = ctx.ui.bytes_bar(0, &format!("{label}: preparing"));
            cursor.set_transfer_progress(Some(transfer_progress(bar.clone(), format!("{label}: {verb}"))));
            bar
        }
        _ => ctx.ui.spinner(&label),
    };
    let cancel = cursor.cancel_handle();
    {
        let execution = cursor.execute(sql, &[]);
        tokio::pin!(execution);
        let finished = tokio::select! {
            result = &mut execution => Some(result.map(|_| ())),
            () = interrupt.wait() => None,
        };
        let Some(result) = finished else {
            spinner.set_message("Cancelling the statement");
            let _ = tokio::time::timeout(CANCEL_WAIT, cancel.cancel()).await;
            let confirmed = matches!(
                tokio::time::timeout(CANCEL_WAIT, &mut execution).await,
                Ok(Err(Error::Warehouse(e))) if e.is_cancelled()
            );
            spinner.finish_and_clear();
            return Err(if confirmed {
                Failure::new(exit::INTERRUPTED, "interrupted: the statement was cancelled")
            } else {
                Failure::new(exit::INTERRUPTED, "interrupted: the platform did not confirm the cancellation")
                    .hint("the statement may still be running; it stops at the warehouse's statement time limit")
            });
        };
        spinner.finish_and_clear();
        result?;
    }
    let printed = tokio::select! {
        printed = printer.print(&mut cursor) => printed?,
        () = interrupt.wait() => return Err(Failure::new(exit::INTERRUPTED, "interrupted")),
    };
    if ctx.ui.is_terminal()
        && let (Printed::Rows, Some(rows)) = (&printed, cursor.rowcount())
    {
        let plural = if rows == 1 { "" } else { "s" };
        ctx.ui.message(format!("{rows} row{plural} ({:.2} s)", started.elapsed().as_secs_f64()));
    }
    Ok(printed)
}

/// Moves `bar` as a `PUT` or `GET` reports its bytes.
fn transfer_progress(bar: indicatif::ProgressBar, label: String) -> TransferProgress {
    Arc::new(move |event| match event {
        TransferEvent::Compressing { file } => bar.set_message(format!("{label}: compressing {file}")),
        TransferEvent::Started { files, bytes } => {
            let plural = if files == 1 { "" } else { "s" };
            bar.set_length(bytes);
            bar.set_message(format!("{label} {files} file{plural}"));
        }
        TransferEvent::Moved { bytes, .. } => bar.inc(bytes),
        _ => {}
    })
}

/// The SQL to run: the argument, else the file (`-`: stdin), else stdin
/// when it is not a terminal.
fn read_sql(args: &SqlArgs) -> Result<String, Failure> {
    if let Some(sql) = &args.sql {
        return Ok(sql.clone());
    }
    match &args.file {
        Some(path) if path.as_os_str() == "-" => read_stdin(),
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::new(exit::FAILURE, format!("cannot read {}: {e}", path.display()))),
        None if std::io::stdin().is_terminal() => Err(no_sql("no SQL to run")),
        None => read_stdin(),
    }
}

fn read_stdin() -> Result<String, Failure> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot read the SQL from stdin: {e}")))?;
    Ok(text)
}

fn no_sql(message: &str) -> Failure {
    Failure::new(exit::USAGE, message)
        .hint("pass the SQL as an argument (`komodo sql \"SELECT 1\"`), a file with --file PATH, or pipe it on stdin")
}

/// Ctrl-C, as a flag every step can wait on. A second Ctrl-C exits at
/// once.
struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    fn listen() -> Self {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            let _ = tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
        });
        Self(rx)
    }

    /// Resolves once Ctrl-C was pressed (never, when it cannot be caught).
    async fn wait(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|interrupted| *interrupted).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// What printing a result came to.
enum Printed {
    /// The rows were printed.
    Rows,
    /// Stdout was closed (`komodo sql ... | head`): nothing more to print.
    StdoutClosed,
}

/// Prints result sets one after the other in the chosen format.
struct Printer {
    format: OutputFormat,
    results: usize,
}

impl Printer {
    async fn print(&mut self, cursor: &mut Cursor) -> Result<Printed, Failure> {
        let columns: Vec<String> = cursor.description().unwrap_or_default().iter().map(|c| c.name.clone()).collect();
        let separator = if self.results > 0 { "\n" } else { "" };
        self.results += 1;
        match self.format {
            OutputFormat::Table => {
                let rows = cursor.fetchall().await?;
                write_out(&format!("{separator}{}\n", render::table(&columns, &rows)))
            }
            OutputFormat::Csv => {
                let header = render::csv_record(columns.iter().map(|c| render::csv_text(c)));
                if let Printed::StdoutClosed = write_out(&format!("{separator}{header}\n"))? {
                    return Ok(Printed::StdoutClosed);
                }
                loop {
                    let rows = cursor.fetchmany(FETCH_ROWS).await?;
                    if rows.is_empty() {
                        return Ok(Printed::Rows);
                    }
                    let mut text = String::new();
                    for row in &rows {
                        text.push_str(&render::csv_record(row.iter().map(render::csv_value)));
                        text.push('\n');
                    }
                    if let Printed::StdoutClosed = write_out(&text)? {
                        return Ok(Printed::StdoutClosed);
                    }
                }
            }
            OutputFormat::Json => {
                let mut first = true;
                loop {
                    let rows = cursor.fetchmany(FETCH_ROWS).await?;
                    let mut text = String::new();
                    if rows.is_empty() {
                        text.push_str(if first { "[]\n" } else { "\n]\n" });
                        return write_out(&text);
                    }
                    for row in &rows {
                        text.push_str(if first { "[\n  " } else { ",\n  " });
                        first = false;
                        text.push_str(&render::json_row(&columns, row));
                    }
                    if let Printed::StdoutClosed = write_out(&text)? {
                        return Ok(Printed::StdoutClosed);
                    }
                }
            }
        }
    }
}

/// Writes to stdout; a closed stdout ends the output quietly.
fn write_out(text: &str) -> Result<Printed, Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(Printed::Rows),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Printed::StdoutClosed),
        Err(e) => Err(Failure::new(exit::FAILURE, format!("cannot write to stdout: {e}"))),
    }
}
