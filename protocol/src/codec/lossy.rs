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

/// JPEG-compresses one tile's RGBA pixels (`width`×`height`) into `out`.
pub(crate) fn encode_jpeg(
    pixels: &[u8],
    width: u32,
    height: u32,
    quality: u8,
    out: &mut Vec<u8>,
) -> Result<(), BadPayload> {
    out.clear();
    let (w, h) =
        (u16::try_from(width).map_err(|_| BadPayload)?, u16::try_from(height).map_err(|_| BadPayload)?);
    let q = quality.clamp(MIN_QUALITY, MAX_QUALITY);
    jpeg_encoder::Encoder::new(&mut *out, q)
        .encode(pixels, w, h, jpeg_encoder::ColorType::Rgba)
        .map_err(|_| BadPayload)
}

/// Decodes a JPEG tile payload into `out`, which must be exactly
/// `width`×`height` RGBA pixels; anything else is an error, never a panic.
pub(crate) fn decode_jpeg(payload: &[u8], width: u32, height: u32, out: &mut [u8]) -> Result<(), BadPayload> {
    let options = DecoderOptions::new_safe()
        .set_max_width(TILE as usize)
        .set_max_height(TILE as usize)
        .jpeg_set_out_colorspace(ColorSpace::RGBA);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(payload), options);
    decoder.decode_headers().map_err(|_| BadPayload)?;
    if decoder.dimensions() != Some((width as usize, height as usize))
        || decoder.output_buffer_size() != Some(out.len())
        || out.len() != (width * height) as usize * BPP
    {
        return Err(BadPayload);
    }
    decoder.decode_into(out).map_err(|_| BadPayload)
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

    #[test]
    fn a_jpeg_tile_decodes_to_its_size_and_close_to_the_source() {
        let px = noise_tile(7);
        let mut jpeg = Vec::new();
        encode_jpeg(&px, TILE, TILE, 60, &mut jpeg).unwrap();
        assert!(jpeg.len() < px.len() / 3, "{} bytes", jpeg.len());
        let mut out = vec![0; px.len()];
        decode_jpeg(&jpeg, TILE, TILE, &mut out).unwrap();
        let q = psnr(&px, &out);
        assert!(q > 30.0, "PSNR {q:.1} dB");
        // An edge tile of another size is refused for this slot.
        let mut small = vec![0; 32 * TILE as usize * BPP];
        assert_eq!(decode_jpeg(&jpeg, 32, TILE, &mut small), Err(BadPayload));
    }

    #[test]
    fn broken_and_oversized_jpegs_are_errors() {
        let px = noise_tile(3);
        let mut jpeg = Vec::new();
        encode_jpeg(&px, TILE, TILE, 50, &mut jpeg).unwrap();
        let mut out = vec![0; px.len()];
        for cut in [0, 2, 20, jpeg.len() / 2] {
            assert_eq!(decode_jpeg(&jpeg[..cut], TILE, TILE, &mut out), Err(BadPayload), "cut at {cut}");
        }
        let big = vec![128u8; 128 * 128 * BPP];
        let mut big_jpeg = Vec::new();
        encode_jpeg(&big, 128, 128, 50, &mut big_jpeg).unwrap();
        let mut big_out = vec![0; big.len()];
        assert_eq!(decode_jpeg(&big_jpeg, 128, 128, &mut big_out), Err(BadPayload));
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
