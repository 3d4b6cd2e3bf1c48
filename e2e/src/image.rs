//! Screenshots of a display, and pixel comparison of PNGs.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// An RGB picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// 3 bytes per pixel.
    pub pixels: Vec<u8>,
}

impl Rgb {
    /// The `width`×`height` part whose top left is (`x`, `y`), which must be inside.
    #[must_use]
    pub fn crop(&self, x: u32, y: u32, width: u32, height: u32) -> Self {
        let pixels = (y..y + height)
            .flat_map(|row| {
                let start = ((row * self.width + x) * 3) as usize;
                self.pixels[start..start + (width * 3) as usize].iter().copied()
            })
            .collect();
        Self { width, height, pixels }
    }
}

/// Reads any 8-bit PNG as RGB.
pub fn read_png(path: &Path) -> anyhow::Result<Rgb> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    let pixels = match info.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|g| [*g; 3]).collect(),
        png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).flat_map(|p| [p[0]; 3]).collect(),
        png::ColorType::Indexed => bail!("indexed PNG was not expanded"),
    };
    Ok(Rgb { width: info.width, height: info.height, pixels })
}

/// Captures the whole `display` independently of Tether, with ImageMagick.
pub fn capture_display(display: &str, out: &Path) -> anyhow::Result<Rgb> {
    let status = Command::new("import")
        .args(["-display", display, "-window", "root"])
        .arg(format!("PNG24:{}", out.display()))
        .status()
        .context("running import (is imagemagick installed?)")?;
    if !status.success() {
        bail!("import failed on {display}");
    }
    read_png(out)
}

/// Number of pixels that differ, or an error if the sizes differ.
pub fn differing_pixels(a: &Rgb, b: &Rgb) -> anyhow::Result<usize> {
    if (a.width, a.height) != (b.width, b.height) {
        bail!("sizes differ: {}×{} vs {}×{}", a.width, a.height, b.width, b.height);
    }
    Ok(a.pixels.chunks_exact(3).zip(b.pixels.chunks_exact(3)).filter(|(x, y)| x != y).count())
}
