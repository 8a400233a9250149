//! When a statement must stop: its cancellation token and its deadline.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::WarehouseError;

/// A statement's cancellation token and deadline, checked by everything
/// that runs for it: the task that plans and runs it, the stream its
/// result is read from, and every operator of its plan (see
/// [`super::guard`]).
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    pub(crate) cancel: CancellationToken,
    pub(crate) deadline: Instant,
    /// The time limit the deadline was set from (for the error message).
    pub(crate) timeout: Duration,
}

impl Stop {
    /// A stop `timeout` from now, or at `cancel`.
    pub(crate) fn after(timeout: Duration, cancel: CancellationToken) -> Self {
        Self { cancel, deadline: Instant::now() + timeout, timeout }
    }

    /// Why the statement must stop now, if it must.
    pub(crate) fn reason(&self) -> Option<WarehouseError> {
        if self.cancel.is_cancelled() {
            Some(WarehouseError::Cancelled)
        } else if Instant::now() >= self.deadline {
            Some(WarehouseError::Timeout(self.timeout))
        } else {
            None
        }
    }

    /// Completes when the statement must stop, with the reason.
    pub(crate) async fn stopped(&self) -> WarehouseError {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => WarehouseError::Cancelled,
            _ = tokio::time::sleep_until(self.deadline) => WarehouseError::Timeout(self.timeout),
        }
    }
}
