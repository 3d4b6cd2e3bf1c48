//! File transfer between the two ends, sans-IO: what may be named on the
//! wire (`name`). The transfer itself (chunks, hashes, resume, consent)
//! builds on these.

pub mod name;

pub use name::{FileName, NameError, RelPath};
