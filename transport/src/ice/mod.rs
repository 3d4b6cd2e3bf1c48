//! ICE with webrtc-ice: gather host, server-reflexive and relayed
//! candidates, swap them through signalling, and let ICE pick the path that
//! QUIC then runs on (see `socket`). There is no path without ICE's checks,
//! and nothing but QUIC with the Noise handshake ever runs on it.
//!
//! The host candidates live on one socket of ours (`shared`), which QUIC
//! takes over when ICE selects it (`direct`); its server-reflexive address
//! is asked for on that socket (`reflexive`).

mod direct;
mod reflexive;
mod shared;
mod socket;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tether_protocol::ice::{IceParams, IceServers, MAX_CANDIDATES, MAX_ICE_URLS};
use tether_protocol::signal::{CandidateKind as Kind, PathInfo, PathKind};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use webrtc_ice::agent::Agent;
use webrtc_ice::agent::agent_config::AgentConfig;
use webrtc_ice::candidate::candidate_base::unmarshal_candidate;
use webrtc_ice::candidate::{Candidate, CandidateType};
use webrtc_ice::mdns::MulticastDnsMode;
use webrtc_ice::network_type::NetworkType;
use webrtc_ice::udp_network::UDPNetwork;
use webrtc_ice::url::{SchemeType, Url};

pub use socket::{IcePath, VIRTUAL_PEER};

use shared::{Mux, Shared};
use socket::{AgentGuard, Carrier};

use crate::TransportError;

/// Longest wait for candidates; a TURN server that does not answer in
/// this time is left out.
const GATHER_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for ICE to find a working pair.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How often ICE checks its candidate pairs.
const CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// How long a candidate pair is checked before it counts as failed.
const PAIR_PATIENCE: Duration = Duration::from_secs(4);

/// The number of checks that fit in `window` at `CHECK_INTERVAL`.
fn checks_within(window: Duration) -> u16 {
    u16::try_from(window.as_millis() / CHECK_INTERVAL.as_millis()).unwrap_or(u16::MAX)
}

/// The STUN/TURN URLs for a session; the embedded server is on the host the
/// client reached the rendezvous at.
fn urls(servers: &IceServers, server_ip: IpAddr) -> Vec<Url> {
    let mut raw = Vec::new();
    if let Some(port) = servers.embedded_port {
        let host = match server_ip {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        raw.push(format!("stun:{host}:{port}"));
        raw.push(format!("turn:{host}:{port}?transport=udp"));
    }
    raw.extend(servers.urls.iter().take(MAX_ICE_URLS).cloned());
    raw.iter()
        .filter_map(|u| match Url::parse_url(u) {
            Ok(mut url) => {
                if matches!(url.scheme, SchemeType::Turn | SchemeType::Turns) {
                    url.username.clone_from(&servers.username);
                    url.password.clone_from(&servers.credential);
                }
                Some(url)
            }
            Err(e) => {
                warn!("ignoring the ICE server {u:?}: {e}");
                None
            }
        })
        .collect()
}

/// Where to ask for the shared socket's reflexive address: the first STUN
/// server, or else a TURN server over UDP (they answer STUN too).
async fn stun_server(urls: &[Url]) -> Option<SocketAddr> {
    let url = urls.iter().find(|u| u.scheme == SchemeType::Stun).or_else(|| {
        urls.iter().find(|u| u.scheme == SchemeType::Turn && u.proto == webrtc_ice::url::ProtoType::Udp)
    })?;
    let host = url.host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_ipv4().then(|| SocketAddr::new(ip, url.port));
    }
    tokio::net::lookup_host((host, url.port)).await.ok()?.find(SocketAddr::is_ipv4)
}

/// The candidates gathered for one session, ready to connect.
pub struct Gathered {
    /// The agent, and the host candidates' socket (none when only relayed
    /// ones are offered); closed if this is dropped unconnected.
    guard: AgentGuard,
    /// Its server-reflexive address, when a STUN server told it.
    mapped: Option<SocketAddr>,
    /// What to send the peer.
    pub params: IceParams,
}

impl std::fmt::Debug for Gathered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gathered").field("params", &self.params).finish_non_exhaustive()
    }
}

fn ice_err(what: &'static str) -> impl FnOnce(webrtc_ice::Error) -> TransportError {
    move |e| TransportError::Ice(format!("{what}: {e}"))
}

/// Gathers candidates through `servers`. With `relay_only`, only relayed
/// candidates are offered, so the peer never learns this host's addresses.
pub async fn gather(
    servers: &IceServers,
    server_ip: IpAddr,
    relay_only: bool,
) -> Result<Gathered, TransportError> {
    let urls = urls(servers, server_ip);
    let (candidate_types, shared) = if relay_only {
        (vec![CandidateType::Relay], None)
    } else {
        let any = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
        let shared = Shared::bind(any).map_err(TransportError::io("binding the ICE socket"))?;
        (vec![CandidateType::Host, CandidateType::Relay], Some(shared))
    };
    let mapped = match (&shared, stun_server(&urls).await) {
        (Some(shared), Some(server)) => reflexive::ask(shared, server).await,
        _ => None,
    };
    let udp_network = shared
        .as_ref()
        .map_or_else(UDPNetwork::default, |s| UDPNetwork::Muxed(Arc::new(Mux(Arc::downgrade(s)))));
    let config = AgentConfig {
        urls,
        // IPv4: the shared socket is an IPv4 one, as are the relays.
        network_types: vec![NetworkType::Udp4],
        candidate_types,
        udp_network,
        multicast_dns_mode: MulticastDnsMode::Disabled,
        // Loopback candidates only matter when everything runs on one
        // machine (tests, demos); offered to a remote peer they only leak
        // and draw refusals from TURN servers such as coturn.
        include_loopback: server_ip.is_loopback(),
        // Decide quickly: checks every 50 ms, a relay pair accepted after
        // 1 s if nothing direct has worked by then. A pair is given up only
        // after PAIR_PATIENCE of unanswered checks: webrtc-ice counts checks,
        // not time, and its default of 7 would fail a direct pair after
        // 400 ms, before a lossy 120 ms line has punched both NATs.
        //
        // webrtc-ice waits by the *local* candidate's type only, so a pair
        // from our reflexive address to the peer's relay counts as
        // reflexive. Nominated after 100 ms, that pair won on a 120 ms
        // line whenever the NATs took one lost check longer to open than
        // the relay: 500 ms leaves the direct pair a few round trips.
        check_interval: CHECK_INTERVAL,
        max_binding_requests: Some(checks_within(PAIR_PATIENCE)),
        srflx_acceptance_min_wait: Some(Duration::from_millis(500)),
        prflx_acceptance_min_wait: Some(Duration::from_millis(500)),
        relay_acceptance_min_wait: Some(Duration::from_millis(1000)),
        disconnected_timeout: Some(Duration::from_secs(5)),
        failed_timeout: Some(Duration::from_secs(10)),
        keepalive_interval: Some(Duration::from_secs(2)),
        ..AgentConfig::default()
    };
    let agent = Arc::new(Agent::new(config).await.map_err(ice_err("starting ICE"))?);
    let (tx, mut rx) = mpsc::unbounded_channel();
    agent.on_candidate(Box::new(move |c: Option<Arc<dyn Candidate + Send + Sync>>| {
        let _ = tx.send(c.map(|c| c.marshal()));
        Box::pin(async {})
    }));
    agent.gather_candidates().map_err(ice_err("gathering candidates"))?;
    let mut candidates = Vec::new();
    let deadline = tokio::time::Instant::now() + GATHER_TIMEOUT;
    while let Ok(Some(Some(c))) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if candidates.len() < MAX_CANDIDATES {
            debug!(candidate = %c, "gathered");
            candidates.push(c);
        }
    }
    if let (Some(mapped), Some(shared)) = (mapped, &shared) {
        offer_reflexive(&mut candidates, mapped, shared);
    }
    let (ufrag, pwd) = agent.get_local_user_credentials().await;
    Ok(Gathered { guard: AgentGuard { agent, shared }, mapped, params: IceParams { ufrag, pwd, candidates } })
}

/// Adds the shared socket's reflexive address to the offer, unless it is one
/// of the host addresses already there (no NAT in between).
fn offer_reflexive(candidates: &mut Vec<String>, mapped: SocketAddr, shared: &Shared) {
    let known = candidates
        .iter()
        .filter_map(|c| unmarshal_candidate(c).ok())
        .any(|c| c.address().parse::<IpAddr>().is_ok_and(|ip| SocketAddr::new(ip, c.port()) == mapped));
    let base = shared.local_addr().ok();
    if let (false, Some(base), true) = (known, base, candidates.len() < MAX_CANDIDATES)
        && let Some(line) = reflexive::candidate_line(mapped, base)
    {
        debug!(candidate = %line, "gathered on the shared socket");
        candidates.push(line);
    }
}

/// A candidate's address, when it is an IP address.
fn address_of(c: &(dyn Candidate + Send + Sync)) -> Option<SocketAddr> {
    c.address().parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, c.port()))
}

/// The protocol's name for a webrtc-ice candidate type.
fn kind_of(t: CandidateType) -> Kind {
    match t {
        CandidateType::ServerReflexive => Kind::ServerReflexive,
        CandidateType::PeerReflexive => Kind::PeerReflexive,
        CandidateType::Relay => Kind::Relay,
        CandidateType::Host | CandidateType::Unspecified => Kind::Host,
    }
}

impl Gathered {
    /// Runs ICE with the peer's `remote` offer. The console controls (it
    /// nominates the pair); the agent is controlled.
    pub async fn connect(self, remote: &IceParams, controlling: bool) -> Result<IcePath, TransportError> {
        remote.check().map_err(|e| TransportError::Ice(format!("the peer sent {e}")))?;
        let mut added = 0;
        for line in &remote.candidates {
            match unmarshal_candidate(line) {
                Ok(c) => {
                    let c: Arc<dyn Candidate + Send + Sync> = Arc::new(c);
                    self.guard.agent.add_remote_candidate(&c).map_err(ice_err("adding a candidate"))?;
                    added += 1;
                }
                Err(e) => warn!("ignoring a malformed candidate from the peer: {e}"),
            }
        }
        if added == 0 {
            return Err(TransportError::Ice("the peer sent no usable candidates".into()));
        }
        // Dropping the sender would cancel at once; keep it for the wait.
        let (_cancel, cancel_rx) = mpsc::channel(1);
        let (ufrag, pwd) = (remote.ufrag.clone(), remote.pwd.clone());
        let conn: Arc<dyn webrtc_util::Conn + Send + Sync> = if controlling {
            tokio::time::timeout(CONNECT_TIMEOUT, self.guard.agent.dial(cancel_rx, ufrag, pwd))
                .await
                .map_err(|_| TransportError::Timeout("finding a path to the other side"))?
                .map_err(ice_err("connecting"))?
        } else {
            tokio::time::timeout(CONNECT_TIMEOUT, self.guard.agent.accept(cancel_rx, ufrag, pwd))
                .await
                .map_err(|_| TransportError::Timeout("finding a path to the other side"))?
                .map_err(ice_err("connecting"))?
        };
        let pair = self
            .guard
            .agent
            .get_selected_candidate_pair()
            .ok_or_else(|| TransportError::Ice("connected without a selected pair".into()))?;
        let (mut l, r) = (kind_of(pair.local.candidate_type()), kind_of(pair.remote.candidate_type()));
        let (ip, port) = (pair.local.address(), pair.local.port());
        let local = ip
            .parse()
            .map_or_else(|_| format!("{ip}:{port}"), |ip| std::net::SocketAddr::new(ip, port).to_string());
        let carrier = match (&self.guard.shared, address_of(&*pair.remote)) {
            (Some(shared), Some(remote)) if l == Kind::Host => {
                // To anyone but a host on this network, the shared socket
                // shows its reflexive address.
                if r != Kind::Host && self.mapped.is_some_and(|m| m.port() != 0 && m.to_string() != local) {
                    l = Kind::ServerReflexive;
                }
                let remote = Arc::new(Mutex::new(remote));
                let follow = Arc::clone(&remote);
                self.guard.agent.on_selected_candidate_pair_change(Box::new(move |local, remote| {
                    if local.candidate_type() == CandidateType::Host
                        && let Some(addr) = address_of(&**remote)
                    {
                        *follow.lock().unwrap_or_else(PoisonError::into_inner) = addr;
                    }
                    Box::pin(async {})
                }));
                Carrier::Shared { shared: Arc::clone(shared), remote }
            }
            _ => Carrier::Ice(conn),
        };
        let relayed = l == Kind::Relay || r == Kind::Relay;
        let path =
            PathInfo { kind: if relayed { PathKind::Relay } else { PathKind::Direct }, local: l, remote: r };
        info!(%path, local = %local, "ICE connected");
        Ok(IcePath::new(self.guard, carrier, path, local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback_lines(g: &Gathered) -> Vec<&String> {
        g.params.candidates.iter().filter(|c| c.contains(" 127.0.0.1 ") || c.contains(" ::1 ")).collect()
    }

    #[tokio::test]
    async fn loopback_candidates_are_offered_only_when_the_server_is_local() {
        let remote_server: IpAddr = "198.51.100.7".parse().unwrap();
        let far = gather(&IceServers::none(), remote_server, false).await.unwrap();
        assert!(loopback_lines(&far).is_empty(), "{:?}", far.params.candidates);
        let near = gather(&IceServers::none(), IpAddr::from([127, 0, 0, 1]), false).await.unwrap();
        assert!(!loopback_lines(&near).is_empty(), "{:?}", near.params.candidates);
    }

    #[test]
    fn a_pair_is_checked_for_the_whole_patience_window() {
        assert_eq!(checks_within(PAIR_PATIENCE), 80);
        assert!(u32::from(checks_within(PAIR_PATIENCE)) * CHECK_INTERVAL >= PAIR_PATIENCE);
        assert_eq!(checks_within(Duration::from_secs(100_000)), u16::MAX);
    }
}
