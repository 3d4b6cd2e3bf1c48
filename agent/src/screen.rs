//! Screen capture behind the `ScreenSource` trait; xcap is the portable path.
//! A source shares one monitor at a time and can list and switch them.

use tether_protocol::channel::clip_to;
use tether_protocol::channel::control::{MAX_MONITOR_NAME, MAX_MONITORS, Monitor};

/// One captured picture: RGBA rows, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub rgba: Vec<u8>,
}

/// Why the screen could not be captured.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// No display or no monitor.
    #[error("no screen to share: {0}")]
    NoScreen(String),
    /// The capture call failed.
    #[error("screen capture failed: {0}")]
    Failed(String),
}

/// Something that produces pictures of the customer's screen.
pub trait ScreenSource: Send {
    /// Captures the whole screen now.
    fn capture(&mut self) -> Result<Captured, CaptureError>;

    /// The screen size in pixels.
    fn size(&self) -> (u32, u32);

    /// Takes back a picture's buffer once it has been encoded, so the next
    /// capture can reuse its memory instead of fresh (zeroed) pages.
    fn recycle(&mut self, _rgba: Vec<u8>) {}

    /// The monitors there are, and the id of the one shared now.
    fn monitors(&self) -> (Vec<Monitor>, u32) {
        let (width, height) = self.size();
        let only = Monitor { id: 0, name: "screen".into(), x: 0, y: 0, width, height, primary: true };
        (vec![only], 0)
    }

    /// Shares monitor `id` from now on.
    fn select(&mut self, id: u32) -> Result<(), CaptureError> {
        if id == 0 { Ok(()) } else { Err(CaptureError::NoScreen(format!("there is no monitor {id}"))) }
    }
}

/// The primary monitor through the best source here: x11rb (MIT-SHM when
/// offered), else xcap.
pub fn primary() -> Result<Box<dyn ScreenSource>, CaptureError> {
    match crate::x11::X11Source::primary() {
        Ok(s) => Ok(Box::new(s)),
        Err(e) => {
            tracing::debug!("capturing through xcap: {e}");
            XcapSource::primary().map(|s| Box::new(s) as Box<dyn ScreenSource>)
        }
    }
}

/// The primary monitor through xcap.
#[derive(Debug)]
pub struct XcapSource {
    monitor: xcap::Monitor,
}

impl XcapSource {
    /// Opens the primary monitor (or the first one).
    pub fn primary() -> Result<Self, CaptureError> {
        let monitors = xcap::Monitor::all().map_err(|e| CaptureError::NoScreen(e.to_string()))?;
        let primary = monitors.iter().position(|m| m.is_primary().unwrap_or(false)).unwrap_or(0);
        let monitor = monitors
            .into_iter()
            .nth(primary)
            .ok_or_else(|| CaptureError::NoScreen("the display has no monitor".into()))?;
        Ok(Self { monitor })
    }
}

/// The protocol's description of an xcap monitor.
fn describe(m: &xcap::Monitor) -> Option<Monitor> {
    let name = clip_to(&m.name().unwrap_or_default(), MAX_MONITOR_NAME).to_owned();
    Some(Monitor {
        id: m.id().ok()?,
        name,
        x: m.x().ok()?,
        y: m.y().ok()?,
        width: m.width().ok()?,
        height: m.height().ok()?,
        primary: m.is_primary().unwrap_or(false),
    })
}

impl ScreenSource for XcapSource {
    fn monitors(&self) -> (Vec<Monitor>, u32) {
        let all = xcap::Monitor::all().unwrap_or_default();
        let list: Vec<Monitor> = all.iter().filter_map(describe).take(MAX_MONITORS).collect();
        (list, self.monitor.id().unwrap_or(0))
    }

    fn select(&mut self, id: u32) -> Result<(), CaptureError> {
        let all = xcap::Monitor::all().map_err(|e| CaptureError::NoScreen(e.to_string()))?;
        self.monitor = all
            .into_iter()
            .find(|m| m.id().ok() == Some(id))
            .ok_or_else(|| CaptureError::NoScreen(format!("monitor {id} is gone")))?;
        Ok(())
    }

    fn capture(&mut self) -> Result<Captured, CaptureError> {
        let img = self.monitor.capture_image().map_err(|e| CaptureError::Failed(e.to_string()))?;
        let (width, height) = img.dimensions();
        Ok(Captured { width, height, rgba: img.into_raw() })
    }

    fn size(&self) -> (u32, u32) {
        (self.monitor.width().unwrap_or(0), self.monitor.height().unwrap_or(0))
    }
}
