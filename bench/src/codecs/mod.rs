//! `tether-bench screen`: records workloads on the 1920×1080 Xvfb (idle,
//! typing, scrolling text, a web page, a video), replays each through every
//! encoder, sends Tether's frames through a real Noise-sealed QUIC session on
//! loopback for the latency from capture to decoded picture, and runs the
//! same scripts live on TigerVNC for its bytes on the wire.

mod page;
mod record;
mod replay;
mod vnc;

use std::time::Instant;

use anyhow::{Context, bail};
use tether_protocol::channel::screen;
use tether_protocol::codec::{Decoder, Encoder, encoder::DEFAULT_LEVEL};

use crate::{mean, percentile, session};
use record::Recording;

/// Capture, encode, send, receive and decode, frame by frame as the agent
/// paces them: ms from the start of each capture to its decoded picture.
async fn latencies(rec: &Recording) -> anyhow::Result<Vec<f64>> {
    let mut s = session().await?;
    let mut enc = Encoder::new(DEFAULT_LEVEL)?;
    let mut dec = Decoder::new()?;
    let mut out = Vec::new();
    for (pixels, capture) in rec.frames.iter().zip(&rec.capture_ms) {
        let t = Instant::now();
        let Some(frame) = enc.encode(rec.width, rec.height, pixels)? else { continue };
        s.agent.screen.0.send(&screen::AgentToConsole::Frame(frame)).await?;
        let Some(screen::AgentToConsole::Frame(got)) = s.console.screen.1.recv().await? else {
            bail!("the screen channel closed");
        };
        dec.apply(&got)?;
        out.push(capture + t.elapsed().as_secs_f64() * 1000.0);
        s.console.screen.0.send(&screen::ConsoleToAgent::Ack { seq: got.seq }).await?;
        let _ = s.agent.screen.1.recv().await?;
    }
    Ok(out)
}

fn thousands(n: f64) -> String {
    let s = format!("{n:.0}");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs the whole benchmark and prints its table; `only` picks the
/// workloads whose names contain it.
pub async fn run(only: Option<&str>) -> anyhow::Result<()> {
    let display = std::env::var("DISPLAY").context("the benchmark needs DISPLAY")?;
    let dir = tempfile::tempdir()?;
    let raw = dir.path().join("frames.rgba");
    let xvnc = tokio::task::spawn_blocking(vnc::Xvnc::start).await??;
    println!("screen codecs on recorded workloads, 1920×1080 Xvfb, {} frames/s", record::FPS);
    println!();
    println!(
        "| workload | encoder | kB/s | encode ms/frame | lossless (PSNR dB) | latency p50 / p95 ms (capture ms) |"
    );
    println!("|---|---|---|---|---|---|");
    for workload in record::WORKLOADS.iter().filter(|w| only.is_none_or(|o| w.name.contains(o))) {
        let rec = tokio::task::spawn_blocking(|| record::record(workload)).await??;
        let lat = latencies(&rec).await?;
        replay::write_raw(&rec, &raw)?;
        let mut results = vec![
            replay::tether(&rec, false)?,
            replay::tether(&rec, true)?,
            replay::zstd_frames(&rec)?,
            replay::vp9(&rec, &raw, dir.path())?,
            replay::x264(&rec, &raw, dir.path())?,
        ];
        let (seconds, capture) = (rec.seconds(), mean(&rec.capture_ms));
        drop(rec);
        for mode in [vnc::Mode::Lossless, vnc::Mode::Jpeg] {
            let (xvnc, display) = (&xvnc, display.as_str());
            results.push(tokio::task::block_in_place(|| vnc::run(xvnc, display, workload, mode))?);
        }
        for (i, r) in results.iter().enumerate() {
            let latency = if i == 0 {
                let p = |q| percentile(&lat, q).map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"));
                format!("{} / {} ({capture:.1})", p(0.5), p(0.95))
            } else {
                String::new()
            };
            println!(
                "| {} | {} | {} | {:.2} | {} | {latency} |",
                workload.name,
                r.encoder,
                thousands(r.bytes as f64 / seconds / 1000.0),
                r.encode_ms,
                r.fidelity,
            );
        }
    }
    Ok(())
}
