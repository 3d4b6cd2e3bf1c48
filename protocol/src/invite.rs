//! Inviting an outside expert into a live session: who is who on the
//! server's routes, and the vouching that lets the agent admit the expert
//! without trusting the server.
//!
//! The owner's console makes an invite code (nameplate plus secret, as for
//! customers). The expert's console joins it and runs the PAKE with the
//! owner's console through the server, which yields a key only those two
//! hold. With it the expert proves which Noise static key is theirs
//! ([`KeyProof`]); the owner vouches for that key to the agent over the
//! encrypted control channel, with a pre-shared key for the expert's own
//! handshake ([`expert_psk`]); and tells the expert the agent's static key,
//! proved the same way. The expert then connects straight to the agent,
//! which admits only a key the current owner vouched for.

use serde::{Deserialize, Serialize};

/// A party of a session, as the server routes signals between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Party {
    /// The technician who paired with the customer.
    Owner,
    /// The customer's agent.
    Agent,
    /// An invited expert, numbered by the server within the session.
    Expert(u32),
}

impl std::fmt::Display for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Owner => f.write_str("the owner"),
            Self::Agent => f.write_str("the agent"),
            Self::Expert(n) => write!(f, "expert {n}"),
        }
    }
}

/// Most experts one session admits over its life.
pub const MAX_EXPERTS: u32 = 8;

/// A Noise static public key with a MAC under the invite's PAKE key: the
/// server, which does not know that key, cannot swap it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyProof {
    /// The X25519 public key.
    pub key: [u8; 32],
    /// BLAKE3 keyed hash of `key` under the invite's PAKE key and the
    /// sender's side.
    pub mac: [u8; 32],
}

fn mac_key(pake_psk: &[u8; 32], from: Party) -> [u8; 32] {
    let context = match from {
        Party::Owner => "tether/1 invite key proof from the owner",
        Party::Expert(_) | Party::Agent => "tether/1 invite key proof from the expert",
    };
    blake3::derive_key(context, pake_psk)
}

impl KeyProof {
    /// Proves `key` as `from` (the owner, or the expert).
    #[must_use]
    pub fn new(pake_psk: &[u8; 32], from: Party, key: [u8; 32]) -> Self {
        Self { key, mac: *blake3::keyed_hash(&mac_key(pake_psk, from), &key).as_bytes() }
    }

    /// The key, if the MAC holds for `from`.
    #[must_use]
    pub fn verify(&self, pake_psk: &[u8; 32], from: Party) -> Option<[u8; 32]> {
        let expected = blake3::keyed_hash(&mac_key(pake_psk, from), &self.key);
        // blake3::Hash compares in constant time.
        (expected == blake3::Hash::from(self.mac)).then_some(self.key)
    }
}

/// The pre-shared key of the expert's Noise handshake with the agent:
/// derived from the invite's PAKE key, so the owner can hand it to the
/// agent and the expert derives it alone.
#[must_use]
pub fn expert_psk(pake_psk: &[u8; 32]) -> [u8; 32] {
    blake3::derive_key("tether/1 expert noise psk", pake_psk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_holds_only_for_its_key_side_and_pake_key() {
        let (k, other) = ([7u8; 32], [8u8; 32]);
        let proof = KeyProof::new(&k, Party::Expert(1), [1; 32]);
        assert_eq!(
            proof.verify(&k, Party::Expert(2)),
            Some([1; 32]),
            "the number is the server's, not signed"
        );
        assert_eq!(proof.verify(&other, Party::Expert(1)), None, "another invite's key");
        assert_eq!(proof.verify(&k, Party::Owner), None, "reflected back as the owner's");
        let swapped = KeyProof { key: [2; 32], ..proof };
        assert_eq!(swapped.verify(&k, Party::Expert(1)), None, "the server swapped the key");
        assert_ne!(expert_psk(&k), k);
        assert_ne!(expert_psk(&k), expert_psk(&other));
    }
}
