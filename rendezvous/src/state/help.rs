//! The help-request queue inside the shared state: customers ask a desk,
//! technicians of that desk see requests come and go, the first claim
//! wins and turns the request into a session with a fresh pre-shared key.

use std::time::Duration;

use rand::RngCore;
use tether_protocol::queue::{HelpRequest, QueueItem};
use tether_protocol::signal::{MAX_SIGNAL_MESSAGE, ServerToClient, SignalError};
use tracing::{info, warn};

use super::{ConnId, Inner, Live, Role, Shared};
use crate::audit::AuditEvent;
use crate::queue::{ClaimError, QueueError, Request};
use crate::record::{Desk, RequestInfo, SessionRecord, unix_now};

/// Bytes of queue entries in one page, leaving room for the envelope.
const PAGE_BYTES: usize = MAX_SIGNAL_MESSAGE - 1024;

/// Tells the technicians watching `desk` (and no one else).
fn tell_watchers(g: &Inner, desk: &str, msg: &ServerToClient) {
    for c in g.conns.values() {
        if let (true, Role::Technician { desks, name, .. }) = (c.watching, &c.role)
            && desks.iter().any(|d| d == desk)
            && c.tx.try_send(msg.clone()).is_err()
        {
            warn!(technician = %name, "a technician's dashboard is not reading; a queue change was dropped");
        }
    }
}

/// A request left the queue: its desk's technicians see it go and the
/// customers behind it move up.
pub(super) fn left_queue(g: &Inner, r: &Request<ConnId>) {
    tell_watchers(g, &r.ask.desk, &ServerToClient::QueueRemoved { request: r.id });
    for (agent, position) in g.queue.moved_up(&r.ask.desk, r.id) {
        if let Some(c) = g.conns.get(&agent) {
            let _ = c.tx.try_send(ServerToClient::QueuePosition(position));
        }
    }
}

impl Shared {
    fn desk(&self, name: &str) -> Result<Desk, SignalError> {
        let desks = self.store.desks().map_err(|e| {
            warn!("could not read the desks: {e}");
            SignalError::Internal
        })?;
        desks.into_iter().find(|d| d.name == name).ok_or(SignalError::NoSuchDesk)
    }

    /// What a desk asks its customers.
    pub(crate) fn desk_info(&self, name: &str) -> Result<ServerToClient, SignalError> {
        let d = self.desk(name)?;
        Ok(ServerToClient::DeskInfo { desk: d.name, fields: d.fields, timeout_secs: d.timeout_secs })
    }

    /// A customer asks for help: checked again here, then queued.
    pub(crate) fn ask_for_help(&self, id: ConnId, ask: HelpRequest) -> Result<ServerToClient, SignalError> {
        let desk = self.desk(&ask.desk)?;
        if let Err(e) = ask.check(&desk.fields) {
            return Ok(ServerToClient::HelpRefused(e.to_string()));
        }
        let mut g = self.lock();
        let now = self.now();
        let (request, position) = g
            .queue
            .submit(ask, id, now, Duration::from_secs(desk.timeout_secs), unix_now())
            .map_err(|QueueError::Full| SignalError::QueueFull)?;
        if let Some(c) = g.conns.get_mut(&id) {
            c.role = Role::Asking;
        }
        let item = g.queue.get(request).map(Request::item);
        if let Some(item) = item {
            tell_watchers(&g, &desk.name, &ServerToClient::QueueAdded(item));
        }
        info!(request, desk = %desk.name, position, "a customer asked for help");
        Ok(ServerToClient::Queued { request, position })
    }

    /// The customer withdraws their request.
    pub(crate) fn cancel_help(&self, id: ConnId) -> Result<(), SignalError> {
        let mut g = self.lock();
        let r = g.queue.withdraw(&id).ok_or(SignalError::Unexpected)?;
        if let Some(c) = g.conns.get_mut(&id) {
            c.role = Role::Anonymous;
        }
        left_queue(&g, &r);
        info!(request = r.id, "a customer withdrew their request");
        Ok(())
    }

    /// A page of the technician's desks' queue after request `after`; from
    /// now on they hear of every change.
    pub(crate) fn queue_page(&self, id: ConnId, after: u64) -> Result<ServerToClient, SignalError> {
        let mut g = self.lock();
        let Some(Role::Technician { desks, .. }) = g.conns.get(&id).map(|c| c.role.clone()) else {
            return Err(SignalError::NotLoggedIn);
        };
        let mut items: Vec<QueueItem> = Vec::new();
        let mut bytes = 0;
        let mut done = true;
        for r in g.queue.waiting(&desks, after) {
            let item = r.item();
            bytes += tether_protocol::wire::encode(&item).len();
            if bytes > PAGE_BYTES && !items.is_empty() {
                done = false;
                break;
            }
            items.push(item);
        }
        if let Some(c) = g.conns.get_mut(&id) {
            c.watching = true;
        }
        Ok(ServerToClient::QueuePage { items, done })
    }

    /// A technician takes a request: exactly one claim wins. The record is
    /// on disk before anyone hears of it; then the technician gets the
    /// request and, after that, the customer hears who took it, so the
    /// customer's first signal never overtakes the grant. Both get the
    /// session's key and STUN/TURN.
    pub(crate) fn claim(&self, id: ConnId, request: u64) -> Result<(), SignalError> {
        let sid = self.store.next_session_id().map_err(|_| SignalError::Internal)?;
        let ice = self.ice.issue(sid);
        let mut psk = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut psk);
        let (grant, claimed, agent, record, event) = {
            let mut g = self.lock();
            let conn = g.conns.get(&id).ok_or(SignalError::Unexpected)?;
            let Role::Technician { name, organisation, desks } = conn.role.clone() else {
                return Err(SignalError::NotLoggedIn);
            };
            if conn.session.is_some() {
                return Err(SignalError::Unexpected);
            }
            let r = g.queue.claim(request, &desks).map_err(|e| match e {
                ClaimError::Gone => SignalError::AlreadyClaimed,
                ClaimError::NotYourDesk => SignalError::NotYourDesk,
            })?;
            let now = unix_now();
            let mut record = SessionRecord::open(sid, name.clone(), 0, now);
            record.request = Some(RequestInfo {
                request: r.id,
                desk: r.ask.desk.clone(),
                customer: r.ask.name.clone(),
                problem: r.ask.problem.clone(),
                fields: r.ask.fields.clone(),
                requested: r.since,
                claimed: now,
            });
            for (conn, role) in [(id, None), (r.agent, Some(Role::Agent))] {
                if let Some(c) = g.conns.get_mut(&conn) {
                    c.session = Some(sid);
                    if let Some(role) = role {
                        c.role = role;
                    }
                }
            }
            left_queue(&g, &r);
            g.sessions.insert(sid, Live::new(record.clone(), id, r.agent));
            let claimed =
                ServerToClient::Claimed { technician: name.clone(), organisation, ice: ice.clone(), psk };
            let event = AuditEvent::Claimed { request: r.id, technician: name, desk: r.ask.desk.clone() };
            (ServerToClient::ClaimGranted { item: r.item(), ice, psk }, claimed, r.agent, record, event)
        };
        self.persist(Some(record))?;
        self.audit(event);
        info!(session = sid, "a request was claimed");
        let g = self.lock();
        for (to, msg) in [(id, grant), (agent, claimed)] {
            if let Some(c) = g.conns.get(&to)
                && c.tx.try_send(msg).is_err()
            {
                warn!(session = sid, "a claimed session's side is not reading");
            }
        }
        // A customer who left while the record was written was announced
        // before the grant; say it again after, where the console listens.
        if !g.conns.contains_key(&agent)
            && let Some(c) = g.conns.get(&id)
        {
            let _ = c.tx.try_send(ServerToClient::PeerLeft);
        }
        Ok(())
    }

    /// Takes out requests nobody claimed in their desk's time and tells
    /// their customers.
    pub(crate) fn expire_requests(&self) {
        self.expire_requests_at(self.now());
    }

    fn expire_requests_at(&self, now: Duration) {
        let mut g = self.lock();
        for r in g.queue.expire(now) {
            info!(request = r.id, desk = %r.ask.desk, "nobody answered a request in time");
            if let Some(c) = g.conns.get_mut(&r.agent) {
                c.role = Role::Anonymous;
                let _ = c.tx.try_send(ServerToClient::NobodyAnswered);
            }
            left_queue(&g, &r);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tether_protocol::desk::FieldSpec;
    use tokio::sync::mpsc;

    use super::*;
    use crate::store::{MemoryStore, Store};

    type Rx = mpsc::Receiver<ServerToClient>;

    fn shared() -> Shared {
        let store = Arc::new(MemoryStore::default());
        for (name, timeout) in [("billing", 60), ("tech", 5)] {
            let fields = vec![FieldSpec::parse("account:Account:required:8:[0-9]+").unwrap()];
            store.add_desk(&Desk { name: name.into(), fields, timeout_secs: timeout, created: 0 }).unwrap();
        }
        Shared::new(store, Duration::from_secs(600))
    }

    fn technician(s: &Shared, name: &str, desks: &[&str]) -> (ConnId, Rx) {
        let (tx, rx) = mpsc::channel(1024);
        let id = s.register(tx);
        let desks = desks.iter().map(|d| (*d).to_owned()).collect();
        s.set_role(id, Role::Technician { name: name.into(), organisation: "Acme".into(), desks });
        assert!(matches!(s.queue_page(id, 0), Ok(ServerToClient::QueuePage { done: true, .. })));
        (id, rx)
    }

    fn customer(s: &Shared, desk: &str, name: &str) -> (ConnId, Rx, Result<ServerToClient, SignalError>) {
        let (tx, rx) = mpsc::channel(64);
        let id = s.register(tx);
        let ask = HelpRequest {
            desk: desk.into(),
            name: name.into(),
            problem: "it broke".into(),
            fields: vec![("account".into(), "1234".into())],
        };
        let answer = s.ask_for_help(id, ask);
        (id, rx, answer)
    }

    fn drain(rx: &mut Rx) -> Vec<ServerToClient> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    fn added(msgs: &[ServerToClient]) -> Vec<u64> {
        msgs.iter()
            .filter_map(|m| if let ServerToClient::QueueAdded(i) = m { Some(i.request) } else { None })
            .collect()
    }

    #[test]
    fn each_desk_sees_its_own_requests_and_each_is_claimed_once() {
        let s = shared();
        let (alice, mut alice_rx) = technician(&s, "alice", &["billing"]);
        let (bob, mut bob_rx) = technician(&s, "bob", &["billing", "tech"]);
        let (_carol, mut carol_rx) = technician(&s, "carol", &["tech"]);
        let mut customers = Vec::new();
        for i in 0..10 {
            let desk = if i % 3 == 0 { "tech" } else { "billing" };
            let (id, rx, answer) = customer(&s, desk, &format!("c{i}"));
            assert!(matches!(answer, Ok(ServerToClient::Queued { .. })), "{answer:?}");
            customers.push((id, rx, desk));
        }
        let (a, b, c) =
            (added(&drain(&mut alice_rx)), added(&drain(&mut bob_rx)), added(&drain(&mut carol_rx)));
        assert_eq!(a, [2, 3, 5, 6, 8, 9], "alice sees billing only");
        assert_eq!(b, (1..=10).collect::<Vec<_>>(), "bob sees both");
        assert_eq!(c, [1, 4, 7, 10], "carol sees tech only");
        // A page from the start shows the same as the live additions.
        let Ok(ServerToClient::QueuePage { items, done: true }) = s.queue_page(alice, 0) else { panic!() };
        assert_eq!(items.iter().map(|i| i.request).collect::<Vec<_>>(), a);

        assert_eq!(s.claim(alice, 1), Err(SignalError::NotYourDesk));
        s.claim(alice, 2).unwrap();
        let granted = drain(&mut alice_rx);
        let Some(ServerToClient::ClaimGranted { item, psk, .. }) =
            granted.iter().find(|m| matches!(m, ServerToClient::ClaimGranted { .. }))
        else {
            panic!("{granted:?}")
        };
        let psk = *psk;
        assert_eq!(item.ask.name, "c1");
        assert_eq!(s.claim(bob, 2), Err(SignalError::AlreadyClaimed));
        // The customer got the same key; everyone of billing saw it go.
        let got = drain(&mut customers[1].1);
        assert!(got.iter().any(|m| matches!(m, ServerToClient::Claimed { psk: p, technician, .. } if *p == psk && technician == "alice")));
        assert!(drain(&mut bob_rx).contains(&ServerToClient::QueueRemoved { request: 2 }));
        assert!(!drain(&mut carol_rx).contains(&ServerToClient::QueueRemoved { request: 2 }));
        // The next billing customer moved up to first.
        assert!(drain(&mut customers[2].1).contains(&ServerToClient::QueuePosition(1)));
        // A technician already in a session cannot claim another.
        assert_eq!(s.claim(alice, 3), Err(SignalError::Unexpected));

        // Cancel, and a customer who leaves, are gone for everyone.
        s.cancel_help(customers[2].0).unwrap();
        s.unregister(customers[4].0);
        let seen = drain(&mut bob_rx);
        assert!(seen.contains(&ServerToClient::QueueRemoved { request: 3 }));
        assert!(seen.contains(&ServerToClient::QueueRemoved { request: 5 }));
        assert_eq!(s.claim(bob, 3), Err(SignalError::AlreadyClaimed));

        // The tech desk times out after 5 s; billing waits longer.
        s.expire_requests_at(s.now() + Duration::from_secs(6));
        for (i, (_, rx, desk)) in customers.iter_mut().enumerate() {
            let timed_out = drain(rx).contains(&ServerToClient::NobodyAnswered);
            assert_eq!(timed_out, *desk == "tech", "customer {i}");
        }
        let Ok(ServerToClient::QueuePage { items, .. }) = s.queue_page(bob, 0) else { panic!() };
        assert_eq!(items.iter().map(|i| i.request).collect::<Vec<_>>(), [6, 8, 9]);
        let record = s.store.sessions().unwrap().pop().unwrap();
        let info = record.request.unwrap();
        assert_eq!((info.desk.as_str(), info.customer.as_str(), info.request), ("billing", "c1", 2));
    }

    #[test]
    fn fifty_concurrent_claims_have_one_winner() {
        let s = Arc::new(shared());
        let techs: Vec<ConnId> = (0..50).map(|i| technician(&s, &format!("t{i}"), &["billing"]).0).collect();
        let (_c, _rx, answer) = customer(&s, "billing", "carol");
        let Ok(ServerToClient::Queued { request, .. }) = answer else { panic!("{answer:?}") };
        let barrier = Arc::new(std::sync::Barrier::new(techs.len()));
        let threads: Vec<_> = techs
            .into_iter()
            .map(|t| {
                let (s, barrier) = (Arc::clone(&s), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    s.claim(t, request)
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results.iter().filter(|r| r.is_err()).all(|r| *r == Err(SignalError::AlreadyClaimed)));
        assert_eq!(s.store.sessions().unwrap().len(), 1);
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        let s = shared();
        let (tx, _rx) = mpsc::channel(8);
        let id = s.register(tx);
        let ask = |desk: &str, account: &str| HelpRequest {
            desk: desk.into(),
            name: "Carol".into(),
            problem: "x".into(),
            fields: vec![("account".into(), account.into())],
        };
        assert_eq!(s.ask_for_help(id, ask("nowhere", "1")), Err(SignalError::NoSuchDesk));
        assert_eq!(
            s.ask_for_help(id, ask("billing", "12ab")),
            Ok(ServerToClient::HelpRefused("Account is not in the expected format".into()))
        );
        assert_eq!(
            s.ask_for_help(id, ask("billing", "123456789")),
            Ok(ServerToClient::HelpRefused("Account is too long: at most 8 characters".into()))
        );
    }
}
