//! A userspace link emulator for the lab: this kernel has no `netem`, so a
//! shaped link is two TAP devices with a process in between that holds each
//! frame for the delay, drops it with the loss probability, and paces the
//! rest to the rate behind a bounded queue (tail drop), in each direction.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tun_rs::{AsyncDevice, DeviceBuilder, Layer};

/// Longest a frame may wait for its turn at the rate before it is dropped,
/// like a router's buffer.
const MAX_QUEUE_DELAY: Duration = Duration::from_millis(100);
/// Largest Ethernet frame the TAPs carry (1500 MTU, header, VLAN tag).
const MAX_FRAME: usize = 1522;

/// What a link does to traffic, the same in both directions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Added one-way delay.
    pub delay: Duration,
    /// Probability of losing a frame, 0 to 1.
    pub loss: f64,
    /// Bits per second; `None` is unlimited.
    pub rate: Option<u64>,
}

impl Shape {
    /// Parses the three words of `lab shape`: `20ms`, `0.5%`, `50mbit` (or
    /// `0` for no limit).
    pub fn parse(delay: &str, loss: &str, rate: &str) -> anyhow::Result<Self> {
        let delay = parse_delay(delay)?;
        let loss = match loss.strip_suffix('%') {
            Some(pct) => pct.parse::<f64>().map(|p| p / 100.0),
            None => loss.parse::<f64>(),
        }
        .ok()
        .filter(|p| (0.0..=1.0).contains(p))
        .with_context(|| format!("loss is a percentage such as 0.5%, not {loss:?}"))?;
        let rate = parse_rate(rate)?;
        if delay > Duration::from_secs(10) {
            bail!("a delay over 10 s is not a link");
        }
        Ok(Self { delay, loss, rate })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms each way, {}% loss, ", self.delay.as_millis(), self.loss * 100.0)?;
        match self.rate {
            Some(r) => write!(f, "{} kbit/s", r / 1000),
            None => f.write_str("no rate limit"),
        }
    }
}

fn parse_delay(s: &str) -> anyhow::Result<Duration> {
    let bad = || format!("delay is like 20ms or 1s, not {s:?}");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let (num, unit) = s.find(|c: char| c.is_ascii_alphabetic()).map(|i| s.split_at(i)).with_context(bad)?;
    let n: f64 = num.parse().ok().filter(|n: &f64| *n >= 0.0 && n.is_finite()).with_context(bad)?;
    let secs = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        _ => bail!(bad()),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_rate(s: &str) -> anyhow::Result<Option<u64>> {
    let bad = || format!("rate is like 50mbit, 512kbit or 0 for none, not {s:?}");
    if s == "0" || s == "none" {
        return Ok(None);
    }
    let lower = s.to_ascii_lowercase();
    let (num, mult) = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)]
        .iter()
        .find_map(|(unit, mult)| lower.strip_suffix(unit).map(|n| (n.to_owned(), *mult)))
        .with_context(bad)?;
    let n: f64 = num.parse().ok().filter(|n: &f64| *n > 0.0 && n.is_finite()).with_context(bad)?;
    let bits = (n * mult) as u64;
    if bits < 8_000 {
        bail!("a rate under 8 kbit/s would stall the lab");
    }
    Ok(Some(bits))
}

/// When one frame arrives at the far end, or `None` if it is lost; keeps
/// the time the link is next free to send. Pure, so the rules are tested
/// without devices.
#[derive(Debug)]
struct Link {
    shape: Shape,
    free_at: Option<Instant>,
    rng: fastrand::Rng,
}

impl Link {
    fn new(shape: Shape, seed: u64) -> Self {
        Self { shape, free_at: None, rng: fastrand::Rng::with_seed(seed) }
    }

    fn reshape(&mut self, shape: Shape) {
        self.shape = shape;
    }

    fn admit(&mut self, now: Instant, len: usize) -> Option<Instant> {
        if self.shape.loss > 0.0 && self.rng.f64() < self.shape.loss {
            return None;
        }
        let Some(rate) = self.shape.rate else { return Some(now + self.shape.delay) };
        let start = self.free_at.map_or(now, |f| f.max(now));
        if start - now > MAX_QUEUE_DELAY {
            return None; // the buffer is full
        }
        let sent = start + Duration::from_secs_f64(len as f64 * 8.0 / rate as f64);
        self.free_at = Some(sent);
        Some(sent + self.shape.delay)
    }
}

/// Carries frames from `from` to `to` through `link`.
async fn carry(
    from: Arc<AsyncDevice>,
    to: Arc<AsyncDevice>,
    mut link: Link,
    mut shape: watch::Receiver<Shape>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, frame)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            // A device that is down (still being moved and renamed) refuses
            // frames; a real cable would lose them too.
            let _ = to.send(&frame).await;
        }
    });
    let mut buf = vec![0; MAX_FRAME];
    loop {
        match from.recv(&mut buf).await {
            Ok(n) => {
                if shape.has_changed().unwrap_or(false) {
                    link.reshape(*shape.borrow_and_update());
                }
                if let Some(due) = link.admit(Instant::now(), n)
                    && tx.send((due, buf[..n].to_vec())).is_err()
                {
                    break;
                }
            }
            // Down for now; the emulator is stopped by dropping it.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    writer.abort();
}

/// A running emulated link between two TAP devices; dropping it stops the
/// link and removes both devices.
#[derive(Debug)]
pub struct Emulator {
    shape: watch::Sender<Shape>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Creates TAP devices named `a` and `b` in this process's namespace
    /// (move them with `ip link set … netns …`) and carries frames between
    /// them shaped by `shape`.
    pub fn start(a: &str, b: &str, shape: Shape) -> anyhow::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
        let (stop, stopped) = oneshot::channel::<()>();
        let (a, b) = (a.to_owned(), b.to_owned());
        let (shape_tx, shape_rx) = watch::channel(shape);
        let thread = std::thread::Builder::new()
            .name(format!("netem {a}-{b}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let tap = |name: &str| {
                        DeviceBuilder::new()
                            .name(name)
                            .layer(Layer::L2)
                            .build_async()
                            .with_context(|| format!("creating the TAP device {name} (root is needed)"))
                            .map(Arc::new)
                    };
                    let (da, db) = match (tap(&a), tap(&b)) {
                        (Ok(da), Ok(db)) => (da, db),
                        (Err(e), _) | (_, Err(e)) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let seed = u64::from(std::process::id());
                    let (ab, ba) = (Link::new(shape, seed), Link::new(shape, seed ^ 0x5eed));
                    let ab = tokio::spawn(carry(Arc::clone(&da), Arc::clone(&db), ab, shape_rx.clone()));
                    let ba = tokio::spawn(carry(db, da, ba, shape_rx));
                    let _ = stopped.await;
                    ab.abort();
                    ba.abort();
                });
            })
            .context("starting the link emulator")?;
        let ready =
            ready_rx.recv_timeout(Duration::from_secs(10)).context("the link emulator did not start")?;
        let mut emulator = Self { shape: shape_tx, stop: Some(stop), thread: Some(thread) };
        if let Err(e) = ready {
            emulator.stop();
            return Err(e);
        }
        Ok(emulator)
    }

    /// Changes the shape of the running link.
    pub fn reshape(&self, shape: Shape) {
        self.shape.send_replace(shape);
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

impl FromStr for Shape {
    type Err = anyhow::Error;

    /// `DELAY LOSS RATE` in one string, as `20ms 0.5% 50mbit`.
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.split_whitespace().collect::<Vec<_>>().as_slice() {
            [d, l, r] => Self::parse(d, l, r),
            _ => bail!("a link shape is DELAY LOSS RATE, such as 20ms 0.5% 50mbit"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_parse_and_nonsense_is_refused() {
        let s: Shape = "20ms 0.5% 50mbit".parse().unwrap();
        assert_eq!(s, Shape { delay: Duration::from_millis(20), loss: 0.005, rate: Some(50_000_000) });
        assert_eq!("0 0 0".parse::<Shape>().unwrap(), Shape { delay: Duration::ZERO, loss: 0.0, rate: None });
        assert_eq!("1.5s 1% 512kbit".parse::<Shape>().unwrap().rate, Some(512_000));
        for bad in
            ["20 0.5% 50mbit", "20ms 150% 0", "20ms x 0", "20ms 0 50", "20ms 0 1bit", "-5ms 0 0", "20ms 0"]
        {
            assert!(bad.parse::<Shape>().is_err(), "{bad}");
        }
    }

    #[test]
    fn frames_are_delayed_paced_and_dropped_when_the_queue_is_full() {
        let t0 = Instant::now();
        // 8 Mbit/s: a 1000-byte frame takes 1 ms on the wire.
        let mut link =
            Link::new(Shape { delay: Duration::from_millis(20), loss: 0.0, rate: Some(8_000_000) }, 1);
        assert_eq!(link.admit(t0, 1000), Some(t0 + Duration::from_millis(21)));
        assert_eq!(link.admit(t0, 1000), Some(t0 + Duration::from_millis(22)), "waits its turn");
        let later = t0 + Duration::from_millis(50);
        assert_eq!(
            link.admit(later, 1000),
            Some(later + Duration::from_millis(21)),
            "an idle link sends at once"
        );
        let accepted = (0..200).filter(|_| link.admit(later, 1000).is_some()).count();
        assert!((95..=105).contains(&accepted), "about 100 ms of queue, got {accepted} frames");
    }

    #[test]
    fn loss_drops_about_the_share_asked_for() {
        let t0 = Instant::now();
        let mut link = Link::new(Shape { delay: Duration::ZERO, loss: 0.1, rate: None }, 7);
        let lost = (0..10_000).filter(|_| link.admit(t0, 100).is_none()).count();
        assert!((800..1200).contains(&lost), "lost {lost} of 10000 at 10%");
    }
}
