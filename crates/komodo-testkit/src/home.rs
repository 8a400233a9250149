//! A temporary home directory for CLI and SDK tests.

use std::path::{Path, PathBuf};

/// A temporary `HOME` with the layout the CLI expects (`~/.komodo/`),
/// removed when dropped.
#[derive(Debug)]
pub struct TempHome {
    dir: tempfile::TempDir,
}

impl TempHome {
    /// Creates an empty home directory.
    pub fn new() -> TempHome {
        TempHome { dir: tempfile::tempdir().expect("create a temporary home directory") }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `~/.komodo`.
    pub fn komodo_dir(&self) -> PathBuf {
        self.dir.path().join(".komodo")
    }

    /// `~/.komodo/credentials`.
    pub fn credentials_path(&self) -> PathBuf {
        self.komodo_dir().join("credentials")
    }

    /// Writes `~/.komodo/credentials` (directory 0700, file 0600).
    pub fn write_credentials(&self, contents: &str) -> PathBuf {
        let dir = self.komodo_dir();
        std::fs::create_dir_all(&dir).expect("create ~/.komodo");
        let path = self.credentials_path();
        std::fs::write(&path, contents).expect("write the credentials file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
        }
        path
    }

    /// Reads `~/.komodo/credentials`, if it exists.
    pub fn read_credentials(&self) -> Option<String> {
        std::fs::read_to_string(self.credentials_path()).ok()
    }

    /// Environment for a child process that must see only this home:
    /// `HOME` and the XDG directories under it.
    pub fn envs(&self) -> Vec<(String, String)> {
        let home = self.dir.path().display().to_string();
        vec![
            ("HOME".into(), home.clone()),
            ("XDG_CONFIG_HOME".into(), format!("{home}/.config")),
            ("XDG_DATA_HOME".into(), format!("{home}/.local/share")),
            ("XDG_CACHE_HOME".into(), format!("{home}/.cache")),
        ]
    }
}

impl Default for TempHome {
    fn default() -> Self {
        TempHome::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_private_credentials() {
        let home = TempHome::new();
        assert!(home.read_credentials().is_none());
        let path = home.write_credentials("[default]\ntoken = x\n");
        assert_eq!(home.read_credentials().as_deref(), Some("[default]\ntoken = x\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(home.envs().iter().any(|(k, v)| k == "HOME" && v == &home.path().display().to_string()));
    }
}
