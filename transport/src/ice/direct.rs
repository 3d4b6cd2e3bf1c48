//! quinn straight on the shared socket, when ICE selected a pair whose local
//! end is that socket: datagrams go to the selected remote address with
//! quinn-udp's batched I/O, STUN messages that arrive are passed to ICE, and
//! datagrams from anyone else are dropped.
//!
//! quinn sees the same fixed virtual addresses as on the relayed path, so
//! the peer address ICE selected can change without quinn noticing.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use tokio::io::Interest;

use super::shared::{Shared, is_stun};
use super::socket::{AgentGuard, VIRTUAL_LOCAL, VIRTUAL_PEER, Wait, Writable, deliver};

/// QUIC on the shared socket.
pub struct Direct {
    shared: Arc<Shared>,
    /// The selected pair's remote address; ICE may move it.
    remote: Arc<Mutex<SocketAddr>>,
    _guard: AgentGuard,
}

impl Direct {
    pub(super) fn new(shared: Arc<Shared>, remote: Arc<Mutex<SocketAddr>>, guard: AgentGuard) -> Self {
        shared.start_quic();
        Self { shared, remote, _guard: guard }
    }

    fn remote(&self) -> SocketAddr {
        *self.remote.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps what came from `remote` as quinn's, passes STUN to ICE and drops
/// the rest; returns how many of the `n` reads are left, packed at the
/// front, addressed as the virtual peer.
fn sort(
    shared: &Shared,
    remote: SocketAddr,
    bufs: &mut [IoSliceMut<'_>],
    meta: &mut [RecvMeta],
    n: usize,
) -> usize {
    let mut kept = 0;
    for i in 0..n {
        let m = meta[i];
        let stride = m.stride.max(1);
        let buf = &mut bufs[i][..m.len];
        // Segments are `stride` long but the last; removing one keeps that.
        let (mut start, mut len) = (0, m.len);
        while start < len {
            let end = (start + stride).min(len);
            let segment = &buf[start..end];
            let stun = is_stun(segment);
            if m.addr == remote && !stun {
                start = end;
                continue;
            }
            if stun {
                shared.pass_to_ice(segment, m.addr);
            }
            buf.copy_within(end..len, start);
            len -= end - start;
        }
        if len == 0 {
            continue;
        }
        if kept != i {
            let (front, back) = bufs.split_at_mut(i);
            front[kept][..len].copy_from_slice(&back[0][..len]);
        }
        meta[kept] = RecvMeta { addr: VIRTUAL_PEER, len, dst_ip: Some(VIRTUAL_LOCAL.ip()), ..m };
        kept += 1;
    }
    kept
}

impl fmt::Debug for Direct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Direct").field("remote", &self.remote()).finish_non_exhaustive()
    }
}

impl AsyncUdpSocket for Direct {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Writable::new(move || -> Wait {
            let direct = Arc::clone(&self);
            Box::pin(async move { direct.shared.io.writable().await })
        }))
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        let out = Transmit { destination: self.remote(), src_ip: None, ..*transmit };
        let io = &self.shared.io;
        io.try_io(Interest::WRITABLE, || self.shared.state.send(io.into(), &out))
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        while let Some((datagram, from)) = self.shared.take_early_quic() {
            if from != self.remote() || bufs.is_empty() || meta.is_empty() {
                continue;
            }
            meta[0] = deliver(&datagram, &mut bufs[0]);
            return Poll::Ready(Ok(1));
        }
        let io = &self.shared.io;
        loop {
            ready!(io.poll_recv_ready(cx))?;
            match io.try_io(Interest::READABLE, || self.shared.state.recv(io.into(), bufs, meta)) {
                Ok(n) => {
                    let kept = sort(&self.shared, self.remote(), bufs, meta, n);
                    if kept > 0 {
                        return Poll::Ready(Ok(kept));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(VIRTUAL_LOCAL)
    }

    fn may_fragment(&self) -> bool {
        self.shared.state.may_fragment()
    }

    fn max_transmit_segments(&self) -> usize {
        self.shared.state.max_gso_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.shared.state.gro_segments()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webrtc_util::Conn;

    use crate::ice::shared::MuxConn;

    fn stun(tag: u8) -> Vec<u8> {
        let mut m = vec![0x01, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        m.extend([tag; 12]);
        m
    }

    #[tokio::test]
    async fn quic_is_kept_stun_goes_to_ice_and_strangers_are_dropped() {
        let shared = Shared::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        shared.start_quic();
        let peer: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let stranger: SocketAddr = "192.0.2.9:4000".parse().unwrap();
        // Read 0: three QUIC segments of 30 bytes then a STUN message, as GRO
        // would coalesce them. Read 1: a stranger's datagram. Read 2: QUIC.
        let mut first = vec![0xc1; 90];
        first.extend(stun(1));
        let mut store = [first, vec![0xc2; 40], vec![0x43; 25]];
        let lens: Vec<usize> = store.iter().map(Vec::len).collect();
        for b in &mut store {
            b.resize(200, 0);
        }
        let [a, b, c] = &mut store;
        let mut bufs = [IoSliceMut::new(a), IoSliceMut::new(b), IoSliceMut::new(c)];
        let at = |addr, len, stride| RecvMeta { addr, len, stride, ecn: None, dst_ip: None };
        let mut meta = [at(peer, lens[0], 30), at(stranger, lens[1], 40), at(peer, lens[2], 25)];

        let kept = sort(&shared, peer, &mut bufs, &mut meta, 3);

        assert_eq!(kept, 2);
        assert_eq!((meta[0].len, meta[0].stride, meta[0].addr), (90, 30, VIRTUAL_PEER));
        assert!(bufs[0][..90].iter().all(|&b| b == 0xc1));
        assert_eq!((meta[1].len, meta[1].addr), (25, VIRTUAL_PEER));
        assert!(bufs[1][..25].iter().all(|&b| b == 0x43), "the third read moved up");
        let mut got = [0; 64];
        let (n, from) = MuxConn(Arc::downgrade(&shared)).recv_from(&mut got).await.unwrap();
        assert_eq!((&got[..n], from), (&stun(1)[..], peer));
    }
}
