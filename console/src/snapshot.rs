//! Writes the framebuffer to a PNG (RGB, since the screen has no alpha).

use std::io::BufWriter;
use std::path::Path;

/// Why a snapshot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be created or written.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// PNG encoding failed.
    #[error("encoding {0}: {1}")]
    Png(String, String),
}

/// Writes `rgba` (`width`×`height`) to `path` as an 8-bit RGB PNG.
pub fn write_png(path: &Path, width: u32, height: u32, rgba: &[u8]) -> Result<(), SnapshotError> {
    let show = || path.display().to_string();
    let file = std::fs::File::create(path).map_err(|source| SnapshotError::Io { path: show(), source })?;
    let mut enc = png::Encoder::new(BufWriter::new(file), width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let mut writer = enc.write_header().map_err(|e| SnapshotError::Png(show(), e.to_string()))?;
    writer.write_image_data(&rgb).map_err(|e| SnapshotError::Png(show(), e.to_string()))?;
    writer.finish().map_err(|e| SnapshotError::Png(show(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_readable_png() {
        let path = std::env::temp_dir().join(format!("tether-snap-{}.png", std::process::id()));
        write_png(&path, 2, 1, &[1, 2, 3, 255, 4, 5, 6, 255]).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (2, 1));
        assert_eq!(&buf[..6], &[1, 2, 3, 4, 5, 6]);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn unwritable_path_is_a_clear_error() {
        let e = write_png(Path::new("/nonexistent-dir/x.png"), 1, 1, &[0; 4]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/x.png"));
    }
}
