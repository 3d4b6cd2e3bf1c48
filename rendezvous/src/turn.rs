//! The embedded STUN/TURN server (the `turn` crate). It answers STUN binding
//! requests from anyone, and relays only for holders of valid, unexpired
//! session credentials, with at most [`MAX_ALLOCATIONS_PER_SESSION`] client
//! addresses per session and a rate limit on every relayed socket.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use turn::auth::{AuthHandler, generate_auth_key};
use turn::relay::RelayAddressGenerator;
use turn::relay::relay_static::RelayAddressGeneratorStatic;
use turn::server::Server;
use turn::server::config::{ConnConfig, ServerConfig};
use webrtc_util::Conn;
use webrtc_util::vnet::net::Net;

use crate::bucket::Bucket;
use crate::ice;
use crate::record::unix_now;

/// The realm in TURN's long-term credentials.
pub const REALM: &str = "tether";
/// Most client addresses (so allocations) one session's credentials admit.
pub const MAX_ALLOCATIONS_PER_SESSION: usize = 8;
/// Most sessions with live credentials tracked at once.
const MAX_SESSIONS: usize = 4096;

/// How to run the embedded server.
#[derive(Debug, Clone)]
pub struct TurnConfig {
    /// UDP address to listen on.
    pub listen: SocketAddr,
    /// The address relays are announced at (reachable by peers).
    pub relay_ip: IpAddr,
    /// The shared secret credentials are made with.
    pub secret: String,
    /// Bytes per second each relayed socket may carry in each direction.
    pub rate: u64,
    /// Relay to loopback peers too (tests and single-machine demos only:
    /// otherwise a client could reach services on the server itself).
    pub allow_loopback: bool,
}

/// Whether the relay may send to `peer`: never to the server's own
/// loopback (unless allowed), nor to unspecified, multicast, broadcast or
/// link-local addresses.
#[must_use]
pub fn peer_allowed(peer: std::net::IpAddr, allow_loopback: bool) -> bool {
    use std::net::IpAddr;
    if peer.is_loopback() {
        return allow_loopback;
    }
    match peer {
        IpAddr::V4(ip) => {
            !(ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() || ip.is_link_local())
        }
        IpAddr::V6(ip) => {
            !(ip.is_unspecified() || ip.is_multicast() || (ip.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// A running embedded STUN/TURN server.
pub struct TurnServer {
    server: Server,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl std::fmt::Debug for TurnServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl TurnServer {
    /// Binds and starts serving.
    pub async fn start(config: TurnConfig) -> Result<Self, std::io::Error> {
        let socket = Arc::new(tokio::net::UdpSocket::bind(config.listen).await?);
        let addr = socket.local_addr()?;
        let relay = ThrottledRelay {
            inner: RelayAddressGeneratorStatic {
                relay_address: config.relay_ip,
                address: config.listen.ip().to_string(),
                net: Arc::new(Net::new(None)),
            },
            rate: config.rate,
            allow_loopback: config.allow_loopback,
        };
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig { conn: socket, relay_addr_generator: Box::new(relay) }],
            realm: REALM.to_owned(),
            auth_handler: Arc::new(SessionAuth { secret: config.secret, sessions: Mutex::default() }),
            channel_bind_timeout: Duration::from_secs(0),
            alloc_close_notify: None,
        })
        .await
        .map_err(|e| std::io::Error::other(format!("starting TURN: {e}")))?;
        Ok(Self { server, addr })
    }

    /// Stops serving and frees every allocation.
    pub async fn close(&self) {
        let _ = self.server.close().await;
    }
}

/// Checks session credentials and bounds what each session may hold.
struct SessionAuth {
    secret: String,
    /// User name → (expiry, client addresses seen).
    sessions: Mutex<HashMap<String, (u64, Vec<SocketAddr>)>>,
}

impl AuthHandler for SessionAuth {
    fn auth_handle(&self, username: &str, realm: &str, src: SocketAddr) -> Result<Vec<u8>, turn::Error> {
        let refuse = |why: &str| Err(turn::Error::Other(why.to_owned()));
        let Some(expiry) = ice::expiry(username) else { return refuse("malformed user name") };
        let now = unix_now();
        if expiry < now {
            return refuse("expired credentials");
        }
        let mut sessions = self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.retain(|_, (e, _)| *e >= now);
        if !sessions.contains_key(username) && sessions.len() >= MAX_SESSIONS {
            return refuse("too many sessions");
        }
        let (_, sources) = sessions.entry(username.to_owned()).or_insert_with(|| (expiry, Vec::new()));
        if !sources.contains(&src) {
            if sources.len() >= MAX_ALLOCATIONS_PER_SESSION {
                return refuse("too many allocations for this session");
            }
            sources.push(src);
        }
        Ok(generate_auth_key(username, realm, &ice::password(&self.secret, username)))
    }
}

/// Hands out relayed sockets that drop what exceeds the rate.
struct ThrottledRelay {
    inner: RelayAddressGeneratorStatic,
    rate: u64,
    allow_loopback: bool,
}

#[async_trait]
impl RelayAddressGenerator for ThrottledRelay {
    fn validate(&self) -> Result<(), turn::Error> {
        self.inner.validate()
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        let (inner, addr) = self.inner.allocate_conn(use_ipv4, requested_port).await?;
        let now = Instant::now();
        let conn = Throttled {
            inner,
            allow_loopback: self.allow_loopback,
            out: Mutex::new(Bucket::new(self.rate, now)),
            back: Mutex::new(Bucket::new(self.rate, now)),
        };
        Ok((Arc::new(conn), addr))
    }
}

/// A relayed socket with a token bucket each way; like a congested link,
/// it drops what does not fit.
struct Throttled {
    inner: Arc<dyn Conn + Send + Sync>,
    allow_loopback: bool,
    out: Mutex<Bucket>,
    back: Mutex<Bucket>,
}

fn fits(bucket: &Mutex<Bucket>, n: usize) -> bool {
    bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take(n as u64, Instant::now())
}

#[async_trait]
impl Conn for Throttled {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        loop {
            let n = self.inner.recv(buf).await?;
            if fits(&self.back, n) {
                return Ok(n);
            }
        }
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            if fits(&self.back, n) {
                return Ok((n, from));
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        if fits(&self.out, buf.len()) { self.inner.send(buf).await } else { Ok(buf.len()) }
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        // Like a firewall: what may not go is dropped, not answered.
        if peer_allowed(target.ip(), self.allow_loopback) && fits(&self.out, buf.len()) {
            self.inner.send_to(buf, target).await
        } else {
            Ok(buf.len())
        }
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.inner.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> SessionAuth {
        SessionAuth { secret: "s".into(), sessions: Mutex::default() }
    }

    #[test]
    fn valid_credentials_get_the_key_and_others_are_refused() {
        let a = auth();
        let src: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let user = format!("{}:7", unix_now() + 60);
        let key = a.auth_handle(&user, REALM, src).unwrap();
        assert_eq!(key, generate_auth_key(&user, REALM, &ice::password("s", &user)));
        assert!(a.auth_handle(&format!("{}:7", unix_now() - 1), REALM, src).is_err(), "expired");
        assert!(a.auth_handle("alice", REALM, src).is_err(), "not our scheme");
    }

    #[test]
    fn the_relay_never_reaches_the_servers_own_loopback_or_odd_addresses() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(peer_allowed(ip("198.18.0.2"), false));
        assert!(peer_allowed(ip("10.1.0.2"), false));
        assert!(peer_allowed(ip("2001:db8::1"), false));
        for bad in
            ["127.0.0.1", "::1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "169.254.1.1", "fe80::1", "::"]
        {
            assert!(!peer_allowed(ip(bad), false), "{bad}");
        }
        assert!(peer_allowed(ip("127.0.0.1"), true), "tests may allow loopback");
        assert!(!peer_allowed(ip("0.0.0.0"), true));
    }

    #[test]
    fn a_session_gets_a_bounded_number_of_addresses() {
        let a = auth();
        let user = format!("{}:7", unix_now() + 60);
        for port in 0..MAX_ALLOCATIONS_PER_SESSION as u16 {
            let src = SocketAddr::from(([192, 0, 2, 1], 5000 + port));
            assert!(a.auth_handle(&user, REALM, src).is_ok());
            assert!(a.auth_handle(&user, REALM, src).is_ok(), "the same address again is fine");
        }
        assert!(a.auth_handle(&user, REALM, SocketAddr::from(([192, 0, 2, 1], 6000))).is_err());
        let other = format!("{}:8", unix_now() + 60);
        assert!(a.auth_handle(&other, REALM, SocketAddr::from(([192, 0, 2, 1], 6000))).is_ok());
    }
}
