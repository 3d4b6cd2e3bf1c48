//! The store on disk, in sled: one tree per kind of data, every write
//! flushed before it returns.

use std::path::Path;
use std::sync::Mutex;

use super::{Store, StoreError};
use crate::audit::{AuditEntry, AuditEvent};
use crate::record::{Desk, SessionRecord, Technician};

/// sled, on disk.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    technicians: sled::Tree,
    sessions: sled::Tree,
    settings: sled::Tree,
    desks: sled::Tree,
    audit: sled::Tree,
    /// The audit log's next number and last hash, once read; appends hold
    /// it so the chain never forks.
    audit_tail: Mutex<Option<(u64, [u8; 32])>>,
}

/// The settings key of the canned replies.
const CANNED: &[u8] = b"canned-replies";

/// How long `open` waits for another holder of the lock to let go.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// sled reports a held lock as an `Other` I/O error wrapping `EWOULDBLOCK`.
fn is_lock_error(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

fn db_err(e: sled::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    ///
    /// A lock held by a process that is just exiting (a restart, or a handle
    /// dropped a moment ago whose flusher thread has not finished) is waited
    /// for briefly before the open fails with [`StoreError::Locked`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let db = loop {
            match sled::open(dir) {
                Ok(db) => break db,
                Err(e) if is_lock_error(&e) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::Locked);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(other) => return Err(db_err(other)),
            }
        };
        Ok(Self {
            technicians: db.open_tree("technicians").map_err(db_err)?,
            sessions: db.open_tree("sessions").map_err(db_err)?,
            settings: db.open_tree("settings").map_err(db_err)?,
            desks: db.open_tree("desks").map_err(db_err)?,
            audit: db.open_tree("audit").map_err(db_err)?,
            audit_tail: Mutex::new(None),
            db,
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(db_err)
    }

    /// The audit tree, for tests that tamper with it as an attacker with
    /// the disk would.
    #[doc(hidden)]
    pub fn audit_tree(&self) -> &sled::Tree {
        &self.audit
    }

    fn audit_tail(&self) -> Result<(u64, [u8; 32]), StoreError> {
        let Some((key, value)) = self.audit.last().map_err(db_err)? else { return Ok((0, [0; 32])) };
        let seq = u64::from_be_bytes(key.as_ref().try_into().map_err(|_| StoreError::Corrupt("audit log"))?);
        // After a damaged last entry the chain goes on; `audit verify` names the damage.
        let hash = postcard::from_bytes::<AuditEntry>(&value).map_or([0; 32], |e| e.hash);
        Ok((seq + 1, hash))
    }
}

fn decode_technician(v: &[u8]) -> Result<Technician, StoreError> {
    Technician::decode(v).ok_or(StoreError::Corrupt("technician"))
}

impl Store for SledStore {
    fn add_technician(&self, t: &Technician) -> Result<(), StoreError> {
        let value = postcard::to_stdvec(t).map_err(|_| StoreError::Corrupt("technician"))?;
        self.technicians
            .compare_and_swap(t.name.as_bytes(), None::<&[u8]>, Some(value))
            .map_err(db_err)?
            .map_err(|_| StoreError::Exists(format!("a technician named {:?}", t.name)))?;
        self.flush()
    }

    fn technician(&self, name: &str) -> Result<Option<Technician>, StoreError> {
        self.technicians.get(name.as_bytes()).map_err(db_err)?.map(|v| decode_technician(&v)).transpose()
    }

    fn technicians(&self) -> Result<Vec<Technician>, StoreError> {
        self.technicians.iter().values().map(|v| decode_technician(&v.map_err(db_err)?)).collect()
    }

    fn next_session_id(&self) -> Result<u64, StoreError> {
        self.db.generate_id().map_err(db_err)
    }

    fn put_session(&self, r: &SessionRecord) -> Result<(), StoreError> {
        let value = postcard::to_stdvec(r).map_err(|_| StoreError::Corrupt("session"))?;
        self.sessions.insert(r.id.to_be_bytes(), value).map_err(db_err)?;
        self.flush()
    }

    fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        self.sessions
            .iter()
            .values()
            .map(|v| SessionRecord::decode(&v.map_err(db_err)?).ok_or(StoreError::Corrupt("session")))
            .collect()
    }

    fn session(&self, id: u64) -> Result<Option<SessionRecord>, StoreError> {
        self.sessions
            .get(id.to_be_bytes())
            .map_err(db_err)?
            .map(|v| SessionRecord::decode(&v).ok_or(StoreError::Corrupt("session")))
            .transpose()
    }

    fn canned_replies(&self) -> Result<Vec<String>, StoreError> {
        match self.settings.get(CANNED).map_err(db_err)? {
            Some(v) => postcard::from_bytes(&v).map_err(|_| StoreError::Corrupt("canned replies")),
            None => Ok(Vec::new()),
        }
    }

    fn set_canned_replies(&self, replies: &[String]) -> Result<(), StoreError> {
        let value = postcard::to_stdvec(replies).map_err(|_| StoreError::Corrupt("canned replies"))?;
        self.settings.insert(CANNED, value).map_err(db_err)?;
        self.flush()
    }

    fn update_technician(&self, t: &Technician) -> Result<(), StoreError> {
        let value = postcard::to_stdvec(t).map_err(|_| StoreError::Corrupt("technician"))?;
        let old = self.technicians.get(t.name.as_bytes()).map_err(db_err)?;
        let Some(old) = old else { return Err(StoreError::NotFound(format!("technician {:?}", t.name))) };
        self.technicians
            .compare_and_swap(t.name.as_bytes(), Some(old), Some(value))
            .map_err(db_err)?
            .map_err(|_| StoreError::Db("the account changed at the same time; try again".into()))?;
        self.flush()
    }

    fn add_desk(&self, d: &Desk) -> Result<(), StoreError> {
        let value = postcard::to_stdvec(d).map_err(|_| StoreError::Corrupt("desk"))?;
        self.desks
            .compare_and_swap(d.name.as_bytes(), None::<&[u8]>, Some(value))
            .map_err(db_err)?
            .map_err(|_| StoreError::Exists(format!("a desk named {:?}", d.name)))?;
        self.flush()
    }

    fn desks(&self) -> Result<Vec<Desk>, StoreError> {
        self.desks
            .iter()
            .values()
            .map(|v| postcard::from_bytes(&v.map_err(db_err)?).map_err(|_| StoreError::Corrupt("desk")))
            .collect()
    }

    fn append_audit(&self, at: u64, event: AuditEvent) -> Result<AuditEntry, StoreError> {
        let mut tail = self.audit_tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (seq, prev) = match *tail {
            Some(t) => t,
            None => self.audit_tail()?,
        };
        let entry = AuditEntry::next(seq, at, event, prev);
        let value = postcard::to_stdvec(&entry).map_err(|_| StoreError::Corrupt("audit entry"))?;
        self.audit.insert(seq.to_be_bytes(), value).map_err(db_err)?;
        self.flush()?;
        *tail = Some((seq + 1, entry.hash));
        Ok(entry)
    }

    fn audit_log(&self) -> Result<Vec<(u64, Option<AuditEntry>)>, StoreError> {
        self.audit
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(db_err)?;
                let key =
                    u64::from_be_bytes(k.as_ref().try_into().map_err(|_| StoreError::Corrupt("audit log"))?);
                Ok((key, postcard::from_bytes(&v).ok()))
            })
            .collect()
    }
}
