//! The customer's pointer for the technician: where it is and what it looks
//! like, behind the `CursorSource` trait; XFixes on X11 is the real one
//! (screen captures do not include the pointer). The pump sends a position
//! when it moves and a shape only when it changes, while viewing is granted.

use std::time::Duration;

use tether_protocol::channel::control::{Consent, Monitor};
use tether_protocol::channel::cursor::{self, CursorShape, MAX_CURSOR_EDGE};
use tether_transport::peer::ChannelSend;
use tokio::sync::watch;
use tracing::{debug, warn};
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;

use crate::AgentError;
use crate::screen::CaptureError;

/// How often the pointer is looked at.
const POLL: Duration = Duration::from_millis(16);

/// The pointer now: position, and a number that changes with the shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    /// Pixels from the screen's left.
    pub x: i32,
    /// Pixels from the screen's top.
    pub y: i32,
    /// Changes whenever the shape does.
    pub serial: u32,
}

/// Something that reports the customer's pointer.
pub trait CursorSource: Send {
    /// Where the pointer is, and which shape it has.
    fn pointer(&mut self) -> Result<Pointer, CaptureError>;

    /// The current shape.
    fn shape(&mut self) -> Result<CursorShape, CaptureError>;
}

/// The X server's pointer through XFixes.
pub struct XfixesSource {
    conn: RustConnection,
    last: Option<xfixes::GetCursorImageReply>,
}

impl std::fmt::Debug for XfixesSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XfixesSource")
    }
}

fn failed(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Failed(format!("reading the pointer: {e}"))
}

impl XfixesSource {
    /// Connects to the display in `DISPLAY`.
    pub fn open() -> Result<Self, CaptureError> {
        let (conn, _) = x11rb::connect(None).map_err(|e| CaptureError::NoScreen(e.to_string()))?;
        conn.xfixes_query_version(4, 0).map_err(failed)?.reply().map_err(failed)?;
        Ok(Self { conn, last: None })
    }

    fn image(&mut self) -> Result<&xfixes::GetCursorImageReply, CaptureError> {
        let reply = self.conn.xfixes_get_cursor_image().map_err(failed)?.reply().map_err(failed)?;
        Ok(self.last.insert(reply))
    }
}

/// XFixes pixels are premultiplied ARGB in native words; the wire wants
/// straight RGBA.
fn rgba(argb: &[u32]) -> Vec<u8> {
    argb.iter()
        .flat_map(|&p| {
            let [a, r, g, b] = p.to_be_bytes();
            let straight =
                |c: u8| if a == 0 { 0 } else { (u32::from(c) * 255 / u32::from(a)).min(255) as u8 };
            [straight(r), straight(g), straight(b), a]
        })
        .collect()
}

impl CursorSource for XfixesSource {
    fn pointer(&mut self) -> Result<Pointer, CaptureError> {
        let r = self.image()?;
        Ok(Pointer { x: i32::from(r.x), y: i32::from(r.y), serial: r.cursor_serial })
    }

    fn shape(&mut self) -> Result<CursorShape, CaptureError> {
        let r = match &self.last {
            Some(r) => r,
            None => self.image()?,
        };
        let (width, height) = (r.width.min(MAX_CURSOR_EDGE), r.height.min(MAX_CURSOR_EDGE));
        let rows = r.cursor_image.chunks(usize::from(r.width).max(1)).take(usize::from(height));
        let argb: Vec<u32> = rows.flat_map(|row| row.iter().take(usize::from(width)).copied()).collect();
        let shape = CursorShape {
            width,
            height,
            hot_x: r.xhot.min(width.saturating_sub(1)),
            hot_y: r.yhot.min(height.saturating_sub(1)),
            rgba: rgba(&argb),
        };
        shape.check().map_err(failed)?;
        Ok(shape)
    }
}

/// The pointer now, and its shape too if its serial is not `known`.
type Look = (Pointer, Option<Result<CursorShape, CaptureError>>);

fn look(source: &mut dyn CursorSource, known: Option<u32>) -> Result<Look, CaptureError> {
    let now = source.pointer()?;
    let shape = (known != Some(now.serial)).then(|| source.shape());
    Ok((now, shape))
}

/// Sends the pointer while viewing is granted, on the shared monitor's
/// pixels, until the channel closes.
/// Without a pointer to read (no X server), it says so once and idles.
pub(crate) async fn stream_cursor(
    mut send: ChannelSend<cursor::AgentToConsole>,
    source: Result<Box<dyn CursorSource>, CaptureError>,
    mut consent: watch::Receiver<Consent>,
    mut monitor: watch::Receiver<Monitor>,
) -> Result<(), AgentError> {
    let mut source = match source {
        Ok(s) => s,
        Err(e) => {
            warn!("the technician will not see the pointer: {e}");
            return std::future::pending().await;
        }
    };
    let mut sent: Option<Pointer> = None;
    loop {
        if monitor.has_changed().unwrap_or(false) {
            // Another monitor: the same spot is somewhere else on it.
            monitor.mark_unchanged();
            sent = None;
        }
        if consent.borrow().view {
            // X round trips block: off the async threads, as capture is.
            let known = sent.as_ref().map(|s| s.serial);
            let (back, read) = tokio::task::spawn_blocking(move || {
                let read = look(&mut *source, known);
                (source, read)
            })
            .await
            .map_err(|_| AgentError::Internal("the pointer thread failed"))?;
            source = back;
            match read {
                Ok((now, shape)) => {
                    match shape {
                        Some(Ok(shape)) => send.send(&cursor::AgentToConsole::Shape(shape)).await?,
                        Some(Err(e)) => debug!("pointer shape: {e}"),
                        None => {}
                    }
                    if sent.as_ref().is_none_or(|s| (s.x, s.y) != (now.x, now.y)) {
                        // On the shared monitor's pixels.
                        let (x, y) = {
                            let m = monitor.borrow();
                            (now.x.saturating_sub(m.x), now.y.saturating_sub(m.y))
                        };
                        send.send(&cursor::AgentToConsole::Position { x, y }).await?;
                    }
                    sent = Some(now);
                }
                Err(e) => debug!("{e}"),
            }
        } else {
            sent = None;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            changed = consent.changed() => if changed.is_err() { return Ok(()) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn premultiplied_argb_becomes_straight_rgba() {
        // Opaque red, half-transparent white (premultiplied 0x80), clear.
        let px = rgba(&[0xffff_0000, 0x8080_8080, 0x0000_0000]);
        assert_eq!(px, [255, 0, 0, 255, 255, 255, 255, 128, 0, 0, 0, 0]);
    }
}
