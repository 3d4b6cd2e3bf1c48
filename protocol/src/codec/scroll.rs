//! Scroll detection: finds a block of rows that moved up or down (or of
//! columns that moved sideways) between the last frame sent and the new one,
//! so it goes as one copy instead of as the tiles it covers. Lines are
//! compared by hash over the area that changed; a line whose hash occurs once
//! in the old picture votes for its offset, and the longest run of matching
//! lines at the winning offset becomes the copy.
//!
//! A wrong guess (a hash collision) costs bytes, never pixels: the encoder
//! diffs the tiles against the moved picture afterwards, and the decoder
//! applies the same move.

use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

use super::{BPP, CopyRect, Grid};

/// Fewest lines voting for an offset before it is believed.
const MIN_VOTES: u32 = 4;
/// Fewest lines worth a copy.
const MIN_ROWS: u32 = 8;

/// Which way lines are compared: rows find vertical scrolls, columns
/// sideways ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Rows, for a move up or down.
    Rows,
    /// Columns, for a move left or right.
    Columns,
}

/// Reused hash tables and row hashes (nothing is allocated per frame once
/// they have grown to the screen's size).
#[derive(Debug, Default)]
pub struct ScrollFinder {
    old: Vec<u64>,
    new: Vec<u64>,
    /// Old line hash → (line, how many lines have it).
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

/// One step of FxHash's mixing, for the column hashes built row by row.
const fn mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

/// Column hashes, built a row at a time so memory is read in order.
fn hash_columns(frame: &[u8], stride: usize, (x0, y0, x1, y1): (u32, u32, u32, u32), out: &mut Vec<u64>) {
    out.clear();
    out.resize((x1 - x0) as usize, 0);
    for y in y0..y1 {
        let row = y as usize * stride;
        let pixels = frame[row + x0 as usize * BPP..row + x1 as usize * BPP].chunks_exact(BPP);
        for (h, p) in out.iter_mut().zip(pixels) {
            *h = mix(*h, u64::from(u32::from_le_bytes([p[0], p[1], p[2], p[3]])));
        }
    }
}

impl ScrollFinder {
    /// The largest move along `axis` inside `band` from `old` to `new`, if any.
    pub fn find(
        &mut self,
        grid: &Grid,
        old: &[u8],
        new: &[u8],
        band: (u32, u32, u32, u32),
        axis: Axis,
    ) -> Option<CopyRect> {
        let (x0, y0, x1, y1) = band;
        let stride = grid.width as usize * BPP;
        let hash = match axis {
            Axis::Rows => hash_rows,
            Axis::Columns => hash_columns,
        };
        hash(old, stride, band, &mut self.old);
        hash(new, stride, band, &mut self.new);
        let (start, len, d) = self.best_run()?;
        let moved = |base: u32| u32::try_from(i64::from(base + start) + d).ok();
        Some(match axis {
            Axis::Rows => {
                CopyRect { x: x0, y: moved(y0)?, width: x1 - x0, height: len, to_x: x0, to_y: y0 + start }
            }
            Axis::Columns => {
                CopyRect { x: moved(x0)?, y: y0, width: len, height: y1 - y0, to_x: x0 + start, to_y: y0 }
            }
        })
    }

    /// Over the line hashes in `old` and `new` (rows or columns): the offset
    /// most unique lines vote for, and the longest run of new lines equal to
    /// the old ones that far along: (first new line, run length, offset).
    fn best_run(&mut self) -> Option<(u32, u32, i64)> {
        self.rows.clear();
        for (i, h) in self.old.iter().enumerate() {
            self.rows.entry(*h).and_modify(|e| e.1 += 1).or_insert((i as u32, 1));
        }
        self.votes.clear();
        for (i, h) in self.new.iter().enumerate() {
            if let Some(&(from, 1)) = self.rows.get(h) {
                let d = i64::from(from) - i as i64;
                if d != 0 {
                    *self.votes.entry(d).or_default() += 1;
                }
            }
        }
        let (&d, _) =
            self.votes.iter().filter(|(_, v)| **v >= MIN_VOTES).max_by_key(|(d, v)| (**v, -d.abs()))?;
        let lines = self.new.len() as i64;
        let (mut best, mut run_start, mut run) = ((0, 0), 0, 0);
        for i in 0..lines {
            let from = i + d;
            if (0..lines).contains(&from) && self.new[i as usize] == self.old[from as usize] {
                if run == 0 {
                    run_start = i;
                }
                run += 1;
                if run > best.1 {
                    best = (run_start, run);
                }
            } else {
                run = 0;
            }
        }
        let (start, len) = (u32::try_from(best.0).ok()?, u32::try_from(best.1).ok()?);
        (len >= MIN_ROWS).then_some((start, len, d))
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
        let copy = ScrollFinder::default().find(&grid, &old, &new, bounds, Axis::Rows).unwrap();
        assert_eq!(copy, CopyRect { x: 0, y: 5, width: 64, height: 95, to_x: 0, to_y: 0 });
        let mut moved = old.clone();
        apply(&grid, &mut moved, &copy);
        let stride = 64 * BPP;
        assert_eq!(moved[..95 * stride], new[..95 * stride]);
    }

    #[test]
    fn a_sideways_move_is_found() {
        let grid = Grid::new(100, 40).unwrap();
        // Every column distinct; the new picture is the old one moved 7 left.
        let column = |x: u32, y: u32| [(x * 5) as u8, (x / 2) as u8, (y * 3) as u8, 255];
        let old: Vec<u8> = (0..40).flat_map(|y| (0..100).flat_map(move |x| column(x, y))).collect();
        let new: Vec<u8> = (0..40).flat_map(|y| (0..100).flat_map(move |x| column(x + 7, y))).collect();
        let bounds = changed_bounds(&grid, &old, &new).unwrap();
        let copy = ScrollFinder::default().find(&grid, &old, &new, bounds, Axis::Columns).unwrap();
        assert_eq!(copy, CopyRect { x: 7, y: 0, width: 93, height: 40, to_x: 0, to_y: 0 });
        let mut moved = old;
        apply(&grid, &mut moved, &copy);
        for y in 0..40 {
            let row = y * 100 * BPP;
            assert_eq!(moved[row..row + 93 * BPP], new[row..row + 93 * BPP]);
        }
    }

    #[test]
    fn unrelated_pictures_give_no_copy() {
        let grid = Grid::new(64, 100).unwrap();
        let old = lines(64, 100, 0);
        let new: Vec<u8> = old.iter().map(|b| b.wrapping_mul(31).wrapping_add(1)).collect();
        let bounds = changed_bounds(&grid, &old, &new).unwrap();
        assert_eq!(ScrollFinder::default().find(&grid, &old, &new, bounds, Axis::Rows), None);
        assert_eq!(ScrollFinder::default().find(&grid, &old, &new, bounds, Axis::Columns), None);
        assert_eq!(changed_bounds(&grid, &old, &old), None);
    }
}
