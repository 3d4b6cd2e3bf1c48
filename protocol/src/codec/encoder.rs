//! The agent's half of the tile codec: finds scrolled blocks and dirty tiles,
//! and compresses each dirty tile in the cheapest of its encodings.
//!
//! All working memory lives in the encoder and is reused frame after frame,
//! so the steady state allocates nothing per tile: lossy photo tiles are
//! gathered into one JPEG per frame (`lossy::Atlas`), whose encoder makes its
//! small tables once per frame.

use std::io::Write;

use super::lossy::{Approx, Atlas, looks_photographic};
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
    /// This frame's photo tiles, and their JPEG.
    atlas: Atlas,
    jpeg: Vec<u8>,
    /// JPEG quality for photo tiles, when lossy tiles are allowed now.
    lossy: Option<u8>,
    /// Tiles the viewer holds only approximately.
    approx: Approx,
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
            atlas: Atlas::default(),
            jpeg: Vec::new(),
            lossy: None,
            approx: Approx::default(),
        })
    }

    /// Allows photo and video tiles to go as JPEG at `quality` from the next
    /// frame on, or (`None`) keeps every tile lossless.
    pub const fn set_lossy(&mut self, quality: Option<u8>) {
        self.lossy = quality;
    }

    /// How many tiles the viewer holds only approximately.
    #[must_use]
    pub const fn approx_tiles(&self) -> usize {
        self.approx.count()
    }

    /// Re-sends up to `max` approximate tiles losslessly ("build to
    /// lossless"); call it when the screen is still. `None` when every tile
    /// is exact.
    pub fn refine(&mut self, max: usize) -> Result<Option<EncodedFrame>, CodecError> {
        let Some(grid) = self.grid else { return Ok(None) };
        self.approx.take_some(max, &mut self.dirty);
        if self.dirty.is_empty() {
            return Ok(None);
        }
        self.tiles.clear();
        self.atlas.clear();
        for i in 0..self.dirty.len() {
            let index = self.dirty[i];
            load_tile(&grid, index, &self.sent, &mut self.pixels);
            let kind = self.encode_loaded(&grid, index, false)?;
            self.tiles.push(TileUpdate { index, kind });
        }
        self.finish(grid, Vec::new()).map(Some)
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
            self.approx.reset(grid.tiles());
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
                self.approx.apply_copy(&grid, &copy);
                copies.push(copy);
                self.find_dirty(&grid, pixels, false);
            }
        }
        if self.dirty.is_empty() && copies.is_empty() {
            return Ok(None);
        }
        self.tiles.clear();
        self.atlas.clear();
        let allow_lossy = self.lossy.is_some();
        for i in 0..self.dirty.len() {
            let index = self.dirty[i];
            load_tile(&grid, index, pixels, &mut self.pixels);
            let kind = self.encode_loaded(&grid, index, allow_lossy)?;
            self.tiles.push(TileUpdate { index, kind });
            for r in grid.rows_of(index) {
                self.sent[r.clone()].copy_from_slice(&pixels[r]);
            }
        }
        self.finish(grid, copies).map(Some)
    }

    /// Flushes the stream and wraps up the frame built in `tiles`.
    fn finish(&mut self, grid: Grid, copies: Vec<super::CopyRect>) -> Result<EncodedFrame, CodecError> {
        self.zstd.flush().map_err(|_| CodecError::Corrupt)?;
        let photos = match self.lossy {
            Some(quality) if self.atlas.count() > 0 => {
                self.atlas.encode(quality, &mut self.jpeg).map_err(|_| CodecError::Corrupt)?;
                self.jpeg.clone()
            }
            _ => Vec::new(),
        };
        // Copied out in one allocation; the buffer keeps its capacity.
        let out = self.zstd.get_mut();
        let stream = out.clone();
        out.clear();
        self.grid = Some(grid);
        let (width, height) = (grid.width, grid.height);
        let frame =
            EncodedFrame { seq: self.seq, width, height, copies, tiles: self.tiles.clone(), stream, photos };
        self.seq += 1;
        Ok(frame)
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

    /// Writes the payload of tile `index`, loaded in `pixels`, into the
    /// stream and says how; JPEG only if `allow_lossy` and it looks like a
    /// photograph.
    fn encode_loaded(&mut self, grid: &Grid, index: u32, allow_lossy: bool) -> Result<TileKind, CodecError> {
        let (_, _, w, h) = grid.rect(index);
        let kind = self.choose(allow_lossy);
        self.approx.set(index, kind == TileKind::Jpeg);
        let payload: &[u8] = match kind {
            TileKind::Solid(_) => return Ok(kind),
            TileKind::Jpeg => {
                self.atlas.push(&self.pixels, w, h);
                return Ok(kind);
            }
            TileKind::Raw => &self.pixels,
            TileKind::Palette { .. } => &self.palette,
            TileKind::Predicted { .. } => &self.predicted,
        };
        self.zstd.write_all(payload).map_err(|_| CodecError::Corrupt)?;
        Ok(kind)
    }

    /// The cheapest encoding of the loaded tile, its payload left in the
    /// matching buffer; a photo if lossy tiles are allowed and it looks like
    /// one (JPEG beats the predictor on those by far).
    fn choose(&mut self, allow_lossy: bool) -> TileKind {
        if let Some(colour) = solid_colour(&self.pixels) {
            return TileKind::Solid(colour);
        }
        let raw = self.pixels.len();
        let colours = tile::encode_palette(&self.pixels, &mut self.palette);
        let palette_len = colours.map_or(usize::MAX, |_| self.palette.len());
        tile::encode_predicted(&self.pixels, &mut self.predicted);
        if allow_lossy
            && self.lossy.is_some()
            && colours.is_none()
            && !self.atlas.is_full()
            && looks_photographic(raw, self.predicted.len())
        {
            return TileKind::Jpeg;
        }
        match colours {
            Some(colours) if palette_len <= self.predicted.len() && palette_len < raw => {
                TileKind::Palette { colours, len: palette_len as u32 }
            }
            _ if self.predicted.len() < raw => TileKind::Predicted { len: self.predicted.len() as u32 },
            _ => TileKind::Raw,
        }
    }
}

/// Copies tile `index` of `frame` into `into`, row after row.
fn load_tile(grid: &Grid, index: u32, frame: &[u8], into: &mut Vec<u8>) {
    into.clear();
    for r in grid.rows_of(index) {
        into.extend_from_slice(&frame[r]);
    }
}

/// The tile's one colour, if it has only one.
fn solid_colour(pixels: &[u8]) -> Option<[u8; 4]> {
    let colour: [u8; BPP] = pixels.get(..BPP)?.try_into().ok()?;
    pixels.chunks_exact(BPP).all(|p| p == colour).then_some(colour)
}
