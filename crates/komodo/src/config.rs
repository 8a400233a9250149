//! What the SDK takes from its surroundings, injected so tests control it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::clock::{Clock, SystemClock};
use crate::env::Env;

/// The environment, clock and HTTP client every provider and client uses.
///
/// The file-system root is the environment's: the credentials file is found
/// through `KOMODO_CREDENTIALS_PATH` or `HOME`, so a test points both at a
/// temporary directory and never touches the real home directory.
#[derive(Clone)]
pub struct ProviderConfig {
    env: Env,
    clock: Arc<dyn Clock>,
    http: Arc<OnceLock<reqwest::Client>>,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig").field("env", &self.env).field("clock", &self.clock).finish_non_exhaustive()
    }
}

impl ProviderConfig {
    /// The real process environment and the system clock.
    pub fn from_process() -> Self {
        Self::new(Env::real())
    }

    /// The given environment with the system clock.
    pub fn new(env: Env) -> Self {
        Self { env, clock: Arc::new(SystemClock), http: Arc::new(OnceLock::new()) }
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the HTTP client.
    pub fn with_http(self, http: reqwest::Client) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(http);
        Self { http: Arc::new(cell), ..self }
    }

    /// The environment.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// The HTTP client, built on first use (so commands that make no
    /// request never pay for it).
    pub fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("komodo-rust/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default()
        })
    }
}
