//! Inviting an outside expert, from both ends.
//!
//! The owner's console makes the invite code ([`LiveSession::invite`]);
//! when an expert joins it, it runs the PAKE with them through the server,
//! takes their proved Noise static key, vouches for it to the agent over
//! the control channel, and proves the agent's key to them. The expert's
//! console ([`join_as_expert`]) does the other half, then connects straight
//! to the agent with the pre-shared key derived from the PAKE and checks
//! that the agent's key is the one the owner proved.

use std::time::Duration;

use tether_protocol::channel::control;
use tether_protocol::code::{PairingCode, Secret};
use tether_protocol::handshake::StaticKey;
use tether_protocol::invite::{KeyProof, Party, expert_psk};
use tether_protocol::pake::Role;
use tether_protocol::signal::{ClientToServer, PeerSignal, ServerToClient};
use tether_transport::TransportError;
use tether_transport::pairing::{self, Link, PairingError, Route};
use tether_transport::peer::{self, PeerSecrets};
use tether_transport::signal_client::{ServerTrust, SignalClient};
use tether_transport::socket::{self, PathSocket};
use tokio::sync::{OwnedMutexGuard, mpsc};

use crate::session::{ConsoleError, LiveSession, Paired, Technician};

/// The owner's side of the server link, held while one invite is admitted.
struct OwnerLink {
    tx: mpsc::UnboundedSender<ClientToServer>,
    rx: OwnedMutexGuard<mpsc::UnboundedReceiver<ServerToClient>>,
}

impl Link for OwnerLink {
    async fn send(&mut self, msg: ClientToServer) -> Result<(), TransportError> {
        self.tx.send(msg).map_err(|_| TransportError::Protocol("the server connection is gone"))
    }

    async fn recv(&mut self) -> Result<ServerToClient, TransportError> {
        self.rx.recv().await.ok_or(TransportError::Protocol("the server connection is gone"))
    }
}

type Control =
    std::sync::Arc<tokio::sync::Mutex<tether_transport::peer::ChannelSend<control::ConsoleToAgent>>>;

impl LiveSession {
    /// Passes control to expert `expert`, or takes it back (`None`); the
    /// agent checks that the customer allows control and the expert is on.
    pub async fn pass_control(&self, expert: Option<u32>) -> Result<(), ConsoleError> {
        let msg = control::ConsoleToAgent::PassControl { expert };
        Ok(self.control.lock().await.send(&msg).await?)
    }

    /// Makes an invite code for an outside expert and admits them in the
    /// background when they join; what happens is printed (`invite:` and
    /// `expert N` lines).
    pub async fn invite(&self) -> Result<PairingCode, ConsoleError> {
        let rx = std::sync::Arc::clone(&self.server.incoming).lock_owned().await;
        let mut link = OwnerLink { tx: self.server.requests.clone(), rx };
        link.send(ClientToServer::CreateInvite).await?;
        let (nameplate, ttl) = loop {
            match link.recv().await? {
                ServerToClient::InviteCreated { nameplate, expires_in_secs } => {
                    break (nameplate, Duration::from_secs(expires_in_secs));
                }
                ServerToClient::Error(e) => return Err(ConsoleError::Refused(e)),
                _ => {}
            }
        };
        let code = PairingCode::new(nameplate, Secret::random());
        let (control, agent_key) = (std::sync::Arc::clone(&self.control), self.agent_key);
        let vouched = std::sync::Arc::clone(&self.vouched);
        tokio::spawn(async move {
            if admit(link, code, ttl, control, agent_key).await {
                vouched.send_modify(|n| *n += 1);
            }
        });
        Ok(code)
    }
}

/// Waits for an expert on `code`, checks their secret and key, and
/// vouches for them; true if it did.
async fn admit(
    mut link: OwnerLink,
    code: PairingCode,
    ttl: Duration,
    control: Control,
    agent_key: [u8; 32],
) -> bool {
    let deadline = tokio::time::Instant::now() + ttl;
    let expert = loop {
        match tokio::time::timeout_at(deadline, link.recv()).await {
            Err(_) => {
                println!("invite: {code} expired before anyone used it");
                return false;
            }
            Ok(Err(e)) => {
                println!("invite: failed: {e}");
                return false;
            }
            Ok(Ok(ServerToClient::ExpertJoined { expert })) => break expert,
            Ok(Ok(_)) => {}
        }
    };
    println!("invite: expert {expert} joined; checking the secret");
    let route = Route::To(Party::Expert(expert));
    let vouched = async {
        let psk = pairing::pake(&mut link, route, &code, Role::Console).await?;
        let PeerSignal::KeyProof(proof) = pairing::next_signal(&mut link, route).await? else {
            return Err(TransportError::Protocol("expected the expert's key").into());
        };
        let Some(key) = proof.verify(&psk, Party::Expert(expert)) else {
            return Err(
                TransportError::Protocol("the expert's key was not proved with the invite's secret").into()
            );
        };
        let vouch = control::ConsoleToAgent::Vouch {
            expert,
            name: format!("Expert {expert}"),
            key,
            psk: expert_psk(&psk),
        };
        control.lock().await.send(&vouch).await.map_err(PairingError::Transport)?;
        let ours = KeyProof::new(&psk, Party::Owner, agent_key);
        pairing::send_signal(&mut link, route, PeerSignal::KeyProof(ours)).await?;
        Ok::<_, PairingError>(())
    };
    match vouched.await {
        Ok(()) => {
            println!("expert {expert}: vouched for; they connect to the customer now");
            return true;
        }
        Err(PairingError::WrongCode) => {
            println!("invite burned: expert {expert} typed a wrong secret; make a new invite");
        }
        Err(e) => println!("invite: expert {expert} could not be admitted: {e}"),
    }
    false
}

/// Joins the invite `code` as an outside expert and connects to the
/// customer's agent; the session is view-only until the owner passes
/// control.
pub async fn join_as_expert(
    server: &str,
    trust: &ServerTrust,
    code: &PairingCode,
    relay_only: bool,
) -> Result<LiveSession, ConsoleError> {
    let mut client = SignalClient::connect(server, trust).await?;
    let (paired, owner, organisation) = match join(&mut client, code, relay_only).await {
        Ok(joined) => joined,
        Err(e) => {
            client.close().await;
            return Err(e);
        }
    };
    let tech = Technician {
        client,
        name: owner,
        organisation,
        role: tether_protocol::admin::AccountRole::Technician,
        relay_only,
        canned: Vec::new(),
    };
    Ok(LiveSession::start(tech, false, paired))
}

/// The expert's half: the PAKE with the owner, the keys both ways, ICE
/// and the handshake with the agent. The owner's name and organisation
/// come back with the connection.
async fn join(
    client: &mut SignalClient,
    code: &PairingCode,
    relay_only: bool,
) -> Result<(Paired, String, String), ConsoleError> {
    client.send(&ClientToServer::JoinInvite { nameplate: code.nameplate() }).await?;
    let (owner, organisation, ice, expert) = match client.recv().await? {
        ServerToClient::InviteJoined { owner, organisation, ice, expert } => {
            (owner, organisation, ice, expert)
        }
        ServerToClient::Error(e) => return Err(ConsoleError::Refused(e)),
        _ => return Err(TransportError::Protocol("unexpected answer to an invite").into()),
    };
    println!("invite: joined {owner}'s session as expert {expert}");
    let to_owner = Route::To(Party::Owner);
    let psk = match pairing::pake(client, to_owner, code, Role::Agent).await {
        Err(PairingError::WrongCode) => return Err(ConsoleError::InviteBurned),
        other => other?,
    };
    let static_key = StaticKey::generate()?;
    let mine = <[u8; 32]>::try_from(static_key.public()).unwrap_or_default();
    let proof = KeyProof::new(&psk, Party::Expert(expert), mine);
    pairing::send_signal(client, to_owner, PeerSignal::KeyProof(proof)).await?;
    let PeerSignal::KeyProof(proof) = pairing::next_signal(client, to_owner).await? else {
        return Err(TransportError::Protocol("expected the customer's key from the owner").into());
    };
    let agent_key = proof
        .verify(&psk, Party::Owner)
        .ok_or(TransportError::Protocol("the owner's proof of the customer's key is wrong"))?;
    let server_ip = client.server_addr().ip();
    let path =
        pairing::connect_ice(client, Route::To(Party::Agent), server_ip, &ice, true, relay_only).await?;
    let kind = path.path();
    let endpoint = socket::endpoint(Box::new(path), None)?;
    let secrets = PeerSecrets { static_key: &static_key, psk: expert_psk(&psk) };
    let (conn, keys, channels) =
        peer::connect(&endpoint, tether_transport::ice::VIRTUAL_PEER, &secrets).await?;
    if keys.remote_static() != agent_key {
        conn.close(peer::CLOSE_PROTOCOL.into(), b"not the customer the owner vouched for");
        return Err(TransportError::Protocol("the agent's key is not the one the owner saw").into());
    }
    Ok(((endpoint, kind, conn, keys, channels), owner, organisation))
}
