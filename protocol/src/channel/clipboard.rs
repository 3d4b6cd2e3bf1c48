//! Clipboard channel: what was copied on one side, for the other side's
//! clipboard. The customer switches each direction on or off, and the agent
//! enforces it: it neither sends nor applies a direction that is off.

use serde::{Deserialize, Serialize};

/// Longest text, in bytes.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// Longest image edge, in pixels.
pub const MAX_IMAGE_EDGE: u32 = 8192;
/// Most pixels in an image (a 4K screenshot has 8.3 million).
pub const MAX_IMAGE_PIXELS: u64 = 16 << 20;
/// Largest compressed image, in bytes.
pub const MAX_IMAGE_BYTES: usize = 16 << 20;

/// Why a clipboard message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClipError {
    /// Text over [`MAX_TEXT_BYTES`].
    #[error("the copied text is over 1 MiB")]
    TextTooLong,
    /// An image over the limits, or with no pixels.
    #[error("the copied image is empty or too large")]
    ImageSize,
    /// The pixels do not decompress to the stated size.
    #[error("the copied image is damaged")]
    Damaged,
}

/// One clipboard's content; the same in both directions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Clip {
    /// Text.
    Text(String),
    /// An image: RGBA pixels, row by row, compressed with zstd.
    Image {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The compressed pixels.
        #[serde(with = "serde_bytes")]
        rgba_zstd: Vec<u8>,
    },
}

fn pixels(width: u32, height: u32) -> Result<usize, ClipError> {
    let n = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 || width > MAX_IMAGE_EDGE || height > MAX_IMAGE_EDGE || n > MAX_IMAGE_PIXELS
    {
        return Err(ClipError::ImageSize);
    }
    usize::try_from(n * 4).map_err(|_| ClipError::ImageSize)
}

impl Clip {
    /// An image clip from RGBA pixels.
    pub fn image(width: u32, height: u32, rgba: &[u8]) -> Result<Self, ClipError> {
        if rgba.len() != pixels(width, height)? {
            return Err(ClipError::Damaged);
        }
        let rgba_zstd = zstd::bulk::compress(rgba, 3).map_err(|_| ClipError::Damaged)?;
        if rgba_zstd.len() > MAX_IMAGE_BYTES {
            return Err(ClipError::ImageSize);
        }
        Ok(Self::Image { width, height, rgba_zstd })
    }

    /// Checks the limits without decompressing.
    pub fn check(&self) -> Result<(), ClipError> {
        match self {
            Self::Text(t) if t.len() > MAX_TEXT_BYTES => Err(ClipError::TextTooLong),
            Self::Text(_) => Ok(()),
            Self::Image { width, height, rgba_zstd } => {
                pixels(*width, *height)?;
                if rgba_zstd.len() > MAX_IMAGE_BYTES { Err(ClipError::ImageSize) } else { Ok(()) }
            }
        }
    }

    /// The image's RGBA pixels, exactly width × height × 4 of them.
    pub fn rgba(&self) -> Result<Option<(u32, u32, Vec<u8>)>, ClipError> {
        let Self::Image { width, height, rgba_zstd } = self else { return Ok(None) };
        let len = pixels(*width, *height)?;
        let rgba = zstd::bulk::decompress(rgba_zstd, len).map_err(|_| ClipError::Damaged)?;
        if rgba.len() != len {
            return Err(ClipError::Damaged);
        }
        Ok(Some((*width, *height, rgba)))
    }

    /// The largest message this channel carries.
    pub const MAX_MESSAGE: usize = MAX_IMAGE_BYTES + 1024;
}

/// Console to agent: the technician copied this.
pub type ConsoleToAgent = Clip;
/// Agent to console: the customer copied this.
pub type AgentToConsole = Clip;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, testing::round_trip};
    use proptest::prelude::*;

    #[test]
    fn images_round_trip_and_lies_about_size_are_caught() {
        let rgba: Vec<u8> = (0..64 * 32 * 4).map(|i| (i % 251) as u8).collect();
        let clip = Clip::image(64, 32, &rgba).unwrap();
        round_trip(&clip);
        assert_eq!(clip.rgba().unwrap(), Some((64, 32, rgba.clone())));
        let Clip::Image { rgba_zstd, .. } = clip else { unreachable!() };
        // The same bytes claimed as a bigger image decompress short.
        let liar = Clip::Image { width: 64, height: 33, rgba_zstd: rgba_zstd.clone() };
        assert_eq!(liar.rgba(), Err(ClipError::Damaged));
        let huge = Clip::Image { width: MAX_IMAGE_EDGE + 1, height: 1, rgba_zstd };
        assert_eq!(huge.check(), Err(ClipError::ImageSize));
        assert_eq!(Clip::image(2, 2, &[0; 15]), Err(ClipError::Damaged));
        assert_eq!(Clip::Text("x".repeat(MAX_TEXT_BYTES + 1)).check(), Err(ClipError::TextTooLong));
    }

    proptest! {
        #[test]
        fn text_round_trips(t in ".{0,200}") {
            round_trip(&Clip::Text(t));
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(c) = wire::decode::<Clip>(&b) {
                let _ = c.check();
                let _ = c.rgba();
            }
        }
    }
}
