//! Codec tests of the lossy mode: only photo tiles go lossy, both sides
//! agree on which tiles are approximate, and refinement ends pixel-exact.

use proptest::prelude::*;

use super::tests::{noise, text_page};
use super::*;

/// A photograph-like picture: smooth gradients with grain, moved by `phase`.
fn photo(w: u32, h: u32, phase: u32) -> Vec<u8> {
    let grain = noise(w, h, phase.wrapping_mul(2_654_435_761) | 1);
    (0..(w * h) as usize)
        .flat_map(|i| {
            let (x, y) = (i as u32 % w + phase, i as u32 / w);
            let g = grain[i * 4] & 15;
            [(x * 2 % 240) as u8 + g, (y * 3 % 240) as u8 + (g >> 1), ((x + y) % 200) as u8 + 20, 255]
        })
        .collect()
}

/// `photo` on the left `split` columns, `text` on the rest.
fn side_by_side(w: u32, h: u32, split: u32, photo_px: &[u8], text: &[u8]) -> Vec<u8> {
    (0..(w * h) as usize)
        .flat_map(|i| {
            let src = if (i as u32 % w) < split { photo_px } else { text };
            [src[i * 4], src[i * 4 + 1], src[i * 4 + 2], src[i * 4 + 3]]
        })
        .collect()
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let sum: f64 = a.iter().zip(b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum();
    10.0 * (255.0f64 * 255.0 / (sum / a.len() as f64).max(1e-9)).log10()
}

fn ship(enc_frame: Option<EncodedFrame>, dec: &mut Decoder) -> Option<EncodedFrame> {
    let f = enc_frame?;
    dec.apply(&crate::wire::decode(&crate::wire::encode(&f)).unwrap()).unwrap();
    Some(f)
}

/// Refines until the encoder says everything is exact; returns the frames.
fn refine_all(enc: &mut Encoder, dec: &mut Decoder) -> usize {
    let mut frames = 0;
    while ship(enc.refine(8).unwrap(), dec).is_some() {
        frames += 1;
        assert!(frames < 10_000, "refinement does not end");
    }
    frames
}

#[test]
fn photo_tiles_go_lossy_text_stays_exact_and_refinement_makes_all_exact() {
    let (w, h) = (512, 256);
    let pixels = side_by_side(w, h, 256, &photo(w, h, 0), &text_page(w, h, 4));
    let mut enc = Encoder::new(1).unwrap();
    let mut dec = Decoder::new().unwrap();
    let lossless = Encoder::new(1).unwrap().encode(w, h, &pixels).unwrap().unwrap();
    enc.set_lossy(Some(50));
    let frame = ship(enc.encode(w, h, &pixels).unwrap(), &mut dec).unwrap();

    let jpeg: Vec<u32> = frame.tiles.iter().filter(|t| t.kind == TileKind::Jpeg).map(|t| t.index).collect();
    // The 4×4 photo tiles on the left (columns 0–3 of 8), none of the text.
    assert_eq!(jpeg.len(), 16, "{jpeg:?}");
    assert!(jpeg.iter().all(|i| i % 8 < 4), "{jpeg:?}");
    assert_eq!((enc.approx_tiles(), dec.approx_tiles()), (16, 16));
    assert!(
        frame.stream.len() * 2 < lossless.stream.len(),
        "{} vs {}",
        frame.stream.len(),
        lossless.stream.len()
    );
    let (_, _, shown) = dec.framebuffer().unwrap();
    let row = (w * 4) as usize;
    for y in 0..h as usize {
        assert_eq!(
            shown[y * row + row / 2..(y + 1) * row],
            pixels[y * row + row / 2..(y + 1) * row],
            "text row {y}"
        );
    }
    assert!(psnr(shown, &pixels) > 30.0, "PSNR {:.1} dB", psnr(shown, &pixels));

    // Still screen: refinement, 8 tiles a frame, ends exact on both sides.
    assert!(enc.encode(w, h, &pixels).unwrap().is_none());
    assert_eq!(refine_all(&mut enc, &mut dec), 2);
    assert_eq!((enc.approx_tiles(), dec.approx_tiles()), (0, 0));
    assert_eq!(dec.framebuffer().unwrap(), (w, h, pixels.as_slice()));
}

#[test]
fn without_lossy_nothing_is_approximate() {
    let (w, h) = (256, 128);
    let mut enc = Encoder::new(1).unwrap();
    let mut dec = Decoder::new().unwrap();
    ship(enc.encode(w, h, &photo(w, h, 3)).unwrap(), &mut dec);
    assert_eq!((enc.approx_tiles(), dec.approx_tiles()), (0, 0));
    assert!(enc.refine(8).unwrap().is_none());
}

#[test]
fn a_broken_or_mismatched_photo_atlas_is_refused() {
    let (w, h) = (128, 64);
    let mut enc = Encoder::new(1).unwrap();
    enc.set_lossy(Some(40));
    let frame = enc.encode(w, h, &photo(w, h, 1)).unwrap().unwrap();
    assert!(frame.tiles.iter().all(|t| t.kind == TileKind::Jpeg), "{:?}", frame.tiles);
    assert!(!frame.photos.is_empty());
    assert_eq!(Decoder::new().unwrap().apply(&frame), Ok(()));

    let mut cut = frame.clone();
    cut.photos.truncate(cut.photos.len() / 2);
    assert_eq!(Decoder::new().unwrap().apply(&cut), Err(CodecError::Corrupt));

    let mut missing = frame.clone();
    missing.photos.clear();
    assert_eq!(Decoder::new().unwrap().apply(&missing), Err(CodecError::Corrupt));

    let mut garbage = frame.clone();
    garbage.photos = noise(16, 16, 3);
    assert_eq!(Decoder::new().unwrap().apply(&garbage), Err(CodecError::Corrupt));

    // One photo tile announced, an atlas of two sent: the wrong size.
    let mut fewer = frame.clone();
    fewer.tiles.truncate(1);
    assert_eq!(Decoder::new().unwrap().apply(&fewer), Err(CodecError::Corrupt));

    // Photos with no photo tile.
    let mut stray = Encoder::new(1).unwrap().encode(w, h, &noise(w, h, 5)).unwrap().unwrap();
    stray.photos = frame.photos.clone();
    assert_eq!(Decoder::new().unwrap().apply(&stray), Err(CodecError::BadTiles));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random mixes of moving photos, scrolling text and lossy on or off:
    /// the picture never differs where it is exact, and refinement always
    /// ends pixel-exact.
    #[test]
    fn lossy_then_refined_is_exact(
        w in 64u32..260, h in 64u32..200, seed in any::<u32>(),
        steps in proptest::collection::vec((any::<bool>(), 0u32..40, -30i32..30), 1..6),
    ) {
        let page = text_page(w, h * 2, seed);
        let stride = (w * 4) as usize;
        let mut enc = Encoder::new(1).unwrap();
        let mut dec = Decoder::new().unwrap();
        let mut top = (h / 2) as i32;
        let mut pixels = Vec::new();
        for (lossy, phase, shift) in steps {
            enc.set_lossy(lossy.then_some(60));
            top = (top + shift).clamp(0, h as i32);
            let text = &page[top as usize * stride..(top as usize + h as usize) * stride];
            pixels = side_by_side(w, h, w / 2, &photo(w, h, phase), text);
            ship(enc.encode(w, h, &pixels).unwrap(), &mut dec);
            prop_assert_eq!(enc.approx_tiles(), dec.approx_tiles());
        }
        refine_all(&mut enc, &mut dec);
        prop_assert_eq!(dec.approx_tiles(), 0);
        prop_assert_eq!(dec.framebuffer().unwrap(), (w, h, pixels.as_slice()));
    }
}
