//! File transfer between the two ends, sans-IO: what may be named on the
//! wire (`name`), and a file as hashed chunks with the receiver's progress
//! through it (`chunk`). The transfer itself (messages, consent, the disk)
//! builds on these.

pub mod chunk;
pub mod name;

pub use chunk::{ChunkError, Progress};
pub use name::{FileName, NameError, RelPath};
