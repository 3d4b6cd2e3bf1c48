//! `tether-bench screen`: records office workloads on the 1920×1080 Xvfb
//! (idle, typing, scrolling text), replays each through every encoder, and
//! sends Tether's frames through a real Noise-sealed QUIC session on
//! loopback for the latency from capture to decoded picture.

mod record;
mod replay;

use std::time::Instant;

use anyhow::bail;
use tether_protocol::channel::screen;
use tether_protocol::codec::{Decoder, Encoder, encoder::DEFAULT_LEVEL};

use crate::{percentile, session};
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

/// Runs the whole benchmark and prints its table.
pub async fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let raw = dir.path().join("frames.rgba");
    println!("screen codecs on recorded workloads, 1920×1080 Xvfb, {} frames/s", record::FPS);
    println!();
    println!(
        "| workload | encoder | kB/s | encode ms/frame | lossless (PSNR dB) | latency p50 / p95 ms (capture ms) |"
    );
    println!("|---|---|---|---|---|---|");
    let workloads: [fn() -> anyhow::Result<Recording>; 3] = [record::idle, record::typing, record::scrolling];
    for workload in workloads {
        let rec = tokio::task::spawn_blocking(workload).await??;
        let lat = latencies(&rec).await?;
        replay::write_raw(&rec, &raw)?;
        let results = [
            replay::tether(&rec)?,
            replay::zstd_frames(&rec)?,
            replay::vp9(&rec, &raw, dir.path())?,
            replay::x264(&rec, &raw, dir.path())?,
        ];
        for (i, r) in results.iter().enumerate() {
            let quality = r.psnr.map_or_else(|| "yes".to_owned(), |p| format!("no ({p:.1})"));
            let latency = if i == 0 {
                let p = |q| percentile(&lat, q).map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"));
                let capture = rec.capture_ms.iter().sum::<f64>() / rec.capture_ms.len().max(1) as f64;
                format!("{} / {} ({capture:.1})", p(0.5), p(0.95))
            } else {
                String::new()
            };
            println!(
                "| {} | {} | {} | {:.2} | {quality} | {latency} |",
                rec.name,
                r.encoder,
                thousands(r.bytes as f64 / rec.seconds() / 1000.0),
                r.encode_ms,
            );
        }
    }
    Ok(())
}
