//! The store in memory, for tests of the logic above it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Store, StoreError};
use crate::audit::{AuditEntry, AuditEvent};
use crate::record::{Desk, SessionRecord, Technician};

#[derive(Debug, Default)]
struct Memory {
    technicians: BTreeMap<String, Technician>,
    sessions: BTreeMap<u64, SessionRecord>,
    last_id: u64,
    canned: Vec<String>,
    desks: BTreeMap<String, Desk>,
    audit: Vec<AuditEntry>,
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
            return Err(StoreError::Exists(format!("a technician named {:?}", t.name)));
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

    fn session(&self, id: u64) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.lock().sessions.get(&id).cloned())
    }

    fn canned_replies(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.lock().canned.clone())
    }

    fn set_canned_replies(&self, replies: &[String]) -> Result<(), StoreError> {
        replies.clone_into(&mut self.lock().canned);
        Ok(())
    }

    fn update_technician(&self, t: &Technician) -> Result<(), StoreError> {
        let mut g = self.lock();
        let Some(old) = g.technicians.get_mut(&t.name) else {
            return Err(StoreError::NotFound(format!("technician {:?}", t.name)));
        };
        *old = t.clone();
        Ok(())
    }

    fn add_desk(&self, d: &Desk) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.desks.contains_key(&d.name) {
            return Err(StoreError::Exists(format!("a desk named {:?}", d.name)));
        }
        g.desks.insert(d.name.clone(), d.clone());
        Ok(())
    }

    fn desks(&self) -> Result<Vec<Desk>, StoreError> {
        Ok(self.lock().desks.values().cloned().collect())
    }

    fn append_audit(&self, at: u64, event: AuditEvent) -> Result<AuditEntry, StoreError> {
        let mut g = self.lock();
        let prev = g.audit.last().map_or([0; 32], |e| e.hash);
        let entry = AuditEntry::next(g.audit.len() as u64, at, event, prev);
        g.audit.push(entry.clone());
        Ok(entry)
    }

    fn audit_log(&self) -> Result<Vec<(u64, Option<AuditEntry>)>, StoreError> {
        Ok(self.lock().audit.iter().map(|e| (e.seq, Some(e.clone()))).collect())
    }
}
