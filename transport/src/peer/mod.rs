//! A peer session: QUIC between console and agent, the Noise handshake on the
//! first stream, then one sealed stream per channel.
//!
//! Protocol flow:
//! 1. The console dials the agent (QUIC, throwaway certificates).
//! 2. On the first bidirectional stream they run the Noise handshake, bound
//!    to this QUIC connection by its TLS exporter secret.
//! 3. The console opens one stream per channel, writing the channel id as
//!    the first byte; every later byte is a sealed frame.
//!
//! A failed handshake closes the connection with [`CLOSE_HANDSHAKE_FAILED`];
//! there is no unencrypted fallback.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tether_protocol::channel::{ChannelId, chat, clipboard, control, cursor, files, input, screen};
use tether_protocol::crypt::{Opener, Sealer, SessionKeys};
use tether_protocol::handshake::{HandshakeConfig, Initiator, MAX_HANDSHAKE_MESSAGE, Responder, StaticKey};
use tether_protocol::wire;

use crate::TransportError;
use tracing::warn;

use crate::framed::{FramedRecv, FramedSend};
use crate::tls::{ALPN_PEER, Expect, Identity, Verifier};

/// Application close code: the handshake failed.
pub const CLOSE_HANDSHAKE_FAILED: u32 = 0x10;
/// Application close code: a peer broke the protocol.
pub const CLOSE_PROTOCOL: u32 = 0x11;
/// Application close code: the session ended normally.
pub const CLOSE_ENDED: u32 = 0;

const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the agent waits for its console to connect and authenticate.
pub const ACCEPT_WINDOW: Duration = Duration::from_secs(30);
const BINDING_LABEL: &[u8] = b"EXPORTER-tether/1 channel binding";

/// The secrets a peer brings to a session.
#[derive(Debug)]
pub struct PeerSecrets<'a> {
    /// This run's Noise static key.
    pub static_key: &'a StaticKey,
    /// The pre-shared key from the PAKE or the queue.
    pub psk: [u8; 32],
}

/// A peer endpoint's server configuration (throwaway certificate).
pub fn peer_server_config() -> Result<quinn::ServerConfig, TransportError> {
    Identity::generate()?.server_config(ALPN_PEER)
}

fn binding(conn: &quinn::Connection) -> Result<[u8; 32], TransportError> {
    let mut out = [0u8; 32];
    conn.export_keying_material(&mut out, BINDING_LABEL, b"")
        .map_err(|_| TransportError::Tls("channel binding export failed".into()))?;
    Ok(out)
}

async fn timed<T>(
    what: &'static str,
    f: impl Future<Output = Result<T, TransportError>>,
) -> Result<T, TransportError> {
    tokio::time::timeout(SETUP_TIMEOUT, f).await.map_err(|_| TransportError::Timeout(what))?
}

async fn next_handshake(recv: &mut FramedRecv) -> Result<bytes::Bytes, TransportError> {
    recv.next().await?.ok_or(TransportError::Protocol("the peer ended the handshake early"))
}

/// The console's side: dial the agent at `addr` and set up the session.
pub async fn connect(
    endpoint: &quinn::Endpoint,
    addr: SocketAddr,
    secrets: &PeerSecrets<'_>,
) -> Result<(quinn::Connection, SessionKeys, ConsoleChannels), TransportError> {
    let config = Verifier::new(Expect::Any).client_config(ALPN_PEER)?;
    let conn = timed("connecting to the customer", async {
        Ok(endpoint.connect_with(config, addr, "tether")?.await?)
    })
    .await?;
    let result = timed("the secure handshake", async {
        let bind = binding(&conn)?;
        let hs = HandshakeConfig { static_key: secrets.static_key, psk: secrets.psk, channel_binding: &bind };
        let (send, recv) = conn.open_bi().await?;
        let (mut send, mut recv) = (FramedSend::new(send), FramedRecv::new(recv, MAX_HANDSHAKE_MESSAGE));
        let (state, m1) = Initiator::start(&hs)?;
        send.send(&m1).await?;
        let m2 = next_handshake(&mut recv).await?;
        let (keys, m3) = state.read_reply(&m2)?;
        send.send(&m3).await?;
        // The agent ends the handshake stream once message 3 checks out; a
        // wrong key closes the connection instead, and we say so here.
        if recv.next().await?.is_some() {
            return Err(TransportError::Protocol("unexpected data after the handshake"));
        }
        let mut raw = HashMap::new();
        for id in ChannelId::ALL {
            let (s, r) = conn.open_bi().await?;
            s.set_priority(id.priority()).map_err(|_| TransportError::Protocol("stream closed"))?;
            let mut s = FramedSend::new(s);
            s.send_raw(&[id as u8]).await?;
            raw.insert(id, (s, r));
        }
        let channels = ConsoleChannels::from_raw(&keys, raw)?;
        Ok((keys, channels))
    })
    .await;
    match result {
        Ok((keys, channels)) => Ok((conn, keys, channels)),
        Err(e) => {
            conn.close(CLOSE_HANDSHAKE_FAILED.into(), b"handshake failed");
            Err(e)
        }
    }
}

/// The agent's side: accept the console and set up the session.
///
/// Connections that fail the handshake (wrong key, garbage, truncated
/// frames) are closed and logged, and the agent keeps waiting for the real
/// console until [`ACCEPT_WINDOW`] runs out. Once a session is up, every
/// further connection attempt is refused.
pub async fn accept(
    endpoint: &quinn::Endpoint,
    secrets: &PeerSecrets<'_>,
) -> Result<(quinn::Connection, SessionKeys, AgentChannels), TransportError> {
    let deadline = tokio::time::Instant::now() + ACCEPT_WINDOW;
    let mut last_error = None;
    loop {
        let incoming = match tokio::time::timeout_at(deadline, endpoint.accept()).await {
            Err(_) => return Err(last_error.unwrap_or(TransportError::Timeout("waiting for the technician"))),
            Ok(None) => return Err(TransportError::Protocol("endpoint closed")),
            Ok(Some(incoming)) => incoming,
        };
        let remote = incoming.remote_address();
        match accept_one(incoming, secrets).await {
            Ok(session) => {
                // Until the session ends (and no longer, or the endpoint
                // and its socket would outlive it).
                let (endpoint, conn) = (endpoint.clone(), session.0.clone());
                tokio::spawn(async move {
                    loop {
                        let other = tokio::select! {
                            _ = conn.closed() => return,
                            other = endpoint.accept() => other,
                        };
                        let Some(other) = other else { return };
                        warn!(remote = %other.remote_address(), "refused a connection: a session is running");
                        other.refuse();
                    }
                });
                return Ok(session);
            }
            Err(e) => {
                warn!(%remote, "rejected a connection: {e}");
                last_error = Some(e);
            }
        }
    }
}

async fn accept_one(
    incoming: quinn::Incoming,
    secrets: &PeerSecrets<'_>,
) -> Result<(quinn::Connection, SessionKeys, AgentChannels), TransportError> {
    let conn = timed("connecting to the technician", async { Ok(incoming.await?) }).await?;
    let result = timed("the secure handshake", async {
        let bind = binding(&conn)?;
        let hs = HandshakeConfig { static_key: secrets.static_key, psk: secrets.psk, channel_binding: &bind };
        let (send, recv) = conn.accept_bi().await?;
        let (mut send, mut recv) = (FramedSend::new(send), FramedRecv::new(recv, MAX_HANDSHAKE_MESSAGE));
        let m1 = next_handshake(&mut recv).await?;
        let (state, m2) = Responder::read_hello(&hs, &m1)?;
        send.send(&m2).await?;
        let m3 = next_handshake(&mut recv).await?;
        let keys = state.read_finish(&m3)?;
        let _ = send.stream_mut().finish();
        let mut raw = HashMap::new();
        while raw.len() < ChannelId::ALL.len() {
            let (s, mut r) = conn.accept_bi().await?;
            let mut id = [0u8; 1];
            r.read_exact(&mut id)
                .await
                .map_err(|_| TransportError::Protocol("channel stream ended early"))?;
            let id = ChannelId::from_u8(id[0]).ok_or(TransportError::UnknownChannel)?;
            s.set_priority(id.priority()).map_err(|_| TransportError::Protocol("stream closed"))?;
            if raw.insert(id, (FramedSend::new(s), r)).is_some() {
                return Err(TransportError::Protocol("a channel was opened twice"));
            }
        }
        let channels = AgentChannels::from_raw(&keys, raw)?;
        Ok((keys, channels))
    })
    .await;
    match result {
        Ok((keys, channels)) => Ok((conn, keys, channels)),
        Err(e) => {
            conn.close(CLOSE_HANDSHAKE_FAILED.into(), b"handshake failed");
            Err(e)
        }
    }
}

/// Sends sealed messages of type `M` on one channel.
#[derive(Debug)]
pub struct ChannelSend<M> {
    framed: FramedSend,
    sealer: Sealer,
    buf: BytesMut,
    _msg: PhantomData<fn(M)>,
}

impl<M> ChannelSend<M> {
    /// Seals messages with `sealer` onto `stream`.
    pub(crate) fn sealed(stream: quinn::SendStream, sealer: Sealer) -> Self {
        Self { framed: FramedSend::new(stream), sealer, buf: BytesMut::new(), _msg: PhantomData }
    }
}

impl<M: Serialize> ChannelSend<M> {
    /// Seals and sends one message.
    pub async fn send(&mut self, msg: &M) -> Result<(), TransportError> {
        self.buf.clear();
        self.sealer.seal(&wire::encode(msg), &mut self.buf)?;
        self.framed.send_raw(&self.buf).await
    }

    /// Finishes the stream.
    pub fn finish(&mut self) {
        let _ = self.framed.stream_mut().finish();
    }

    /// Finishes the stream and waits (at most two seconds) until the peer
    /// has received everything, so closing the connection next loses nothing.
    pub async fn finish_and_flush(&mut self) {
        let stream = self.framed.stream_mut();
        if stream.finish().is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.stopped()).await;
        }
    }
}

/// Receives sealed messages of type `M` on one channel.
#[derive(Debug)]
pub struct ChannelRecv<M> {
    framed: FramedRecv,
    opener: Opener,
    _msg: PhantomData<fn() -> M>,
}

impl<M> ChannelRecv<M> {
    /// Opens messages from `stream` with `opener`.
    pub(crate) fn opened(stream: quinn::RecvStream, opener: Opener) -> Self {
        Self { framed: FramedRecv::new(stream, Opener::frame_decoder().limit()), opener, _msg: PhantomData }
    }
}

impl<M: DeserializeOwned> ChannelRecv<M> {
    /// The next message, or `None` when the peer finished the channel.
    pub async fn recv(&mut self) -> Result<Option<M>, TransportError> {
        while let Some(frame) = self.framed.next().await? {
            if let Some(plain) = self.opener.open(&frame)? {
                return Ok(Some(wire::decode(&plain)?));
            }
        }
        Ok(None)
    }
}

type RawChannels = HashMap<ChannelId, (FramedSend, quinn::RecvStream)>;

fn take<Out, In>(
    keys: &SessionKeys,
    raw: &mut RawChannels,
    id: ChannelId,
) -> Result<(ChannelSend<Out>, ChannelRecv<In>), TransportError> {
    let (framed, recv) = raw.remove(&id).ok_or(TransportError::Protocol("a channel is missing"))?;
    let send = ChannelSend { framed, sealer: keys.sealer(id.tag()), buf: BytesMut::new(), _msg: PhantomData };
    Ok((send, ChannelRecv::opened(recv, keys.opener(id.tag(), id.max_message()))))
}

macro_rules! side {
    ($name:ident, $doc:literal, $out:ident, $in:ident) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name {
            /// Roles, consent and session events.
            pub control: (ChannelSend<control::$out>, ChannelRecv<control::$in>),
            /// Frames and acknowledgements.
            pub screen: (ChannelSend<screen::$out>, ChannelRecv<screen::$in>),
            /// Pointer and keyboard.
            pub input: (ChannelSend<input::$out>, ChannelRecv<input::$in>),
            /// Chat.
            pub chat: (ChannelSend<chat::$out>, ChannelRecv<chat::$in>),
            /// Pointer position and shape.
            pub cursor: (ChannelSend<cursor::$out>, ChannelRecv<cursor::$in>),
            /// File offers, requests and answers.
            pub files: (ChannelSend<files::$out>, ChannelRecv<files::$in>),
            /// Copied text and images.
            pub clipboard: (ChannelSend<clipboard::$out>, ChannelRecv<clipboard::$in>),
        }

        impl $name {
            fn from_raw(keys: &SessionKeys, mut raw: RawChannels) -> Result<Self, TransportError> {
                Ok(Self {
                    control: take(keys, &mut raw, ChannelId::Control)?,
                    screen: take(keys, &mut raw, ChannelId::Screen)?,
                    input: take(keys, &mut raw, ChannelId::Input)?,
                    chat: take(keys, &mut raw, ChannelId::Chat)?,
                    cursor: take(keys, &mut raw, ChannelId::Cursor)?,
                    files: take(keys, &mut raw, ChannelId::Files)?,
                    clipboard: take(keys, &mut raw, ChannelId::Clipboard)?,
                })
            }
        }
    };
}

side!(ConsoleChannels, "The console's typed channels.", ConsoleToAgent, AgentToConsole);
side!(AgentChannels, "The agent's typed channels.", AgentToConsole, ConsoleToAgent);

#[cfg(test)]
mod tests;
