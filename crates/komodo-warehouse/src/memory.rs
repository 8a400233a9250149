//! Memory limits: each session's pool counts against the session's limit
//! and against one limit for the whole server (SECURITY.md F05), so that
//! many sessions each within their own limit cannot exhaust the process.

use std::fmt::{self, Display};
use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

use crate::WarehouseError;

/// A session's memory pool: every reservation is made in the session's
/// pool and in the server's, and fails when either is full.
#[derive(Debug)]
pub(crate) struct SessionPool {
    session: GreedyMemoryPool,
    server: Arc<GreedyMemoryPool>,
}

impl SessionPool {
    pub(crate) fn new(limit: usize, server: Arc<GreedyMemoryPool>) -> Self {
        Self { session: GreedyMemoryPool::new(limit), server }
    }
}

impl Display for SessionPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session {}, server {}", self.session, self.server)
    }
}

impl MemoryPool for SessionPool {
    fn name(&self) -> &str {
        "session"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.session.register(consumer);
        self.server.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.session.unregister(consumer);
        self.server.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.session.grow(reservation, additional);
        self.server.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.session.shrink(reservation, shrink);
        self.server.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        self.session.try_grow(reservation, additional)?;
        if let Err(e) = self.server.try_grow(reservation, additional) {
            self.session.shrink(reservation, additional);
            return Err(e);
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.session.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.session.memory_limit()
    }
}

/// Memory counted against a session's and the server's memory limits
/// until the last clone is dropped (SECURITY.md F05). The default holds
/// nothing.
#[derive(Debug, Clone, Default)]
pub struct HeldMemory(Option<Arc<MemoryReservation>>);

impl HeldMemory {
    /// Memory counted by `reservation` (nothing for `None`).
    pub(crate) fn new(reservation: Option<MemoryReservation>) -> Self {
        Self(reservation.map(Arc::new))
    }

    /// Bytes counted.
    pub fn bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |r| r.size())
    }

    /// Counts `bytes` instead (an exclusive holder only: a shared one
    /// cannot change). Fails, changing nothing, past the limits.
    pub(crate) fn resize(&mut self, bytes: usize) -> std::result::Result<(), WarehouseError> {
        match self.0.as_mut().and_then(Arc::get_mut) {
            Some(r) => r.try_resize(bytes).map_err(WarehouseError::from_datafusion),
            None => Ok(()),
        }
    }
}
