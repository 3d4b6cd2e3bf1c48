//! The customer's clipboard, shared with the technician in the directions
//! the customer allows: what the customer copies goes to the technician,
//! what the technician copies lands in the customer's clipboard. The agent
//! enforces both switches; a direction that is off sends and applies
//! nothing. What was on the clipboard before the session is never sent.
//!
//! X11 clipboards belong to a live program, so one thread holds arboard's
//! clipboard for the whole session, polls it for the customer's copies and
//! sets what the technician sent.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::str::FromStr;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use tether_protocol::channel::clipboard::{Clip, MAX_TEXT_BYTES};
use tether_transport::peer::{ChannelRecv, ChannelSend};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::AgentError;

/// How often the clipboard is read for new text.
const POLL: Duration = Duration::from_millis(400);
/// How often it is read for a new image (images cost a PNG decode).
const POLL_IMAGE: Duration = Duration::from_secs(2);

/// Which directions the customer allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipboardPolicy {
    /// The customer's copies go to the technician.
    pub to_technician: bool,
    /// The technician's copies land in the customer's clipboard.
    pub from_technician: bool,
}

impl Default for ClipboardPolicy {
    fn default() -> Self {
        Self { to_technician: true, from_technician: true }
    }
}

/// `--clipboard` was not one of the four choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--clipboard takes both, none, to-technician or from-technician, not {0:?}")]
pub struct PolicyError(String);

impl FromStr for ClipboardPolicy {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (to_technician, from_technician) = match s {
            "both" => (true, true),
            "none" => (false, false),
            "to-technician" => (true, false),
            "from-technician" => (false, true),
            _ => return Err(PolicyError(s.to_owned())),
        };
        Ok(Self { to_technician, from_technician })
    }
}

/// A clipboard to read and write (arboard, or a fake in tests).
pub trait ClipboardAccess {
    /// The current text, if any.
    fn text(&mut self) -> Option<String>;
    /// The current image, if any.
    fn image(&mut self) -> Option<Clip>;
    /// Puts `clip` on the clipboard.
    fn set(&mut self, clip: &Clip) -> Result<(), String>;
}

/// Opens the clipboard on its thread.
pub type OpenClipboard = Box<dyn FnOnce() -> Result<Box<dyn ClipboardAccess>, String> + Send>;

/// The system clipboard through arboard.
pub struct Arboard(arboard::Clipboard);

impl std::fmt::Debug for Arboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Arboard")
    }
}

impl Arboard {
    /// Opens the system clipboard.
    pub fn open() -> Result<Box<dyn ClipboardAccess>, String> {
        arboard::Clipboard::new()
            .map(|c| Box::new(Self(c)) as Box<dyn ClipboardAccess>)
            .map_err(|e| e.to_string())
    }
}

impl ClipboardAccess for Arboard {
    fn text(&mut self) -> Option<String> {
        self.0.get_text().ok().filter(|t| !t.is_empty() && t.len() <= MAX_TEXT_BYTES)
    }

    fn image(&mut self) -> Option<Clip> {
        let img = self.0.get_image().ok()?;
        Clip::image(u32::try_from(img.width).ok()?, u32::try_from(img.height).ok()?, &img.bytes).ok()
    }

    fn set(&mut self, clip: &Clip) -> Result<(), String> {
        match clip {
            Clip::Text(t) => self.0.set_text(t.as_str()).map_err(|e| e.to_string()),
            Clip::Image { .. } => {
                let (w, h, rgba) = clip.rgba().map_err(|e| e.to_string())?.ok_or("not an image")?;
                let image = arboard::ImageData { width: w as usize, height: h as usize, bytes: rgba.into() };
                self.0.set_image(image).map_err(|e| e.to_string())
            }
        }
    }
}

fn digest(clip: &Clip) -> u64 {
    let mut h = DefaultHasher::new();
    clip.hash(&mut h);
    h.finish()
}

/// Holds the clipboard on its own thread: applies what arrives on
/// `apply`, and sends each new copy on `copied`. Ends when `apply` closes.
fn run_thread(open: OpenClipboard, apply: std_mpsc::Receiver<Clip>, copied: mpsc::UnboundedSender<Clip>) {
    let mut board = match open() {
        Ok(b) => b,
        Err(e) => {
            warn!("the clipboard is not available; it will not be shared: {e}");
            return;
        }
    };
    let read = |board: &mut Box<dyn ClipboardAccess>, images: bool| {
        board.text().map(Clip::Text).or_else(|| if images { board.image() } else { None })
    };
    // What is there already stays private.
    let mut last = read(&mut board, true).as_ref().map(digest);
    let mut last_image_poll = Instant::now();
    loop {
        match apply.recv_timeout(POLL) {
            Ok(clip) => match board.set(&clip) {
                Ok(()) => last = Some(digest(&clip)),
                Err(e) => warn!("could not set the clipboard: {e}"),
            },
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                let images = last_image_poll.elapsed() >= POLL_IMAGE;
                if images {
                    last_image_poll = Instant::now();
                }
                let Some(clip) = read(&mut board, images) else { continue };
                let d = digest(&clip);
                // A text poll cannot see an image: only a change counts.
                if last != Some(d) && (images || matches!(clip, Clip::Text(_))) {
                    last = Some(d);
                    if copied.send(clip).is_err() {
                        return;
                    }
                }
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Shares the clipboard until the channel ends, as `policy` allows.
pub async fn serve(
    open: OpenClipboard,
    mut send: ChannelSend<Clip>,
    mut recv: ChannelRecv<Clip>,
    policy: watch::Receiver<ClipboardPolicy>,
) -> Result<(), AgentError> {
    // One clip waits at most: a flood from the technician is dropped, not queued.
    let (apply, apply_rx) = std_mpsc::sync_channel(1);
    let (copied_tx, mut copied) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("clipboard".into())
        .spawn(move || run_thread(open, apply_rx, copied_tx))
        .map_err(|_| AgentError::Internal("could not start the clipboard thread"))?;
    let mut copying = true;
    loop {
        tokio::select! {
            msg = recv.recv() => match msg? {
                None => return Ok(()),
                Some(clip) => {
                    if let Err(e) = clip.check() {
                        warn!("dropped a clipboard from the technician: {e}");
                    } else if !policy.borrow().from_technician {
                        info!("dropped a clipboard from the technician: the customer switched that off");
                    } else {
                        println!("clipboard: from the technician ({})", describe(&clip));
                        if apply.try_send(clip).is_err() {
                            info!("dropped a clipboard from the technician: the last one is still being applied");
                        }
                    }
                }
            },
            clip = copied.recv(), if copying => match clip {
                None => copying = false,
                Some(clip) if policy.borrow().to_technician => {
                    println!("clipboard: to the technician ({})", describe(&clip));
                    send.send(&clip).await?;
                }
                Some(_) => info!("kept the customer's copy private: they switched that direction off"),
            },
        }
    }
}

/// "12 bytes of text", "640×480 image".
#[must_use]
pub fn describe(clip: &Clip) -> String {
    match clip {
        Clip::Text(t) => format!("{} bytes of text", t.len()),
        Clip::Image { width, height, .. } => format!("{width}×{height} image"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse() {
        assert_eq!("both".parse(), Ok(ClipboardPolicy::default()));
        assert_eq!("none".parse(), Ok(ClipboardPolicy { to_technician: false, from_technician: false }));
        assert_eq!(
            "to-technician".parse(),
            Ok(ClipboardPolicy { to_technician: true, from_technician: false })
        );
        assert!("sometimes".parse::<ClipboardPolicy>().is_err());
    }
}
