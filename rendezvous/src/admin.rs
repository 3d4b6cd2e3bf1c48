//! Administering accounts and desks (the command line, and later the
//! console's admin screen): inputs are checked with messages for people,
//! and every change is written to the audit log.

use tether_protocol::desk::{FieldSpec, MAX_DESK_NAME, MAX_FIELDS};

use crate::accounts::{PasswordError, hash_password};
use crate::audit::{AuditEvent, Broken};
use crate::record::{AccountRole, Desk, Technician, unix_now};
use crate::store::{Store, StoreError};

/// Longest technician name, in bytes.
pub const MAX_NAME: usize = 64;
/// Longest a desk may let a request wait, in seconds.
pub const MAX_TIMEOUT_SECS: u64 = 24 * 3600;

/// Why an administrative change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad input, said plainly.
    #[error("{0}")]
    Invalid(String),
    /// The password was refused.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log is broken.
    #[error("the audit log is broken: {0}")]
    Audit(#[from] Broken),
}

/// A technician to add.
#[derive(Debug, Clone)]
pub struct NewTechnician {
    /// Login name.
    pub name: String,
    /// Organisation shown to customers.
    pub organisation: String,
    /// What the account may do.
    pub role: AccountRole,
    /// Desks whose queues it serves.
    pub desks: Vec<String>,
    /// The password, in clear, hashed here.
    pub password: String,
}

fn check_name(what: &str, name: &str, max: usize) -> Result<(), AdminError> {
    if name.is_empty() || name.len() > max || name.chars().any(char::is_control) || name.trim() != name {
        return Err(AdminError::Invalid(format!("a {what} name has 1 to {max} printable characters")));
    }
    Ok(())
}

/// Writes `what` to the audit log, naming the admin who did it when it was
/// done from a console (`by`), not on the server's command line.
fn audit(store: &dyn Store, by: Option<&str>, what: String) -> Result<(), AdminError> {
    let what = match by {
        Some(admin) => format!("{what} by {admin}"),
        None => what,
    };
    store.append_audit(unix_now(), AuditEvent::Admin { what })?;
    Ok(())
}

fn check_desks(store: &dyn Store, desks: &[String]) -> Result<(), AdminError> {
    let known = store.desks()?;
    match desks.iter().find(|d| !known.iter().any(|k| k.name == **d)) {
        Some(missing) => {
            Err(AdminError::Invalid(format!("there is no desk called {missing:?}; add it first")))
        }
        None => Ok(()),
    }
}

/// Adds a technician.
pub fn add_technician(store: &dyn Store, new: NewTechnician) -> Result<(), AdminError> {
    check_technician(store, &new)?;
    let password_hash = hash_password(&new.password)?;
    add_hashed(store, new, password_hash, None)
}

/// Checks a technician to add before its password is hashed.
pub fn check_technician(store: &dyn Store, new: &NewTechnician) -> Result<(), AdminError> {
    check_name("technician", &new.name, MAX_NAME)?;
    if new.organisation.len() > MAX_NAME || new.organisation.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "an organisation name has at most {MAX_NAME} printable characters"
        )));
    }
    check_desks(store, &new.desks)
}

/// Adds a technician whose password `check_technician` passed and was
/// hashed (off the async threads, by the caller); `by` is the admin.
pub fn add_hashed(
    store: &dyn Store,
    new: NewTechnician,
    password_hash: String,
    by: Option<&str>,
) -> Result<(), AdminError> {
    check_technician(store, &new)?;
    let t = Technician {
        name: new.name,
        organisation: new.organisation,
        password_hash,
        created: unix_now(),
        role: new.role,
        desks: new.desks,
        disabled: false,
    };
    store.add_technician(&t)?;
    audit(store, by, format!("added {} {} (desks: {})", t.role, t.name, t.desks.join(",")))
}

/// What to change in an account; `None` keeps what it has.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// A new role.
    pub role: Option<AccountRole>,
    /// New desks.
    pub desks: Option<Vec<String>>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

/// Changes a technician's role, desks or state (those given); `by` is the
/// admin, if done from a console.
pub fn update_technician(
    store: &dyn Store,
    name: &str,
    change: Change,
    by: Option<&str>,
) -> Result<Technician, AdminError> {
    let Change { role, desks, disabled } = change;
    let mut t = store
        .technician(name)?
        .ok_or_else(|| AdminError::Invalid(format!("there is no technician called {name:?}")))?;
    if let Some(d) = &desks {
        check_desks(store, d)?;
    }
    t.role = role.unwrap_or(t.role);
    t.desks = desks.unwrap_or(t.desks);
    t.disabled = disabled.unwrap_or(t.disabled);
    store.update_technician(&t)?;
    let state = if t.disabled { "disabled" } else { "enabled" };
    audit(store, by, format!("changed {}: {}, desks {}, {state}", t.name, t.role, t.desks.join(",")))?;
    Ok(t)
}

/// Adds a desk; `by` is the admin, if done from a console.
pub fn add_desk(
    store: &dyn Store,
    name: &str,
    fields: Vec<FieldSpec>,
    timeout_secs: u64,
    by: Option<&str>,
) -> Result<(), AdminError> {
    check_name("desk", name, MAX_DESK_NAME)?;
    if fields.len() > MAX_FIELDS {
        return Err(AdminError::Invalid(format!("a desk has at most {MAX_FIELDS} fields")));
    }
    for (i, f) in fields.iter().enumerate() {
        f.check().map_err(|e| AdminError::Invalid(e.to_string()))?;
        if fields[..i].iter().any(|g| g.key == f.key) {
            return Err(AdminError::Invalid(format!("two fields are called {}", f.key)));
        }
    }
    if timeout_secs == 0 || timeout_secs > MAX_TIMEOUT_SECS {
        return Err(AdminError::Invalid(format!("the timeout is 1 to {MAX_TIMEOUT_SECS} seconds")));
    }
    let keys: Vec<String> = fields.iter().map(|f| f.key.clone()).collect();
    store.add_desk(&Desk { name: name.to_owned(), fields, timeout_secs, created: unix_now() })?;
    audit(store, by, format!("added desk {name} (fields: {}; timeout {timeout_secs} s)", keys.join(",")))
}

/// One line per technician: name, organisation, role, desks, state.
pub fn technician_lines(store: &dyn Store) -> Result<Vec<String>, AdminError> {
    Ok(store
        .technicians()?
        .iter()
        .map(|t| {
            let state = if t.disabled { "disabled" } else { "enabled" };
            format!("{}\t{}\t{}\t{}\t{state}", t.name, t.organisation, t.role, t.desks.join(","))
        })
        .collect())
}

/// One line per desk: name, timeout, fields.
pub fn desk_lines(store: &dyn Store) -> Result<Vec<String>, AdminError> {
    Ok(store
        .desks()?
        .iter()
        .map(|d| {
            let fields: Vec<String> = d
                .fields
                .iter()
                .map(|f| {
                    let need = if f.required { "required" } else { "optional" };
                    let pattern = f.pattern.as_deref().map(|p| format!(":{p}")).unwrap_or_default();
                    format!("{}:{}:{need}:{}{pattern}", f.key, f.label, f.max_chars)
                })
                .collect();
            format!("{}\t{}\t{}", d.name, d.timeout_secs, fields.join(" "))
        })
        .collect())
}

/// Checks the audit chain; the number of sound entries.
pub fn verify_audit(store: &dyn Store) -> Result<u64, AdminError> {
    Ok(crate::audit::verify(store.audit_log()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn alice(desks: &[&str]) -> NewTechnician {
        NewTechnician {
            name: "alice".into(),
            organisation: "Acme".into(),
            role: AccountRole::Technician,
            desks: desks.iter().map(|d| (*d).to_owned()).collect(),
            password: "correct horse".into(),
        }
    }

    #[test]
    fn accounts_and_desks_are_checked_and_audited() {
        let store = MemoryStore::default();
        let e = add_technician(&store, alice(&["billing"])).unwrap_err();
        assert_eq!(e.to_string(), "there is no desk called \"billing\"; add it first");
        let field = FieldSpec::parse("account:Account:required:8:[0-9]+").unwrap();
        add_desk(&store, "billing", vec![field.clone(), field], 300, None).unwrap_err();
        add_desk(&store, "billing", vec![FieldSpec::parse("account:Account:required:8").unwrap()], 300, None)
            .unwrap();
        assert!(add_desk(&store, "late", vec![], 0, None).is_err());
        assert!(add_desk(&store, " padded", vec![], 10, None).is_err());
        add_technician(&store, alice(&["billing"])).unwrap();
        assert!(matches!(add_technician(&store, alice(&[])), Err(AdminError::Store(StoreError::Exists(_)))));
        let change = Change { role: Some(AccountRole::Supervisor), desks: None, disabled: Some(true) };
        let t = update_technician(&store, "alice", change, Some("root")).unwrap();
        assert!(t.disabled && t.role == AccountRole::Supervisor && t.desks == ["billing"]);
        assert_eq!(technician_lines(&store).unwrap(), ["alice\tAcme\tsupervisor\tbilling\tdisabled"]);
        assert_eq!(desk_lines(&store).unwrap(), ["billing\t300\taccount:Account:required:8"]);
        // Three changes, three audit entries, and the chain holds; a change
        // made from a console names its admin.
        assert_eq!(verify_audit(&store).unwrap(), 3);
        let last = store.audit_log().unwrap().pop().unwrap().1.unwrap();
        assert_eq!(
            last.event.to_string(),
            "admin: changed alice: supervisor, desks billing, disabled by root"
        );
    }
}
