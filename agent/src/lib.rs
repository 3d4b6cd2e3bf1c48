//! The customer's agent: joins a code, proves it holds the secret, shows the
//! screen once the customer agrees, and takes input only while allowed.
//! Consent is enforced here, never only in the console.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod browse;
pub mod clipboard;
pub mod consent;
pub mod cursor;
pub mod expert;
pub mod files;
pub mod gui;
pub mod input;
pub mod screen;
pub mod session;
mod stream;

pub use stream::{REFINE_AFTER, REFINE_BATCH};
pub mod x11;

use tether_protocol::codec::CodecError;
use tether_protocol::handshake::HandshakeError;
use tether_protocol::signal::SignalError;
use tether_transport::TransportError;
use tether_transport::pairing::PairingError;

/// Why the agent stopped with an error. Messages are for the customer.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server refused the code.
    #[error("{0}")]
    Refused(SignalError),
    /// Pairing with the technician failed (a wrong code among others).
    #[error(transparent)]
    Pairing(#[from] PairingError),
    /// The network failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The screen could not be captured.
    #[error(transparent)]
    Capture(#[from] screen::CaptureError),
    /// The screen could not be encoded.
    #[error("screen encoding failed: {0}")]
    Codec(#[from] CodecError),
    /// The secure session could not start.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// Something inside the agent failed.
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// A help request was refused or timed out; why, for the customer.
    #[error("{0}")]
    Help(String),
}

impl AgentError {
    /// Whether this is the customer's wrong code.
    #[must_use]
    pub const fn is_wrong_code(&self) -> bool {
        matches!(self, Self::Pairing(PairingError::WrongCode))
    }
}
