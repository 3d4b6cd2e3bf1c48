//! The shared socket's address as a STUN server sees it (its server-reflexive
//! address), asked before ICE starts, and the candidate line that offers it.
//! webrtc-ice gathers no server-reflexive candidate for a muxed socket, so
//! this side asks itself; behind a NAT that keeps one mapping per socket,
//! the peer's checks then reach the shared socket.

use std::net::SocketAddr;
use std::time::Duration;

use stun::agent::TransactionId;
use stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Getter, Message};
use stun::xoraddr::XorMappedAddress;
use tracing::debug;
use webrtc_ice::candidate::Candidate;
use webrtc_ice::candidate::candidate_base::CandidateBaseConfig;
use webrtc_ice::candidate::candidate_server_reflexive::CandidateServerReflexiveConfig;

use super::shared::{Shared, is_stun};

/// Requests are sent at 0, 200 and 600 ms; the answer must come by 1 s.
const RETRIES: [Duration; 3] = [Duration::ZERO, Duration::from_millis(200), Duration::from_millis(400)];
const LAST_WAIT: Duration = Duration::from_millis(400);

/// Asks `server` for the socket's reflexive address; `None` when it does
/// not answer in time or answers nonsense. Nothing else may read the
/// socket meanwhile.
pub async fn ask(shared: &Shared, server: SocketAddr) -> Option<SocketAddr> {
    let mut request = Message::new();
    request.build(&[Box::new(TransactionId::new()), Box::new(BINDING_REQUEST)]).ok()?;
    let mut buf = vec![0; 1500];
    for (i, pause) in RETRIES.iter().enumerate() {
        tokio::time::sleep(*pause).await;
        if let Err(e) = shared.io.send_to(&request.raw, server).await {
            debug!("asking {server} for the reflexive address: {e}");
            return None;
        }
        let wait = RETRIES.get(i + 1).copied().unwrap_or(LAST_WAIT);
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Ok((n, from))) = tokio::time::timeout_at(deadline, shared.io.recv_from(&mut buf)).await {
            if from != server || !is_stun(&buf[..n]) {
                continue;
            }
            let mut answer = Message::new();
            if answer.unmarshal_binary(&buf[..n]).is_err()
                || answer.transaction_id != request.transaction_id
                || answer.typ != BINDING_SUCCESS
            {
                continue;
            }
            let mut mapped = XorMappedAddress::default();
            return mapped.get_from(&answer).ok().map(|_| SocketAddr::new(mapped.ip, mapped.port));
        }
    }
    None
}

/// The candidate line offering `mapped`, found for the socket at `base`.
pub fn candidate_line(mapped: SocketAddr, base: SocketAddr) -> Option<String> {
    let config = CandidateServerReflexiveConfig {
        base_config: CandidateBaseConfig {
            network: "udp".into(),
            address: mapped.ip().to_string(),
            port: mapped.port(),
            component: 1,
            ..CandidateBaseConfig::default()
        },
        rel_addr: base.ip().to_string(),
        rel_port: base.port(),
    };
    config.new_candidate_server_reflexive().ok().map(|c| c.marshal())
}

#[cfg(test)]
mod tests {
    use super::*;
    use webrtc_ice::candidate::CandidateType;
    use webrtc_ice::candidate::candidate_base::unmarshal_candidate;

    #[test]
    fn the_line_is_a_server_reflexive_candidate_the_peer_can_read() {
        let line =
            candidate_line("198.51.100.7:40000".parse().unwrap(), "10.0.0.2:5000".parse().unwrap()).unwrap();
        let c = unmarshal_candidate(&line).unwrap();
        assert_eq!(c.candidate_type(), CandidateType::ServerReflexive);
        assert_eq!((c.address().as_str(), c.port()), ("198.51.100.7", 40000));
    }

    #[tokio::test]
    async fn a_silent_server_gives_no_address() {
        let shared = Shared::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        // A bound socket that never answers.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(ask(&shared, silent.local_addr().unwrap()).await, None);
    }
}
