//! The agent's half of the tile codec: finds dirty tiles and compresses them.

use std::io::Write;

use super::{BPP, CodecError, EncodedFrame, Grid, TileKind, TileUpdate};

/// zstd level for the session stream: fast, and the long shared context
/// matters more than the level on screen content.
pub const DEFAULT_LEVEL: i32 = 1;

/// Session-long encoder state.
pub struct Encoder {
    grid: Option<Grid>,
    /// The last frame sent; dirty tiles are those that differ from it.
    sent: Vec<u8>,
    zstd: zstd::stream::write::Encoder<'static, Vec<u8>>,
    seq: u64,
    tiles: Vec<TileUpdate>,
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
        Ok(Self { grid: None, sent: Vec::new(), zstd, seq: 0, tiles: Vec::new() })
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
        self.tiles.clear();
        for index in 0..grid.tiles() {
            if !full && grid.rows_of(index).all(|r| pixels[r.clone()] == self.sent[r]) {
                continue;
            }
            let kind = match solid_colour(&grid, index, pixels) {
                Some(colour) => TileKind::Solid(colour),
                None => {
                    for r in grid.rows_of(index) {
                        self.zstd.write_all(&pixels[r]).map_err(|_| CodecError::Corrupt)?;
                    }
                    TileKind::Stream
                }
            };
            self.tiles.push(TileUpdate { index, kind });
        }
        if self.tiles.is_empty() {
            return Ok(None);
        }
        self.zstd.flush().map_err(|_| CodecError::Corrupt)?;
        let stream = std::mem::take(self.zstd.get_mut());
        if full {
            self.sent.clear();
            self.sent.extend_from_slice(pixels);
            self.grid = Some(grid);
        } else {
            for t in &self.tiles {
                for r in grid.rows_of(t.index) {
                    self.sent[r.clone()].copy_from_slice(&pixels[r]);
                }
            }
        }
        let frame = EncodedFrame { seq: self.seq, width, height, tiles: self.tiles.clone(), stream };
        self.seq += 1;
        Ok(Some(frame))
    }
}

fn solid_colour(grid: &Grid, index: u32, pixels: &[u8]) -> Option<[u8; 4]> {
    let mut rows = grid.rows_of(index);
    let first = rows.next()?;
    let colour: [u8; BPP] = pixels.get(first.start..first.start + BPP)?.try_into().ok()?;
    let uniform = |r: std::ops::Range<usize>| pixels[r].chunks_exact(BPP).all(|p| p == colour);
    (uniform(first) && rows.all(uniform)).then_some(colour)
}
