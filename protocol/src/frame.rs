//! Length-prefixed framing: a 4-byte big-endian length, then that many bytes.
//!
//! The decoder checks the claimed length against a limit *before* it reserves
//! anything, so a peer cannot make us allocate by lying in a header.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes of the length header in front of every frame.
pub const HEADER_LEN: usize = 4;

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header claims more bytes than this stream allows.
    #[error("frame of {claimed} bytes exceeds the limit of {limit}")]
    TooLong {
        /// Length from the header.
        claimed: usize,
        /// Largest length this decoder accepts.
        limit: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame")]
    Truncated,
}

/// Appends one frame (header and body) to `out`.
///
/// # Panics
/// Never for bodies under 4 GiB; callers bound their bodies far below that.
pub fn encode(body: &[u8], out: &mut BytesMut) {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    out.reserve(HEADER_LEN + body.len());
    out.put_u32(len);
    out.put_slice(body);
}

/// Incremental decoder with a fixed length limit.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    limit: usize,
}

impl FrameDecoder {
    /// A decoder that rejects frames longer than `limit` bytes.
    #[must_use]
    pub const fn new(limit: usize) -> Self {
        Self { limit }
    }

    /// Largest body this decoder accepts.
    #[must_use]
    pub const fn limit(&self) -> usize {
        self.limit
    }

    /// Takes one whole frame off the front of `buf`, if one is there.
    ///
    /// Returns `Ok(None)` when more bytes are needed. The buffer is only
    /// asked to grow to the announced size once the header has been checked.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(header) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let claimed = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        if claimed > self.limit {
            return Err(FrameError::TooLong { claimed, limit: self.limit });
        }
        if buf.len() < HEADER_LEN + claimed {
            return Ok(None);
        }
        buf.advance(HEADER_LEN);
        Ok(Some(buf.split_to(claimed).freeze()))
    }

    /// Checks that nothing is left over when the stream has ended.
    pub fn finish(&self, buf: &BytesMut) -> Result<(), FrameError> {
        if buf.is_empty() { Ok(()) } else { Err(FrameError::Truncated) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_oversized_header_before_body_arrives() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        let err = FrameDecoder::new(1024).decode(&mut buf).unwrap_err();
        assert_eq!(err, FrameError::TooLong { claimed: u32::MAX as usize, limit: 1024 });
    }

    #[test]
    fn partial_frame_waits_and_truncation_is_reported() {
        let mut buf = BytesMut::new();
        encode(b"hello", &mut buf);
        buf.truncate(6);
        let dec = FrameDecoder::new(16);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert_eq!(dec.finish(&buf), Err(FrameError::Truncated));
    }

    proptest! {
        #[test]
        fn round_trip(bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
            let mut buf = BytesMut::new();
            for b in &bodies { encode(b, &mut buf); }
            let dec = FrameDecoder::new(300);
            let mut got = Vec::new();
            while let Some(f) = dec.decode(&mut buf).unwrap() { got.push(f.to_vec()); }
            prop_assert_eq!(got, bodies);
            prop_assert!(dec.finish(&buf).is_ok());
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&bytes[..]);
            let dec = FrameDecoder::new(64);
            while let Ok(Some(f)) = dec.decode(&mut buf) { prop_assert!(f.len() <= 64); }
        }
    }
}
