//! The agent's screen and input pumps, each bounded and consent-gated.
//!
//! Screen: capture and encode run off the async threads; frames go out while
//! credit allows and viewing is granted. With no change the capture interval
//! backs off to [`MAX_POLL`], so an idle screen sends nothing. When frames
//! queue on a slow link (`Pressure`), photo and video tiles may go lossy, if
//! the technician allows it; once the screen has been still for
//! [`REFINE_AFTER`] they are re-sent losslessly, a batch per frame.
//!
//! Input: events are executed only while control is granted. Everything else
//! is dropped and logged, never queued for later.

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use tether_protocol::channel::control::{Consent, Monitor};
use tether_protocol::channel::input::{self, MAX_TEXT_BYTES};
use tether_protocol::channel::screen;
use tether_protocol::codec::{EncodedFrame, Encoder};
use tether_protocol::pacing::{Credits, DEFAULT_WINDOW, Pressure};
use tether_transport::peer::{ChannelRecv, ChannelSend};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::AgentError;
use crate::input::InputSink;
use crate::screen::ScreenSource;

/// Shortest pause between captures while the screen is changing.
const MIN_POLL: Duration = Duration::from_millis(15);
/// Longest pause between captures while the screen is still.
pub const MAX_POLL: Duration = Duration::from_millis(100);
const POLL_STEP: Duration = Duration::from_millis(20);
/// How long the screen must be still before lossy tiles are refined.
pub const REFINE_AFTER: Duration = Duration::from_millis(250);
/// Most tiles one refinement frame re-sends.
pub const REFINE_BATCH: usize = 16;

/// Capture plus encode, moved to a blocking thread for each frame.
pub(crate) struct Pipeline {
    pub source: Box<dyn ScreenSource>,
    pub encoder: Encoder,
}

impl Pipeline {
    /// Shares monitor `id` from the next capture on, starting with a full frame.
    fn switch(&mut self, id: u32) -> Result<(), AgentError> {
        self.source.select(id)?;
        self.encoder.force_full();
        Ok(())
    }

    fn next(&mut self) -> Result<Option<EncodedFrame>, AgentError> {
        let c = self.source.capture()?;
        let frame = self.encoder.encode(c.width, c.height, &c.rgba);
        self.source.recycle(c.rgba);
        Ok(frame?)
    }

    /// One capture (after switching monitors, if asked); when nothing
    /// changed and `refine` is due, a batch of lossy tiles made lossless.
    fn step(&mut self, switch: Option<u32>, refine: bool) -> Result<Step, AgentError> {
        if let Some(id) = switch {
            self.switch(id)?;
        }
        if let Some(frame) = self.next()? {
            return Ok(Step::Changed(frame));
        }
        if refine && let Some(frame) = self.encoder.refine(REFINE_BATCH)? {
            return Ok(Step::Refined(frame));
        }
        Ok(Step::Still)
    }
}

/// What one pipeline step produced.
enum Step {
    Changed(EncodedFrame),
    Refined(EncodedFrame),
    Still,
}

/// Sends frames until the console closes the screen channel.
pub(crate) async fn stream_screen(
    mut send: ChannelSend<screen::AgentToConsole>,
    mut recv: ChannelRecv<screen::ConsoleToAgent>,
    mut pipeline: Pipeline,
    mut consent: watch::Receiver<Consent>,
    mut monitor: watch::Receiver<Monitor>,
    lossy: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let epoch = Instant::now();
    let mut stats = AckStats::default();
    let mut switch_to = None;
    let mut credits = Credits::new(DEFAULT_WINDOW);
    let mut pressure = Pressure::default();
    let mut quality = None;
    let mut still_since: Option<Instant> = None;
    let mut idle = Duration::ZERO;
    loop {
        let viewing = consent.borrow().view;
        if viewing && credits.can_send() {
            let wanted = if *lossy.borrow() { pressure.quality() } else { None };
            if wanted != quality {
                info!(quality = ?wanted, "photo tiles now {}", if wanted.is_some() { "lossy" } else { "lossless" });
                quality = wanted;
                pipeline.encoder.set_lossy(quality);
            }
            let refine = still_since.is_some_and(|t| t.elapsed() >= REFINE_AFTER);
            let switch = switch_to.take();
            let (p, result) = tokio::task::spawn_blocking(move || {
                let r = pipeline.step(switch, refine);
                (pipeline, r)
            })
            .await
            .map_err(|_| AgentError::Internal("the capture thread failed"))?;
            pipeline = p;
            let frame = match result? {
                Step::Changed(frame) => {
                    still_since = None;
                    Some(frame)
                }
                Step::Refined(frame) => Some(frame),
                Step::Still => {
                    still_since.get_or_insert_with(Instant::now);
                    None
                }
            };
            if let Some(frame) = frame {
                let seq = frame.seq;
                send.send(&screen::AgentToConsole::Frame(frame)).await?;
                credits.sent(seq, epoch.elapsed());
                idle = MIN_POLL;
                continue;
            }
            idle = (idle + POLL_STEP).min(MAX_POLL);
        }
        let wait = if viewing && credits.can_send() { idle.max(MIN_POLL) } else { Duration::from_secs(3600) };
        tokio::select! {
            ack = recv.recv() => match ack? {
                Some(screen::ConsoleToAgent::Ack { seq }) => {
                    let now = epoch.elapsed();
                    if let Some(rtt) = credits.acked(seq, now) {
                        debug!(seq, rtt_ms = rtt.as_millis(), "frame acknowledged");
                        stats.push(rtt);
                        pressure.on_ack(rtt, now);
                    }
                }
                None => return Ok(()),
            },
            changed = consent.changed() => if changed.is_err() { return Ok(()) },
            changed = monitor.changed() => {
                if changed.is_err() { return Ok(()) }
                switch_to = Some(monitor.borrow_and_update().id);
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Send-to-acknowledgement times of this session's frames, printed when
/// the stream ends (however it ends), for benchmarks and diagnostics.
#[derive(Debug, Default)]
struct AckStats(Vec<Duration>);

impl AckStats {
    /// Samples kept: over an hour at 30 frames a second.
    const MAX: usize = 1 << 17;

    fn push(&mut self, rtt: Duration) {
        if self.0.len() < Self::MAX {
            self.0.push(rtt);
        }
    }
}

impl Drop for AckStats {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        self.0.sort_unstable();
        let at = |p: f64| self.0[((self.0.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
        println!(
            "screen: {} frames acknowledged, send to ack p50 {:.1} ms p95 {:.1} ms",
            self.0.len(),
            at(0.5),
            at(0.95)
        );
    }
}

/// Starts the thread that owns the input sink (enigo's connection is not `Send`).
pub(crate) fn spawn_input_thread(
    make: Box<dyn FnOnce() -> Result<Box<dyn InputSink>, crate::input::InputError> + Send>,
) -> (std_mpsc::Sender<input::ConsoleToAgent>, std::thread::JoinHandle<()>) {
    let (tx, rx) = std_mpsc::channel::<input::ConsoleToAgent>();
    let thread = std::thread::spawn(move || {
        let mut sink = match make() {
            Ok(s) => s,
            Err(e) => {
                warn!("input is unavailable: {e}");
                return;
            }
        };
        for event in rx {
            if let Err(e) = sink.apply(&event) {
                warn!("input event failed: {e}");
            }
        }
    });
    (tx, thread)
}

fn describe(event: &input::ConsoleToAgent) -> &'static str {
    match event {
        input::ConsoleToAgent::PointerMove { .. } => "pointer move",
        input::ConsoleToAgent::Button { .. } => "mouse button",
        input::ConsoleToAgent::Wheel { .. } => "wheel",
        input::ConsoleToAgent::Text(_) => "text",
        input::ConsoleToAgent::Key { .. } => "key",
    }
}

/// Whose input may run: the customer must allow control, and only the
/// party driving (the owner, `None`, or an expert by number) gets through.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    /// What the customer allows.
    pub consent: watch::Receiver<Consent>,
    /// Who drives.
    pub driver: watch::Receiver<Option<u32>>,
    /// Whose input this is.
    pub me: Option<u32>,
}

impl Gate {
    /// Whether this party's input may run now.
    pub fn open(&self) -> bool {
        self.consent.borrow().control && *self.driver.borrow() == self.me
    }

    fn who(&self) -> String {
        self.me.map_or_else(|| "the technician".to_owned(), |n| format!("expert {n}"))
    }
}

/// Executes input while the gate is open; drops and logs it otherwise.
pub(crate) async fn forward_input(
    mut recv: ChannelRecv<input::ConsoleToAgent>,
    sink: std_mpsc::Sender<input::ConsoleToAgent>,
    gate: Gate,
    monitor: watch::Receiver<Monitor>,
) -> Result<(), AgentError> {
    while let Some(mut event) = recv.recv().await? {
        if !gate.open() {
            let why =
                if gate.consent.borrow().control { "someone else drives" } else { "control is not granted" };
            warn!("dropped input from {} ({}): {why}", gate.who(), describe(&event));
            continue;
        }
        match &mut event {
            input::ConsoleToAgent::Text(t) if t.len() > MAX_TEXT_BYTES => {
                warn!("dropped input from {} (text): {} bytes is too long", gate.who(), t.len());
                continue;
            }
            input::ConsoleToAgent::PointerMove { x, y } => {
                // Pixels on the shared monitor, placed on the whole desktop.
                let m = monitor.borrow();
                let on = |v: u32, size: u32, origin: i32| {
                    let v = i64::from(v.min(size.saturating_sub(1))) + i64::from(origin);
                    u32::try_from(v.max(0)).unwrap_or(0)
                };
                *x = on(*x, m.width, m.x);
                *y = on(*y, m.height, m.y);
            }
            _ => {}
        }
        if sink.send(event).is_err() {
            return Err(AgentError::Internal("the input thread stopped"));
        }
    }
    Ok(())
}
