//! The credentials file: `~/.komodo/credentials`, or `KOMODO_CREDENTIALS_PATH`.
//!
//! The file is INI exactly as the seed shows it:
//!
//! ```ini
//! [default]
//! token = eyJ0eXAiOiJKV1QiLCJhbGc...
//! token_expiration = 1234567890
//! account_id = 123e4567-e89b-12d3-a456-426614174000
//! account_slug = my-organization
//! [production]
//! client_id = client_id_123456
//! client_secret = client_secret_123456
//! account_id = 123456789
//! account_slug = prod-org
//! ```
//!
//! - [`Document`] parses it strictly and edits it in place: comments, blank
//!   lines, key order and unknown keys survive every write.
//! - [`CredentialsStore`] reads and writes it safely: an exclusive lock on a
//!   sidecar file, a temporary file in the same directory, `fsync`, and an
//!   atomic rename, so a crash never leaves a truncated file and concurrent
//!   writers to different profiles never lose each other's changes. The
//!   directory is created 0700 and the file written 0600; a file others can
//!   read gets a [`PermissionWarning`].
//! - [`Profile`] gives a section its meaning: a login token or client
//!   credentials.
//!
//! A file that cannot be parsed is an error naming the path, the line and
//! the problem, and no command ever overwrites it.

mod document;
mod file;
mod profile;

use std::path::PathBuf;

pub use document::{Document, EditError, ParseError, Problem, Section};
pub use file::{CredentialsStore, LockedCredentials, PermissionWarning};
pub use profile::{ClientCredentialsProfile, LoginProfileEdit, Profile, TokenProfile, keys};

/// Errors reading, parsing or writing the credentials file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The file could not be parsed; nothing was written to it.
    #[error("cannot read credentials file {}: {error} (the file was left as it is)", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line and the problem.
        error: ParseError,
    },
    /// An edit was refused before touching the file.
    #[error("cannot update credentials file {}", path.display())]
    Edit {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: EditError,
    },
    /// A section's contents do not make a usable profile.
    #[error("profile [{profile}] in {} (line {line}): {problem}", path.display())]
    InvalidProfile {
        /// The file.
        path: PathBuf,
        /// The section.
        profile: String,
        /// The line at fault (the header when a key is missing).
        line: usize,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// An I/O error on the file, its directory or its lock.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `lock`, `create directory`).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No path could be worked out for the file.
    #[error("cannot locate the credentials file: neither KOMODO_CREDENTIALS_PATH nor HOME is set")]
    NoHome,
}
