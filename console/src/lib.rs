//! The technician's console: session logic (shared by every front end), the
//! headless scripted mode, snapshots, and the iced GUI (`gui`, one module per
//! screen under `screen`), which builds on `session` like headless mode does.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod files;
pub mod gui;
pub mod headless;
pub mod invite;
pub mod link;
pub mod mapping;
pub mod office;
pub mod pointer;
pub mod queue;
mod receivers;
pub mod screen;
pub mod script;
mod server;
pub mod session;
pub mod shortcuts;
pub mod snapshot;
pub mod transfers;
