//! Per-tile pixel encodings that go into the session zstd stream: a palette
//! with run lengths for few-colour UI and text, and a QOI-style predictor
//! (runs, a recent-colour index, small differences) for everything else.
//! Each works on one tile's pixels, row after row, and starts fresh per
//! tile, so tiles decode independently of each other.
//!
//! Encoders write into a caller's buffer (no allocation in steady state);
//! decoders fill exactly the tile's pixel count and report anything else
//! as corrupt.

use super::BPP;

/// Most colours a palette tile holds (indices fit in a nibble).
pub const MAX_PALETTE: usize = 16;
/// Longest run one palette byte carries.
const PALETTE_RUN: usize = 16;

/// Why a tile payload did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPayload;

/// The tile's pixels as one RGBA buffer, row after row.
pub type Pixels<'a> = &'a [u8];

fn pixel(p: &[u8]) -> [u8; 4] {
    [p[0], p[1], p[2], p[3]]
}

/// Palette payload: `n` RGBA colours, then bytes of `index << 4 | (run - 1)`.
/// Returns `n`, or `None` (leaving `out` unspecified) when the tile has more
/// than [`MAX_PALETTE`] colours.
pub fn encode_palette(pixels: Pixels<'_>, out: &mut Vec<u8>) -> Option<u8> {
    let mut palette = [[0u8; 4]; MAX_PALETTE];
    let mut n = 0;
    for p in pixels.chunks_exact(BPP) {
        let p = pixel(p);
        if !palette[..n].contains(&p) {
            if n == MAX_PALETTE {
                return None;
            }
            palette[n] = p;
            n += 1;
        }
    }
    out.clear();
    palette[..n].iter().for_each(|c| out.extend_from_slice(c));
    let mut run: Option<(usize, usize)> = None;
    let mut last = 0;
    for p in pixels.chunks_exact(BPP) {
        let p = pixel(p);
        // The previous pixel's colour is the most likely one.
        let index = if palette[last] == p { last } else { palette[..n].iter().position(|c| *c == p)? };
        last = index;
        run = match run {
            Some((i, len)) if i == index && len < PALETTE_RUN => Some((i, len + 1)),
            Some((i, len)) => {
                out.push(((i as u8) << 4) | (len as u8 - 1));
                Some((index, 1))
            }
            None => Some((index, 1)),
        };
    }
    if let Some((i, len)) = run {
        out.push(((i as u8) << 4) | (len as u8 - 1));
    }
    u8::try_from(n).ok()
}

/// Decodes a palette payload of `colours` entries into `out` (exactly its
/// length in pixels).
pub fn decode_palette(payload: &[u8], colours: u8, out: &mut [u8]) -> Result<(), BadPayload> {
    let n = usize::from(colours);
    if n == 0 || n > MAX_PALETTE || payload.len() < n * BPP {
        return Err(BadPayload);
    }
    let (palette, runs) = payload.split_at(n * BPP);
    let mut at = 0;
    for &b in runs {
        let (index, len) = (usize::from(b >> 4), usize::from(b & 0x0f) + 1);
        let colour = palette.get(index * BPP..index * BPP + BPP).ok_or(BadPayload)?;
        let end = at + len * BPP;
        out.get_mut(at..end).ok_or(BadPayload)?.chunks_exact_mut(BPP).for_each(|p| p.copy_from_slice(colour));
        at = end;
    }
    if at == out.len() { Ok(()) } else { Err(BadPayload) }
}

const OP_INDEX: u8 = 0x00;
const OP_DIFF: u8 = 0x40;
const OP_LUMA: u8 = 0x80;
const OP_RUN: u8 = 0xc0;
const OP_RGB: u8 = 0xfe;
const OP_RGBA: u8 = 0xff;
const MASK: u8 = 0xc0;
/// Longest run one run op carries (62: 63 and 64 would be the RGB(A) tags).
const MAX_RUN: u8 = 62;

fn slot([r, g, b, a]: [u8; 4]) -> usize {
    (usize::from(r) * 3 + usize::from(g) * 5 + usize::from(b) * 7 + usize::from(a) * 11) % 64
}

/// Predictor payload in the manner of QOI: runs of the previous pixel, an
/// index of 64 recently seen colours, and small differences to the previous
/// pixel, else the colour itself.
pub fn encode_predicted(pixels: Pixels<'_>, out: &mut Vec<u8>) {
    out.clear();
    let mut seen = [[0u8; 4]; 64];
    let mut prev = [0, 0, 0, 255];
    let mut run = 0u8;
    for p in pixels.chunks_exact(BPP) {
        let p = pixel(p);
        if p == prev {
            run += 1;
            if run == MAX_RUN {
                out.push(OP_RUN | (run - 1));
                run = 0;
            }
            continue;
        }
        if run > 0 {
            out.push(OP_RUN | (run - 1));
            run = 0;
        }
        let s = slot(p);
        if seen[s] == p {
            out.push(OP_INDEX | s as u8);
        } else {
            seen[s] = p;
            if p[3] == prev[3] {
                let dr = p[0].wrapping_sub(prev[0]) as i8;
                let dg = p[1].wrapping_sub(prev[1]) as i8;
                let db = p[2].wrapping_sub(prev[2]) as i8;
                let (dr_dg, db_dg) = (dr.wrapping_sub(dg), db.wrapping_sub(dg));
                if (-2..2).contains(&dr) && (-2..2).contains(&dg) && (-2..2).contains(&db) {
                    out.push(OP_DIFF | ((dr + 2) as u8) << 4 | ((dg + 2) as u8) << 2 | (db + 2) as u8);
                } else if (-32..32).contains(&dg) && (-8..8).contains(&dr_dg) && (-8..8).contains(&db_dg) {
                    out.push(OP_LUMA | (dg + 32) as u8);
                    out.push(((dr_dg + 8) as u8) << 4 | (db_dg + 8) as u8);
                } else {
                    out.extend_from_slice(&[OP_RGB, p[0], p[1], p[2]]);
                }
            } else {
                out.extend_from_slice(&[OP_RGBA, p[0], p[1], p[2], p[3]]);
            }
        }
        prev = p;
    }
    if run > 0 {
        out.push(OP_RUN | (run - 1));
    }
}

/// Decodes a predictor payload into `out` (exactly its length in pixels).
pub fn decode_predicted(payload: &[u8], out: &mut [u8]) -> Result<(), BadPayload> {
    let mut seen = [[0u8; 4]; 64];
    let mut prev = [0u8, 0, 0, 255];
    let (mut i, mut at) = (0, 0);
    let mut put = |colour: [u8; 4], count: usize, at: &mut usize| -> Result<(), BadPayload> {
        let end = *at + count * BPP;
        out.get_mut(*at..end)
            .ok_or(BadPayload)?
            .chunks_exact_mut(BPP)
            .for_each(|p| p.copy_from_slice(&colour));
        *at = end;
        Ok(())
    };
    while i < payload.len() {
        let b = payload[i];
        i += 1;
        let colour = match b {
            OP_RGB => {
                let rgb = payload.get(i..i + 3).ok_or(BadPayload)?;
                i += 3;
                [rgb[0], rgb[1], rgb[2], prev[3]]
            }
            OP_RGBA => {
                let rgba = payload.get(i..i + 4).ok_or(BadPayload)?;
                i += 4;
                pixel(rgba)
            }
            _ => match b & MASK {
                OP_INDEX => seen[usize::from(b & 0x3f)],
                OP_DIFF => {
                    let d = |shift: u8| ((b >> shift) & 3).wrapping_sub(2);
                    [
                        prev[0].wrapping_add(d(4)),
                        prev[1].wrapping_add(d(2)),
                        prev[2].wrapping_add(d(0)),
                        prev[3],
                    ]
                }
                OP_LUMA => {
                    let second = *payload.get(i).ok_or(BadPayload)?;
                    i += 1;
                    let dg = (b & 0x3f).wrapping_sub(32);
                    let dr = dg.wrapping_add(second >> 4).wrapping_sub(8);
                    let db = dg.wrapping_add(second & 0x0f).wrapping_sub(8);
                    [prev[0].wrapping_add(dr), prev[1].wrapping_add(dg), prev[2].wrapping_add(db), prev[3]]
                }
                _ => {
                    put(prev, usize::from(b & 0x3f) + 1, &mut at)?;
                    continue;
                }
            },
        };
        seen[slot(colour)] = colour;
        put(colour, 1, &mut at)?;
        prev = colour;
    }
    if at == out.len() { Ok(()) } else { Err(BadPayload) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pixels drawn from `colours` distinct values, in runs.
    fn tile(colours: &[[u8; 4]], picks: &[(u8, u8)]) -> Vec<u8> {
        picks
            .iter()
            .flat_map(|&(c, run)| {
                std::iter::repeat_n(colours[usize::from(c) % colours.len()], usize::from(run))
            })
            .flatten()
            .collect()
    }

    #[test]
    fn text_like_tiles_shrink() {
        let (ink, paper) = ([20, 20, 20, 255], [250, 250, 250, 255]);
        let pixels = tile(&[ink, paper], &[(1, 40), (0, 2), (1, 7), (0, 1), (1, 14)].repeat(64));
        let mut out = Vec::new();
        assert_eq!(encode_palette(&pixels, &mut out), Some(2));
        assert!(out.len() * 10 < pixels.len(), "palette: {} of {}", out.len(), pixels.len());
        let mut back = vec![0; pixels.len()];
        decode_palette(&out, 2, &mut back).unwrap();
        assert_eq!(back, pixels);
        encode_predicted(&pixels, &mut out);
        assert!(out.len() * 10 < pixels.len(), "predicted: {} of {}", out.len(), pixels.len());
    }

    #[test]
    fn too_many_colours_is_no_palette() {
        let pixels: Vec<u8> = (0..17u8).flat_map(|i| [i, 0, 0, 255]).collect();
        assert_eq!(encode_palette(&pixels, &mut Vec::new()), None);
    }

    proptest! {
        #[test]
        fn palette_round_trips(
            colours in proptest::collection::vec(any::<[u8; 4]>(), 1..16),
            picks in proptest::collection::vec((any::<u8>(), 1u8..40), 1..200),
        ) {
            let pixels = tile(&colours, &picks);
            let mut out = Vec::new();
            let n = encode_palette(&pixels, &mut out).unwrap();
            let mut back = vec![0; pixels.len()];
            prop_assert_eq!(decode_palette(&out, n, &mut back), Ok(()));
            prop_assert_eq!(back, pixels);
        }

        #[test]
        fn predicted_round_trips(
            colours in proptest::collection::vec(any::<[u8; 4]>(), 1..80),
            picks in proptest::collection::vec((any::<u8>(), 1u8..100), 1..200),
        ) {
            let pixels = tile(&colours, &picks);
            let mut out = Vec::new();
            encode_predicted(&pixels, &mut out);
            let mut back = vec![0; pixels.len()];
            prop_assert_eq!(decode_predicted(&out, &mut back), Ok(()));
            prop_assert_eq!(back, pixels);
        }

        #[test]
        fn random_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..300), n in 0u8..20) {
            let mut out = vec![0; 64 * 4];
            let _ = decode_palette(&payload, n, &mut out);
            let _ = decode_predicted(&payload, &mut out);
        }
    }
}
