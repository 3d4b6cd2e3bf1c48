//! Codec tests: lossless round trips, idle frames, and hostile input.

use super::*;
use proptest::prelude::*;

pub(super) fn noise(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..width * height * 4)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn idle_screen_sends_nothing_and_changes_are_exact() {
    let (w, h) = (200, 130);
    let mut enc = Encoder::new(1).unwrap();
    let mut dec = Decoder::new().unwrap();
    let mut pixels = vec![255u8; (w * h * 4) as usize];
    pixels[..4 * 70].copy_from_slice(&noise(70, 1, 9));
    let first = enc.encode(w, h, &pixels).unwrap().unwrap();
    assert_eq!(first.tiles.len(), 4 * 3);
    assert!(first.tiles.iter().filter(|t| matches!(t.kind, TileKind::Solid(_))).count() >= 9);
    dec.apply(&first).unwrap();
    assert!(enc.encode(w, h, &pixels).unwrap().is_none());

    pixels[(w as usize * 100 + 150) * 4] = 7; // one pixel at (150, 100)
    let second = enc.encode(w, h, &pixels).unwrap().unwrap();
    assert_eq!(second.seq, 1);
    // Column 150 / 64 = 2 of 4, row 100 / 64 = 1.
    assert_eq!(second.tiles.iter().map(|t| t.index).collect::<Vec<_>>(), vec![4 + 2]);
    dec.apply(&second).unwrap();
    assert_eq!(dec.framebuffer().unwrap(), (w, h, pixels.as_slice()));
}

#[test]
fn hostile_frames_are_rejected() {
    let mut enc = Encoder::new(1).unwrap();
    let frame = enc.encode(64, 64, &noise(64, 64, 3)).unwrap().unwrap();

    let mut skipped = frame.clone();
    skipped.seq = 5;
    assert!(matches!(Decoder::new().unwrap().apply(&skipped), Err(CodecError::OutOfOrder { .. })));

    let mut bad_index = frame.clone();
    bad_index.tiles[0].index = 1;
    assert_eq!(Decoder::new().unwrap().apply(&bad_index), Err(CodecError::BadTiles));

    let mut short = frame.clone();
    short.stream.truncate(short.stream.len() / 2);
    assert_eq!(Decoder::new().unwrap().apply(&short), Err(CodecError::Corrupt));

    let mut huge = frame;
    huge.width = MAX_WIDTH + 1;
    assert!(matches!(Decoder::new().unwrap().apply(&huge), Err(CodecError::BadSize(..))));
    assert!(matches!(enc.encode(10, 10, &[0; 3]), Err(CodecError::BufferLength { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any sequence of frames, including size changes, decodes losslessly.
    #[test]
    fn lossless_round_trip(
        frames in proptest::collection::vec((1u32..150, 1u32..150, any::<u32>(), any::<bool>()), 1..5)
    ) {
        let mut enc = Encoder::new(1).unwrap();
        let mut dec = Decoder::new().unwrap();
        for (w, h, seed, flat) in frames {
            let pixels = if flat { vec![seed as u8; (w * h * 4) as usize] } else { noise(w, h, seed) };
            if let Some(f) = enc.encode(w, h, &pixels).unwrap() {
                let wire = crate::wire::encode(&f);
                dec.apply(&crate::wire::decode(&wire).unwrap()).unwrap();
            }
            prop_assert_eq!(dec.framebuffer().unwrap(), (w, h, pixels.as_slice()));
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(frame) = crate::wire::decode::<EncodedFrame>(&bytes) {
            let _ = Decoder::new().unwrap().apply(&frame);
        }
    }

    #[test]
    fn random_stream_never_panics(stream in proptest::collection::vec(any::<u8>(), 0..512), n in 0u32..4) {
        let kinds = [TileKind::Raw, TileKind::Predicted { len: 300 }, TileKind::Palette { colours: 3, len: 40 }];
        let tiles = (0..n).map(|index| TileUpdate { index, kind: kinds[index as usize % 3] }).collect();
        let frame =
            EncodedFrame { seq: 0, width: 256, height: 64, copies: Vec::new(), tiles, stream, photos: Vec::new() };
        let _ = Decoder::new().unwrap().apply(&frame);
    }

    /// Text-like pictures scrolled by random offsets, with a random strip of
    /// new content, round-trip exactly, and big scrolls go as copies.
    #[test]
    fn scrolled_frames_round_trip(
        w in 64u32..300, h in 64u32..300, seed in any::<u32>(),
        shifts in proptest::collection::vec(-90i32..90, 1..5),
    ) {
        let page = text_page(w, h * 3, seed);
        let mut enc = Encoder::new(1).unwrap();
        let mut dec = Decoder::new().unwrap();
        let mut top = h as i32;
        for shift in std::iter::once(0).chain(shifts) {
            top = (top + shift).clamp(0, (2 * h) as i32);
            let stride = (w * 4) as usize;
            let pixels = page[top as usize * stride..(top as usize + h as usize) * stride].to_vec();
            if let Some(f) = enc.encode(w, h, &pixels).unwrap() {
                let wire = crate::wire::encode(&f);
                dec.apply(&crate::wire::decode(&wire).unwrap()).unwrap();
            }
            prop_assert_eq!(dec.framebuffer().unwrap(), (w, h, pixels.as_slice()));
        }
    }
}

/// Columns `left..left + w` of a `page_w`-wide page.
fn window(page: &[u8], page_w: u32, left: u32, w: u32, h: u32) -> Vec<u8> {
    (0..h as usize)
        .flat_map(|y| {
            let row = (y * page_w as usize + left as usize) * 4;
            page[row..row + w as usize * 4].iter().copied()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The same sideways: a wide page panned by random offsets.
    #[test]
    fn panned_frames_round_trip(
        w in 64u32..240, h in 64u32..200, seed in any::<u32>(),
        shifts in proptest::collection::vec(-70i32..70, 1..5),
    ) {
        let page = text_page(w * 3, h, seed);
        let mut enc = Encoder::new(1).unwrap();
        let mut dec = Decoder::new().unwrap();
        let mut left = w as i32;
        for shift in std::iter::once(0).chain(shifts) {
            left = (left + shift).clamp(0, (2 * w) as i32);
            let pixels = window(&page, w * 3, left as u32, w, h);
            if let Some(f) = enc.encode(w, h, &pixels).unwrap() {
                let wire = crate::wire::encode(&f);
                dec.apply(&crate::wire::decode(&wire).unwrap()).unwrap();
            }
            prop_assert_eq!(dec.framebuffer().unwrap(), (w, h, pixels.as_slice()));
        }
    }
}

#[test]
fn panning_sideways_goes_as_a_copy() {
    let (w, h) = (640, 256);
    let page = text_page(w * 2, h, 5);
    let mut enc = Encoder::new(1).unwrap();
    let first = enc.encode(w, h, &window(&page, w * 2, 0, w, h)).unwrap().unwrap();
    let frame = enc.encode(w, h, &window(&page, w * 2, 30, w, h)).unwrap().unwrap();
    assert_eq!(frame.copies.len(), 1, "{:?}", frame.copies);
    assert_eq!((frame.copies[0].x, frame.copies[0].to_x), (30, 0));
    assert!(frame.stream.len() * 4 < first.stream.len(), "{} vs {}", frame.stream.len(), first.stream.len());
}

/// A page of "text": dark glyph-ish marks on a light ground, every row
/// different from its neighbours.
pub(super) fn text_page(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let marks = noise(w, h, seed);
    (0..(w * h) as usize)
        .flat_map(|i| {
            let (x, y) = (i as u32 % w, i as u32 / w);
            let ink = marks[i * 4] < 40 && y % 12 < 9 && x % 7 < 5;
            if ink { [30, 30, 30 + (y % 5) as u8, 255] } else { [250, 250, 245, 255] }
        })
        .collect()
}

#[test]
fn scrolling_text_goes_as_a_copy_and_a_strip() {
    let (w, h) = (640, 400);
    let page = text_page(w, h * 2, 11);
    let stride = (w * 4) as usize;
    let mut enc = Encoder::new(1).unwrap();
    let mut dec = Decoder::new().unwrap();
    let first = enc.encode(w, h, &page[..h as usize * stride]).unwrap().unwrap();
    dec.apply(&first).unwrap();
    // One line of text (12 rows) scrolls up.
    let next = &page[12 * stride..(12 + h as usize) * stride];
    let frame = enc.encode(w, h, next).unwrap().unwrap();
    assert_eq!(frame.copies.len(), 1, "{:?}", frame.copies);
    assert_eq!((frame.copies[0].y, frame.copies[0].to_y), (12, 0));
    // Only the bottom row of tiles is new: 10 of 70.
    assert!(frame.tiles.len() <= 10, "{} tiles", frame.tiles.len());
    assert!(frame.stream.len() * 4 < first.stream.len(), "{} vs {}", frame.stream.len(), first.stream.len());
    dec.apply(&frame).unwrap();
    assert_eq!(dec.framebuffer().unwrap(), (w, h, next));
}

#[test]
fn copies_outside_the_screen_are_refused() {
    let mut enc = Encoder::new(1).unwrap();
    let mut dec = Decoder::new().unwrap();
    dec.apply(&enc.encode(64, 64, &noise(64, 64, 1)).unwrap().unwrap()).unwrap();
    let mut frame = enc.encode(64, 64, &noise(64, 64, 2)).unwrap().unwrap();
    let bad = CopyRect { x: 10, y: 10, width: 60, height: 5, to_x: 0, to_y: 0 };
    frame.copies = vec![bad];
    assert_eq!(dec.apply(&frame), Err(CodecError::BadCopy));
    frame.copies = vec![CopyRect { x: 0, y: u32::MAX, width: 1, height: 2, to_x: 0, to_y: 0 }];
    assert_eq!(dec.apply(&frame), Err(CodecError::BadCopy));
}
