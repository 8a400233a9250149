//! `PUT` and `GET` run by the SDK: a cursor given either statement moves
//! the files itself over the gateway's stage endpoints (`POST
//! /komodo/v1/stage/put`, `GET /komodo/v1/stage/files`, `GET
//! /komodo/v1/stage/file`), streamed from and to disk, and answers the
//! rows Snowflake's connectors answer (`source`, `target`, ..., `status`
//! for a `PUT`; `file`, `size`, `status`, `message` for a `GET`).
//!
//! As Snowflake's connectors do, a `PUT` gzips a file that is not
//! compressed already (unless `AUTO_COMPRESS = FALSE`) and names it
//! `<file>.gz` in the stage; its local name may hold `*` and `?`.

use std::io::{BufReader, BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use komodo_protocol::gateway::{QueryResponseData, RowType};
use komodo_protocol::transfer::{GET_COLUMNS, Get, PUT_COLUMNS, Put, Transfer};
use reqwest::Method;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::error::{GatewayError, InterfaceError};
use super::http::{Answer, protocol_error};
use super::session::Session;
use crate::Error;

/// How much of a file is read and sent at a time.
const PIECE: usize = 256 * 1024;

/// Files moved at once when the statement does not say (`PARALLEL`).
const MAX_PARALLEL: usize = 8;

/// The stage endpoints.
const PUT_PATH: &str = "komodo/v1/stage/put";
const FILES_PATH: &str = "komodo/v1/stage/files";
const FILE_PATH: &str = "komodo/v1/stage/file";

/// What a `PUT` or `GET` is doing, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferEvent<'a> {
    /// A file is being compressed before it is sent.
    Compressing {
        /// The file's name.
        file: &'a str,
    },
    /// The files are about to move: how many, and their bytes in all.
    Started {
        /// The number of files.
        files: usize,
        /// The bytes to send or receive.
        bytes: u64,
    },
    /// More bytes of a file moved.
    Moved {
        /// The file's name.
        file: &'a str,
        /// The bytes moved since the last event for this file.
        bytes: u64,
    },
}

/// Called as a `PUT` or `GET` moves files (see
/// [`Cursor::set_transfer_progress`](super::Cursor::set_transfer_progress)).
pub type TransferProgress = Arc<dyn Fn(TransferEvent<'_>) + Send + Sync>;

/// Called with the bytes of a file sent so far.
pub(crate) type BytesProgress = Arc<dyn Fn(u64) + Send + Sync>;

/// Runs a `PUT` or `GET` and answers its rows as a statement's result.
pub(crate) async fn run(
    session: &Arc<Session>,
    transfer: Transfer,
    progress: Option<TransferProgress>,
) -> Result<QueryResponseData, Error> {
    match transfer {
        Transfer::Put(put) => put_files(session, &put, progress).await,
        Transfer::Get(get) => get_files(session, &get, progress).await,
    }
}

/// How a file is compressed, as Snowflake names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Bzip2,
    Brotli,
    Zstd,
    Deflate,
    RawDeflate,
    Parquet,
    Orc,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::None => "NONE",
            Compression::Gzip => "GZIP",
            Compression::Bzip2 => "BZ2",
            Compression::Brotli => "BROTLI",
            Compression::Zstd => "ZSTD",
            Compression::Deflate => "DEFLATE",
            Compression::RawDeflate => "RAW_DEFLATE",
            Compression::Parquet => "PARQUET",
            Compression::Orc => "ORC",
        }
    }

    /// `SOURCE_COMPRESSION` as written (`AUTO_DETECT`: `None`).
    fn named(name: &str) -> Result<Option<Self>, InterfaceError> {
        Ok(Some(match name.to_ascii_uppercase().as_str() {
            "AUTO_DETECT" | "AUTO" => return Ok(None),
            "NONE" => Compression::None,
            "GZIP" => Compression::Gzip,
            "BZ2" => Compression::Bzip2,
            "BROTLI" => Compression::Brotli,
            "ZSTD" => Compression::Zstd,
            "DEFLATE" => Compression::Deflate,
            "RAW_DEFLATE" => Compression::RawDeflate,
            other => {
                return Err(InterfaceError::Transfer(format!(
                    "SOURCE_COMPRESSION = {other} is not one of AUTO_DETECT, NONE, GZIP, BZ2, BROTLI, ZSTD, \
                     DEFLATE, RAW_DEFLATE"
                )));
            }
        }))
    }

    /// The compression a file's first bytes (then its extension) show.
    fn detect(path: &Path) -> std::io::Result<Self> {
        let mut head = [0u8; 4];
        let mut file = std::fs::File::open(path)?;
        let mut read = 0;
        while read < head.len() {
            match file.read(&mut head[read..])? {
                0 => break,
                n => read += n,
            }
        }
        let head = &head[..read];
        Ok(if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"PAR1") {
            Compression::Parquet
        } else if head.starts_with(b"ORC") {
            Compression::Orc
        } else {
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            match extension.as_str() {
                "br" => Compression::Brotli,
                "deflate" => Compression::Deflate,
                "raw_deflate" => Compression::RawDeflate,
                _ => Compression::None,
            }
        })
    }
}

/// One file a `PUT` sends.
struct Upload {
    source: String,
    source_size: u64,
    source_compression: Compression,
    /// What is sent: the file itself, or its gzipped copy.
    sent: PathBuf,
    target: String,
    target_size: u64,
    target_compression: Compression,
    /// Holds the gzipped copy until it is sent.
    _compressed: Option<tempfile::TempPath>,
}

async fn put_files(
    session: &Arc<Session>,
    put: &Put,
    progress: Option<TransferProgress>,
) -> Result<QueryResponseData, Error> {
    let sources = expand(&put.local)?;
    let declared = Compression::named(&put.source_compression)?;
    let mut uploads = Vec::with_capacity(sources.len());
    for source in sources {
        let name = file_name(&source);
        let source_size = std::fs::metadata(&source).map_err(|e| file_error(&source, &e))?.len();
        let source_compression = match declared {
            Some(given) => given,
            None => Compression::detect(&source).map_err(|e| file_error(&source, &e))?,
        };
        let upload = if source_compression == Compression::None && put.auto_compress {
            if let Some(progress) = &progress {
                progress(TransferEvent::Compressing { file: &name });
            }
            let from = source.clone();
            let compressed = tokio::task::spawn_blocking(move || gzip(&from))
                .await
                .map_err(|e| InterfaceError::Transfer(format!("compressing {name}: {e}")))?
                .map_err(|e| file_error(&source, &e))?;
            let target_size = std::fs::metadata(&compressed).map_err(|e| file_error(&compressed, &e))?.len();
            Upload {
                source: name.clone(),
                source_size,
                source_compression,
                sent: compressed.to_path_buf(),
                target: format!("{name}.gz"),
                target_size,
                target_compression: Compression::Gzip,
                _compressed: Some(compressed),
            }
        } else {
            Upload {
                source: name.clone(),
                source_size,
                source_compression,
                sent: source.clone(),
                target: name,
                target_size: source_size,
                target_compression: source_compression,
                _compressed: None,
            }
        };
        uploads.push(upload);
    }
    if let Some(progress) = &progress {
        progress(TransferEvent::Started { files: uploads.len(), bytes: uploads.iter().map(|u| u.target_size).sum() });
    }
    let parallel = usize::try_from(put.parallel).unwrap_or(1).clamp(1, MAX_PARALLEL);
    // Collected first: a stream over a borrowing closure would not be `Send`.
    let sends: Vec<_> = uploads
        .iter()
        .map(|upload| {
            let bytes = progress.clone().map(|progress| -> BytesProgress {
                let (target, sent_so_far) = (upload.target.clone(), std::sync::atomic::AtomicU64::new(0));
                Arc::new(move |total| {
                    let before = sent_so_far.swap(total, std::sync::atomic::Ordering::Relaxed);
                    progress(TransferEvent::Moved { file: &target, bytes: total.saturating_sub(before) });
                })
            });
            send_file(session, put, upload, bytes)
        })
        .collect();
    let statuses: Vec<String> = futures::stream::iter(sends).buffered(parallel).try_collect().await?;
    let rows = uploads
        .iter()
        .zip(statuses)
        .map(|(u, status)| {
            vec![
                Some(u.source.clone()),
                Some(u.target.clone()),
                Some(u.source_size.to_string()),
                Some(u.target_size.to_string()),
                Some(u.source_compression.name().to_owned()),
                Some(u.target_compression.name().to_owned()),
                Some(status),
                Some(String::new()),
            ]
        })
        .collect();
    let numeric = ["source_size", "target_size"];
    Ok(answer(&PUT_COLUMNS, &numeric, rows))
}

/// Sends one file into the stage; answers `UPLOADED` or `SKIPPED`.
async fn send_file(
    session: &Arc<Session>,
    put: &Put,
    upload: &Upload,
    progress: Option<BytesProgress>,
) -> Result<String, Error> {
    #[derive(serde::Deserialize)]
    struct Stored {
        status: String,
    }
    let mut url = session.endpoint(PUT_PATH);
    url.query_pairs_mut()
        .append_pair("stage", &put.stage)
        .append_pair("name", &upload.target)
        .append_pair("overwrite", if put.overwrite { "true" } else { "false" });
    let path = upload.sent.clone();
    let body = move || {
        let file = std::fs::File::open(&path).map_err(|e| file_error(&path, &e))?;
        Ok(reqwest::Body::wrap_stream(file_stream(tokio::fs::File::from_std(file), path.clone(), progress.clone())))
    };
    let envelope = session.upload(url, "application/octet-stream", &body).await?;
    if !envelope.success {
        return Err(session.envelope_error(&envelope, "the gateway refused the file").into());
    }
    let stored: Stored = session.success_data(envelope, "POST /komodo/v1/stage/put")?;
    Ok(stored.status)
}

/// A staged file a `GET` fetches, as the gateway lists it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Staged {
    /// Its path in the stage.
    path: String,
    /// Its name, the last part of the path.
    file_name: String,
    size: u64,
}

async fn get_files(
    session: &Arc<Session>,
    get: &Get,
    progress: Option<TransferProgress>,
) -> Result<QueryResponseData, Error> {
    #[derive(serde::Deserialize)]
    struct Listing {
        files: Vec<Staged>,
    }
    let mut url = session.endpoint(FILES_PATH);
    url.query_pairs_mut().append_pair("stage", &get.stage);
    if let Some(pattern) = &get.pattern {
        url.query_pairs_mut().append_pair("pattern", pattern);
    }
    let envelope = session.call_url(Method::GET, url, None).await?;
    if !envelope.success {
        return Err(session.envelope_error(&envelope, "the gateway refused to list the stage").into());
    }
    let listing: Listing = session.success_data(envelope, "GET /komodo/v1/stage/files")?;
    let directory = local_path(&get.local);
    tokio::fs::create_dir_all(&directory).await.map_err(|e| write_error(&directory, &e))?;
    for staged in &listing.files {
        if !is_plain_name(&staged.file_name) {
            return Err(GatewayError::Protocol {
                endpoint: "GET /komodo/v1/stage/files".into(),
                reason: format!("a staged file's name is not a plain file name: {:?}", staged.file_name),
            }
            .into());
        }
    }
    if let Some(progress) = &progress {
        progress(TransferEvent::Started {
            files: listing.files.len(),
            bytes: listing.files.iter().map(|f| f.size).sum(),
        });
    }
    let parallel = usize::try_from(get.parallel).unwrap_or(1).clamp(1, MAX_PARALLEL);
    let fetches: Vec<_> = listing
        .files
        .iter()
        .map(|staged| fetch_file(session, &get.stage, staged, &directory, progress.clone()))
        .collect();
    let sizes: Vec<u64> = futures::stream::iter(fetches).buffered(parallel).try_collect().await?;
    let rows = listing
        .files
        .iter()
        .zip(sizes)
        .map(|(f, size)| {
            vec![Some(f.file_name.clone()), Some(size.to_string()), Some("DOWNLOADED".to_owned()), Some(String::new())]
        })
        .collect();
    Ok(answer(&GET_COLUMNS, &["size"], rows))
}

/// Fetches one staged file into `directory` (written aside, then renamed
/// into place, so a failed download leaves no partial file).
async fn fetch_file(
    session: &Arc<Session>,
    stage: &str,
    staged: &Staged,
    directory: &Path,
    progress: Option<TransferProgress>,
) -> Result<u64, Error> {
    let mut url = session.endpoint(FILE_PATH);
    url.query_pairs_mut().append_pair("stage", stage).append_pair("file", &staged.path);
    let endpoint = "GET /komodo/v1/stage/file";
    let response = match session.call_answer(Method::GET, url, None).await? {
        Answer::File(response) => response,
        Answer::Envelope(envelope) if !envelope.success => {
            return Err(session.envelope_error(&envelope, "the gateway refused the file").into());
        }
        Answer::Envelope(_) | Answer::Stream(_) => {
            return Err(protocol_error(endpoint, "the answer is not a file's bytes").into());
        }
    };
    let target = directory.join(&staged.file_name);
    let aside = tempfile::Builder::new()
        .prefix(".komodo-get-")
        .tempfile_in(directory)
        .map_err(|e| write_error(directory, &e))?;
    let (file, aside) = aside.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut body = response.bytes_stream();
    let mut written = 0u64;
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| GatewayError::Unavailable {
            endpoint: endpoint.into(),
            reason: super::http::error_text(&e.without_url()),
        })?;
        file.write_all(&piece).await.map_err(|e| write_error(&target, &e))?;
        written += piece.len() as u64;
        if let Some(progress) = &progress {
            progress(TransferEvent::Moved { file: &staged.file_name, bytes: piece.len() as u64 });
        }
    }
    file.flush().await.map_err(|e| write_error(&target, &e))?;
    drop(file);
    aside.persist(&target).map_err(|e| write_error(&target, &e.error))?;
    Ok(written)
}

/// A result of text columns (the `numeric` ones `NUMBER`), rows as JSON.
fn answer(columns: &[&str], numeric: &[&str], rows: Vec<Vec<Option<String>>>) -> QueryResponseData {
    let rowtype = columns
        .iter()
        .map(|name| {
            let number = numeric.contains(name);
            RowType {
                name: (*name).to_owned(),
                database: String::new(),
                schema: String::new(),
                table: String::new(),
                type_name: if number { "fixed" } else { "text" }.to_owned(),
                nullable: false,
                length: (!number).then_some(16_777_216),
                precision: number.then_some(38),
                scale: number.then_some(0),
                byte_length: (!number).then_some(16_777_216),
                collation: None,
            }
        })
        .collect();
    let count = rows.len() as u64;
    QueryResponseData {
        rowtype: Some(rowtype),
        rowset: Some(rows),
        total: Some(count),
        returned: Some(count),
        query_result_format: Some("json".to_owned()),
        sql_state: Some("00000".to_owned()),
        ..QueryResponseData::default()
    }
}

/// `~/` at the start of a local path is the home directory, as in the
/// connectors.
fn local_path(given: &str) -> PathBuf {
    match (given.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) if !home.is_empty() => PathBuf::from(home).join(rest),
        _ => PathBuf::from(given),
    }
}

/// The files a `PUT` names: one path, or those a `*` or `?` in its last
/// part matches (sorted). None is an error naming the path.
fn expand(given: &str) -> Result<Vec<PathBuf>, InterfaceError> {
    let path = local_path(given);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.contains(['*', '?']) {
        return match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(vec![path]),
            Ok(_) => Err(InterfaceError::Transfer(format!("{} is not a file: PUT sends files", path.display()))),
            Err(e) => Err(InterfaceError::File { path: path.display().to_string(), reason: e.to_string() }),
        };
    }
    let directory = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let entries = std::fs::read_dir(directory)
        .map_err(|e| InterfaceError::File { path: directory.display().to_string(), reason: e.to_string() })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter(|entry| entry.file_name().to_str().is_some_and(|n| wildcard(name, n)))
        .map(|entry| entry.path())
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(InterfaceError::Transfer(format!("no file matches {}", path.display())));
    }
    Ok(found)
}

/// Whether `name` matches `pattern`, where `*` is any run of characters
/// and `?` any one.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (pattern, name): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// A name with no directory in it (what a download may write).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Gzips `source` into a temporary file, removed when the path is dropped.
fn gzip(source: &Path) -> std::io::Result<tempfile::TempPath> {
    let mut input = BufReader::with_capacity(PIECE, std::fs::File::open(source)?);
    let (file, path) = tempfile::Builder::new().prefix("komodo-put-").suffix(".gz").tempfile()?.into_parts();
    let mut encoder = flate2::write::GzEncoder::new(BufWriter::with_capacity(PIECE, file), flate2::Compression::fast());
    std::io::copy(&mut input, &mut encoder)?;
    encoder.finish()?.flush()?;
    Ok(path)
}

fn write_error(path: &Path, e: &std::io::Error) -> Error {
    InterfaceError::Transfer(format!("cannot write {}: {e}", path.display())).into()
}

pub(crate) fn file_error(path: &Path, e: &std::io::Error) -> Error {
    InterfaceError::File { path: path.display().to_string(), reason: e.to_string() }.into()
}

/// The file's bytes a piece at a time, `progress` told the total so far.
pub(crate) fn file_stream(
    file: tokio::fs::File,
    path: PathBuf,
    progress: Option<BytesProgress>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures::stream::try_unfold((file, 0u64), move |(mut file, sent)| {
        let (path, progress) = (path.clone(), progress.clone());
        async move {
            let mut piece = vec![0u8; PIECE];
            let n = file
                .read(&mut piece)
                .await
                .map_err(|e| std::io::Error::new(e.kind(), format!("reading {}: {e}", path.display())))?;
            if n == 0 {
                return Ok(None);
            }
            piece.truncate(n);
            let sent = sent + n as u64;
            if let Some(progress) = &progress {
                progress(sent);
            }
            Ok(Some((Bytes::from(piece), (file, sent))))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_names() {
        assert!(wildcard("*.csv", "a.csv"));
        assert!(wildcard("part-??.csv", "part-01.csv"));
        assert!(!wildcard("part-??.csv", "part-1.csv"));
        assert!(wildcard("*", ""));
        assert!(wildcard("a*b*c", "axxbyyc"));
        assert!(!wildcard("a*b*c", "axxbyy"));
        assert!(!wildcard("*.csv", "a.csv.gz"));
    }

    #[test]
    fn puts_expand_wildcards_in_order_and_name_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.csv", "a.csv", "c.txt"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let found = expand(&format!("{}/*.csv", dir.path().display())).unwrap();
        let names: Vec<String> = found.iter().map(|p| file_name(p)).collect();
        assert_eq!(names, ["a.csv", "b.csv"]);
        let none = expand(&format!("{}/*.parquet", dir.path().display())).unwrap_err();
        assert!(none.to_string().contains("no file matches"), "{none}");
        let missing = expand(&format!("{}/nope.csv", dir.path().display())).unwrap_err();
        assert!(missing.to_string().contains("nope.csv"), "{missing}");
        let directory = expand(&dir.path().display().to_string()).unwrap_err();
        assert!(directory.to_string().contains("not a file"), "{directory}");
    }

    #[test]
    fn compression_is_detected_from_the_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.csv");
        std::fs::write(&plain, "id\n1\n").unwrap();
        assert_eq!(Compression::detect(&plain).unwrap(), Compression::None);
        let zipped = gzip(&plain).unwrap();
        assert_eq!(Compression::detect(&zipped).unwrap(), Compression::Gzip);
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&zipped).unwrap()).read_to_string(&mut text).unwrap();
        assert_eq!(text, "id\n1\n");
        let parquet = dir.path().join("p.bin");
        std::fs::write(&parquet, b"PAR1....").unwrap();
        assert_eq!(Compression::detect(&parquet).unwrap(), Compression::Parquet);
        assert!(Compression::named("lzma").is_err());
        assert_eq!(Compression::named("auto_detect").unwrap(), None);
    }

    #[test]
    fn downloads_write_plain_names_only() {
        assert!(is_plain_name("data_0_0_0.csv.gz"));
        for bad in ["", ".", "..", "../x", "a/b", "a\\b"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn files_stream_in_pieces_with_progress() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let data: Vec<u8> = (0..(PIECE * 2 + 10)).map(|i| i as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let progress: BytesProgress = Arc::new(move |n| record.lock().unwrap().push(n));
        let file = tokio::fs::File::open(&path).await.unwrap();
        let pieces: Vec<Bytes> = file_stream(file, path, Some(progress)).map(Result::unwrap).collect().await;
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces.concat(), data);
        assert_eq!(*seen.lock().unwrap(), vec![PIECE as u64, 2 * PIECE as u64, data.len() as u64]);
    }
}
