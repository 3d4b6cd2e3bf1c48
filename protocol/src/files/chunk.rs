//! A file in chunks: fixed-size pieces, each sent with its BLAKE3 hash and
//! checked before it is written, and the receiver's record of the chunks
//! verified so far, so a corrupted chunk is asked for again and a broken
//! transfer resumes from the first chunk not yet verified.

/// Bytes per chunk (the last one may be shorter).
pub const CHUNK_BYTES: u32 = 256 * 1024;
/// Largest file a transfer takes: 1 TiB.
pub const MAX_FILE_BYTES: u64 = 1 << 40;

/// A BLAKE3 hash.
pub type Hash = [u8; 32];

/// The BLAKE3 hash of `data`.
#[must_use]
pub fn hash(data: &[u8]) -> Hash {
    *blake3::hash(data).as_bytes()
}

/// Why a chunk or a transfer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Over [`MAX_FILE_BYTES`].
    #[error("the file is larger than 1 TiB")]
    TooLarge,
    /// A chunk number past the end of the file.
    #[error("chunk {0} is past the end of the file")]
    OutOfRange(u64),
    /// A chunk of the wrong length for its place.
    #[error("chunk {index} has {got} bytes, expected {expected}")]
    Length {
        /// Which chunk.
        index: u64,
        /// Bytes received.
        got: usize,
        /// Bytes its place in the file takes.
        expected: u32,
    },
    /// The bytes do not match the hash sent with them.
    #[error("chunk {0} is corrupt (its hash does not match)")]
    Corrupt(u64),
}

/// The receiving side's progress through one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    size: u64,
    verified: Vec<bool>,
    /// Chunks and bytes verified so far.
    done: u64,
    done_bytes: u64,
}

impl Progress {
    /// A file of `size` bytes, nothing verified yet.
    pub fn new(size: u64) -> Result<Self, ChunkError> {
        if size > MAX_FILE_BYTES {
            return Err(ChunkError::TooLarge);
        }
        let chunks = size.div_ceil(u64::from(CHUNK_BYTES));
        Ok(Self {
            size,
            verified: vec![false; usize::try_from(chunks).map_err(|_| ChunkError::TooLarge)?],
            done: 0,
            done_bytes: 0,
        })
    }

    /// How many chunks the file has (none for an empty file).
    #[must_use]
    pub fn chunks(&self) -> u64 {
        self.verified.len() as u64
    }

    /// The byte offset of chunk `index` in the file.
    #[must_use]
    pub fn offset(index: u64) -> u64 {
        index * u64::from(CHUNK_BYTES)
    }

    /// The length chunk `index` must have.
    pub fn chunk_len(&self, index: u64) -> Result<u32, ChunkError> {
        if index >= self.chunks() {
            return Err(ChunkError::OutOfRange(index));
        }
        let left = self.size - Self::offset(index);
        Ok(u32::try_from(left.min(u64::from(CHUNK_BYTES))).unwrap_or(CHUNK_BYTES))
    }

    /// Checks chunk `index` before it is written: in range, the right
    /// length, and matching the hash sent with it.
    pub fn check(&self, index: u64, data: &[u8], expected: &Hash) -> Result<(), ChunkError> {
        let len = self.chunk_len(index)?;
        if data.len() != len as usize {
            return Err(ChunkError::Length { index, got: data.len(), expected: len });
        }
        if &hash(data) != expected {
            return Err(ChunkError::Corrupt(index));
        }
        Ok(())
    }

    /// Records chunk `index` as written and verified.
    pub fn mark(&mut self, index: u64) -> Result<(), ChunkError> {
        let len = self.chunk_len(index)?;
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| self.verified.get_mut(i))
            .ok_or(ChunkError::OutOfRange(index))?;
        if !*slot {
            *slot = true;
            self.done += 1;
            self.done_bytes += u64::from(len);
        }
        Ok(())
    }

    /// Where a resumed transfer starts: the first chunk not yet verified.
    #[must_use]
    pub fn resume_from(&self) -> Option<u64> {
        self.verified.iter().position(|v| !v).map(|i| i as u64)
    }

    /// Whether every chunk is verified.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.done == self.chunks()
    }

    /// Bytes verified so far, for progress bars.
    #[must_use]
    pub const fn verified_bytes(&self) -> u64 {
        self.done_bytes
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const C: u64 = CHUNK_BYTES as u64;

    #[test]
    fn chunks_cover_the_file_exactly() {
        let p = Progress::new(2 * C + 10).unwrap();
        assert_eq!(p.chunks(), 3);
        assert_eq!((p.chunk_len(0), p.chunk_len(2)), (Ok(CHUNK_BYTES), Ok(10)));
        assert_eq!(p.chunk_len(3), Err(ChunkError::OutOfRange(3)));
        assert_eq!(Progress::new(0).unwrap().chunks(), 0);
        assert!(Progress::new(0).unwrap().is_complete());
        assert_eq!(Progress::new(MAX_FILE_BYTES + 1), Err(ChunkError::TooLarge));
    }

    #[test]
    fn a_corrupted_or_misplaced_chunk_is_refused() {
        let p = Progress::new(C + 100).unwrap();
        let data = vec![7u8; 100];
        let h = hash(&data);
        assert_eq!(p.check(1, &data, &h), Ok(()));
        let mut flipped = data.clone();
        flipped[50] ^= 1;
        assert_eq!(p.check(1, &flipped, &h), Err(ChunkError::Corrupt(1)));
        assert_eq!(
            p.check(0, &data, &h),
            Err(ChunkError::Length { index: 0, got: 100, expected: CHUNK_BYTES })
        );
        assert_eq!(p.check(2, &data, &h), Err(ChunkError::OutOfRange(2)));
    }

    #[test]
    fn resume_starts_at_the_first_gap() {
        let mut p = Progress::new(4 * C).unwrap();
        assert_eq!(p.resume_from(), Some(0));
        for i in [0, 1, 3] {
            p.mark(i).unwrap();
        }
        p.mark(1).unwrap();
        assert_eq!(p.resume_from(), Some(2));
        assert_eq!(p.verified_bytes(), 3 * C);
        assert!(!p.is_complete());
        p.mark(2).unwrap();
        assert_eq!((p.resume_from(), p.is_complete(), p.verified_bytes()), (None, true, 4 * C));
        assert_eq!(p.mark(4), Err(ChunkError::OutOfRange(4)));
    }

    proptest! {
        /// Marking any chunks counts exactly their bytes, and the resume
        /// point is the lowest one left.
        #[test]
        fn progress_counts_what_was_marked(size in 0u64..(6 * C), marks in proptest::collection::vec(0u64..7, 0..12)) {
            let mut p = Progress::new(size).unwrap();
            let mut bytes = std::collections::BTreeMap::new();
            for m in marks {
                if let Ok(len) = p.chunk_len(m) {
                    p.mark(m).unwrap();
                    bytes.insert(m, u64::from(len));
                }
            }
            prop_assert_eq!(p.verified_bytes(), bytes.values().sum::<u64>());
            let first_gap = (0..p.chunks()).find(|i| !bytes.contains_key(i));
            prop_assert_eq!(p.resume_from(), first_gap);
            prop_assert_eq!(p.is_complete(), first_gap.is_none());
        }
    }
}
