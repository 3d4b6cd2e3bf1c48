//! The rendezvous server: technician accounts, pairing-code nameplates,
//! signalling relay between console and agent, and session records.
//!
//! Lifecycle: [`Server::bind`] opens the store and the QUIC endpoint (so a
//! caller can learn the real port), then [`Server::run`] serves until the
//! shutdown future completes. [`run`] does both.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod accounts;
mod conn;
pub mod nameplates;
pub mod record;
mod state;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tether_transport::TransportError;
use tether_transport::tls::{ALPN_RENDEZVOUS, Fingerprint, Identity};
use tracing::info;

use crate::state::Shared;
use crate::store::{SledStore, Store, StoreError};

/// Default lifetime of a pairing code.
pub const DEFAULT_CODE_TTL: Duration = Duration::from_secs(600);
/// Most client connections served at once.
pub const MAX_CONNECTIONS: usize = 10_000;

/// Server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the key, certificate and database live.
    pub data_dir: PathBuf,
    /// UDP address to listen on.
    pub listen: SocketAddr,
    /// How long a pairing code lives.
    pub code_ttl: Duration,
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
}

impl Server {
    /// Opens the store and binds the endpoint.
    pub fn bind(config: &Config) -> Result<Self, ServerError> {
        let identity = Identity::load_or_create(&config.data_dir)?;
        let store: Arc<dyn Store> = Arc::new(open_store(&config.data_dir)?);
        let mut server_config = identity.server_config(ALPN_RENDEZVOUS)?;
        server_config.max_incoming(MAX_CONNECTIONS);
        let endpoint = quinn::Endpoint::server(server_config, config.listen)
            .map_err(|source| TransportError::Io { context: "binding the server address", source })?;
        Ok(Self {
            endpoint,
            shared: Arc::new(Shared::new(store, config.code_ttl)),
            fingerprint: identity.fingerprint(),
        })
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
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                incoming = self.endpoint.accept() => {
                    let Some(incoming) = incoming else { break };
                    tokio::spawn(conn::serve(Arc::clone(&self.shared), incoming));
                }
            }
        }
        info!("shutting down");
        self.endpoint.close(0u32.into(), b"server shutting down");
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
        Ok(())
    }
}

/// Binds and serves until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    Server::bind(&config)?.run(shutdown).await
}
