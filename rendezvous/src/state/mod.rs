//! The server's shared state, in one struct: connections, live codes, the
//! help-request queue (`help`) and live sessions. No lock is held across
//! an await or a disk write.

mod help;
mod invite;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tether_protocol::code::Nameplate;
use tether_protocol::ice::IceServers;
use tether_protocol::signal::{
    MAX_NOTE, MAX_RECENT, MAX_SURVEY_COMMENT, PeerSignal, ServerToClient, SessionReport, SessionSummary,
    SignalError,
};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::audit::AuditEvent;
use crate::ice::IceIssuer;
use crate::lockout::Lockout;
use crate::nameplates::Nameplates;
use crate::queue::Queue;
use crate::record::{
    ChatLine, ConsentEvent, FileMoved, MAX_RECORD_CHAT, MAX_RECORD_FILES, MAX_RECORD_LINE, MAX_RECORD_NOTES,
    Note, Outcome, SessionRecord, Survey, unix_now,
};
use crate::store::Store;

/// Why a note was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NoteError {
    /// No such session, or another technician's.
    #[error("you have no recorded session with that number")]
    NotYours,
    /// The session ended a moment ago and is still being written.
    #[error("that session is still being recorded; try again in a moment")]
    Closing,
    /// The record has as many notes as it may.
    #[error("that session has as many notes as it can keep ({MAX_RECORD_NOTES})")]
    Full,
    /// The store failed.
    #[error("the server could not store the note")]
    Internal,
}

fn add(record: &mut SessionRecord, note: Note) -> Result<(), NoteError> {
    if record.notes.len() >= MAX_RECORD_NOTES {
        return Err(NoteError::Full);
    }
    record.notes.push(note);
    Ok(())
}

/// Most live codes one console connection may hold at once.
pub(crate) const MAX_CODES_PER_CONNECTION: usize = 16;

/// Identifies one client connection.
pub(crate) type ConnId = u64;

/// Who is on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// Not logged in and not joined.
    Anonymous,
    /// A logged-in technician, serving these desks.
    Technician { name: String, organisation: String, desks: Vec<String> },
    /// A customer's agent waiting in the queue.
    Asking,
    /// A customer's agent.
    Agent,
    /// An outside expert invited into session `session` as number `number`.
    Expert { session: u64, number: u32 },
}

/// Whose a nameplate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plate {
    /// A customer's code, of this console connection.
    Code(ConnId),
    /// An expert's invite into a session, made by its owner's connection.
    Invite { owner: ConnId, session: u64 },
}

impl Plate {
    const fn owner(self) -> ConnId {
        match self {
            Self::Code(owner) | Self::Invite { owner, .. } => owner,
        }
    }
}

#[derive(Debug)]
struct Conn {
    tx: mpsc::Sender<ServerToClient>,
    role: Role,
    session: Option<u64>,
    /// A technician who hears every change to their desks' queues.
    watching: bool,
}

#[derive(Debug)]
struct Live {
    record: SessionRecord,
    console: ConnId,
    agent: ConnId,
    ended: u8,
    /// How many of the two sides left the server.
    left: u8,
    /// The experts on the server now: number and connection.
    experts: Vec<(u32, ConnId)>,
    /// Experts admitted so far.
    invited: u32,
}

impl Live {
    fn new(record: SessionRecord, console: ConnId, agent: ConnId) -> Self {
        Self { record, console, agent, ended: 0, left: 0, experts: Vec::new(), invited: 0 }
    }
}

#[derive(Debug)]
struct Inner {
    next_conn: ConnId,
    conns: HashMap<ConnId, Conn>,
    nameplates: Nameplates<Plate>,
    sessions: HashMap<u64, Live>,
    queue: Queue<ConnId>,
}

/// Everything the connection tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub store: Arc<dyn Store>,
    epoch: Instant,
    /// When this server started (Unix seconds): a record left open from
    /// before then will not be closed by anyone.
    booted: u64,
    inner: Mutex<Inner>,
    ice: IceIssuer,
    lockout: Mutex<Lockout>,
}

impl Shared {
    pub(crate) fn new(store: Arc<dyn Store>, code_ttl: Duration) -> Self {
        let inner = Inner {
            next_conn: 1,
            conns: HashMap::new(),
            nameplates: Nameplates::new(code_ttl),
            sessions: HashMap::new(),
            queue: Queue::default(),
        };
        Self {
            store,
            epoch: Instant::now(),
            booted: unix_now(),
            inner: Mutex::new(inner),
            ice: IceIssuer::None,
            lockout: Mutex::new(Lockout::default()),
        }
    }

    /// Hands sessions STUN/TURN servers from `ice`.
    pub(crate) fn with_ice(mut self, ice: IceIssuer) -> Self {
        self.ice = ice;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Writes a security event to the audit log (durably, before the
    /// caller answers anyone).
    pub(crate) fn audit(&self, event: AuditEvent) {
        if let Err(e) = self.store.append_audit(unix_now(), event) {
            warn!("could not write to the audit log: {e}");
        }
    }

    fn lockout(&self) -> MutexGuard<'_, Lockout> {
        self.lockout.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long `user` stays locked out, if it is.
    pub(crate) fn locked_out(&self, user: &str) -> Option<Duration> {
        self.lockout().locked(user, self.now())
    }

    /// Counts a wrong password for an existing account.
    pub(crate) fn login_failed(&self, user: &str) {
        let locked = self.lockout().failed(user, self.now());
        if let Some(lock) = locked {
            warn!(user, "too many wrong passwords; the account is locked for {} s", lock.as_secs());
            self.audit(AuditEvent::LockedOut { user: user.to_owned(), secs: lock.as_secs() });
        }
    }

    /// A right password.
    pub(crate) fn login_succeeded(&self, user: &str) {
        self.lockout().succeeded(user);
        self.audit(AuditEvent::LoginOk { user: user.to_owned() });
    }

    fn persist(&self, record: Option<SessionRecord>) -> Result<(), SignalError> {
        if let Some(r) = record {
            self.store.put_session(&r).map_err(|e| {
                warn!("could not write session record {}: {e}", r.id);
                SignalError::Internal
            })?;
        }
        Ok(())
    }

    /// `technician`'s most recent sessions, newest first.
    pub(crate) fn recent_sessions(&self, technician: &str) -> Result<Vec<SessionSummary>, SignalError> {
        let all = self.store.sessions().map_err(|e| {
            warn!("could not read session records: {e}");
            SignalError::Internal
        })?;
        let mut mine: Vec<_> = all.into_iter().filter(|r| r.technician == technician).collect();
        mine.sort_by(|a, b| b.started.cmp(&a.started).then(b.id.cmp(&a.id)));
        Ok(mine.iter().take(MAX_RECENT).map(SessionRecord::summary).collect())
    }

    pub(crate) fn register(&self, tx: mpsc::Sender<ServerToClient>) -> ConnId {
        let mut g = self.lock();
        let id = g.next_conn;
        g.next_conn += 1;
        g.conns.insert(id, Conn { tx, role: Role::Anonymous, session: None, watching: false });
        id
    }

    pub(crate) fn role(&self, id: ConnId) -> Role {
        self.lock().conns.get(&id).map_or(Role::Anonymous, |c| c.role.clone())
    }

    pub(crate) fn set_role(&self, id: ConnId, role: Role) {
        if let Some(c) = self.lock().conns.get_mut(&id) {
            c.role = role;
        }
    }

    /// A connection went away: its codes die and its peer is told.
    pub(crate) fn unregister(&self, id: ConnId) {
        let record = {
            let mut g = self.lock();
            let now = self.now();
            g.nameplates.revoke_where(now, |plate| plate.owner() == id);
            let Some(conn) = g.conns.remove(&id) else {
                return;
            };
            if let Role::Expert { session, number } = conn.role {
                invite::expert_left(&mut g, session, number);
                return;
            }
            if conn.role == Role::Asking
                && let Some(r) = g.queue.withdraw(&id)
            {
                info!(request = r.id, "a waiting customer left");
                help::left_queue(&g, &r);
            }
            let Some(sid) = conn.session else { return };
            let Some(live) = g.sessions.get_mut(&sid) else {
                return;
            };
            let peer = if live.console == id { live.agent } else { live.console };
            // Without its owner or its customer the session is over for
            // its experts too.
            let experts = std::mem::take(&mut live.experts);
            // The other side may still report (the customer's survey, the
            // technician's notes); the session is forgotten once both left.
            live.left += 1;
            if live.left >= 2 {
                // Everything it reported since is on disk already.
                g.sessions.remove(&sid);
                return;
            }
            let record = &mut live.record;
            record.ended.get_or_insert_with(unix_now);
            if record.outcome == Outcome::Open {
                record.outcome = if live.ended >= 2 { Outcome::Ended } else { Outcome::Disconnected };
            }
            let record = record.clone();
            if let Some(p) = g.conns.get(&peer) {
                let _ = p.tx.try_send(ServerToClient::PeerLeft);
            }
            invite::session_ended(&g, &experts);
            record
        };
        info!(session = record.id, outcome = ?record.outcome, "session closed");
        let _ = self.persist(Some(record));
    }

    pub(crate) fn create_code(&self, id: ConnId) -> Result<(Nameplate, Duration), SignalError> {
        let mut g = self.lock();
        let now = self.now();
        if g.nameplates.live_where(now, |plate| plate.owner() == id) >= MAX_CODES_PER_CONNECTION {
            return Err(SignalError::TooManyCodes);
        }
        let ttl = g.nameplates.ttl();
        let plate = g.nameplates.allocate(now, Plate::Code(id), &mut rand::thread_rng())?;
        Ok((plate, ttl))
    }

    /// An agent joins a code: the code is used up and a session begins.
    /// Returns the technician's name and organisation and the session's
    /// STUN/TURN servers (the console gets them with `PeerJoined`).
    pub(crate) fn join(
        &self,
        id: ConnId,
        plate: Nameplate,
    ) -> Result<(String, String, IceServers), SignalError> {
        let sid = self.store.next_session_id().map_err(|_| SignalError::Internal)?;
        let ice = self.ice.issue(sid);
        let (answer, record) = {
            let mut g = self.lock();
            let now = self.now();
            let Plate::Code(console) = g.nameplates.claim(plate, now)? else {
                return Err(SignalError::UnknownCode);
            };
            let Some(Role::Technician { name, organisation, .. }) =
                g.conns.get(&console).map(|c| c.role.clone())
            else {
                return Err(SignalError::UnknownCode);
            };
            let record = SessionRecord::open(sid, name.clone(), plate.get(), unix_now());
            for (conn, role) in [(console, None), (id, Some(Role::Agent))] {
                if let Some(c) = g.conns.get_mut(&conn) {
                    c.session = Some(sid);
                    if let Some(r) = role {
                        c.role = r;
                    }
                }
            }
            if let Some(c) = g.conns.get(&console) {
                let _ = c.tx.try_send(ServerToClient::PeerJoined { ice: ice.clone() });
            }
            g.sessions.insert(sid, Live::new(record.clone(), console, id));
            ((name, organisation, ice), record)
        };
        info!(session = sid, nameplate = %plate, technician = %answer.0, "customer joined");
        self.persist(Some(record))?;
        Ok(answer)
    }

    /// Forwards a signal to the connection's peer.
    pub(crate) fn relay(&self, id: ConnId, signal: PeerSignal) -> Result<(), SignalError> {
        if let PeerSignal::Ice(params) = &signal {
            params.check().map_err(SignalError::BadIce)?;
        }
        let mut burned = None;
        let record = {
            let mut g = self.lock();
            let sid = g.conns.get(&id).and_then(|c| c.session).ok_or(SignalError::Unexpected)?;
            let live = g.sessions.get_mut(&sid).ok_or(SignalError::Unexpected)?;
            let (peer, console) = (if live.console == id { live.agent } else { live.console }, live.console);
            let mut record = None;
            if signal == PeerSignal::PairingFailed && live.record.outcome == Outcome::Open {
                live.record.outcome = Outcome::WrongCode;
                live.record.ended = Some(unix_now());
                record = Some(live.record.clone());
                burned = Some(AuditEvent::CodeBurned {
                    technician: live.record.technician.clone(),
                    nameplate: live.record.nameplate,
                });
                let plate = Nameplate::new(live.record.nameplate);
                if let (Some(c), Some(nameplate)) = (g.conns.get(&console), plate) {
                    let _ = c.tx.try_send(ServerToClient::CodeBurned { nameplate });
                }
            }
            if let Some(p) = g.conns.get(&peer)
                && p.tx.try_send(ServerToClient::Relay(signal)).is_err()
            {
                warn!(session = sid, "peer is not reading; relay dropped");
            }
            record
        };
        if let Some(event) = burned {
            warn!("a wrong code was entered; the code is burned");
            self.audit(event);
        }
        self.persist(record)
    }

    /// Adds a note to `technician`'s recorded session `sid`: to the live
    /// record while either side is still on, else to the stored one.
    pub(crate) fn add_note(&self, technician: &str, sid: u64, text: &str) -> Result<(), NoteError> {
        let note =
            Note { at: unix_now(), text: tether_protocol::channel::clip_to(text, MAX_NOTE).to_owned() };
        let live = {
            let mut g = self.lock();
            match g.sessions.get_mut(&sid) {
                Some(live) if live.record.technician != technician => return Err(NoteError::NotYours),
                Some(live) => {
                    add(&mut live.record, note.clone())?;
                    Some(live.record.clone())
                }
                None => None,
            }
        };
        let store_err = |e| {
            warn!("could not write a note to session record {sid}: {e}");
            NoteError::Internal
        };
        let record = match live {
            Some(r) => r,
            None => {
                let mut r = self.store.session(sid).map_err(store_err)?.ok_or(NoteError::NotYours)?;
                if r.technician != technician {
                    return Err(NoteError::NotYours);
                }
                // Its last write is still on its way (the session ended a
                // moment ago); a note now could be overwritten.
                if r.ended.is_none() && r.started >= self.booted {
                    return Err(NoteError::Closing);
                }
                add(&mut r, note)?;
                r
            }
        };
        self.store.put_session(&record).map_err(store_err)
    }

    /// Adds a report to the connection's session record.
    pub(crate) fn report(&self, id: ConnId, report: SessionReport) -> Result<(), SignalError> {
        let mut event = None;
        let record = {
            let mut g = self.lock();
            let sid = g.conns.get(&id).and_then(|c| c.session).ok_or(SignalError::Unexpected)?;
            let live = g.sessions.get_mut(&sid).ok_or(SignalError::Unexpected)?;
            let from_console = live.console == id;
            let r = &mut live.record;
            match report {
                SessionReport::Consent { view, control, preset } if !from_console => {
                    r.consent.push(ConsentEvent { at: unix_now(), view, control, preset });
                    event = Some(AuditEvent::Consent { session: sid, view, control });
                }
                SessionReport::Connected { path } => r.connected(path, from_console),
                SessionReport::Ended { bytes_sent, bytes_received } => {
                    if from_console {
                        r.bytes = bytes_sent.saturating_add(bytes_received);
                    }
                    live.ended += 1;
                    r.ended = Some(unix_now());
                    if r.outcome == Outcome::Open {
                        r.outcome = Outcome::Ended;
                    }
                }
                SessionReport::Chat { from_customer, text } if from_console => {
                    if r.chat.len() < MAX_RECORD_CHAT {
                        let text = tether_protocol::channel::clip_to(&text, MAX_RECORD_LINE).to_owned();
                        r.chat.push(ChatLine { at: unix_now(), from_customer, text });
                    }
                }
                SessionReport::File { name, size, hash, to_customer } if from_console => {
                    if r.files.len() < MAX_RECORD_FILES {
                        let name = tether_protocol::channel::clip_to(&name, 255).to_owned();
                        event = Some(AuditEvent::Transfer {
                            session: sid,
                            name: name.clone(),
                            size,
                            to_customer,
                        });
                        r.files.push(FileMoved { at: unix_now(), name, size, hash, to_customer });
                    }
                }
                SessionReport::Survey { rating, comment } if !from_console && r.survey.is_none() => {
                    if !(1..=5).contains(&rating) {
                        return Err(SignalError::Unexpected);
                    }
                    let comment = tether_protocol::channel::clip_to(&comment, MAX_SURVEY_COMMENT).to_owned();
                    r.survey = Some(Survey { rating, comment });
                }
                SessionReport::Note { text } if from_console && r.notes.len() < MAX_RECORD_NOTES => {
                    let text = tether_protocol::channel::clip_to(&text, MAX_NOTE).to_owned();
                    r.notes.push(Note { at: unix_now(), text });
                }
                SessionReport::Consent { .. }
                | SessionReport::Chat { .. }
                | SessionReport::File { .. }
                | SessionReport::Survey { .. }
                | SessionReport::Note { .. } => {
                    return Err(SignalError::Unexpected);
                }
            }
            live.record.clone()
        };
        if let Some(e) = event {
            self.audit(e);
        }
        self.persist(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use tether_protocol::ice::{IceParams, IceParamsError};
    use tether_protocol::signal::CandidateKind::{Host, PeerReflexive, ServerReflexive};
    use tether_protocol::signal::{PathInfo, PathKind, SessionOutcome};

    fn technician() -> Role {
        Role::Technician { name: "alice".into(), organisation: "Acme".into(), desks: vec![] }
    }

    #[test]
    fn recent_sessions_are_the_technicians_own_newest_first_and_capped() {
        let store = Arc::new(MemoryStore::default());
        let record = |id: u64, technician: &str, started: u64| SessionRecord {
            ended: Some(started + 60),
            outcome: Outcome::Ended,
            ..SessionRecord::open(id, technician.into(), 123, started)
        };
        for i in 0..30 {
            store.put_session(&record(i, "alice", 1000 + i)).unwrap();
        }
        store.put_session(&record(99, "bob", 5000)).unwrap();
        let shared = Shared::new(store, Duration::from_secs(600));
        let recent = shared.recent_sessions("alice").unwrap();
        assert_eq!(recent.len(), MAX_RECENT);
        assert_eq!(recent[0].started, 1029, "newest first, and not bob's");
        assert_eq!(recent[0].outcome, SessionOutcome::Ended);
        assert!(recent.windows(2).all(|w| w[0].started >= w[1].started));
        assert!(shared.recent_sessions("carol").unwrap().is_empty());
    }

    #[test]
    fn pairing_relay_burn_and_leave() {
        let store = Arc::new(MemoryStore::default());
        let shared = Shared::new(store.clone(), Duration::from_secs(600));
        let (ctx, mut crx) = mpsc::channel(8);
        let (atx, mut arx) = mpsc::channel(8);
        let console = shared.register(ctx);
        let agent = shared.register(atx);
        shared.set_role(console, technician());
        let (plate, _) = shared.create_code(console).unwrap();
        assert_eq!(shared.relay(agent, PeerSignal::PairingFailed), Err(SignalError::Unexpected));

        assert_eq!(shared.join(agent, plate).unwrap(), ("alice".into(), "Acme".into(), IceServers::none()));
        assert_eq!(crx.try_recv().unwrap(), ServerToClient::PeerJoined { ice: IceServers::none() });
        shared.relay(agent, PeerSignal::Pake(vec![1, 2])).unwrap();
        assert_eq!(crx.try_recv().unwrap(), ServerToClient::Relay(PeerSignal::Pake(vec![1, 2])));
        // Oversized or malformed ICE offers are refused, not forwarded.
        let ice = |candidates: Vec<String>| {
            PeerSignal::Ice(IceParams { ufrag: "u".into(), pwd: "p".into(), candidates })
        };
        assert_eq!(
            shared.relay(agent, ice(vec!["1 1 udp 1 192.0.2.1 9 typ host".into(); 17])),
            Err(SignalError::BadIce(IceParamsError::TooManyCandidates))
        );
        assert_eq!(
            shared.relay(agent, ice(vec!["x".repeat(100_000)])),
            Err(SignalError::BadIce(IceParamsError::MalformedCandidate))
        );
        assert!(crx.try_recv().is_err(), "nothing was forwarded");
        shared.relay(agent, ice(vec!["1 1 udp 1 192.0.2.1 9 typ host".into()])).unwrap();
        assert!(matches!(crx.try_recv().unwrap(), ServerToClient::Relay(PeerSignal::Ice(_))));
        shared.relay(console, PeerSignal::PairingFailed).unwrap();
        assert_eq!(crx.try_recv().unwrap(), ServerToClient::CodeBurned { nameplate: plate });
        assert_eq!(arx.try_recv().unwrap(), ServerToClient::Relay(PeerSignal::PairingFailed));
        assert_eq!(store.sessions().unwrap()[0].outcome, Outcome::WrongCode);

        shared.unregister(console);
        assert_eq!(arx.try_recv().unwrap(), ServerToClient::PeerLeft);
        assert_eq!(shared.join(agent, plate), Err(SignalError::CodeUsed));
    }

    #[test]
    fn codes_per_connection_are_bounded() {
        let shared = Shared::new(Arc::new(MemoryStore::default()), Duration::from_secs(600));
        let (tx, _rx) = mpsc::channel(8);
        let console = shared.register(tx);
        shared.set_role(console, technician());
        for _ in 0..MAX_CODES_PER_CONNECTION {
            shared.create_code(console).unwrap();
        }
        assert_eq!(shared.create_code(console), Err(SignalError::TooManyCodes));
    }

    #[test]
    fn reports_fill_the_record_and_consent_comes_only_from_the_agent() {
        let store = Arc::new(MemoryStore::default());
        let shared = Shared::new(store.clone(), Duration::from_secs(600));
        let (ctx, _crx) = mpsc::channel(8);
        let (atx, _arx) = mpsc::channel(8);
        let (console, agent) = (shared.register(ctx), shared.register(atx));
        shared.set_role(console, technician());
        let (plate, _) = shared.create_code(console).unwrap();
        shared.join(agent, plate).unwrap();
        let consent = SessionReport::Consent { view: true, control: false, preset: true };
        assert_eq!(shared.report(console, consent.clone()), Err(SignalError::Unexpected));
        shared.report(agent, consent).unwrap();
        let seen_by_console = PathInfo { kind: PathKind::Direct, local: Host, remote: PeerReflexive };
        shared.report(console, SessionReport::Connected { path: seen_by_console }).unwrap();
        let seen_by_agent = PathInfo { kind: PathKind::Direct, local: ServerReflexive, remote: Host };
        shared.report(agent, SessionReport::Connected { path: seen_by_agent }).unwrap();
        // The console reports the chat in its order, and the files.
        shared.report(console, SessionReport::Chat { from_customer: false, text: "hello".into() }).unwrap();
        shared.report(console, SessionReport::Chat { from_customer: true, text: "hi!".into() }).unwrap();
        let chat = SessionReport::Chat { from_customer: true, text: "forged".into() };
        assert_eq!(shared.report(agent, chat), Err(SignalError::Unexpected));
        let file = SessionReport::File { name: "a.txt".into(), size: 5, hash: [1; 32], to_customer: true };
        shared.report(console, file).unwrap();
        shared.report(console, SessionReport::Ended { bytes_sent: 10, bytes_received: 32 }).unwrap();
        let r = &store.sessions().unwrap()[0];
        let lines: Vec<_> = r.chat.iter().map(|l| (l.from_customer, l.text.as_str())).collect();
        assert_eq!(lines, [(false, "hello"), (true, "hi!")]);
        assert_eq!((r.files.len(), r.files[0].size, r.files[0].to_customer), (1, 5, true));
        assert_eq!((r.bytes, r.outcome, r.consent.len()), (42, Outcome::Ended, 1));
        assert_eq!(
            (r.path, r.technician_end, r.customer_end),
            (Some(PathKind::Direct), Some(Host), Some(ServerReflexive))
        );
        let summary = r.summary();
        assert_eq!(summary.path_text(), "direct (host/srflx)");
        assert!(r.consent[0].preset);
    }
}
