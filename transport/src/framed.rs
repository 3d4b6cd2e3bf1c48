//! Length-prefixed frames over quinn streams, bounded by the protocol decoder.

use bytes::{Bytes, BytesMut};
use quinn::{RecvStream, SendStream};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tether_protocol::frame::{self, FrameDecoder};
use tether_protocol::wire;

use crate::TransportError;

const READ_CHUNK: usize = 64 * 1024;

/// Reads frames from a QUIC receive stream.
#[derive(Debug)]
pub struct FramedRecv {
    stream: RecvStream,
    buf: BytesMut,
    decoder: FrameDecoder,
    received: u64,
}

impl FramedRecv {
    /// Wraps `stream`, accepting frames of at most `limit` bytes.
    #[must_use]
    pub fn new(stream: RecvStream, limit: usize) -> Self {
        Self { stream, buf: BytesMut::new(), decoder: FrameDecoder::new(limit), received: 0 }
    }

    /// The next frame, or `None` when the peer finished the stream cleanly.
    pub async fn next(&mut self) -> Result<Option<Bytes>, TransportError> {
        loop {
            if let Some(f) = self.decoder.decode(&mut self.buf)? {
                return Ok(Some(f));
            }
            match self.stream.read_chunk(READ_CHUNK, true).await? {
                Some(chunk) => {
                    self.received += chunk.bytes.len() as u64;
                    self.buf.extend_from_slice(&chunk.bytes);
                }
                None => {
                    self.decoder.finish(&self.buf)?;
                    return Ok(None);
                }
            }
        }
    }

    /// The next frame decoded as a message; `None` at a clean end.
    pub async fn next_message<T: DeserializeOwned>(&mut self) -> Result<Option<T>, TransportError> {
        match self.next().await? {
            Some(f) => Ok(Some(wire::decode(&f)?)),
            None => Ok(None),
        }
    }

    /// Bytes read so far.
    #[must_use]
    pub const fn bytes_received(&self) -> u64 {
        self.received
    }

    /// The underlying stream.
    pub fn stream_mut(&mut self) -> &mut RecvStream {
        &mut self.stream
    }
}

/// Writes frames to a QUIC send stream.
#[derive(Debug)]
pub struct FramedSend {
    stream: SendStream,
    buf: BytesMut,
}

impl FramedSend {
    /// Wraps `stream`.
    #[must_use]
    pub fn new(stream: SendStream) -> Self {
        Self { stream, buf: BytesMut::new() }
    }

    /// Writes one frame.
    pub async fn send(&mut self, body: &[u8]) -> Result<(), TransportError> {
        self.buf.clear();
        frame::encode(body, &mut self.buf);
        self.stream.write_all(&self.buf).await?;
        Ok(())
    }

    /// Writes one message as a frame.
    pub async fn send_message<T: Serialize>(&mut self, msg: &T) -> Result<(), TransportError> {
        self.send(&wire::encode(msg)).await
    }

    /// Writes bytes that are already framed.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// The underlying stream.
    pub fn stream_mut(&mut self) -> &mut SendStream {
        &mut self.stream
    }
}
