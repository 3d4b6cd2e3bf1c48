//! Peer sessions over real QUIC sockets on loopback: the handshake, typed
//! channels, and hostile bytes from a peer that holds the keys.

use std::net::SocketAddr;

use tether_protocol::channel::control;
use tether_protocol::handshake::StaticKey;

use super::*;
use crate::socket::{self, UdpPath};

fn endpoints() -> (quinn::Endpoint, SocketAddr, quinn::Endpoint) {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = UdpPath::bind(any).unwrap();
    let addr = server.local_addr().unwrap();
    let agent = socket::endpoint(Box::new(server), Some(peer_server_config().unwrap())).unwrap();
    let console = socket::endpoint(Box::new(UdpPath::bind(any).unwrap()), None).unwrap();
    (agent, addr, console)
}

#[tokio::test]
async fn impostor_is_rejected_and_the_real_console_gets_through() {
    let (agent_ep, addr, console_ep) = endpoints();
    let (ka, kc, kx) =
        (StaticKey::generate().unwrap(), StaticKey::generate().unwrap(), StaticKey::generate().unwrap());
    let psk = [9; 32];
    let agent = PeerSecrets { static_key: &ka, psk };
    let impostor = PeerSecrets { static_key: &kx, psk: [8; 32] };
    let console = PeerSecrets { static_key: &kc, psk };
    let accepting = accept(&agent_ep, &agent);
    let dialling = async {
        let bad = connect(&console_ep, addr, &impostor).await;
        assert!(bad.is_err(), "a wrong key must not get a session");
        connect(&console_ep, addr, &console).await
    };
    let (a, c) = tokio::join!(accepting, dialling);
    let ((_ac, akeys, mut agent_ch), (_cc, ckeys, mut console_ch)) = (a.unwrap(), c.unwrap());
    assert_eq!(akeys.sas(), ckeys.sas());
    assert_eq!(akeys.remote_static(), kc.public());

    console_ch.control.0.send(&control::ConsoleToAgent::RequestControl).await.unwrap();
    assert_eq!(agent_ch.control.1.recv().await.unwrap(), Some(control::ConsoleToAgent::RequestControl));
    let big = "x".repeat(3000);
    agent_ch.control.0.send(&control::AgentToConsole::Ended { reason: big.clone() }).await.unwrap();
    assert_eq!(
        console_ch.control.1.recv().await.unwrap(),
        Some(control::AgentToConsole::Ended { reason: big })
    );
}

async fn session() -> (AgentChannels, ConsoleChannels, Vec<quinn::Connection>, Vec<quinn::Endpoint>) {
    let (agent_ep, addr, console_ep) = endpoints();
    let (ka, kc) = (StaticKey::generate().unwrap(), StaticKey::generate().unwrap());
    let (sa, sc) =
        (PeerSecrets { static_key: &ka, psk: [1; 32] }, PeerSecrets { static_key: &kc, psk: [1; 32] });
    let (a, c) = tokio::join!(accept(&agent_ep, &sa), connect(&console_ep, addr, &sc));
    let ((ac, _, agent), (cc, _, console)) = (a.unwrap(), c.unwrap());
    (agent, console, vec![ac, cc], vec![agent_ep, console_ep])
}

#[tokio::test]
async fn truncated_frame_from_the_peer_is_an_error() {
    let (mut agent, mut console, _c, _e) = session().await;
    // The header promises 100 bytes; 10 arrive, then the stream ends.
    console.input.0.framed.send_raw(&[0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).await.unwrap();
    console.input.0.finish();
    let got = agent.input.1.recv().await;
    assert!(matches!(got, Err(TransportError::Frame(_))), "{got:?}");
}

#[tokio::test]
async fn garbage_and_oversized_frames_from_the_peer_are_errors() {
    let (mut agent, mut console, _c, _e) = session().await;
    let mut garbage = vec![0, 0, 0, 40];
    garbage.extend((0..40u8).map(|i| i.wrapping_mul(37)));
    console.input.0.framed.send_raw(&garbage).await.unwrap();
    let got = agent.input.1.recv().await;
    assert!(matches!(got, Err(TransportError::Crypt(_))), "{got:?}");

    console.chat.0.framed.send_raw(&[0xff, 0xff, 0xff, 0xff]).await.unwrap();
    let got = agent.chat.1.recv().await;
    assert!(matches!(got, Err(TransportError::Frame(_))), "{got:?}");
}
