//! Input latency through the real product: the console's session logic
//! sends a click, the released agent binary injects it with enigo, and we
//! watch the agent's X display until the pointer is there.
//!
//! Starts a released `tether-rendezvous` and `tether-agent` from
//! `TETHER_BIN_DIR`, logs in with the console library, and times each click
//! from the moment it is handed to the session until `QueryPointer` on the
//! agent's display reports the new position.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tether_console::session::{LiveSession, Technician};
use tether_protocol::channel::input::{Action, ConsoleToAgent, MouseButton};
use tether_transport::pin::KnownServers;
use tether_transport::signal_client::ServerTrust;
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::ConnectionExt as _;

/// Clicks measured.
pub const CLICKS: usize = 50;
const PASSWORD: &str = "bench password";

/// Kills the child when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("TETHER_BIN_DIR").context("TETHER_BIN_DIR is not set")?;
    let path = Path::new(&dir).join(name);
    if !path.exists() {
        bail!("{} is missing", path.display());
    }
    Ok(path)
}

/// Starts the rendezvous; returns it with its address and fingerprint.
fn rendezvous(data: &Path) -> anyhow::Result<(Running, String, String)> {
    let data_s = data.display().to_string();
    let mut add = Command::new(bin("tether-rendezvous")?)
        .args([
            "--data",
            &data_s,
            "technician",
            "add",
            "bench",
            "--organisation",
            "Bench",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    add.stdin.take().context("no stdin")?.write_all(format!("{PASSWORD}\n").as_bytes())?;
    if !add.wait()?.success() {
        bail!("adding the bench technician failed");
    }
    let mut child = Command::new(bin("tether-rendezvous")?)
        .args(["--data", &data_s, "--listen", "127.0.0.1:0", "--turn-listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let running = Running(child);
    let (mut addr, mut fingerprint) = (None, None);
    while addr.is_none() || fingerprint.is_none() {
        let line = lines.next().context("the rendezvous stopped")??;
        if let Some(a) = line.strip_prefix("listening on ") {
            addr = Some(a.to_owned());
        } else if let Some(f) = line.strip_prefix("fingerprint ") {
            fingerprint = Some(f.to_owned());
        }
    }
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok((running, addr.unwrap_or_default(), fingerprint.unwrap_or_default()))
}

/// Click-to-pointer latencies in milliseconds, one per click.
pub async fn click_latency() -> anyhow::Result<Vec<f64>> {
    let dir = std::env::temp_dir().join(format!("tether-bench-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = measure(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(dir: &Path) -> anyhow::Result<Vec<f64>> {
    let (_server, addr, fingerprint) = rendezvous(&dir.join("rendezvous"))?;
    let trust =
        ServerTrust { pinned: Some(fingerprint.parse()?), known: KnownServers::in_dir(&dir.join("console")) };
    let mut tech = Technician::login(&addr, &trust, "bench", PASSWORD).await?;
    let (code, ttl) = tech.new_code().await?;
    let agent_data = dir.join("agent").display().to_string();
    let code_s = code.to_string();
    let _agent = Running(
        Command::new(bin("tether-agent")?)
            .args(["--headless", "--server", &addr, "--server-cert", &fingerprint, "--code", &code_s])
            .args(["--accept", "view,control", "--data", &agent_data])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let mut session = tech.wait_for_customer(code, ttl).await?;
    session.greet_and_request_control().await?;
    let mut consent = session.consent.clone();
    tokio::time::timeout(Duration::from_secs(10), consent.wait_for(|c| c.control))
        .await
        .context("control was not granted")??;

    let (x11, screen) = x11rb::connect(None).context("connecting to the X display")?;
    let root = x11.setup().roots[screen].root;
    let pointer = || -> anyhow::Result<(i16, i16)> {
        let r = x11.query_pointer(root)?.reply()?;
        Ok((r.root_x, r.root_y))
    };
    let mut latencies = Vec::with_capacity(CLICKS);
    for i in 0..CLICKS {
        let target = (200 + (i as u32 % 10) * 80, 300 + (i as u32 / 10) * 60);
        latencies.push(click(&mut session, target, &pointer).await?);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    session.end().await;
    Ok(latencies)
}

async fn click(
    session: &mut LiveSession,
    (x, y): (u32, u32),
    pointer: &impl Fn() -> anyhow::Result<(i16, i16)>,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    session.input(ConsoleToAgent::PointerMove { x, y }).await?;
    session.input(ConsoleToAgent::Button { button: MouseButton::Left, action: Action::Click }).await?;
    loop {
        let (px, py) = pointer()?;
        if (i32::from(px), i32::from(py)) == (x as i32, y as i32) {
            return Ok(start.elapsed().as_secs_f64() * 1000.0);
        }
        if start.elapsed() > Duration::from_secs(5) {
            bail!("the pointer never reached {x},{y} (it is at {px},{py})");
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}
