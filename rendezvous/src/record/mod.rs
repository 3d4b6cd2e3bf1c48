//! What the server keeps: technician accounts, desks and session records.

mod legacy;

use serde::{Deserialize, Serialize};
use tether_protocol::signal::{CandidateKind, PathInfo, PathKind, SessionOutcome, SessionSummary};

use legacy::{SessionRecordV1, SessionRecordV2, SessionRecordV3};

pub use tether_protocol::admin::AccountRole;

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
    /// What the account may do.
    pub role: AccountRole,
    /// The desks whose queues it serves, by name.
    pub desks: Vec<String>,
    /// Disabled accounts cannot log in; their records stay.
    pub disabled: bool,
}

/// A technician account as stored before roles and desks.
#[derive(Deserialize)]
struct TechnicianV1 {
    name: String,
    organisation: String,
    password_hash: String,
    created: u64,
}

impl Technician {
    /// Decodes a stored account, of this version or the one before (which
    /// becomes a technician in no desk).
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        postcard::from_bytes(bytes).ok().or_else(|| {
            let v1: TechnicianV1 = postcard::from_bytes(bytes).ok()?;
            Some(Self {
                name: v1.name,
                organisation: v1.organisation,
                password_hash: v1.password_hash,
                created: v1.created,
                role: AccountRole::Technician,
                desks: Vec::new(),
                disabled: false,
            })
        })
    }
}

/// A service desk: a queue of help requests, with the fields its customers
/// fill in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desk {
    /// Its name, as technicians and customers pick it.
    pub name: String,
    /// The fields customers fill in, in order.
    pub fields: Vec<tether_protocol::desk::FieldSpec>,
    /// Seconds a request waits for a technician before the customer is
    /// told nobody answered.
    pub timeout_secs: u64,
    /// When it was made (Unix seconds).
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

/// One chat line in a session record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// When the server heard of it (Unix seconds).
    pub at: u64,
    /// Written by the customer.
    pub from_customer: bool,
    /// The text.
    pub text: String,
}

/// One file moved in a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMoved {
    /// When it finished (Unix seconds).
    pub at: u64,
    /// Its name.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// BLAKE3 of the whole file.
    pub hash: [u8; 32],
    /// Sent to the customer, not fetched from them.
    pub to_customer: bool,
}

/// Most chat lines a record keeps (the record is rewritten with each, so
/// it stays small: at most about 1 MB of chat).
pub const MAX_RECORD_CHAT: usize = 1000;
/// Longest chat line a record keeps, in bytes.
pub const MAX_RECORD_LINE: usize = 1024;
/// Most notes a record keeps.
pub const MAX_RECORD_NOTES: usize = 100;
/// Most files a record lists.
pub const MAX_RECORD_FILES: usize = 2000;

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

/// A session record: who, when, the path, consent, chat, files, and for
/// queue sessions the request, with the technician's notes and the
/// customer's survey.
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
    /// The technician's end of the path, as the console reported it.
    pub technician_end: Option<CandidateKind>,
    /// The customer's end of the path, as the agent reported it.
    pub customer_end: Option<CandidateKind>,
    /// The chat, in order.
    pub chat: Vec<ChatLine>,
    /// Files moved.
    pub files: Vec<FileMoved>,
    /// For a queue session: the request it came from.
    pub request: Option<RequestInfo>,
    /// The technician's notes, in order.
    pub notes: Vec<Note>,
    /// The customer's answer to the exit survey.
    pub survey: Option<Survey>,
}

/// The help request a queue session came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    /// Its number.
    pub request: u64,
    /// The desk.
    pub desk: String,
    /// The customer's name.
    pub customer: String,
    /// The problem, in their words.
    pub problem: String,
    /// The desk's fields as the customer filled them in.
    pub fields: Vec<(String, String)>,
    /// When the customer asked (Unix seconds).
    pub requested: u64,
    /// When a technician claimed it (Unix seconds).
    pub claimed: u64,
}

/// A note the technician wrote about the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// When (Unix seconds).
    pub at: u64,
    /// The text.
    pub text: String,
}

/// The customer's exit survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    /// 1 to 5.
    pub rating: u8,
    /// What they wrote, if anything.
    pub comment: String,
}

impl SessionRecord {
    /// A new, open record of a session that starts now.
    #[must_use]
    pub fn open(id: u64, technician: String, nameplate: u32, started: u64) -> Self {
        Self {
            id,
            technician,
            nameplate,
            started,
            ended: None,
            path: None,
            bytes: 0,
            consent: Vec::new(),
            outcome: Outcome::Open,
            technician_end: None,
            customer_end: None,
            chat: Vec::new(),
            files: Vec::new(),
            request: None,
            notes: Vec::new(),
            survey: None,
        }
    }

    /// Decodes a stored record, including ones written by older servers.
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        postcard::from_bytes(bytes)
            .ok()
            .or_else(|| postcard::from_bytes::<SessionRecordV3>(bytes).ok().map(Self::from))
            .or_else(|| postcard::from_bytes::<SessionRecordV2>(bytes).ok().map(Self::from))
            .or_else(|| postcard::from_bytes::<SessionRecordV1>(bytes).ok().map(Self::from))
    }

    /// Notes the path one side reported. Each side's own end is taken from
    /// its own report (the other side may only know it as peer-reflexive);
    /// until it reports, its end is what the first reporter saw.
    pub fn connected(&mut self, path: PathInfo, from_console: bool) {
        self.path = Some(path.kind);
        let (mine, theirs) = if from_console {
            (&mut self.technician_end, &mut self.customer_end)
        } else {
            (&mut self.customer_end, &mut self.technician_end)
        };
        *mine = Some(path.local);
        theirs.get_or_insert(path.remote);
    }

    /// What the technician's dashboard shows of it.
    #[must_use]
    pub fn summary(&self) -> SessionSummary {
        SessionSummary {
            id: self.id,
            started: self.started,
            ended: self.ended,
            path: self.path,
            technician_end: self.technician_end,
            customer_end: self.customer_end,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_from_older_servers_still_read_and_new_ones_never_read_as_old() {
        let old = SessionRecordV1 {
            id: 7,
            technician: "alice".into(),
            nameplate: 321,
            started: 100,
            ended: Some(160),
            path: Some(PathKind::Relay),
            bytes: 4096,
            consent: vec![ConsentEvent { at: 101, view: true, control: false, preset: false }],
            outcome: Outcome::Ended,
        };
        let bytes = postcard::to_stdvec(&old).unwrap();
        let read = SessionRecord::decode(&bytes).unwrap();
        assert_eq!(
            (read.id, read.path, read.bytes, read.outcome),
            (7, Some(PathKind::Relay), 4096, Outcome::Ended)
        );
        assert_eq!((read.technician_end, read.customer_end), (None, None));

        let v2 = SessionRecordV2 {
            id: 8,
            technician: "bob".into(),
            nameplate: 1,
            started: 1,
            ended: None,
            path: None,
            bytes: 0,
            consent: Vec::new(),
            outcome: Outcome::Open,
            technician_end: Some(CandidateKind::Host),
            customer_end: None,
        };
        let read2 = SessionRecord::decode(&postcard::to_stdvec(&v2).unwrap()).unwrap();
        assert_eq!((read2.id, read2.technician_end, read2.chat.len()), (8, Some(CandidateKind::Host), 0));

        let new = SessionRecord {
            technician_end: Some(CandidateKind::Relay),
            customer_end: Some(CandidateKind::Host),
            chat: vec![ChatLine { at: 5, from_customer: true, text: "hi".into() }],
            files: vec![FileMoved { at: 6, name: "a".into(), size: 1, hash: [2; 32], to_customer: false }],
            ..read
        };
        // A record from before desks, notes and surveys.
        let v3 = SessionRecordV3 {
            id: new.id,
            technician: new.technician.clone(),
            nameplate: new.nameplate,
            started: new.started,
            ended: new.ended,
            path: new.path,
            bytes: new.bytes,
            consent: new.consent.clone(),
            outcome: new.outcome,
            technician_end: new.technician_end,
            customer_end: new.customer_end,
            chat: new.chat.clone(),
            files: new.files.clone(),
        };
        assert_eq!(SessionRecord::decode(&postcard::to_stdvec(&v3).unwrap()), Some(new.clone()));
        let new = SessionRecord {
            request: Some(RequestInfo {
                request: 3,
                desk: "billing".into(),
                customer: "Carol".into(),
                problem: "printer".into(),
                fields: vec![("account".into(), "1234".into())],
                requested: 10,
                claimed: 12,
            }),
            notes: vec![Note { at: 20, text: "replaced the driver".into() }],
            survey: Some(Survey { rating: 5, comment: "quick".into() }),
            ..new
        };
        assert_eq!(SessionRecord::decode(&postcard::to_stdvec(&new).unwrap()), Some(new));
        assert_eq!(SessionRecord::decode(b"\xff\xff garbage"), None);
    }
}
