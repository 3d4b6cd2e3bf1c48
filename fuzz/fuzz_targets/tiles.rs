//! Fuzz target: arbitrary tile payloads inside a well-formed frame (valid
//! zstd, announced lengths that add up), so the palette, predictor and JPEG
//! atlas decoders and the copies see hostile bytes. Errors are fine; panics
//! are not. `seeds/tiles/atlas-two-tiles` (two JPEG tiles and a real
//! 128×64 baseline JPEG) gets the fuzzer into the JPEG decoder at once:
//! `cargo +nightly fuzz run tiles corpus/tiles seeds/tiles`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_protocol::codec::{CopyRect, Decoder, EncodedFrame, TileKind, TileUpdate};

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else { return };
    // 128×64: two tiles. The first byte picks their kinds and a copy; the
    // last quarter of the bytes is the photo atlas.
    let (payload, photos) = rest.split_at(rest.len() * 3 / 4);
    let split = payload.len() / 2;
    let kind = |bits: u8, len: usize| match bits & 7 {
        0 => TileKind::Raw,
        1 | 5 => TileKind::Palette { colours: (bits >> 3) & 0x1f, len: len as u32 },
        2 | 6 => TileKind::Predicted { len: len as u32 },
        3 | 7 => TileKind::Jpeg,
        _ => TileKind::Solid([bits; 4]),
    };
    let (first, second) = (kind(head, split), kind(head.rotate_left(4), payload.len() - split));
    // Jpeg and solid tiles take nothing from the stream.
    let carried = |k: TileKind, bytes: &[u8]| match k {
        TileKind::Jpeg | TileKind::Solid(_) => Vec::new(),
        _ => bytes.to_vec(),
    };
    let mut stream_bytes = carried(first, &payload[..split]);
    stream_bytes.extend(carried(second, &payload[split..]));
    let tiles = vec![TileUpdate { index: 0, kind: first }, TileUpdate { index: 1, kind: second }];
    let Ok(stream) = zstd::bulk::compress(&stream_bytes, 1) else { return };
    let copies = if head & 0x80 != 0 {
        vec![CopyRect { x: u32::from(head & 7), y: 1, width: 60, height: 50, to_x: 0, to_y: u32::from(head & 0x0f) }]
    } else {
        Vec::new()
    };
    let Ok(mut decoder) = Decoder::new() else { return };
    let empty = EncodedFrame {
        seq: 0,
        width: 128,
        height: 64,
        copies: Vec::new(),
        tiles: Vec::new(),
        stream: Vec::new(),
        photos: Vec::new(),
    };
    let _ = decoder.apply(&empty);
    let frame = EncodedFrame { seq: 1, width: 128, height: 64, copies, tiles, stream, photos: photos.to_vec() };
    let _ = decoder.apply(&frame);
});
