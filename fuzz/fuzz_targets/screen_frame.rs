//! Fuzz target: any bytes as a screen frame decode to an error or a picture.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_protocol::codec::{Decoder, EncodedFrame};

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = tether_protocol::wire::decode::<EncodedFrame>(data)
        && let Ok(mut decoder) = Decoder::new()
    {
        let _ = decoder.apply(&frame);
    }
});
