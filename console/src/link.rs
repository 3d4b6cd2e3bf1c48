//! Whether the customer's link is answering: pure, fed with the count of
//! datagrams received and the time.
//!
//! Both peers send QUIC keep-alives every 2 s, so a healthy link delivers
//! something at least that often. Silence for [`STALL_AFTER`] means the link
//! has dropped; QUIC keeps retransmitting until its idle timeout, and the
//! session carries on if packets come back before then.

use std::time::{Duration, Instant};

/// Silence after which the console says "reconnecting…".
pub const STALL_AFTER: Duration = Duration::from_secs(4);

/// A change worth telling the technician about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange {
    /// Nothing arrived for [`STALL_AFTER`].
    Stalled,
    /// Packets arrive again.
    Restored,
}

/// Tracks the last time the datagram count moved.
#[derive(Debug, Clone)]
pub struct LinkWatch {
    count: u64,
    since: Instant,
    stalled: bool,
}

impl LinkWatch {
    /// Starts watching at `now` with `count` datagrams received so far.
    #[must_use]
    pub fn new(count: u64, now: Instant) -> Self {
        Self { count, since: now, stalled: false }
    }

    /// Whether the link is stalled now.
    #[must_use]
    pub fn is_stalled(&self) -> bool {
        self.stalled
    }

    /// Feeds the latest count; returns a change, if there is one.
    pub fn observe(&mut self, count: u64, now: Instant) -> Option<LinkChange> {
        if count != self.count {
            self.count = count;
            self.since = now;
            if self.stalled {
                self.stalled = false;
                return Some(LinkChange::Restored);
            }
        } else if !self.stalled && now.duration_since(self.since) >= STALL_AFTER {
            self.stalled = true;
            return Some(LinkChange::Stalled);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_stalls_once_and_traffic_restores() {
        let t0 = Instant::now();
        let mut w = LinkWatch::new(10, t0);
        assert_eq!(w.observe(10, t0 + Duration::from_secs(3)), None);
        assert_eq!(w.observe(11, t0 + Duration::from_secs(3)), None, "traffic resets the clock");
        assert_eq!(w.observe(11, t0 + Duration::from_secs(6)), None);
        assert_eq!(w.observe(11, t0 + Duration::from_secs(7)), Some(LinkChange::Stalled));
        assert!(w.is_stalled());
        assert_eq!(w.observe(11, t0 + Duration::from_secs(9)), None, "said once");
        assert_eq!(w.observe(12, t0 + Duration::from_secs(9)), Some(LinkChange::Restored));
        assert!(!w.is_stalled());
    }
}
