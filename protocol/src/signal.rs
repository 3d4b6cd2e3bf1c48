//! Messages between a client (console or agent) and the rendezvous server.
//!
//! Protocol flow, each side on one bidirectional QUIC stream:
//! 1. Console: `Login` → `LoggedIn`; `CreateCode` → `CodeCreated`.
//! 2. Agent: `Join` with the nameplate only → `Joined` (technician's name);
//!    the console gets `PeerJoined`. The nameplate is now used up. Both
//!    carry the session's STUN/TURN servers and credentials.
//! 3. Both: `Relay(Pake)`, then `Relay(Confirm)`; the server forwards them
//!    without being able to read the secret. A wrong code makes a peer send
//!    `Relay(PairingFailed)`, and the console gets `CodeBurned`.
//! 4. Both: `Relay(Ice)` with ICE credentials and candidates; the server
//!    checks their sizes before forwarding.
//! 5. Both: `Report`s for the session record, until the session ends.
//!
//! Queue sessions replace steps 1 to 3: the agent asks `DeskInfo`, then
//! `AskForHelp` → `Queued` (and `QueuePosition` as it moves, or
//! `NobodyAnswered`); technicians of the desk page through the queue with
//! `QueuePage` and then hear `QueueAdded` and `QueueRemoved`; `Claim` →
//! `ClaimGranted` to the first claimer and `Claimed` to the agent, each
//! with the same fresh pre-shared key for the Noise handshake.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::admin::{AccountRole, AdminReply, AdminRequest};
use crate::code::Nameplate;
use crate::desk::FieldSpec;
use crate::ice::{IceParams, IceParamsError, IceServers};
use crate::invite::{KeyProof, Party};
use crate::queue::{HelpRequest, QueueItem};

/// Largest signalling message.
pub const MAX_SIGNAL_MESSAGE: usize = 16 * 1024;

/// Something one peer sends the other through the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerSignal {
    /// The SPAKE2 message.
    Pake(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The PAKE key-confirmation tag.
    Confirm(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The sender's ICE credentials and candidates.
    Ice(IceParams),
    /// The confirmation did not match: the code was wrong.
    PairingFailed,
    /// After an invite's PAKE: the sender's Noise static key (the expert's
    /// own, or from the owner the agent's), proved under the PAKE key.
    KeyProof(KeyProof),
}

/// How the peers ended up connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PathKind {
    /// Straight between the peers.
    Direct,
    /// Through a TURN relay.
    Relay,
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Direct => "direct",
            Self::Relay => "relay",
        })
    }
}

/// What one end of the chosen ICE candidate pair is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CandidateKind {
    /// An address of the machine itself.
    Host,
    /// The address a NAT gave it, learned from STUN.
    ServerReflexive,
    /// The address a NAT gave it, learned from the peer's checks.
    PeerReflexive,
    /// An address on a TURN relay.
    Relay,
}

impl fmt::Display for CandidateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Host => "host",
            Self::ServerReflexive => "srflx",
            Self::PeerReflexive => "prflx",
            Self::Relay => "relay",
        })
    }
}

/// The path one side connected on, as that side saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathInfo {
    /// Direct or relayed.
    pub kind: PathKind,
    /// This side's end of the pair.
    pub local: CandidateKind,
    /// The other side's end, as this side reaches it.
    pub remote: CandidateKind,
}

impl fmt::Display for PathInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}/{})", self.kind, self.local, self.remote)
    }
}

/// A fact for the session record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionReport {
    /// The customer's consent, and whether it was given in advance
    /// (`--accept`) rather than asked.
    Consent {
        /// May view.
        view: bool,
        /// May control.
        control: bool,
        /// Answered in advance on the command line.
        preset: bool,
    },
    /// The peer connection is up.
    Connected {
        /// Which path, and the candidate at each end.
        path: PathInfo,
    },
    /// The session is over.
    Ended {
        /// Bytes this side sent on the peer connection.
        bytes_sent: u64,
        /// Bytes this side received.
        bytes_received: u64,
    },
    /// A chat line, in the order the console saw it (the console reports).
    Chat {
        /// Written by the customer, not the technician.
        from_customer: bool,
        /// The text (at most the chat limit).
        text: String,
    },
    /// A file that moved completely (the console reports).
    File {
        /// Its name.
        name: String,
        /// Bytes.
        size: u64,
        /// BLAKE3 of the whole file.
        hash: [u8; 32],
        /// Sent to the customer, not fetched from them.
        to_customer: bool,
    },
    /// The customer's exit survey (the agent reports, once).
    Survey {
        /// 1 to 5.
        rating: u8,
        /// What they wrote (at most [`MAX_SURVEY_COMMENT`] bytes).
        comment: String,
    },
    /// A note the technician wrote (the console reports).
    Note {
        /// The text (at most [`MAX_NOTE`] bytes).
        text: String,
    },
}

/// Client to server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientToServer {
    /// A technician logs in.
    Login {
        /// Account name.
        user: String,
        /// Password; only ever sent inside the server's pinned TLS.
        password: String,
    },
    /// A logged-in technician asks for a nameplate.
    CreateCode,
    /// A customer joins a code by its nameplate.
    Join {
        /// The server-visible half of the code.
        nameplate: Nameplate,
    },
    /// Forward to the paired peer.
    Relay(PeerSignal),
    /// Add to the session record.
    Report(SessionReport),
    /// A logged-in technician asks for their most recent sessions.
    RecentSessions,
    /// A logged-in technician asks for the desk's canned chat replies.
    CannedReplies,
    /// A customer asks what a desk wants to know.
    DeskInfo {
        /// The desk.
        desk: String,
    },
    /// A customer asks a desk for help.
    AskForHelp(HelpRequest),
    /// The customer withdraws their request.
    CancelHelp,
    /// A technician asks for the waiting requests of their desks after
    /// request number `after` (0 for the start); from then on they hear
    /// of every change.
    QueuePage {
        /// The last request number already seen.
        after: u64,
    },
    /// A technician takes a waiting request.
    Claim {
        /// Its number.
        request: u64,
    },
    /// Administration, reports and notes after a session (answered with
    /// [`ServerToClient::Admin`]).
    Admin(AdminRequest),
    /// The owner of a live session asks for an invite nameplate for an
    /// outside expert.
    CreateInvite,
    /// An expert joins an invite by its nameplate.
    JoinInvite {
        /// The server-visible half of the invite code.
        nameplate: Nameplate,
    },
    /// Forward to one party of the session (invites: owner and expert,
    /// expert and agent).
    RelayTo {
        /// Who.
        to: Party,
        /// What.
        signal: PeerSignal,
    },
}

/// Most sessions one [`ServerToClient::RecentSessions`] answer holds.
pub const MAX_RECENT: usize = 20;

/// How a recorded session ended, for the technician's dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionOutcome {
    /// Still running, or the server stopped before it ended.
    Open,
    /// Ended normally.
    Ended,
    /// The customer typed a wrong code; it was burned.
    WrongCode,
    /// A side vanished without saying goodbye.
    Disconnected,
}

impl fmt::Display for SessionOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Ended => "ended",
            Self::WrongCode => "wrong code",
            Self::Disconnected => "disconnected",
        })
    }
}

/// One of a technician's sessions, as the server recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// The session's id on the server.
    pub id: u64,
    /// When the customer joined (Unix seconds).
    pub started: u64,
    /// When it ended (Unix seconds).
    pub ended: Option<u64>,
    /// The peer-to-peer path, once connected.
    pub path: Option<PathKind>,
    /// The technician's end of the path (host, srflx, relay …).
    pub technician_end: Option<CandidateKind>,
    /// The customer's end of the path.
    pub customer_end: Option<CandidateKind>,
    /// How it ended.
    pub outcome: SessionOutcome,
}

impl SessionSummary {
    /// The path in a few words: "direct (host/srflx)", "relay", "not connected".
    #[must_use]
    pub fn path_text(&self) -> String {
        let Some(kind) = self.path else { return "not connected".to_owned() };
        match (self.technician_end, self.customer_end) {
            (Some(t), Some(c)) => format!("{kind} ({t}/{c})"),
            _ => kind.to_string(),
        }
    }
}

/// Why the server refused a request; the text is shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SignalError {
    /// Wrong user name or password.
    #[error("wrong user name or password")]
    BadLogin,
    /// The request needs a logged-in technician.
    #[error("log in first")]
    NotLoggedIn,
    /// No live code has this nameplate.
    #[error("That code is not known. Check it, or ask your technician for a new one.")]
    UnknownCode,
    /// The code is older than its lifetime.
    #[error("That code has expired. Ask your technician for a new one.")]
    ExpiredCode,
    /// Someone already used this code.
    #[error("That code was already used. Ask your technician for a new one.")]
    CodeUsed,
    /// This technician holds too many unused codes.
    #[error("you have too many unused codes; use them or let them expire")]
    TooManyCodes,
    /// Too many live codes or connections.
    #[error("the server is busy; try again in a minute")]
    Busy,
    /// The request made no sense in this state.
    #[error("unexpected request")]
    Unexpected,
    /// The server failed to store something.
    #[error("the server had an internal error")]
    Internal,
    /// ICE parameters that are too big or malformed; not forwarded.
    #[error("refused malformed connection candidates: {0}")]
    BadIce(IceParamsError),
    /// Too many wrong passwords: the account is locked for a while.
    #[error("too many wrong passwords: this account is locked; try again in {secs} s")]
    LockedOut {
        /// Seconds left.
        secs: u64,
    },
    /// The account was disabled by an administrator.
    #[error("this account is disabled; ask your administrator")]
    AccountDisabled,
    /// No desk of that name.
    #[error("there is no such desk; check its name")]
    NoSuchDesk,
    /// Someone else took the request first, or it was withdrawn.
    #[error("that request was already taken or withdrawn")]
    AlreadyClaimed,
    /// The request belongs to a desk the technician does not serve.
    #[error("that request is for a desk you do not serve")]
    NotYourDesk,
    /// Too many requests are waiting.
    #[error("too many requests are waiting; try again in a few minutes")]
    QueueFull,
    /// An invite needs a live session of one's own.
    #[error("invite an expert from a live session of your own")]
    NoSession,
    /// The session has admitted as many experts as it may.
    #[error("this session has had as many experts as it may")]
    TooManyExperts,
    /// The account's role does not allow this.
    #[error("your account may not do that; ask an administrator")]
    NotAllowed,
}

/// Server to client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerToClient {
    /// Login accepted.
    LoggedIn {
        /// Display name.
        name: String,
        /// What the account may do.
        role: AccountRole,
        /// Organisation.
        organisation: String,
    },
    /// A nameplate for a new code.
    CodeCreated {
        /// The nameplate.
        nameplate: Nameplate,
        /// Seconds until it expires.
        expires_in_secs: u64,
    },
    /// To the agent: the code's owner.
    Joined {
        /// Technician's display name.
        technician: String,
        /// Technician's organisation.
        organisation: String,
        /// STUN/TURN for this session.
        ice: IceServers,
    },
    /// To the console: a customer is on the code.
    PeerJoined {
        /// STUN/TURN for this session.
        ice: IceServers,
    },
    /// From the paired peer.
    Relay(PeerSignal),
    /// To the console: a wrong secret burned this code.
    CodeBurned {
        /// The burned nameplate.
        nameplate: Nameplate,
    },
    /// The paired peer disconnected from the server.
    PeerLeft,
    /// A request was refused.
    Error(SignalError),
    /// The technician's most recent sessions, newest first, at most
    /// [`MAX_RECENT`].
    RecentSessions(Vec<SessionSummary>),
    /// The canned chat replies, at most [`MAX_CANNED`], in order.
    CannedReplies(Vec<String>),
    /// What a desk asks customers.
    DeskInfo {
        /// The desk.
        desk: String,
        /// Its fields, in order.
        fields: Vec<FieldSpec>,
        /// Seconds a request waits before nobody answered.
        timeout_secs: u64,
    },
    /// The customer's request was refused; why, for them to fix.
    HelpRefused(String),
    /// To the customer: the request waits at this place (1 is next).
    Queued {
        /// Its number.
        request: u64,
        /// Its place in the desk's queue.
        position: u32,
    },
    /// To the customer: their place changed.
    QueuePosition(u32),
    /// To the customer: nobody took the request in the desk's time.
    NobodyAnswered,
    /// To the customer: a technician took the request.
    Claimed {
        /// Technician's display name.
        technician: String,
        /// Technician's organisation.
        organisation: String,
        /// STUN/TURN for this session.
        ice: IceServers,
        /// The pre-shared key for the Noise handshake.
        psk: [u8; 32],
    },
    /// To a technician: waiting requests after the one asked for, oldest
    /// first, as many as fit.
    QueuePage {
        /// The requests.
        items: Vec<QueueItem>,
        /// No more after these.
        done: bool,
    },
    /// To technicians of its desk: a new request.
    QueueAdded(QueueItem),
    /// To technicians of its desk: a request was taken, withdrawn or
    /// timed out.
    QueueRemoved {
        /// Its number.
        request: u64,
    },
    /// To the claiming technician: the request is theirs.
    ClaimGranted {
        /// What the customer asked.
        item: QueueItem,
        /// STUN/TURN for this session.
        ice: IceServers,
        /// The pre-shared key for the Noise handshake.
        psk: [u8; 32],
    },
    /// The answer to [`ClientToServer::Admin`].
    Admin(AdminReply),
    /// To the owner: an invite nameplate; add a secret to make the code.
    InviteCreated {
        /// The nameplate.
        nameplate: Nameplate,
        /// How long it lasts.
        expires_in_secs: u64,
    },
    /// To the expert: the invite is theirs; the PAKE with the owner follows.
    InviteJoined {
        /// The owner's name.
        owner: String,
        /// The owner's organisation.
        organisation: String,
        /// STUN/TURN for the expert's path to the agent.
        ice: IceServers,
        /// The expert's number in the session.
        expert: u32,
    },
    /// To the owner: an expert joined their invite.
    ExpertJoined {
        /// Their number in the session.
        expert: u32,
    },
    /// To the owner and the agent: an expert left.
    ExpertLeft {
        /// Their number.
        expert: u32,
    },
    /// From one party of the session (see [`ClientToServer::RelayTo`]).
    RelayFrom {
        /// Who sent it.
        from: Party,
        /// What.
        signal: PeerSignal,
    },
}

/// Longest survey comment, in bytes.
pub const MAX_SURVEY_COMMENT: usize = 2000;
/// Longest technician note, in bytes.
pub const MAX_NOTE: usize = 4000;

/// Most canned replies a server keeps.
pub const MAX_CANNED: usize = 50;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, testing::round_trip};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(u in ".{0,16}", p in ".{0,16}", n in 100u32..999, b in proptest::collection::vec(any::<u8>(), 0..40), port in any::<u16>()) {
            let nameplate = Nameplate::new(n).unwrap();
            round_trip(&ClientToServer::Login { user: u.clone(), password: p.clone() });
            round_trip(&ClientToServer::Join { nameplate });
            round_trip(&ClientToServer::Relay(PeerSignal::Pake(b.clone())));
            round_trip(&ClientToServer::Relay(PeerSignal::Ice(IceParams { ufrag: u.clone(), pwd: p.clone(), candidates: vec![u.clone()] })));
            let path = PathInfo { kind: PathKind::Relay, local: CandidateKind::Relay, remote: CandidateKind::PeerReflexive };
            round_trip(&ClientToServer::Report(SessionReport::Connected { path }));
            round_trip(&ClientToServer::Report(SessionReport::Ended { bytes_sent: 1, bytes_received: u64::from(port) }));
            round_trip(&ServerToClient::CodeCreated { nameplate, expires_in_secs: 600 });
            round_trip(&ServerToClient::Joined { technician: u, organisation: String::new(), ice: IceServers::none() });
            round_trip(&ServerToClient::PeerJoined { ice: IceServers::none() });
            round_trip(&ServerToClient::Relay(PeerSignal::Confirm(b)));
            round_trip(&ServerToClient::Error(SignalError::ExpiredCode));
            round_trip(&ClientToServer::RecentSessions);
            round_trip(&ClientToServer::CannedReplies);
            round_trip(&ServerToClient::CannedReplies(vec![p.clone()]));
            let summary = SessionSummary {
                id: u64::from(n),
                started: u64::from(port),
                ended: Some(u64::from(n)),
                path: Some(PathKind::Direct),
                technician_end: Some(CandidateKind::Host),
                customer_end: None,
                outcome: SessionOutcome::WrongCode,
            };
            round_trip(&ServerToClient::RecentSessions(vec![summary; usize::from(port % 4)]));
            round_trip(&ClientToServer::Admin(crate::admin::AdminRequest::AddNote { session: u64::from(n), text: p.clone() }));
            round_trip(&ServerToClient::Admin(crate::admin::AdminReply::Refused(p.clone())));
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = wire::decode::<ClientToServer>(&b);
            let _ = wire::decode::<ServerToClient>(&b);
        }
    }
}
