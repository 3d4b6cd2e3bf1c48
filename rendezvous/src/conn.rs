//! One client connection: read requests, answer through a bounded outbox.
//!
//! Anything malformed closes this connection only, with an error logged.

use std::sync::Arc;
use std::time::Duration;

use tether_protocol::signal::{ClientToServer, MAX_SIGNAL_MESSAGE, ServerToClient, SignalError};
use tether_transport::TransportError;
use tether_transport::framed::{FramedRecv, FramedSend};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use tether_protocol::channel::clip_to;

use crate::accounts::{hash_password, verify_password};
use crate::audit::AuditEvent;
use crate::record::Technician;
use crate::state::{ConnId, Role, Shared};

/// Messages queued for one client before it counts as not reading.
const OUTBOX: usize = 256;
/// Failed logins before the connection is closed.
const MAX_LOGIN_FAILURES: u32 = 5;
const LOGIN_FAILURE_DELAY: Duration = Duration::from_millis(500);
const FIRST_STREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// Close code for a client that broke the protocol.
pub const CLOSE_PROTOCOL: u32 = 1;

struct Registration<'a>(&'a Shared, ConnId);

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.0.unregister(self.1);
    }
}

/// Serves one incoming connection to its end.
pub(crate) async fn serve(shared: Arc<Shared>, incoming: quinn::Incoming) {
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            debug!("handshake with a client failed: {e}");
            return;
        }
    };
    let remote = conn.remote_address();
    match handle(&shared, &conn).await {
        Ok(()) => conn.close(0u32.into(), b"bye"),
        Err(TransportError::Connection(e)) => debug!(%remote, "client left: {e}"),
        Err(e) => {
            warn!(%remote, "closing a client connection: {e}");
            conn.close(CLOSE_PROTOCOL.into(), b"protocol error");
        }
    }
}

async fn handle(shared: &Shared, conn: &quinn::Connection) -> Result<(), TransportError> {
    let (send, recv) = tokio::time::timeout(FIRST_STREAM_TIMEOUT, conn.accept_bi())
        .await
        .map_err(|_| TransportError::Timeout("waiting for the client's first stream"))??;
    let (tx, mut rx) = mpsc::channel::<ServerToClient>(OUTBOX);
    let id = shared.register(tx.clone());
    let _registration = Registration(shared, id);
    let mut writer = tokio::spawn(async move {
        let mut send = FramedSend::new(send);
        while let Some(msg) = rx.recv().await {
            send.send_message(&msg).await?;
        }
        Ok::<(), TransportError>(())
    });
    let mut recv = FramedRecv::new(recv, MAX_SIGNAL_MESSAGE);
    let mut failures = 0u32;
    loop {
        let msg = tokio::select! {
            msg = recv.next_message::<ClientToServer>() => msg?,
            done = &mut writer => return done.map_err(|_| TransportError::Protocol("writer failed"))?,
        };
        let Some(msg) = msg else { return Ok(()) };
        let answer = request(shared, id, msg, &mut failures).await;
        if failures >= MAX_LOGIN_FAILURES {
            return Err(TransportError::Protocol("too many failed logins"));
        }
        if let Some(answer) = answer
            && tx.try_send(answer).is_err()
        {
            return Err(TransportError::Protocol("client is not reading its answers"));
        }
    }
}

async fn request(
    shared: &Shared,
    id: ConnId,
    msg: ClientToServer,
    failures: &mut u32,
) -> Option<ServerToClient> {
    let role = shared.role(id);
    let result = match (msg, role) {
        (ClientToServer::Login { user, password }, Role::Anonymous) => {
            match login(shared, &user, password).await {
                Ok(t) => {
                    info!(technician = %t.name, "technician logged in");
                    let (name, organisation, role) = (t.name.clone(), t.organisation.clone(), t.role);
                    shared.set_role(
                        id,
                        Role::Technician { name: t.name, organisation: t.organisation, desks: t.desks },
                    );
                    Ok(Some(ServerToClient::LoggedIn { name, organisation, role }))
                }
                Err(e) => {
                    *failures += 1;
                    warn!(user = %user.escape_debug(), "failed login: {e}");
                    shared.audit(AuditEvent::LoginFailed { user: clip_to(&user, 64).to_owned() });
                    tokio::time::sleep(LOGIN_FAILURE_DELAY).await;
                    Err(e)
                }
            }
        }
        (ClientToServer::CreateCode, Role::Technician { name, .. }) => {
            shared.create_code(id).map(|(nameplate, ttl)| {
                shared.audit(AuditEvent::CodeMade { technician: name, nameplate: nameplate.get() });
                Some(ServerToClient::CodeCreated { nameplate, expires_in_secs: ttl.as_secs() })
            })
        }
        (ClientToServer::CreateCode, _) => Err(SignalError::NotLoggedIn),
        (ClientToServer::Join { nameplate }, Role::Anonymous) => {
            shared.join(id, nameplate).map(|(technician, organisation, ice)| {
                Some(ServerToClient::Joined { technician, organisation, ice })
            })
        }
        (ClientToServer::Relay(signal), Role::Technician { .. } | Role::Agent) => {
            shared.relay(id, signal).map(|()| None)
        }
        (ClientToServer::Report(report), Role::Technician { .. } | Role::Agent) => {
            shared.report(id, report).map(|()| None)
        }
        (ClientToServer::RecentSessions, Role::Technician { name, .. }) => {
            shared.recent_sessions(&name).map(|r| Some(ServerToClient::RecentSessions(r)))
        }
        (ClientToServer::CannedReplies, Role::Technician { .. }) => {
            shared.store.canned_replies().map_or_else(
                |e| {
                    warn!("could not read the canned replies: {e}");
                    Err(SignalError::Internal)
                },
                |r| Ok(Some(ServerToClient::CannedReplies(r))),
            )
        }
        (ClientToServer::DeskInfo { desk }, Role::Anonymous) => shared.desk_info(&desk).map(Some),
        (ClientToServer::AskForHelp(ask), Role::Anonymous) => shared.ask_for_help(id, ask).map(Some),
        (ClientToServer::CancelHelp, Role::Asking) => shared.cancel_help(id).map(|()| None),
        (ClientToServer::QueuePage { after }, Role::Technician { .. }) => {
            shared.queue_page(id, after).map(Some)
        }
        (ClientToServer::Claim { request }, Role::Technician { .. }) => {
            shared.claim(id, request).map(|()| None)
        }
        (ClientToServer::CreateInvite, Role::Technician { name, .. }) => {
            shared.create_invite(id).map(|(nameplate, ttl, session)| {
                let event = AuditEvent::InviteMade { session, technician: name, nameplate: nameplate.get() };
                shared.audit(event);
                Some(ServerToClient::InviteCreated { nameplate, expires_in_secs: ttl.as_secs() })
            })
        }
        (ClientToServer::JoinInvite { nameplate }, Role::Anonymous) => {
            shared.join_invite(id, nameplate).map(Some)
        }
        (
            ClientToServer::RelayTo { to, signal },
            Role::Technician { .. } | Role::Agent | Role::Expert { .. },
        ) => shared.relay_to(id, to, signal).map(|()| None),
        (ClientToServer::Admin(req), Role::Technician { name, .. }) => {
            crate::admin_api::answer(shared, &name, req).await.map(|r| Some(ServerToClient::Admin(r)))
        }
        (
            ClientToServer::RecentSessions
            | ClientToServer::Admin(_)
            | ClientToServer::CreateInvite
            | ClientToServer::CannedReplies
            | ClientToServer::QueuePage { .. }
            | ClientToServer::Claim { .. },
            _,
        ) => Err(SignalError::NotLoggedIn),
        _ => Err(SignalError::Unexpected),
    };
    result.unwrap_or_else(|e| Some(ServerToClient::Error(e)))
}

/// A hash no password matches, checked for unknown names so that they
/// take as long as known ones.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("no account has this password").unwrap_or_default())
}

/// Checks a login off the async threads (argon2 is deliberately slow):
/// locked accounts are refused before their password is tried, and a
/// disabled account is told so only with the right password.
async fn login(shared: &Shared, user: &str, password: String) -> Result<Technician, SignalError> {
    if let Some(left) = shared.locked_out(user) {
        return Err(SignalError::LockedOut { secs: left.as_secs().max(1) });
    }
    let tech = shared.store.technician(user).ok().flatten();
    let hash = tech.as_ref().map(|t| t.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || match &hash {
        Some(h) => verify_password(&password, h),
        None => verify_password(&password, decoy_hash()),
    })
    .await
    .unwrap_or(false);
    match tech {
        Some(t) if ok && t.disabled => Err(SignalError::AccountDisabled),
        Some(t) if ok => {
            shared.login_succeeded(&t.name);
            Ok(t)
        }
        Some(t) => {
            shared.login_failed(&t.name);
            Err(SignalError::BadLogin)
        }
        None => Err(SignalError::BadLogin),
    }
}
