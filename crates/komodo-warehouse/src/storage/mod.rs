//! Where an account's own databases live: its databases, schemas, tables
//! (Delta Lake tables, see [`delta`]), views and dropped tables, behind one
//! trait ([`Storage`]) so that an object store can take the local
//! directory's place.
//!
//! On a local directory ([`LocalStorage`]), under the account's warehouse
//! directory:
//!
//! ```text
//! _databases/<DATABASE>/<SCHEMA>/<TABLE>/_delta_log/...   a table
//! _databases/<DATABASE>/<SCHEMA>/<TABLE>/*.parquet
//! _databases/<DATABASE>/<SCHEMA>/_views/<VIEW>.json       a view
//! _databases/<DATABASE>/<SCHEMA>/_dropped/<TABLE>~<ms>/    a dropped table
//! _databases/<DATABASE>/<SCHEMA>/_sequences/<SEQ>.json     a sequence (see [`sequences`])
//! _databases/<DATABASE>/<SCHEMA>/_stages/<STAGE>.json       a named stage's definition
//! _databases/<DATABASE>/<SCHEMA>/_stages/<STAGE>/...        its files
//! _databases/<DATABASE>/<SCHEMA>/_table_stages/<TABLE>/...  a table's stage (`@%t`)
//! _databases/<DATABASE>/<SCHEMA>/_file_formats/<FMT>.json  a named file format
//! _databases/_user_stages/<USER>/...                       a user's stage (`@~`)
//! ```
//!
//! Names are Snowflake identifiers as stored (case kept); one that is not
//! a safe path segment is kept hex-encoded behind a `~`. Several replicas
//! may share the directory: every listing reads it anew, creating a table
//! is its Delta log's first commit (one creator wins), and writes are Delta
//! commits.

pub(crate) mod delta;
mod sequences;

pub(crate) use sequences::SequenceDefinition;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::WarehouseError;

/// Whether `name` may be used as one path segment of the warehouse
/// directory (account ids, database, schema and table directories).
pub(crate) fn is_safe_segment(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

/// A view's stored definition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ViewDefinition {
    /// The view's query, as written after `AS`.
    pub(crate) query: String,
    /// The whole `CREATE VIEW` statement (what `GET_DDL` returns).
    pub(crate) ddl: String,
    /// Milliseconds since the epoch when it was created.
    pub(crate) created_ms: i64,
}

/// A kind of object kept as a JSON definition in a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefinitionKind {
    /// A named stage (`CREATE STAGE`).
    Stage,
    /// A named file format (`CREATE FILE FORMAT`).
    FileFormat,
}

impl DefinitionKind {
    fn dir(self) -> &'static str {
        match self {
            Self::Stage => STAGES_DIR,
            Self::FileFormat => "_file_formats",
        }
    }
}

/// A stage: where staged files are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum StageKey {
    /// A user's stage, `@~`.
    User(String),
    /// A table's stage, `@%t`.
    Table(String, String, String),
    /// A named stage, `@s`.
    Named(String, String, String),
}

/// What an account's own databases are kept in.
pub(crate) trait Storage: Send + Sync + std::fmt::Debug {
    /// The account's own databases, sorted.
    fn databases(&self) -> Result<Vec<String>, WarehouseError>;
    /// The schemas of `db`, sorted (empty when `db` does not exist).
    fn schemas(&self, db: &str) -> Result<Vec<String>, WarehouseError>;
    /// The tables of `db.schema`, sorted.
    fn tables(&self, db: &str, schema: &str) -> Result<Vec<String>, WarehouseError>;
    /// The views of `db.schema`, sorted.
    fn views(&self, db: &str, schema: &str) -> Result<Vec<String>, WarehouseError>;
    /// Creates database `db` with its `PUBLIC` schema; `false` when it
    /// already existed.
    fn create_database(&self, db: &str) -> Result<bool, WarehouseError>;
    /// Creates `db.schema`; `false` when it already existed.
    fn create_schema(&self, db: &str, schema: &str) -> Result<bool, WarehouseError>;
    /// Removes database `db` and everything in it; `false` when it did not
    /// exist.
    fn drop_database(&self, db: &str) -> Result<bool, WarehouseError>;
    /// Removes `db.schema` and everything in it.
    fn drop_schema(&self, db: &str, schema: &str) -> Result<bool, WarehouseError>;
    /// Where table `db.schema.table` keeps its Delta log and files (it may
    /// not exist yet).
    fn table_location(&self, db: &str, schema: &str, table: &str) -> Result<url::Url, WarehouseError>;
    /// Moves a table aside (for `UNDROP TABLE`); `false` when it did not
    /// exist.
    fn drop_table(&self, db: &str, schema: &str, table: &str) -> Result<bool, WarehouseError>;
    /// Brings back the most recently dropped table of that name, if it was
    /// dropped within `retention`.
    fn undrop_table(
        &self,
        db: &str,
        schema: &str,
        table: &str,
        retention: std::time::Duration,
    ) -> Result<bool, WarehouseError>;
    /// The definition of view `db.schema.view`.
    fn view(&self, db: &str, schema: &str, view: &str) -> Result<Option<ViewDefinition>, WarehouseError>;
    /// Stores a view's definition (replacing one of that name).
    fn put_view(&self, db: &str, schema: &str, view: &str, definition: &ViewDefinition) -> Result<(), WarehouseError>;
    /// Removes a view; `false` when it did not exist.
    fn drop_view(&self, db: &str, schema: &str, view: &str) -> Result<bool, WarehouseError>;
    /// Renames (and may move to another schema) table `from` to `to`;
    /// fails when `to` exists or its schema does not.
    fn rename_table(
        &self,
        from: &(String, String, String),
        to: &(String, String, String),
    ) -> Result<(), WarehouseError>;
    /// Where transaction `transaction` keeps its private copy `copy` of a
    /// table (nothing else reads it).
    fn scratch_location(&self, transaction: &str, copy: &str) -> Result<url::Url, WarehouseError>;
    /// Removes what transaction `transaction` kept.
    fn remove_scratch(&self, transaction: &str) -> Result<(), WarehouseError>;
    /// When database `db`, schema `db.schema` (`table` `None`) or table
    /// `db.schema.table` was created, in milliseconds since the epoch, if
    /// the storage can tell (what `SHOW` gives as `created_on`).
    fn created_ms(&self, db: &str, schema: Option<&str>, table: Option<&str>) -> Option<i64>;
    /// The sequences of `db.schema`, sorted.
    fn sequences(&self, db: &str, schema: &str) -> Result<Vec<String>, WarehouseError>;
    /// The definition of sequence `db.schema.name`.
    fn sequence(&self, db: &str, schema: &str, name: &str) -> Result<Option<SequenceDefinition>, WarehouseError>;
    /// Stores a sequence's definition: `false` (nothing changed) when one
    /// of that name exists and `replace` is not set; a replaced sequence's
    /// values are forgotten.
    fn put_sequence(
        &self,
        db: &str,
        schema: &str,
        name: &str,
        definition: &SequenceDefinition,
        replace: bool,
    ) -> Result<bool, WarehouseError>;
    /// Removes a sequence and its values; `false` when it did not exist.
    fn drop_sequence(&self, db: &str, schema: &str, name: &str) -> Result<bool, WarehouseError>;
    /// Claims `count` ordinals of the sequence with id `id` that no other
    /// claim (of any replica) has, trying from `hint` (where the caller's
    /// last claim ended); returns the first.
    fn claim(&self, id: &str, count: u64, hint: u64) -> Result<u64, WarehouseError>;
    /// Where the claims of sequence `id` end: the ordinal the next claim
    /// starts at.
    fn claimed(&self, id: &str) -> Result<u64, WarehouseError>;
    /// The JSON definition of object `db.schema.name` of `kind`.
    fn definition(
        &self,
        kind: DefinitionKind,
        db: &str,
        schema: &str,
        name: &str,
    ) -> Result<Option<String>, WarehouseError>;
    /// The names of the objects of `kind` in `db.schema`, sorted.
    fn definitions(&self, kind: DefinitionKind, db: &str, schema: &str) -> Result<Vec<String>, WarehouseError>;
    /// Stores an object's JSON definition: `false` (nothing changed) when
    /// one of that name exists and `replace` is not set.
    fn put_definition(
        &self,
        kind: DefinitionKind,
        db: &str,
        schema: &str,
        name: &str,
        json: &str,
        replace: bool,
    ) -> Result<bool, WarehouseError>;
    /// Removes an object's definition (and a stage's files); `false` when
    /// it did not exist.
    fn drop_definition(&self, kind: DefinitionKind, db: &str, schema: &str, name: &str)
    -> Result<bool, WarehouseError>;
    /// The directory stage `stage` keeps its files in (created if missing).
    fn stage_location(&self, stage: &StageKey) -> Result<PathBuf, WarehouseError>;
}

/// `bytes` written to a new hidden file in `dir`.
fn staged(dir: &Path, bytes: &[u8]) -> Result<PathBuf, WarehouseError> {
    let staging = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let mut file = std::fs::File::create_new(&staging).map_err(io(&staging))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io(&staging))?;
    Ok(staging)
}

/// Creates `path` holding `bytes` unless it exists: `false` when it did.
/// The file appears whole (a hard link to a file written aside).
pub(crate) fn put_if_absent(path: &Path, bytes: &[u8]) -> Result<bool, WarehouseError> {
    let dir = path.parent().map(Path::to_owned).unwrap_or_default();
    let staging = staged(&dir, bytes)?;
    let linked = std::fs::hard_link(&staging, path);
    let _ = std::fs::remove_file(&staging);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}

/// Writes `bytes` to `file` (written aside, then renamed over it): a
/// reader sees the old contents or the new, never part of them.
fn replace_file(file: &Path, bytes: &[u8]) -> Result<(), WarehouseError> {
    let dir = file.parent().map(Path::to_owned).unwrap_or_default();
    let staging = staged(&dir, bytes)?;
    let renamed = std::fs::rename(&staging, file).map_err(io(file));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    renamed
}

/// The names of the files of `dir` ending in `suffix` (without it), sorted.
fn names_of_files(dir: &Path, suffix: &str) -> Result<Vec<String>, WarehouseError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(suffix).and_then(name_of))
        .collect();
    names.sort();
    Ok(names)
}

/// An account's own databases in a local directory.
#[derive(Debug, Clone)]
pub(crate) struct LocalStorage {
    root: PathBuf,
}

/// The directory under an account's warehouse directory that holds its own
/// databases (the leading `_` keeps it out of the subscription listing).
pub(crate) const DATABASES_DIR: &str = "_databases";
const VIEWS_DIR: &str = "_views";
const DROPPED_DIR: &str = "_dropped";
const TRANSACTIONS_DIR: &str = "_transactions";
const STAGES_DIR: &str = "_stages";
const TABLE_STAGES_DIR: &str = "_table_stages";
const USER_STAGES_DIR: &str = "_user_stages";

/// A name as one path segment: itself when safe, else `~` and its bytes in
/// hex.
pub(crate) fn segment(name: &str) -> String {
    if is_safe_segment(name) && !name.starts_with('_') && !name.starts_with('~') && !name.contains('~') {
        name.to_owned()
    } else {
        let mut out = String::with_capacity(1 + 2 * name.len());
        out.push('~');
        for b in name.bytes() {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

/// The name a path segment stands for (see [`segment`]); `None` for what
/// is not a name (`_views`, `_dropped`, hidden files).
pub(crate) fn name_of(segment: &str) -> Option<String> {
    if let Some(hex) = segment.strip_prefix('~') {
        if hex.len() % 2 != 0 {
            return None;
        }
        let bytes: Option<Vec<u8>> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
        return String::from_utf8(bytes?).ok();
    }
    (is_safe_segment(segment) && !segment.starts_with('_')).then(|| segment.to_owned())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WarehouseError + '_ {
    move |source| WarehouseError::Io { path: path.to_owned(), source }
}

/// The names of the subdirectories of `dir` that `keep` accepts, sorted.
fn names_in(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<String>, WarehouseError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries.flatten() {
        let Ok(file_name) = entry.file_name().into_string() else { continue };
        let Some(name) = name_of(&file_name) else { continue };
        if entry.file_type().is_ok_and(|t| t.is_dir()) && keep(&entry.path()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

impl LocalStorage {
    /// The own databases of the account whose warehouse directory is
    /// `account_dir`.
    pub(crate) fn new(account_dir: &Path) -> Self {
        Self { root: account_dir.join(DATABASES_DIR) }
    }

    fn database_dir(&self, db: &str) -> PathBuf {
        self.root.join(segment(db))
    }
    fn schema_dir(&self, db: &str, schema: &str) -> PathBuf {
        self.database_dir(db).join(segment(schema))
    }
    fn table_dir(&self, db: &str, schema: &str, table: &str) -> PathBuf {
        self.schema_dir(db, schema).join(segment(table))
    }
    fn definition_file(&self, kind: DefinitionKind, db: &str, schema: &str, name: &str) -> PathBuf {
        self.schema_dir(db, schema).join(kind.dir()).join(format!("{}.json", segment(name)))
    }
    fn view_file(&self, db: &str, schema: &str, view: &str) -> PathBuf {
        self.schema_dir(db, schema).join(VIEWS_DIR).join(format!("{}.json", segment(view)))
    }

    /// Removes `dir` by renaming it aside first, so that a reader never
    /// sees half of it and a crash leaves nothing under its name.
    fn remove_dir(&self, dir: &Path) -> Result<bool, WarehouseError> {
        if !dir.is_dir() {
            return Ok(false);
        }
        let trash = self.root.join(format!("_trash-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        match std::fs::rename(dir, &trash) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(dir)(e)),
        }
        std::fs::remove_dir_all(&trash).map_err(io(&trash))?;
        Ok(true)
    }
}

/// Whether `dir` holds a Delta table (its first commit exists).
pub(crate) fn is_table_dir(dir: &Path) -> bool {
    dir.join("_delta_log").join("00000000000000000000.json").is_file()
        || std::fs::read_dir(dir.join("_delta_log"))
            .map(|mut e| e.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json"))))
            .unwrap_or(false)
}

impl Storage for LocalStorage {
    fn databases(&self) -> Result<Vec<String>, WarehouseError> {
        names_in(&self.root, |_| true)
    }

    fn schemas(&self, db: &str) -> Result<Vec<String>, WarehouseError> {
        names_in(&self.database_dir(db), |_| true)
    }

    fn tables(&self, db: &str, schema: &str) -> Result<Vec<String>, WarehouseError> {
        names_in(&self.schema_dir(db, schema), is_table_dir)
    }

    fn views(&self, db: &str, schema: &str) -> Result<Vec<String>, WarehouseError> {
        names_of_files(&self.schema_dir(db, schema).join(VIEWS_DIR), ".json")
    }

    fn create_database(&self, db: &str) -> Result<bool, WarehouseError> {
        let dir = self.database_dir(db);
        if dir.is_dir() {
            return Ok(false);
        }
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        // Made aside and renamed into place: a database appears with its
        // PUBLIC schema or not at all.
        let staging = self.root.join(format!("_new-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(staging.join("PUBLIC")).map_err(io(&staging))?;
        match std::fs::rename(&staging, &dir) {
            Ok(()) => Ok(true),
            Err(_) if dir.is_dir() => {
                let _ = std::fs::remove_dir_all(&staging);
                Ok(false)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                Err(io(&dir)(e))
            }
        }
    }

    fn create_schema(&self, db: &str, schema: &str) -> Result<bool, WarehouseError> {
        let dir = self.schema_dir(db, schema);
        if dir.is_dir() {
            return Ok(false);
        }
        if !self.database_dir(db).is_dir() {
            return Err(WarehouseError::ObjectNotFound(db.to_owned()));
        }
        match std::fs::create_dir(&dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io(&dir)(e)),
        }
    }

    fn drop_database(&self, db: &str) -> Result<bool, WarehouseError> {
        self.remove_dir(&self.database_dir(db))
    }

    fn drop_schema(&self, db: &str, schema: &str) -> Result<bool, WarehouseError> {
        self.remove_dir(&self.schema_dir(db, schema))
    }

    fn table_location(&self, db: &str, schema: &str, table: &str) -> Result<url::Url, WarehouseError> {
        let dir = self.table_dir(db, schema, table);
        url::Url::from_directory_path(&dir)
            .map_err(|()| WarehouseError::Internal(format!("{} is not an absolute directory", dir.display())))
    }

    fn drop_table(&self, db: &str, schema: &str, table: &str) -> Result<bool, WarehouseError> {
        let dir = self.table_dir(db, schema, table);
        if !is_table_dir(&dir) {
            return Ok(false);
        }
        let dropped = self.schema_dir(db, schema).join(DROPPED_DIR);
        std::fs::create_dir_all(&dropped).map_err(io(&dropped))?;
        let aside = dropped.join(format!("{}~{}", segment(table), now_ms()));
        match std::fs::rename(&dir, &aside) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(&dir)(e)),
        }
    }

    fn undrop_table(
        &self,
        db: &str,
        schema: &str,
        table: &str,
        retention: std::time::Duration,
    ) -> Result<bool, WarehouseError> {
        let dir = self.table_dir(db, schema, table);
        if is_table_dir(&dir) {
            return Err(WarehouseError::AlreadyExists(table.to_owned()));
        }
        let dropped = self.schema_dir(db, schema).join(DROPPED_DIR);
        let prefix = format!("{}~", segment(table));
        let oldest = now_ms() - retention.as_millis() as i64;
        let newest = std::fs::read_dir(&dropped)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let at: i64 = name.strip_prefix(&prefix)?.parse().ok()?;
                Some((at, e.path()))
            })
            .filter(|(at, _)| *at >= oldest)
            .max_by_key(|(at, _)| *at);
        let Some((_, path)) = newest else { return Ok(false) };
        std::fs::rename(&path, &dir).map_err(io(&dir))?;
        Ok(true)
    }

    fn view(&self, db: &str, schema: &str, view: &str) -> Result<Option<ViewDefinition>, WarehouseError> {
        let file = self.view_file(db, schema, view);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&file)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| WarehouseError::Internal(format!("view definition {} cannot be read: {e}", file.display())))
    }

    fn rename_table(
        &self,
        from: &(String, String, String),
        to: &(String, String, String),
    ) -> Result<(), WarehouseError> {
        let source = self.table_dir(&from.0, &from.1, &from.2);
        if !is_table_dir(&source) {
            return Err(WarehouseError::ObjectNotFound(from.2.clone()));
        }
        if !self.schema_dir(&to.0, &to.1).is_dir() {
            return Err(WarehouseError::ObjectNotFound(format!("{}.{}", to.0, to.1)));
        }
        let target = self.table_dir(&to.0, &to.1, &to.2);
        if target.exists() || self.view_file(&to.0, &to.1, &to.2).exists() {
            return Err(WarehouseError::AlreadyExists(to.2.clone()));
        }
        std::fs::rename(&source, &target).map_err(io(&source))
    }

    fn scratch_location(&self, transaction: &str, copy: &str) -> Result<url::Url, WarehouseError> {
        let dir = self.root.join(TRANSACTIONS_DIR).join(segment(transaction)).join(segment(copy));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        url::Url::from_directory_path(&dir)
            .map_err(|()| WarehouseError::Internal(format!("{} is not an absolute directory", dir.display())))
    }

    fn remove_scratch(&self, transaction: &str) -> Result<(), WarehouseError> {
        let dir = self.root.join(TRANSACTIONS_DIR).join(segment(transaction));
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&dir)(e)),
        }
    }

    fn put_view(&self, db: &str, schema: &str, view: &str, definition: &ViewDefinition) -> Result<(), WarehouseError> {
        if !self.schema_dir(db, schema).is_dir() {
            return Err(WarehouseError::ObjectNotFound(format!("{db}.{schema}")));
        }
        let file = self.view_file(db, schema, view);
        let dir = file.parent().map(Path::to_owned).unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let text = serde_json::to_string(definition).map_err(|e| WarehouseError::Internal(e.to_string()))?;
        replace_file(&file, text.as_bytes())
    }

    fn created_ms(&self, db: &str, schema: Option<&str>, table: Option<&str>) -> Option<i64> {
        let dir = match (schema, table) {
            (None, _) => self.database_dir(db),
            (Some(schema), None) => self.schema_dir(db, schema),
            (Some(schema), Some(table)) => self.table_dir(db, schema, table),
        };
        // The directory's birth time where the file system keeps one (a
        // renamed table keeps its own), else when it last changed.
        let meta = std::fs::metadata(dir).ok()?;
        let at = meta.created().or_else(|_| meta.modified()).ok()?;
        at.duration_since(std::time::UNIX_EPOCH).ok().and_then(|d| i64::try_from(d.as_millis()).ok())
    }

    fn sequences(&self, db: &str, schema: &str) -> Result<Vec<String>, WarehouseError> {
        self.list_sequences(db, schema)
    }

    fn sequence(&self, db: &str, schema: &str, name: &str) -> Result<Option<SequenceDefinition>, WarehouseError> {
        self.read_sequence(db, schema, name)
    }

    fn put_sequence(
        &self,
        db: &str,
        schema: &str,
        name: &str,
        definition: &SequenceDefinition,
        replace: bool,
    ) -> Result<bool, WarehouseError> {
        self.write_sequence(db, schema, name, definition, replace)
    }

    fn drop_sequence(&self, db: &str, schema: &str, name: &str) -> Result<bool, WarehouseError> {
        self.remove_sequence(db, schema, name)
    }

    fn claim(&self, id: &str, count: u64, hint: u64) -> Result<u64, WarehouseError> {
        self.claim_ordinals(id, count, hint)
    }

    fn claimed(&self, id: &str) -> Result<u64, WarehouseError> {
        self.claims_end(id)
    }

    fn definition(
        &self,
        kind: DefinitionKind,
        db: &str,
        schema: &str,
        name: &str,
    ) -> Result<Option<String>, WarehouseError> {
        let file = self.definition_file(kind, db, schema, name);
        match std::fs::read_to_string(&file) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&file)(e)),
        }
    }

    fn definitions(&self, kind: DefinitionKind, db: &str, schema: &str) -> Result<Vec<String>, WarehouseError> {
        names_of_files(&self.schema_dir(db, schema).join(kind.dir()), ".json")
    }

    fn put_definition(
        &self,
        kind: DefinitionKind,
        db: &str,
        schema: &str,
        name: &str,
        json: &str,
        replace: bool,
    ) -> Result<bool, WarehouseError> {
        if !self.schema_dir(db, schema).is_dir() {
            return Err(WarehouseError::ObjectNotFound(format!("{db}.{schema}")));
        }
        let file = self.definition_file(kind, db, schema, name);
        let dir = file.parent().map(Path::to_owned).unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        if !replace {
            return put_if_absent(&file, json.as_bytes());
        }
        replace_file(&file, json.as_bytes())?;
        Ok(true)
    }

    fn drop_definition(
        &self,
        kind: DefinitionKind,
        db: &str,
        schema: &str,
        name: &str,
    ) -> Result<bool, WarehouseError> {
        let file = self.definition_file(kind, db, schema, name);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(&file)(e)),
        }
        if kind == DefinitionKind::Stage {
            self.remove_dir(&self.schema_dir(db, schema).join(STAGES_DIR).join(segment(name)))?;
        }
        Ok(true)
    }

    fn stage_location(&self, stage: &StageKey) -> Result<PathBuf, WarehouseError> {
        let dir = match stage {
            StageKey::User(user) => self.root.join(USER_STAGES_DIR).join(segment(user)),
            StageKey::Table(db, schema, table) => {
                self.schema_dir(db, schema).join(TABLE_STAGES_DIR).join(segment(table))
            }
            StageKey::Named(db, schema, name) => self.schema_dir(db, schema).join(STAGES_DIR).join(segment(name)),
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(dir)
    }

    fn drop_view(&self, db: &str, schema: &str, view: &str) -> Result<bool, WarehouseError> {
        let file = self.view_file(db, schema, view);
        match std::fs::remove_file(&file) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(&file)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_segments() {
        for name in ["ORDERS", "my table", "a/b", "..", "_x", "~7e", "Ä", "x~y"] {
            let s = segment(name);
            assert!(is_safe_segment(&s.replace('~', "x")), "{name} -> {s}");
            assert_eq!(name_of(&s).as_deref(), Some(name), "{s}");
        }
        assert_eq!(segment("ORDERS"), "ORDERS");
        assert_eq!(name_of("_views"), None);
        assert_eq!(name_of("~zz"), None);
    }

    #[test]
    fn databases_schemas_views_and_dropped_tables() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path());
        assert!(s.create_database("SALES").unwrap());
        assert!(!s.create_database("SALES").unwrap());
        assert_eq!(s.databases().unwrap(), ["SALES"]);
        assert_eq!(s.schemas("SALES").unwrap(), ["PUBLIC"]);
        assert!(s.create_schema("SALES", "raw data").unwrap());
        assert_eq!(s.schemas("SALES").unwrap(), ["PUBLIC", "raw data"]);
        assert!(matches!(s.create_schema("NOPE", "X"), Err(WarehouseError::ObjectNotFound(_))));
        let view = ViewDefinition { query: "select 1".into(), ddl: "create view V as select 1".into(), created_ms: 1 };
        s.put_view("SALES", "PUBLIC", "V", &view).unwrap();
        assert_eq!(s.views("SALES", "PUBLIC").unwrap(), ["V"]);
        assert_eq!(s.view("SALES", "PUBLIC", "V").unwrap(), Some(view));
        assert!(s.drop_view("SALES", "PUBLIC", "V").unwrap());
        assert!(s.views("SALES", "PUBLIC").unwrap().is_empty());
        // A directory without a Delta log is not a table.
        let location = s.table_location("SALES", "PUBLIC", "T").unwrap();
        let table_dir = location.to_file_path().unwrap();
        std::fs::create_dir_all(table_dir.join("_delta_log")).unwrap();
        assert!(s.tables("SALES", "PUBLIC").unwrap().is_empty());
        std::fs::write(table_dir.join("_delta_log/00000000000000000000.json"), "{}").unwrap();
        assert_eq!(s.tables("SALES", "PUBLIC").unwrap(), ["T"]);
        assert!(s.drop_table("SALES", "PUBLIC", "T").unwrap());
        assert!(s.tables("SALES", "PUBLIC").unwrap().is_empty());
        assert!(s.undrop_table("SALES", "PUBLIC", "T", std::time::Duration::from_secs(60)).unwrap());
        assert_eq!(s.tables("SALES", "PUBLIC").unwrap(), ["T"]);
        assert!(s.drop_database("SALES").unwrap());
        assert!(s.databases().unwrap().is_empty());
    }
}
