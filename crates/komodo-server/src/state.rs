//! The shared application state handed to every handler.
//!
//! `AppState` is a cheap handle (`Arc`) over everything a replica needs: its
//! configuration, the store, the key ring and the secrets derived from the
//! master key, and the connector gateway with its warehouse engine.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::bootstrap::{self, BootstrapReport};
use crate::config::Config;
use crate::crypto::{CryptoError, MasterKey, Secrets};
use crate::keys::{KeyError, KeyRing, KeyRingSettings};
use crate::queries::Gateway;
use crate::store::{Store, StoreError};
use crate::tokens::Minter;

/// Errors while opening the platform.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The master key could not be loaded or created.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing keys could not be loaded or created.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The embedded warehouse could not be opened or the demo data loaded.
    #[error("warehouse: {0}")]
    Warehouse(#[from] komodo_warehouse::WarehouseError),
    /// The master key is new but the store already holds keys encrypted
    /// with another one.
    #[error(
        "the store already holds signing keys but the master key file {0} was just created; \
         point --data-dir at the directory holding the original master.key"
    )]
    MasterKeyMismatch(String),
}

/// A handle to the platform's shared state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    issuer: String,
    store: Store,
    secrets: Arc<Secrets>,
    keys: KeyRing,
    metrics: Option<PrometheusHandle>,
    gateway: Arc<Gateway>,
    upstreams: Arc<crate::upstream::Upstreams>,
    body_decoders: tokio::sync::Semaphore,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("issuer", &self.0.issuer).finish_non_exhaustive()
    }
}

/// Opens the store and the master key of `config` (shared by the server and
/// the admin commands).
pub(crate) async fn open_store_and_secrets(config: &Config) -> Result<(Store, Arc<Secrets>), OpenError> {
    crate::crypto::create_private_dir(&config.data_dir)
        .map_err(|source| CryptoError::MasterKeyIo { path: config.data_dir.display().to_string(), source })?;
    let store = Store::connect(&config.effective_database_url()).await?;
    let path = config.master_key_path();
    let (master, created) = MasterKey::load_or_create(&path)?;
    if created && !store.signing_keys().await?.is_empty() {
        let _ = std::fs::remove_file(&path);
        return Err(OpenError::MasterKeyMismatch(path.display().to_string()));
    }
    Ok((store, Arc::new(Secrets::from_master(&master))))
}

impl AppState {
    /// Opens the platform: store (migrated), master key (created on first
    /// start), signing keys (generated on first start) and, when
    /// `config.bootstrap` is set and the store is new, the first admin, the
    /// `demo` organisation and account and the CLI client. `issuer` is the
    /// URL the platform is reached at.
    pub async fn open(config: Config, issuer: String) -> Result<(AppState, Option<BootstrapReport>), OpenError> {
        let config = config.normalised();
        let (store, secrets) = open_store_and_secrets(&config).await?;
        let keys = KeyRing::open(
            store.clone(),
            secrets.clone(),
            config.signing_alg,
            KeyRingSettings {
                refresh_every: config.key_refresh_interval,
                max_token_lifetime: config.max_token_lifetime(),
                issuer: issuer.clone(),
                audiences: config.accepted_audiences(),
                leeway: config.clock_leeway.as_secs(),
            },
        )
        .await?;
        let report = bootstrap::run(&store, &config).await?;
        let engine = Arc::new(komodo_warehouse::Engine::new(config.effective_warehouse_dir(), config.engine.clone())?);
        if let Some(report) = &report
            && config.demo_claims > 0
        {
            let options = komodo_warehouse::demo::DemoOptions { claims: config.demo_claims, ..Default::default() };
            bootstrap::load_demo_into(&engine, &report.account_id, options).await?;
        }
        let gateway = Arc::new(Gateway::new(engine.clone(), config.gateway.clone()));
        let times = crate::queries::history::StatementTimes::new(store.clone(), Arc::downgrade(&gateway));
        engine.set_statement_times(Arc::new(times));
        let upstreams = Arc::new(crate::upstream::Upstreams::new(store.clone(), secrets.clone(), config.upstream));
        let metrics = crate::telemetry::metrics_handle();
        let body_decoders = tokio::sync::Semaphore::new(config.effective_body_decode_threads());
        Ok((
            AppState(Arc::new(Inner {
                config,
                issuer,
                store,
                secrets,
                keys,
                metrics,
                gateway,
                upstreams,
                body_decoders,
            })),
            report,
        ))
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The issuer identifier, exactly as configured (a trailing slash
    /// kept: it is compared character for character).
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.0.keys
    }

    /// The connector gateway and its warehouse engine.
    pub fn gateway(&self) -> &Gateway {
        &self.0.gateway
    }

    /// The accounts' upstream Snowflake warehouses and sessions on this
    /// replica.
    pub fn upstreams(&self) -> &crate::upstream::Upstreams {
        &self.0.upstreams
    }

    /// The secrets derived from the master key.
    pub fn secrets(&self) -> &Secrets {
        &self.0.secrets
    }

    pub(crate) fn secrets_arc(&self) -> Arc<Secrets> {
        self.0.secrets.clone()
    }

    /// Permits to decompress or parse a request body off the request
    /// threads (`--body-decode-threads`).
    pub(crate) fn body_decoders(&self) -> &tokio::sync::Semaphore {
        &self.0.body_decoders
    }

    pub(crate) fn metrics(&self) -> Option<&PrometheusHandle> {
        self.0.metrics.as_ref()
    }

    /// Mints tokens with this platform's keys, store and lifetimes.
    pub fn minter(&self) -> Minter<'_> {
        Minter::new(&self.0.keys, &self.0.store, &self.0.config)
    }

    /// An absolute URL on this platform (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.0.issuer.trim_end_matches('/'), path)
    }
}
