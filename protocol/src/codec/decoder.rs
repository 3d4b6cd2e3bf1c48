//! The console's half of the tile codec: applies frames to a framebuffer.

use zstd::stream::raw::{InBuffer, Operation, OutBuffer};

use super::{BPP, CodecError, EncodedFrame, Grid, TileKind};

/// Session-long decoder state and the framebuffer it paints.
pub struct Decoder {
    grid: Option<Grid>,
    framebuffer: Vec<u8>,
    zstd: zstd::stream::raw::Decoder<'static>,
    next_seq: u64,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("grid", &self.grid)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// A decoder for a new session.
    pub fn new() -> Result<Self, CodecError> {
        let zstd = zstd::stream::raw::Decoder::new().map_err(|_| CodecError::Corrupt)?;
        Ok(Self { grid: None, framebuffer: Vec::new(), zstd, next_seq: 0, scratch: Vec::new() })
    }

    /// The current picture: width, height and RGBA pixels.
    #[must_use]
    pub fn framebuffer(&self) -> Option<(u32, u32, &[u8])> {
        self.grid.map(|g| (g.width, g.height, self.framebuffer.as_slice()))
    }

    /// Applies one frame. After an error the session's stream is unusable.
    pub fn apply(&mut self, frame: &EncodedFrame) -> Result<(), CodecError> {
        if frame.seq != self.next_seq {
            return Err(CodecError::OutOfOrder { got: frame.seq, expected: self.next_seq });
        }
        let grid = Grid::new(frame.width, frame.height)?;
        let mut expected = 0usize;
        let mut last = None;
        for t in &frame.tiles {
            if t.index >= grid.tiles() || last.is_some_and(|l| t.index <= l) {
                return Err(CodecError::BadTiles);
            }
            last = Some(t.index);
            if t.kind == TileKind::Stream {
                let (_, _, w, h) = grid.rect(t.index);
                expected += (w * h) as usize * BPP;
            }
        }
        self.inflate(&frame.stream, expected)?;
        if self.grid != Some(grid) {
            self.framebuffer.clear();
            self.framebuffer.resize(grid.frame_bytes(), 0);
            self.grid = Some(grid);
        }
        let mut src = 0;
        for t in &frame.tiles {
            for r in grid.rows_of(t.index) {
                let dst = &mut self.framebuffer[r];
                match t.kind {
                    TileKind::Solid(c) => dst.chunks_exact_mut(BPP).for_each(|p| p.copy_from_slice(&c)),
                    TileKind::Stream => {
                        dst.copy_from_slice(&self.scratch[src..src + dst.len()]);
                        src += dst.len();
                    }
                }
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
