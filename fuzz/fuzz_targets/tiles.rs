//! Fuzz target: arbitrary tile payloads inside a well-formed frame (valid
//! zstd, announced lengths that add up), so the palette and predictor
//! decoders and the copies see hostile bytes. Errors are fine; panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_protocol::codec::{CopyRect, Decoder, EncodedFrame, TileKind, TileUpdate};

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else { return };
    // 128×64: two tiles. The first byte picks their kinds and a copy.
    let split = rest.len() / 2;
    let kind = |bits: u8, len: usize| match bits & 7 {
        0 => TileKind::Raw,
        1 | 5 => TileKind::Palette { colours: (bits >> 3) & 0x1f, len: len as u32 },
        2 | 6 => TileKind::Predicted { len: len as u32 },
        3 | 7 => TileKind::Jpeg { len: len as u32 },
        _ => TileKind::Solid([bits; 4]),
    };
    let tiles = vec![
        TileUpdate { index: 0, kind: kind(head, split) },
        TileUpdate { index: 1, kind: kind(head.rotate_left(4), rest.len() - split) },
    ];
    let Ok(stream) = zstd::bulk::compress(rest, 1) else { return };
    let copies = if head & 0x80 != 0 {
        vec![CopyRect { x: u32::from(head & 7), y: 1, width: 60, height: 50, to_x: 0, to_y: u32::from(head & 0x0f) }]
    } else {
        Vec::new()
    };
    let Ok(mut decoder) = Decoder::new() else { return };
    let first = EncodedFrame { seq: 0, width: 128, height: 64, copies: Vec::new(), tiles: Vec::new(), stream: Vec::new() };
    let _ = decoder.apply(&first);
    let frame = EncodedFrame { seq: 1, width: 128, height: 64, copies, tiles, stream };
    let _ = decoder.apply(&frame);
});
