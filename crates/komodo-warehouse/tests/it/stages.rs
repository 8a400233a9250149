//! Stages through the engine's API as the gateway uses it (`PUT` and
//! `GET`): files put into `@~`, `@%t` and named stages, listed with
//! Snowflake's columns, loaded by `COPY`, unloaded and read back; a
//! stage's paths never leave its directory; another user's `@~` is
//! another directory; a loaded file loads once, on any replica.

use std::sync::Arc;

use komodo_warehouse::{Access, CancellationToken, Engine, SessionId, WarehouseError, encode};

use crate::support::config;

const ACCOUNT: &str = "acct-stages";

async fn run(engine: &Engine, s: SessionId, sql: &str) -> Result<Vec<Vec<Option<String>>>, WarehouseError> {
    let result = engine.execute(ACCOUNT, s, sql, vec![], CancellationToken::new()).await?;
    Ok(encode::json_rowset(&result.batches).unwrap())
}

async fn names(engine: &Engine, s: SessionId, sql: &str) -> Vec<String> {
    let result = engine.execute(ACCOUNT, s, sql, vec![], CancellationToken::new()).await.unwrap();
    result.schema.fields().iter().map(|f| f.name().clone()).collect()
}

fn cell(rows: &[Vec<Option<String>>], row: usize, column: usize) -> String {
    rows[row][column].clone().unwrap_or_else(|| "NULL".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_list_copy_unload_and_get() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(Engine::new(dir.path().join("warehouse"), config()).unwrap());
    let s = engine.open_session(ACCOUNT, None, None).await.unwrap();
    engine.set_user(ACCOUNT, s, "user:ann").unwrap();
    for sql in ["CREATE DATABASE shop", "CREATE TABLE items (id INT, name VARCHAR)", "CREATE STAGE landing"] {
        run(&engine, s, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let upload = dir.path().join("upload.csv");
    let contents = b"1,pen\n2,ink\n";
    std::fs::write(&upload, contents).unwrap();
    // PUT into a named stage under a path: the file moves in.
    let stored = engine.put_stage_file(ACCOUNT, s, "@landing/2024/jan", "Items.csv", &upload, false).unwrap();
    assert_eq!(stored, Some(contents.len() as u64));
    assert!(!upload.exists());
    // A second PUT of that name without OVERWRITE keeps the first.
    std::fs::write(&upload, b"9,zzz\n").unwrap();
    assert_eq!(engine.put_stage_file(ACCOUNT, s, "@landing/2024/jan", "Items.csv", &upload, false).unwrap(), None);
    // Names that would leave the stage are refused.
    for bad in ["../x.csv", ".hidden", "a/b.csv", ""] {
        assert!(engine.put_stage_file(ACCOUNT, s, "@landing", bad, &upload, true).is_err(), "{bad}");
    }
    assert!(engine.put_stage_file(ACCOUNT, s, "@landing/../../etc", "x.csv", &upload, true).is_err());

    assert_eq!(names(&engine, s, "LIST @landing").await, ["name", "size", "md5", "last_modified"]);
    let listed = run(&engine, s, "LIST @landing").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(cell(&listed, 0, 0), "landing/2024/jan/Items.csv");
    assert_eq!(cell(&listed, 0, 1), contents.len().to_string());
    // The MD5 of the file's bytes, and an HTTP date (`Thu, 3 Dec 2026 18:00:00 GMT`).
    assert_eq!(cell(&listed, 0, 2), md5_hex(contents));
    let modified = cell(&listed, 0, 3);
    assert!(modified.ends_with(" GMT") && modified.contains(", "), "{modified}");

    let loaded = run(&engine, s, "COPY INTO shop.public.items FROM @landing PATTERN = '.*[.]csv'").await.unwrap();
    assert_eq!(cell(&loaded, 0, 1), "LOADED");
    assert_eq!(run(&engine, s, "SELECT name FROM shop.public.items ORDER BY id").await.unwrap().len(), 2);

    // Unloading answers rows_unloaded, input_bytes and output_bytes.
    let sql =
        "COPY INTO @~/out/ FROM (SELECT id, name FROM shop.public.items) FILE_FORMAT = (TYPE = CSV) HEADER = TRUE";
    assert_eq!(names(&engine, s, sql).await, ["rows_unloaded", "input_bytes", "output_bytes"]);
    let files = engine.stage_files(ACCOUNT, s, "@~/out", None).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].file_name, "data_0_0_0.csv.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&files[0].path).unwrap()),
        &mut text,
    )
    .unwrap();
    assert_eq!(text, "ID,NAME\n1,pen\n2,ink\n");

    // Another user's @~ is another directory; a table's stage is its own.
    let other = engine.open_session(ACCOUNT, Some("SHOP"), Some("PUBLIC")).await.unwrap();
    engine.set_user(ACCOUNT, other, "user:bob").unwrap();
    assert!(engine.stage_files(ACCOUNT, other, "@~", None).unwrap().is_empty());
    std::fs::write(&upload, b"3,cap\n").unwrap();
    engine.put_stage_file(ACCOUNT, other, "@%items", "more.csv", &upload, false).unwrap();
    let loaded = run(&engine, other, "COPY INTO items FROM @%items").await.unwrap();
    assert_eq!((cell(&loaded, 0, 0), cell(&loaded, 0, 3)), ("more.csv".to_owned(), "1".to_owned()));

    // A reader may use its own @~ only.
    engine.set_access(ACCOUNT, other, Access::ReadOnly).unwrap();
    std::fs::write(&upload, b"4,pad\n").unwrap();
    assert!(engine.put_stage_file(ACCOUNT, other, "@~", "mine.csv", &upload, false).unwrap().is_some());
    std::fs::write(&upload, b"4,pad\n").unwrap();
    let refused = engine.put_stage_file(ACCOUNT, other, "@landing", "x.csv", &upload, false);
    assert!(matches!(refused, Err(WarehouseError::InsufficientPrivileges(_))), "{refused:?}");
    assert!(matches!(
        run(&engine, other, "COPY INTO items FROM @%items FORCE = TRUE").await,
        Err(WarehouseError::InsufficientPrivileges(_))
    ));
}

/// Two replicas sharing the directory: a file one loaded, the other skips.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_loads_once_whichever_replica_copies_it() {
    let dir = tempfile::tempdir().unwrap();
    let a = Engine::new(dir.path(), config()).unwrap();
    let b = Engine::new(dir.path(), config()).unwrap();
    let sa = a.open_session(ACCOUNT, None, None).await.unwrap();
    for sql in ["CREATE DATABASE d", "CREATE TABLE t (n INT)", "CREATE STAGE st"] {
        run(&a, sa, sql).await.unwrap();
    }
    let file = dir.path().join("n.csv");
    std::fs::write(&file, b"1\n2\n3\n").unwrap();
    a.put_stage_file(ACCOUNT, sa, "@st", "n.csv", &file, false).unwrap();
    let sb = b.open_session(ACCOUNT, Some("D"), Some("PUBLIC")).await.unwrap();
    assert_eq!(cell(&run(&a, sa, "COPY INTO t FROM @st").await.unwrap(), 0, 3), "3");
    let again = run(&b, sb, "COPY INTO t FROM @st").await.unwrap();
    assert_eq!(cell(&again, 0, 0), "Copy executed with 0 files processed.");
    assert_eq!(cell(&run(&b, sb, "SELECT COUNT(*) FROM t").await.unwrap(), 0, 0), "3");
}

/// `STRIP_OUTER_ARRAY = TRUE`: a JSON file of one array loads its
/// elements as rows; anything else says what it reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_arrays_load_with_strip_outer_array() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(dir.path().join("warehouse"), config()).unwrap();
    let s = engine.open_session(ACCOUNT, None, None).await.unwrap();
    for sql in ["CREATE DATABASE j", "CREATE TABLE people (id INT, name VARCHAR, tags VARIANT)", "CREATE STAGE st"] {
        run(&engine, s, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let file = dir.path().join("people.json");
    std::fs::write(&file, br#"[{"ID": 1, "NAME": "ann", "TAGS": ["a"]}, {"ID": 2, "NAME": null}]"#).unwrap();
    engine.put_stage_file(ACCOUNT, s, "@st", "people.json", &file, false).unwrap();
    let loaded = run(&engine, s, "COPY INTO people FROM @st FILE_FORMAT = (TYPE = JSON STRIP_OUTER_ARRAY = TRUE)")
        .await
        .unwrap();
    assert_eq!((cell(&loaded, 0, 1), cell(&loaded, 0, 3)), ("LOADED".into(), "2".into()));
    let rows = run(&engine, s, "SELECT id, name FROM people ORDER BY id").await.unwrap();
    assert_eq!(rows, vec![vec![Some("1".into()), Some("ann".into())], vec![Some("2".into()), None]]);
    // Without the option the same file is one value per line, which it is not.
    let without = run(&engine, s, "COPY INTO people FROM @st FILE_FORMAT = (TYPE = JSON) FORCE = TRUE").await;
    assert!(without.is_err(), "{without:?}");
    std::fs::write(&file, br#"{"ID": 3}"#).unwrap();
    engine.put_stage_file(ACCOUNT, s, "@st", "one.json", &file, false).unwrap();
    let err = run(
        &engine,
        s,
        "COPY INTO people FROM @st FILES = ('one.json') FILE_FORMAT = (TYPE = JSON STRIP_OUTER_ARRAY = TRUE)",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not a JSON array"), "{err}");
}

/// Temporary stages and file formats end with their session (what
/// write_pandas leaves behind is gone once its connection closes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_stages_and_file_formats_end_with_their_session() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(dir.path().join("warehouse"), config()).unwrap();
    let s = engine.open_session(ACCOUNT, None, None).await.unwrap();
    for sql in [
        "CREATE DATABASE tmp",
        "CREATE TEMPORARY STAGE scratch",
        "CREATE TEMP FILE FORMAT pq TYPE = PARQUET",
        "CREATE STAGE kept",
        "COPY INTO @scratch/x FROM (SELECT 1 AS n) FILE_FORMAT = (FORMAT_NAME = 'pq')",
    ] {
        run(&engine, s, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let other = engine.open_session(ACCOUNT, Some("TMP"), Some("PUBLIC")).await.unwrap();
    assert_eq!(run(&engine, other, "LIST @scratch").await.unwrap().len(), 1, "visible while its session lives");
    engine.close_session(ACCOUNT, s).unwrap();
    for sql in ["LIST @scratch", "COPY INTO @kept/y FROM (SELECT 1 AS n) FILE_FORMAT = (FORMAT_NAME = 'pq')"] {
        let err = run(&engine, other, sql).await.unwrap_err();
        assert!(matches!(err, WarehouseError::ObjectNotFound(_)), "{sql}: {err:?}");
    }
    assert!(run(&engine, other, "LIST @kept").await.unwrap().is_empty());
}

/// `SHOW STAGES` and `SHOW FILE FORMATS`: Snowflake's columns, scopes and
/// `LIKE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_stages_and_file_formats() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(dir.path().join("warehouse"), config()).unwrap();
    let s = engine.open_session(ACCOUNT, None, None).await.unwrap();
    for sql in [
        "CREATE DATABASE shown",
        "CREATE STAGE exports COMMENT = 'unloads'",
        "CREATE STAGE landing",
        "CREATE SCHEMA other",
        "CREATE STAGE other.elsewhere",
        "CREATE FILE FORMAT shown.public.pipes TYPE = CSV FIELD_DELIMITER = '|' NULL_IF = ('NA')",
        "CREATE FILE FORMAT shown.public.pq TYPE = PARQUET",
    ] {
        run(&engine, s, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let columns = names(&engine, s, "SHOW STAGES").await;
    assert_eq!(&columns[..5], ["created_on", "name", "database_name", "schema_name", "url"]);
    assert_eq!(columns[10], "type");
    let shown = run(&engine, s, "SHOW STAGES IN SCHEMA shown.public").await.unwrap();
    let rows: Vec<_> =
        (0..shown.len()).map(|i| (cell(&shown, i, 1), cell(&shown, i, 8), cell(&shown, i, 10))).collect();
    assert_eq!(
        rows,
        [("EXPORTS".into(), "unloads".into(), "INTERNAL".into()), ("LANDING".into(), "".into(), "INTERNAL".into())]
    );
    assert_eq!(run(&engine, s, "SHOW STAGES IN DATABASE shown").await.unwrap().len(), 3);
    let like = run(&engine, s, "SHOW STAGES LIKE 'exp%' IN DATABASE shown").await.unwrap();
    assert_eq!((like.len(), cell(&like, 0, 1)), (1, "EXPORTS".into()));

    assert_eq!(
        names(&engine, s, "SHOW FILE FORMATS").await,
        [
            "created_on",
            "name",
            "database_name",
            "schema_name",
            "type",
            "owner",
            "comment",
            "format_options",
            "owner_role_type"
        ]
    );
    let formats = run(&engine, s, "SHOW FILE FORMATS IN SCHEMA shown.public").await.unwrap();
    let shown: Vec<_> =
        (0..formats.len()).map(|i| (cell(&formats, i, 1), cell(&formats, i, 4), cell(&formats, i, 7))).collect();
    assert_eq!(
        shown,
        [
            ("PIPES".into(), "CSV".into(), r#"{"FIELD_DELIMITER":"|","NULL_IF":["NA"],"TYPE":"CSV"}"#.into()),
            ("PQ".into(), "PARQUET".into(), r#"{"TYPE":"PARQUET"}"#.into()),
        ]
    );
}

/// The rows a COPY holds until its commit count against the session's
/// memory limit: past it the COPY fails and the table is as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_is_bounded_by_the_sessions_memory() {
    let dir = tempfile::tempdir().unwrap();
    let config = komodo_warehouse::EngineConfig { session_memory_limit: 4 << 20, ..config() };
    let engine = Engine::new(dir.path().join("warehouse"), config).unwrap();
    let s = engine.open_session(ACCOUNT, None, None).await.unwrap();
    for sql in ["CREATE DATABASE big", "CREATE TABLE t (n INT, s VARCHAR)", "CREATE STAGE st"] {
        run(&engine, s, sql).await.unwrap();
    }
    let line = format!(",{}\n", "x".repeat(200));
    for i in 0..3 {
        let file = dir.path().join(format!("part{i}.csv"));
        let text: String = (0..10_000).map(|n| format!("{n}{line}")).collect();
        std::fs::write(&file, text).unwrap();
        engine.put_stage_file(ACCOUNT, s, "@st", &format!("part{i}.csv"), &file, false).unwrap();
    }
    let err = run(&engine, s, "COPY INTO t FROM @st").await.unwrap_err();
    assert!(matches!(err, WarehouseError::MemoryLimit(_)), "{err:?}");
    assert_eq!(cell(&run(&engine, s, "SELECT COUNT(*) FROM t").await.unwrap(), 0, 0), "0");
    // One file fits.
    let one = run(&engine, s, "COPY INTO t FROM @st FILES = ('part0.csv')").await.unwrap();
    assert_eq!(cell(&one, 0, 3), "10000");
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    md5::Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
