//! A small circuit breaker: after `threshold` consecutive failures, calls fail at once for
//! `cooldown`, so an unreachable Redis costs requests nothing instead of a timeout each. After
//! the cooldown calls are tried again; one more failure re-opens it, one success closes it.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Consecutive-failure breaker, lock-free.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    epoch: Instant,
    failures: AtomicU32,
    /// Milliseconds since `epoch` until which calls are refused.
    open_until_ms: AtomicU64,
    /// Opened since the last success: the next failure re-opens at once.
    tripped: AtomicBool,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            threshold: threshold.max(1),
            cooldown,
            epoch: Instant::now(),
            failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            tripped: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether a call may be tried now.
    pub fn allow(&self) -> bool {
        self.now_ms() >= self.open_until_ms.load(Ordering::Acquire)
    }

    /// Records a successful call: the breaker closes.
    pub fn success(&self) {
        self.failures.store(0, Ordering::Release);
        self.tripped.store(false, Ordering::Release);
    }

    /// Records a failed call; may open the breaker.
    pub fn failure(&self) {
        let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures >= self.threshold || self.tripped.load(Ordering::Acquire) {
            let cooldown = u64::try_from(self.cooldown.as_millis()).unwrap_or(u64::MAX);
            self.open_until_ms.store(self.now_ms().saturating_add(cooldown), Ordering::Release);
            self.failures.store(0, Ordering::Release);
            self.tripped.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_reopens_on_first_failure_after_cooldown() {
        let b = Breaker::new(3, Duration::from_secs(3600));
        b.failure();
        b.failure();
        assert!(b.allow());
        b.failure();
        assert!(!b.allow());
        // A zero cooldown shows the half-open path without waiting.
        let b = Breaker::new(2, Duration::ZERO);
        b.failure();
        b.failure();
        assert!(b.tripped.load(Ordering::Acquire));
        b.failure();
        assert!(b.tripped.load(Ordering::Acquire), "one failure after the cooldown re-opens");
        b.success();
        assert!(b.allow());
        assert!(!b.tripped.load(Ordering::Acquire));
    }
}
