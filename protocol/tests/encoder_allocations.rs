//! The agent's encode path allocates a few buffers per frame (the frame's
//! own tile list and stream), never per tile, once it has warmed up.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use tether_protocol::codec::Encoder;

/// Counts allocations; a test-only wrapper around the system allocator.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed unchanged to the system allocator.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `alloc`'s contract, which we forward.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` through `alloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const W: u32 = 1280;
const H: u32 = 768;

/// A light screen with `tiles` 64×64 tiles of dark "text" whose marks
/// depend on `seed` (`seed + 1` for the first `changed`), one tile row
/// after another.
fn screen(tiles: u32, seed: u32, changed: u32) -> Vec<u8> {
    let mut px = vec![240u8; (W * H * 4) as usize];
    let cols = W / 64;
    for t in 0..tiles {
        let (tx, ty) = ((t % cols) * 64, (t / cols) * 64);
        let seed = if t < changed { seed + 1 } else { seed };
        for y in ty + 4..ty + 60 {
            for x in tx + 2..tx + 62 {
                if (x * 7 + y * 13 + seed * 31 + t) % 5 == 0 {
                    let i = ((y * W + x) * 4) as usize;
                    px[i..i + 3].copy_from_slice(&[20, 20, (seed % 200) as u8]);
                }
            }
        }
    }
    px
}

fn allocations_for(enc: &mut Encoder, pixels: &[u8]) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let frame = enc.encode(W, H, pixels).unwrap();
    let count = ALLOCATIONS.load(Ordering::Relaxed) - before;
    drop(frame);
    count
}

/// The allocation counter is global: one test at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn steady_state_encoding_allocates_per_frame_not_per_tile() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut enc = Encoder::new(1).unwrap();
    // Warm up on the busiest frames this test uses.
    for seed in 0..4 {
        let _ = enc.encode(W, H, &screen(200, seed, 0)).unwrap();
    }
    let many = allocations_for(&mut enc, &screen(200, 8, 0));
    let few = allocations_for(&mut enc, &screen(200, 8, 10));
    assert!(few <= 4 && many <= 4, "allocations: {few} for 10 dirty tiles, {many} for 200");
}

/// The same layout with grainy gradients ("photos") in the first `tiles`
/// tiles, each depending on `seed` (`seed + 1` for the first `changed`).
fn photos(tiles: u32, seed: u32, changed: u32) -> Vec<u8> {
    let mut px = vec![240u8; (W * H * 4) as usize];
    let cols = W / 64;
    for t in 0..tiles {
        let (tx, ty) = ((t % cols) * 64, (t / cols) * 64);
        let seed = if t < changed { seed + 1 } else { seed };
        let mut grain = (seed * 7919 + t) | 1;
        for y in ty..ty + 64 {
            for x in tx..tx + 64 {
                grain ^= grain << 13;
                grain ^= grain >> 17;
                grain ^= grain << 5;
                let i = ((y * W + x) * 4) as usize;
                let g = grain & 31;
                px[i..i + 4].copy_from_slice(&[
                    (x * 3 + g) as u8,
                    (y * 2 + seed + g) as u8,
                    (x + y + g) as u8,
                    255,
                ]);
            }
        }
    }
    px
}

#[test]
fn lossy_photo_tiles_allocate_per_frame_not_per_tile() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut enc = Encoder::new(1).unwrap();
    enc.set_lossy(Some(50));
    for seed in 0..4 {
        let frame = enc.encode(W, H, &photos(200, seed * 2, 0)).unwrap().unwrap();
        assert!(!frame.photos.is_empty(), "the photos went lossless");
    }
    let many = allocations_for(&mut enc, &photos(200, 20, 0));
    let few = allocations_for(&mut enc, &photos(200, 20, 10));
    assert!(enc.approx_tiles() >= 200, "{} approximate tiles", enc.approx_tiles());
    assert!(many <= few + 2 && many <= 24, "allocations: {few} for 10 photo tiles, {many} for 200");
}
