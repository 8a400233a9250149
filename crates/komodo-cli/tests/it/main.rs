//! End-to-end tests of the `komodo` binary against the real platform on
//! 127.0.0.1 (its warehouse included), each with its own temporary HOME,
//! and snapshots of its help texts and error messages.

mod e2e;
mod load;
mod security;
mod snapshots;
mod sql;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// A temporary home directory and the platform URL commands talk to.
pub(crate) struct Home {
    pub(crate) dir: TempDir,
    pub(crate) api_url: String,
    pub(crate) extra_env: Vec<(String, String)>,
}

impl Home {
    pub(crate) fn new(api_url: &str) -> Self {
        Self { dir: tempfile::tempdir().unwrap(), api_url: api_url.to_owned(), extra_env: Vec::new() }
    }

    pub(crate) fn credentials(&self) -> PathBuf {
        self.dir.path().join(".komodo/credentials")
    }

    pub(crate) fn read_credentials(&self) -> String {
        std::fs::read_to_string(self.credentials()).unwrap_or_default()
    }

    /// Writes the credentials file as `komodo` would: private file and directory.
    pub(crate) fn write_credentials(&self, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.credentials().parent().unwrap().to_owned();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(self.credentials(), text).unwrap();
        std::fs::set_permissions(self.credentials(), std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// `komodo ARGS` with a clean environment: HOME, PATH, the platform URL.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_komodo"));
        command
            .args(args)
            .env_clear()
            .env("HOME", self.dir.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KOMODO_API_URL", &self.api_url)
            .env("NO_COLOR", "1")
            .env("BROWSER", "none")
            .stdin(Stdio::null());
        for (k, v) in &self.extra_env {
            command.env(k, v);
        }
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        Run(self.command(args).output().unwrap())
    }
}

/// A finished command.
pub(crate) struct Run(pub(crate) Output);

impl Run {
    pub(crate) fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    #[track_caller]
    pub(crate) fn success(&self) -> &Self {
        assert_eq!(self.code(), 0, "command failed\nstdout: {}\nstderr: {}", self.stdout(), self.stderr());
        self
    }

    #[track_caller]
    pub(crate) fn failure(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "unexpected exit code\nstdout: {}\nstderr: {}", self.stdout(), self.stderr());
        self
    }
}

/// Replaces what changes from run to run: the home directory, ports, times.
pub(crate) fn filter(text: &str, home: &Path) -> String {
    let text = text.replace(home.to_str().unwrap(), "[HOME]");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    // 127.0.0.1:PORT
    while let Some(i) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..i + "127.0.0.1:".len()]);
        rest = &rest[i + "127.0.0.1:".len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(if digits > 0 { "[PORT]" } else { "" });
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}
