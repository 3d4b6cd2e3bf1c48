//! What the server keeps: technician accounts and session records.

use serde::{Deserialize, Serialize};
use tether_protocol::signal::{PathKind, SessionOutcome, SessionSummary};

/// A technician account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Technician {
    /// Login and display name.
    pub name: String,
    /// Organisation shown to customers.
    pub organisation: String,
    /// argon2id hash in PHC string form.
    pub password_hash: String,
    /// When the account was made (Unix seconds).
    pub created: u64,
}

/// One consent event as the agent reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEvent {
    /// When (Unix seconds).
    pub at: u64,
    /// May view.
    pub view: bool,
    /// May control.
    pub control: bool,
    /// Answered in advance on the command line (`--accept`).
    pub preset: bool,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Still running, or the server stopped before it ended.
    Open,
    /// Both sides reported a normal end.
    Ended,
    /// The customer typed the wrong secret digits; the code was burned.
    WrongCode,
    /// A side disconnected from the server without reporting an end.
    Disconnected,
}

/// The minimal session record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Unique id.
    pub id: u64,
    /// Technician who made the code.
    pub technician: String,
    /// Nameplate used.
    pub nameplate: u32,
    /// Start (Unix seconds): when the customer joined.
    pub started: u64,
    /// End (Unix seconds).
    pub ended: Option<u64>,
    /// Peer-to-peer path, once connected.
    pub path: Option<PathKind>,
    /// Bytes on the peer connection, as the console reported them.
    pub bytes: u64,
    /// Consent events.
    pub consent: Vec<ConsentEvent>,
    /// How it ended.
    pub outcome: Outcome,
}

impl SessionRecord {
    /// What the technician's dashboard shows of it.
    #[must_use]
    pub fn summary(&self) -> SessionSummary {
        SessionSummary {
            started: self.started,
            ended: self.ended,
            path: self.path,
            outcome: match self.outcome {
                Outcome::Open => SessionOutcome::Open,
                Outcome::Ended => SessionOutcome::Ended,
                Outcome::WrongCode => SessionOutcome::WrongCode,
                Outcome::Disconnected => SessionOutcome::Disconnected,
            },
        }
    }
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
