//! Experts invited into live sessions: the owner's invite nameplates, the
//! expert's join, and the routes between owner, expert and agent. The
//! server only routes: the PAKE between owner and expert, and the vouching
//! the agent checks, keep it out of the session's keys.

use std::time::Duration;

use tether_protocol::code::Nameplate;
use tether_protocol::invite::{MAX_EXPERTS, Party};
use tether_protocol::signal::{PeerSignal, ServerToClient, SignalError};
use tracing::{info, warn};

use super::{ConnId, Inner, MAX_CODES_PER_CONNECTION, Plate, Role, Shared};
use crate::audit::AuditEvent;

impl Shared {
    /// The owner of a live session asks for an invite: its nameplate, how
    /// long it lasts, and the session.
    pub(crate) fn create_invite(&self, id: ConnId) -> Result<(Nameplate, Duration, u64), SignalError> {
        let mut g = self.lock();
        let now = self.now();
        let sid = g.conns.get(&id).and_then(|c| c.session).ok_or(SignalError::NoSession)?;
        let live = g.sessions.get(&sid).ok_or(SignalError::NoSession)?;
        if live.console != id || live.left > 0 {
            return Err(SignalError::NoSession);
        }
        if live.invited >= MAX_EXPERTS {
            return Err(SignalError::TooManyExperts);
        }
        if g.nameplates.live_where(now, |p| p.owner() == id) >= MAX_CODES_PER_CONNECTION {
            return Err(SignalError::TooManyCodes);
        }
        let ttl = g.nameplates.ttl();
        let plate =
            g.nameplates.allocate(now, Plate::Invite { owner: id, session: sid }, &mut rand::thread_rng())?;
        Ok((plate, ttl, sid))
    }

    /// An expert joins an invite: it is used up, the owner hears of them,
    /// and they get the owner's name, their number and STUN/TURN.
    pub(crate) fn join_invite(&self, id: ConnId, plate: Nameplate) -> Result<ServerToClient, SignalError> {
        let (sid, number, owner, organisation) = {
            let mut g = self.lock();
            let now = self.now();
            let Plate::Invite { owner, session } = g.nameplates.claim(plate, now)? else {
                return Err(SignalError::UnknownCode);
            };
            // The session ended, or its owner left, since the invite was made.
            let live = g.sessions.get_mut(&session).filter(|l| l.console == owner && l.left == 0);
            let live = live.ok_or(SignalError::ExpiredCode)?;
            if live.invited >= MAX_EXPERTS {
                return Err(SignalError::TooManyExperts);
            }
            live.invited += 1;
            let number = live.invited;
            live.experts.push((number, id));
            let Some(Role::Technician { name, organisation, .. }) =
                g.conns.get(&owner).map(|c| c.role.clone())
            else {
                return Err(SignalError::ExpiredCode);
            };
            if let Some(c) = g.conns.get_mut(&id) {
                c.role = Role::Expert { session, number };
            }
            if let Some(c) = g.conns.get(&owner) {
                let _ = c.tx.try_send(ServerToClient::ExpertJoined { expert: number });
            }
            (session, number, name, organisation)
        };
        info!(session = sid, expert = number, "an expert joined an invite");
        self.audit(AuditEvent::ExpertJoined { session: sid, expert: number });
        Ok(ServerToClient::InviteJoined { owner, organisation, ice: self.ice.issue(sid), expert: number })
    }

    /// Forwards `signal` from connection `id` to party `to` of its session:
    /// the owner and an expert talk (their PAKE), and an expert and the
    /// agent (their ICE). Nothing else goes this way.
    pub(crate) fn relay_to(&self, id: ConnId, to: Party, signal: PeerSignal) -> Result<(), SignalError> {
        if let PeerSignal::Ice(params) = &signal {
            params.check().map_err(SignalError::BadIce)?;
        }
        let g = self.lock();
        let conn = g.conns.get(&id).ok_or(SignalError::Unexpected)?;
        let (sid, from) = match conn.role {
            Role::Expert { session, number } => (session, Party::Expert(number)),
            Role::Technician { .. } | Role::Agent => {
                let sid = conn.session.ok_or(SignalError::Unexpected)?;
                let live = g.sessions.get(&sid).ok_or(SignalError::Unexpected)?;
                (sid, if live.console == id { Party::Owner } else { Party::Agent })
            }
            Role::Anonymous | Role::Asking => return Err(SignalError::Unexpected),
        };
        let live = g.sessions.get(&sid).ok_or(SignalError::Unexpected)?;
        let allowed = matches!(
            (from, to),
            (Party::Owner | Party::Agent, Party::Expert(_)) | (Party::Expert(_), Party::Owner | Party::Agent)
        );
        if !allowed {
            return Err(SignalError::Unexpected);
        }
        let target = match to {
            Party::Owner => Some(live.console),
            Party::Agent => Some(live.agent),
            Party::Expert(n) => live.experts.iter().find(|(e, _)| *e == n).map(|(_, c)| *c),
        };
        // An expert who left meanwhile: nothing to deliver.
        if let Some(c) = target.and_then(|t| g.conns.get(&t))
            && c.tx.try_send(ServerToClient::RelayFrom { from, signal }).is_err()
        {
            warn!(session = sid, "{to} is not reading; relay dropped");
        }
        Ok(())
    }
}

/// Expert `number` of `session` left the server: the owner and the agent
/// are told.
pub(super) fn expert_left(g: &mut Inner, session: u64, number: u32) {
    let Some(live) = g.sessions.get_mut(&session) else { return };
    live.experts.retain(|(n, _)| *n != number);
    for side in [live.console, live.agent] {
        if let Some(c) = g.conns.get(&side) {
            let _ = c.tx.try_send(ServerToClient::ExpertLeft { expert: number });
        }
    }
    info!(session, expert = number, "an expert left");
}

/// The session's experts, told that it ended.
pub(super) fn session_ended(g: &Inner, experts: &[(u32, ConnId)]) {
    for (_, e) in experts {
        if let Some(c) = g.conns.get(e) {
            let _ = c.tx.try_send(ServerToClient::PeerLeft);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tether_protocol::ice::IceParams;
    use tokio::sync::mpsc;

    use super::*;
    use crate::store::MemoryStore;

    type Rx = mpsc::Receiver<ServerToClient>;

    fn conn(s: &Shared) -> (ConnId, Rx) {
        let (tx, rx) = mpsc::channel(64);
        (s.register(tx), rx)
    }

    fn drain(rx: &mut Rx) -> Vec<ServerToClient> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    /// A live code session: owner, agent and their receivers.
    fn session(s: &Shared) -> ((ConnId, Rx), (ConnId, Rx)) {
        let (owner, orx) = conn(s);
        s.set_role(
            owner,
            Role::Technician { name: "alice".into(), organisation: "Acme".into(), desks: vec![] },
        );
        let (agent, arx) = conn(s);
        let (plate, _) = s.create_code(owner).unwrap();
        s.join(agent, plate).unwrap();
        ((owner, orx), (agent, arx))
    }

    fn pake(n: u8) -> PeerSignal {
        PeerSignal::Pake(vec![n; 4])
    }

    #[test]
    fn an_expert_joins_talks_to_the_owner_and_the_agent_and_leaves() {
        let s = Shared::new(Arc::new(MemoryStore::default()), Duration::from_secs(600));
        let ((owner, mut orx), (agent, mut arx)) = session(&s);
        drain(&mut orx);
        // Only the owner of a live session may invite.
        let (stranger, _srx) = conn(&s);
        assert_eq!(s.create_invite(stranger).map(|_| ()), Err(SignalError::NoSession));
        assert_eq!(s.create_invite(agent).map(|_| ()), Err(SignalError::NoSession));
        let (plate, _, _) = s.create_invite(owner).unwrap();
        // A customer typing the invite's nameplate burns it and gets nothing.
        let (expert, mut erx) = conn(&s);
        let joined = s.join_invite(expert, plate).unwrap();
        assert!(matches!(&joined, ServerToClient::InviteJoined { owner, expert: 1, .. } if owner == "alice"));
        assert_eq!(drain(&mut orx), [ServerToClient::ExpertJoined { expert: 1 }]);
        assert_eq!(s.join_invite(stranger, plate).map(|_| ()), Err(SignalError::CodeUsed));

        // The PAKE goes between owner and expert, ICE between expert and agent.
        s.relay_to(expert, Party::Owner, pake(1)).unwrap();
        assert_eq!(drain(&mut orx), [ServerToClient::RelayFrom { from: Party::Expert(1), signal: pake(1) }]);
        s.relay_to(owner, Party::Expert(1), pake(2)).unwrap();
        assert_eq!(drain(&mut erx), [ServerToClient::RelayFrom { from: Party::Owner, signal: pake(2) }]);
        let ice = PeerSignal::Ice(IceParams {
            ufrag: "abcd".into(),
            pwd: "p".repeat(22),
            candidates: vec!["1 1 udp 2130706431 192.0.2.1 5000 typ host".into()],
        });
        s.relay_to(expert, Party::Agent, ice.clone()).unwrap();
        assert_eq!(
            drain(&mut arx),
            [ServerToClient::RelayFrom { from: Party::Expert(1), signal: ice.clone() }]
        );
        s.relay_to(agent, Party::Expert(1), ice.clone()).unwrap();
        assert_eq!(drain(&mut erx), [ServerToClient::RelayFrom { from: Party::Agent, signal: ice }]);
        // No other routes: owner to agent goes the usual way, and nobody
        // outside the session reaches it.
        assert_eq!(s.relay_to(owner, Party::Agent, pake(3)), Err(SignalError::Unexpected));
        assert_eq!(s.relay_to(expert, Party::Expert(1), pake(3)), Err(SignalError::Unexpected));
        assert_eq!(s.relay_to(stranger, Party::Owner, pake(3)), Err(SignalError::Unexpected));

        s.unregister(expert);
        assert_eq!(drain(&mut orx), [ServerToClient::ExpertLeft { expert: 1 }]);
        assert_eq!(drain(&mut arx), [ServerToClient::ExpertLeft { expert: 1 }]);
        let log = s.store.audit_log().unwrap();
        assert!(
            log.iter()
                .any(|(_, e)| e.as_ref().is_some_and(|e| e.event.to_string() == "session 1 expert 1 joined"))
        );
    }

    #[test]
    fn invites_end_with_their_session_and_are_bounded() {
        let s = Shared::new(Arc::new(MemoryStore::default()), Duration::from_secs(600));
        let ((owner, _orx), (agent, _arx)) = session(&s);
        let mut experts = Vec::new();
        for _ in 0..MAX_EXPERTS {
            let (plate, _, _) = s.create_invite(owner).unwrap();
            let (e, erx) = conn(&s);
            s.join_invite(e, plate).unwrap();
            experts.push((e, erx));
        }
        assert_eq!(s.create_invite(owner).map(|_| ()), Err(SignalError::TooManyExperts));
        // The agent leaves: the experts hear the session is over, and an
        // invite made before cannot be used.
        s.unregister(agent);
        for (_, erx) in &mut experts {
            assert!(drain(erx).contains(&ServerToClient::PeerLeft));
        }
        let ((owner2, _o2), (_agent2, _a2)) = session(&s);
        let (plate, _, _) = s.create_invite(owner2).unwrap();
        s.unregister(owner2);
        let (late, _lrx) = conn(&s);
        assert_eq!(s.join_invite(late, plate).map(|_| ()), Err(SignalError::ExpiredCode));
    }
}
