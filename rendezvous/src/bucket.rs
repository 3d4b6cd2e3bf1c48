//! A token bucket, pure: it is told the time. Used to cap relayed traffic.

use std::time::Instant;

/// Allows `rate` bytes per second, with bursts of one second's worth.
#[derive(Debug, Clone)]
pub struct Bucket {
    rate: u64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket at `now`.
    #[must_use]
    pub fn new(rate: u64, now: Instant) -> Self {
        Self { rate, tokens: rate as f64, last: now }
    }

    /// Takes `n` bytes' worth if they are there.
    pub fn take(&mut self, n: u64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate as f64).min(self.rate as f64);
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(1000, t0);
        assert!(b.take(600, t0));
        assert!(b.take(400, t0));
        assert!(!b.take(1, t0), "empty");
        assert!(!b.take(200, t0 + Duration::from_millis(100)), "only 100 back");
        assert!(b.take(200, t0 + Duration::from_millis(300)));
        assert!(!b.take(2000, t0 + Duration::from_secs(10)), "never more than one second's worth");
    }
}
