//! A console runs all day: sessions that end must leave no sockets behind
//! (the shared ICE socket, the relay's sockets, quinn's endpoints), on a
//! direct path and through the embedded TURN relay. Alone in its own test
//! binary, so the process's descriptor count is this test's.

use std::time::{Duration, Instant};

use tether_e2e::loopback::{LOCALHOST, connect, ice_pair};
use tether_protocol::ice::IceServers;
use tether_rendezvous::ice::IceIssuer;
use tether_rendezvous::turn::{TurnConfig, TurnServer};
use tether_transport::ice::VIRTUAL_PEER;

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// One whole session: ICE, QUIC on the path, the handshake, a message,
/// and the end.
async fn session(servers: &IceServers, relay_only: bool) -> anyhow::Result<()> {
    let (agent, console) = ice_pair(servers, relay_only).await?;
    let ends = connect(Box::new(agent), Box::new(console), VIRTUAL_PEER).await?;
    let (aconn, cconn) = (&ends.agent, &ends.console);
    let mut out = aconn.open_uni().await?;
    out.write_all(b"frame").await?;
    out.finish()?;
    let got = cconn.accept_uni().await?.read_to_end(64).await?;
    anyhow::ensure!(got == b"frame", "the message did not arrive");
    cconn.close(0u32.into(), b"end");
    ends.console_endpoint.wait_idle().await;
    ends.agent_endpoint.wait_idle().await;
    Ok(())
}

/// Runs 8 sessions after a first one and returns how many more descriptors
/// are open than before them, once closing has had a moment.
/// `servers` gives each session its own credentials.
async fn left_open(servers: impl Fn(u64) -> IceServers, relay_only: bool) -> anyhow::Result<usize> {
    // The first session opens what lives as long as the process.
    session(&servers(0), relay_only).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = open_descriptors();
    for n in 1..=8 {
        session(&servers(n), relay_only).await?;
    }
    let start = Instant::now();
    while open_descriptors() > before && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(open_descriptors().saturating_sub(before))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_sessions_leave_no_sockets_behind() -> anyhow::Result<()> {
    let direct = left_open(|_| IceServers::none(), false).await?;
    assert_eq!(direct, 0, "descriptors left open by 8 direct sessions");

    let secret = "leak-test-secret".to_owned();
    let turn = TurnServer::start(TurnConfig {
        listen: (LOCALHOST, 0).into(),
        relay_ip: LOCALHOST,
        secret: secret.clone(),
        rate: 10_000_000,
        allow_loopback: true,
    })
    .await?;
    let issuer = IceIssuer::Embedded { port: turn.addr.port(), secret, ttl: Duration::from_secs(600) };
    let relayed = left_open(|n| issuer.issue(n), true).await;
    turn.close().await;
    assert_eq!(relayed?, 0, "descriptors left open by 8 relayed sessions");
    Ok(())
}
