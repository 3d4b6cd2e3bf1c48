//! Scroll detection: finds a block of rows that moved up or down between the
//! last frame sent and the new one, so it goes as one copy instead of as the
//! tiles it covers. Rows are compared by hash over the columns that changed;
//! a row whose hash occurs once in the old picture votes for its offset, and
//! the longest run of matching rows at the winning offset becomes the copy.
//!
//! A wrong guess (a hash collision) costs bytes, never pixels: the encoder
//! diffs the tiles against the moved picture afterwards, and the decoder
//! applies the same move.

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

use super::{BPP, CopyRect, Grid};

/// Fewest rows voting for an offset before it is believed.
const MIN_VOTES: u32 = 4;
/// Fewest rows worth a copy.
const MIN_ROWS: u32 = 8;

/// Reused hash tables and row hashes (nothing is allocated per frame once
/// they have grown to the screen's size).
#[derive(Debug, Default)]
pub struct ScrollFinder {
    old: Vec<u64>,
    new: Vec<u64>,
    /// Old row hash → (row, how many rows have it).
    rows: FxHashMap<u64, (u32, u32)>,
    votes: FxHashMap<i64, u32>,
}

/// Pixel bounds `(x0, y0, x1, y1)` (exclusive ends) of what differs between
/// `old` and `new`, or `None` when nothing does.
pub fn changed_bounds(grid: &Grid, old: &[u8], new: &[u8]) -> Option<(u32, u32, u32, u32)> {
    let stride = grid.width as usize * BPP;
    let mut bounds: Option<(u32, u32, u32, u32)> = None;
    for (y, (o, n)) in old.chunks_exact(stride).zip(new.chunks_exact(stride)).enumerate() {
        if o == n {
            continue;
        }
        let first = o.chunks_exact(BPP).zip(n.chunks_exact(BPP)).position(|(a, b)| a != b).unwrap_or(0);
        let last = o.chunks_exact(BPP).zip(n.chunks_exact(BPP)).rposition(|(a, b)| a != b).unwrap_or(0);
        let (y, first, end) = (y as u32, first as u32, last as u32 + 1);
        bounds = Some(match bounds {
            None => (first, y, end, y + 1),
            Some((x0, y0, x1, _)) => (x0.min(first), y0, x1.max(end), y + 1),
        });
    }
    bounds
}

fn hash_rows(frame: &[u8], stride: usize, (x0, y0, x1, y1): (u32, u32, u32, u32), out: &mut Vec<u64>) {
    out.clear();
    let (from, to) = (x0 as usize * BPP, x1 as usize * BPP);
    out.extend((y0..y1).map(|y| {
        let row = y as usize * stride;
        let mut h = FxHasher::default();
        h.write(&frame[row + from..row + to]);
        h.finish()
    }));
}

impl ScrollFinder {
    /// The largest vertical move inside `band` from `old` to `new`, if any.
    pub fn find(
        &mut self,
        grid: &Grid,
        old: &[u8],
        new: &[u8],
        band: (u32, u32, u32, u32),
    ) -> Option<CopyRect> {
        let (x0, y0, x1, y1) = band;
        let stride = grid.width as usize * BPP;
        hash_rows(old, stride, band, &mut self.old);
        hash_rows(new, stride, band, &mut self.new);
        self.rows.clear();
        for (y, h) in self.old.iter().enumerate() {
            self.rows.entry(*h).and_modify(|e| e.1 += 1).or_insert((y as u32, 1));
        }
        self.votes.clear();
        for (y, h) in self.new.iter().enumerate() {
            if let Some(&(from, 1)) = self.rows.get(h) {
                let dy = i64::from(from) - y as i64;
                if dy != 0 {
                    *self.votes.entry(dy).or_default() += 1;
                }
            }
        }
        let (&dy, _) =
            self.votes.iter().filter(|(_, v)| **v >= MIN_VOTES).max_by_key(|(dy, v)| (**v, -dy.abs()))?;
        // The longest run of new rows equal to the old rows `dy` below them.
        let rows = self.new.len() as i64;
        let (mut best, mut run_start, mut run) = ((0, 0), 0, 0);
        for y in 0..rows {
            let from = y + dy;
            if (0..rows).contains(&from) && self.new[y as usize] == self.old[from as usize] {
                if run == 0 {
                    run_start = y;
                }
                run += 1;
                if run > best.1 {
                    best = (run_start, run);
                }
            } else {
                run = 0;
            }
        }
        let (start, height) = (u32::try_from(best.0).ok()?, u32::try_from(best.1).ok()?);
        if height < MIN_ROWS {
            return None;
        }
        let to_y = y0 + start;
        let from_y = u32::try_from(i64::from(to_y) + dy).ok()?;
        debug_assert!(from_y + height <= y1);
        Some(CopyRect { x: x0, y: from_y, width: x1 - x0, height, to_x: x0, to_y })
    }
}

/// Moves `copy` inside `frame` (rows of `grid`), as the decoder will.
pub fn apply(grid: &Grid, frame: &mut [u8], copy: &CopyRect) {
    let stride = grid.width as usize * BPP;
    let width = copy.width as usize * BPP;
    let row = |y: u32, x: u32| y as usize * stride + x as usize * BPP;
    let mut one = |i: u32| {
        let src = row(copy.y + i, copy.x);
        frame.copy_within(src..src + width, row(copy.to_y + i, copy.to_x));
    };
    // Moving down, start from the bottom so no source row is overwritten first.
    if copy.to_y > copy.y {
        (0..copy.height).rev().for_each(&mut one);
    } else {
        (0..copy.height).for_each(&mut one);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64-pixel-wide picture whose row `y` is a distinct pattern of `y + shift`.
    fn lines(width: u32, height: u32, shift: u32) -> Vec<u8> {
        (0..height)
            .flat_map(|y| {
                (0..width).flat_map(move |x| [((y + shift) * 7) as u8, ((y + shift) / 3) as u8, x as u8, 255])
            })
            .collect()
    }

    #[test]
    fn a_scrolled_page_is_found_and_moving_it_reproduces_the_rows() {
        let grid = Grid::new(64, 100).unwrap();
        let old = lines(64, 100, 0);
        let new = lines(64, 100, 5); // scrolled up by five rows
        let bounds = changed_bounds(&grid, &old, &new).unwrap();
        assert_eq!(bounds, (0, 0, 64, 100));
        let copy = ScrollFinder::default().find(&grid, &old, &new, bounds).unwrap();
        assert_eq!(copy, CopyRect { x: 0, y: 5, width: 64, height: 95, to_x: 0, to_y: 0 });
        let mut moved = old.clone();
        apply(&grid, &mut moved, &copy);
        let stride = 64 * BPP;
        assert_eq!(moved[..95 * stride], new[..95 * stride]);
    }

    #[test]
    fn unrelated_pictures_give_no_copy() {
        let grid = Grid::new(64, 100).unwrap();
        let old = lines(64, 100, 0);
        let new: Vec<u8> = old.iter().map(|b| b.wrapping_mul(31).wrapping_add(1)).collect();
        let bounds = changed_bounds(&grid, &old, &new).unwrap();
        assert_eq!(ScrollFinder::default().find(&grid, &old, &new, bounds), None);
        assert_eq!(changed_bounds(&grid, &old, &old), None);
    }
}
