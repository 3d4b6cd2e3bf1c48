//! Draws the customer's pointer into the console's picture of their screen
//! (captures never include it), alpha-blended at its hot spot.

use tether_protocol::channel::cursor::CursorShape;

/// Blends `shape` into `rgba` (`width`×`height`) with its hot spot at `at`;
/// the parts outside the picture are left out.
pub fn draw(rgba: &mut [u8], width: u32, height: u32, shape: &CursorShape, at: (i32, i32)) {
    let (w, h) = (i64::from(width), i64::from(height));
    let left = i64::from(at.0) - i64::from(shape.hot_x);
    let top = i64::from(at.1) - i64::from(shape.hot_y);
    for (row, line) in shape.rgba.chunks_exact(usize::from(shape.width) * 4).enumerate() {
        let y = top + row as i64;
        if !(0..h).contains(&y) {
            continue;
        }
        for (col, px) in line.chunks_exact(4).enumerate() {
            let x = left + col as i64;
            let alpha = u32::from(px[3]);
            if !(0..w).contains(&x) || alpha == 0 {
                continue;
            }
            let i = ((y * w + x) * 4) as usize;
            let Some(dst) = rgba.get_mut(i..i + 3) else { continue };
            for (d, s) in dst.iter_mut().zip(&px[..3]) {
                *d = ((u32::from(*s) * alpha + u32::from(*d) * (255 - alpha)) / 255) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hot_spot_lands_on_the_position_and_edges_are_clipped() {
        // A 2×2 picture, a 2×2 cursor: opaque black, clear, half white, opaque white.
        let shape = CursorShape {
            width: 2,
            height: 2,
            hot_x: 1,
            hot_y: 1,
            rgba: vec![0, 0, 0, 255, 9, 9, 9, 0, 255, 255, 255, 128, 255, 255, 255, 255],
        };
        let mut picture = vec![100; 2 * 2 * 4];
        draw(&mut picture, 2, 2, &shape, (1, 1));
        // The cursor's (0,0) is at (0,0): black; (1,0) clear; (0,1) half white; (1,1) white.
        assert_eq!(&picture[0..3], &[0, 0, 0]);
        assert_eq!(&picture[4..7], &[100, 100, 100]);
        assert_eq!(&picture[8..11], &[177, 177, 177]);
        assert_eq!(&picture[12..15], &[255, 255, 255]);
        // Hanging off every edge draws nothing and does not panic.
        let mut other = vec![100; 16];
        draw(&mut other, 2, 2, &shape, (-5, 9));
        assert!(other.iter().all(|&b| b == 100));
    }
}
