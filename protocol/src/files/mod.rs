//! File transfer between the two ends, sans-IO: what may be named on the
//! wire (`name`), and a file as hashed chunks with the receiver's progress
//! through it (`chunk`). The transfer itself (messages, consent, the disk)
//! builds on these.

pub mod chunk;
pub mod name;

pub use chunk::{ChunkError, Progress};
pub use name::{FileName, NameError, RelPath};

/// `bytes` for people: 1.2 MB, 340 kB, 12 bytes.
#[must_use]
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(super::human_size(999), "999 bytes");
        assert_eq!(super::human_size(1_234_567), "1.2 MB");
        assert_eq!(super::human_size(340_000), "340.0 kB");
    }
}
