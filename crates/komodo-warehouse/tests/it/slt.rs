//! The conformance corpus: every `tests/slt/*.slt` file, in the
//! sqllogictest format DataFusion's own tests use, run against a real
//! [`Engine`] holding the demo data set: one engine per file, the file's
//! statements in one session whose current schema is `DEMO.HEALTHCARE`.
//!
//! How a corpus file is written:
//!
//! - `statement ok` / `query <types> [rowsort]` then the SQL, then `----`
//!   and the expected rows, one per line, values separated by a space.
//! - Values are Snowflake's JSON rowset text (`encode::json_rowset`, what
//!   the connectors receive): numbers as decimal text with the column's
//!   scale (`1.500`), booleans `1`/`0`, dates as days since 1970-01-01
//!   (`19724` is 2024-01-02), timestamps as seconds since the epoch with
//!   nine decimals, binary as hex. NULL is `NULL` and the empty string
//!   `(empty)`; whitespace inside values is collapsed (wrap a value in
//!   brackets, `'[' || x || ']'`, when its spaces matter).
//! - Column types, one letter each, checked against the result's
//!   Snowflake types: `I` fixed with scale 0, `N` fixed with a scale, `R`
//!   real, `T` text, `B` boolean, `D` date, `P` timestamp_ntz, `L`
//!   timestamp_ltz, `Z` timestamp_tz, `M` time, `X` binary, `V` variant,
//!   array or object; `?` is not checked.
//! - Errors: `statement error <regex>` / `query error <regex>` match the
//!   message `<code> (<sql state>): <text>`, so `error 100038 ` checks
//!   Snowflake's code and `error (22018)` alone checks the SQL state.
//! - A comment at the top of each file names the Snowflake documentation
//!   pages its expected results come from.
//!
//! `SLT=<part of a file name>` runs only the matching files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use komodo_warehouse::encode::{ColumnOrigin, json_rowset, row_types};
use komodo_warehouse::{CancellationToken, Engine, EngineConfig, SessionId, StatementKind, WarehouseError, demo};
use sqllogictest::{ColumnType, DBOutput};

/// A result column's Snowflake type, as a corpus file writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Type {
    Integer,
    Decimal,
    Real,
    Text,
    Boolean,
    Date,
    TimestampNtz,
    TimestampLtz,
    TimestampTz,
    Time,
    Binary,
    Variant,
    Any,
}

const TYPES: &[(char, Type)] = &[
    ('I', Type::Integer),
    ('N', Type::Decimal),
    ('R', Type::Real),
    ('T', Type::Text),
    ('B', Type::Boolean),
    ('D', Type::Date),
    ('P', Type::TimestampNtz),
    ('L', Type::TimestampLtz),
    ('Z', Type::TimestampTz),
    ('M', Type::Time),
    ('X', Type::Binary),
    ('V', Type::Variant),
    ('?', Type::Any),
];

impl ColumnType for Type {
    fn from_char(value: char) -> Option<Self> {
        TYPES.iter().find(|(c, _)| *c == value).map(|(_, t)| t.clone())
    }

    fn to_char(&self) -> char {
        TYPES.iter().find(|(_, t)| t == self).map_or('?', |(c, _)| *c)
    }
}

impl Type {
    fn of(type_name: &str, scale: Option<i64>) -> Self {
        match type_name {
            "fixed" if scale.unwrap_or(0) == 0 => Type::Integer,
            "fixed" => Type::Decimal,
            "real" => Type::Real,
            "text" => Type::Text,
            "boolean" => Type::Boolean,
            "date" => Type::Date,
            "timestamp_ntz" => Type::TimestampNtz,
            "timestamp_ltz" => Type::TimestampLtz,
            "timestamp_tz" => Type::TimestampTz,
            "time" => Type::Time,
            "binary" => Type::Binary,
            "variant" | "array" | "object" => Type::Variant,
            _ => Type::Any,
        }
    }
}

/// `?` in a file accepts any type; the other letters must match. (The
/// signature is sqllogictest's `ColumnTypeValidator`.)
#[allow(clippy::ptr_arg)]
fn types_match(actual: &Vec<Type>, expected: &Vec<Type>) -> bool {
    actual.len() == expected.len() && actual.iter().zip(expected).all(|(a, e)| *e == Type::Any || a == e)
}

/// A statement's failure as the corpus matches it.
#[derive(Debug)]
struct Failure {
    code: &'static str,
    sql_state: &'static str,
    message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.sql_state, self.message)
    }
}

impl std::error::Error for Failure {}

impl From<WarehouseError> for Failure {
    fn from(e: WarehouseError) -> Self {
        Failure { code: e.code(), sql_state: e.sql_state(), message: e.to_string().replace('\n', " ") }
    }
}

/// One corpus file's connection: a session of the file's own engine.
struct Session {
    engine: std::sync::Arc<Engine>,
    session: SessionId,
}

const ACCOUNT: &str = "slt";

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Session {
    type Error = Failure;
    type ColumnType = Type;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Type>, Failure> {
        let result = self.engine.execute(ACCOUNT, self.session, sql, vec![], CancellationToken::new()).await?;
        let returns_rows = matches!(result.kind, StatementKind::Query | StatementKind::Show)
            || (matches!(result.kind, StatementKind::Insert | StatementKind::Dml) && result.num_rows() > 0);
        if !returns_rows {
            return Ok(DBOutput::StatementComplete(result.rows_affected.unwrap_or(0)));
        }
        let types = row_types(&result.schema, &ColumnOrigin::default())
            .iter()
            .map(|t| Type::of(&t.type_name, t.scale))
            .collect();
        let rows = json_rowset(&result.batches)?
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|v| match v {
                        None => "NULL".to_owned(),
                        Some(s) if s.is_empty() => "(empty)".to_owned(),
                        Some(s) => s,
                    })
                    .collect()
            })
            .collect();
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "komodo-warehouse"
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }

    fn error_sql_state(err: &Failure) -> Option<String> {
        Some(err.sql_state.to_owned())
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("slt")
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/slt exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

/// Runs one file; every failing record is reported, not only the first.
async fn run_file(path: &Path) -> (usize, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        statement_timeout: Duration::from_secs(30),
        session_memory_limit: 256 << 20,
        batch_size: 8192,
        target_partitions: 2,
        worker_threads: 2,
        ..EngineConfig::default()
    };
    let engine = std::sync::Arc::new(Engine::new(dir.path().join("warehouse"), config).unwrap());
    let options = demo::DemoOptions { claims: 1_000, ..Default::default() };
    demo::generate(&engine.account_dir(ACCOUNT).unwrap(), &options, |_| {}).unwrap();
    engine.reload_account(ACCOUNT).await.unwrap();
    // One session per connection the file names (`connection other`).
    let mut runner = sqllogictest::Runner::new(move || {
        let engine = engine.clone();
        async move {
            let session = engine.open_session(ACCOUNT, Some("DEMO"), Some("HEALTHCARE")).await?;
            Ok::<_, Failure>(Session { engine, session })
        }
    });
    runner.with_column_validator(types_match);
    let records = match sqllogictest::parse_file::<Type>(path) {
        Ok(records) => records,
        Err(e) => return (0, vec![format!("{}: does not parse: {e}", path.display())]),
    };
    let mut statements = 0;
    let mut failures = Vec::new();
    for record in records {
        if matches!(record, sqllogictest::Record::Statement { .. } | sqllogictest::Record::Query { .. }) {
            statements += 1;
        }
        if let Err(e) = runner.run_async(record).await {
            failures.push(format!("{}", e.display(false)));
        }
    }
    (statements, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_corpus() {
    let filter = std::env::var("SLT").ok();
    let mut total = 0;
    let mut failures = Vec::new();
    for path in corpus_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let (statements, failed) = run_file(&path).await;
        println!("{name}: {statements} statements, {} failed", failed.len());
        total += statements;
        failures.extend(failed);
    }
    println!("corpus: {total} statements");
    assert!(total > 0, "no corpus file ran");
    assert!(failures.is_empty(), "{} failures:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// Every function the README lists has cases in the corpus: its name
/// followed by `(` appears in some file.
#[test]
fn every_supported_function_has_cases() {
    let corpus: String = corpus_files()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap().to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join("\n");
    let mut missing = BTreeSet::new();
    for function in komodo_warehouse::supported_functions() {
        for name in function.names {
            let called = regex::Regex::new(&format!(r"\b{name}\s*\(")).unwrap();
            if !called.is_match(&corpus) {
                missing.insert(*name);
            }
        }
    }
    assert!(missing.is_empty(), "no corpus case calls {missing:?}");
}
