//! Peer sessions in one process on loopback, for benchmarks and resource
//! tests: both sides of ICE, and QUIC connections with the Noise handshake
//! done on any pair of paths.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tether_protocol::handshake::StaticKey;
use tether_protocol::ice::IceServers;
use tether_transport::ice::{self, IcePath};
use tether_transport::peer::{self, PeerSecrets};
use tether_transport::socket::{self, PathSocket};

/// Where everything here runs.
pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Both sides of an ICE session gathered through `servers` and connected:
/// (agent side, console side).
pub async fn ice_pair(servers: &IceServers, relay_only: bool) -> anyhow::Result<(IcePath, IcePath)> {
    let (a, c) = tokio::join!(
        ice::gather(servers, LOCALHOST, relay_only),
        ice::gather(servers, LOCALHOST, relay_only)
    );
    let (a, c) = (a?, c?);
    let (ap, cp) = (a.params.clone(), c.params.clone());
    let (a, c) = tokio::join!(a.connect(&cp, false), c.connect(&ap, true));
    Ok((a?, c?))
}

/// A peer session's two ends: endpoints and connections.
#[derive(Debug)]
pub struct Ends {
    pub agent_endpoint: quinn::Endpoint,
    pub console_endpoint: quinn::Endpoint,
    pub agent: quinn::Connection,
    pub console: quinn::Connection,
}

/// Endpoints on `agent` and `console`, connected at `addr` (the agent's, as
/// the console dials it), with the Noise handshake done.
pub async fn connect(
    agent: Box<dyn PathSocket>,
    console: Box<dyn PathSocket>,
    addr: SocketAddr,
) -> anyhow::Result<Ends> {
    let agent_endpoint = socket::endpoint(agent, Some(peer::peer_server_config()?))?;
    let console_endpoint = socket::endpoint(console, None)?;
    let (ka, kc) = (StaticKey::generate()?, StaticKey::generate()?);
    let psk = [7; 32];
    let (sa, sc) = (PeerSecrets { static_key: &ka, psk }, PeerSecrets { static_key: &kc, psk });
    let (a, c) =
        tokio::join!(peer::accept(&agent_endpoint, &sa), peer::connect(&console_endpoint, addr, &sc));
    let ((agent, _, _), (console, _, _)) = (a?, c?);
    Ok(Ends { agent_endpoint, console_endpoint, agent, console })
}
