//! Capture on X11 with x11rb: the monitors RandR knows (including logical
//! ones without an output of their own, as `xrandr --setmonitor` makes
//! them, which xcap does not list), and `GetImage` of the shared one's area
//! of the root window.

use tether_protocol::channel::clip_to;
use tether_protocol::channel::control::{MAX_MONITOR_NAME, MAX_MONITORS, Monitor};
use x11rb::connection::Connection;
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, ImageOrder, Window};
use x11rb::rust_connection::RustConnection;

use crate::screen::{CaptureError, Captured, ScreenSource};

/// The X server's screen, one RandR monitor at a time.
pub struct X11Source {
    conn: RustConnection,
    root: Window,
    monitors: Vec<Monitor>,
    shared: Monitor,
}

impl std::fmt::Debug for X11Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Source").field("shared", &self.shared).finish_non_exhaustive()
    }
}

fn failed(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Failed(e.to_string())
}

impl X11Source {
    /// Connects to `DISPLAY` and shares the primary monitor (or the first).
    /// Only servers with 32-bit, little-endian pixels are handled here;
    /// others get an error, and the caller another source.
    pub fn primary() -> Result<Self, CaptureError> {
        let (conn, screen) = x11rb::connect(None).map_err(|e| CaptureError::NoScreen(e.to_string()))?;
        let setup = conn.setup();
        let root_screen =
            setup.roots.get(screen).ok_or_else(|| CaptureError::NoScreen("no X screen".into()))?;
        let depth = root_screen.root_depth;
        let bpp = setup.pixmap_formats.iter().find(|f| f.depth == depth).map(|f| f.bits_per_pixel);
        if depth != 24 || bpp != Some(32) || setup.image_byte_order != ImageOrder::LSB_FIRST {
            return Err(CaptureError::NoScreen(format!("X pixels of depth {depth} are not handled here")));
        }
        let (root, width, height) =
            (root_screen.root, root_screen.width_in_pixels, root_screen.height_in_pixels);
        let mut monitors = Self::list(&conn, root).unwrap_or_default();
        if monitors.is_empty() {
            let whole = u32::from(width);
            monitors.push(Monitor {
                id: 0,
                name: "screen".into(),
                x: 0,
                y: 0,
                width: whole,
                height: u32::from(height),
                primary: true,
            });
        }
        let shared = monitors.iter().find(|m| m.primary).unwrap_or(&monitors[0]).clone();
        Ok(Self { conn, root, monitors, shared })
    }

    fn list(conn: &RustConnection, root: Window) -> Result<Vec<Monitor>, CaptureError> {
        let reply = conn.randr_get_monitors(root, true).map_err(failed)?.reply().map_err(failed)?;
        let mut out = Vec::new();
        for m in reply.monitors.iter().take(MAX_MONITORS) {
            let name = conn
                .get_atom_name(m.name)
                .map_err(failed)?
                .reply()
                .map(|n| String::from_utf8_lossy(&n.name).into_owned())
                .unwrap_or_default();
            if m.width == 0 || m.height == 0 {
                continue;
            }
            out.push(Monitor {
                id: m.name,
                name: clip_to(&name, MAX_MONITOR_NAME).to_owned(),
                x: i32::from(m.x),
                y: i32::from(m.y),
                width: u32::from(m.width),
                height: u32::from(m.height),
                primary: m.primary,
            });
        }
        Ok(out)
    }
}

impl ScreenSource for X11Source {
    fn capture(&mut self) -> Result<Captured, CaptureError> {
        let m = &self.shared;
        let (x, y) = (i16::try_from(m.x).map_err(failed)?, i16::try_from(m.y).map_err(failed)?);
        let (w, h) = (u16::try_from(m.width).map_err(failed)?, u16::try_from(m.height).map_err(failed)?);
        let image = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, x, y, w, h, !0)
            .map_err(failed)?
            .reply()
            .map_err(failed)?;
        let expected = usize::from(w) * usize::from(h) * 4;
        if image.data.len() != expected {
            return Err(CaptureError::Failed(format!(
                "the X server sent {} bytes, not {expected}",
                image.data.len()
            )));
        }
        let mut rgba = image.data;
        // BGRX in memory: swap blue and red, make it opaque.
        for p in rgba.chunks_exact_mut(4) {
            p.swap(0, 2);
            p[3] = 255;
        }
        Ok(Captured { width: m.width, height: m.height, rgba })
    }

    fn size(&self) -> (u32, u32) {
        (self.shared.width, self.shared.height)
    }

    fn monitors(&self) -> (Vec<Monitor>, u32) {
        (self.monitors.clone(), self.shared.id)
    }

    fn select(&mut self, id: u32) -> Result<(), CaptureError> {
        let fresh = Self::list(&self.conn, self.root).unwrap_or_else(|_| self.monitors.clone());
        let chosen = fresh.iter().find(|m| m.id == id).cloned();
        self.monitors = fresh;
        self.shared = chosen.ok_or_else(|| CaptureError::NoScreen(format!("monitor {id} is gone")))?;
        Ok(())
    }
}
