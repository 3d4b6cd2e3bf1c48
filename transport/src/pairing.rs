//! Pairing over the rendezvous connection: SPAKE2 with key confirmation,
//! then the exchange of ICE offers and ICE itself. Shared by console and agent.

use std::time::Duration;

use tether_protocol::code::PairingCode;
use tether_protocol::ice::IceServers;
use tether_protocol::pake::{Pake, Role};
use tether_protocol::signal::{ClientToServer, PeerSignal, ServerToClient};

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

async fn next_relay(client: &mut SignalClient) -> Result<PeerSignal, PairingError> {
    loop {
        let msg = tokio::time::timeout(STEP_TIMEOUT, client.recv())
            .await
            .map_err(|_| TransportError::Timeout("waiting for the other side"))??;
        match msg {
            ServerToClient::Relay(PeerSignal::PairingFailed) => {
                return Err(PairingError::WrongCode);
            }
            ServerToClient::Relay(signal) => return Ok(signal),
            ServerToClient::PeerLeft => return Err(PairingError::PeerLeft),
            ServerToClient::Error(e) => return Err(TransportError::Refused(e).into()),
            // Notices (such as our own code being burned) are handled by callers later.
            _ => {}
        }
    }
}

/// Runs SPAKE2 and key confirmation through the server; returns the PSK.
///
/// On a mismatch this side tells the peer (and so the server, which burns the
/// code) before returning [`PairingError::WrongCode`].
pub async fn pake(
    client: &mut SignalClient,
    code: &PairingCode,
    role: Role,
) -> Result<[u8; 32], PairingError> {
    let (state, msg) = Pake::start(code, role);
    client.send(&ClientToServer::Relay(PeerSignal::Pake(msg))).await?;
    let PeerSignal::Pake(peer_msg) = next_relay(client).await? else {
        return Err(TransportError::Protocol("expected the pairing message").into());
    };
    let keys = match state.finish(&peer_msg) {
        Ok(k) => k,
        Err(_) => {
            client.send(&ClientToServer::Relay(PeerSignal::PairingFailed)).await?;
            return Err(PairingError::WrongCode);
        }
    };
    client.send(&ClientToServer::Relay(PeerSignal::Confirm(keys.confirm_tag().to_vec()))).await?;
    let PeerSignal::Confirm(tag) = next_relay(client).await? else {
        return Err(TransportError::Protocol("expected the pairing confirmation").into());
    };
    if keys.verify_peer(&tag).is_err() {
        client.send(&ClientToServer::Relay(PeerSignal::PairingFailed)).await?;
        return Err(PairingError::WrongCode);
    }
    Ok(keys.psk())
}

/// Gathers candidates, swaps ICE offers with the peer through the server,
/// and runs ICE. The console controls; the agent is controlled. With
/// `relay_only` this side offers only relayed candidates.
pub async fn connect_ice(
    client: &mut SignalClient,
    servers: &IceServers,
    controlling: bool,
    relay_only: bool,
) -> Result<IcePath, PairingError> {
    let gathered = ice::gather(servers, client.server_addr().ip(), relay_only).await?;
    client.send(&ClientToServer::Relay(PeerSignal::Ice(gathered.params.clone()))).await?;
    let PeerSignal::Ice(theirs) = next_relay(client).await? else {
        return Err(TransportError::Protocol("expected the peer's connection candidates").into());
    };
    Ok(gathered.connect(&theirs, controlling).await?)
}
