//! Binding, serving and graceful shutdown; the accept loop and its limits
//! are in [`connections`].

pub mod connections;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::bootstrap::BootstrapReport;
use crate::config::Config;
use crate::state::{AppState, OpenError};

/// Errors while starting the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The platform could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A bound, opened platform, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    metrics: Option<(TcpListener, SocketAddr)>,
    state: AppState,
    bootstrap: Option<BootstrapReport>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).field("state", &self.state).finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `config.listen` (port 0 picks a free port) and opens the
    /// platform with issuer `config.issuer` or `http://<bound address>`.
    pub async fn bind(config: Config) -> Result<Server, ServeError> {
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|source| ServeError::Bind { addr: config.listen.clone(), source })?;
        let addr = listener.local_addr()?;
        let metrics = match &config.metrics_listen {
            Some(metrics_addr) => {
                let listener = TcpListener::bind(metrics_addr)
                    .await
                    .map_err(|source| ServeError::Bind { addr: metrics_addr.clone(), source })?;
                let bound = listener.local_addr()?;
                Some((listener, bound))
            }
            None => None,
        };
        if config.issuer.is_none() && addr.ip().is_unspecified() {
            tracing::warn!(%addr, "listening on an unspecified address without --issuer; tokens will name http://{addr} as issuer, set --issuer to the URL clients use");
        }
        let issuer = config.issuer.clone().unwrap_or_else(|| format!("http://{addr}"));
        let (state, bootstrap) = AppState::open(config, issuer).await?;
        Ok(Server { listener, addr, metrics, state, bootstrap })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address `/metrics` is served on when it has a listener of its
    /// own (`--metrics-listen`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    /// `http://HOST:PORT` of the bound address.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The platform state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// What the first start created (once).
    pub fn take_bootstrap_report(&mut self) -> Option<BootstrapReport> {
        self.bootstrap.take()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let purge_state = self.state.clone();
        let purge = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(600));
            loop {
                every.tick().await;
                if let Err(e) = purge_state.store().purge_expired().await {
                    tracing::warn!(error = %e, "could not purge expired codes");
                }
                // Retired keys whose tokens have all expired (D03).
                if let Err(e) = purge_state.keys().delete_withdrawn().await {
                    tracing::warn!(error = %e, "could not delete withdrawn signing keys");
                }
            }
        });
        let janitor = crate::gateway::spawn_janitor(self.state.clone());
        let follower = self.state.store().listen_for_changes(&self.state.config().effective_database_url());
        let config = self.state.config();
        let limits = connections::Limits {
            header_read_timeout: config.header_read_timeout,
            body_read_timeout: config.body_read_timeout,
            max_connections: connections::affordable_connections(config.max_connections),
        };
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let signal = tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
            // Kept until the connections are closed: a dropped sender reads
            // as a shutdown too, which is what it is.
            stop
        });
        let metrics = self.metrics.map(|(listener, addr)| {
            tracing::info!(%addr, "serving /metrics on its own address");
            let app = crate::ops::metrics_app(self.state.clone());
            let limits = connections::Limits { max_connections: METRICS_CONNECTIONS, ..limits };
            tokio::spawn(connections::serve(listener, app, limits, stopping.clone()))
        });
        connections::serve(self.listener, crate::app(self.state.clone()), limits, stopping).await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        signal.abort();
        purge.abort();
        janitor.abort();
        if let Some(follower) = follower {
            follower.abort();
        }
        self.state.gateway().history().close().await;
        self.state.store().close().await;
        Ok(())
    }
}

/// Connections served at once on the `--metrics-listen` address.
const METRICS_CONNECTIONS: usize = 64;

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
