//! A transfer's rate and time left, for progress lines and bars, from
//! successive looks at its [`Status`].

use std::time::{Duration, Instant};

use super::Status;

/// Rate and time left, from successive looks at a transfer's status. It
/// starts once the receiver accepted, from the bytes already there (a
/// resumed transfer's are not this attempt's speed).
#[derive(Debug, Clone, Default)]
pub struct Meter {
    start: std::sync::OnceLock<(Instant, u64)>,
}

impl Meter {
    /// A line like "42% 11.3 MB/s, 4 s left".
    #[must_use]
    pub fn line(&self, status: Status) -> String {
        self.line_at(status, Instant::now())
    }

    fn line_at(&self, status: Status, now: Instant) -> String {
        if status.size == 0 {
            return "waiting to start".to_owned();
        }
        let (start, from) = *self.start.get_or_init(|| (now, status.done));
        let elapsed = now.saturating_duration_since(start).as_secs_f64().max(1e-3);
        let rate = status.done.saturating_sub(from) as f64 / elapsed;
        let percent = (status.done * 100).checked_div(status.size).unwrap_or(100);
        let left = if rate > 0.0 {
            let secs = (status.size.saturating_sub(status.done)) as f64 / rate;
            format!("{} s left", Duration::from_secs_f64(secs.min(1e7)).as_secs())
        } else {
            "waiting".to_owned()
        };
        format!("{percent}% {:.1} MB/s, {left}", rate / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_time_left_count_only_this_attempt() {
        let meter = Meter::default();
        let t0 = Instant::now();
        assert_eq!(meter.line_at(Status { done: 0, size: 0, resumed: 0 }, t0), "waiting to start");
        // A resumed transfer starts at 40 MB: those bytes are not its speed.
        let start = Status { done: 40_000_000, size: 100_000_000, resumed: 40_000_000 };
        assert_eq!(meter.line_at(start, t0), "40% 0.0 MB/s, waiting");
        let later = Status { done: 50_000_000, ..start };
        assert_eq!(meter.line_at(later, t0 + Duration::from_secs(2)), "50% 5.0 MB/s, 10 s left");
    }
}
