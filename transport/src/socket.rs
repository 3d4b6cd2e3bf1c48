//! The socket a peer endpoint runs on, behind one small trait.
//!
//! Today a path is a plain UDP socket. The ICE path implements the same trait
//! by handing quinn its own `AsyncUdpSocket` over the connection ICE chose,
//! so callers of [`peer_endpoint`] do not change.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;

use tether_protocol::signal::{CandidateKind, PathInfo, PathKind};

use crate::TransportError;

/// Something quinn can run on.
pub trait PathSocket: Send + std::fmt::Debug {
    /// Hands the socket to quinn's runtime.
    fn into_quinn(
        self: Box<Self>,
        runtime: &Arc<dyn quinn::Runtime>,
    ) -> std::io::Result<Arc<dyn quinn::AsyncUdpSocket>>;

    /// Which path this is, for the UIs and the session record.
    fn path(&self) -> PathInfo;
}

/// A plain UDP socket: the direct path.
#[derive(Debug)]
pub struct UdpPath(UdpSocket);

impl UdpPath {
    /// Binds a UDP socket.
    pub fn bind(addr: SocketAddr) -> Result<Self, TransportError> {
        UdpSocket::bind(addr).map(Self).map_err(TransportError::io("binding a UDP socket"))
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        self.0.local_addr().map_err(TransportError::io("reading the local address"))
    }
}

impl PathSocket for UdpPath {
    fn into_quinn(
        self: Box<Self>,
        runtime: &Arc<dyn quinn::Runtime>,
    ) -> std::io::Result<Arc<dyn quinn::AsyncUdpSocket>> {
        runtime.wrap_udp_socket(self.0)
    }

    fn path(&self) -> PathInfo {
        PathInfo { kind: PathKind::Direct, local: CandidateKind::Host, remote: CandidateKind::Host }
    }
}

/// A quinn endpoint on `socket`, serving with `server` if given.
pub fn endpoint(
    socket: Box<dyn PathSocket>,
    server: Option<quinn::ServerConfig>,
) -> Result<quinn::Endpoint, TransportError> {
    let runtime =
        quinn::default_runtime().ok_or_else(|| TransportError::Tls("no async runtime is running".into()))?;
    let socket = socket.into_quinn(&runtime).map_err(TransportError::io("starting QUIC on the socket"))?;
    quinn::Endpoint::new_with_abstract_socket(quinn::EndpointConfig::default(), server, socket, runtime)
        .map_err(TransportError::io("starting a QUIC endpoint"))
}

/// The local address the OS would use to reach `remote` (no packet is sent).
pub fn local_ip_towards(remote: SocketAddr) -> Result<std::net::IpAddr, TransportError> {
    let any: SocketAddr = if remote.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let probe = UdpSocket::bind(any).map_err(TransportError::io("probing the local address"))?;
    probe.connect(remote).map_err(TransportError::io("probing the local address"))?;
    Ok(probe.local_addr().map_err(TransportError::io("probing the local address"))?.ip())
}
