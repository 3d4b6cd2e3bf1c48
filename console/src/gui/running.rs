//! One live session inside the window: its ordered queue of things to send,
//! and copying what its background tasks see into its screen's state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iced::Task;
use iced::widget::image;
use tether_protocol::channel::clipboard::Clip;
use tether_protocol::channel::input::ConsoleToAgent;
use tether_protocol::signal::{PathInfo, SessionOutcome, SessionSummary};
use tokio::sync::mpsc;

use super::{Message, unix_now};
use crate::screen::{dashboard, session};
use crate::session::{ConsoleError, LiveSession};
use crate::transfers::Transfers;

type Live = Arc<tokio::sync::Mutex<Option<LiveSession>>>;

/// Something to do with a live session.
#[derive(Debug)]
pub enum Act {
    /// Say who we are.
    Greet,
    /// Ask for control.
    RequestControl,
    /// Share another of the customer's monitors.
    Monitor(u32),
    /// Allow or forbid lossy photo tiles under pressure.
    Lossy(bool),
    /// Send a chat line.
    Chat(String),
    /// Add a note to the session's record.
    Note(String),
    /// Send input.
    Input(ConsoleToAgent),
    /// Put this on the customer's clipboard (if they allow it).
    Clipboard(Clip),
    /// End the session.
    End,
}

/// A live session and its screen.
pub struct Running {
    /// Its number in this window.
    pub id: u64,
    /// Its screen's state, kept while another screen shows.
    pub screen: session::Session,
    live: Live,
    outbox: Option<mpsc::UnboundedSender<Act>>,
    /// Frames and pointer changes already in the picture.
    shown_frames: Option<(u64, u64)>,
    rate: (u64, u64, Instant),
    started: u64,
    path: PathInfo,
    /// File transfers, each a task of its own.
    pub transfers: Transfers,
    /// The customer's clipboard changes seen so far.
    clips_seen: u64,
    /// The customer's latest copy, while this session is on screen, for
    /// the technician's clipboard.
    pub incoming_clip: Option<Clip>,
}

impl Running {
    /// Takes over `live`, greets the customer, and returns the task that
    /// sends everything queued, in order.
    pub fn start(id: u64, live: LiveSession) -> (Self, Task<Message>) {
        // Scripts and tests read these; people read the status bar.
        println!("sas: {}", live.sas);
        println!("path: {}", live.path);
        let status =
            session::Status { path: live.path.to_string(), sas: live.sas.clone(), ..Default::default() };
        let path = live.path;
        let transfers = Transfers::new(Arc::clone(&live.files));
        let canned = live.canned.clone();
        let live: Live = Arc::new(tokio::sync::Mutex::new(Some(live)));
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(Act::Greet);
        let mut screen = session::Session::new(status);
        screen.canned = canned;
        let running = Self {
            id,
            screen,
            live: Arc::clone(&live),
            outbox: Some(tx),
            shown_frames: None,
            rate: (0, 0, Instant::now()),
            started: unix_now(),
            path,
            transfers,
            clips_seen: 0,
            incoming_clip: None,
        };
        (running, Task::run(worker(id, live, rx), |m| m))
    }

    /// Queues `act`; acts run one at a time, in order, so typed text
    /// arrives as typed.
    pub fn act(&self, act: Act) {
        if let Some(tx) = &self.outbox {
            let _ = tx.send(act);
        }
    }

    /// Asks the session to end; [`Message::Ended`] follows. Returns false
    /// if it was already ending.
    pub fn end(&mut self) -> bool {
        self.outbox.take().is_some_and(|tx| tx.send(Act::End).is_ok())
    }

    /// Draws the latest picture on the next refresh (after another screen
    /// was showing).
    pub fn show(&mut self) {
        self.shown_frames = None;
    }

    /// One line for the dashboard.
    #[must_use]
    pub fn summary(&self) -> String {
        let doing = if self.screen.ended.is_some() {
            "ended"
        } else if self.screen.reconnecting {
            "reconnecting…"
        } else if self.screen.consent.control {
            "controlling"
        } else if self.screen.consent.view {
            "viewing"
        } else {
            "waiting for consent"
        };
        format!("Session {} · since {} · {} · {doing}", self.id, dashboard::when(self.started), self.path)
    }

    /// What the dashboard lists once it is over.
    #[must_use]
    pub fn record(&self) -> SessionSummary {
        SessionSummary {
            // Not known here; the server's list, loaded again, has it.
            id: 0,
            started: self.started,
            ended: Some(unix_now()),
            path: Some(self.path.kind),
            technician_end: Some(self.path.local),
            customer_end: Some(self.path.remote),
            outcome: SessionOutcome::Ended,
        }
    }

    /// Copies what the session's tasks saw into the screen; the picture only
    /// when `visible`, since turning it into an image costs a copy.
    pub fn refresh(&mut self, visible: bool) {
        let shown = self.transfers.shown();
        if shown != self.screen.transfers {
            self.screen.transfers = shown;
        }
        let Ok(guard) = self.live.try_lock() else { return };
        let Some(s) = guard.as_ref() else { return };
        let view = &mut self.screen;
        // The session itself prints consent changes for scripts and tests.
        view.consent = *s.consent.borrow();
        let v = s.view.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if v.chat != view.chat {
            view.chat.clone_from(&v.chat);
        }
        if v.monitors.1 != view.monitors.1 || v.monitors.0.len() != view.monitors.0.len() {
            view.monitors = (v.monitors.0.iter().map(|m| (m.id, m.name.clone())).collect(), v.monitors.1);
        }
        let shown = (v.frames, v.pointer.version);
        if visible
            && self.shown_frames != Some(shown)
            && let Some((w, h, rgba)) = v.decoder.framebuffer()
        {
            let mut rgba = rgba.to_vec();
            if let (Some(shape), Some(at)) = (&v.pointer.shape, v.pointer.at) {
                crate::pointer::draw(&mut rgba, w, h, shape, at);
            }
            view.picture = Some((image::Handle::from_rgba(w, h, rgba), w, h));
            self.shown_frames = Some(shown);
        }
        let elapsed = self.rate.2.elapsed();
        if elapsed >= Duration::from_secs(1) {
            let secs = elapsed.as_secs_f64();
            view.status.fps = (v.frames - self.rate.0) as f64 / secs;
            view.status.kbps = (v.bytes - self.rate.1) as f64 / 1000.0 / secs;
            view.status.rtt_ms = s.rtt().as_millis() as u64;
            self.rate = (v.frames, v.bytes, Instant::now());
            println!("{}", v.stats_line(view.status.fps, view.status.kbps));
        }
        if v.clipboard.1 != self.clips_seen {
            self.clips_seen = v.clipboard.1;
            // Only the session on screen fills the technician's clipboard.
            if visible {
                self.incoming_clip.clone_from(&v.clipboard.0);
            }
        }
        view.reconnecting = v.stalled;
        if let Some(why) = &v.ended {
            view.ended = Some(format!("The customer ended the session: {why}"));
        } else if !s.is_live() {
            view.ended = Some("The connection to the customer was lost.".into());
        }
    }
}

/// Does a session's acts in order; yields what the window must hear.
fn worker(
    id: u64,
    live: Live,
    rx: mpsc::UnboundedReceiver<Act>,
) -> impl iced::futures::Stream<Item = Message> {
    iced::futures::stream::unfold((live, rx), move |(live, mut rx)| async move {
        let act = rx.recv().await?;
        let mut guard = live.lock().await;
        let message = if let Act::End = act {
            if let Some(s) = guard.take() {
                s.end().await;
            }
            Message::Ended(id)
        } else if let Some(s) = guard.as_mut() {
            let sent = match act {
                Act::Greet => s.greet().await,
                Act::RequestControl => s.request_control().await,
                Act::Monitor(id) => s.select_monitor(id).await,
                Act::Lossy(allowed) => s.allow_lossy(allowed).await,
                Act::Chat(line) => s.chat(&line).await,
                Act::Note(text) => {
                    s.report(tether_protocol::signal::SessionReport::Note { text }).await;
                    Ok(())
                }
                Act::Input(event) => s.input(event).await,
                Act::Clipboard(clip) => s.copy_to_customer(&clip).await,
                Act::End => Ok(()),
            };
            Message::Sent(sent.map_err(|e: ConsoleError| e.to_string()))
        } else {
            Message::Sent(Ok(()))
        };
        drop(guard);
        Some((message, (live, rx)))
    })
}
