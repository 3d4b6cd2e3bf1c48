//! Files channel: offers, requests and the receiver's answers for file
//! transfers both ways; the bytes go on a stream of their own per transfer.
//!
//! Protocol flow, sending to the customer: the console sends `Offer`; the
//! agent asks its customer and answers `Transfer(Accept)` (with the first
//! chunk it still needs, so a broken transfer resumes) or `Transfer(Cancel)`.
//! The sender then opens a data stream (header [`DataHeader`]) and sends
//! [`Chunk`]s from there, never more than its window ahead of the
//! receiver's `Verified`. A chunk whose hash fails is asked for again with
//! `Resend`. Once every chunk is verified the receiver checks the whole-file
//! hash, makes the file durable under its final name and says `Complete`.
//!
//! Fetching from the customer: the console sends `Fetch`; the agent asks,
//! then offers the file with `Offer` under the same id, and the roles above
//! swap. Either side may `Cancel` at any time, with a reason.
//!
//! Browsing: the console sends `List` for a folder the customer shares (or
//! for the list of shared folders) and the agent answers one page of it
//! with `Listing`; long folders take several pages.

use serde::{Deserialize, Serialize};

use crate::files::chunk::{CHUNK_BYTES, Hash};
use crate::files::{FileName, RelPath};

/// Longest human-readable reason, in bytes.
pub const MAX_REASON_BYTES: usize = 512;

/// A transfer, named by the console (which starts every transfer).
pub type TransferId = u32;

/// A file one side offers the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The transfer.
    pub id: TransferId,
    /// The file's name.
    pub name: FileName,
    /// Its size in bytes.
    pub size: u64,
    /// The BLAKE3 hash of the whole file.
    pub hash: Hash,
    /// Where the sender suggests it goes: a folder the customer shares,
    /// then folders under it (empty when the console is the receiver).
    pub folder: Option<RelPath>,
}

/// Why a transfer stopped before it completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelReason {
    /// The customer said no.
    Declined,
    /// Someone pressed Cancel.
    Cancelled,
    /// The receiving disk is full; the partial file was removed.
    DiskFull,
    /// Anything else, said plainly (at most [`MAX_REASON_BYTES`]).
    Failed(String),
}

impl std::fmt::Display for CancelReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Declined => f.write_str("the customer declined"),
            Self::Cancelled => f.write_str("cancelled"),
            Self::DiskFull => f.write_str("the receiving disk is full; the partial file was removed"),
            Self::Failed(why) => f.write_str(super::clip_to(why, MAX_REASON_BYTES)),
        }
    }
}

/// Messages about a transfer in progress; the same in both directions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transfer {
    /// Receiver: send from chunk `from`, and the file will be called `name`.
    Accept {
        /// The transfer.
        id: TransferId,
        /// The first chunk the receiver still needs.
        from: u64,
        /// The name it will have (never an existing file's).
        name: FileName,
    },
    /// Receiver: chunks below `through` are verified and written.
    Verified {
        /// The transfer.
        id: TransferId,
        /// Chunks `0..through` are safe.
        through: u64,
    },
    /// Receiver: chunk `chunk` failed its hash; send it again.
    Resend {
        /// The transfer.
        id: TransferId,
        /// The chunk.
        chunk: u64,
    },
    /// Receiver: the whole file is verified and durable under its name.
    Complete {
        /// The transfer.
        id: TransferId,
    },
    /// Either side: the transfer stops.
    Cancel {
        /// The transfer.
        id: TransferId,
        /// Why.
        reason: CancelReason,
    },
}

impl Transfer {
    /// The transfer this message is about.
    #[must_use]
    pub const fn id(&self) -> TransferId {
        match self {
            Self::Accept { id, .. }
            | Self::Verified { id, .. }
            | Self::Resend { id, .. }
            | Self::Complete { id }
            | Self::Cancel { id, .. } => *id,
        }
    }
}

/// Entries a folder listing gives at most, over all its pages.
pub const MAX_LISTED: u32 = 10_000;
/// Bytes of entries the agent puts in one page, well inside the files
/// channel's 64 KiB messages.
pub const LISTING_PAGE_BYTES: usize = 48 * 1024;

/// One file or folder in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its name.
    pub name: FileName,
    /// A folder, not a file.
    pub folder: bool,
    /// Bytes, for files.
    pub size: u64,
    /// Last change, in seconds since 1970, if known.
    pub modified: Option<u64>,
}

/// One page of a folder, or why it cannot be listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// The request.
    pub id: TransferId,
    /// The entries from the asked-for position on, folders first, then by
    /// name; or why not (said plainly, at most [`MAX_REASON_BYTES`]).
    pub entries: Result<Vec<Entry>, String>,
    /// Entries in the whole folder (at most [`MAX_LISTED`]).
    pub total: u32,
}

/// Console to agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleToAgent {
    /// The technician sends the customer a file.
    Offer(Offer),
    /// The technician asks for one of the customer's files: a shared
    /// folder's name, then the path under it.
    Fetch {
        /// The transfer.
        id: TransferId,
        /// Which file.
        path: RelPath,
    },
    /// About a transfer in progress.
    Transfer(Transfer),
    /// What a shared folder holds: the shared folders themselves when
    /// `path` is `None`, entries from position `from` on.
    List {
        /// The request, numbered like transfers.
        id: TransferId,
        /// A shared folder's name, then folders under it.
        path: Option<RelPath>,
        /// The first entry wanted.
        from: u32,
    },
}

/// Agent to console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentToConsole {
    /// The file asked for with `Fetch`, once the customer agreed.
    Offer(Offer),
    /// A page of the folder asked for with `List`.
    Listing(Listing),
    /// About a transfer in progress.
    Transfer(Transfer),
}

impl From<Transfer> for ConsoleToAgent {
    fn from(t: Transfer) -> Self {
        Self::Transfer(t)
    }
}

impl From<Transfer> for AgentToConsole {
    fn from(t: Transfer) -> Self {
        Self::Transfer(t)
    }
}

/// The first bytes of a data stream, after its channel id: which transfer
/// it carries, and its nonce partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader {
    /// The sender's stream number, 1–255, never reused in a session.
    pub index: u8,
    /// The transfer.
    pub id: TransferId,
}

impl DataHeader {
    /// Bytes on the wire, after the channel id.
    pub const LEN: usize = 5;

    /// The header's bytes.
    #[must_use]
    pub fn encode(self) -> [u8; Self::LEN] {
        let id = self.id.to_be_bytes();
        [self.index, id[0], id[1], id[2], id[3]]
    }

    /// Reads a header; index 0 belongs to the fixed channels.
    #[must_use]
    pub fn decode(bytes: [u8; Self::LEN]) -> Option<Self> {
        let id = TransferId::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        (bytes[0] != 0).then_some(Self { index: bytes[0], id })
    }
}

/// One piece of a file on its data stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Which chunk.
    pub index: u64,
    /// The BLAKE3 hash of `data`.
    pub hash: Hash,
    /// The bytes, [`CHUNK_BYTES`] except for the last chunk.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// Largest message on a data stream.
pub const MAX_CHUNK_MESSAGE: usize = CHUNK_BYTES as usize + 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, testing::round_trip};
    use proptest::prelude::*;

    #[test]
    fn headers_round_trip_and_index_zero_is_refused() {
        let h = DataHeader { index: 7, id: 0x0102_0304 };
        assert_eq!(DataHeader::decode(h.encode()), Some(h));
        assert_eq!(DataHeader::decode([0, 0, 0, 0, 1]), None);
    }

    #[test]
    fn a_traversal_name_does_not_decode() {
        let offer = Offer { id: 1, name: FileName::new("a").unwrap(), size: 1, hash: [0; 32], folder: None };
        let mut bytes = wire::encode(&ConsoleToAgent::Offer(offer));
        // The name "a" is encoded as length 1 then 'a'; make it "." instead.
        let at = bytes.iter().position(|b| *b == b'a').unwrap();
        bytes[at] = b'.';
        assert!(wire::decode::<ConsoleToAgent>(&bytes).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(id in any::<u32>(), size in any::<u64>(), n in any::<u64>(), why in ".{0,40}") {
            let name = FileName::new("report.pdf").unwrap();
            let offer = Offer { id, name: name.clone(), size, hash: [3; 32], folder: RelPath::parse("Downloads/x").ok() };
            round_trip(&ConsoleToAgent::Offer(offer.clone()));
            round_trip(&AgentToConsole::Offer(offer));
            round_trip(&ConsoleToAgent::Fetch { id, path: RelPath::parse("Shared/a.txt").unwrap() });
            for t in [
                Transfer::Accept { id, from: n, name },
                Transfer::Verified { id, through: n },
                Transfer::Resend { id, chunk: n },
                Transfer::Complete { id },
                Transfer::Cancel { id, reason: CancelReason::Failed(why.clone()) },
                Transfer::Cancel { id, reason: CancelReason::DiskFull },
            ] {
                prop_assert_eq!(t.id(), id);
                round_trip(&AgentToConsole::Transfer(t.clone()));
                round_trip(&ConsoleToAgent::Transfer(t));
            }
            round_trip(&Chunk { index: n, hash: [9; 32], data: vec![1, 2, 3] });
            round_trip(&ConsoleToAgent::List { id, path: RelPath::parse("Shared/a").ok(), from: id });
            round_trip(&ConsoleToAgent::List { id, path: None, from: 0 });
            let entry = Entry { name: FileName::new("b.txt").unwrap(), folder: false, size, modified: Some(n) };
            round_trip(&AgentToConsole::Listing(Listing { id, entries: Ok(vec![entry]), total: 1 }));
            round_trip(&AgentToConsole::Listing(Listing { id, entries: Err(why.clone()), total: 0 }));
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = wire::decode::<ConsoleToAgent>(&b);
            let _ = wire::decode::<AgentToConsole>(&b);
            let _ = wire::decode::<Chunk>(&b);
        }
    }
}
