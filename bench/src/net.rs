//! `tether-bench net`: the network paths. On loopback, the bulk throughput
//! of a peer connection on a plain UDP socket against the same connection
//! over ICE (a host pair, and a pair through the embedded TURN relay). In
//! the NAT lab with a 40 ms round trip between the peers, the time from the
//! customer entering the code to the technician's first frame, direct and
//! relayed.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use tether_e2e::lab::{self, Host, Lab, Nat, SERVER_IP};
use tether_e2e::loopback::{LOCALHOST, connect, ice_pair};
use tether_e2e::netem::Shape;
use tether_e2e::{Rendezvous, agent_in, console_in, read_code};
use tether_protocol::ice::IceServers;
use tether_rendezvous::ice::IceIssuer;
use tether_rendezvous::turn::{TurnConfig, TurnServer};
use tether_transport::ice::VIRTUAL_PEER;
use tether_transport::socket::{self, UdpPath};

/// Bytes sent per throughput run.
const BULK: usize = 128 << 20;
/// Code-to-first-frame runs per path.
const RUNS: usize = 5;

/// Sends [`BULK`] bytes on a fresh stream from the agent to the console:
/// MB/s as the console received them.
async fn bulk(agent: &quinn::Connection, console: &quinn::Connection) -> anyhow::Result<f64> {
    let chunk = vec![0x5a; 64 << 10];
    let start = Instant::now();
    let send = async {
        let mut s = agent.open_uni().await?;
        for _ in 0..BULK / chunk.len() {
            s.write_all(&chunk).await?;
        }
        s.finish()?;
        anyhow::Ok(s)
    };
    let recv = async {
        let mut r = console.accept_uni().await?;
        let mut got = 0;
        let mut buf = vec![0; 64 << 10];
        while let Some(n) = r.read(&mut buf).await? {
            got += n;
        }
        anyhow::Ok(got)
    };
    let (sent, got) = tokio::join!(send, recv);
    let _keep_open_until_read = sent?;
    let got = got?;
    if got != BULK {
        bail!("received {got} of {BULK} bytes");
    }
    let secs = start.elapsed().as_secs_f64();
    let stats = agent.stats();
    eprintln!(
        "  sent {} datagrams, {} lost, cwnd {} bytes, rtt {:?}",
        stats.udp_tx.datagrams, stats.path.lost_packets, stats.path.cwnd, stats.path.rtt
    );
    Ok(BULK as f64 / secs / 1e6)
}

/// The throughput rows: plain UDP, ICE host pair, ICE relay pair.
pub async fn throughput() -> anyhow::Result<Vec<(String, f64)>> {
    let mut rows = Vec::new();

    let agent = UdpPath::bind((LOCALHOST, 0).into())?;
    let addr = agent.local_addr()?;
    let console = UdpPath::bind((LOCALHOST, 0).into())?;
    let ends = connect(Box::new(agent), Box::new(console), addr).await?;
    rows.push(("plain quinn on a UDP socket".to_owned(), bulk(&ends.agent, &ends.console).await?));

    let (agent, console) = ice_pair(&IceServers::none(), false).await?;
    let label = format!("quinn over ICE, {} pair", socket::PathSocket::path(&agent));
    let ends = connect(Box::new(agent), Box::new(console), VIRTUAL_PEER).await?;
    rows.push((label, bulk(&ends.agent, &ends.console).await?));

    let secret = "bench-secret".to_owned();
    let turn = TurnServer::start(TurnConfig {
        listen: (LOCALHOST, 0).into(),
        relay_ip: LOCALHOST,
        secret: secret.clone(),
        rate: u64::MAX / 2,
        allow_loopback: true,
    })
    .await?;
    let issuer = IceIssuer::Embedded { port: turn.addr.port(), secret, ttl: Duration::from_secs(600) };
    let (agent, console) = ice_pair(&issuer.issue(1), true).await?;
    let label = format!("quinn over ICE, {} (embedded TURN)", socket::PathSocket::path(&agent));
    let ends = connect(Box::new(agent), Box::new(console), VIRTUAL_PEER).await?;
    rows.push((label, bulk(&ends.agent, &ends.console).await?));
    turn.close().await;
    Ok(rows)
}

fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1000.0
}

/// One session across the lab: ms from the agent starting with the code to
/// the console's first frame.
fn code_to_first_frame(lab: &Lab, server: &Rendezvous, display: &str, dir: &Path) -> anyhow::Result<f64> {
    std::fs::create_dir_all(dir)?;
    let script = dir.join("script.txt");
    std::fs::write(&script, "wait-frame\nend\n")?;
    let mut console =
        console_in(Some(&lab.ns(Host::Technician)), server, "alice", &script, &dir.join("console"))?;
    let code = read_code(&console)?;
    let entered = unix_ms();
    let mut agent = agent_in(
        Some(&lab.ns(Host::Customer)),
        server,
        display,
        &code,
        Some("view"),
        &dir.join("agent"),
        &[],
    )?;
    let line = console
        .wait_for_stdout("first frame: ", Duration::from_secs(30))
        .with_context(|| format!("no first frame:\n{}\n{}", console.all_output(), agent.all_output()))?;
    let first: f64 = line.trim_start_matches("first frame: ").trim().parse()?;
    let _ = console.wait_exit(Duration::from_secs(10));
    let _ = agent.wait_exit(Duration::from_secs(10));
    Ok(first - entered)
}

/// A lab with `nat` routers, both uplinks shaped by `shape`, and a
/// rendezvous (technician `alice`) on the public segment, its data in the
/// returned scratch directory.
pub fn shaped_lab(nat: Nat, shape: Shape) -> anyhow::Result<(Lab, tempfile::TempDir, Rendezvous)> {
    let lab = Lab::up(&lab::unique_prefix(), nat)?;
    lab.shape(Host::Customer, shape)?;
    lab.shape(Host::Technician, shape)?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("rendezvous");
    Rendezvous::add_technician(&data, "alice")?;
    let listen = format!("{SERVER_IP}:7700");
    let turn = format!("{SERVER_IP}:3478");
    let server = Rendezvous::start_in(
        Some(&lab.ns(Host::Public)),
        &data,
        &["--listen", &listen, "--turn-listen", &turn],
    )?;
    Ok((lab, dir, server))
}

/// Code-to-first-frame times in the lab, `RUNS` each: (NAT, path, times).
pub fn lab_first_frames(display: &str) -> anyhow::Result<Vec<(Nat, Vec<f64>)>> {
    let mut out = Vec::new();
    for nat in [Nat::Cone, Nat::Symmetric] {
        // 10 ms each way on each side's uplink: 40 ms between the peers,
        // 20 ms to the server.
        let (lab, dir, server) = shaped_lab(nat, "10ms 0 0".parse()?)?;
        let mut times = Vec::new();
        for run in 0..RUNS {
            let run_dir = dir.path().join(format!("run{run}"));
            times.push(code_to_first_frame(&lab, &server, display, &run_dir)?);
        }
        drop(server);
        out.push((nat, times));
    }
    Ok(out)
}
