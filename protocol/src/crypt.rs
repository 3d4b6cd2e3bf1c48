//! Per-channel encryption after the handshake, with partitioned nonces.
//!
//! Every channel stream seals its messages with the session's split keys and
//! an explicit nonce: the high 16 bits name the stream ([`StreamTag`]), the low
//! 48 bits count messages on it. The two directions use the two split keys, so
//! no (key, nonce) pair ever repeats. QUIC streams are ordered and reliable, so
//! the receiver knows the next counter and any replay or reordering fails.
//!
//! A message longer than one Noise payload is split into fragments; each
//! fragment starts with a flag byte saying whether more follow.

use std::sync::Arc;

use bytes::BytesMut;
use snow::StatelessTransportState;

use crate::frame;
use crate::sas::Sas;

/// Largest Noise message (ciphertext) on the wire.
pub const MAX_NOISE_MESSAGE: usize = 65_535;
const TAG_LEN: usize = 16;
const MAX_FRAGMENT: usize = MAX_NOISE_MESSAGE - TAG_LEN - 1;
const COUNTER_BITS: u32 = 48;
const COUNTER_MAX: u64 = (1 << COUNTER_BITS) - 1;
const FLAG_MORE: u8 = 1;
const FLAG_LAST: u8 = 0;

/// Names one stream for nonce partitioning: a channel id and a sub-index
/// (the transfer number for file streams, 0 otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamTag(pub u16);

impl StreamTag {
    /// The tag for `channel` and sub-index `index`.
    #[must_use]
    pub const fn new(channel: u8, index: u8) -> Self {
        Self(((channel as u16) << 8) | index as u16)
    }
}

/// Why a channel message could not be sealed or opened. Coarse on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptError {
    /// A frame did not authenticate, or arrived out of order.
    #[error("a message failed to decrypt")]
    Decrypt,
    /// 2^48 messages on one stream; the session must end.
    #[error("the stream used up its nonces")]
    NonceExhausted,
    /// The reassembled message would exceed this channel's limit.
    #[error("message exceeds {0} bytes")]
    TooLong(usize),
    /// A fragment had no valid flag byte.
    #[error("malformed fragment")]
    BadFragment,
}

/// The keys a finished handshake produced.
pub struct SessionKeys {
    transport: Arc<StatelessTransportState>,
    hash: [u8; 32],
    remote_static: Vec<u8>,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys").field("sas", &self.sas()).finish_non_exhaustive()
    }
}

impl SessionKeys {
    pub(crate) fn new(
        transport: Arc<StatelessTransportState>,
        hash: [u8; 32],
        remote_static: Vec<u8>,
    ) -> Self {
        Self { transport, hash, remote_static }
    }

    /// The Noise handshake hash.
    #[must_use]
    pub const fn handshake_hash(&self) -> &[u8; 32] {
        &self.hash
    }

    /// The peer's static public key.
    #[must_use]
    pub fn remote_static(&self) -> &[u8] {
        &self.remote_static
    }

    /// The four words both people compare aloud.
    #[must_use]
    pub fn sas(&self) -> Sas {
        Sas::from_hash(&self.hash)
    }

    /// A sealer for our direction of stream `tag`.
    #[must_use]
    pub fn sealer(&self, tag: StreamTag) -> Sealer {
        Sealer {
            transport: Arc::clone(&self.transport),
            tag,
            counter: 0,
            scratch: vec![0; MAX_NOISE_MESSAGE],
        }
    }

    /// An opener for the peer's direction of stream `tag`, accepting
    /// messages of at most `max_message` bytes after reassembly.
    #[must_use]
    pub fn opener(&self, tag: StreamTag, max_message: usize) -> Opener {
        Opener {
            transport: Arc::clone(&self.transport),
            tag,
            counter: 0,
            max_message,
            partial: Vec::new(),
            scratch: vec![0; MAX_NOISE_MESSAGE],
        }
    }
}

fn nonce(tag: StreamTag, counter: &mut u64) -> Result<u64, CryptError> {
    if *counter > COUNTER_MAX {
        return Err(CryptError::NonceExhausted);
    }
    let n = (u64::from(tag.0) << COUNTER_BITS) | *counter;
    *counter += 1;
    Ok(n)
}

/// Seals messages for one stream.
pub struct Sealer {
    transport: Arc<StatelessTransportState>,
    tag: StreamTag,
    counter: u64,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("tag", &self.tag).field("counter", &self.counter).finish()
    }
}

impl Sealer {
    /// Seals `message` as one or more length-prefixed frames appended to `out`.
    pub fn seal(&mut self, message: &[u8], out: &mut BytesMut) -> Result<(), CryptError> {
        let mut chunks = message.chunks(MAX_FRAGMENT).peekable();
        let mut plain = Vec::with_capacity(MAX_FRAGMENT.min(message.len()) + 1);
        loop {
            let chunk = chunks.next().unwrap_or(&[]);
            plain.clear();
            plain.push(if chunks.peek().is_some() { FLAG_MORE } else { FLAG_LAST });
            plain.extend_from_slice(chunk);
            let n = nonce(self.tag, &mut self.counter)?;
            let len = self
                .transport
                .write_message(n, &plain, &mut self.scratch)
                .map_err(|_| CryptError::Decrypt)?;
            frame::encode(&self.scratch[..len], out);
            if chunks.peek().is_none() {
                return Ok(());
            }
        }
    }
}

/// Opens messages from one stream.
pub struct Opener {
    transport: Arc<StatelessTransportState>,
    tag: StreamTag,
    counter: u64,
    max_message: usize,
    partial: Vec<u8>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener").field("tag", &self.tag).field("counter", &self.counter).finish()
    }
}

impl Opener {
    /// The frame decoder to use for this stream's length-prefixed frames.
    #[must_use]
    pub const fn frame_decoder() -> frame::FrameDecoder {
        frame::FrameDecoder::new(MAX_NOISE_MESSAGE)
    }

    /// Opens one frame body. Returns a message when its last fragment arrives.
    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Option<Vec<u8>>, CryptError> {
        let n = nonce(self.tag, &mut self.counter)?;
        let len =
            self.transport.read_message(n, ciphertext, &mut self.scratch).map_err(|_| CryptError::Decrypt)?;
        let (flag, body) = self.scratch[..len].split_first().ok_or(CryptError::BadFragment)?;
        if self.partial.len() + body.len() > self.max_message {
            return Err(CryptError::TooLong(self.max_message));
        }
        self.partial.extend_from_slice(body);
        match *flag {
            FLAG_LAST => Ok(Some(std::mem::take(&mut self.partial))),
            FLAG_MORE => Ok(None),
            _ => Err(CryptError::BadFragment),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{HandshakeConfig, Initiator, Responder, StaticKey};
    use proptest::prelude::*;

    fn pair() -> (SessionKeys, SessionKeys) {
        let (ka, kb) = (StaticKey::generate().unwrap(), StaticKey::generate().unwrap());
        let ca = HandshakeConfig { static_key: &ka, psk: [3; 32], channel_binding: b"b" };
        let cb = HandshakeConfig { static_key: &kb, psk: [3; 32], channel_binding: b"b" };
        let (i, m1) = Initiator::start(&ca).unwrap();
        let (r, m2) = Responder::read_hello(&cb, &m1).unwrap();
        let (c, m3) = i.read_reply(&m2).unwrap();
        (c, r.read_finish(&m3).unwrap())
    }

    fn deliver(opener: &mut Opener, wire: &mut BytesMut) -> Result<Vec<Vec<u8>>, CryptError> {
        let dec = Opener::frame_decoder();
        let mut out = Vec::new();
        while let Some(f) = dec.decode(wire).map_err(|_| CryptError::BadFragment)? {
            if let Some(m) = opener.open(&f)? {
                out.push(m);
            }
        }
        Ok(out)
    }

    #[test]
    fn large_message_fragments_and_reassembles() {
        let (c, a) = pair();
        let tag = StreamTag::new(2, 0);
        let msg: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let mut wire = BytesMut::new();
        c.sealer(tag).seal(&msg, &mut wire).unwrap();
        assert_eq!(deliver(&mut a.opener(tag, 1 << 20), &mut wire).unwrap(), vec![msg]);
    }

    #[test]
    fn wrong_stream_or_limit_is_rejected() {
        let (c, a) = pair();
        let mut wire = BytesMut::new();
        c.sealer(StreamTag::new(1, 0)).seal(b"hi", &mut wire).unwrap();
        let mut other = a.opener(StreamTag::new(2, 0), 100);
        assert_eq!(deliver(&mut other, &mut wire.clone()), Err(CryptError::Decrypt));
        let mut small = a.opener(StreamTag::new(1, 0), 1);
        assert_eq!(deliver(&mut small, &mut wire), Err(CryptError::TooLong(1)));
    }

    #[test]
    fn replayed_frame_is_rejected() {
        let (c, a) = pair();
        let tag = StreamTag::new(1, 0);
        let mut wire = BytesMut::new();
        c.sealer(tag).seal(b"once", &mut wire).unwrap();
        let mut replay = wire.clone();
        replay.extend_from_slice(&wire);
        assert_eq!(deliver(&mut a.opener(tag, 100), &mut replay), Err(CryptError::Decrypt));
    }

    proptest! {
        #[test]
        fn random_ciphertext_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..70_000)) {
            let (_, a) = pair();
            let _ = a.opener(StreamTag::new(1, 0), 1 << 16).open(&bytes);
        }
    }
}
