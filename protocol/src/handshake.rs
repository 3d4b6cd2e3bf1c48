//! The Noise `XXpsk3_25519_ChaChaPoly_BLAKE2s` handshake, as a typestate.
//!
//! Protocol flow (on the first QUIC stream; the console initiates):
//! 1. console → agent: `e`                      ([`Initiator::start`])
//! 2. agent → console: `e, ee, s, es`           ([`Responder::read_hello`])
//! 3. console → agent: `s, se, psk`             ([`InitiatorAwaitingReply::read_reply`])
//! 4. agent checks message 3                    ([`ResponderAwaitingFinish::read_finish`])
//!
//! The PSK comes from the PAKE (or the queue key). The prologue is
//! `"tether/1"` followed by the QUIC TLS exporter secret, so a man in the
//! middle at the QUIC layer makes the handshake fail. Each step consumes the
//! previous state, so a half-finished handshake cannot be used by mistake.
//! Errors are deliberately coarse: details of a crypto failure never go to
//! the peer or into logs.

use std::sync::Arc;

use snow::params::NoiseParams;

use crate::crypt::SessionKeys;

/// Noise protocol name.
pub const NOISE_PATTERN: &str = "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s";
/// Protocol version, first part of the prologue.
pub const PROLOGUE_VERSION: &[u8] = b"tether/1";
/// Largest handshake message.
pub const MAX_HANDSHAKE_MESSAGE: usize = 1024;

/// Why a handshake failed. Deliberately says nothing about which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The peer's message did not authenticate or decode.
    #[error("the secure handshake failed")]
    Failed,
    /// A local key or parameter was unusable.
    #[error("the secure handshake could not start")]
    Setup,
}

fn params() -> NoiseParams {
    // The constant is a valid pattern name; parsing cannot fail.
    NOISE_PATTERN.parse().unwrap_or_else(|_| unreachable!("valid noise pattern"))
}

/// A long-term (per-run) Noise static key pair.
#[derive(Clone)]
pub struct StaticKey {
    private: Vec<u8>,
    public: Vec<u8>,
}

impl std::fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticKey").field("public", &self.public).finish_non_exhaustive()
    }
}

impl StaticKey {
    /// A fresh random key pair.
    pub fn generate() -> Result<Self, HandshakeError> {
        let kp = snow::Builder::new(params()).generate_keypair().map_err(|_| HandshakeError::Setup)?;
        Ok(Self { private: kp.private, public: kp.public })
    }

    /// The public half.
    #[must_use]
    pub fn public(&self) -> &[u8] {
        &self.public
    }
}

/// What both sides feed into the handshake.
#[derive(Debug)]
pub struct HandshakeConfig<'a> {
    /// Our static key.
    pub static_key: &'a StaticKey,
    /// Pre-shared key from the PAKE or the queue.
    pub psk: [u8; 32],
    /// The QUIC TLS exporter secret of the connection this runs on.
    pub channel_binding: &'a [u8],
}

impl HandshakeConfig<'_> {
    fn build(&self, initiator: bool) -> Result<snow::HandshakeState, HandshakeError> {
        let mut prologue = PROLOGUE_VERSION.to_vec();
        prologue.extend_from_slice(self.channel_binding);
        let builder = snow::Builder::new(params())
            .local_private_key(&self.static_key.private)
            .and_then(|b| b.psk(3, &self.psk))
            .and_then(|b| b.prologue(&prologue))
            .map_err(|_| HandshakeError::Setup)?;
        if initiator { builder.build_initiator() } else { builder.build_responder() }
            .map_err(|_| HandshakeError::Setup)
    }
}

fn write(state: &mut snow::HandshakeState) -> Result<Vec<u8>, HandshakeError> {
    let mut buf = vec![0u8; MAX_HANDSHAKE_MESSAGE];
    let n = state.write_message(&[], &mut buf).map_err(|_| HandshakeError::Failed)?;
    buf.truncate(n);
    Ok(buf)
}

fn read(state: &mut snow::HandshakeState, msg: &[u8]) -> Result<(), HandshakeError> {
    if msg.len() > MAX_HANDSHAKE_MESSAGE {
        return Err(HandshakeError::Failed);
    }
    let mut payload = vec![0u8; MAX_HANDSHAKE_MESSAGE];
    state.read_message(msg, &mut payload).map(|_| ()).map_err(|_| HandshakeError::Failed)
}

fn establish(state: snow::HandshakeState) -> Result<SessionKeys, HandshakeError> {
    let mut hash = [0u8; 32];
    hash.copy_from_slice(state.get_handshake_hash());
    let remote_static = state.get_remote_static().map(<[u8]>::to_vec).ok_or(HandshakeError::Failed)?;
    let transport = state.into_stateless_transport_mode().map_err(|_| HandshakeError::Failed)?;
    Ok(SessionKeys::new(Arc::new(transport), hash, remote_static))
}

/// The console's side before it has sent anything.
#[derive(Debug)]
pub struct Initiator;

impl Initiator {
    /// Builds message 1.
    pub fn start(config: &HandshakeConfig<'_>) -> Result<(InitiatorAwaitingReply, Vec<u8>), HandshakeError> {
        let mut state = config.build(true)?;
        let msg = write(&mut state)?;
        Ok((InitiatorAwaitingReply { state }, msg))
    }
}

/// The console after message 1, waiting for message 2.
#[derive(Debug)]
pub struct InitiatorAwaitingReply {
    state: snow::HandshakeState,
}

impl InitiatorAwaitingReply {
    /// Reads message 2 and builds message 3; the session is then established.
    pub fn read_reply(mut self, msg2: &[u8]) -> Result<(SessionKeys, Vec<u8>), HandshakeError> {
        read(&mut self.state, msg2)?;
        let msg3 = write(&mut self.state)?;
        Ok((establish(self.state)?, msg3))
    }
}

/// The agent's side before message 1.
#[derive(Debug)]
pub struct Responder;

impl Responder {
    /// Reads message 1 and builds message 2.
    pub fn read_hello(
        config: &HandshakeConfig<'_>,
        msg1: &[u8],
    ) -> Result<(ResponderAwaitingFinish, Vec<u8>), HandshakeError> {
        let mut state = config.build(false)?;
        read(&mut state, msg1)?;
        let msg2 = write(&mut state)?;
        Ok((ResponderAwaitingFinish { state }, msg2))
    }
}

/// The agent after message 2, waiting for message 3.
#[derive(Debug)]
pub struct ResponderAwaitingFinish {
    state: snow::HandshakeState,
}

impl ResponderAwaitingFinish {
    /// Reads message 3; a wrong PSK or binding fails here.
    pub fn read_finish(mut self, msg3: &[u8]) -> Result<SessionKeys, HandshakeError> {
        read(&mut self.state, msg3)?;
        establish(self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn handshake(
        psk_a: [u8; 32],
        bind_a: &[u8],
        psk_b: [u8; 32],
        bind_b: &[u8],
    ) -> Result<(SessionKeys, SessionKeys), HandshakeError> {
        let (ka, kb) = (StaticKey::generate()?, StaticKey::generate()?);
        let ca = HandshakeConfig { static_key: &ka, psk: psk_a, channel_binding: bind_a };
        let cb = HandshakeConfig { static_key: &kb, psk: psk_b, channel_binding: bind_b };
        let (init, m1) = Initiator::start(&ca)?;
        let (resp, m2) = Responder::read_hello(&cb, &m1)?;
        let (console, m3) = init.read_reply(&m2)?;
        let agent = resp.read_finish(&m3)?;
        assert_eq!(console.remote_static(), kb.public());
        assert_eq!(agent.remote_static(), ka.public());
        Ok((console, agent))
    }

    #[test]
    fn matching_inputs_agree_on_hash() {
        let (c, a) = handshake([7; 32], b"bind", [7; 32], b"bind").unwrap();
        assert_eq!(c.handshake_hash(), a.handshake_hash());
        assert_eq!(c.sas(), a.sas());
    }

    #[test]
    fn wrong_psk_fails() {
        assert_eq!(handshake([7; 32], b"bind", [8; 32], b"bind").err(), Some(HandshakeError::Failed));
    }

    #[test]
    fn different_channel_binding_fails() {
        assert!(handshake([7; 32], b"quic-a", [7; 32], b"quic-b").is_err());
    }

    proptest! {
        #[test]
        fn random_hello_never_panics(msg in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let k = StaticKey::generate().unwrap();
            let c = HandshakeConfig { static_key: &k, psk: [1; 32], channel_binding: b"x" };
            let _ = Responder::read_hello(&c, &msg);
        }

        #[test]
        fn random_reply_never_panics(msg in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let k = StaticKey::generate().unwrap();
            let c = HandshakeConfig { static_key: &k, psk: [1; 32], channel_binding: b"x" };
            let (init, _) = Initiator::start(&c).unwrap();
            let _ = init.read_reply(&msg);
        }
    }
}
