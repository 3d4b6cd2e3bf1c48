//! The transport's error type.

use tether_protocol::crypt::CryptError;
use tether_protocol::frame::FrameError;
use tether_protocol::handshake::HandshakeError;
use tether_protocol::signal::SignalError;
use tether_protocol::wire::WireError;

/// Why a transport operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A local socket or file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The QUIC connection could not be started.
    #[error("could not connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The QUIC connection failed or was closed.
    #[error("connection lost: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// The server's TLS key is not the one we pinned: possibly an attack.
    #[error(
        "SECURITY WARNING: the server's key changed (expected {expected}, got {got}). Do not continue unless your administrator replaced the server key."
    )]
    ServerKeyChanged {
        /// Pinned fingerprint.
        expected: String,
        /// Fingerprint offered.
        got: String,
    },
    /// The secure handshake with the peer failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// A channel message failed to decrypt.
    #[error(transparent)]
    Crypt(#[from] CryptError),
    /// A frame was malformed or too long.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A message body was malformed.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The server refused a request.
    #[error(transparent)]
    Refused(#[from] SignalError),
    /// The peer opened a stream we do not know.
    #[error("the peer opened an unknown channel")]
    UnknownChannel,
    /// The peer or server sent something that makes no sense now.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// The other side did not answer in time.
    #[error("timed out while {0}")]
    Timeout(&'static str),
    /// ICE could not gather candidates or find a path.
    #[error("no connection to the other side: {0}")]
    Ice(String),
    /// TLS setup failed locally.
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

impl TransportError {
    pub(crate) fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Io { context, source }
    }
}

impl From<quinn::WriteError> for TransportError {
    fn from(e: quinn::WriteError) -> Self {
        match e {
            quinn::WriteError::ConnectionLost(c) => Self::Connection(c),
            other => Self::Io { context: "writing to a stream", source: other.into() },
        }
    }
}

impl From<quinn::ReadError> for TransportError {
    fn from(e: quinn::ReadError) -> Self {
        match e {
            quinn::ReadError::ConnectionLost(c) => Self::Connection(c),
            other => Self::Io { context: "reading from a stream", source: other.into() },
        }
    }
}
