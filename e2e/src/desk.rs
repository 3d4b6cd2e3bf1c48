//! Driving real windows the way a person does: xdotool for the pointer and
//! keyboard, and screenshots to find where things are drawn.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::image::{Rgb, read_png};

/// Runs `xdotool ARGS` on `display` and returns its standard output.
pub fn xdotool(display: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .context("running xdotool (is it installed?)")?;
    if !out.status.success() {
        bail!("xdotool {} failed on {display}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits for a visible window whose title matches `name`; returns its id.
pub fn wait_window_named(display: &str, name: &str, limit: Duration) -> anyhow::Result<String> {
    let start = Instant::now();
    loop {
        if let Ok(out) = xdotool(display, &["search", "--onlyvisible", "--name", name])
            && let Some(id) = out.lines().next()
        {
            return Ok(id.trim().to_owned());
        }
        if start.elapsed() > limit {
            bail!("no window named {name:?} appeared on {display}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Captures one window with ImageMagick.
pub fn capture_window(display: &str, window: &str, out: &Path) -> anyhow::Result<Rgb> {
    let status = Command::new("import")
        .args(["-display", display, "-window", window])
        .arg(format!("PNG24:{}", out.display()))
        .status()
        .context("running import (is imagemagick installed?)")?;
    if !status.success() {
        bail!("import failed for window {window} on {display}");
    }
    read_png(out)
}

/// A rectangle in pixels, inclusive of both corners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x0: u32,
    /// Top row.
    pub y0: u32,
    /// Right column.
    pub x1: u32,
    /// Bottom row.
    pub y1: u32,
}

impl Rect {
    /// The centre point.
    #[must_use]
    pub fn centre(&self) -> (u32, u32) {
        (u32::midpoint(self.x0, self.x1), u32::midpoint(self.y0, self.y1))
    }
}

/// The smallest rectangle holding every pixel for which `hit` holds, if any
/// do, counting only when at least `min` pixels match (stray anti-aliased
/// pixels are not a widget).
pub fn bounding_box(img: &Rgb, min: usize, hit: impl Fn([u8; 3]) -> bool) -> Option<Rect> {
    let mut rect: Option<Rect> = None;
    let mut count = 0;
    for (i, p) in img.pixels.chunks_exact(3).enumerate() {
        if !hit([p[0], p[1], p[2]]) {
            continue;
        }
        count += 1;
        let (x, y) = ((i as u32) % img.width, (i as u32) / img.width);
        rect = Some(match rect {
            None => Rect { x0: x, y0: y, x1: x, y1: y },
            Some(r) => Rect { x0: r.x0.min(x), y0: r.y0.min(y), x1: r.x1.max(x), y1: r.y1.max(y) },
        });
    }
    rect.filter(|_| count >= min)
}

/// Captures `window` until `hit` pixels appear; returns the box and the picture.
pub fn wait_for_pixels(
    display: &str,
    window: &str,
    out: &Path,
    limit: Duration,
    hit: impl Fn([u8; 3]) -> bool,
) -> anyhow::Result<(Rect, Rgb)> {
    let start = Instant::now();
    loop {
        let img = capture_window(display, window, out)?;
        if let Some(r) = bounding_box(&img, 50, &hit) {
            return Ok((r, img));
        }
        if start.elapsed() > limit {
            bail!(
                "what was looked for did not appear in window {window} on {display}; last capture: {}",
                out.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Captures `window` until no `hit` pixels remain.
pub fn wait_for_no_pixels(
    display: &str,
    window: &str,
    out: &Path,
    limit: Duration,
    hit: impl Fn([u8; 3]) -> bool,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let img = capture_window(display, window, out)?;
        if bounding_box(&img, 50, &hit).is_none() {
            return Ok(());
        }
        if start.elapsed() > limit {
            bail!("what should have gone is still in window {window} on {display}: {}", out.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Gives `window` the keyboard, as a window manager does on a click.
pub fn focus(display: &str, window: &str) -> anyhow::Result<()> {
    xdotool(display, &["windowfocus", "--sync", window])?;
    Ok(())
}

/// Hands the keyboard back to whatever window is under the pointer (X's
/// PointerRoot focus), as a focus-follows-mouse window manager does.
pub fn focus_follows_pointer(display: &str) -> anyhow::Result<()> {
    use x11rb::protocol::xproto::{ConnectionExt as _, InputFocus};
    use x11rb::wrapper::ConnectionExt as _;
    let (conn, _) = x11rb::connect(Some(display)).context("connecting to the X display")?;
    // The focus window value 1 is PointerRoot.
    conn.set_input_focus(InputFocus::POINTER_ROOT, 1u32, x11rb::CURRENT_TIME)?;
    conn.sync()?;
    Ok(())
}

/// Clicks at `(x, y)` relative to `window`.
pub fn click_in(display: &str, window: &str, (x, y): (u32, u32)) -> anyhow::Result<()> {
    xdotool(display, &["mousemove", "--window", window, &x.to_string(), &y.to_string()])?;
    std::thread::sleep(Duration::from_millis(100));
    xdotool(display, &["click", "1"])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_holds_every_hit_and_needs_enough_of_them() {
        let mut img = Rgb { width: 10, height: 10, pixels: vec![0; 300] };
        for (x, y) in [(2, 3), (7, 8), (4, 4)] {
            img.pixels[(y * 10 + x) * 3] = 255;
        }
        let red = |p: [u8; 3]| p[0] == 255;
        assert_eq!(bounding_box(&img, 3, red), Some(Rect { x0: 2, y0: 3, x1: 7, y1: 8 }));
        assert_eq!(bounding_box(&img, 4, red), None);
        assert_eq!(Rect { x0: 2, y0: 3, x1: 7, y1: 8 }.centre(), (4, 5));
    }
}
