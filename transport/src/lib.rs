//! Tether's I/O layer, shared by the agent, the console and the server:
//! QUIC endpoints behind a socket abstraction, ICE paths between peers,
//! pinned TLS to the rendezvous server, and peer sessions with the Noise
//! handshake and typed channels.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod congestion;
mod error;
pub mod files;
pub mod framed;
pub mod ice;
pub mod pairing;
pub mod peer;
pub mod pin;
pub mod signal_client;
pub mod socket;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

pub use error::TransportError;

/// Default log filter for the programs: our own news at info, and only
/// errors from the ICE, STUN and TURN libraries, which are chatty about
/// every interface they try (`RUST_LOG` overrides it).
pub const LOG_DEFAULTS: &str = "info,webrtc_ice=error,webrtc_util=error,turn=error,stun=error";

/// QUIC transport settings shared by every endpoint: keep-alives so a dead
/// link is noticed in seconds, not minutes.
#[must_use]
pub fn transport_config() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(Duration::from_secs(2)));
    // 10 s fits comfortably in a VarInt; the conversion cannot fail.
    t.max_idle_timeout(quinn::IdleTimeout::try_from(Duration::from_secs(10)).ok());
    t.stream_receive_window(quinn::VarInt::from_u32(8 * 1024 * 1024));
    t.receive_window(quinn::VarInt::from_u32(16 * 1024 * 1024));
    t.send_window(16 * 1024 * 1024);
    t.congestion_controller_factory(congestion_controller());
    Arc::new(t)
}

/// The congestion controller: [`congestion::DelayGate`] unless
/// `TETHER_CONGESTION` names quinn's `cubic`, `newreno` or `bbr`, which
/// benchmarks use to compare.
fn congestion_controller() -> Arc<dyn quinn::congestion::ControllerFactory + Send + Sync> {
    use quinn::congestion::{BbrConfig, CubicConfig, NewRenoConfig};
    match std::env::var("TETHER_CONGESTION").as_deref() {
        Ok("cubic") => Arc::new(CubicConfig::default()),
        Ok("newreno") => Arc::new(NewRenoConfig::default()),
        Ok("bbr") => Arc::new(BbrConfig::default()),
        _ => Arc::new(congestion::DelayGateConfig),
    }
}
