//! Screen capture behind the `ScreenSource` trait; xcap is the portable path.

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

impl ScreenSource for XcapSource {
    fn capture(&mut self) -> Result<Captured, CaptureError> {
        let img = self.monitor.capture_image().map_err(|e| CaptureError::Failed(e.to_string()))?;
        let (width, height) = img.dimensions();
        Ok(Captured { width, height, rgba: img.into_raw() })
    }

    fn size(&self) -> (u32, u32) {
        (self.monitor.width().unwrap_or(0), self.monitor.height().unwrap_or(0))
    }
}
