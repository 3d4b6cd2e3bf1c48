//! What ICE needs from signalling: each peer's credentials and candidates,
//! and the STUN/TURN servers with their short-lived credentials. Sizes are
//! bounded and checked before anything is parsed or forwarded.

use serde::{Deserialize, Serialize};

/// Most candidates one peer may offer.
pub const MAX_CANDIDATES: usize = 16;
/// Longest candidate line in bytes.
pub const MAX_CANDIDATE_LEN: usize = 512;
/// Longest ICE username fragment or password in bytes.
pub const MAX_ICE_CREDENTIAL: usize = 256;
/// Most STUN/TURN URLs the server may hand out.
pub const MAX_ICE_URLS: usize = 8;

/// Why ICE parameters were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum IceParamsError {
    /// More than [`MAX_CANDIDATES`].
    #[error("too many ICE candidates (at most {MAX_CANDIDATES})")]
    TooManyCandidates,
    /// No candidates at all.
    #[error("no ICE candidates")]
    NoCandidates,
    /// A candidate line is too long or has characters no candidate has.
    #[error("a malformed ICE candidate")]
    MalformedCandidate,
    /// The username fragment or password is empty, too long or not printable.
    #[error("malformed ICE credentials")]
    MalformedCredentials,
}

/// One peer's ICE offer: its credentials and every candidate it gathered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceParams {
    /// ICE username fragment.
    pub ufrag: String,
    /// ICE password.
    pub pwd: String,
    /// Candidates in SDP `a=candidate` syntax, without the prefix.
    pub candidates: Vec<String>,
}

fn printable(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

impl IceParams {
    /// Checks sizes and characters; the syntax of each candidate is checked
    /// by the ICE library that parses it.
    pub fn check(&self) -> Result<(), IceParamsError> {
        if !printable(&self.ufrag, MAX_ICE_CREDENTIAL) || !printable(&self.pwd, MAX_ICE_CREDENTIAL) {
            return Err(IceParamsError::MalformedCredentials);
        }
        if self.candidates.is_empty() {
            return Err(IceParamsError::NoCandidates);
        }
        if self.candidates.len() > MAX_CANDIDATES {
            return Err(IceParamsError::TooManyCandidates);
        }
        if !self.candidates.iter().all(|c| printable(c, MAX_CANDIDATE_LEN)) {
            return Err(IceParamsError::MalformedCandidate);
        }
        Ok(())
    }
}

/// The STUN and TURN servers for one session, with credentials that work
/// only for it and only for a while (coturn's shared-secret scheme).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServers {
    /// UDP port of the rendezvous server's own STUN/TURN, on the host the
    /// client reached the rendezvous at; `None` when it runs none.
    pub embedded_port: Option<u16>,
    /// Other servers, as `stun:HOST:PORT` or `turn:HOST:PORT` URLs.
    pub urls: Vec<String>,
    /// TURN user name: `EXPIRY:SESSION`.
    pub username: String,
    /// TURN password: base64 of HMAC-SHA1(secret, user name).
    pub credential: String,
}

impl IceServers {
    /// No servers: host candidates only.
    #[must_use]
    pub fn none() -> Self {
        Self { embedded_port: None, urls: Vec::new(), username: String::new(), credential: String::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, testing::round_trip};
    use proptest::prelude::*;

    fn good() -> IceParams {
        IceParams {
            ufrag: "aBcD".into(),
            pwd: "0123456789abcdefghijkl".into(),
            candidates: vec!["1 1 udp 2130706431 192.0.2.1 5000 typ host".into()],
        }
    }

    #[test]
    fn sizes_and_characters_are_checked() {
        assert_eq!(good().check(), Ok(()));
        let mut p = good();
        p.candidates = vec![good().candidates[0].clone(); MAX_CANDIDATES + 1];
        assert_eq!(p.check(), Err(IceParamsError::TooManyCandidates));
        p.candidates.clear();
        assert_eq!(p.check(), Err(IceParamsError::NoCandidates));
        p.candidates = vec!["x".repeat(MAX_CANDIDATE_LEN + 1)];
        assert_eq!(p.check(), Err(IceParamsError::MalformedCandidate));
        p.candidates = vec!["1 1 udp\n2 typ host".into()];
        assert_eq!(p.check(), Err(IceParamsError::MalformedCandidate));
        let mut p = good();
        p.pwd = String::new();
        assert_eq!(p.check(), Err(IceParamsError::MalformedCredentials));
        p.pwd = "é".into();
        assert_eq!(p.check(), Err(IceParamsError::MalformedCredentials));
    }

    proptest! {
        #[test]
        fn round_trips(u in "[a-z]{1,8}", c in proptest::collection::vec("[ -~]{1,40}", 0..4), port in any::<u16>()) {
            round_trip(&IceParams { ufrag: u.clone(), pwd: u.clone(), candidates: c.clone() });
            round_trip(&IceServers { embedded_port: Some(port), urls: c, username: u.clone(), credential: u });
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(p) = wire::decode::<IceParams>(&b) {
                let _ = p.check();
            }
            let _ = wire::decode::<IceServers>(&b);
        }
    }
}
