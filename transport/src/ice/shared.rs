//! One UDP socket shared by ICE and QUIC: webrtc-ice runs its checks on it
//! (through the `UDPMux` and `Conn` traits), and QUIC then runs on the very
//! same port, so the path ICE proved is the path QUIC uses, with quinn's own
//! batched I/O (GSO/GRO) and no hop through webrtc-ice per datagram.
//!
//! Until QUIC starts, ICE's reader owns the socket and keeps early QUIC
//! datagrams for it; once QUIC starts, quinn's endpoint driver reads and
//! passes the STUN messages (consent checks, keepalives) on to ICE.

use std::collections::VecDeque;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use async_trait::async_trait;
use quinn::udp::{RecvMeta, UdpSocketState};
use tokio::io::Interest;
use tokio::sync::Notify;
use tracing::debug;
use webrtc_ice::udp_mux::UDPMux;

/// STUN messages waiting for ICE, and QUIC datagrams that came before QUIC.
const QUEUE: usize = 128;
/// A buffer for one (GRO-coalesced) read.
const READ_BUFFER: usize = 64 * 1024;

/// RFC 5389: a STUN message starts with two zero bits, and the magic
/// cookie follows the type and length. QUIC packets never look like this
/// (their first bit is set, or the second for short headers; RFC 9443).
#[must_use]
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= 20 && datagram[0] & 0xc0 == 0 && datagram[4..8] == [0x21, 0x12, 0xa4, 0x42]
}

/// The socket, its quinn-udp state, and what each side has not read yet.
pub struct Shared {
    pub(super) io: tokio::net::UdpSocket,
    pub(super) state: UdpSocketState,
    queues: Mutex<Queues>,
    /// Wakes ICE's readers: a STUN message, QUIC starting, or closing.
    stun_ready: Notify,
    quic_started: AtomicBool,
    closed: AtomicBool,
}

#[derive(Default)]
struct Queues {
    stun: VecDeque<(Vec<u8>, SocketAddr)>,
    early_quic: VecDeque<(Vec<u8>, SocketAddr)>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("local", &self.io.local_addr().ok()).finish_non_exhaustive()
    }
}

impl Shared {
    /// Binds the socket (inside a runtime).
    pub fn bind(addr: SocketAddr) -> io::Result<Arc<Self>> {
        let socket = std::net::UdpSocket::bind(addr)?;
        let state = UdpSocketState::new((&socket).into())?;
        socket.set_nonblocking(true)?;
        Ok(Arc::new(Self {
            io: tokio::net::UdpSocket::from_std(socket)?,
            state,
            queues: Mutex::default(),
            stun_ready: Notify::new(),
            quic_started: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    fn queues(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// From now on quinn reads the socket and ICE waits for what it passes on.
    pub fn start_quic(&self) {
        self.quic_started.store(true, Ordering::SeqCst);
        self.stun_ready.notify_waiters();
    }

    /// Ends ICE's readers; QUIC, if running, is not affected.
    pub fn close_ice(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.stun_ready.notify_waiters();
    }

    /// Queues a STUN message for ICE (the oldest goes when it is full).
    pub(super) fn pass_to_ice(&self, datagram: &[u8], from: SocketAddr) {
        let mut queues = self.queues();
        if queues.stun.len() == QUEUE {
            queues.stun.pop_front();
        }
        queues.stun.push_back((datagram.to_vec(), from));
        drop(queues);
        self.stun_ready.notify_waiters();
    }

    /// A QUIC datagram that arrived before QUIC started.
    pub(super) fn take_early_quic(&self) -> Option<(Vec<u8>, SocketAddr)> {
        self.queues().early_quic.pop_front()
    }

    /// ICE's read: the next STUN message. Before QUIC starts this reads the
    /// socket itself and keeps QUIC datagrams aside.
    async fn recv_stun(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut scratch = Vec::new();
        loop {
            let notified = self.stun_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.closed.load(Ordering::SeqCst) {
                return Err(io::ErrorKind::ConnectionAborted.into());
            }
            if let Some((datagram, from)) = self.queues().stun.pop_front() {
                let n = datagram.len().min(buf.len());
                buf[..n].copy_from_slice(&datagram[..n]);
                return Ok((n, from));
            }
            if self.quic_started.load(Ordering::SeqCst) {
                notified.await;
                continue;
            }
            tokio::select! {
                ready = self.io.readable() => ready?,
                () = &mut notified => continue,
            }
            if scratch.is_empty() {
                scratch = vec![0; READ_BUFFER];
            }
            let mut meta = [RecvMeta::default()];
            let read = self.io.try_io(Interest::READABLE, || {
                self.state.recv((&self.io).into(), &mut [IoSliceMut::new(&mut scratch)], &mut meta)
            });
            match read {
                Ok(_) => self.sort_before_quic(&scratch, &meta[0]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // An ICMP error for an earlier send, reported here: not ours.
                Err(e) => debug!("reading the shared socket: {e}"),
            }
        }
    }

    /// Sorts one read before QUIC starts: STUN for ICE, the rest kept for QUIC.
    fn sort_before_quic(&self, data: &[u8], meta: &RecvMeta) {
        let stride = meta.stride.max(1);
        for segment in data[..meta.len].chunks(stride) {
            if is_stun(segment) {
                self.pass_to_ice(segment, meta.addr);
            } else {
                let mut queues = self.queues();
                if queues.early_quic.len() < QUEUE {
                    queues.early_quic.push_back((segment.to_vec(), meta.addr));
                }
            }
        }
    }
}

/// webrtc-ice's view of the shared socket: one connection for every host
/// candidate of the session's single agent. It holds the socket weakly, so
/// the socket closes when the session ends even if webrtc-ice keeps its
/// agent alive.
pub struct MuxConn(pub Weak<Shared>);

impl MuxConn {
    fn shared(&self) -> io::Result<Arc<Shared>> {
        self.0.upgrade().ok_or_else(|| io::ErrorKind::ConnectionAborted.into())
    }
}

#[async_trait]
impl webrtc_util::Conn for MuxConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(webrtc_util::Error::Other("the shared ICE socket does not connect".into()))
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.shared()?.recv_stun(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        Ok(self.shared()?.recv_stun(buf).await?)
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(webrtc_util::Error::Other("the shared ICE socket sends only with an address".into()))
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        Ok(self.shared()?.io.send_to(buf, target).await?)
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.shared()?.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        if let Some(shared) = self.0.upgrade() {
            shared.close_ice();
        }
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// Hands webrtc-ice the shared socket for its host candidates (weakly, as
/// [`MuxConn`]).
pub struct Mux(pub Weak<Shared>);

#[async_trait]
impl UDPMux for Mux {
    async fn close(&self) -> Result<(), webrtc_util::Error> {
        if let Some(shared) = self.0.upgrade() {
            shared.close_ice();
        }
        Ok(())
    }

    async fn get_conn(
        self: Arc<Self>,
        _ufrag: &str,
    ) -> Result<Arc<dyn webrtc_util::Conn + Send + Sync>, webrtc_util::Error> {
        Ok(Arc::new(MuxConn(Weak::clone(&self.0))))
    }

    async fn remove_conn_by_ufrag(&self, _ufrag: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stun_and_quic_are_told_apart() {
        let mut binding = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        binding.extend([7; 12]);
        assert!(is_stun(&binding));
        // A QUIC long header (first bit set) and a short one (second bit set).
        let mut long = binding.clone();
        long[0] = 0xc3;
        let mut short = binding.clone();
        short[0] = 0x41;
        assert!(!is_stun(&long) && !is_stun(&short));
        assert!(!is_stun(&binding[..19]));
        let mut no_cookie = binding;
        no_cookie[5] = 0;
        assert!(!is_stun(&no_cookie));
    }
}
