//! A replica's cache of service principals' secret hashes, so that the
//! client credentials grant does not read the database on every call.
//!
//! What keeps it honest:
//!
//! - The store drops an entry whenever it rotates or deletes that principal's
//!   secret, and on PostgreSQL tells every other replica through
//!   `NOTIFY` on [`CHANNEL`]; each replica's [`Store::listen_for_changes`]
//!   task drops the entry it names.
//! - On PostgreSQL the cache is used only while that listener is connected:
//!   it is emptied and bypassed from the moment the connection is lost until
//!   it is back, since changes made meanwhile are not announced.
//! - A read that races with a change cannot put the old value back: an
//!   entry read before an invalidation is not stored after it.
//! - Every entry expires after [`TTL`] whatever happens, which bounds any
//!   staleness this reasoning missed (a second SQLite process, say).
//!
//! Only principals that exist are cached (an unknown client id always goes
//! to the database), and what is cached is the keyed hash, never a secret.
//! A cached client id is answered sooner than an unknown one; client ids
//! carry 128 random bits, so that tells nothing that helps find one.
//! Tokens already issued are not affected by any of this: every use of a
//! token checks that its principal still exists (T02).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::{Backend, Store};

/// The PostgreSQL notification channel that carries the client ids of
/// service principals whose secret changed.
pub const CHANNEL: &str = "komodo_service_principal_changed";

/// The longest an entry is used.
pub const TTL: Duration = Duration::from_secs(30);

/// Entries held at most; a full cache starts over.
const CAPACITY: usize = 100_000;

struct Entry<V> {
    value: Arc<V>,
    at: Instant,
}

/// The cache (one per [`Store`]), by client id; `V` is what the store
/// keeps for a principal (its row and secret hash).
pub(crate) struct PrincipalCache<V> {
    entries: RwLock<HashMap<String, Entry<V>>>,
    /// Bumped by every invalidation: a read that started before one may not
    /// store what it read.
    generation: AtomicU64,
    /// Whether invalidations are being received (always on SQLite, where
    /// every change of a running server goes through its own store).
    live: AtomicBool,
    ttl: Duration,
}

impl<V> PrincipalCache<V> {
    pub(crate) fn new(backend: Backend) -> Self {
        Self {
            entries: RwLock::default(),
            generation: AtomicU64::new(0),
            live: AtomicBool::new(backend == Backend::Sqlite),
            ttl: TTL,
        }
    }

    /// A fresh entry for `client_id`.
    pub(crate) fn get(&self, client_id: &str) -> Option<Arc<V>> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.read();
        entries.get(client_id).filter(|e| e.at.elapsed() < self.ttl).map(|e| e.value.clone())
    }

    /// The generation to pass to [`insert`](Self::insert) after reading.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Stores what was read for `client_id` at `generation`, unless
    /// something was invalidated since.
    pub(crate) fn insert(&self, generation: u64, client_id: &str, value: Arc<V>) {
        if !self.live.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries.write();
        // Checked under the lock that invalidations take, so none slips in
        // between the check and the insert.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(client_id.to_owned(), Entry { value, at: Instant::now() });
    }

    /// Forgets `client_id`.
    pub(crate) fn invalidate(&self, client_id: &str) {
        let mut entries = self.entries.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(client_id);
    }

    /// Forgets everything, and uses the cache from now on only if `live`.
    pub(crate) fn reset(&self, live: bool) {
        let mut entries = self.entries.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.live.store(live, Ordering::Release);
        entries.clear();
    }

    #[cfg(test)]
    fn with_ttl(backend: Backend, ttl: Duration) -> Self {
        Self { ttl, ..Self::new(backend) }
    }
}

impl Store {
    /// Whether this replica answers service principal lookups from its
    /// cache right now (on PostgreSQL: whether it is following the other
    /// replicas' changes).
    pub fn caches_service_principals(&self) -> bool {
        self.principals.live.load(Ordering::Acquire)
    }

    /// Follows the other replicas' changes to service principals (on
    /// PostgreSQL; on SQLite there is nothing to follow and this returns
    /// `None`). Runs until aborted; reconnects by itself, and the cache is
    /// bypassed while it is not connected.
    pub fn listen_for_changes(&self, database_url: &str) -> Option<tokio::task::JoinHandle<()>> {
        if self.backend() != Backend::Postgres {
            return None;
        }
        let (store, url) = (self.clone(), database_url.to_owned());
        Some(tokio::spawn(async move { store.follow_changes(&url).await }))
    }

    async fn follow_changes(&self, url: &str) {
        let cache = &self.principals;
        let mut failures = 0u32;
        loop {
            let connected = async {
                let mut listener = sqlx::postgres::PgListener::connect(url).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            }
            .await;
            let mut listener = match connected {
                Ok(listener) => listener,
                Err(error) => {
                    cache.reset(false);
                    failures += 1;
                    if failures == 1 || failures.is_power_of_two() {
                        tracing::warn!(%error, "cannot listen for service principal changes; not caching secrets meanwhile");
                    }
                    tokio::time::sleep(Duration::from_secs(1).min(Duration::from_millis(100) * failures)).await;
                    continue;
                }
            };
            failures = 0;
            // Listening from here on: whatever was cached before is suspect.
            cache.reset(true);
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => cache.invalidate(notification.payload()),
                    // Lost and already reconnected: changes in between were
                    // not announced.
                    Ok(None) => cache.reset(true),
                    Err(error) => {
                        tracing::warn!(%error, "lost the service principal change listener; reconnecting");
                        cache.reset(false);
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Tells the other replicas, when `tx` commits, that `client_id`'s
    /// secret changed (in the same transaction as the change, so that
    /// there is never one without the other). The caller drops the entry
    /// from this replica's cache once `tx` has committed.
    pub(crate) async fn announce_principal_change(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        client_id: &str,
    ) -> Result<(), sqlx::Error> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(client_id).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(cache: &PrincipalCache<String>, client_id: &str, hash: &str) {
        cache.insert(cache.generation(), client_id, Arc::new(hash.to_owned()));
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_stored() {
        let cache = PrincipalCache::new(Backend::Sqlite);
        let before = cache.generation();
        cache.invalidate("kmd_sp_a");
        cache.insert(before, "kmd_sp_a", Arc::new("old".to_owned()));
        assert!(cache.get("kmd_sp_a").is_none());
        insert(&cache, "kmd_sp_a", "new");
        assert_eq!(*cache.get("kmd_sp_a").unwrap(), "new");
    }

    #[test]
    fn invalidation_forgets_only_its_principal() {
        let cache = PrincipalCache::new(Backend::Sqlite);
        insert(&cache, "a", "1");
        insert(&cache, "b", "2");
        cache.invalidate("a");
        assert!(cache.get("a").is_none());
        assert_eq!(*cache.get("b").unwrap(), "2");
    }

    #[test]
    fn postgres_cache_is_off_until_listening_and_after_losing_it() {
        let cache = PrincipalCache::new(Backend::Postgres);
        insert(&cache, "a", "1");
        assert!(cache.get("a").is_none(), "nothing is cached before the listener connects");
        cache.reset(true);
        insert(&cache, "a", "1");
        assert!(cache.get("a").is_some());
        cache.reset(false);
        assert!(cache.get("a").is_none(), "a lost listener empties and bypasses the cache");
    }

    #[test]
    fn entries_expire() {
        let cache = PrincipalCache::with_ttl(Backend::Sqlite, Duration::ZERO);
        insert(&cache, "a", "1");
        assert!(cache.get("a").is_none());
    }
}
