//! Fuzz target: every message type decodes hostile bytes without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_protocol::channel::{chat, control, input, screen};
use tether_protocol::signal;
use tether_protocol::wire::decode;

fuzz_target!(|data: &[u8]| {
    let _ = decode::<signal::ClientToServer>(data);
    let _ = decode::<signal::ServerToClient>(data);
    let _ = decode::<control::ConsoleToAgent>(data);
    let _ = decode::<control::AgentToConsole>(data);
    let _ = decode::<input::ConsoleToAgent>(data);
    let _ = decode::<chat::ConsoleToAgent>(data);
    let _ = decode::<screen::ConsoleToAgent>(data);
});
