//! The controller on a simulated path, one round trip at a time.

use super::*;

const MTU: u16 = 1200;
const BASE: Duration = Duration::from_millis(40);

/// One round: a window of packets sent at `t`, acknowledged one round trip
/// (`BASE + queue`) later, with `losses` of them lost.
fn round(g: &mut DelayGate, t: &mut Instant, queue: Duration, losses: u64) {
    let rtt = BASE + queue;
    let packets = (g.window() / u64::from(MTU)).max(1);
    let (sent, now) = (*t, *t + rtt);
    for _ in 0..packets.saturating_sub(losses) {
        g.on_ack(now, sent, u64::from(MTU), false);
    }
    for _ in 0..losses {
        g.on_loss(now, sent, false, u64::from(MTU));
    }
    *t = now;
}

fn rounds(g: &mut DelayGate, t: &mut Instant, n: usize, queue: Duration, losses: u64) {
    for _ in 0..n {
        round(g, t, queue, losses);
    }
}

#[test]
fn random_loss_on_an_empty_queue_does_not_shrink_the_window() {
    let (mut g, mut t) = (DelayGate::new(MTU), Instant::now());
    rounds(&mut g, &mut t, 3, Duration::ZERO, 0);
    let before = g.window();
    // One loss every round, as 0.5 % loss does at ~200 packets a round.
    rounds(&mut g, &mut t, 20, Duration::from_millis(2), 1);
    assert!(g.window() > before * 2, "{} then {}", before, g.window());
}

#[test]
fn a_loss_behind_a_long_queue_is_congestion() {
    let (mut g, mut t) = (DelayGate::new(MTU), Instant::now());
    rounds(&mut g, &mut t, 6, Duration::ZERO, 0);
    // The queue shows over a round, then a packet is lost behind it.
    round(&mut g, &mut t, Duration::from_millis(60), 0);
    let before = g.window();
    round(&mut g, &mut t, Duration::from_millis(60), 1);
    assert!(g.window() <= before * 7 / 10, "{} then {}", before, g.window());
    assert!(!g.in_slow_start());
}

#[test]
fn a_growing_queue_shrinks_the_window_toward_the_target_without_loss() {
    let (mut g, mut t) = (DelayGate::new(MTU), Instant::now());
    rounds(&mut g, &mut t, 8, Duration::ZERO, 0);
    let before = g.window();
    rounds(&mut g, &mut t, 6, Duration::from_millis(80), 0);
    assert!(g.window() < before / 2, "{} then {}", before, g.window());
    assert!(g.queue_delay().unwrap() >= Duration::from_millis(70));
}

#[test]
fn slow_start_ends_when_the_queue_builds() {
    let (mut g, mut t) = (DelayGate::new(MTU), Instant::now());
    round(&mut g, &mut t, Duration::ZERO, 0);
    let w = g.window();
    round(&mut g, &mut t, Duration::ZERO, 0);
    assert!(g.window() >= 19 * w / 10, "slow start doubles each round: {w} then {}", g.window());
    rounds(&mut g, &mut t, 2, TARGET_QUEUE * 2, 0);
    assert!(!g.in_slow_start());
}

#[test]
fn heavy_loss_is_congestion_even_without_delay() {
    let (mut g, mut t) = (DelayGate::new(MTU), Instant::now());
    rounds(&mut g, &mut t, 6, Duration::ZERO, 0);
    let (mut clean, mut t2) = (g.clone(), t);
    // 10 % of every round lost at no extra delay: a policer, not noise.
    for _ in 0..4 {
        let lost = g.window() / u64::from(MTU) / 10;
        round(&mut g, &mut t, Duration::ZERO, lost);
        round(&mut clean, &mut t2, Duration::ZERO, 0);
    }
    assert!(g.window() < clean.window() / 2, "{} against {}", g.window(), clean.window());
}

#[test]
fn persistent_congestion_falls_to_the_floor_and_ecn_counts() {
    let (mut g, mut t) = (DelayGate::new(MTU), Instant::now());
    rounds(&mut g, &mut t, 5, Duration::ZERO, 0);
    g.on_loss(t, t, true, 10_000);
    assert_eq!(g.window(), 4 * u64::from(MTU));
    let (mut g, mut t) = (DelayGate::new(MTU), Instant::now());
    rounds(&mut g, &mut t, 5, Duration::ZERO, 0);
    let before = g.window();
    g.on_loss(t + BASE, t + BASE / 2, false, 0);
    assert!(g.window() < before);
}
