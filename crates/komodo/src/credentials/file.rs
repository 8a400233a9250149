//! Reading and writing the credentials file safely.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{CredentialsError, Document};
use crate::env::{Env, KOMODO_CREDENTIALS_PATH};

/// The credentials file at one path.
///
/// Reads need no lock: every write replaces the file with an atomic rename,
/// so a reader sees either the old or the new file, whole. Writes take an
/// exclusive lock on a sidecar file (`<path>.lock`), re-read the file under
/// it, apply the edit, and replace the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsStore {
    path: PathBuf,
}

impl CredentialsStore {
    /// The store at an explicit path.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The store named by `KOMODO_CREDENTIALS_PATH`, else
    /// `$HOME/.komodo/credentials`.
    pub fn locate(env: &Env) -> Result<Self, CredentialsError> {
        if let Some(path) = env.get(KOMODO_CREDENTIALS_PATH).filter(|p| !p.is_empty()) {
            return Ok(Self::new(path));
        }
        let home = env.home_dir().ok_or(CredentialsError::NoHome)?;
        Ok(Self::new(home.join(".komodo").join("credentials")))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and parses the file; `Ok(None)` when it does not exist.
    pub fn read(&self) -> Result<Option<Document>, CredentialsError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(self.io("read", &self.path, source)),
        };
        Document::parse_bytes(&bytes)
            .map(Some)
            .map_err(|error| CredentialsError::Malformed { path: self.path.clone(), error })
    }

    /// Warnings about the file or its directory being accessible to other
    /// users. Empty when both are private or the file does not exist.
    pub fn permission_warnings(&self) -> Vec<PermissionWarning> {
        let mut warnings = Vec::new();
        if let Ok(meta) = fs::metadata(&self.path) {
            let mode = meta.mode() & 0o777;
            if mode & 0o077 != 0 {
                warnings.push(PermissionWarning { path: self.path.clone(), mode, directory: false });
            }
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
                && let Ok(meta) = fs::metadata(dir)
            {
                let mode = meta.mode() & 0o777;
                if mode & 0o077 != 0 && dir.file_name().is_some_and(|n| n == ".komodo") {
                    warnings.push(PermissionWarning { path: dir.to_owned(), mode, directory: true });
                }
            }
        }
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        warnings
    }

    /// Takes the exclusive write lock, waiting for other writers (in this
    /// or any other process) to finish. The lock is released on drop.
    pub fn lock(&self) -> Result<LockedCredentials, CredentialsError> {
        let dir = self.create_dir()?;
        let lock_path = dir.join(format!("{}.lock", self.file_name()));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|source| self.io("open lock file", &lock_path, source))?;
        file.lock().map_err(|source| self.io("lock", &lock_path, source))?;
        Ok(LockedCredentials { store: self.clone(), _lock: file })
    }

    /// Applies `edit` to the current contents under the write lock and
    /// writes the result back atomically if it changed.
    ///
    /// A missing file starts as an empty document. A file that cannot be
    /// parsed is never overwritten: the parse error is returned instead.
    pub fn update<T>(
        &self,
        edit: impl FnOnce(&mut Document) -> Result<T, CredentialsError>,
    ) -> Result<T, CredentialsError> {
        let locked = self.lock()?;
        let original = locked.read()?.unwrap_or_default();
        let mut doc = original.clone();
        let value = edit(&mut doc)?;
        if doc != original {
            locked.write(&doc)?;
        }
        Ok(value)
    }

    fn file_name(&self) -> String {
        self.path.file_name().map_or_else(|| "credentials".to_owned(), |n| n.to_string_lossy().into_owned())
    }

    /// Creates the file's directory (0700) if needed and returns it.
    fn create_dir(&self) -> Result<PathBuf, CredentialsError> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|source| self.io("create directory", &dir, source))?;
        }
        Ok(dir)
    }

    fn io(&self, action: &'static str, path: &Path, source: io::Error) -> CredentialsError {
        CredentialsError::Io { action, path: path.to_owned(), source }
    }
}

/// The credentials file while this process holds its write lock.
pub struct LockedCredentials {
    store: CredentialsStore,
    _lock: File,
}

impl fmt::Debug for LockedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockedCredentials").field("path", &self.store.path).finish_non_exhaustive()
    }
}

impl LockedCredentials {
    /// Reads the file as it is now; no other writer can change it until the
    /// lock is dropped.
    pub fn read(&self) -> Result<Option<Document>, CredentialsError> {
        self.store.read()
    }

    /// Replaces the file with `doc`: a temporary file in the same directory
    /// (mode 0600), `fsync`, rename over the file, `fsync` of the directory.
    /// A symlinked file is written through to its target.
    pub fn write(&self, doc: &Document) -> Result<(), CredentialsError> {
        let store = &self.store;
        let target = match fs::symlink_metadata(&store.path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                fs::canonicalize(&store.path).map_err(|source| store.io("resolve", &store.path, source))?
            }
            _ => store.path.clone(),
        };
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let prefix = format!(".{}.tmp", store.file_name());
        remove_stale_temporaries(&dir, &prefix);
        let mut temp = tempfile::Builder::new()
            .prefix(&prefix)
            .permissions(fs::Permissions::from_mode(0o600))
            .tempfile_in(&dir)
            .map_err(|source| store.io("create a temporary file in", &dir, source))?;
        let write = |temp: &mut tempfile::NamedTempFile| -> io::Result<()> {
            temp.write_all(doc.render().as_bytes())?;
            temp.as_file().sync_all()
        };
        write(&mut temp).map_err(|source| store.io("write", temp.path(), source))?;
        temp.persist(&target).map_err(|err| store.io("replace", &target, err.error))?;
        // Make the rename itself durable.
        if let Ok(dir) = File::open(&dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// Removes temporary files left by writers that died mid-write. Only called
/// under the write lock, when no other writer can be using them.
fn remove_stale_temporaries(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_str().is_some_and(|n| n.starts_with(prefix)) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The credentials file or its directory can be read by other users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionWarning {
    /// The file or directory.
    pub path: PathBuf,
    /// Its permission bits.
    pub mode: u32,
    /// Whether `path` is the directory.
    pub directory: bool,
}

impl fmt::Display for PermissionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, fix) = if self.directory { ("directory", "700") } else { ("file", "600") };
        write!(
            f,
            "credentials {what} {} is accessible by other users (mode {:04o}); run `chmod {fix} {}`",
            self.path.display(),
            self.mode,
            self.path.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_prefers_the_variable_then_home() {
        let env = Env::from_slice(&[(KOMODO_CREDENTIALS_PATH, "/etc/komodo/creds"), ("HOME", "/home/ada")]);
        assert_eq!(CredentialsStore::locate(&env).unwrap().path(), Path::new("/etc/komodo/creds"));
        let env = Env::from_slice(&[(KOMODO_CREDENTIALS_PATH, ""), ("HOME", "/home/ada")]);
        assert_eq!(CredentialsStore::locate(&env).unwrap().path(), Path::new("/home/ada/.komodo/credentials"));
        assert!(matches!(CredentialsStore::locate(&Env::from_slice(&[])), Err(CredentialsError::NoHome)));
    }

    #[test]
    fn update_creates_private_directory_and_file() {
        let home = tempfile::tempdir().unwrap();
        let store = CredentialsStore::new(home.path().join(".komodo/credentials"));
        assert!(store.read().unwrap().is_none());
        store
            .update(|doc| {
                doc.set("default", "account_id", "a").unwrap();
                Ok(())
            })
            .unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(store.path()), 0o600);
        assert_eq!(mode(&home.path().join(".komodo")), 0o700);
        assert_eq!(fs::read_to_string(store.path()).unwrap(), "[default]\naccount_id = a\n");
        assert!(store.permission_warnings().is_empty());
    }

    #[test]
    fn malformed_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        fs::write(&path, "[default]\ntoken = a\ntoken = b\n").unwrap();
        let store = CredentialsStore::new(&path);
        let err = store
            .update(|doc| {
                doc.set("default", "x", "y").unwrap();
                Ok(())
            })
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()) && message.contains("line 3"), "{message}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "[default]\ntoken = a\ntoken = b\n");
    }

    #[test]
    fn writes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real-credentials");
        fs::write(&real, "[a]\nx = 1\n").unwrap();
        let link = dir.path().join("credentials");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        CredentialsStore::new(&link)
            .update(|doc| {
                doc.set("a", "x", "2").unwrap();
                Ok(())
            })
            .unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "[a]\nx = 2\n");
    }
}
