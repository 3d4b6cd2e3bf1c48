//! Fuzz target: hostile Noise handshake messages fail cleanly on both sides.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_protocol::handshake::{HandshakeConfig, Initiator, Responder, StaticKey};

fuzz_target!(|data: &[u8]| {
    let Ok(key) = StaticKey::generate() else { return };
    let config = HandshakeConfig { static_key: &key, psk: [7; 32], channel_binding: b"fuzz" };
    let _ = Responder::read_hello(&config, data);
    if let Ok((initiator, _)) = Initiator::start(&config) {
        let _ = initiator.read_reply(data);
    }
});
