//! The system clipboard of one end of a session, held on a thread of its
//! own: it applies clips from the peer and reports each new local copy.
//! Used by the agent (the customer's clipboard) and by the console window
//! (the technician's). What was on the clipboard before is never reported.
//!
//! X11 clipboards belong to a live program, so the thread holds arboard's
//! clipboard for as long as it runs, and polls it for copies.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use tether_protocol::channel::clipboard::{Clip, MAX_TEXT_BYTES};
use tokio::sync::mpsc;
use tracing::warn;

/// How often the clipboard is read for new text.
const POLL: Duration = Duration::from_millis(400);
/// How often it is read for a new image (images cost a PNG decode).
const POLL_IMAGE: Duration = Duration::from_secs(2);

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

/// The two ends of a running clipboard thread.
#[derive(Debug)]
pub struct Watcher {
    /// Clips to put on the clipboard; one waits at most, so a flood from
    /// the peer is dropped, not queued (`try_send`).
    pub apply: std_mpsc::SyncSender<Clip>,
    /// Each new local copy.
    pub copied: mpsc::UnboundedReceiver<Clip>,
}

impl Watcher {
    /// Starts the thread; it ends when `apply` is dropped.
    pub fn start(open: OpenClipboard) -> std::io::Result<Self> {
        let (apply, apply_rx) = std_mpsc::sync_channel(1);
        let (copied_tx, copied) = mpsc::unbounded_channel();
        std::thread::Builder::new().name("clipboard".into()).spawn(move || run(open, apply_rx, copied_tx))?;
        Ok(Self { apply, copied })
    }
}

/// Holds the clipboard: applies what arrives on `apply`, and sends each new
/// copy on `copied`. Ends when `apply` closes.
fn run(open: OpenClipboard, apply: std_mpsc::Receiver<Clip>, copied: mpsc::UnboundedSender<Clip>) {
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
    use std::sync::{Arc, Mutex};

    /// A clipboard in memory that the test can also write, as a person would.
    #[derive(Clone, Default)]
    struct Fake(Arc<Mutex<Option<Clip>>>);

    impl ClipboardAccess for Fake {
        fn text(&mut self) -> Option<String> {
            match &*self.0.lock().unwrap() {
                Some(Clip::Text(t)) => Some(t.clone()),
                _ => None,
            }
        }
        fn image(&mut self) -> Option<Clip> {
            self.0.lock().unwrap().clone().filter(|c| matches!(c, Clip::Image { .. }))
        }
        fn set(&mut self, clip: &Clip) -> Result<(), String> {
            *self.0.lock().unwrap() = Some(clip.clone());
            Ok(())
        }
    }

    #[test]
    fn reports_new_copies_but_not_the_old_one_nor_what_it_applied() {
        let mut board = Fake::default();
        *board.0.lock().unwrap() = Some(Clip::Text("from before".into()));
        let inner = board.clone();
        let mut w =
            Watcher::start(Box::new(move || Ok(Box::new(inner) as Box<dyn ClipboardAccess>))).unwrap();
        w.apply.send(Clip::Text("from the peer".into())).unwrap();
        std::thread::sleep(POLL * 2);
        assert_eq!(board.text().as_deref(), Some("from the peer"));
        *board.0.lock().unwrap() = Some(Clip::Text("copied here".into()));
        let got = w.copied.blocking_recv().unwrap();
        assert_eq!(got, Clip::Text("copied here".into()));
        assert!(w.copied.try_recv().is_err(), "the old copy or the applied one was reported");
        drop(w.apply);
        assert!(w.copied.blocking_recv().is_none(), "the thread did not end");
    }
}
