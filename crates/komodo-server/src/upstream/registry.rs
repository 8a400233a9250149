//! What a replica holds of the accounts whose warehouse is an upstream
//! Snowflake account: each account's client (its settings and opened key,
//! read from the store and kept for a few seconds), one upstream session
//! per gateway session (opened at the gateway login, or again on another
//! replica or after a restart, from the session's stored context), each
//! account's circuit breaker, and where relayed results' chunks are.
//!
//! [`Upstreams::call`] is every call to an upstream: it admits it through
//! the breaker, renews or reopens an expired upstream session once, and
//! retries what did not reach the upstream with the same request id and a
//! growing `retryCount`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use komodo_protocol::gateway::Envelope;

use super::breaker::{Breaker, BreakerSettings};
use super::client::{Call, LoginContext, UpstreamAccount, UpstreamClient, UpstreamError, UpstreamSession};
use super::keypair::SigningKey;
use super::relay::{ChunkSources, RawData};
use crate::config::UpstreamConfig;
use crate::crypto::Secrets;
use crate::store::Store;
use crate::store::warehouses::WarehouseBackendRow;

/// The signing key of an account's upstream, opened from its row with the
/// master key (a key copied to another account's row does not open).
pub fn open_key(secrets: &Secrets, row: &WarehouseBackendRow) -> Result<SigningKey, String> {
    let der = secrets
        .open(&row.private_key, &key_aad(&row.account_id))
        .map_err(|_| "the private key does not open with this master key".to_owned())?;
    SigningKey::from_pkcs8_der(&der).map_err(|e| e.to_string())
}

/// How long after its first attempt a call may still be made again.
const RETRY_WITHIN: Duration = Duration::from_secs(10);

/// What the sealed key is bound to (a key copied to another account's row
/// does not open).
pub fn key_aad(account_id: &str) -> String {
    format!("warehouse_backend:{account_id}")
}

/// Why an upstream could not be used.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamFailure {
    /// The call failed (unreachable, refused, not its protocol).
    #[error(transparent)]
    Call(#[from] UpstreamError),
    /// The breaker is open: the upstream failed repeatedly just now.
    #[error("the account's Snowflake warehouse failed repeatedly just now; the platform tries it again in {0} s")]
    CircuitOpen(u64),
    /// The account's settings could not be read or its key opened.
    #[error("the account's Snowflake settings cannot be used: {0}")]
    Settings(String),
}

/// The upstream session of one gateway session.
pub struct Slot {
    /// The account.
    pub account_id: String,
    client: Arc<UpstreamClient>,
    context: LoginContext,
    session: tokio::sync::Mutex<Option<UpstreamSession>>,
    last_used: Mutex<Instant>,
}

impl Slot {
    /// The client of the slot's upstream.
    pub fn client(&self) -> &Arc<UpstreamClient> {
        &self.client
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("account_id", &self.account_id).finish_non_exhaustive()
    }
}

struct Cached {
    fetched: Instant,
    client: Option<Arc<UpstreamClient>>,
    /// The settings the client was made from.
    version: String,
}

/// A relayed result's chunks.
#[derive(Debug)]
pub struct RelayedChunks {
    /// The account the result belongs to.
    pub account_id: String,
    /// The secret chunk downloads must carry.
    pub token: String,
    /// Where the chunks are upstream.
    pub sources: ChunkSources,
    /// The client that fetches them.
    pub client: Arc<UpstreamClient>,
    expires: Instant,
}

/// The replica's upstream accounts and sessions.
pub struct Upstreams {
    http: reqwest::Client,
    store: Store,
    secrets: Arc<Secrets>,
    settings: UpstreamConfig,
    accounts: Mutex<HashMap<String, Cached>>,
    sessions: Mutex<HashMap<String, Arc<Slot>>>,
    breakers: Mutex<HashMap<String, Breaker>>,
    chunks: Mutex<HashMap<String, Arc<RelayedChunks>>>,
    in_flight: Arc<Mutex<HashMap<(String, String), String>>>,
}

/// A statement on its way upstream, findable by its client's request id
/// until it is answered (and recorded): a client that gives up waiting
/// aborts it by that id ([`Upstreams::in_flight`]).
pub struct InFlight {
    key: (String, String),
    map: Arc<Mutex<HashMap<(String, String), String>>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
    }
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstreams").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Upstreams {
    /// The registry of a replica.
    pub fn new(store: Store, secrets: Arc<Secrets>, settings: UpstreamConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            http,
            store,
            secrets,
            settings,
            accounts: Mutex::default(),
            sessions: Mutex::default(),
            breakers: Mutex::default(),
            chunks: Mutex::default(),
            in_flight: Arc::default(),
        }
    }

    /// Notes that gateway session `session` sent the statement `query_id`
    /// upstream under its client's `request_id`, until the guard drops.
    pub fn start_in_flight(&self, session: &str, request_id: &str, query_id: &str) -> InFlight {
        let key = (session.to_owned(), request_id.to_owned());
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone(), query_id.to_owned());
        InFlight { key, map: self.in_flight.clone() }
    }

    /// The gateway query id of a statement of `session` still on its way
    /// upstream under the client's `request_id`.
    pub fn in_flight(&self, session: &str, request_id: &str) -> Option<String> {
        let key = (session.to_owned(), request_id.to_owned());
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned()
    }

    /// The settings in force.
    pub fn settings(&self) -> &UpstreamConfig {
        &self.settings
    }

    /// The client of `account_id`'s upstream, or `None` when the account
    /// uses the embedded warehouse.
    pub async fn backend(&self, account_id: &str) -> Result<Option<Arc<UpstreamClient>>, UpstreamFailure> {
        {
            let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(cached) = accounts.get(account_id)
                && cached.fetched.elapsed() < self.settings.backend_ttl
            {
                return Ok(cached.client.clone());
            }
        }
        let row = self
            .store
            .warehouse_backend(account_id)
            .await
            .map_err(|e| UpstreamFailure::Settings(format!("the store: {e}")))?;
        let version = row.as_ref().map_or_else(String::new, version_of);
        // The same settings as before: keep the client (and its sessions).
        {
            let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(cached) = accounts.get_mut(account_id)
                && cached.version == version
            {
                cached.fetched = Instant::now();
                return Ok(cached.client.clone());
            }
        }
        let client = match row {
            Some(row) => Some(Arc::new(self.client_of(&row)?)),
            None => None,
        };
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts.insert(account_id.to_owned(), Cached { fetched: Instant::now(), client: client.clone(), version });
        Ok(client)
    }

    fn client_of(&self, row: &WarehouseBackendRow) -> Result<UpstreamClient, UpstreamFailure> {
        let key = open_key(&self.secrets, row).map_err(UpstreamFailure::Settings)?;
        let host = url::Url::parse(&row.host).map_err(|e| UpstreamFailure::Settings(format!("the host: {e}")))?;
        Ok(UpstreamClient::new(
            self.http.clone(),
            UpstreamAccount {
                host,
                account_name: row.account_name.clone(),
                user: row.user_name.clone(),
                key: Arc::new(key),
                role: row.role_name.clone(),
                warehouse: row.warehouse.clone(),
                database: row.database_name.clone(),
                schema: row.schema_name.clone(),
            },
        ))
    }

    /// The upstream session slot of gateway session `key`, made (not yet
    /// logged in) with `context` when this replica holds none, or when the
    /// one it holds was made with other settings of the account.
    pub fn slot(&self, key: &str, account_id: &str, client: &Arc<UpstreamClient>, context: LoginContext) -> Arc<Slot> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = sessions.get(key)
            && Arc::ptr_eq(&slot.client, client)
        {
            *slot.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
            return slot.clone();
        }
        let slot = Arc::new(Slot {
            account_id: account_id.to_owned(),
            client: client.clone(),
            context,
            session: tokio::sync::Mutex::new(None),
            last_used: Mutex::new(Instant::now()),
        });
        // One made with the account's earlier settings ends upstream.
        if let Some(replaced) = sessions.insert(key.to_owned(), slot.clone()) {
            tokio::spawn(async move { end(&replaced).await });
        }
        slot
    }

    /// The slot this replica holds for gateway session `key`, if any.
    pub fn held(&self, key: &str) -> Option<Arc<Slot>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    /// Logs the slot in now (at the gateway login: the client learns at
    /// once when the upstream refuses); the upstream's session parameters
    /// and where the session starts.
    pub async fn open(
        &self,
        slot: &Slot,
    ) -> Result<
        (Vec<komodo_protocol::gateway::NameValue>, Option<komodo_protocol::gateway::SessionInfo>),
        UpstreamFailure,
    > {
        self.admit(&slot.account_id)?;
        let session = self.logged_in(slot).await.map_err(|e| self.failed(&slot.account_id, e))?;
        self.note_success(&slot.account_id);
        Ok((session.parameters, session.session_info))
    }

    /// Makes `call` in `slot`'s upstream session (logging it in first when
    /// needed), through the breaker, with retries and one renewal.
    pub async fn call(&self, slot: &Slot, call: Call<'_>) -> Result<Envelope<RawData>, UpstreamFailure> {
        *slot.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        let mut attempt = 0u32;
        let mut renewed = false;
        let started = Instant::now();
        // Quick failures (refused connections, 5xx, 429) are retried; a
        // call that already took long is not, so that a slow upstream is
        // answered within the clients' timeouts.
        let may_retry = |attempt: u32| attempt < self.settings.retries && started.elapsed() < RETRY_WITHIN;
        loop {
            self.admit(&slot.account_id)?;
            let answered = match self.logged_in(slot).await {
                Ok(session) => slot.client.call(&session, call, attempt).await.map(|envelope| (session, envelope)),
                Err(error) => Err(error),
            };
            match answered {
                Ok((session, envelope)) if !envelope.success && !renewed && session_ended(envelope.code.as_deref()) => {
                    self.note_success(&slot.account_id);
                    renewed = true;
                    self.renew(slot, &session, envelope.code.as_deref()).await;
                }
                Ok((_, envelope)) => {
                    self.note_success(&slot.account_id);
                    return Ok(envelope);
                }
                Err(error) if error.is_transient() && may_retry(attempt) => {
                    self.note_failure(&slot.account_id);
                    self.pause(attempt).await;
                    attempt += 1;
                }
                Err(error) => return Err(self.failed(&slot.account_id, error)),
            }
        }
    }

    /// The slot's upstream session, logged in first when it has none.
    async fn logged_in(&self, slot: &Slot) -> Result<UpstreamSession, UpstreamError> {
        let mut guard = slot.session.lock().await;
        if let Some(session) = &*guard {
            return Ok(session.clone());
        }
        let session = slot.client.login(&slot.context).await?;
        *guard = Some(session.clone());
        Ok(session)
    }

    /// After the upstream said the session token expired: renew it with
    /// the master token, else forget the session (the next attempt logs in
    /// again).
    async fn renew(&self, slot: &Slot, stale: &UpstreamSession, code: Option<&str>) {
        let mut guard = slot.session.lock().await;
        let current = guard.as_ref().map(|s| s.session_id);
        if current != Some(stale.session_id) {
            return; // Another call replaced it already.
        }
        if code == Some(komodo_protocol::gateway::codes::SESSION_EXPIRED)
            && let Ok(fresh) = slot.client.renew(stale).await
        {
            *guard = Some(fresh);
            return;
        }
        *guard = None;
    }

    /// Fetches a relayed chunk through the client that relayed it.
    pub fn relayed_chunks(&self, query_id: &str) -> Option<Arc<RelayedChunks>> {
        let chunks = self.chunks.lock().unwrap_or_else(|e| e.into_inner());
        chunks.get(query_id).filter(|c| c.expires > Instant::now()).cloned()
    }

    /// Keeps a relayed result's chunk sources for its downloads.
    pub fn keep_chunks(
        &self,
        query_id: &str,
        account_id: &str,
        token: String,
        sources: ChunkSources,
        client: Arc<UpstreamClient>,
    ) {
        let entry = RelayedChunks {
            account_id: account_id.to_owned(),
            token,
            sources,
            client,
            expires: Instant::now() + self.settings.chunk_ttl,
        };
        self.chunks.lock().unwrap_or_else(|e| e.into_inner()).insert(query_id.to_owned(), Arc::new(entry));
    }

    /// Ends the upstream session of gateway session `key`, if this replica
    /// holds one.
    pub async fn close(&self, key: &str) {
        let slot = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        if let Some(slot) = slot {
            end(&slot).await;
        }
    }

    /// Ends the upstream sessions whose gateway session has ended or lost
    /// its access (revocation, a removed membership, a deleted service
    /// principal), and idle bearer sessions; drops expired chunk sources.
    pub async fn sweep(&self) {
        let now = Instant::now();
        self.chunks.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, c| c.expires > now);
        let held: Vec<(String, Arc<Slot>)> = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect();
        if held.is_empty() {
            return;
        }
        let ids: Vec<String> = held.iter().filter(|(k, _)| !k.starts_with("bearer:")).map(|(k, _)| k.clone()).collect();
        let live = match self.store.live_gateway_sessions(&ids).await {
            Ok(live) => live,
            Err(error) => {
                tracing::warn!(%error, "checking upstream sessions against their gateway sessions failed");
                return;
            }
        };
        for (key, slot) in held {
            let ended = match key.starts_with("bearer:") {
                true => slot.last_used.lock().unwrap_or_else(|e| e.into_inner()).elapsed() > self.settings.bearer_idle,
                false => !live.contains(&key),
            };
            // The account moved to another backend, or to other settings.
            let moved = match self.backend(&slot.account_id).await {
                Ok(Some(current)) => !Arc::ptr_eq(&current, &slot.client),
                Ok(None) => true,
                Err(_) => false,
            };
            let ended = ended || moved;
            if ended {
                {
                    let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
                    if sessions.get(&key).is_some_and(|held| Arc::ptr_eq(held, &slot)) {
                        sessions.remove(&key);
                    }
                }
                end(&slot).await;
                tracing::info!(session = %key, account = %slot.account_id, "upstream session ended");
            }
        }
    }

    fn admit(&self, account_id: &str) -> Result<(), UpstreamFailure> {
        let mut breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        breakers.entry(account_id.to_owned()).or_default().admit(Instant::now()).map_err(UpstreamFailure::CircuitOpen)
    }

    fn note_success(&self, account_id: &str) {
        if let Some(b) = self.breakers.lock().unwrap_or_else(|e| e.into_inner()).get_mut(account_id) {
            b.succeeded();
        }
    }

    fn note_failure(&self, account_id: &str) {
        let mut breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        let settings =
            BreakerSettings { threshold: self.settings.breaker_threshold, cooldown: self.settings.breaker_cooldown };
        if breakers.entry(account_id.to_owned()).or_default().failed(Instant::now(), settings) {
            tracing::warn!(account = %account_id, "upstream Snowflake account failing: circuit breaker open");
        }
    }

    /// A failed call, counted for the breaker: a failure to reach the
    /// upstream counts against it, a refusal means it answered.
    fn failed(&self, account_id: &str, error: UpstreamError) -> UpstreamFailure {
        match error.is_transient() {
            true => self.note_failure(account_id),
            false => self.note_success(account_id),
        }
        UpstreamFailure::Call(error)
    }

    async fn pause(&self, attempt: u32) {
        tokio::time::sleep(self.settings.retry_pause * 2u32.saturating_pow(attempt)).await;
    }
}

/// What a client's settings are made of: any change makes a new client.
fn version_of(row: &WarehouseBackendRow) -> String {
    let optional = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        row.host.clone(),
        row.account_name.clone(),
        row.user_name.clone(),
        row.key_fingerprint.clone(),
        optional(&row.role_name),
        optional(&row.warehouse),
        optional(&row.database_name),
        optional(&row.schema_name),
        row.updated_at.to_string(),
        crate::crypto::token_hash(&row.private_key),
    ]
    .join("\u{1f}")
}

/// Whether an upstream error code means the session token no longer works
/// (expired, or the session gone): renew, or log in again.
fn session_ended(code: Option<&str>) -> bool {
    use komodo_protocol::gateway::codes;
    // 390103/390104: no session token, or one the upstream no longer
    // knows ("User must login again").
    matches!(
        code,
        Some(
            codes::SESSION_EXPIRED
                | codes::SESSION_GONE
                | codes::MASTER_TOKEN_EXPIRED
                | codes::MASTER_TOKEN_INVALID
                | "390103"
                | "390104"
        )
    )
}

async fn end(slot: &Slot) {
    let session = slot.session.lock().await.take();
    if let Some(session) = session
        && let Err(error) = slot.client.close(&session).await
    {
        tracing::debug!(account = %slot.account_id, %error, "ending an upstream session failed");
    }
}
