//! Congestion control for peer sessions: a window that ignores random loss
//! and backs off on queueing delay.
//!
//! Remote support runs over Wi-Fi, mobile links and long paths where
//! packets are lost for reasons other than a full queue. A loss-based
//! controller (quinn's default Cubic, or NewReno) cuts its window on every
//! such loss: at 0.5 % random loss and 40 ms it averages about 5 Mbit/s
//! whatever the link's speed. BBR ignores random loss, but quinn's port is
//! marked experimental and its bandwidth estimate latches on spikes.
//!
//! This controller reads the queue from the round trip instead: the
//! smallest sample of each round minus the smallest ever seen. While that
//! queueing delay is under [`TARGET_QUEUE`] the window grows; above twice
//! the target it shrinks toward it, so a bulk transfer keeps only a short
//! queue in front of the screen's frames. A loss counts as congestion only
//! when the queue is long (over [`LOSS_GATE`]) or when losses pass 2 % of a
//! round; otherwise the packet is simply sent again. With a long queue it
//! behaves like NewReno, so it is never more aggressive than the default
//! against other traffic once a buffer is filling.
//!
//! The lowest round trip is kept for the connection's life. A windowed
//! minimum would follow a route that got slower, but without a periodic
//! drain (BBR's ProbeRTT) it also creeps up over the standing queue; so a
//! path whose own delay grows for good is read as a queue, and the window
//! falls to its floor, until the connection is made again.
//!
//! The logic is in [`DelayGate`], free of quinn's types so it can be tested
//! alone; [`DelayGateConfig`] plugs it into quinn.

use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::congestion::{Controller, ControllerFactory, ControllerMetrics};

/// Queueing delay the window aims to stay under.
pub const TARGET_QUEUE: Duration = Duration::from_millis(10);
/// A loss with less queueing delay than this is taken as random.
pub const LOSS_GATE: Duration = Duration::from_millis(25);
/// Share of a round's packets lost (in 1/1000) that counts as congestion
/// whatever the delay says: a policer drops without queueing.
const LOSS_LIMIT_PER_MILLE: u64 = 20;
/// Fewest losses in a round before the share above applies.
const LOSS_LIMIT_MIN: u64 = 3;
/// Multiplicative decrease on congestion.
const BETA: f64 = 0.7;

/// The controller's state, in bytes and times.
#[derive(Debug, Clone)]
pub struct DelayGate {
    window: u64,
    ssthresh: u64,
    mtu: u64,
    min_rtt: Option<Duration>,
    round_start: Option<Instant>,
    round_min: Option<Duration>,
    last_round_min: Option<Duration>,
    recovery: Option<Instant>,
    round_acked: u64,
    round_lost: u64,
    initial: u64,
}

impl DelayGate {
    /// A controller for a path with `mtu`-byte packets.
    #[must_use]
    pub fn new(mtu: u16) -> Self {
        let mtu = u64::from(mtu);
        let initial = (10 * mtu).max(14_720);
        Self {
            window: initial,
            ssthresh: u64::MAX,
            mtu,
            min_rtt: None,
            round_start: None,
            round_min: None,
            last_round_min: None,
            recovery: None,
            round_acked: 0,
            round_lost: 0,
            initial,
        }
    }

    fn floor(&self) -> u64 {
        4 * self.mtu
    }

    /// The congestion window in bytes.
    #[must_use]
    pub fn window(&self) -> u64 {
        self.window.max(self.floor())
    }

    /// Whether the window is still doubling every round.
    #[must_use]
    pub fn in_slow_start(&self) -> bool {
        self.window < self.ssthresh
    }

    /// The current queueing delay estimate, once there are samples.
    #[must_use]
    pub fn queue_delay(&self) -> Option<Duration> {
        let recent = match (self.round_min, self.last_round_min) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(recent.saturating_sub(self.min_rtt?))
    }

    fn cut(&mut self, factor: f64, now: Instant) {
        self.window = ((self.window as f64 * factor) as u64).max(self.floor());
        self.ssthresh = self.window;
        self.recovery = Some(now);
    }

    fn end_round(&mut self, now: Instant) {
        if let (Some(q), Some(base)) = (self.queue_delay(), self.min_rtt)
            && q > 2 * TARGET_QUEUE
        {
            // Aim the window at the target queue, at most a BETA cut a round.
            let f = (base + TARGET_QUEUE).as_secs_f64() / (base + q).as_secs_f64();
            self.window = ((self.window as f64 * f.max(BETA)) as u64).max(self.floor());
            self.ssthresh = self.window;
        }
        if self.round_lost >= LOSS_LIMIT_MIN
            && self.round_lost * 1000 > self.round_acked.max(1) * LOSS_LIMIT_PER_MILLE
        {
            self.cut(BETA, now);
        }
        self.last_round_min = self.round_min.take();
        self.round_start = Some(now);
        self.round_acked = 0;
        self.round_lost = 0;
    }

    /// A packet of `bytes` sent at `sent` was acknowledged at `now`.
    pub fn on_ack(&mut self, now: Instant, sent: Instant, bytes: u64, app_limited: bool) {
        let sample = now.saturating_duration_since(sent);
        // A packet sent after the round began came back: one round trip.
        if self.round_start.is_none_or(|r| sent >= r) {
            self.end_round(now);
        }
        self.min_rtt = Some(self.min_rtt.map_or(sample, |m| m.min(sample)));
        self.round_min = Some(self.round_min.map_or(sample, |m| m.min(sample)));
        self.round_acked += 1;
        if app_limited || self.recovery.is_some_and(|r| sent <= r) {
            return;
        }
        let q = self.queue_delay().unwrap_or_default();
        if self.in_slow_start() {
            if q < TARGET_QUEUE {
                self.window += bytes;
            } else {
                self.ssthresh = self.window;
            }
        } else if q < TARGET_QUEUE / 2 {
            // The queue is empty: probe for more, about 12 % a round.
            self.window += bytes / 8;
        } else if q < TARGET_QUEUE {
            self.window += self.mtu * bytes / self.window.max(1);
        }
    }

    /// Packets sent at or before `sent` were lost (`lost_bytes` of them; 0
    /// for an ECN mark).
    pub fn on_loss(&mut self, now: Instant, sent: Instant, persistent: bool, lost_bytes: u64) {
        if persistent {
            self.window = self.floor();
            self.ssthresh = self.window;
            self.recovery = None;
            return;
        }
        self.round_lost += lost_bytes.div_ceil(self.mtu.max(1));
        if self.recovery.is_some_and(|r| sent <= r) {
            return;
        }
        let congestive = lost_bytes == 0 || self.queue_delay().is_none_or(|q| q > LOSS_GATE);
        if congestive {
            self.cut(BETA, now);
        }
    }

    /// The path's packet size changed.
    pub fn on_mtu(&mut self, mtu: u16) {
        self.mtu = u64::from(mtu);
        self.window = self.window.max(self.floor());
    }
}

/// Builds a [`DelayGate`] for each connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct DelayGateConfig;

impl ControllerFactory for DelayGateConfig {
    fn build(self: Arc<Self>, _now: Instant, current_mtu: u16) -> Box<dyn Controller> {
        Box::new(DelayGate::new(current_mtu))
    }
}

impl Controller for DelayGate {
    fn on_ack(
        &mut self,
        now: Instant,
        sent: Instant,
        bytes: u64,
        app_limited: bool,
        _rtt: &quinn_proto::RttEstimator,
    ) {
        Self::on_ack(self, now, sent, bytes, app_limited);
    }

    fn on_congestion_event(&mut self, now: Instant, sent: Instant, persistent: bool, lost_bytes: u64) {
        self.on_loss(now, sent, persistent, lost_bytes);
    }

    fn on_mtu_update(&mut self, new_mtu: u16) {
        self.on_mtu(new_mtu);
    }

    fn window(&self) -> u64 {
        Self::window(self)
    }

    fn metrics(&self) -> ControllerMetrics {
        let mut m = ControllerMetrics::default();
        m.congestion_window = Self::window(self);
        m.ssthresh = (self.ssthresh != u64::MAX).then_some(self.ssthresh);
        m
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(self.clone())
    }

    fn initial_window(&self) -> u64 {
        self.initial
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

#[cfg(test)]
mod tests;
