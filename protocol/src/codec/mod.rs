//! Tile codec v2: lossless 64×64 dirty tiles over one session-long zstd
//! stream, with scrolled blocks sent as copies.
//!
//! The encoder compares each captured frame with the last one it sent. When
//! many tiles changed it looks for a block of rows that moved (`scroll`) and
//! sends that as a copy, then diffs the tiles against the moved picture.
//! Unchanged tiles are skipped, single-colour tiles are sent as their colour,
//! and every other dirty tile goes into one streaming zstd context that lives
//! for the whole session and is flushed once per frame, encoded as whichever
//! is smallest of a palette with runs, a QOI-style predictor, or raw pixels
//! (`tile`). One context (not one per tile) lets zstd reuse what it saw in
//! earlier tiles and frames.
//!
//! Under bandwidth pressure the agent may allow lossy tiles: photo and video
//! tiles (never text or UI) then go as JPEG, both sides remember which tiles
//! are approximate (`lossy`), and once the screen is still the encoder
//! re-sends them losslessly ("build to lossless").
//!
//! Pixels are RGBA, 4 bytes each, rows top to bottom.

mod decoder;
pub mod encoder;
pub mod lossy;
mod scroll;
mod tile;

pub use decoder::Decoder;
pub use encoder::Encoder;

use serde::{Deserialize, Serialize};

/// Tile edge in pixels.
pub const TILE: u32 = 64;
/// Widest screen accepted (8K).
pub const MAX_WIDTH: u32 = 7680;
/// Tallest screen accepted (8K).
pub const MAX_HEIGHT: u32 = 4320;
/// Bytes per pixel.
pub const BPP: usize = 4;

/// Most copies in one frame.
pub const MAX_COPIES: usize = 16;

/// How one dirty tile is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TileKind {
    /// Every pixel has this RGBA colour.
    Solid([u8; 4]),
    /// The tile's raw pixels are the next bytes of the frame's zstd output.
    Raw,
    /// The next `len` bytes are a palette of `colours` and runs of indices.
    Palette {
        /// Palette entries (1 to 16).
        colours: u8,
        /// Payload bytes in the stream.
        len: u32,
    },
    /// The next `len` bytes are the QOI-style predictor's output.
    Predicted {
        /// Payload bytes in the stream.
        len: u32,
    },
    /// The next slot of the frame's photo atlas ([`EncodedFrame::photos`]):
    /// lossy, only for photo and video content under bandwidth pressure,
    /// refined later. Nothing in the stream.
    Jpeg,
}

/// A block of the previous picture moved elsewhere (a scroll), applied
/// before the frame's tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyRect {
    /// Source left edge.
    pub x: u32,
    /// Source top edge.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Destination left edge.
    pub to_x: u32,
    /// Destination top edge.
    pub to_y: u32,
}

/// One changed tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileUpdate {
    /// Tile index, row-major over the tile grid.
    pub index: u32,
    /// Its content.
    pub kind: TileKind,
}

/// One frame on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedFrame {
    /// Sequence number, increasing by one per frame.
    pub seq: u64,
    /// Screen width; a change resets the framebuffer.
    pub width: u32,
    /// Screen height.
    pub height: u32,
    /// Blocks moved before the tiles are painted, in order.
    pub copies: Vec<CopyRect>,
    /// Changed tiles, in increasing index order.
    pub tiles: Vec<TileUpdate>,
    /// The session zstd stream's output for this frame.
    #[serde(with = "serde_bytes")]
    pub stream: Vec<u8>,
    /// One JPEG of every [`TileKind::Jpeg`] tile of the frame, 64×64 slots
    /// in tile order, [`lossy::ATLAS_COLUMNS`] to a row; empty when none.
    #[serde(with = "serde_bytes")]
    pub photos: Vec<u8>,
}

/// Why a frame could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Width or height is zero or above 8K.
    #[error("screen size {0}×{1} is not supported")]
    BadSize(u32, u32),
    /// The pixel buffer does not match the size.
    #[error("pixel buffer has {got} bytes, expected {expected}")]
    BufferLength {
        /// Bytes given.
        got: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// A tile index is out of range or out of order.
    #[error("invalid tile list")]
    BadTiles,
    /// A copy reaches outside the screen, or there are too many.
    #[error("invalid copy")]
    BadCopy,
    /// The zstd stream did not decode to exactly the tiles announced.
    #[error("compressed stream is corrupt")]
    Corrupt,
    /// A sequence number was skipped; the shared zstd stream is now unusable.
    #[error("frame {got} arrived, expected {expected}")]
    OutOfOrder {
        /// Sequence received.
        got: u64,
        /// Sequence expected.
        expected: u64,
    },
}

/// The tile grid of a screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub width: u32,
    pub height: u32,
    pub cols: u32,
    pub rows: u32,
}

impl Grid {
    pub(crate) fn new(width: u32, height: u32) -> Result<Self, CodecError> {
        if width == 0 || height == 0 || width > MAX_WIDTH || height > MAX_HEIGHT {
            return Err(CodecError::BadSize(width, height));
        }
        Ok(Self { width, height, cols: width.div_ceil(TILE), rows: height.div_ceil(TILE) })
    }

    pub(crate) const fn tiles(&self) -> u32 {
        self.cols * self.rows
    }

    pub(crate) const fn frame_bytes(&self) -> usize {
        self.width as usize * self.height as usize * BPP
    }

    /// Pixel rectangle (x, y, w, h) of tile `index`.
    pub(crate) fn rect(&self, index: u32) -> (u32, u32, u32, u32) {
        let (x, y) = ((index % self.cols) * TILE, (index / self.cols) * TILE);
        (x, y, TILE.min(self.width - x), TILE.min(self.height - y))
    }

    /// Byte ranges of each row of tile `index` inside a frame buffer.
    pub(crate) fn rows_of(&self, index: u32) -> impl Iterator<Item = std::ops::Range<usize>> + use<> {
        let (x, y, w, h) = self.rect(index);
        let stride = self.width as usize * BPP;
        (y..y + h).map(move |row| {
            let start = row as usize * stride + x as usize * BPP;
            start..start + w as usize * BPP
        })
    }
}

#[cfg(test)]
mod lossy_tests;
#[cfg(test)]
mod tests;
