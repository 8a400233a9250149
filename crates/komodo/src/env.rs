//! Every `KOMODO_*` environment variable the SDK and CLI read, documented in
//! one place, and [`Env`], the injectable view of the process environment.
//!
//! Code never calls `std::env::var` directly: it asks an [`Env`], which is
//! either the real process environment ([`Env::real`]) or a fixed set of
//! variables ([`Env::from_slice`]), so tests never touch the real process
//! environment.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Path of the credentials file; overrides `~/.komodo/credentials`.
pub const KOMODO_CREDENTIALS_PATH: &str = "KOMODO_CREDENTIALS_PATH";
/// Name of a profile (a section of the credentials file holding client
/// credentials) to authenticate with, as if `profile=` had been passed.
pub const KOMODO_PROFILE: &str = "KOMODO_PROFILE";
/// An access token (JWT) to authenticate with; needs `KOMODO_ACCOUNT_ID`.
pub const KOMODO_ACCESS_TOKEN: &str = "KOMODO_ACCESS_TOKEN";
/// A service principal's client id; needs `KOMODO_CLIENT_SECRET` and
/// `KOMODO_ACCOUNT_ID`.
pub const KOMODO_CLIENT_ID: &str = "KOMODO_CLIENT_ID";
/// A service principal's client secret; needs `KOMODO_CLIENT_ID` and
/// `KOMODO_ACCOUNT_ID`.
pub const KOMODO_CLIENT_SECRET: &str = "KOMODO_CLIENT_SECRET";
/// The account to act on. Completes `KOMODO_ACCESS_TOKEN` or the client
/// credentials; on its own it selects the account for the `[default]`
/// profile and web login, like the `account_id` argument.
pub const KOMODO_ACCOUNT_ID: &str = "KOMODO_ACCOUNT_ID";
/// The platform's base URL (one origin for OAuth, IAM and the gateway).
pub const KOMODO_API_URL: &str = "KOMODO_API_URL";
/// A named set of platform URLs (`local`, `production`, ...), as existing
/// Komodo clients use it; `KOMODO_API_URL` wins over it.
pub const KOMODO_ENVIRONMENT: &str = "KOMODO_ENVIRONMENT";
/// Log verbosely to stderr: `debug`, `trace`, or a tracing filter.
pub const KOMODO_LOG: &str = "KOMODO_LOG";
/// The user's home directory, under which `.komodo/credentials` lives.
pub const HOME: &str = "HOME";

/// A documented environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable's name.
    pub name: &'static str,
    /// What it does, in one sentence.
    pub description: &'static str,
    /// Whether its value is a secret that must never be printed.
    pub secret: bool,
}

/// Every variable the SDK and CLI read, in the order the README lists them.
pub const VARIABLES: &[EnvVar] = &[
    EnvVar {
        name: KOMODO_API_URL,
        description: "The platform's base URL (OAuth, IAM and gateway share it); defaults to the local platform.",
        secret: false,
    },
    EnvVar {
        name: KOMODO_ENVIRONMENT,
        description: "A named set of platform URLs (`local`, `dev`, `staging`, `production`); `KOMODO_API_URL` wins over it.",
        secret: false,
    },
    EnvVar {
        name: KOMODO_CREDENTIALS_PATH,
        description: "Path of the credentials file instead of `~/.komodo/credentials`.",
        secret: false,
    },
    EnvVar {
        name: KOMODO_PROFILE,
        description: "A named profile (client credentials) to use, as if `profile=` had been passed.",
        secret: false,
    },
    EnvVar {
        name: KOMODO_ACCESS_TOKEN,
        description: "An access token (JWT) to use; needs `KOMODO_ACCOUNT_ID`.",
        secret: true,
    },
    EnvVar {
        name: KOMODO_CLIENT_ID,
        description: "A service principal's client id; needs `KOMODO_CLIENT_SECRET` and `KOMODO_ACCOUNT_ID`.",
        secret: false,
    },
    EnvVar {
        name: KOMODO_CLIENT_SECRET,
        description: "A service principal's client secret; needs `KOMODO_CLIENT_ID` and `KOMODO_ACCOUNT_ID`.",
        secret: true,
    },
    EnvVar {
        name: KOMODO_ACCOUNT_ID,
        description: "The account to act on; completes a token or client credentials, or selects the account for `[default]`.",
        secret: false,
    },
    EnvVar {
        name: KOMODO_LOG,
        description: "Log to stderr at this level (`debug`, `trace`, or a tracing filter); logs never contain secrets.",
        secret: false,
    },
];

/// A view of environment variables: the real process environment, or a
/// fixed set for tests.
///
/// `Debug` lists variable names only, never values.
#[derive(Clone)]
pub struct Env(Arc<Inner>);

enum Inner {
    Real,
    Fixed(HashMap<String, String>),
}

impl Env {
    /// The real process environment.
    pub fn real() -> Self {
        Self(Arc::new(Inner::Real))
    }

    /// A fixed environment holding exactly these variables.
    pub fn from_slice(vars: &[(&str, &str)]) -> Self {
        Self(Arc::new(Inner::Fixed(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())))
    }

    /// The value of a variable, or `None` when it is unset or not valid
    /// Unicode. An empty value is returned as `Some("")`: callers decide
    /// whether that is an error.
    pub fn get(&self, name: &str) -> Option<String> {
        match &*self.0 {
            Inner::Real => std::env::var(name).ok(),
            Inner::Fixed(map) => map.get(name).cloned(),
        }
    }

    /// The home directory from `HOME`, if set and not empty.
    pub fn home_dir(&self) -> Option<PathBuf> {
        self.get(HOME).filter(|h| !h.is_empty()).map(PathBuf::from)
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Inner::Real => f.write_str("Env::Real"),
            Inner::Fixed(map) => {
                let mut names: Vec<&str> = map.keys().map(String::as_str).collect();
                names.sort_unstable();
                f.debug_tuple("Env::Fixed").field(&names).finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_env_reads_only_its_own_variables() {
        let env = Env::from_slice(&[(KOMODO_PROFILE, "production"), (HOME, "/home/ada")]);
        assert_eq!(env.get(KOMODO_PROFILE).as_deref(), Some("production"));
        assert_eq!(env.get("PATH"), None);
        assert_eq!(env.home_dir(), Some(PathBuf::from("/home/ada")));
    }

    #[test]
    fn debug_shows_names_not_values() {
        let env = Env::from_slice(&[(KOMODO_CLIENT_SECRET, "kmd_sp_topsecret")]);
        let debug = format!("{env:?}");
        assert!(debug.contains(KOMODO_CLIENT_SECRET));
        assert!(!debug.contains("topsecret"));
    }

    #[test]
    fn readme_table_matches_the_variables() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("<!-- generated from crates/komodo/src/env.rs").expect("table start marker");
        let end = readme.find("<!-- end of generated table -->").expect("table end marker");
        let mut expected = String::from("| variable | meaning |\n|---|---|\n");
        for var in VARIABLES {
            expected.push_str(&format!("| `{}` | {} |\n", var.name, var.description));
        }
        let table = &readme[start..end];
        let table = &table[table.find('\n').unwrap() + 1..];
        assert_eq!(table, expected, "regenerate the README's variable table from env::VARIABLES");
    }

    #[test]
    fn every_variable_is_documented_once() {
        let mut names: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), VARIABLES.len());
        assert!(VARIABLES.iter().all(|v| v.name.starts_with("KOMODO_") && !v.description.is_empty()));
    }
}
