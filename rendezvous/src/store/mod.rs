//! Persistence behind the `Store` trait: sled on disk, and an in-memory twin.
//!
//! Every write that matters is flushed before the call returns, so a
//! `kill -9` loses nothing that was acknowledged.

mod memory;
mod sled_store;
#[cfg(test)]
mod tests;

use crate::audit::{AuditEntry, AuditEvent};
use crate::record::{Desk, SessionRecord, Technician};

pub use memory::MemoryStore;
pub use sled_store::SledStore;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error: {0}")]
    Db(String),
    /// A stored value did not decode; the database is damaged.
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    /// Another process (a running server) has the database open.
    #[error("the database is in use by another process (a running server?); stop it first")]
    Locked,
    /// A technician or desk of this name exists already.
    #[error("{0} already exists")]
    Exists(String),
    /// No technician or desk of this name.
    #[error("there is no {0}")]
    NotFound(String),
}

/// What the server keeps.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Adds a technician; fails if the name is taken.
    fn add_technician(&self, t: &Technician) -> Result<(), StoreError>;
    /// Looks a technician up by name.
    fn technician(&self, name: &str) -> Result<Option<Technician>, StoreError>;
    /// All technicians, by name.
    fn technicians(&self) -> Result<Vec<Technician>, StoreError>;
    /// A fresh session id.
    fn next_session_id(&self) -> Result<u64, StoreError>;
    /// Writes a session record, replacing one with the same id.
    fn put_session(&self, r: &SessionRecord) -> Result<(), StoreError>;
    /// All session records, oldest first.
    fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError>;
    /// One session record by its id.
    fn session(&self, id: u64) -> Result<Option<SessionRecord>, StoreError>;
    /// The canned chat replies, in order.
    fn canned_replies(&self) -> Result<Vec<String>, StoreError>;
    /// Replaces the canned chat replies.
    fn set_canned_replies(&self, replies: &[String]) -> Result<(), StoreError>;
    /// Replaces an existing technician's account (role, desks, disabled).
    fn update_technician(&self, t: &Technician) -> Result<(), StoreError>;
    /// Adds a desk; fails if the name is taken.
    fn add_desk(&self, d: &Desk) -> Result<(), StoreError>;
    /// All desks, by name.
    fn desks(&self) -> Result<Vec<Desk>, StoreError>;
    /// Appends to the audit log, chained to the last entry, durably.
    fn append_audit(&self, at: u64, event: AuditEvent) -> Result<AuditEntry, StoreError>;
    /// The audit log in order, with `None` for entries that do not decode.
    fn audit_log(&self) -> Result<Vec<(u64, Option<AuditEntry>)>, StoreError>;
}
