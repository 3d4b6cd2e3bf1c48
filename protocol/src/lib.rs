//! Tether's wire protocol, sans-IO: framing, pairing codes, PAKE, the Noise
//! handshake and per-channel encryption, channel messages, the tile codec and
//! frame pacing. No sockets, no tokio and no clock: callers pass bytes and
//! `now` in and take bytes out.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod admin;
pub mod channel;
pub mod code;
pub mod codec;
pub mod crypt;
pub mod desk;
pub mod files;
pub mod frame;
pub mod handshake;
pub mod ice;
pub mod invite;
pub mod pacing;
pub mod pake;
pub mod queue;
pub mod sas;
pub mod signal;
pub mod wire;

/// Protocol version string; also the start of the Noise prologue.
pub const VERSION: &str = "tether/1";
