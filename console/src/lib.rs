//! The technician's console: session logic (shared by every front end), the
//! headless scripted mode, and snapshots. The iced GUI builds on `session`.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod headless;
pub mod script;
pub mod session;
pub mod snapshot;
