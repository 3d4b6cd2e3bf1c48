//! The audit log: security events in an append-only chain. Each entry holds
//! the hash of the one before, and its own hash covers its number, time,
//! event and that link, so changing, removing or reordering any entry
//! breaks the chain at that entry. [`verify`] finds the first break.

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditEvent {
    /// A technician logged in.
    LoginOk {
        /// Who.
        user: String,
    },
    /// A wrong password, an unknown or disabled account.
    LoginFailed {
        /// The name given.
        user: String,
    },
    /// Too many wrong passwords: the account is locked for a while.
    LockedOut {
        /// Who.
        user: String,
        /// For how long, in seconds.
        secs: u64,
    },
    /// A pairing code was made.
    CodeMade {
        /// By whom.
        technician: String,
        /// Its nameplate.
        nameplate: u32,
    },
    /// A wrong secret burned a code.
    CodeBurned {
        /// Whose.
        technician: String,
        /// Its nameplate.
        nameplate: u32,
    },
    /// The customer gave or took back consent.
    Consent {
        /// The session.
        session: u64,
        /// May view.
        view: bool,
        /// May control.
        control: bool,
    },
    /// A technician claimed a help request.
    Claimed {
        /// The request.
        request: u64,
        /// By whom.
        technician: String,
        /// The desk.
        desk: String,
    },
    /// A file moved in a session.
    Transfer {
        /// The session.
        session: u64,
        /// The file's name.
        name: String,
        /// Bytes.
        size: u64,
        /// To the customer, not from them.
        to_customer: bool,
    },
    /// An administrator changed an account or a desk.
    Admin {
        /// What, in words.
        what: String,
    },
    /// The owner of a session made an invite for an outside expert.
    InviteMade {
        /// The session.
        session: u64,
        /// By whom.
        technician: String,
        /// Its nameplate.
        nameplate: u32,
    },
    /// An expert joined an invite (they still have to prove its secret).
    ExpertJoined {
        /// The session.
        session: u64,
        /// Their number in it.
        expert: u32,
    },
}

impl std::fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LoginOk { user } => write!(f, "login {user}"),
            Self::LoginFailed { user } => write!(f, "failed login {user:?}"),
            Self::LockedOut { user, secs } => write!(f, "locked out {user} for {secs} s"),
            Self::CodeMade { technician, nameplate } => write!(f, "code {nameplate} made by {technician}"),
            Self::CodeBurned { technician, nameplate } => {
                write!(f, "code {nameplate} of {technician} burned by a wrong secret")
            }
            Self::Consent { session, view, control } => {
                write!(f, "session {session} consent view={view} control={control}")
            }
            Self::Claimed { request, technician, desk } => {
                write!(f, "request {request} on {desk} claimed by {technician}")
            }
            Self::Transfer { session, name, size, to_customer } => {
                let way = if *to_customer { "to" } else { "from" };
                write!(f, "session {session} file {name:?} ({size} bytes) {way} the customer")
            }
            Self::Admin { what } => write!(f, "admin: {what}"),
            Self::InviteMade { session, technician, nameplate } => {
                write!(f, "session {session} invite {nameplate} made by {technician}")
            }
            Self::ExpertJoined { session, expert } => write!(f, "session {session} expert {expert} joined"),
        }
    }
}

/// One link of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its number, from 0, without gaps.
    pub seq: u64,
    /// When (Unix seconds).
    pub at: u64,
    /// What happened.
    pub event: AuditEvent,
    /// The previous entry's hash (zeros for the first).
    pub prev: [u8; 32],
    /// This entry's hash.
    pub hash: [u8; 32],
}

/// The hash an entry must carry.
#[must_use]
pub fn entry_hash(seq: u64, at: u64, event: &AuditEvent, prev: &[u8; 32]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("tether audit log v1");
    h.update(&seq.to_be_bytes());
    h.update(&at.to_be_bytes());
    h.update(&postcard::to_stdvec(event).unwrap_or_default());
    h.update(prev);
    *h.finalize().as_bytes()
}

impl AuditEntry {
    /// The entry after one whose hash is `prev`.
    #[must_use]
    pub fn next(seq: u64, at: u64, event: AuditEvent, prev: [u8; 32]) -> Self {
        let hash = entry_hash(seq, at, &event, &prev);
        Self { seq, at, event, prev, hash }
    }
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    /// An entry's bytes do not decode.
    #[error("entry {0} is unreadable: its bytes were changed")]
    Unreadable(u64),
    /// An entry's hash does not match what it says.
    #[error("entry {0} was changed: its hash does not match its contents")]
    Changed(u64),
    /// An entry does not follow the one before it.
    #[error("entry {0} does not follow entry {1}: an entry was removed, added or replaced")]
    Unlinked(u64, u64),
    /// An entry is missing or out of place.
    #[error("entry {0} is missing or out of place")]
    Missing(u64),
}

/// Walks the chain in order: `(key, entry)` pairs as stored, `None` for an
/// entry whose bytes did not decode. Returns how many entries are sound.
pub fn verify(entries: impl IntoIterator<Item = (u64, Option<AuditEntry>)>) -> Result<u64, Broken> {
    let mut prev = [0u8; 32];
    let mut count = 0u64;
    for (key, entry) in entries {
        let Some(e) = entry else { return Err(Broken::Unreadable(key)) };
        if key != count || e.seq != count {
            return Err(Broken::Missing(count));
        }
        if e.hash != entry_hash(e.seq, e.at, &e.event, &e.prev) {
            return Err(Broken::Changed(e.seq));
        }
        if e.prev != prev {
            return Err(Broken::Unlinked(e.seq, e.seq.saturating_sub(1)));
        }
        prev = e.hash;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<(u64, Option<AuditEntry>)> {
        let mut prev = [0; 32];
        (0..n)
            .map(|i| {
                let e = AuditEntry::next(i, 1000 + i, AuditEvent::LoginOk { user: format!("u{i}") }, prev);
                prev = e.hash;
                (i, Some(e))
            })
            .collect()
    }

    #[test]
    fn a_sound_chain_verifies_and_every_kind_of_tampering_is_named() {
        assert_eq!(verify(chain(5)), Ok(5));
        assert_eq!(verify(Vec::new()), Ok(0));

        let mut changed = chain(5);
        if let Some(e) = &mut changed[3].1 {
            e.event = AuditEvent::LoginOk { user: "mallory".into() };
        }
        assert_eq!(verify(changed), Err(Broken::Changed(3)));

        let mut rehashed = chain(5);
        if let Some(e) = &mut rehashed[2].1 {
            // Changed and re-hashed: the next entry no longer follows it.
            e.at += 1;
            e.hash = entry_hash(e.seq, e.at, &e.event, &e.prev);
        }
        assert_eq!(verify(rehashed), Err(Broken::Unlinked(3, 2)));

        let mut removed = chain(5);
        removed.remove(1);
        assert_eq!(verify(removed), Err(Broken::Missing(1)));

        let mut unreadable = chain(5);
        unreadable[4].1 = None;
        assert_eq!(verify(unreadable), Err(Broken::Unreadable(4)));
        assert_eq!(
            Broken::Changed(3).to_string(),
            "entry 3 was changed: its hash does not match its contents"
        );
    }
}
