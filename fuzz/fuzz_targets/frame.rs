//! Fuzz target: the bounded length-prefix decoder never over-allocates or panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_protocol::frame::FrameDecoder;

fuzz_target!(|data: &[u8]| {
    let mut buf = bytes::BytesMut::from(data);
    let decoder = FrameDecoder::new(65_535);
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        assert!(frame.len() <= 65_535);
    }
});
