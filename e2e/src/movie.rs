//! A moving photograph on an X display: a window that plays smooth,
//! grainy gradients (what video and photos look like to a codec) for a
//! while, then holds its last frame until dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, CreateGCAux, CreateWindowAux, ImageFormat, WindowClass};
use x11rb::wrapper::ConnectionExt as _;

/// Rows per `PutImage`, well under the core protocol's request limit.
const STRIP_ROWS: u16 = 32;

/// A playing (or finished and held) movie window.
#[derive(Debug)]
pub struct Movie {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

/// Where and how long to play.
#[derive(Debug, Clone, Copy)]
pub struct Reel {
    /// Window position.
    pub x: i16,
    /// Window position.
    pub y: i16,
    /// Window size.
    pub width: u16,
    /// Window size.
    pub height: u16,
    /// Frames per second while playing.
    pub fps: u32,
    /// How long it plays before it holds its last frame.
    pub play: Duration,
}

/// One frame, BGRX as a 24-bit X visual takes it.
#[must_use]
pub fn frame(width: u16, height: u16, phase: u32) -> Vec<u8> {
    let mut grain = phase.wrapping_mul(2_654_435_761) | 1;
    let mut out = Vec::with_capacity(usize::from(width) * usize::from(height) * 4);
    for y in 0..u32::from(height) {
        for x in 0..u32::from(width) {
            grain ^= grain << 13;
            grain ^= grain >> 17;
            grain ^= grain << 5;
            let g = (grain & 15) as u8;
            let (sx, sy) = (x + phase * 3, y + phase);
            let r = (sx * 2 % 230) as u8 + g;
            let gr = (sy * 3 % 230) as u8 + (g >> 1);
            let b = ((sx + sy) % 200) as u8 + 30;
            out.extend_from_slice(&[b, gr, r, 0]);
        }
    }
    out
}

impl Movie {
    /// Opens the window on `display` and starts playing.
    pub fn play(display: &str, reel: Reel) -> anyhow::Result<Self> {
        let (conn, screen) = x11rb::connect(Some(display)).context("connecting to the X display")?;
        let root = conn.setup().roots[screen].root;
        let window = conn.generate_id()?;
        conn.create_window(
            24,
            window,
            root,
            reel.x,
            reel.y,
            reel.width,
            reel.height,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new().override_redirect(1),
        )?;
        conn.map_window(window)?;
        let gc = conn.generate_id()?;
        conn.create_gc(gc, window, &CreateGCAux::new())?;
        conn.sync()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || -> anyhow::Result<()> {
            let start = Instant::now();
            let tick = Duration::from_secs(1) / reel.fps.max(1);
            let mut phase = 0;
            while !flag.load(Ordering::Relaxed) {
                if start.elapsed() < reel.play {
                    let pixels = frame(reel.width, reel.height, phase);
                    let row = usize::from(reel.width) * 4;
                    for top in (0..reel.height).step_by(usize::from(STRIP_ROWS)) {
                        let rows = STRIP_ROWS.min(reel.height - top);
                        let bytes = &pixels[usize::from(top) * row..usize::from(top + rows) * row];
                        conn.put_image(
                            ImageFormat::Z_PIXMAP,
                            window,
                            gc,
                            reel.width,
                            rows,
                            0,
                            top as i16,
                            0,
                            24,
                            bytes,
                        )?;
                    }
                    conn.sync()?;
                    phase += 1;
                }
                std::thread::sleep(tick);
            }
            Ok(())
        });
        Ok(Self { stop, thread: Some(thread) })
    }

    /// Stops and closes the window; says whether painting failed.
    pub fn close(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(Ok(()), |t| t.join().map_err(|_| anyhow::anyhow!("the movie thread panicked"))?)
    }
}

impl Drop for Movie {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
