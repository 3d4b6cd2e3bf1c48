//! `tether-bench`: the screen pipeline measured on a real X display.
//!
//! Run by `cargo xtask bench`, which starts a 1920×1080 Xvfb with a
//! full-screen xterm. For each workload (idle, one typed character, a full
//! screen of new text) it captures as the agent does, encodes with the session codec,
//! sends through a real Noise-sealed QUIC session on loopback, and decodes:
//! bytes per frame, encode time, and capture-to-decoded latency. Then it
//! times clicks from the console's session logic to the pointer moving on
//! the agent's display (see `input`).

mod codecs;
mod desk;
mod input;
mod net;
mod transfer;

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tether_agent::screen::ScreenSource;
use tether_protocol::channel::screen;
use tether_protocol::codec::{Decoder, Encoder, encoder::DEFAULT_LEVEL};
use tether_protocol::handshake::StaticKey;
use tether_protocol::wire;
use tether_transport::peer::{self, AgentChannels, ConsoleChannels, PeerSecrets};
use tether_transport::socket::{self, UdpPath};

const SAMPLES: usize = 30;

#[derive(Debug, Default)]
struct Row {
    name: &'static str,
    frames: usize,
    sent: usize,
    bytes: Vec<usize>,
    capture_ms: Vec<f64>,
    encode_ms: Vec<f64>,
    latency_ms: Vec<f64>,
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 }
}

fn percentile(v: &[f64], p: f64) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    s.get(i).copied()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn xdotool(args: &[&str]) -> anyhow::Result<()> {
    let ok = Command::new("xdotool").args(args).status().context("running xdotool")?.success();
    if !ok {
        bail!("xdotool {args:?} failed");
    }
    Ok(())
}

/// The two ends of a real session on loopback, and what keeps them open.
struct Session {
    agent: AgentChannels,
    console: ConsoleChannels,
    _keep: (quinn::Endpoint, quinn::Endpoint, quinn::Connection, quinn::Connection),
}

async fn session() -> anyhow::Result<Session> {
    let server = UdpPath::bind("127.0.0.1:0".parse()?)?;
    let addr = server.local_addr()?;
    let agent_ep = socket::endpoint(Box::new(server), Some(peer::peer_server_config()?))?;
    let console_ep = socket::endpoint(Box::new(UdpPath::bind("127.0.0.1:0".parse()?)?), None)?;
    let (ka, kc) = (StaticKey::generate()?, StaticKey::generate()?);
    let psk = [42; 32];
    let (sa, sc) = (PeerSecrets { static_key: &ka, psk }, PeerSecrets { static_key: &kc, psk });
    let (a, c) = tokio::join!(peer::accept(&agent_ep, &sa), peer::connect(&console_ep, addr, &sc));
    let ((aconn, _, agent), (cconn, _, console)) = (a?, c?);
    Ok(Session { agent, console, _keep: (agent_ep, console_ep, aconn, cconn) })
}

struct Pipeline {
    source: Box<dyn ScreenSource>,
    encoder: Encoder,
    decoder: Decoder,
    s: Session,
}

impl Pipeline {
    /// Captures, encodes, sends, receives and decodes one frame.
    async fn frame(&mut self, row: &mut Row) -> anyhow::Result<()> {
        let t0 = Instant::now();
        let c = self.source.capture()?;
        let t1 = Instant::now();
        let encoded = self.encoder.encode(c.width, c.height, &c.rgba)?;
        self.source.recycle(c.rgba);
        let t2 = Instant::now();
        row.frames += 1;
        row.capture_ms.push(ms(t1 - t0));
        row.encode_ms.push(ms(t2 - t1));
        let Some(frame) = encoded else {
            row.bytes.push(0);
            return Ok(());
        };
        row.sent += 1;
        let msg = screen::AgentToConsole::Frame(frame);
        row.bytes.push(wire::encode(&msg).len());
        self.s.agent.screen.0.send(&msg).await?;
        let Some(screen::AgentToConsole::Frame(got)) = self.s.console.screen.1.recv().await? else {
            bail!("the screen channel closed");
        };
        self.decoder.apply(&got)?;
        row.latency_ms.push(ms(t0.elapsed()));
        self.s.console.screen.0.send(&screen::ConsoleToAgent::Ack { seq: got.seq }).await?;
        let _ = self.s.agent.screen.1.recv().await?;
        Ok(())
    }
}

fn write_text_file(path: &str, seed: usize) -> anyhow::Result<()> {
    let words = [
        "fn", "let", "match", "impl", "struct", "tether", "frame", "quinn", "noise", "zstd", "tile", "screen",
    ];
    let mut out = String::new();
    for line in 0..200 {
        out.push_str(&format!("{:4}  ", line + seed));
        for w in 0..30 {
            out.push_str(words[(line * 7 + w * 3 + seed) % words.len()]);
            out.push(' ');
        }
        out.push('\n');
    }
    std::fs::write(path, out)?;
    Ok(())
}

fn settle() {
    std::thread::sleep(Duration::from_millis(150));
}

/// `tether-bench net`: the network paths.
async fn net_main() -> anyhow::Result<()> {
    let display = std::env::var("DISPLAY").context("the lab's agent needs DISPLAY")?;
    println!("peer connection throughput on loopback (one QUIC stream, 128 MiB, Noise handshake done)");
    println!();
    println!("| path | MB/s | share of plain quinn |");
    println!("|---|---|---|");
    let rows = net::throughput().await?;
    let plain = rows.first().map_or(1.0, |r| r.1);
    for (name, mbps) in &rows {
        println!("| {name} | {mbps:.0} | {:.0} % |", mbps / plain * 100.0);
    }
    let lab = tokio::task::spawn_blocking(move || net::lab_first_frames(&display)).await??;
    println!();
    println!("NAT lab, 40 ms round trip between the peers (10 ms each way on each uplink):");
    println!("customer enters the code (agent starts) → technician's first frame, ms");
    println!();
    println!("| NATs | runs | median ms | min ms | max ms |");
    println!("|---|---|---|---|---|");
    for (nat, times) in &lab {
        let name = match nat {
            tether_e2e::lab::Nat::Cone => "cone (direct)",
            tether_e2e::lab::Nat::Symmetric => "symmetric (relay)",
        };
        println!(
            "| {name} | {} | {:.0} | {:.0} | {:.0} |",
            times.len(),
            percentile(times, 0.5).unwrap_or_default(),
            times.iter().copied().fold(f64::INFINITY, f64::min),
            times.iter().copied().fold(0.0, f64::max),
        );
    }
    Ok(())
}

async fn transfer_main() -> anyhow::Result<()> {
    let display = std::env::var("DISPLAY").context("no DISPLAY")?;
    let only_scp = std::env::args().nth(2).as_deref() == Some("scp");
    let r = tokio::task::spawn_blocking(move || transfer::run(&display, only_scp)).await??;
    println!("file transfer across the NAT lab, cone NATs, {} on each side", r.shape);
    println!();
    println!(
        "| session | file Mbit/s | frame send→ack p50 ms | p95 ms | chat round trips | chat p50 ms | chat p95 ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    let fmt = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |x| format!("{x:.1}"));
    for (label, run) in &r.sessions {
        println!(
            "| {label} | {} | {} | {} | {} | {} | {} |",
            fmt(run.mbit),
            fmt(run.frames.map(|f| f.0)),
            fmt(run.frames.map(|f| f.1)),
            run.chat.len(),
            fmt(percentile(&run.chat, 0.5)),
            fmt(percentile(&run.chat, 0.95)),
        );
    }
    for (label, mbit) in &r.scp {
        println!("| {label} | {mbit:.1} | | | | | |");
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("net") => return net_main().await,
        Some("screen") => return codecs::run(std::env::args().nth(2).as_deref()).await,
        Some("transfer") => return transfer_main().await,
        Some("desk") => return desk::run().await,
        Some(other) => {
            bail!("unknown benchmark {other:?}: none for the pipeline, net, screen, transfer or desk")
        }
    }
    let source = tether_agent::screen::primary()?;
    let (w, h) = source.size();
    let s = session().await?;
    let mut p = Pipeline { source, encoder: Encoder::new(DEFAULT_LEVEL)?, decoder: Decoder::new()?, s };
    write_text_file("/tmp/tether-bench-a.txt", 0)?;
    write_text_file("/tmp/tether-bench-b.txt", 5)?;
    xdotool(&["type", "--delay", "1", "clear; cat /tmp/tether-bench-a.txt\n"])?;
    settle();
    p.frame(&mut Row::default()).await?; // the first full frame primes the session

    let mut idle = Row { name: "idle", ..Row::default() };
    for _ in 0..SAMPLES {
        p.frame(&mut idle).await?;
    }
    let mut typing = Row { name: "one typed character", ..Row::default() };
    for i in 0..SAMPLES {
        let ch = ["a", "b", "c", "d"][i % 4];
        xdotool(&["type", "--delay", "0", ch])?;
        settle();
        p.frame(&mut typing).await?;
    }
    let mut text = Row { name: "full screen of text", ..Row::default() };
    for i in 0..SAMPLES / 3 {
        let file = if i % 2 == 0 { "b" } else { "a" };
        xdotool(&["type", "--delay", "1", &format!("\x15clear; cat /tmp/tether-bench-{file}.txt\n")])?;
        std::thread::sleep(Duration::from_millis(400));
        p.frame(&mut text).await?;
    }

    println!("screen pipeline at {w}×{h} (agent capture, codec v2, Noise + QUIC on loopback)");
    println!();
    println!(
        "| workload | frames | frames sent | bytes/frame | capture ms | encode ms | latency p50 ms | latency p95 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in [&idle, &typing, &text] {
        let bytes = r.bytes.iter().sum::<usize>() as f64 / r.frames.max(1) as f64;
        let fmt = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |x| format!("{x:.1}"));
        println!(
            "| {} | {} | {} | {:.0} | {:.1} | {:.2} | {} | {} |",
            r.name,
            r.frames,
            r.sent,
            bytes,
            mean(&r.capture_ms),
            mean(&r.encode_ms),
            fmt(percentile(&r.latency_ms, 0.5)),
            fmt(percentile(&r.latency_ms, 0.95)),
        );
    }
    drop(p);

    let clicks = input::click_latency().await?;
    println!();
    println!("input: console click to pointer moved on the agent's display (real rendezvous and agent)");
    println!();
    println!("| clicks | p50 ms | p95 ms | max ms |");
    println!("|---|---|---|---|");
    println!(
        "| {} | {:.1} | {:.1} | {:.1} |",
        clicks.len(),
        percentile(&clicks, 0.5).unwrap_or_default(),
        percentile(&clicks, 0.95).unwrap_or_default(),
        clicks.iter().copied().fold(0.0, f64::max),
    );
    Ok(())
}
