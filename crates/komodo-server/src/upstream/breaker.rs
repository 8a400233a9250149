//! A circuit breaker per upstream account: after a run of failed calls
//! (the upstream unreachable, or answering server errors) the gateway stops
//! calling it for a while and answers at once, so that a dead upstream
//! costs clients one quick error instead of a timeout each, and the
//! upstream is not hammered while it recovers. After the pause one call is
//! let through; its success closes the breaker, its failure opens it again.

use std::time::{Duration, Instant};

/// When to open and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker.
    pub threshold: u32,
    /// How long it stays open.
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self { threshold: 5, cooldown: Duration::from_secs(30) }
    }
}

/// One account's breaker.
#[derive(Debug, Default, Clone)]
pub struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    /// Whether a call may go now; `Err(seconds)` until the breaker lets
    /// one through again.
    pub fn admit(&mut self, now: Instant) -> Result<(), u64> {
        match self.open_until {
            Some(until) if now < until => Err((until - now).as_secs().max(1)),
            Some(_) => {
                // Half open: this call is the trial.
                self.open_until = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records a call that reached the upstream.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    /// Records a call that failed to reach it; true when this opened the
    /// breaker.
    pub fn failed(&mut self, now: Instant, settings: BreakerSettings) -> bool {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= settings.threshold.max(1) && self.open_until.is_none() {
            self.open_until = Some(now + settings.cooldown);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_lets_one_trial_through_after_the_pause() {
        let settings = BreakerSettings { threshold: 3, cooldown: Duration::from_secs(10) };
        let t0 = Instant::now();
        let mut b = Breaker::default();
        assert!(!b.failed(t0, settings));
        assert!(!b.failed(t0, settings));
        assert!(b.admit(t0).is_ok());
        assert!(b.failed(t0, settings), "the third failure opens it");
        assert_eq!(b.admit(t0 + Duration::from_secs(1)), Err(9));
        // After the pause, one trial; it fails, and the breaker opens again.
        assert!(b.admit(t0 + Duration::from_secs(11)).is_ok());
        assert!(b.failed(t0 + Duration::from_secs(11), settings));
        assert!(b.admit(t0 + Duration::from_secs(12)).is_err());
        // A success closes it.
        assert!(b.admit(t0 + Duration::from_secs(30)).is_ok());
        b.succeeded();
        assert!(!b.failed(t0 + Duration::from_secs(30), settings));
        assert!(b.admit(t0 + Duration::from_secs(30)).is_ok());
    }
}
