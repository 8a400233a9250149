//! Loading files into the account's own tables (`Engine::load_file`):
//! Arrow IPC streams, CSV and Parquet; create, append and overwrite;
//! columns matched by name; refusals; a failed load changes nothing; a
//! file larger than the session's memory limit streams through.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use komodo_warehouse::{
    Access, CancellationToken, Engine, EngineConfig, LoadFormat, LoadOptions, LoadSummary, SessionId, WarehouseError,
    encode,
};

use crate::support::{A, config, fixture};

const ACCOUNT: &str = "acct-load";

struct Loader {
    engine: Arc<Engine>,
    session: SessionId,
    dir: tempfile::TempDir,
}

impl Loader {
    async fn new() -> Self {
        Self::with_config(config()).await
    }

    async fn with_config(config: EngineConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(Engine::new(dir.path().join("warehouse"), config).unwrap());
        let session = engine.open_session(ACCOUNT, None, None).await.unwrap();
        let loader = Self { engine, session, dir };
        loader.run("CREATE DATABASE lake").await;
        loader
    }

    async fn try_run(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, WarehouseError> {
        let result = self.engine.execute(ACCOUNT, self.session, sql, vec![], CancellationToken::new()).await?;
        Ok(encode::json_rowset(&result.batches).unwrap())
    }

    async fn run(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.try_run(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn load(
        &self,
        table: &str,
        path: &Path,
        format: LoadFormat,
        create: bool,
        overwrite: bool,
    ) -> Result<LoadSummary, WarehouseError> {
        self.engine
            .load_file(
                ACCOUNT,
                self.session,
                table,
                path,
                format,
                LoadOptions { create, overwrite },
                CancellationToken::new(),
            )
            .await
    }

    fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// The table's Delta log entries (commits).
    fn commits(&self, table: &str) -> usize {
        let log =
            self.engine.account_dir(ACCOUNT).unwrap().join("_databases/LAKE/PUBLIC").join(table).join("_delta_log");
        std::fs::read_dir(log)
            .map(|d| d.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".json")).count())
            .unwrap_or(0)
    }
}

fn text(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn batch(ids: &[i64], names: &[Option<&str>]) -> RecordBatch {
    let schema =
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("name", DataType::Utf8, true)]));
    RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef, Arc::new(StringArray::from(names.to_vec()))],
    )
    .unwrap()
}

fn ipc_stream(batches: &[RecordBatch]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut out, &batches[0].schema()).unwrap();
    for b in batches {
        writer.write(b).unwrap();
    }
    writer.finish().unwrap();
    drop(writer);
    out
}

fn parquet_file(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batches[0].schema(), None).unwrap();
    for b in batches {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
}

/// An Arrow IPC stream (what write_pandas sends) creates a table with its
/// columns and types, names kept as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_arrow_creates_a_table_with_the_files_columns() {
    let l = Loader::new().await;
    let schema = Arc::new(Schema::new(vec![
        Field::new("ID", DataType::Int64, true),
        Field::new("price", DataType::Float64, true),
        Field::new("NAME", DataType::Utf8, true),
        Field::new("OK", DataType::Boolean, true),
        Field::new("DAY", DataType::Date32, true),
    ]));
    let rows = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![Some(1), Some(2), None])) as ArrayRef,
            Arc::new(Float64Array::from(vec![Some(1.5), None, Some(-2.25)])),
            Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])),
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            Arc::new(Date32Array::from(vec![Some(19724), None, Some(0)])),
        ],
    )
    .unwrap();
    let path = l.file("rows.arrow", &ipc_stream(&[rows]));
    let summary = l.load("lake.public.items", &path, LoadFormat::Arrow, true, false).await.unwrap();
    assert_eq!((summary.rows_loaded, summary.created), (3, true));
    assert_eq!(
        (summary.database.as_str(), summary.schema.as_str(), summary.table.as_str()),
        ("LAKE", "PUBLIC", "ITEMS")
    );
    assert_eq!(
        l.run(r#"SELECT id, "price", name, ok, day FROM items ORDER BY id NULLS LAST"#).await,
        vec![
            vec![text("1"), text("1.5"), text("a"), text("1"), text("19724")],
            vec![text("2"), None, text("b"), text("0"), None],
            vec![None, text("-2.25"), None, None, text("0")],
        ]
    );
    // Table, rows, one commit.
    assert_eq!(l.commits("ITEMS"), 1);
}

/// Without `create`, a missing table is 002003 and nothing is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_into_a_missing_table_without_create_fails() {
    let l = Loader::new().await;
    let path = l.file("rows.arrow", &ipc_stream(&[batch(&[1], &[Some("x")])]));
    let error = l.load("nope", &path, LoadFormat::Arrow, false, false).await.unwrap_err();
    assert!(matches!(error, WarehouseError::ObjectNotFound(ref t) if t == "LAKE.PUBLIC.NOPE"), "{error:?}");
    assert_eq!(error.code(), "002003");
    assert!(l.try_run("SELECT * FROM nope").await.is_err());
}

/// CSV with a header: types inferred, appended in one commit each, then
/// replaced by an overwrite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_csv_appends_and_overwrites() {
    let l = Loader::new().await;
    l.run("CREATE TABLE people (id INT NOT NULL, name VARCHAR, score FLOAT, joined DATE)").await;
    let first = l.file("first.csv", b"id,name,score,joined\n1,ann,1.5,2024-01-02\n2,bob,,2024-02-03\n");
    let summary = l.load("people", &first, LoadFormat::Csv, false, false).await.unwrap();
    assert_eq!((summary.rows_loaded, summary.created), (2, false));
    // Another file, columns in another order and another case, one missing.
    let second = l.file("second.csv", b"NAME,Id\ncid,3\n");
    assert_eq!(l.load("people", &second, LoadFormat::Csv, false, false).await.unwrap().rows_loaded, 1);
    assert_eq!(
        l.run("SELECT id, name, score, joined FROM people ORDER BY id").await,
        vec![
            vec![text("1"), text("ann"), text("1.5"), text("19724")],
            vec![text("2"), text("bob"), None, text("19756")],
            vec![text("3"), text("cid"), None, None],
        ]
    );
    let commits = l.commits("PEOPLE");
    let third = l.file("third.csv", b"id,name\n7,dee\n8,eve\n");
    let summary = l.load("people", &third, LoadFormat::Csv, false, true).await.unwrap();
    assert_eq!(summary.rows_loaded, 2);
    assert_eq!(
        l.run("SELECT id, name FROM people ORDER BY id").await,
        vec![vec![text("7"), text("dee")], vec![text("8"), text("eve")]]
    );
    assert_eq!(l.commits("PEOPLE"), commits + 1, "an overwrite is one commit");
}

/// Parquet, appended to a table an earlier load created; the table name
/// follows the session's current database and schema and identifier case,
/// and a created table's columns are named as the file names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_parquet_into_the_current_schema() {
    let l = Loader::new().await;
    let path = l.dir.path().join("rows.parquet");
    parquet_file(&path, &[batch(&[1, 2], &[Some("a"), None]), batch(&[3], &[Some("c")])]);
    let summary = l.load(r#""Mixed""#, &path, LoadFormat::Parquet, true, false).await.unwrap();
    assert_eq!((summary.table.as_str(), summary.rows_loaded), ("Mixed", 3));
    assert_eq!(
        l.load(r#"lake.public."Mixed""#, &path, LoadFormat::Parquet, false, false).await.unwrap().rows_loaded,
        3
    );
    assert_eq!(l.run(r#"SELECT COUNT(*), COUNT("name") FROM "Mixed""#).await, vec![vec![text("6"), text("4")]]);
    assert!(l.try_run("SELECT * FROM mixed").await.is_err(), "an unquoted name is another table");
}

/// Columns are matched by name: an extra column of the file is an error
/// naming it, a missing NOT NULL column too; values that do not fit the
/// column's type fail the load; none of them changes the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_bad_files_leave_the_table_untouched() {
    let l = Loader::new().await;
    l.run("CREATE TABLE t (id INT NOT NULL, name VARCHAR)").await;
    l.run("INSERT INTO t VALUES (1, 'kept')").await;
    let commits = l.commits("T");
    let extra = l.file("extra.csv", b"id,name,colour,size\n2,x,red,3\n");
    let error = l.load("t", &extra, LoadFormat::Csv, false, false).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("'colour'") && message.contains("'size'"), "{message}");
    let missing = l.file("missing.csv", b"name\nx\n");
    let message = l.load("t", &missing, LoadFormat::Csv, false, true).await.unwrap_err().to_string();
    assert!(message.contains("'ID'") && message.contains("NOT NULL"), "{message}");
    // The first rows are numbers (the column is inferred as one), a later one is not.
    let mut bad = b"id,name\n".to_vec();
    for i in 0..5000 {
        bad.extend(format!("{i},n{i}\n").as_bytes());
    }
    bad.extend(b"oops,z\n");
    let bad = l.file("bad.csv", &bad);
    assert!(l.load("t", &bad, LoadFormat::Csv, false, true).await.is_err());
    let not_parquet = l.file("not.parquet", b"this is not a parquet file");
    let error = l.load("t", &not_parquet, LoadFormat::Parquet, false, false).await.unwrap_err();
    assert!(matches!(error, WarehouseError::InvalidFile(_)), "{error:?}");
    let empty = l.file("empty.csv", b"");
    assert!(matches!(l.load("t", &empty, LoadFormat::Csv, false, false).await, Err(WarehouseError::InvalidFile(_))));
    // A failed create leaves no table.
    assert!(l.load("fresh", &bad, LoadFormat::Csv, true, false).await.is_err());
    assert!(l.try_run("SELECT * FROM fresh").await.is_err(), "a failed create left a table");
    assert_eq!(l.run("SELECT id, name FROM t").await, vec![vec![text("1"), text("kept")]]);
    assert_eq!(l.commits("T"), commits, "a failed load committed");
}

/// A reader's session loads nothing; subscription data is read-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_is_refused_to_readers_and_on_subscription_data() {
    let l = Loader::new().await;
    l.run("CREATE TABLE t (id INT, name VARCHAR)").await;
    let path = l.file("rows.arrow", &ipc_stream(&[batch(&[1], &[Some("x")])]));
    l.engine.set_access(ACCOUNT, l.session, Access::ReadOnly).unwrap();
    for create in [false, true] {
        let table = if create { "new_one" } else { "t" };
        let error = l.load(table, &path, LoadFormat::Arrow, create, false).await.unwrap_err();
        assert!(matches!(error, WarehouseError::InsufficientPrivileges(_)), "{error:?}");
        assert_eq!((error.code(), error.sql_state()), ("003001", "42501"));
    }
    l.engine.set_access(ACCOUNT, l.session, Access::ReadWrite).unwrap();
    assert_eq!(l.run("SELECT COUNT(*) FROM t").await, vec![vec![text("0")]]);

    let f = fixture().await;
    let s = f.session(A).await;
    let error = f
        .engine
        .load_file(A, s, "claims", &path, LoadFormat::Arrow, LoadOptions::default(), CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(error, WarehouseError::InsufficientPrivileges(ref m) if m.contains("read-only")), "{error:?}");
}

/// An open transaction is committed before the load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_commits_an_open_transaction_first() {
    let l = Loader::new().await;
    l.run("CREATE TABLE t (id INT, name VARCHAR)").await;
    l.run("BEGIN").await;
    l.run("INSERT INTO t VALUES (1, 'in the transaction')").await;
    let path = l.file("rows.arrow", &ipc_stream(&[batch(&[2], &[Some("loaded")])]));
    l.load("t", &path, LoadFormat::Arrow, false, false).await.unwrap();
    l.run("ROLLBACK").await;
    assert_eq!(l.run("SELECT COUNT(*) FROM t").await, vec![vec![text("2")]]);
}

/// A file far larger than the session's memory limit streams through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_a_file_larger_than_the_session_memory_limit() {
    let limit = 4 << 20;
    let l = Loader::with_config(EngineConfig { session_memory_limit: limit, ..config() }).await;
    let path = l.dir.path().join("big.csv");
    {
        use std::io::Write as _;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(out, "id,name,amount").unwrap();
        for i in 0..400_000 {
            writeln!(out, "{i},name number {i} with some padding to make it long,{}.25", i % 1000).unwrap();
        }
    }
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 5 * limit as u64, "the file is {size} bytes");
    let summary = l.load("big", &path, LoadFormat::Csv, true, false).await.unwrap();
    assert_eq!(summary.rows_loaded, 400_000);
    assert_eq!(l.run(r#"SELECT COUNT(*), SUM("id") FROM big"#).await, vec![vec![text("400000"), text("79999800000")]]);
}

/// An Arrow stream, read far faster than it is written, streams through a
/// small memory limit too (no buffer between the reader and the writer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_a_fast_arrow_stream_larger_than_the_session_memory_limit() {
    let limit = 4 << 20;
    let l = Loader::with_config(EngineConfig { session_memory_limit: limit, ..config() }).await;
    let path = l.dir.path().join("big.arrow");
    let rows = 65_536;
    let names: Vec<String> = (0..rows).map(|i| format!("a name long enough to take some room, number {i}")).collect();
    let batches: Vec<RecordBatch> = (0..8)
        .map(|b| {
            let ids: Vec<i64> = (0..rows as i64).map(|i| b * rows as i64 + i).collect();
            batch(&ids, &names.iter().map(|n| Some(n.as_str())).collect::<Vec<_>>())
        })
        .collect();
    std::fs::write(&path, ipc_stream(&batches)).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 5 * limit as u64, "the file is {size} bytes");
    let summary = l.load("big", &path, LoadFormat::Arrow, true, false).await.unwrap();
    assert_eq!(summary.rows_loaded, 8 * rows as u64);
    assert_eq!(l.run(r#"SELECT COUNT(*), SUM("id") FROM big"#).await, vec![vec![text("524288"), text("137438691328")]]);
}

/// A load past the statement time limit stops and commits nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_stops_at_cancellation() {
    let l = Loader::with_config(EngineConfig { statement_timeout: Duration::from_secs(20), ..config() }).await;
    let path = l.file("rows.arrow", &ipc_stream(&[batch(&[1], &[Some("x")])]));
    let cancel = CancellationToken::new();
    cancel.cancel();
    let error = l
        .engine
        .load_file(
            ACCOUNT,
            l.session,
            "t",
            &path,
            LoadFormat::Arrow,
            LoadOptions { create: true, overwrite: false },
            cancel,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, WarehouseError::Cancelled), "{error:?}");
    assert!(l.try_run("SELECT * FROM t").await.is_err());
}
