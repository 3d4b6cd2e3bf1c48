//! `tether-bench desk`: the service desk's queue on loopback. 1,000
//! simulated agents ask one desk for help while 50 technicians watch its
//! queue, then the technicians claim every request. Reports claims per
//! second, the time from a request to its appearance on the technicians'
//! dashboards (p50 and p95 over every request and every technician), and the
//! released server's memory per connected agent.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tether_e2e::{PASSWORD, Proc, Rendezvous, bin};
use tether_protocol::queue::HelpRequest;
use tether_protocol::signal::{ClientToServer, ServerToClient, SignalError};
use tether_transport::pin::KnownServers;
use tether_transport::signal_client::{ServerTrust, SignalClient};

use crate::{ms, percentile};

/// Simulated customers.
const AGENTS: usize = 1000;
/// Technicians watching and claiming.
const TECHNICIANS: usize = 50;
/// Connections each technician logs in ahead, one per claim (a claimed
/// request becomes that connection's session).
const CLAIMS_EACH: usize = AGENTS / TECHNICIANS;
/// Agents connecting at once.
const CONNECTING: usize = 100;

fn admin(data: &Path, args: &[&str]) -> anyhow::Result<()> {
    let data = data.display().to_string();
    let mut all = vec!["--data", data.as_str()];
    all.extend_from_slice(args);
    let mut p =
        Proc::spawn_with_stdin("admin", bin("tether-rendezvous")?, &all, &[], &format!("{PASSWORD}\n"))?;
    if !p.wait_exit(Duration::from_secs(60))?.success() {
        bail!("{args:?} failed: {}", p.all_output());
    }
    Ok(())
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

async fn log_in(server: &str, trust: &ServerTrust, user: &str) -> anyhow::Result<SignalClient> {
    let mut c = SignalClient::connect(server, trust).await?;
    c.send(&ClientToServer::Login { user: user.to_owned(), password: PASSWORD.to_owned() }).await?;
    match c.recv().await? {
        ServerToClient::LoggedIn { .. } => Ok(c),
        other => bail!("login of {user} failed: {other:?}"),
    }
}

/// Follows the queue, noting when each agent's request first showed.
async fn watch(mut c: SignalClient, sent: Arc<Mutex<HashMap<String, Instant>>>) -> anyhow::Result<Vec<f64>> {
    c.send(&ClientToServer::QueuePage { after: 0 }).await?;
    let mut seen = Vec::with_capacity(AGENTS);
    while seen.len() < AGENTS {
        if let ServerToClient::QueueAdded(item) = c.recv().await? {
            let at =
                sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&item.ask.name).copied();
            if let Some(at) = at {
                seen.push(ms(at.elapsed()));
            }
        }
    }
    Ok(seen)
}

/// One agent: asks, and stays connected (and queued).
async fn agent(
    server: String,
    trust: ServerTrust,
    i: usize,
    sent: Arc<Mutex<HashMap<String, Instant>>>,
) -> anyhow::Result<SignalClient> {
    let mut c = SignalClient::connect(&server, &trust).await?;
    let name = format!("agent{i}");
    let ask =
        HelpRequest { desk: "billing".into(), name: name.clone(), problem: "help".into(), fields: vec![] };
    sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(name, Instant::now());
    c.send(&ClientToServer::AskForHelp(ask)).await?;
    match c.recv().await? {
        ServerToClient::Queued { .. } => Ok(c),
        other => bail!("agent {i} was not queued: {other:?}"),
    }
}

/// One technician claims with each of its connections; returns the races
/// lost to another technician.
async fn claim(mut conns: Vec<SignalClient>, waiting: Arc<Mutex<BTreeSet<u64>>>) -> anyhow::Result<u64> {
    let mut lost = 0;
    while let Some(mut c) = conns.pop() {
        loop {
            let next = waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).first().copied();
            let Some(request) = next else { return Ok(lost) };
            c.send(&ClientToServer::Claim { request }).await?;
            let answer = loop {
                if let m @ (ServerToClient::ClaimGranted { .. } | ServerToClient::Error(_)) = c.recv().await?
                {
                    break m;
                }
            };
            waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&request);
            match answer {
                ServerToClient::ClaimGranted { .. } => break,
                ServerToClient::Error(SignalError::AlreadyClaimed) => lost += 1,
                other => bail!("claim of {request} failed: {other:?}"),
            }
        }
    }
    Ok(lost)
}

/// Runs the benchmark and prints its table.
pub async fn run() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("server");
    admin(&data, &["desk", "add", "billing", "--timeout", "86400"])?;
    for t in 0..TECHNICIANS {
        admin(&data, &["technician", "add", &format!("t{t}"), "--desk", "billing", "--password-stdin"])?;
    }
    let server = Rendezvous::start(&data, &["--no-turn"])?;
    let trust =
        ServerTrust { pinned: Some(server.fingerprint.parse()?), known: KnownServers::in_dir(tmp.path()) };
    let addr = server.addr.clone();

    // Technicians: one watcher each, and a connection per claim to come.
    let mut watchers = Vec::new();
    let mut claimers = Vec::new();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    for t in 0..TECHNICIANS {
        let user = format!("t{t}");
        watchers.push(tokio::spawn(watch(log_in(&addr, &trust, &user).await?, Arc::clone(&sent))));
        let mut conns = Vec::new();
        for _ in 0..CLAIMS_EACH {
            conns.push(log_in(&addr, &trust, &user).await?);
        }
        claimers.push(conns);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss(server.proc.pid())?;

    // Agents ask, a hundred connecting at a time.
    let start = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(CONNECTING));
    let mut asking = Vec::new();
    for i in 0..AGENTS {
        let (addr, trust, sent, gate) = (addr.clone(), trust.clone(), Arc::clone(&sent), Arc::clone(&gate));
        asking.push(tokio::spawn(async move {
            let _turn = gate.acquire_owned().await?;
            agent(addr, trust, i, sent).await
        }));
    }
    let mut agents = Vec::new();
    for a in asking {
        agents.push(a.await??);
    }
    let queued_in = start.elapsed();
    let mut visible = Vec::new();
    for w in watchers {
        visible.extend(tokio::time::timeout(Duration::from_secs(60), w).await???);
    }
    let after = rss(server.proc.pid())?;

    // Every technician claims the oldest waiting request, races and all.
    let waiting: Arc<Mutex<BTreeSet<u64>>> = Arc::new(Mutex::new((1..=AGENTS as u64).collect()));
    let start = Instant::now();
    let tasks: Vec<_> = claimers.into_iter().map(|c| tokio::spawn(claim(c, Arc::clone(&waiting)))).collect();
    let mut lost = 0;
    for t in tasks {
        lost += t.await??;
    }
    let claimed_in = start.elapsed();
    drop(agents);

    let fmt = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |x| format!("{x:.1}"));
    println!(
        "service desk on loopback: {AGENTS} agents ask one desk, {TECHNICIANS} technicians watch and claim"
    );
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| requests queued | {AGENTS} in {:.2} s ({:.0}/s, {CONNECTING} connecting at once) |",
        queued_in.as_secs_f64(),
        AGENTS as f64 / queued_in.as_secs_f64()
    );
    println!("| request → dashboard p50 | {} ms |", fmt(percentile(&visible, 0.5)));
    println!(
        "| request → dashboard p95 | {} ms ({} sightings) |",
        fmt(percentile(&visible, 0.95)),
        visible.len()
    );
    println!(
        "| claims | {AGENTS} in {:.2} s: **{:.0} claims/s** ({lost} races lost) |",
        claimed_in.as_secs_f64(),
        AGENTS as f64 / claimed_in.as_secs_f64()
    );
    println!(
        "| server RSS | {:.1} MB before the agents, {:.1} MB with them |",
        before as f64 / 1e6,
        after as f64 / 1e6
    );
    println!(
        "| RSS per connected agent | **{:.1} kB** |",
        after.saturating_sub(before) as f64 / AGENTS as f64 / 1e3
    );
    Ok(())
}
