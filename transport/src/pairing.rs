//! Pairing over the rendezvous connection: SPAKE2 with key confirmation,
//! then the exchange of ICE offers and ICE itself. Shared by console and
//! agent, and by the owner, expert and agent of an invite: the messages go
//! to the session's peer ([`Route::Peer`]) or to one party of the session
//! through the server ([`Route::To`]), over a [`Link`].

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use tether_protocol::code::PairingCode;
use tether_protocol::ice::IceServers;
use tether_protocol::invite::Party;
use tether_protocol::pake::{Pake, Role};
use tether_protocol::signal::{ClientToServer, PeerSignal, ServerToClient};
use tokio::sync::mpsc;

use crate::TransportError;
use crate::ice::{self, IcePath};
use crate::signal_client::SignalClient;

/// How long to wait for the peer at each pairing step.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why pairing failed.
#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    /// The two sides hold different codes; the code is now burned.
    #[error("That code is not right. Ask your technician for a new one.")]
    WrongCode,
    /// The other side left.
    #[error("the other side left before the connection was set up")]
    PeerLeft,
    /// The connection to the server failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// A way to and from the server.
pub trait Link: Send {
    /// Sends one request.
    fn send(&mut self, msg: ClientToServer) -> impl Future<Output = Result<(), TransportError>> + Send;
    /// The next message from the server.
    fn recv(&mut self) -> impl Future<Output = Result<ServerToClient, TransportError>> + Send;
}

impl Link for SignalClient {
    async fn send(&mut self, msg: ClientToServer) -> Result<(), TransportError> {
        SignalClient::send(self, &msg).await
    }

    async fn recv(&mut self) -> Result<ServerToClient, TransportError> {
        SignalClient::recv(self).await
    }
}

/// A link through channels, for a connection another task owns: it sends
/// what arrives on `tx` and hands this side its share of what comes back.
#[derive(Debug)]
pub struct ChannelLink {
    /// Requests for the server.
    pub tx: mpsc::UnboundedSender<ClientToServer>,
    /// What the server sent this side.
    pub rx: mpsc::UnboundedReceiver<ServerToClient>,
}

impl Link for ChannelLink {
    async fn send(&mut self, msg: ClientToServer) -> Result<(), TransportError> {
        self.tx.send(msg).map_err(|_| TransportError::Protocol("the server connection is gone"))
    }

    async fn recv(&mut self) -> Result<ServerToClient, TransportError> {
        self.rx.recv().await.ok_or(TransportError::Protocol("the server connection is gone"))
    }
}

/// Whom pairing messages go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The session's peer (console and agent pairing by code or queue).
    Peer,
    /// One party of the session (an invite).
    To(Party),
}

impl Route {
    fn wrap(self, signal: PeerSignal) -> ClientToServer {
        match self {
            Self::Peer => ClientToServer::Relay(signal),
            Self::To(to) => ClientToServer::RelayTo { to, signal },
        }
    }

    /// The signal in `msg` if it came from this route's party; `Err` if
    /// the party is gone.
    fn unwrap(self, msg: ServerToClient) -> Result<Option<PeerSignal>, PairingError> {
        match (self, msg) {
            (Self::Peer, ServerToClient::Relay(signal)) => Ok(Some(signal)),
            (Self::To(party), ServerToClient::RelayFrom { from, signal }) if from == party => {
                Ok(Some(signal))
            }
            (Self::To(Party::Expert(n)), ServerToClient::ExpertLeft { expert }) if expert == n => {
                Err(PairingError::PeerLeft)
            }
            (_, ServerToClient::PeerLeft) => Err(PairingError::PeerLeft),
            (_, ServerToClient::Error(e)) => Err(TransportError::Refused(e).into()),
            // Notices (such as our own code being burned) are handled by callers later.
            _ => Ok(None),
        }
    }
}

/// The next signal from `route`'s party.
pub async fn next_signal(link: &mut impl Link, route: Route) -> Result<PeerSignal, PairingError> {
    loop {
        let msg = tokio::time::timeout(STEP_TIMEOUT, link.recv())
            .await
            .map_err(|_| TransportError::Timeout("waiting for the other side"))??;
        match route.unwrap(msg)? {
            Some(PeerSignal::PairingFailed) => return Err(PairingError::WrongCode),
            Some(signal) => return Ok(signal),
            None => {}
        }
    }
}

/// Sends `signal` to `route`'s party.
pub async fn send_signal(link: &mut impl Link, route: Route, signal: PeerSignal) -> Result<(), PairingError> {
    Ok(link.send(route.wrap(signal)).await?)
}

/// Runs SPAKE2 and key confirmation through the server; returns the PSK.
///
/// On a mismatch this side tells the peer (and so the server, which burns the
/// code) before returning [`PairingError::WrongCode`].
pub async fn pake(
    link: &mut impl Link,
    route: Route,
    code: &PairingCode,
    role: Role,
) -> Result<[u8; 32], PairingError> {
    let (state, msg) = Pake::start(code, role);
    send_signal(link, route, PeerSignal::Pake(msg)).await?;
    let PeerSignal::Pake(peer_msg) = next_signal(link, route).await? else {
        return Err(TransportError::Protocol("expected the pairing message").into());
    };
    let keys = match state.finish(&peer_msg) {
        Ok(k) => k,
        Err(_) => {
            send_signal(link, route, PeerSignal::PairingFailed).await?;
            return Err(PairingError::WrongCode);
        }
    };
    send_signal(link, route, PeerSignal::Confirm(keys.confirm_tag().to_vec())).await?;
    let PeerSignal::Confirm(tag) = next_signal(link, route).await? else {
        return Err(TransportError::Protocol("expected the pairing confirmation").into());
    };
    if keys.verify_peer(&tag).is_err() {
        send_signal(link, route, PeerSignal::PairingFailed).await?;
        return Err(PairingError::WrongCode);
    }
    Ok(keys.psk())
}

/// Gathers candidates, swaps ICE offers with `route`'s party through the
/// server (reached at `server_ip`), and runs ICE. The console (or expert)
/// controls; the agent is controlled. With `relay_only` this side offers
/// only relayed candidates.
pub async fn connect_ice(
    link: &mut impl Link,
    route: Route,
    server_ip: IpAddr,
    servers: &IceServers,
    controlling: bool,
    relay_only: bool,
) -> Result<IcePath, PairingError> {
    let gathered = ice::gather(servers, server_ip, relay_only).await?;
    send_signal(link, route, PeerSignal::Ice(gathered.params.clone())).await?;
    let PeerSignal::Ice(theirs) = next_signal(link, route).await? else {
        return Err(TransportError::Protocol("expected the peer's connection candidates").into());
    };
    Ok(gathered.connect(&theirs, controlling).await?)
}

/// [`connect_ice`] when the peer's offer came first (the agent answering an
/// expert): gathers, answers with its own offer, and runs ICE.
pub async fn answer_ice(
    link: &mut impl Link,
    route: Route,
    server_ip: IpAddr,
    servers: &IceServers,
    theirs: &tether_protocol::ice::IceParams,
    relay_only: bool,
) -> Result<IcePath, PairingError> {
    let gathered = ice::gather(servers, server_ip, relay_only).await?;
    send_signal(link, route, PeerSignal::Ice(gathered.params.clone())).await?;
    Ok(gathered.connect(theirs, false).await?)
}
