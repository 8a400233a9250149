//! The store's record of quick synchronous queries, written in groups.
//!
//! A synchronous statement that ends before it is recorded (most of them:
//! see `query::start`) has already been answered from this replica's
//! memory, which also serves its retries, polls and `result_scan` here.
//! Its record in the store (history, and the result for other replicas)
//! is not on anyone's path, so instead of a transaction per statement a
//! writer task gathers the records that arrive within a short window and
//! writes them in one transaction of a few multi-row statements. Under a
//! stream of small statements this turns a commit (and the cache reset it
//! causes in every other SQLite connection) per statement into one per
//! window. Records not yet written when the server stops are written by
//! [`History::close`].

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::store::Store;
use crate::store::gateway::FinishedGatewayQuery;

/// The most records written in one transaction.
const MAX_GROUP: usize = 512;
/// Records queued before a statement's task waits for the writer.
const QUEUE: usize = 4096;

enum Message {
    Record(Box<FinishedGatewayQuery>),
    /// Write what is queued now, and answer.
    Flush(oneshot::Sender<()>),
    /// Write what is queued, answer, and stop.
    Close(oneshot::Sender<()>),
}

/// The writer of quick queries' records (one per replica).
pub struct History {
    /// How long a record waits for others to share its transaction.
    window: Duration,
    sender: OnceLock<mpsc::Sender<Message>>,
    /// Set once closed: records that come later are written alone.
    closed: AtomicBool,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("window", &self.window)
            .field("started", &self.sender.get().is_some())
            .finish_non_exhaustive()
    }
}

impl History {
    /// A writer whose records wait up to `window` for others.
    pub fn new(window: Duration) -> Self {
        Self { window, sender: OnceLock::new(), closed: AtomicBool::new(false) }
    }

    /// Queues `record` for the next group (starting the writer on first
    /// use); waits only when the writer is far behind.
    pub async fn record(&self, store: &Store, record: FinishedGatewayQuery) {
        if self.closed.load(Ordering::Acquire) {
            return write_alone(store, record).await;
        }
        let sender = self.sender.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(write_groups(store.clone(), self.window, rx));
            tx
        });
        if let Err(mpsc::error::SendError(Message::Record(record))) =
            sender.send(Message::Record(Box::new(record))).await
        {
            write_alone(store, *record).await;
        }
    }

    /// Writes the records queued so far (before a lookup that needs them).
    pub async fn flush(&self) {
        if let Some(sender) = self.sender.get() {
            let (done, written) = oneshot::channel();
            if sender.send(Message::Flush(done)).await.is_ok() {
                let _ = written.await;
            }
        }
    }

    /// Writes every queued record and stops the writer (at shutdown).
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(sender) = self.sender.get() {
            let (done, written) = oneshot::channel();
            if sender.send(Message::Close(done)).await.is_ok() {
                let _ = written.await;
            }
        }
    }
}

async fn write_alone(store: &Store, record: FinishedGatewayQuery) {
    write(store, std::slice::from_ref(&record)).await;
}

async fn write(store: &Store, group: &[FinishedGatewayQuery]) {
    if group.is_empty() {
        return;
    }
    if let Err(error) = store.record_finished_gateway_queries(group).await {
        tracing::warn!(%error, queries = group.len(), "recording finished queries failed");
    }
}

/// The writer: waits for a record, gathers what else arrives within
/// `window` (up to [`MAX_GROUP`]), writes the group, and again.
async fn write_groups(store: Store, window: Duration, mut rx: mpsc::Receiver<Message>) {
    let mut group: Vec<FinishedGatewayQuery> = Vec::new();
    loop {
        let (mut close, mut flushed) = (None, None);
        match rx.recv().await {
            Some(Message::Record(record)) => group.push(*record),
            Some(Message::Flush(done)) => flushed = Some(done),
            Some(Message::Close(done)) => close = Some(done),
            None => return,
        }
        let deadline = tokio::time::Instant::now() + window;
        while close.is_none() && flushed.is_none() && group.len() < MAX_GROUP {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Message::Record(record))) => group.push(*record),
                Ok(Some(Message::Flush(done))) => flushed = Some(done),
                Ok(Some(Message::Close(done))) => close = Some(done),
                Ok(None) | Err(_) => break,
            }
        }
        let Some(done) = close else {
            write(&store, &group).await;
            group.clear();
            if let Some(done) = flushed {
                let _ = done.send(());
            }
            continue;
        };
        // Refuse what comes from now on (its senders write it themselves)
        // and take what is queued.
        rx.close();
        let mut also_done = Vec::new();
        while let Some(message) = rx.recv().await {
            match message {
                Message::Record(record) => group.push(*record),
                Message::Flush(done) | Message::Close(done) => also_done.push(done),
            }
        }
        for part in group.chunks(MAX_GROUP) {
            write(&store, part).await;
        }
        for done in std::iter::once(done).chain(also_done) {
            let _ = done.send(());
        }
        return;
    }
}

/// When an account's statements ran, from the store's record of its
/// queries (what `AT`/`BEFORE(STATEMENT => ...)` asks the warehouse): a
/// statement not found there yet may be waiting in this replica's writer,
/// which is flushed before a second look.
#[derive(Debug)]
pub struct StatementTimes {
    store: Store,
    gateway: std::sync::Weak<super::Gateway>,
}

impl StatementTimes {
    /// Times from `store`, flushing `gateway`'s writer on a miss.
    pub fn new(store: Store, gateway: std::sync::Weak<super::Gateway>) -> Self {
        Self { store, gateway }
    }

    async fn lookup(&self, account_id: &str, query_id: &str) -> Option<(i64, Option<i64>)> {
        match self.store.gateway_query(account_id, query_id).await {
            Ok(row) => row.map(|q| (q.handle.started_at, q.ended_at)),
            Err(error) => {
                tracing::warn!(%error, "looking up a statement's times failed");
                None
            }
        }
    }
}

#[async_trait::async_trait]
impl komodo_warehouse::StatementTimes for StatementTimes {
    async fn times(&self, account_id: &str, query_id: &str) -> Option<(i64, Option<i64>)> {
        if let Some(found) = self.lookup(account_id, query_id).await {
            return Some(found);
        }
        let gateway = self.gateway.upgrade()?;
        gateway.history().flush().await;
        self.lookup(account_id, query_id).await
    }
}
