//! Lossy tiles for photo and video content under bandwidth pressure: which
//! tiles qualify, their JPEG payloads, and the map of tiles the viewer holds
//! only approximately until they are refined back to lossless.
//!
//! Text and UI never qualify: a tile goes lossy only when it has more than a
//! palette's worth of colours *and* the lossless predictor cannot shrink it
//! well, which is what photographs, video and gradients look like and what
//! anti-aliased text on a flat background does not.

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

use super::tile::BadPayload;
use super::{BPP, CopyRect, Grid, TILE};

/// Lowest JPEG quality the encoder accepts.
pub const MIN_QUALITY: u8 = 10;
/// Highest JPEG quality that still pays off against lossless.
pub const MAX_QUALITY: u8 = 90;

/// A tile whose lossless predictor output is at least this share of its raw
/// size (in percent) looks like a photograph. A first choice, not yet tuned
/// on recorded screens: tiles with 16 colours or fewer never get here, and
/// the tests' grainy gradients predict to well above it.
const PHOTO_PERCENT: usize = 40;

/// Whether a tile with `raw` bytes of pixels, that did not fit a palette and
/// predicted to `predicted` bytes, may be sent lossy.
#[must_use]
pub fn looks_photographic(raw: usize, predicted: usize) -> bool {
    predicted * 100 >= raw * PHOTO_PERCENT
}

/// Slots per row of a frame's photo atlas.
pub const ATLAS_COLUMNS: u32 = 16;
/// Most photo tiles in one frame: a JPEG is at most 65,535 pixels high.
pub const MAX_PHOTO_TILES: usize = ATLAS_COLUMNS as usize * (u16::MAX as usize / TILE as usize);
/// Bytes of one 64×64 RGBA slot.
const SLOT: usize = (TILE * TILE) as usize * BPP;

/// The atlas picture's size for `n` photo tiles.
#[must_use]
pub fn atlas_size(n: usize) -> (u32, u32) {
    let cols = n.min(ATLAS_COLUMNS as usize) as u32;
    let rows = n.div_ceil(ATLAS_COLUMNS as usize) as u32;
    (cols * TILE, rows * TILE)
}

/// The encoder's photo tiles of one frame, gathered into one JPEG so the
/// JPEG encoder runs (and allocates) once per frame, not once per tile.
/// Slots are 64×64 and 16×16-aligned, so no chroma block spans two tiles;
/// an edge tile is padded by repeating its last column and row.
#[derive(Debug, Default)]
pub(crate) struct Atlas {
    /// `count` slots, one after the other.
    slots: Vec<u8>,
    count: usize,
    /// The slots laid out as the atlas picture.
    image: Vec<u8>,
}

impl Atlas {
    /// Empties it for the next frame, keeping the memory.
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Photo tiles gathered so far.
    pub const fn count(&self) -> usize {
        self.count
    }

    /// Whether another tile would not fit.
    pub const fn is_full(&self) -> bool {
        self.count >= MAX_PHOTO_TILES
    }

    /// Adds a tile of `width`×`height` RGBA pixels as the next slot.
    pub fn push(&mut self, pixels: &[u8], width: u32, height: u32) {
        let start = self.count * SLOT;
        if self.slots.len() < start + SLOT {
            self.slots.resize(start + SLOT, 0);
        }
        let slot = &mut self.slots[start..start + SLOT];
        let (w, h, row) = (width as usize, height as usize, TILE as usize * BPP);
        for y in 0..TILE as usize {
            let from = y.min(h.saturating_sub(1)) * w * BPP;
            let line = &mut slot[y * row..(y + 1) * row];
            line[..w * BPP].copy_from_slice(&pixels[from..from + w * BPP]);
            let last: [u8; BPP] = pixels[from + (w - 1) * BPP..from + w * BPP].try_into().unwrap_or_default();
            line[w * BPP..].chunks_exact_mut(BPP).for_each(|p| p.copy_from_slice(&last));
        }
        self.count += 1;
    }

    /// JPEG-compresses the gathered slots at `quality` into `out`.
    pub fn encode(&mut self, quality: u8, out: &mut Vec<u8>) -> Result<(), BadPayload> {
        let (w, h) = atlas_size(self.count);
        self.image.clear();
        self.image.resize((w * h) as usize * BPP, 0);
        for k in 0..self.count {
            let (x, y) = slot_origin(k);
            let row = TILE as usize * BPP;
            for r in 0..TILE as usize {
                let at = ((y as usize + r) * w as usize + x as usize) * BPP;
                self.image[at..at + row]
                    .copy_from_slice(&self.slots[k * SLOT + r * row..k * SLOT + (r + 1) * row]);
            }
        }
        out.clear();
        let (w, h) = (u16::try_from(w).map_err(|_| BadPayload)?, u16::try_from(h).map_err(|_| BadPayload)?);
        let q = quality.clamp(MIN_QUALITY, MAX_QUALITY);
        jpeg_encoder::Encoder::new(&mut *out, q)
            .encode(&self.image, w, h, jpeg_encoder::ColorType::Rgba)
            .map_err(|_| BadPayload)
    }
}

/// Top-left pixel of slot `k` in the atlas.
const fn slot_origin(k: usize) -> (u32, u32) {
    ((k % ATLAS_COLUMNS as usize) as u32 * TILE, (k / ATLAS_COLUMNS as usize) as u32 * TILE)
}

/// Decodes the photo atlas of a frame with `n` photo tiles into `out`; its
/// size must be exactly [`atlas_size`]`(n)`. Anything else is an error,
/// never a panic.
pub(crate) fn decode_atlas(payload: &[u8], n: usize, out: &mut Vec<u8>) -> Result<(), BadPayload> {
    if n == 0 || n > MAX_PHOTO_TILES {
        return Err(BadPayload);
    }
    let (w, h) = atlas_size(n);
    // Strict: a truncated or damaged scan is an error, not a grey patch.
    let options = DecoderOptions::new_safe()
        .set_strict_mode(true)
        .set_max_width(w as usize)
        .set_max_height(h as usize)
        .jpeg_set_out_colorspace(ColorSpace::RGBA);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(payload), options);
    decoder.decode_headers().map_err(|_| BadPayload)?;
    let len = (w * h) as usize * BPP;
    if decoder.dimensions() != Some((w as usize, h as usize)) || decoder.output_buffer_size() != Some(len) {
        return Err(BadPayload);
    }
    out.clear();
    out.resize(len, 0);
    decoder.decode_into(out).map_err(|_| BadPayload)
}

/// Copies slot `k` of a decoded atlas for `n` tiles, cropped to
/// `width`×`height`, into `out` (exactly that many RGBA pixels).
pub(crate) fn slot_pixels(atlas: &[u8], n: usize, k: usize, width: u32, height: u32, out: &mut [u8]) {
    let (aw, _) = atlas_size(n);
    let (x, y) = slot_origin(k);
    let row = width as usize * BPP;
    for r in 0..height as usize {
        let at = ((y as usize + r) * aw as usize + x as usize) * BPP;
        out[r * row..(r + 1) * row].copy_from_slice(&atlas[at..at + row]);
    }
}

/// Which tiles of the picture are only approximate (sent lossy, not yet
/// refined). The encoder and decoder keep the same map by the same rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct Approx {
    tiles: Vec<bool>,
    count: usize,
}

impl Approx {
    /// Forgets everything: a new grid of `tiles` exact tiles.
    pub fn reset(&mut self, tiles: u32) {
        self.tiles.clear();
        self.tiles.resize(tiles as usize, false);
        self.count = 0;
    }

    /// Tiles held approximately.
    #[must_use]
    pub const fn count(&self) -> usize {
        self.count
    }

    /// Whether tile `index` is approximate.
    #[must_use]
    pub fn is_approx(&self, index: u32) -> bool {
        self.tiles.get(index as usize).copied().unwrap_or(false)
    }

    /// Records how tile `index` was just painted.
    pub fn set(&mut self, index: u32, approx: bool) {
        if let Some(t) = self.tiles.get_mut(index as usize)
            && *t != approx
        {
            *t = approx;
            if approx {
                self.count += 1;
            } else {
                self.count -= 1;
            }
        }
    }

    /// A copy moved pixels: every tile it paints becomes approximate when
    /// any tile it read from was (conservative: refinement fixes the rest).
    pub fn apply_copy(&mut self, grid: &Grid, c: &CopyRect) {
        if self.count == 0 {
            return;
        }
        let tiles_of = |x: u32, y: u32| {
            let (c0, r0) = (x / TILE, y / TILE);
            let (c1, r1) = ((x + c.width - 1) / TILE, (y + c.height - 1) / TILE);
            (r0..=r1).flat_map(move |r| (c0..=c1).map(move |col| r * grid.cols + col))
        };
        if tiles_of(c.x, c.y).any(|i| self.is_approx(i)) {
            for i in tiles_of(c.to_x, c.to_y) {
                self.set(i, true);
            }
        }
    }

    /// Up to `max` approximate tiles, in index order, into `out`.
    pub fn take_some(&self, max: usize, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.tiles.iter().enumerate().filter(|(_, a)| **a).take(max).map(|(i, _)| i as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise_tile(seed: u32) -> Vec<u8> {
        let mut x = seed | 1;
        let mut px = Vec::with_capacity((TILE * TILE) as usize * BPP);
        for i in 0..TILE * TILE {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // A gradient with grain: photographic, not random bytes.
            let (r, c) = (i / TILE, i % TILE);
            px.extend_from_slice(&[
                (r * 3 + (x & 15)) as u8,
                (c * 3 + (x >> 8 & 15)) as u8,
                (r + c) as u8,
                255,
            ]);
        }
        px
    }

    fn psnr(a: &[u8], b: &[u8]) -> f64 {
        let (mut sum, mut n) = (0f64, 0f64);
        for (pa, pb) in a.chunks_exact(BPP).zip(b.chunks_exact(BPP)) {
            for k in 0..3 {
                let d = f64::from(pa[k]) - f64::from(pb[k]);
                sum += d * d;
                n += 1.0;
            }
        }
        10.0 * (255.0f64 * 255.0 / (sum / n).max(1e-9)).log10()
    }

    /// The first `w`×`h` pixels of a 64×64 tile.
    fn crop(px: &[u8], w: u32, h: u32) -> Vec<u8> {
        (0..h as usize).flat_map(|r| px[r * TILE as usize * BPP..][..w as usize * BPP].to_vec()).collect()
    }

    #[test]
    fn an_atlas_gives_back_each_tile_close_to_its_source() {
        let tiles = [
            (noise_tile(7), TILE, TILE),
            (crop(&noise_tile(8), 32, TILE), 32, TILE),
            (crop(&noise_tile(9), TILE, 20), TILE, 20),
        ];
        let mut atlas = Atlas::default();
        for (px, w, h) in &tiles {
            atlas.push(px, *w, *h);
        }
        let mut jpeg = Vec::new();
        atlas.encode(60, &mut jpeg).unwrap();
        let raw: usize = tiles.iter().map(|t| t.0.len()).sum();
        assert!(jpeg.len() < raw / 3, "{} bytes for {raw}", jpeg.len());
        let mut decoded = Vec::new();
        decode_atlas(&jpeg, tiles.len(), &mut decoded).unwrap();
        for (k, (px, w, h)) in tiles.iter().enumerate() {
            let mut out = vec![0; px.len()];
            slot_pixels(&decoded, tiles.len(), k, *w, *h, &mut out);
            let q = psnr(px, &out);
            assert!(q > 30.0, "tile {k}: PSNR {q:.1} dB");
        }
        // Reused for the next frame: only what was pushed since counts.
        atlas.clear();
        atlas.push(&tiles[0].0, TILE, TILE);
        atlas.encode(60, &mut jpeg).unwrap();
        decode_atlas(&jpeg, 1, &mut decoded).unwrap();
        assert_eq!(decoded.len(), tiles[0].0.len());
    }

    #[test]
    fn broken_and_wrongly_sized_atlases_are_errors() {
        let mut atlas = Atlas::default();
        for seed in 0..3 {
            atlas.push(&noise_tile(seed), TILE, TILE);
        }
        let mut jpeg = Vec::new();
        atlas.encode(50, &mut jpeg).unwrap();
        let mut out = Vec::new();
        for cut in [0, 2, 20, jpeg.len() / 2] {
            assert_eq!(decode_atlas(&jpeg[..cut], 3, &mut out), Err(BadPayload), "cut at {cut}");
        }
        // Announced as another number of tiles: another size.
        for n in [0, 1, 2, 4, 17, MAX_PHOTO_TILES + 1] {
            assert_eq!(decode_atlas(&jpeg, n, &mut out), Err(BadPayload), "{n} tiles");
        }
        assert_eq!(decode_atlas(&jpeg, 3, &mut out), Ok(()));
        assert_eq!(atlas_size(3), (3 * TILE, TILE));
        assert_eq!(atlas_size(17), (16 * TILE, 2 * TILE));
    }

    #[test]
    fn copies_carry_approximation_to_where_they_paint() {
        let grid = Grid::new(256, 256).unwrap();
        let mut a = Approx::default();
        a.reset(grid.tiles());
        a.set(0, true);
        // Rows 32..96 of the left column move down by 100: from tiles 0 and
        // 4 to tiles 8 and 12 (rows 132..196).
        a.apply_copy(&grid, &CopyRect { x: 0, y: 32, width: 64, height: 64, to_x: 0, to_y: 132 });
        assert!(a.is_approx(8) && a.is_approx(12) && !a.is_approx(4));
        assert_eq!(a.count(), 3);
        // A copy from exact tiles changes nothing.
        a.apply_copy(&grid, &CopyRect { x: 128, y: 0, width: 64, height: 64, to_x: 192, to_y: 192 });
        assert_eq!(a.count(), 3);
        let mut some = Vec::new();
        a.take_some(2, &mut some);
        assert_eq!(some, [0, 8]);
        a.set(0, false);
        a.set(0, false);
        assert_eq!(a.count(), 2);
    }

    #[test]
    fn text_is_not_photographic_and_grain_is() {
        let raw = (TILE * TILE) as usize * BPP;
        let mut predicted = Vec::new();
        super::super::tile::encode_predicted(&noise_tile(9), &mut predicted);
        assert!(looks_photographic(raw, predicted.len()), "{} of {raw}", predicted.len());
        assert!(!looks_photographic(raw, raw / 5));
    }
}
