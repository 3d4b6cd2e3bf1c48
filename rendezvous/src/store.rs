//! Persistence behind the `Store` trait: sled on disk, and an in-memory twin.
//!
//! Every write that matters is flushed before the call returns, so a
//! `kill -9` loses nothing that was acknowledged.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use crate::record::{SessionRecord, Technician};

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
    /// A technician of this name exists already.
    #[error("a technician named {0:?} already exists")]
    Exists(String),
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
    /// The canned chat replies, in order.
    fn canned_replies(&self) -> Result<Vec<String>, StoreError>;
    /// Replaces the canned chat replies.
    fn set_canned_replies(&self, replies: &[String]) -> Result<(), StoreError>;
}

/// sled, on disk.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    technicians: sled::Tree,
    sessions: sled::Tree,
    settings: sled::Tree,
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
            db,
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(db_err)
    }
}

impl Store for SledStore {
    fn add_technician(&self, t: &Technician) -> Result<(), StoreError> {
        let value = postcard::to_stdvec(t).map_err(|_| StoreError::Corrupt("technician"))?;
        self.technicians
            .compare_and_swap(t.name.as_bytes(), None::<&[u8]>, Some(value))
            .map_err(db_err)?
            .map_err(|_| StoreError::Exists(t.name.clone()))?;
        self.flush()
    }

    fn technician(&self, name: &str) -> Result<Option<Technician>, StoreError> {
        self.technicians
            .get(name.as_bytes())
            .map_err(db_err)?
            .map(|v| postcard::from_bytes(&v).map_err(|_| StoreError::Corrupt("technician")))
            .transpose()
    }

    fn technicians(&self) -> Result<Vec<Technician>, StoreError> {
        self.technicians
            .iter()
            .values()
            .map(|v| postcard::from_bytes(&v.map_err(db_err)?).map_err(|_| StoreError::Corrupt("technician")))
            .collect()
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
}

#[derive(Debug, Default)]
struct Memory {
    technicians: BTreeMap<String, Technician>,
    sessions: BTreeMap<u64, SessionRecord>,
    last_id: u64,
    canned: Vec<String>,
}

/// In memory, for tests of the logic above the store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Memory>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn add_technician(&self, t: &Technician) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.technicians.contains_key(&t.name) {
            return Err(StoreError::Exists(t.name.clone()));
        }
        g.technicians.insert(t.name.clone(), t.clone());
        Ok(())
    }

    fn technician(&self, name: &str) -> Result<Option<Technician>, StoreError> {
        Ok(self.lock().technicians.get(name).cloned())
    }

    fn technicians(&self) -> Result<Vec<Technician>, StoreError> {
        Ok(self.lock().technicians.values().cloned().collect())
    }

    fn next_session_id(&self) -> Result<u64, StoreError> {
        let mut g = self.lock();
        g.last_id += 1;
        Ok(g.last_id)
    }

    fn put_session(&self, r: &SessionRecord) -> Result<(), StoreError> {
        self.lock().sessions.insert(r.id, r.clone());
        Ok(())
    }

    fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(self.lock().sessions.values().cloned().collect())
    }

    fn canned_replies(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.lock().canned.clone())
    }

    fn set_canned_replies(&self, replies: &[String]) -> Result<(), StoreError> {
        replies.clone_into(&mut self.lock().canned);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn Store) {
        let t = Technician {
            name: "alice".into(),
            organisation: "Acme".into(),
            password_hash: "x".into(),
            created: 1,
        };
        store.add_technician(&t).unwrap();
        assert!(matches!(store.add_technician(&t), Err(StoreError::Exists(_))));
        assert_eq!(store.technician("alice").unwrap(), Some(t));
        assert_eq!(store.technician("bob").unwrap(), None);
        let id = store.next_session_id().unwrap();
        let mut r = SessionRecord::open(id, "alice".into(), 123, 5);
        store.put_session(&r).unwrap();
        r.ended = Some(9);
        store.put_session(&r).unwrap();
        assert_eq!(store.sessions().unwrap(), vec![r]);
        assert!(store.canned_replies().unwrap().is_empty());
        store.set_canned_replies(&["Please restart".into(), "One moment".into()]).unwrap();
        assert_eq!(store.canned_replies().unwrap(), ["Please restart", "One moment"]);
    }

    #[test]
    fn memory_store_behaves() {
        exercise(&MemoryStore::default());
    }

    #[test]
    fn sled_store_behaves_and_persists() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        exercise(&SledStore::open(&dir).unwrap());
        let reopened = SledStore::open(&dir).unwrap();
        assert_eq!(reopened.technicians().unwrap().len(), 1);
        assert_eq!(reopened.sessions().unwrap().len(), 1);
        assert_eq!(reopened.canned_replies().unwrap().len(), 2);
    }

    #[test]
    fn a_second_open_while_held_is_refused_as_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let _held = SledStore::open(&dir).unwrap();
        assert!(matches!(SledStore::open(&dir), Err(StoreError::Locked)));
    }
}
