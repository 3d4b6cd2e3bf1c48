//! Credit-based frame pacing, sans-IO: the caller passes `now`.
//!
//! The agent may have at most `window` frames in flight. Each console
//! acknowledgement (cumulative, by sequence number) returns credit. While the
//! agent waits it sends nothing; because the encoder diffs against the last
//! frame *sent*, every change made meanwhile is merged into the next frame,
//! so the latest state wins and no backlog can build.

use std::collections::VecDeque;
use std::time::Duration;

/// Default number of frames in flight.
pub const DEFAULT_WINDOW: usize = 2;

/// In-flight frame bookkeeping.
#[derive(Debug, Clone)]
pub struct Credits {
    window: usize,
    in_flight: VecDeque<(u64, Duration)>,
}

impl Credits {
    /// Allows `window` (at least 1) unacknowledged frames.
    #[must_use]
    pub fn new(window: usize) -> Self {
        Self { window: window.max(1), in_flight: VecDeque::new() }
    }

    /// Whether a frame may be sent now.
    #[must_use]
    pub fn can_send(&self) -> bool {
        self.in_flight.len() < self.window
    }

    /// Frames sent and not yet acknowledged.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Records that frame `seq` was sent at `now`.
    pub fn sent(&mut self, seq: u64, now: Duration) {
        self.in_flight.push_back((seq, now));
    }

    /// Handles an acknowledgement of every frame up to `seq`.
    ///
    /// Returns the round-trip time of frame `seq` if it was in flight; an
    /// acknowledgement for a frame never sent changes nothing.
    pub fn acked(&mut self, seq: u64, now: Duration) -> Option<Duration> {
        let mut rtt = None;
        while let Some(&(s, at)) = self.in_flight.front() {
            if s > seq {
                break;
            }
            self.in_flight.pop_front();
            if s == seq {
                rtt = Some(now.saturating_sub(at));
            }
        }
        rtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_blocks_until_ack() {
        let ms = Duration::from_millis;
        let mut c = Credits::new(2);
        c.sent(0, ms(0));
        c.sent(1, ms(5));
        assert!(!c.can_send());
        assert_eq!(c.acked(7, ms(9)), None, "no RTT sample for a frame never sent");
        assert_eq!(c.in_flight(), 0);
        c.sent(8, ms(10));
        assert_eq!(c.acked(8, ms(30)), Some(ms(20)));
        assert!(c.can_send());
    }

    #[test]
    fn cumulative_ack_releases_older_frames() {
        let mut c = Credits::new(3);
        for s in 0..3 {
            c.sent(s, Duration::ZERO);
        }
        assert_eq!(c.acked(1, Duration::from_millis(4)), Some(Duration::from_millis(4)));
        assert_eq!(c.in_flight(), 1);
        assert!(c.can_send());
    }
}
