//! The console's half of the tile codec: applies frames to a framebuffer.
//!
//! Everything in a frame is checked before the framebuffer changes: copies
//! inside the screen, tiles in range and in order, payload lengths no larger
//! than the tile, the zstd output exactly as long as announced, and the photo
//! atlas exactly the size its tiles need.

use zstd::stream::raw::{InBuffer, Operation, OutBuffer};

use super::lossy::{self, Approx};
use super::tile::{self, MAX_PALETTE};
use super::{BPP, CodecError, CopyRect, EncodedFrame, Grid, MAX_COPIES, TileKind, scroll};

/// Session-long decoder state and the framebuffer it paints.
pub struct Decoder {
    grid: Option<Grid>,
    framebuffer: Vec<u8>,
    zstd: zstd::stream::raw::Decoder<'static>,
    next_seq: u64,
    scratch: Vec<u8>,
    /// One tile's pixels.
    pixels: Vec<u8>,
    /// The frame's decoded photo atlas.
    atlas: Vec<u8>,
    /// Tiles painted lossy and not refined yet.
    approx: Approx,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("grid", &self.grid)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

/// Bytes tile `index` takes in the stream, if its kind is valid for it.
fn payload_len(grid: &Grid, index: u32, kind: TileKind) -> Result<usize, CodecError> {
    let (_, _, w, h) = grid.rect(index);
    let raw = (w * h) as usize * BPP;
    let len = match kind {
        TileKind::Solid(_) | TileKind::Jpeg => 0,
        TileKind::Raw => raw,
        TileKind::Palette { colours, len } => {
            if colours == 0 || usize::from(colours) > MAX_PALETTE {
                return Err(CodecError::BadTiles);
            }
            len as usize
        }
        TileKind::Predicted { len } => len as usize,
    };
    if len > raw { Err(CodecError::BadTiles) } else { Ok(len) }
}

fn copy_fits(grid: &Grid, c: &CopyRect) -> bool {
    let inside = |x: u32, y: u32| {
        x.checked_add(c.width).is_some_and(|r| r <= grid.width)
            && y.checked_add(c.height).is_some_and(|b| b <= grid.height)
    };
    c.width > 0 && c.height > 0 && inside(c.x, c.y) && inside(c.to_x, c.to_y)
}

impl Decoder {
    /// A decoder for a new session.
    pub fn new() -> Result<Self, CodecError> {
        let zstd = zstd::stream::raw::Decoder::new().map_err(|_| CodecError::Corrupt)?;
        Ok(Self {
            grid: None,
            framebuffer: Vec::new(),
            zstd,
            next_seq: 0,
            scratch: Vec::new(),
            pixels: Vec::new(),
            atlas: Vec::new(),
            approx: Approx::default(),
        })
    }

    /// The current picture: width, height and RGBA pixels.
    #[must_use]
    pub fn framebuffer(&self) -> Option<(u32, u32, &[u8])> {
        self.grid.map(|g| (g.width, g.height, self.framebuffer.as_slice()))
    }

    /// How many tiles of the picture are approximate (lossy, not yet refined).
    #[must_use]
    pub const fn approx_tiles(&self) -> usize {
        self.approx.count()
    }

    /// Applies one frame. After an error the session's stream is unusable.
    pub fn apply(&mut self, frame: &EncodedFrame) -> Result<(), CodecError> {
        if frame.seq != self.next_seq {
            return Err(CodecError::OutOfOrder { got: frame.seq, expected: self.next_seq });
        }
        let grid = Grid::new(frame.width, frame.height)?;
        let resized = self.grid != Some(grid);
        if frame.copies.len() > MAX_COPIES
            || (resized && !frame.copies.is_empty())
            || !frame.copies.iter().all(|c| copy_fits(&grid, c))
        {
            return Err(CodecError::BadCopy);
        }
        let mut expected = 0usize;
        let mut last = None;
        for t in &frame.tiles {
            if t.index >= grid.tiles() || last.is_some_and(|l| t.index <= l) {
                return Err(CodecError::BadTiles);
            }
            last = Some(t.index);
            expected += payload_len(&grid, t.index, t.kind)?;
        }
        self.inflate(&frame.stream, expected)?;
        let photos = frame.tiles.iter().filter(|t| t.kind == TileKind::Jpeg).count();
        if photos == 0 && !frame.photos.is_empty() {
            return Err(CodecError::BadTiles);
        }
        if photos > 0 {
            lossy::decode_atlas(&frame.photos, photos, &mut self.atlas).map_err(|_| CodecError::Corrupt)?;
        }
        if resized {
            self.framebuffer.clear();
            self.framebuffer.resize(grid.frame_bytes(), 0);
            self.grid = Some(grid);
            self.approx.reset(grid.tiles());
        }
        for c in &frame.copies {
            scroll::apply(&grid, &mut self.framebuffer, c);
            self.approx.apply_copy(&grid, c);
        }
        let (mut src, mut photo) = (0, 0);
        for t in &frame.tiles {
            let len = payload_len(&grid, t.index, t.kind)?;
            let payload = &self.scratch[src..src + len];
            src += len;
            let (_, _, w, h) = grid.rect(t.index);
            self.pixels.clear();
            self.pixels.resize((w * h) as usize * BPP, 0);
            match t.kind {
                TileKind::Solid(c) => self.pixels.chunks_exact_mut(BPP).for_each(|p| p.copy_from_slice(&c)),
                TileKind::Raw => self.pixels.copy_from_slice(payload),
                TileKind::Palette { colours, .. } => tile::decode_palette(payload, colours, &mut self.pixels)
                    .map_err(|_| CodecError::Corrupt)?,
                TileKind::Predicted { .. } => {
                    tile::decode_predicted(payload, &mut self.pixels).map_err(|_| CodecError::Corrupt)?;
                }
                TileKind::Jpeg => {
                    lossy::slot_pixels(&self.atlas, photos, photo, w, h, &mut self.pixels);
                    photo += 1;
                }
            }
            self.approx.set(t.index, t.kind == TileKind::Jpeg);
            let mut from = 0;
            for r in grid.rows_of(t.index) {
                let n = r.len();
                self.framebuffer[r].copy_from_slice(&self.pixels[from..from + n]);
                from += n;
            }
        }
        self.next_seq += 1;
        Ok(())
    }

    /// Decompresses `input` into exactly `expected` bytes of `scratch`.
    fn inflate(&mut self, input: &[u8], expected: usize) -> Result<(), CodecError> {
        // One spare byte shows whether the stream held more than announced.
        self.scratch.clear();
        self.scratch.resize(expected + 1, 0);
        let mut inb = InBuffer::around(input);
        let mut out = OutBuffer::around(self.scratch.as_mut_slice());
        loop {
            let before = (inb.pos, out.pos());
            self.zstd.run(&mut inb, &mut out).map_err(|_| CodecError::Corrupt)?;
            if (inb.pos, out.pos()) == before {
                break;
            }
        }
        if inb.pos != input.len() || out.pos() != expected {
            return Err(CodecError::Corrupt);
        }
        Ok(())
    }
}
