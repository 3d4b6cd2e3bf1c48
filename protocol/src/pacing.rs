//! Credit-based frame pacing and bandwidth pressure, sans-IO: the caller
//! passes `now`.
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

/// JPEG qualities for photo tiles, from none (lossless) to the roughest.
pub const QUALITY_LADDER: [Option<u8>; 4] = [None, Some(75), Some(50), Some(30)];

/// A frame this much slower than the link's own delay means frames queue.
const QUEUEING: Duration = Duration::from_millis(150);
/// A frame within this of the link's delay means the link has room.
const ROOMY: Duration = Duration::from_millis(40);
/// Fewest time between two steps up the ladder (one step must show its effect).
const STEP_UP_GAP: Duration = Duration::from_millis(500);
/// How long frames must be roomy before one step back towards lossless.
const STEP_DOWN_AFTER: Duration = Duration::from_secs(3);
/// The link's delay is the least frame round trip seen over this window.
const FLOOR_WINDOW: Duration = Duration::from_secs(10);

/// Bandwidth pressure from frame round trips: when frames take much longer
/// than the link's own delay, they are queueing behind each other, so the
/// screen stream steps down the [`QUALITY_LADDER`]; after a while of quick
/// frames it steps back up. Text never goes lossy whatever this says; the
/// codec only lets photo and video tiles follow it.
#[derive(Debug, Clone, Default)]
pub struct Pressure {
    floor: Option<(Duration, Duration)>,
    level: usize,
    stepped_at: Option<Duration>,
    roomy_since: Option<Duration>,
}

impl Pressure {
    /// Takes the round trip `rtt` of a frame acknowledged at `now`.
    pub fn on_ack(&mut self, rtt: Duration, now: Duration) {
        let floor = match self.floor {
            Some((f, at)) if rtt > f && now.saturating_sub(at) < FLOOR_WINDOW => f,
            _ => {
                self.floor = Some((rtt, now));
                rtt
            }
        };
        let excess = rtt.saturating_sub(floor);
        if excess >= QUEUEING {
            self.roomy_since = None;
            let can_step = self.stepped_at.is_none_or(|t| now.saturating_sub(t) >= STEP_UP_GAP);
            if can_step && self.level + 1 < QUALITY_LADDER.len() {
                self.level += 1;
                self.stepped_at = Some(now);
            }
        } else if excess <= ROOMY {
            let since = *self.roomy_since.get_or_insert(now);
            if self.level > 0 && now.saturating_sub(since) >= STEP_DOWN_AFTER {
                self.level -= 1;
                self.stepped_at = Some(now);
                self.roomy_since = Some(now);
            }
        } else {
            self.roomy_since = None;
        }
    }

    /// The JPEG quality photo tiles may use now, or `None` for lossless.
    #[must_use]
    pub const fn quality(&self) -> Option<u8> {
        QUALITY_LADDER[self.level]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn quick_frames_stay_lossless() {
        let mut p = Pressure::default();
        for i in 0..100 {
            p.on_ack(ms(20 + i % 30), ms(i * 30));
        }
        assert_eq!(p.quality(), None);
    }

    #[test]
    fn queueing_frames_step_down_the_ladder_at_a_measured_pace() {
        let mut p = Pressure::default();
        p.on_ack(ms(30), ms(0));
        p.on_ack(ms(400), ms(100));
        assert_eq!(p.quality(), Some(75));
        // Too soon for a second step, however slow.
        p.on_ack(ms(900), ms(300));
        assert_eq!(p.quality(), Some(75));
        p.on_ack(ms(900), ms(700));
        p.on_ack(ms(900), ms(1300));
        p.on_ack(ms(900), ms(1900));
        assert_eq!(p.quality(), Some(30), "the bottom of the ladder holds");
    }

    #[test]
    fn roomy_frames_climb_back_to_lossless_one_step_per_hold() {
        let mut p = Pressure::default();
        p.on_ack(ms(30), ms(0));
        p.on_ack(ms(400), ms(100));
        p.on_ack(ms(400), ms(700));
        assert_eq!(p.quality(), Some(50));
        let mut t = 800;
        while t < 800 + 2_900 {
            p.on_ack(ms(35), ms(t));
            t += 100;
        }
        assert_eq!(p.quality(), Some(50), "not before the hold time");
        // A middling frame (neither queueing nor roomy) restarts the hold.
        p.on_ack(ms(120), ms(t));
        p.on_ack(ms(35), ms(t + 100));
        p.on_ack(ms(35), ms(t + 3_000));
        assert_eq!(p.quality(), Some(50), "the hold restarted at t + 100");
        p.on_ack(ms(35), ms(t + 3_100));
        assert_eq!(p.quality(), Some(75));
        p.on_ack(ms(35), ms(t + 6_100));
        assert_eq!(p.quality(), None);
    }

    #[test]
    fn a_higher_link_delay_is_learnt_after_the_floor_window() {
        let mut p = Pressure::default();
        p.on_ack(ms(10), ms(0));
        // The path now takes 300 ms: queueing at first sight...
        p.on_ack(ms(300), ms(1_000));
        assert_eq!(p.quality(), Some(75));
        // ...but once the old floor is stale, 300 ms is the link's delay.
        for t in (11_000..16_000).step_by(100) {
            p.on_ack(ms(300), ms(t));
        }
        assert_eq!(p.quality(), None);
    }

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
