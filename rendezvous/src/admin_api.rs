//! The admin, report and note requests consoles send over their signalling
//! connection. Who may do what is decided here, against the account as it
//! is stored now (an admin who was demoted or disabled loses the right at
//! once); `admin` and `report` do the work, and every change is audited
//! with the admin's name.

use tether_protocol::admin::{ANSWER_BYTES, Account, AccountRole, AdminReply, AdminRequest, DeskSettings};
use tether_protocol::signal::SignalError;
use tether_protocol::wire;
use tracing::{info, warn};

use crate::accounts::hash_password;
use crate::admin::{self, AdminError, Change, NewTechnician};
use crate::record::{SessionRecord, Technician};
use crate::report;
use crate::state::Shared;

/// Answers `request` from the logged-in `user`; `Err` only for requests
/// their role does not allow.
pub(crate) async fn answer(
    shared: &Shared,
    user: &str,
    request: AdminRequest,
) -> Result<AdminReply, SignalError> {
    let me = account(shared, user)?;
    let refused = |e: AdminError| AdminReply::Refused(e.to_string());
    let store = &*shared.store;
    let reply = match request {
        AdminRequest::Report { from, to, group_by } => {
            let records = store.sessions().map_err(|e| internal("read session records", &e))?;
            let mine: Vec<SessionRecord> = records.into_iter().filter(|r| may_see(&me, r)).collect();
            let (rows, more) = fit(report::report(&mine, from, to, group_by));
            AdminReply::Report { rows, more }
        }
        AdminRequest::AddNote { session, text } => match shared.add_note(user, session, &text) {
            Ok(()) => AdminReply::Done(format!("note added to session {session}")),
            Err(e) => AdminReply::Refused(e.to_string()),
        },
        _ if me.role != AccountRole::Admin => return Err(SignalError::NotAllowed),
        AdminRequest::Accounts => {
            let all = store.technicians().map_err(|e| internal("read accounts", &e))?;
            let (accounts, more) = fit(all.into_iter().map(|t| public(&t)).collect());
            AdminReply::Accounts { accounts, more }
        }
        AdminRequest::Desks => {
            let all = store.desks().map_err(|e| internal("read desks", &e))?;
            let desks = all
                .into_iter()
                .map(|d| DeskSettings { name: d.name, fields: d.fields, timeout_secs: d.timeout_secs })
                .collect();
            let (desks, more) = fit(desks);
            AdminReply::Desks { desks, more }
        }
        AdminRequest::AddAccount { account, password } => {
            let new = NewTechnician {
                name: account.name,
                organisation: account.organisation,
                role: account.role,
                desks: account.desks,
                password,
            };
            if let Err(e) = admin::check_technician(store, &new) {
                return Ok(refused(e));
            }
            // argon2 is deliberately slow: off the async threads.
            let password = new.password.clone();
            let hash = tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|_| SignalError::Internal)?;
            let name = new.name.clone();
            match hash.map_err(AdminError::from).and_then(|h| admin::add_hashed(store, new, h, Some(user))) {
                Ok(()) => {
                    info!(admin = user, account = %name, "account added");
                    AdminReply::Done(format!("added {name}"))
                }
                Err(e) => refused(e),
            }
        }
        AdminRequest::UpdateAccount { name, role, desks, disabled } => {
            if name == user && (disabled == Some(true) || role.is_some_and(|r| r != AccountRole::Admin)) {
                return Ok(AdminReply::Refused(
                    "you cannot disable or demote your own account; ask another admin".into(),
                ));
            }
            match admin::update_technician(store, &name, Change { role, desks, disabled }, Some(user)) {
                Ok(t) => {
                    info!(admin = user, account = %name, "account changed");
                    let state = if t.disabled { "disabled" } else { "enabled" };
                    AdminReply::Done(format!("{name}: {}, desks {}, {state}", t.role, t.desks.join(",")))
                }
                Err(e) => refused(e),
            }
        }
        AdminRequest::AddDesk(d) => {
            match admin::add_desk(store, &d.name, d.fields, d.timeout_secs, Some(user)) {
                Ok(()) => {
                    info!(admin = user, desk = %d.name, "desk added");
                    AdminReply::Done(format!("added desk {}", d.name))
                }
                Err(e) => refused(e),
            }
        }
    };
    Ok(reply)
}

/// The caller's account as stored now; a disabled one may do nothing.
fn account(shared: &Shared, user: &str) -> Result<Technician, SignalError> {
    match shared.store.technician(user) {
        Ok(Some(t)) if t.disabled => Err(SignalError::AccountDisabled),
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(SignalError::NotLoggedIn),
        Err(e) => Err(internal("read an account", &e)),
    }
}

fn internal(what: &str, e: &dyn std::fmt::Display) -> SignalError {
    warn!("could not {what}: {e}");
    SignalError::Internal
}

/// An admin sees every session, a supervisor their desks', a technician
/// their own.
fn may_see(me: &Technician, r: &SessionRecord) -> bool {
    match me.role {
        AccountRole::Admin => true,
        AccountRole::Supervisor => {
            r.technician == me.name || r.request.as_ref().is_some_and(|q| me.desks.contains(&q.desk))
        }
        AccountRole::Technician => r.technician == me.name,
    }
}

fn public(t: &Technician) -> Account {
    Account {
        name: t.name.clone(),
        organisation: t.organisation.clone(),
        role: t.role,
        desks: t.desks.clone(),
        disabled: t.disabled,
    }
}

/// As many of `items` as fit one answer, and how many did not.
fn fit<T: serde::Serialize>(items: Vec<T>) -> (Vec<T>, u64) {
    let total = items.len();
    let mut used = 0;
    let kept: Vec<T> = items
        .into_iter()
        .take_while(|item| {
            used += wire::encode(item).len();
            used <= ANSWER_BYTES
        })
        .collect();
    let more = (total - kept.len()) as u64;
    (kept, more)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tether_protocol::admin::GroupBy;
    use tether_protocol::desk::FieldSpec;

    use super::*;
    use crate::record::{Outcome, RequestInfo, unix_now};
    use crate::store::{MemoryStore, Store};

    fn person(name: &str, role: AccountRole, desks: &[&str]) -> NewTechnician {
        NewTechnician {
            name: name.into(),
            organisation: "Acme".into(),
            role,
            desks: desks.iter().map(|d| (*d).to_owned()).collect(),
            password: "correct horse".into(),
        }
    }

    fn record(id: u64, tech: &str, desk: &str) -> SessionRecord {
        let mut r = SessionRecord::open(id, tech.into(), 0, 1_000 + id);
        r.ended = Some(1_100 + id);
        r.outcome = Outcome::Ended;
        r.request = Some(RequestInfo {
            request: id,
            desk: desk.into(),
            customer: "c".into(),
            problem: "p".into(),
            fields: vec![],
            requested: 1_000,
            claimed: 1_000 + id,
        });
        r
    }

    /// An admin, a supervisor of billing and a technician of support, with
    /// one session each on their desks.
    fn server() -> (Shared, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::default());
        for desk in ["billing", "support"] {
            admin::add_desk(&*store, desk, vec![], 300, None).unwrap();
        }
        admin::add_technician(&*store, person("root", AccountRole::Admin, &[])).unwrap();
        admin::add_technician(&*store, person("sue", AccountRole::Supervisor, &["billing"])).unwrap();
        admin::add_technician(&*store, person("tom", AccountRole::Technician, &["support"])).unwrap();
        store.put_session(&record(1, "tom", "billing")).unwrap();
        store.put_session(&record(2, "tom", "support")).unwrap();
        store.put_session(&record(3, "root", "support")).unwrap();
        (Shared::new(store.clone(), Duration::from_secs(600)), store)
    }

    fn report() -> AdminRequest {
        AdminRequest::Report { from: 0, to: u64::MAX, group_by: GroupBy::Technician }
    }

    fn sessions(reply: AdminReply) -> Vec<(String, u64)> {
        let AdminReply::Report { rows, more: 0 } = reply else { panic!("{reply:?}") };
        rows.into_iter().map(|r| (r.group, r.sessions)).collect()
    }

    #[tokio::test]
    async fn only_admins_administer_and_each_role_sees_its_own_reports() {
        let (shared, store) = server();
        let add = |name: &str| AdminRequest::AddAccount {
            account: Account {
                name: name.into(),
                organisation: "Acme".into(),
                role: AccountRole::Technician,
                desks: vec!["billing".into()],
                disabled: false,
            },
            password: "another horse".into(),
        };
        assert_eq!(answer(&shared, "tom", add("eve")).await, Err(SignalError::NotAllowed));
        assert_eq!(answer(&shared, "sue", AdminRequest::Accounts).await, Err(SignalError::NotAllowed));
        assert_eq!(answer(&shared, "root", add("eve")).await, Ok(AdminReply::Done("added eve".into())));
        assert!(store.technician("eve").unwrap().is_some_and(|t| t.desks == ["billing"]));
        let again = answer(&shared, "root", add("eve")).await.unwrap();
        assert_eq!(again, AdminReply::Refused("a technician named \"eve\" already exists".into()));
        let Ok(AdminReply::Accounts { accounts, more: 0 }) =
            answer(&shared, "root", AdminRequest::Accounts).await
        else {
            panic!("no accounts")
        };
        assert_eq!(
            accounts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["eve", "root", "sue", "tom"]
        );

        // An admin cannot lock themselves out; a demoted admin loses the
        // right at once.
        let demote = |name: &str| AdminRequest::UpdateAccount {
            name: name.into(),
            role: Some(AccountRole::Technician),
            desks: None,
            disabled: None,
        };
        assert!(matches!(answer(&shared, "root", demote("root")).await, Ok(AdminReply::Refused(_))));
        let promote = AdminRequest::UpdateAccount {
            name: "eve".into(),
            role: Some(AccountRole::Admin),
            desks: None,
            disabled: None,
        };
        answer(&shared, "root", promote).await.unwrap();
        answer(&shared, "eve", demote("root")).await.unwrap();
        assert_eq!(answer(&shared, "root", AdminRequest::Desks).await, Err(SignalError::NotAllowed));

        // Reports: everything for an admin, billing's for its supervisor,
        // their own for a technician.
        let all = sessions(answer(&shared, "eve", report()).await.unwrap());
        assert_eq!(all, [("root".to_owned(), 1), ("tom".to_owned(), 2)]);
        assert_eq!(sessions(answer(&shared, "sue", report()).await.unwrap()), [("tom".to_owned(), 1)]);
        assert_eq!(sessions(answer(&shared, "tom", report()).await.unwrap()), [("tom".to_owned(), 2)]);
        let log = store.audit_log().unwrap();
        let last = log.last().and_then(|(_, e)| e.as_ref()).unwrap();
        assert_eq!(last.event.to_string(), "admin: changed root: technician, desks , enabled by eve");
    }

    #[tokio::test]
    async fn desks_are_checked_and_long_lists_are_cut_to_fit() {
        let (shared, _store) = server();
        let field = FieldSpec::parse("account:Account:required:8:[0-9]+").unwrap();
        let desk = |name: &str, timeout_secs| {
            AdminRequest::AddDesk(DeskSettings {
                name: name.into(),
                fields: vec![field.clone()],
                timeout_secs,
            })
        };
        assert_eq!(
            answer(&shared, "root", desk("sales", 120)).await,
            Ok(AdminReply::Done("added desk sales".into()))
        );
        let late = answer(&shared, "root", desk("late", 0)).await.unwrap();
        assert_eq!(late, AdminReply::Refused("the timeout is 1 to 86400 seconds".into()));
        let Ok(AdminReply::Desks { desks, more: 0 }) = answer(&shared, "root", AdminRequest::Desks).await
        else {
            panic!("no desks")
        };
        assert_eq!(desks[1].fields, [field]);

        let many: Vec<String> = (0..2000).map(|i| format!("group number {i}")).collect();
        let (kept, more) = fit(many);
        assert!(kept.len() > 100 && more > 0 && kept.len() as u64 + more == 2000);
        assert!(wire::encode(&kept).len() <= ANSWER_BYTES + 8);
    }

    #[tokio::test]
    async fn notes_go_to_the_technicians_own_ended_sessions() {
        let (shared, store) = server();
        let note = |session, text: &str| AdminRequest::AddNote { session, text: text.into() };
        let done = answer(&shared, "tom", note(2, "Printer driver reinstalled")).await.unwrap();
        assert_eq!(done, AdminReply::Done("note added to session 2".into()));
        assert_eq!(store.session(2).unwrap().unwrap().notes[0].text, "Printer driver reinstalled");
        let theirs = answer(&shared, "tom", note(3, "not mine")).await.unwrap();
        assert_eq!(theirs, AdminReply::Refused("you have no recorded session with that number".into()));
        let missing = answer(&shared, "tom", note(99, "nothing")).await.unwrap();
        assert!(matches!(missing, AdminReply::Refused(_)));
        // A record still being closed (no end yet, from this run) waits.
        let mut open = record(4, "tom", "support");
        open.ended = None;
        open.started = unix_now();
        store.put_session(&open).unwrap();
        let closing = answer(&shared, "tom", note(4, "too soon")).await.unwrap();
        assert_eq!(
            closing,
            AdminReply::Refused("that session is still being recorded; try again in a moment".into())
        );
    }
}
