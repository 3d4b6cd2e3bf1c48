//! The path ICE chose, and quinn on it: straight on the shared socket when
//! that is the local end (`direct`), or else an `AsyncUdpSocket` whose
//! datagrams go through webrtc-ice's connection (a relayed local end).
//!
//! quinn sees fixed virtual addresses, so ICE can switch pairs without
//! quinn noticing a migration. On the relayed path a writer task drains a
//! bounded queue into the ICE connection; a reader task fills another one
//! that `poll_recv` empties in batches.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use super::direct::Direct;
use super::shared::Shared;
use std::task::{Context, Poll};

use bytes::Bytes;
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use tether_protocol::signal::PathInfo;
use tokio::sync::mpsc;
use tracing::debug;
use webrtc_ice::agent::Agent;
use webrtc_util::Conn;

use crate::socket::PathSocket;

/// This side's address as quinn sees it on an ICE path.
pub(super) const VIRTUAL_LOCAL: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 255, 255, 1), 1));
/// The peer's address as quinn sees it on an ICE path: connect to this.
pub const VIRTUAL_PEER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 255, 255, 2), 1));

/// Datagrams queued each way.
const QUEUE: usize = 512;
/// Largest datagram read from ICE.
const MAX_DATAGRAM: usize = 65_535;

/// The path ICE chose, ready to carry QUIC.
pub struct IcePath {
    guard: AgentGuard,
    carrier: Carrier,
    path: PathInfo,
    local: String,
}

/// What carries the datagrams.
pub(super) enum Carrier {
    /// webrtc-ice's connection: the local end is a relay.
    Ice(Arc<dyn Conn + Send + Sync>),
    /// The shared socket is the local end; `remote` follows ICE's choice.
    Shared { shared: Arc<Shared>, remote: Arc<Mutex<SocketAddr>> },
}

/// The session's ICE agent and shared socket, closed when this goes: the
/// socket by us, whatever webrtc-ice does with the agent afterwards.
pub(super) struct AgentGuard {
    pub(super) agent: Arc<Agent>,
    pub(super) shared: Option<Arc<Shared>>,
}

impl Drop for AgentGuard {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.close_ice();
        }
        close_agent(&self.agent);
    }
}

/// Copies one datagram from the peer into quinn's buffer.
pub(super) fn deliver(datagram: &[u8], buf: &mut IoSliceMut<'_>) -> RecvMeta {
    let len = datagram.len().min(buf.len());
    buf[..len].copy_from_slice(&datagram[..len]);
    RecvMeta { addr: VIRTUAL_PEER, len, stride: len, ecn: None, dst_ip: Some(VIRTUAL_LOCAL.ip()) }
}

/// Closes the agent (its sockets, its tasks) in the background.
fn close_agent(agent: &Arc<Agent>) {
    let agent = Arc::clone(agent);
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            let _ = agent.close().await;
        });
    }
}

impl fmt::Debug for IcePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IcePath")
            .field("path", &self.path)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl IcePath {
    pub(super) fn new(guard: AgentGuard, carrier: Carrier, path: PathInfo, local: String) -> Self {
        Self { guard, carrier, path, local }
    }

    /// This side's address on the selected pair, for logs.
    #[must_use]
    pub fn local_address(&self) -> &str {
        &self.local
    }
}

impl PathSocket for IcePath {
    fn into_quinn(
        self: Box<Self>,
        _runtime: &Arc<dyn quinn::Runtime>,
    ) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let conn = match self.carrier {
            Carrier::Shared { shared, remote } => {
                return Ok(Arc::new(Direct::new(shared, remote, self.guard)));
            }
            Carrier::Ice(conn) => conn,
        };
        let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(QUEUE);
        let (in_tx, in_rx) = mpsc::channel::<Bytes>(QUEUE);
        let writer = Arc::clone(&conn);
        tokio::spawn(async move {
            while let Some(datagram) = out_rx.recv().await {
                if let Err(e) = writer.send(&datagram).await {
                    debug!("ICE send failed: {e}");
                }
            }
        });
        tokio::spawn(async move {
            let mut buf = vec![0; MAX_DATAGRAM];
            loop {
                let n = match conn.recv(&mut buf).await {
                    Ok(n) => n,
                    Err(e) => {
                        debug!("ICE connection closed: {e}");
                        return;
                    }
                };
                if in_tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                    return;
                }
            }
        });
        Ok(Arc::new(IceSocket { out: out_tx, incoming: Mutex::new(in_rx), _guard: self.guard }))
    }

    fn path(&self) -> PathInfo {
        self.path
    }
}

struct IceSocket {
    out: mpsc::Sender<Bytes>,
    incoming: Mutex<mpsc::Receiver<Bytes>>,
    /// Closing the agent closes its sockets and ends the reader task.
    _guard: AgentGuard,
}

impl fmt::Debug for IceSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IceSocket")
    }
}

impl AsyncUdpSocket for IceSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        let out = self.out.clone();
        Box::pin(Writable::new(move || -> Wait {
            let out = out.clone();
            // Reserving and dropping the permit at once: there is room now.
            Box::pin(
                async move { out.reserve().await.map(drop).map_err(|_| io::ErrorKind::BrokenPipe.into()) },
            )
        }))
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        match self.out.try_send(Bytes::copy_from_slice(transmit.contents)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(io::ErrorKind::WouldBlock.into()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut incoming = self.incoming.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut filled = 0;
        while filled < bufs.len().min(meta.len()) {
            let datagram = if filled == 0 {
                match incoming.poll_recv(cx) {
                    Poll::Ready(Some(d)) => d,
                    Poll::Ready(None) => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                    Poll::Pending => return Poll::Pending,
                }
            } else {
                match incoming.try_recv() {
                    Ok(d) => d,
                    Err(_) => break,
                }
            };
            meta[filled] = deliver(&datagram, &mut bufs[filled]);
            filled += 1;
        }
        Poll::Ready(Ok(filled))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(VIRTUAL_LOCAL)
    }
}

/// Something that completes when quinn may send again.
pub(super) type Wait = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

/// Wakes quinn when `make`'s future completes (a fresh one each time).
pub(super) struct Writable<F> {
    make: F,
    waiting: Mutex<Option<Wait>>,
}

impl<F: Fn() -> Wait> Writable<F> {
    pub(super) fn new(make: F) -> Self {
        Self { make, waiting: Mutex::new(None) }
    }
}

impl<F> fmt::Debug for Writable<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Writable")
    }
}

impl<F: Fn() -> Wait + Send + Sync + Unpin + 'static> UdpPoller for Writable<F> {
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let waiting = this.waiting.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fut = waiting.get_or_insert_with(&this.make);
        let result = std::task::ready!(fut.as_mut().poll(cx));
        *waiting = None;
        Poll::Ready(result)
    }
}
