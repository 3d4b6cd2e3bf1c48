//! SPAKE2 over the pairing code's secret digits, turned into a Noise PSK.
//!
//! Protocol flow (relayed by the rendezvous server, which learns nothing):
//! 1. Both peers call [`Pake::start`] and send the returned message.
//! 2. Each calls [`Pake::finish`] with the other's message and gets [`PakeKeys`].
//! 3. Each sends [`PakeKeys::confirm_tag`] for its own role and checks the
//!    peer's tag with [`PakeKeys::verify_peer`]. A mismatch means the customer
//!    typed the wrong secret digits, and the nameplate is burned.
//! 4. [`PakeKeys::psk`] becomes the Noise `XXpsk3` pre-shared key.

use hkdf::Hkdf;
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};

use crate::code::PairingCode;

/// Length of a SPAKE2 message on the wire.
pub const PAKE_MESSAGE_LEN: usize = 33;
/// Length of a key-confirmation tag.
pub const CONFIRM_LEN: usize = 32;

/// Which side of the pairing we are; each side confirms under its own label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The technician's console.
    Console,
    /// The customer's agent.
    Agent,
}

impl Role {
    const fn label(self) -> &'static [u8] {
        match self {
            Self::Console => b"tether/1 confirm console",
            Self::Agent => b"tether/1 confirm agent",
        }
    }

    const fn peer(self) -> Self {
        match self {
            Self::Console => Self::Agent,
            Self::Agent => Self::Console,
        }
    }
}

/// Why the PAKE did not produce a shared key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PakeError {
    /// The peer's message was not a valid SPAKE2 message.
    #[error("the peer's pairing message is malformed")]
    BadMessage,
    /// The peer's confirmation did not match: the secret digits differ.
    #[error("the pairing code does not match")]
    WrongCode,
}

/// A PAKE in progress.
pub struct Pake {
    state: Spake2<Ed25519Group>,
    role: Role,
}

impl std::fmt::Debug for Pake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pake").field("role", &self.role).finish()
    }
}

impl Pake {
    /// Starts the exchange; returns the state and the message to send.
    #[must_use]
    pub fn start(code: &PairingCode, role: Role) -> (Self, Vec<u8>) {
        let identity = format!("tether/1 pairing {}", code.nameplate());
        let (state, msg) = Spake2::<Ed25519Group>::start_symmetric(
            &Password::new(code.secret().as_bytes()),
            &Identity::new(identity.as_bytes()),
        );
        (Self { state, role }, msg)
    }

    /// Finishes with the peer's message.
    pub fn finish(self, peer_msg: &[u8]) -> Result<PakeKeys, PakeError> {
        if peer_msg.len() != PAKE_MESSAGE_LEN {
            return Err(PakeError::BadMessage);
        }
        let key = self.state.finish(peer_msg).map_err(|_| PakeError::BadMessage)?;
        Ok(PakeKeys { hkdf: Hkdf::<Sha256>::new(Some(b"tether/1 pake"), &key), role: self.role })
    }
}

/// Keys derived from a finished PAKE.
pub struct PakeKeys {
    hkdf: Hkdf<Sha256>,
    role: Role,
}

impl std::fmt::Debug for PakeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PakeKeys(..)")
    }
}

impl PakeKeys {
    fn expand(&self, info: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
        let _ = self.hkdf.expand(info, &mut out);
        out
    }

    /// Our confirmation tag, to send to the peer.
    #[must_use]
    pub fn confirm_tag(&self) -> [u8; CONFIRM_LEN] {
        self.expand(self.role.label())
    }

    /// Checks the peer's confirmation tag.
    pub fn verify_peer(&self, tag: &[u8]) -> Result<(), PakeError> {
        let expected = self.expand(self.role.peer().label());
        if tag.len() == CONFIRM_LEN && constant_time_eq(&expected, tag) {
            Ok(())
        } else {
            Err(PakeError::WrongCode)
        }
    }

    /// The Noise pre-shared key.
    #[must_use]
    pub fn psk(&self) -> [u8; 32] {
        self.expand(b"tether/1 noise psk")
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(a: &str, b: &str) -> (PakeKeys, PakeKeys) {
        let (pa, ma) = Pake::start(&a.parse().unwrap(), Role::Console);
        let (pb, mb) = Pake::start(&b.parse().unwrap(), Role::Agent);
        (pa.finish(&mb).unwrap(), pb.finish(&ma).unwrap())
    }

    #[test]
    fn same_code_agrees() {
        let (c, a) = run("123-4567", "123-4567");
        assert_eq!(c.psk(), a.psk());
        a.verify_peer(&c.confirm_tag()).unwrap();
        c.verify_peer(&a.confirm_tag()).unwrap();
        // A tag is bound to its role: reflecting our own tag fails.
        assert_eq!(c.verify_peer(&c.confirm_tag()), Err(PakeError::WrongCode));
    }

    #[test]
    fn wrong_secret_is_detected() {
        let (c, a) = run("123-4567", "123-4568");
        assert_ne!(c.psk(), a.psk());
        assert_eq!(a.verify_peer(&c.confirm_tag()), Err(PakeError::WrongCode));
    }

    proptest! {
        #[test]
        fn random_peer_message_never_panics(msg in proptest::collection::vec(any::<u8>(), 0..64)) {
            let (p, _) = Pake::start(&"123-4567".parse().unwrap(), Role::Agent);
            let _ = p.finish(&msg);
        }
    }
}
