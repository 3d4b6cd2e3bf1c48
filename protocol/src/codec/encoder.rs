//! The agent's half of the tile codec: finds scrolled blocks and dirty tiles,
//! and compresses each dirty tile in the cheapest of its encodings.
//!
//! All working memory lives in the encoder and is reused frame after frame,
//! so the steady state allocates nothing per tile.

use std::io::Write;

use super::scroll::{self, Axis, ScrollFinder};
use super::tile;
use super::{BPP, CodecError, EncodedFrame, Grid, TileKind, TileUpdate};

/// zstd level for the session stream: fast, and the long shared context
/// matters more than the level on screen content.
pub const DEFAULT_LEVEL: i32 = 1;

/// Fewest dirty tiles before a scroll is looked for (typing changes one or
/// two; a scroll changes a whole window's worth).
const SCROLL_MIN_TILES: usize = 6;

/// Session-long encoder state.
pub struct Encoder {
    grid: Option<Grid>,
    /// The last frame sent; dirty tiles are those that differ from it.
    sent: Vec<u8>,
    zstd: zstd::stream::write::Encoder<'static, Vec<u8>>,
    seq: u64,
    tiles: Vec<TileUpdate>,
    dirty: Vec<u32>,
    scroll: ScrollFinder,
    /// One tile's pixels, and its palette and predictor payloads.
    pixels: Vec<u8>,
    palette: Vec<u8>,
    predicted: Vec<u8>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("grid", &self.grid).field("seq", &self.seq).finish_non_exhaustive()
    }
}

impl Encoder {
    /// A new session encoder at zstd `level`.
    pub fn new(level: i32) -> Result<Self, CodecError> {
        let zstd = zstd::stream::write::Encoder::new(Vec::new(), level).map_err(|_| CodecError::Corrupt)?;
        Ok(Self {
            grid: None,
            sent: Vec::new(),
            zstd,
            seq: 0,
            tiles: Vec::new(),
            dirty: Vec::new(),
            scroll: ScrollFinder::default(),
            pixels: Vec::new(),
            palette: Vec::new(),
            predicted: Vec::new(),
        })
    }

    /// Makes the next frame carry every tile (e.g. after the viewer reset).
    pub fn force_full(&mut self) {
        self.grid = None;
    }

    /// Encodes `pixels` (RGBA, `width`×`height`) against the last frame sent.
    ///
    /// Returns `None` when nothing changed; no sequence number is used then.
    pub fn encode(
        &mut self,
        width: u32,
        height: u32,
        pixels: &[u8],
    ) -> Result<Option<EncodedFrame>, CodecError> {
        let grid = Grid::new(width, height)?;
        if pixels.len() != grid.frame_bytes() {
            return Err(CodecError::BufferLength { got: pixels.len(), expected: grid.frame_bytes() });
        }
        let full = self.grid != Some(grid);
        if full {
            self.sent.clear();
            self.sent.resize(grid.frame_bytes(), 0);
        }
        self.find_dirty(&grid, pixels, full);
        let mut copies = Vec::new();
        if !full && self.dirty.len() >= SCROLL_MIN_TILES {
            let copy = scroll::changed_bounds(&grid, &self.sent, pixels).and_then(|band| {
                self.scroll
                    .find(&grid, &self.sent, pixels, band, Axis::Rows)
                    .or_else(|| self.scroll.find(&grid, &self.sent, pixels, band, Axis::Columns))
            });
            if let Some(copy) = copy {
                scroll::apply(&grid, &mut self.sent, &copy);
                copies.push(copy);
                self.find_dirty(&grid, pixels, false);
            }
        }
        if self.dirty.is_empty() && copies.is_empty() {
            return Ok(None);
        }
        self.tiles.clear();
        for i in 0..self.dirty.len() {
            let index = self.dirty[i];
            let kind = self.encode_tile(&grid, index, pixels)?;
            self.tiles.push(TileUpdate { index, kind });
            for r in grid.rows_of(index) {
                self.sent[r.clone()].copy_from_slice(&pixels[r]);
            }
        }
        self.zstd.flush().map_err(|_| CodecError::Corrupt)?;
        // Copied out in one allocation; the buffer keeps its capacity.
        let out = self.zstd.get_mut();
        let stream = out.clone();
        out.clear();
        self.grid = Some(grid);
        let frame = EncodedFrame { seq: self.seq, width, height, copies, tiles: self.tiles.clone(), stream };
        self.seq += 1;
        Ok(Some(frame))
    }

    /// The tiles of `pixels` that differ from what was sent (all if `full`).
    fn find_dirty(&mut self, grid: &Grid, pixels: &[u8], full: bool) {
        self.dirty.clear();
        let sent = &self.sent;
        self.dirty.extend(
            (0..grid.tiles())
                .filter(|&index| full || grid.rows_of(index).any(|r| pixels[r.clone()] != sent[r])),
        );
    }

    /// Writes one dirty tile's payload into the stream and says how.
    fn encode_tile(&mut self, grid: &Grid, index: u32, pixels: &[u8]) -> Result<TileKind, CodecError> {
        self.pixels.clear();
        for r in grid.rows_of(index) {
            self.pixels.extend_from_slice(&pixels[r]);
        }
        if let Some(colour) = solid_colour(&self.pixels) {
            return Ok(TileKind::Solid(colour));
        }
        let raw = self.pixels.len();
        let colours = tile::encode_palette(&self.pixels, &mut self.palette);
        let palette_len = colours.map_or(usize::MAX, |_| self.palette.len());
        tile::encode_predicted(&self.pixels, &mut self.predicted);
        let (kind, payload) = match colours {
            Some(colours) if palette_len <= self.predicted.len() && palette_len < raw => {
                (TileKind::Palette { colours, len: palette_len as u32 }, &self.palette)
            }
            _ if self.predicted.len() < raw => {
                (TileKind::Predicted { len: self.predicted.len() as u32 }, &self.predicted)
            }
            _ => (TileKind::Raw, &self.pixels),
        };
        self.zstd.write_all(payload).map_err(|_| CodecError::Corrupt)?;
        Ok(kind)
    }
}

/// The tile's one colour, if it has only one.
fn solid_colour(pixels: &[u8]) -> Option<[u8; 4]> {
    let colour: [u8; BPP] = pixels.get(..BPP)?.try_into().ok()?;
    pixels.chunks_exact(BPP).all(|p| p == colour).then_some(colour)
}
