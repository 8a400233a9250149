//! Stages: where files wait to be loaded (`COPY INTO <table>`) or land
//! when unloaded (`COPY INTO @stage`).
//!
//! - `@~` is the session user's stage, `@%t` table `t`'s, `@s` (or
//!   `@db.schema.s`) a named stage made by `CREATE [OR REPLACE] [TEMPORARY]
//!   STAGE s [FILE_FORMAT = (...)] [COMMENT = '...']` (internal stages only:
//!   a `URL` is refused); a path may follow (`@s/2024/jan/`) and selects the
//!   files under it.
//! - `LIST @stage [PATTERN = '<regex>']` answers Snowflake's `name`,
//!   `size`, `md5`, `last_modified`; `REMOVE @stage [PATTERN = ...]`
//!   deletes files and answers `name`, `result`.
//! - Files arrive by `PUT` through the gateway ([`put_file`]) or by
//!   unloading; their paths are checked segment by segment (no `..`, no
//!   hidden names, no absolute paths), so a stage never reaches outside
//!   its directory.
//! - `CREATE [OR REPLACE] FILE FORMAT f TYPE = CSV | PARQUET | JSON [...]`
//!   keeps named options that `COPY`'s `FILE_FORMAT = (FORMAT_NAME = 'f')`
//!   and a stage's `FILE_FORMAT` refer to.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use datafusion::sql::sqlparser::ast::ObjectName;
use md5::Digest as _;

use super::ddl::parse_name;
use super::file_format::{FileFormat, Options, options_of};
use super::result::{QueryStream, StatementKind, status_result, strings_result};
use super::session::SessionEntry;
use super::statements::{subscription_refused, table_key};
use crate::WarehouseError;
use crate::catalog::ObjectKind;
use crate::storage::{DefinitionKind, StageKey};

/// The longest path a staged file may have.
const MAX_PATH_BYTES: usize = 1024;

/// A stage and a path in it, as a statement names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StageRef {
    pub(crate) stage: StageKey,
    /// The path after the stage's name, without leading or trailing `/`
    /// (empty: the whole stage).
    pub(crate) path: String,
    /// Whether the path ended in `/` (a folder, where an unload names its
    /// file `data_...`).
    pub(crate) folder: bool,
}

impl StageRef {
    /// How `LIST` and `COPY` name a file of this stage.
    pub(crate) fn listed_name(&self, relative: &str) -> String {
        match &self.stage {
            StageKey::Named(_, _, name) => format!("{}/{relative}", name.to_lowercase()),
            StageKey::User(_) | StageKey::Table(..) => relative.to_owned(),
        }
    }
}

/// A staged file.
#[derive(Debug, Clone)]
pub(crate) struct StagedFile {
    /// Its path in the stage (`/`-separated).
    pub(crate) relative: String,
    /// Where it is on disk.
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) modified: std::time::SystemTime,
}

/// Reads a stage reference (`@~/dir`, `@%t`, `@s/path`, `@db.schema.s`,
/// also quoted as a string: `'@s'`) in session `s`.
pub(crate) fn stage_ref(
    s: &SessionEntry,
    text: &str,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<StageRef, WarehouseError> {
    let text = text.trim().trim_matches('\'');
    let rest = text.strip_prefix('@').ok_or_else(|| {
        WarehouseError::Compilation(format!("{text} is not a stage: name one as @~, @%table or @stage[/path]"))
    })?;
    // The name ends at the first `/` outside double quotes.
    let mut quoted = false;
    let split = rest.char_indices().find(|(_, c)| {
        if *c == '"' {
            quoted = !quoted;
        }
        *c == '/' && !quoted
    });
    let (name, path) = match split {
        Some((i, _)) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let folder = path.is_empty() || path.ends_with('/');
    let path = checked_path(path.trim_matches('/'), true)?;
    let stage = if name == "~" {
        StageKey::User(s.user.lock().clone())
    } else if let Some(table) = name.strip_prefix('%') {
        let key = table_key(&parse_name(table)?, database, schema)?;
        if s.tables.kind(&key) != Some(ObjectKind::Table) {
            return Err(WarehouseError::ObjectNotFound(key.2.clone()));
        }
        StageKey::Table(key.0, key.1, key.2)
    } else {
        let key = table_key(&parse_name(name)?, database, schema)?;
        if s.tables.data().tables.contains_key(&key.0) {
            return Err(subscription_refused(&format!("stage '{}'", key.2)));
        }
        if s.tables.own.definition(DefinitionKind::Stage, &key.0, &key.1, &key.2)?.is_none() {
            return Err(WarehouseError::ObjectNotFound(key.2.clone()));
        }
        StageKey::Named(key.0, key.1, key.2)
    };
    Ok(StageRef { stage, path, folder })
}

/// `path` if every segment of it is a plain file or directory name (no
/// `..`, no hidden or empty segment, no backslash or NUL).
pub(crate) fn checked_path(path: &str, may_be_empty: bool) -> Result<String, WarehouseError> {
    let invalid = |why: &str| WarehouseError::Compilation(format!("invalid stage path {path:?}: {why}"));
    if path.is_empty() {
        return if may_be_empty { Ok(String::new()) } else { Err(invalid("a file name is needed")) };
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(invalid("longer than 1024 bytes"));
    }
    for segment in path.split('/') {
        if segment.is_empty() || segment.starts_with('.') {
            return Err(invalid("a segment is empty or starts with '.'"));
        }
        if segment.chars().any(|c| c == '\\' || c == '\0' || c.is_control()) {
            return Err(invalid("backslashes and control characters are not allowed"));
        }
    }
    Ok(path.to_owned())
}

/// The files of `stage` under its path whose listed name matches
/// `pattern` (a regular expression the whole name must match), sorted.
pub(crate) fn files(
    s: &SessionEntry,
    stage: &StageRef,
    pattern: Option<&str>,
) -> Result<Vec<StagedFile>, WarehouseError> {
    let pattern = pattern.map(compile_pattern).transpose()?;
    let root = s.tables.own.stage_location(&stage.stage)?;
    let mut found = Vec::new();
    walk(&root, "", &mut found)?;
    found.retain(|f| {
        let under = stage.path.is_empty() || f.relative.starts_with(&stage.path);
        under && pattern.as_ref().is_none_or(|p| p.is_match(&stage.listed_name(&f.relative)))
    });
    found.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(found)
}

fn compile_pattern(pattern: &str) -> Result<regex::Regex, WarehouseError> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| WarehouseError::Compilation(format!("invalid PATTERN {pattern:?}: {e}")))
}

fn walk(dir: &Path, prefix: &str, found: &mut Vec<StagedFile>) -> Result<(), WarehouseError> {
    let io = |source| WarehouseError::Io { path: dir.to_owned(), source };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            walk(&entry.path(), &relative, found)?;
        } else if kind.is_file() {
            let meta = entry.metadata().map_err(io)?;
            let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            found.push(StagedFile { relative, path: entry.path(), size: meta.len(), modified });
        }
    }
    Ok(())
}

/// `LIST @stage [PATTERN = ...]`.
pub(crate) fn list(s: &SessionEntry, stage: &StageRef, pattern: Option<&str>) -> Result<QueryStream, WarehouseError> {
    let files = files(s, stage, pattern)?;
    let (mut names, mut sizes, mut md5s, mut times) = (vec![], vec![], vec![], vec![]);
    for f in &files {
        names.push(stage.listed_name(&f.relative));
        sizes.push(f.size.to_string());
        md5s.push(md5_of(&f.path)?);
        let at: chrono::DateTime<chrono::Utc> = f.modified.into();
        times.push(at.format("%a, %-d %b %Y %H:%M:%S GMT").to_string());
    }
    Ok(strings_result(&["name", "size", "md5", "last_modified"], vec![names, sizes, md5s, times]))
}

fn md5_of(path: &Path) -> Result<String, WarehouseError> {
    let io = |source| WarehouseError::Io { path: path.to_owned(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = md5::Md5::new();
    let mut piece = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut piece).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&piece[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// `REMOVE @stage [PATTERN = ...]`.
pub(crate) fn remove(s: &SessionEntry, stage: &StageRef, pattern: Option<&str>) -> Result<QueryStream, WarehouseError> {
    let files = files(s, stage, pattern)?;
    let mut names = Vec::with_capacity(files.len());
    for f in &files {
        match std::fs::remove_file(&f.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(WarehouseError::Io { path: f.path.clone(), source }),
        }
        names.push(stage.listed_name(&f.relative));
    }
    let results = vec!["removed".to_owned(); names.len()];
    Ok(strings_result(&["name", "result"], vec![names, results]))
}

/// Puts the file at `from` into `stage` as `name` (moved when it is on the
/// same file system, else copied); `false` when a file of that name is
/// there and `overwrite` is not set. Returns the stored size.
pub(crate) fn put_file(
    s: &SessionEntry,
    stage: &StageRef,
    name: &str,
    from: &Path,
    overwrite: bool,
) -> Result<Option<u64>, WarehouseError> {
    let name = checked_path(name, false)?;
    if name.contains('/') {
        return Err(WarehouseError::Compilation(format!("invalid file name {name:?}: name a file, not a path")));
    }
    let relative = if stage.path.is_empty() { name } else { format!("{}/{name}", stage.path) };
    let root = s.tables.own.stage_location(&stage.stage)?;
    let target = root.join(&relative);
    let dir = target.parent().map(Path::to_owned).unwrap_or(root);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| WarehouseError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    if target.exists() && !overwrite {
        return Ok(None);
    }
    if std::fs::rename(from, &target).is_err() {
        let staging = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
        std::fs::copy(from, &staging).map_err(io(&staging))?;
        std::fs::rename(&staging, &target).map_err(io(&target))?;
    }
    let size = std::fs::metadata(&target).map_err(io(&target))?.len();
    Ok(Some(size))
}

/// A stored named stage.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct StageDefinition {
    pub(crate) created_ms: i64,
    #[serde(default)]
    pub(crate) comment: Option<String>,
    #[serde(default)]
    pub(crate) file_format: Options,
}

/// A stored named file format.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct FileFormatDefinition {
    pub(crate) created_ms: i64,
    pub(crate) options: Options,
}

/// `CREATE [OR REPLACE] [TEMPORARY] STAGE [IF NOT EXISTS] name ...`
/// (`statement`, a `CREATE STAGE`).
pub(crate) fn create_stage(
    s: &SessionEntry,
    statement: &datafusion::sql::sqlparser::ast::Statement,
    (database, schema): (&Option<String>, &Option<String>),
) -> Result<QueryStream, WarehouseError> {
    let datafusion::sql::sqlparser::ast::Statement::CreateStage {
        or_replace,
        temporary,
        if_not_exists,
        name,
        stage_params,
        file_format,
        comment,
        ..
    } = statement
    else {
        return Err(WarehouseError::Internal("not a CREATE STAGE statement".into()));
    };
    if stage_params.url.is_some() || stage_params.storage_integration.is_some() {
        return Err(super::statements::not_allowed("an external stage (URL = ...)"));
    }
    let key = table_key(name, database, schema)?;
    if s.tables.data().tables.contains_key(&key.0) {
        return Err(subscription_refused(&format!("schema '{}.{}'", key.0, key.1)));
    }
    let definition = StageDefinition {
        created_ms: chrono::Utc::now().timestamp_millis(),
        comment: comment.clone(),
        file_format: options_of(file_format)?,
    };
    let json = serde_json::to_string(&definition).map_err(|e| WarehouseError::Internal(e.to_string()))?;
    if *or_replace {
        // A replaced stage starts empty.
        s.tables.own.drop_definition(DefinitionKind::Stage, &key.0, &key.1, &key.2)?;
    }
    let created = s.tables.own.put_definition(DefinitionKind::Stage, &key.0, &key.1, &key.2, &json, *or_replace)?;
    if created && *temporary {
        s.temporaries.lock().push((DefinitionKind::Stage, key.clone()));
    }
    created_message(created, *if_not_exists, "Stage area", &key.2)
}

/// `CREATE [OR REPLACE] [TEMPORARY] FILE FORMAT [IF NOT EXISTS] name
/// <options>` (`flags`: or replace, temporary, if not exists). A temporary
/// one (as a temporary stage) is dropped when its session ends.
pub(crate) fn create_file_format(
    s: &SessionEntry,
    name: &ObjectName,
    (or_replace, temporary, if_not_exists): (bool, bool, bool),
    options: Options,
    (database, schema): (&Option<String>, &Option<String>),
) -> Result<QueryStream, WarehouseError> {
    let key = table_key(name, database, schema)?;
    if s.tables.data().tables.contains_key(&key.0) {
        return Err(subscription_refused(&format!("schema '{}.{}'", key.0, key.1)));
    }
    // Checked now, so that a COPY naming it does not fail later.
    FileFormat::from_options(&options)?;
    let definition = FileFormatDefinition { created_ms: chrono::Utc::now().timestamp_millis(), options };
    let json = serde_json::to_string(&definition).map_err(|e| WarehouseError::Internal(e.to_string()))?;
    let created = s.tables.own.put_definition(DefinitionKind::FileFormat, &key.0, &key.1, &key.2, &json, or_replace)?;
    if created && temporary {
        s.temporaries.lock().push((DefinitionKind::FileFormat, key.clone()));
    }
    created_message(created, if_not_exists, "File format", &key.2)
}

fn created_message(created: bool, if_not_exists: bool, what: &str, name: &str) -> Result<QueryStream, WarehouseError> {
    let message = match (created, if_not_exists) {
        (true, _) => format!("{what} {name} successfully created."),
        (false, true) => format!("{name} already exists, statement succeeded."),
        (false, false) => return Err(WarehouseError::AlreadyExists(format!("Object '{name}' already exists."))),
    };
    Ok(status_result(StatementKind::Ddl, message))
}

/// `DROP STAGE | FILE FORMAT [IF EXISTS] names`.
pub(crate) fn drop_definitions(
    s: &SessionEntry,
    kind: DefinitionKind,
    names: &[ObjectName],
    if_exists: bool,
    (database, schema): (&Option<String>, &Option<String>),
) -> Result<QueryStream, WarehouseError> {
    let mut dropped = Vec::new();
    for name in names {
        let key = table_key(name, database, schema)?;
        if s.tables.own.drop_definition(kind, &key.0, &key.1, &key.2)? {
            dropped.push(key.2);
        } else if !if_exists {
            return Err(WarehouseError::ObjectNotFound(key.2));
        }
    }
    let message = match dropped.as_slice() {
        [] => "Drop statement executed successfully (object already dropped).".to_owned(),
        names => format!("{} successfully dropped.", names.join(", ")),
    };
    Ok(status_result(StatementKind::Ddl, message))
}

/// The options of named file format `name`.
pub(crate) fn file_format_named(
    s: &SessionEntry,
    name: &str,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<Options, WarehouseError> {
    let key = table_key(&parse_name(name)?, database, schema)?;
    let Some(json) = s.tables.own.definition(DefinitionKind::FileFormat, &key.0, &key.1, &key.2)? else {
        return Err(WarehouseError::ObjectNotFound(key.2.clone()));
    };
    let definition: FileFormatDefinition =
        serde_json::from_str(&json).map_err(|e| WarehouseError::Internal(format!("file format {}: {e}", key.2)))?;
    Ok(definition.options)
}

/// The file format options stage `stage` was created with (none for `@~`
/// and `@%t`).
pub(crate) fn stage_file_format(s: &SessionEntry, stage: &StageKey) -> Result<Options, WarehouseError> {
    let StageKey::Named(db, schema, name) = stage else { return Ok(Options::new()) };
    let Some(json) = s.tables.own.definition(DefinitionKind::Stage, db, schema, name)? else {
        return Ok(Options::new());
    };
    let definition: StageDefinition =
        serde_json::from_str(&json).map_err(|e| WarehouseError::Internal(format!("stage {name}: {e}")))?;
    Ok(definition.file_format)
}

/// The file format of a `COPY`: its `FILE_FORMAT = (...)` (a
/// `FORMAT_NAME` is looked up), else the stage's.
pub(crate) fn file_format_of(
    s: &SessionEntry,
    given: &Options,
    stage: &StageRef,
    database: &Option<String>,
    schema: &Option<String>,
) -> Result<FileFormat, WarehouseError> {
    let mut options = if given.is_empty() { stage_file_format(s, &stage.stage)? } else { given.clone() };
    if let Some(name) = options.remove("FORMAT_NAME") {
        let name = name.text().unwrap_or_default().to_owned();
        let mut named = file_format_named(s, &name, database, schema)?;
        named.extend(options);
        options = named;
    }
    FileFormat::from_options(&options)
}
