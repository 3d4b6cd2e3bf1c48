//! The rendezvous server: technician accounts, pairing-code nameplates,
//! signalling relay between console and agent, STUN/TURN (embedded, or
//! credentials for an external coturn), and session records.
//!
//! Lifecycle: [`Server::bind`] opens the store and the QUIC endpoint (so a
//! caller can learn the real port), then [`Server::run`] serves until the
//! shutdown future completes. [`run`] does both.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod accounts;
pub mod admin;
mod admin_api;
pub mod audit;
mod bucket;
mod conn;
pub mod ice;
pub mod lockout;
pub mod nameplates;
pub mod queue;
pub mod record;
pub mod report;
mod state;
pub mod store;
pub mod turn;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tether_transport::TransportError;
use tether_transport::tls::{ALPN_RENDEZVOUS, Fingerprint, Identity};
use tracing::info;

use crate::ice::IceIssuer;
use crate::state::Shared;
use crate::store::{SledStore, Store, StoreError};
use crate::turn::{TurnConfig, TurnServer};

/// Default lifetime of a pairing code.
pub const DEFAULT_CODE_TTL: Duration = Duration::from_secs(600);
/// Most client connections served at once.
pub const MAX_CONNECTIONS: usize = 10_000;
/// Default lifetime of TURN credentials: a long session keeps its relay.
pub const DEFAULT_ICE_TTL: Duration = Duration::from_secs(12 * 3600);
/// Default cap on each relayed socket, each way: 4 MB/s.
pub const DEFAULT_TURN_RATE: u64 = 4_000_000;

/// Which STUN/TURN the peers use.
#[derive(Debug, Clone)]
pub enum TurnMode {
    /// None: peers use host candidates only (same network).
    Off,
    /// The server's own, on this UDP address.
    Embedded {
        /// Where to listen.
        listen: SocketAddr,
        /// The address relays are announced at [default: the listen
        /// address, or the host's outward address].
        relay_ip: Option<IpAddr>,
        /// Bytes per second per relayed socket and direction.
        rate: u64,
        /// Relay to loopback peers (tests and single-machine demos).
        allow_loopback: bool,
    },
    /// An external coturn with `use-auth-secret`.
    External {
        /// `turn:HOST:PORT`.
        url: String,
        /// Its `static-auth-secret`.
        secret: String,
    },
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the key, certificate and database live.
    pub data_dir: PathBuf,
    /// UDP address to listen on.
    pub listen: SocketAddr,
    /// How long a pairing code lives.
    pub code_ttl: Duration,
    /// STUN/TURN.
    pub turn: TurnMode,
    /// How long TURN credentials work.
    pub ice_ttl: Duration,
}

/// Why the server could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The endpoint or identity could not be set up.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The embedded STUN/TURN server could not start.
    #[error("STUN/TURN: {0}")]
    Turn(std::io::Error),
}

const TURN_SECRET: &str = "turn_secret";

/// The embedded TURN server's secret, made on first start (mode 0600).
fn load_or_create_secret(dir: &Path) -> std::io::Result<String> {
    let path = dir.join(TURN_SECRET);
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let secret: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    std::fs::create_dir_all(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, secret.as_bytes())?;
    Ok(secret)
}

/// Where relays are announced when not configured: the listen address if
/// it is specific, else the address the host uses outward.
fn default_relay_ip(listen: SocketAddr) -> IpAddr {
    if !listen.ip().is_unspecified() {
        return listen.ip();
    }
    let outward = SocketAddr::from(([192, 0, 2, 1], 3478));
    tether_transport::socket::local_ip_towards(outward).unwrap_or_else(|_| {
        tracing::warn!("no outward address; announcing relays on 127.0.0.1 (pass --turn-relay-ip)");
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    })
}

/// Opens the database in the data directory.
pub fn open_store(data_dir: &std::path::Path) -> Result<SledStore, StoreError> {
    SledStore::open(&data_dir.join("db"))
}

/// A bound, not yet serving, rendezvous server.
#[derive(Debug)]
pub struct Server {
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    fingerprint: Fingerprint,
    turn: Option<TurnServer>,
}

impl Server {
    /// Opens the store, binds the endpoint and starts STUN/TURN.
    pub async fn bind(config: &Config) -> Result<Self, ServerError> {
        let identity = Identity::load_or_create(&config.data_dir)?;
        let store: Arc<dyn Store> = Arc::new(open_store(&config.data_dir)?);
        let mut server_config = identity.server_config(ALPN_RENDEZVOUS)?;
        server_config.max_incoming(MAX_CONNECTIONS);
        let endpoint = quinn::Endpoint::server(server_config, config.listen)
            .map_err(|source| TransportError::Io { context: "binding the server address", source })?;
        let (turn, issuer) = match &config.turn {
            TurnMode::Off => (None, IceIssuer::None),
            TurnMode::Embedded { listen, relay_ip, rate, allow_loopback } => {
                let secret = load_or_create_secret(&config.data_dir).map_err(ServerError::Turn)?;
                let relay_ip = relay_ip.unwrap_or_else(|| default_relay_ip(*listen));
                let turn = TurnServer::start(TurnConfig {
                    listen: *listen,
                    relay_ip,
                    secret: secret.clone(),
                    rate: *rate,
                    allow_loopback: *allow_loopback,
                })
                .await
                .map_err(ServerError::Turn)?;
                let issuer = IceIssuer::Embedded { port: turn.addr.port(), secret, ttl: config.ice_ttl };
                (Some(turn), issuer)
            }
            TurnMode::External { url, secret } => {
                (None, IceIssuer::External { url: url.clone(), secret: secret.clone(), ttl: config.ice_ttl })
            }
        };
        Ok(Self {
            endpoint,
            shared: Arc::new(Shared::new(store, config.code_ttl).with_ice(issuer)),
            fingerprint: identity.fingerprint(),
            turn,
        })
    }

    /// Where the embedded STUN/TURN server listens, if it runs.
    #[must_use]
    pub fn turn_addr(&self) -> Option<SocketAddr> {
        self.turn.as_ref().map(|t| t.addr)
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.endpoint
            .local_addr()
            .map_err(|source| TransportError::Io { context: "reading the server address", source }.into())
    }

    /// The TLS key fingerprint clients pin.
    #[must_use]
    pub const fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Serves until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        tokio::pin!(shutdown);
        // Help requests nobody claimed in time leave the queue.
        let mut expiry = tokio::time::interval(Duration::from_secs(1));
        expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = expiry.tick() => self.shared.expire_requests(),
                incoming = self.endpoint.accept() => {
                    let Some(incoming) = incoming else { break };
                    tokio::spawn(conn::serve(Arc::clone(&self.shared), incoming));
                }
            }
        }
        info!("shutting down");
        if let Some(turn) = &self.turn {
            turn.close().await;
        }
        self.endpoint.close(0u32.into(), b"server shutting down");
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
        Ok(())
    }
}

/// Binds and serves until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    Server::bind(&config).await?.run(shutdown).await
}
