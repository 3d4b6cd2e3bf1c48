//! Capture on X11 with x11rb: the monitors RandR knows (including logical
//! ones without an output of their own, as `xrandr --setmonitor` makes
//! them, which xcap does not list), and the shared one's area of the root
//! window, through a MIT-SHM segment when the server offers one (no 8 MB
//! reply through the X socket per frame), else plain `GetImage`.

use std::fs::File;
use std::os::unix::fs::FileExt;

use tether_protocol::channel::clip_to;
use tether_protocol::channel::control::{MAX_MONITOR_NAME, MAX_MONITORS, Monitor};
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::randr::{ConnectionExt as _, NotifyMask};
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, ImageOrder, Window};
use x11rb::rust_connection::RustConnection;

use crate::screen::{CaptureError, Captured, ScreenSource};

/// The X server's screen, one RandR monitor at a time.
pub struct X11Source {
    conn: RustConnection,
    root: Window,
    monitors: Vec<Monitor>,
    shared: Monitor,
    /// The shared-memory segment the server writes pictures into, if any.
    shm: Option<Shm>,
    /// A picture's buffer given back after encoding, for the next capture.
    spare: Vec<u8>,
}

/// A MIT-SHM segment the server made (SHM 1.2 `CreateSegment`); read with
/// `pread`, so no unsafe mapping is needed on this side.
struct Shm {
    seg: u32,
    file: File,
    size: usize,
}

impl Shm {
    /// Asks the server for a segment of `size` bytes.
    fn create(conn: &RustConnection, size: usize) -> Result<Self, CaptureError> {
        let version = conn.shm_query_version().map_err(failed)?.reply().map_err(failed)?;
        if (version.major_version, version.minor_version) < (1, 2) {
            return Err(failed("the X server's MIT-SHM is older than 1.2"));
        }
        let seg = conn.generate_id().map_err(failed)?;
        let bytes = u32::try_from(size).map_err(failed)?;
        let reply = conn.shm_create_segment(seg, bytes, false).map_err(failed)?.reply().map_err(failed)?;
        Ok(Self { seg, file: File::from(reply.shm_fd), size })
    }
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
        Self::connect(None)
    }

    /// As [`Self::primary`], on `display` (`None`: `DISPLAY`).
    pub fn connect(display: Option<&str>) -> Result<Self, CaptureError> {
        let (conn, screen) = x11rb::connect(display).map_err(|e| CaptureError::NoScreen(e.to_string()))?;
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
        // Resolution changes arrive as events, read before each capture.
        let _ = conn.randr_select_input(root, NotifyMask::SCREEN_CHANGE);
        let monitors = Self::discover(&conn, root, (width, height));
        let shared = monitors.iter().find(|m| m.primary).unwrap_or(&monitors[0]).clone();
        let whole = usize::from(width) * usize::from(height) * 4;
        let shm = Shm::create(&conn, whole)
            .inspect_err(|e| tracing::debug!("capturing without shared memory: {e}"))
            .ok();
        Ok(Self { conn, root, monitors, shared, shm, spare: Vec::new() })
    }

    /// The monitors RandR lists, or the whole `size` root as one; never empty.
    fn discover(conn: &RustConnection, root: Window, (width, height): (u16, u16)) -> Vec<Monitor> {
        let mut monitors = Self::list(conn, root).unwrap_or_default();
        if monitors.is_empty() {
            monitors.push(Monitor {
                id: 0,
                name: "screen".into(),
                x: 0,
                y: 0,
                width: u32::from(width),
                height: u32::from(height),
                primary: true,
            });
        }
        monitors
    }

    /// Whether the screen changed size since the last look (RandR events).
    fn screen_changed(&self) -> Result<bool, CaptureError> {
        let mut changed = false;
        while let Some(event) = self.conn.poll_for_event().map_err(failed)? {
            changed |= matches!(event, Event::RandrScreenChangeNotify(_));
        }
        Ok(changed)
    }

    /// Reads the screen's size and monitors again, after a resolution change:
    /// keeps sharing the same monitor if it is still there (with its new
    /// size), else the primary one; grows the shared segment if needed.
    fn refresh(&mut self) -> Result<(), CaptureError> {
        let geometry = self.conn.get_geometry(self.root).map_err(failed)?.reply().map_err(failed)?;
        let size = (geometry.width, geometry.height);
        self.monitors = Self::discover(&self.conn, self.root, size);
        let same = self.monitors.iter().find(|m| m.id == self.shared.id);
        let primary = self.monitors.iter().find(|m| m.primary).unwrap_or(&self.monitors[0]);
        self.shared = same.unwrap_or(primary).clone();
        let whole = usize::from(size.0) * usize::from(size.1) * 4;
        if self.shm.as_ref().is_some_and(|s| s.size < whole) {
            let old = self.shm.take().map(|s| s.seg);
            if let Some(seg) = old {
                let _ = self.conn.shm_detach(seg);
            }
            self.shm = Shm::create(&self.conn, whole).ok();
        }
        tracing::info!(
            "the screen is now {}×{}; sharing {}×{}",
            size.0,
            size.1,
            self.shared.width,
            self.shared.height
        );
        Ok(())
    }

    /// The shared monitor's picture, RGBA.
    fn grab(&mut self) -> Result<Captured, CaptureError> {
        let m = &self.shared;
        let (x, y) = (i16::try_from(m.x).map_err(failed)?, i16::try_from(m.y).map_err(failed)?);
        let (w, h) = (u16::try_from(m.width).map_err(failed)?, u16::try_from(m.height).map_err(failed)?);
        let (width, height) = (m.width, m.height);
        let mut rgba = self.pixels(x, y, w, h)?;
        bgrx_to_rgba(&mut rgba);
        Ok(Captured { width, height, rgba })
    }

    /// Without shared memory from now on: every picture through the socket.
    pub fn without_shm(mut self) -> Self {
        if let Some(shm) = self.shm.take() {
            let _ = self.conn.shm_detach(shm.seg);
        }
        self
    }

    /// Whether pictures come through shared memory.
    pub const fn uses_shm(&self) -> bool {
        self.shm.is_some()
    }

    /// The area's pixels as the server stores them (BGRX), through the
    /// shared segment when it is there and large enough. An area the screen
    /// no longer holds is an error (the caller reads the screen again); the
    /// segment is given up only if it fails where `GetImage` works.
    fn pixels(&mut self, x: i16, y: i16, w: u16, h: u16) -> Result<Vec<u8>, CaptureError> {
        let len = usize::from(w) * usize::from(h) * 4;
        let mut shm_failed = false;
        if let Some(shm) = self.shm.as_ref().filter(|s| s.size >= len) {
            let format = ImageFormat::Z_PIXMAP.into();
            let got = self
                .conn
                .shm_get_image(self.root, x, y, w, h, !0, format, shm.seg, 0)
                .map_err(failed)?
                .reply();
            match got {
                Ok(reply) if reply.size as usize == len => {
                    let mut data = std::mem::take(&mut self.spare);
                    data.resize(len, 0);
                    shm.file.read_exact_at(&mut data, 0).map_err(failed)?;
                    return Ok(data);
                }
                Ok(reply) => tracing::debug!("MIT-SHM sent {} bytes, not {len}", reply.size),
                Err(e) => tracing::debug!("MIT-SHM capture failed: {e}"),
            }
            shm_failed = true;
        }
        let image = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, x, y, w, h, !0)
            .map_err(failed)?
            .reply()
            .map_err(failed)?;
        if image.data.len() != len {
            return Err(CaptureError::Failed(format!(
                "the X server sent {} bytes, not {len}",
                image.data.len()
            )));
        }
        if shm_failed && let Some(shm) = self.shm.take() {
            tracing::debug!("capturing without shared memory from now on");
            let _ = self.conn.shm_detach(shm.seg);
        }
        Ok(image.data)
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

/// BGRX in memory to RGBA: swap blue and red, make it opaque. Written on
/// whole pixels so the compiler vectorises it (a fifth of the byte-wise
/// loop's time at 1080p).
fn bgrx_to_rgba(pixels: &mut [u8]) {
    for p in pixels.chunks_exact_mut(4) {
        let v = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        let swapped = (v & 0x0000_ff00) | ((v >> 16) & 0xff) | ((v & 0xff) << 16) | 0xff00_0000;
        p.copy_from_slice(&swapped.to_le_bytes());
    }
}

impl ScreenSource for X11Source {
    fn capture(&mut self) -> Result<Captured, CaptureError> {
        if self.screen_changed()? {
            self.refresh()?;
        }
        match self.grab() {
            Ok(c) => Ok(c),
            // The screen may have shrunk before its event arrived.
            Err(e) => {
                tracing::debug!("capture failed ({e}); reading the screen's size again");
                self.refresh()?;
                self.grab()
            }
        }
    }

    fn size(&self) -> (u32, u32) {
        (self.shared.width, self.shared.height)
    }

    fn recycle(&mut self, rgba: Vec<u8>) {
        self.spare = rgba;
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

#[cfg(test)]
mod tests {
    use super::bgrx_to_rgba;

    #[test]
    fn bgrx_becomes_opaque_rgba() {
        let mut px = [1, 2, 3, 0, 10, 20, 30, 99];
        bgrx_to_rgba(&mut px);
        assert_eq!(px, [3, 2, 1, 255, 30, 20, 10, 255]);
    }
}
