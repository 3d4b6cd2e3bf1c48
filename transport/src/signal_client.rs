//! The client side of the rendezvous connection, with the server key pinned.

use std::net::SocketAddr;
use std::time::Duration;

use tether_protocol::signal::{ClientToServer, MAX_SIGNAL_MESSAGE, ServerToClient};

use crate::TransportError;
use crate::framed::{FramedRecv, FramedSend};
use crate::pin::KnownServers;
use crate::tls::{ALPN_RENDEZVOUS, Expect, Fingerprint, Verifier};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// How the client decides to trust the server's key.
#[derive(Debug, Clone)]
pub struct ServerTrust {
    /// A fingerprint given on the command line; wins over everything.
    pub pinned: Option<Fingerprint>,
    /// Remembered keys, used and extended when nothing is pinned.
    pub known: KnownServers,
}

/// Sends requests to the server.
#[derive(Debug)]
pub struct SignalSender(FramedSend);

impl SignalSender {
    /// Sends one request.
    pub async fn send(&mut self, msg: &ClientToServer) -> Result<(), TransportError> {
        self.0.send_message(msg).await
    }

    /// Writes `bytes` as they are, bypassing framing. Only hostile-input
    /// tests want this: they prove the server survives broken clients.
    pub async fn send_unframed(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.0.send_raw(bytes).await
    }

    /// Ends the stream and waits (briefly) until the server has everything
    /// we sent, so closing the connection next loses nothing.
    pub async fn finish(&mut self) {
        let stream = self.0.stream_mut();
        if stream.finish().is_ok() {
            let _ = tokio::time::timeout(FLUSH_TIMEOUT, stream.stopped()).await;
        }
    }
}

/// Receives the server's messages.
#[derive(Debug)]
pub struct SignalReceiver(FramedRecv);

impl SignalReceiver {
    /// The next message; an error if the server went away.
    pub async fn recv(&mut self) -> Result<ServerToClient, TransportError> {
        self.0.next_message().await?.ok_or(TransportError::Protocol("the server closed the connection"))
    }
}

/// A connection to the rendezvous server.
#[derive(Debug)]
pub struct SignalClient {
    /// The QUIC connection, kept for its address and to close it.
    pub connection: quinn::Connection,
    endpoint: quinn::Endpoint,
    /// Requests.
    pub sender: SignalSender,
    /// Answers and relayed messages.
    pub receiver: SignalReceiver,
}

impl SignalClient {
    /// Connects to `server` (`HOST:PORT`) and opens the signalling stream.
    pub async fn connect(server: &str, trust: &ServerTrust) -> Result<Self, TransportError> {
        let addr = resolve(server).await?;
        let expect = match trust.pinned {
            Some(fp) => Some(fp),
            None => trust.known.get(server)?,
        };
        let verifier = Verifier::new(expect.map_or(Expect::Any, Expect::Pinned));
        let local: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let mut endpoint =
            quinn::Endpoint::client(local).map_err(TransportError::io("starting a QUIC client"))?;
        endpoint.set_default_client_config(verifier.client_config(ALPN_RENDEZVOUS)?);
        let connecting = endpoint.connect(addr, "tether")?;
        let connection = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Err(_) => return Err(TransportError::Timeout("reaching the server")),
            Ok(Err(e)) => {
                return Err(match (expect, verifier.seen()) {
                    (Some(want), Some(got)) if want != got => {
                        TransportError::ServerKeyChanged { expected: want.to_string(), got: got.to_string() }
                    }
                    _ => e.into(),
                });
            }
            Ok(Ok(c)) => c,
        };
        if expect.is_none()
            && let Some(seen) = verifier.seen()
        {
            trust.known.remember(server, seen)?;
        }
        let (send, recv) = connection.open_bi().await?;
        Ok(Self {
            connection,
            endpoint,
            sender: SignalSender(FramedSend::new(send)),
            receiver: SignalReceiver(FramedRecv::new(recv, MAX_SIGNAL_MESSAGE)),
        })
    }

    /// Sends one request.
    pub async fn send(&mut self, msg: &ClientToServer) -> Result<(), TransportError> {
        self.sender.send(msg).await
    }

    /// The next message from the server.
    pub async fn recv(&mut self) -> Result<ServerToClient, TransportError> {
        self.receiver.recv().await
    }

    /// The server's address.
    #[must_use]
    pub fn server_addr(&self) -> SocketAddr {
        self.connection.remote_address()
    }

    /// Splits into a sender, a receiver and a handle that keeps the
    /// connection open.
    #[must_use]
    pub fn split(self) -> (SignalSender, SignalReceiver, SignalHandle) {
        (self.sender, self.receiver, SignalHandle { connection: self.connection, endpoint: self.endpoint })
    }

    /// Delivers what was sent, then closes the connection politely.
    pub async fn close(mut self) {
        self.sender.finish().await;
        self.connection.close(0u32.into(), b"bye");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }
}

/// Resolves `HOST:PORT`, with a clear error for bad input.
pub async fn resolve(server: &str) -> Result<SocketAddr, TransportError> {
    let mut addrs = tokio::net::lookup_host(server)
        .await
        .map_err(|e| TransportError::Io { context: "looking up the server (use HOST:PORT)", source: e })?;
    addrs.next().ok_or(TransportError::Protocol("the server name has no address"))
}

/// Keeps a split signalling connection open; closes it on [`SignalHandle::close`].
#[derive(Debug)]
pub struct SignalHandle {
    /// The QUIC connection.
    pub connection: quinn::Connection,
    endpoint: quinn::Endpoint,
}

impl SignalHandle {
    /// Delivers what `sender` sent, then closes the connection politely.
    pub async fn close(self, mut sender: SignalSender) {
        sender.finish().await;
        self.connection.close(0u32.into(), b"bye");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.endpoint.wait_idle()).await;
    }
}
