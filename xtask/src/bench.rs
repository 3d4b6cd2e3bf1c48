//! `cargo xtask bench [net|screen]`: builds the benchmark in release mode
//! and runs it on a 1920×1080 Xvfb with a full-screen xterm, printing
//! tables: the screen pipeline and input latency through released
//! rendezvous and agent binaries; with `net` the network paths (adapter
//! throughput, and code to first frame in the NAT lab at 40 ms; needs root);
//! with `screen` the screen codecs on recorded workloads against zstd, VP9,
//! x264 and TigerVNC (installs ffmpeg, Chromium and TigerVNC); with
//! `transfer` file transfer in the NAT lab against scp (installs sshd and
//! socat; needs root); with `desk` the help-request queue on loopback
//! (1,000 agents, 50 technicians).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tether_e2e::Xvfb;

/// Runs the screen benchmark, or `which` one.
pub fn run(root: &Path, which: Option<&str>) -> anyhow::Result<()> {
    if which.is_some_and(|w| !["net", "screen", "transfer", "desk"].contains(&w)) {
        bail!("usage: cargo xtask bench [net|screen|transfer|desk]");
    }
    if which == Some("screen") {
        crate::packages::ensure(crate::packages::BENCH_SCREEN)?;
    }
    if which == Some("transfer") {
        crate::packages::ensure(crate::packages::BENCH_TRANSFER)?;
    }
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root)
        .args(["build", "--release", "--locked", "-p", "tether-bench"])
        .args(["-p", "tether-rendezvous", "-p", "tether-agent", "-p", "tether-console"])
        .status()
        .context("building the benchmark")?;
    if !status.success() {
        bail!("building the benchmark failed");
    }
    let xvfb = Xvfb::start("1920x1080x24")?;
    // The default fixed font is 6×13 pixels: 320×83 cells fill 1920×1080.
    // (The screen benchmark opens its own windows on a bare desktop.)
    let mut xterm = if matches!(which, Some("screen" | "transfer" | "desk")) {
        None
    } else {
        let child = Command::new("xterm")
            .args(["-geometry", "320x83+0+0", "-e", "bash", "--norc"])
            .env("DISPLAY", &xvfb.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting xterm")?;
        std::thread::sleep(Duration::from_secs(1));
        // No window manager: keyboard focus follows the pointer.
        let _ =
            Command::new("xdotool").args(["mousemove", "960", "540"]).env("DISPLAY", &xvfb.display).status();
        Some(child)
    };
    let status = Command::new(root.join("target/release/tether-bench"))
        .args(which)
        .env("DISPLAY", &xvfb.display)
        .env("TETHER_BIN_DIR", root.join("target/release"))
        .status()
        .context("running the benchmark")?;
    if let Some(xterm) = &mut xterm {
        let _ = xterm.kill();
        let _ = xterm.wait();
    }
    if !status.success() {
        bail!("the benchmark failed");
    }
    Ok(())
}
