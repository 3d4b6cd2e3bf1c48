//! The same checks against both stores.

use super::*;
use crate::record::AccountRole;

fn exercise(store: &dyn Store) {
    let t = Technician {
        name: "alice".into(),
        organisation: "Acme".into(),
        password_hash: "x".into(),
        created: 1,
        role: AccountRole::Technician,
        desks: vec!["billing".into()],
        disabled: false,
    };
    store.add_technician(&t).unwrap();
    assert!(matches!(store.add_technician(&t), Err(StoreError::Exists(_))));
    assert_eq!(store.technician("alice").unwrap(), Some(t.clone()));
    let changed = Technician { disabled: true, role: AccountRole::Supervisor, ..t };
    store.update_technician(&changed).unwrap();
    assert_eq!(store.technician("alice").unwrap(), Some(changed));
    let ghost = Technician { name: "ghost".into(), ..store.technician("alice").unwrap().unwrap() };
    assert!(matches!(store.update_technician(&ghost), Err(StoreError::NotFound(_))));
    let desk = Desk { name: "billing".into(), fields: vec![], timeout_secs: 300, created: 2 };
    store.add_desk(&desk).unwrap();
    assert!(matches!(store.add_desk(&desk), Err(StoreError::Exists(_))));
    assert_eq!(store.desks().unwrap(), [desk]);
    for user in ["a", "b", "c"] {
        store.append_audit(7, AuditEvent::LoginOk { user: user.into() }).unwrap();
    }
    assert_eq!(crate::audit::verify(store.audit_log().unwrap()), Ok(3));
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
    // The chain goes on from where it was after a restart.
    reopened.append_audit(8, AuditEvent::LoginOk { user: "d".into() }).unwrap();
    assert_eq!(crate::audit::verify(reopened.audit_log().unwrap()), Ok(4));
    // One byte changed on disk is found, and named.
    let (key, value) = reopened.audit_tree().get(2u64.to_be_bytes()).unwrap().map(|v| (2u64, v)).unwrap();
    let mut bytes = value.to_vec();
    let at = bytes.len() - 40;
    bytes[at] ^= 1;
    reopened.audit_tree().insert(key.to_be_bytes(), bytes).unwrap();
    assert_eq!(crate::audit::verify(reopened.audit_log().unwrap()), Err(crate::audit::Broken::Changed(2)));
}

#[test]
fn a_second_open_while_held_is_refused_as_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let _held = SledStore::open(&dir).unwrap();
    assert!(matches!(SledStore::open(&dir), Err(StoreError::Locked)));
}
