//! TigerVNC on the same workloads: each scene runs live on TigerVNC's own X
//! server (`Xvnc`, 1920×1080), watched by TigerVNC's viewer through a TCP
//! proxy here that counts the bytes the server sends. VNC cannot replay a
//! recording (it sees X drawing, including copies, not pictures), so it sees
//! the same script rather than the same frames.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::record::{FPS, Workload};
use super::replay::{Fidelity, Result};

/// A running `Xvnc`, killed when dropped.
pub struct Xvnc {
    child: Child,
    display: String,
    port: u16,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Xvnc {
    /// Starts `Xvnc` on a free display number, reachable on loopback only.
    pub fn start() -> anyhow::Result<Self> {
        let n = (60..100)
            .find(|n| {
                !std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .context("no free X display number")?;
        let port = free_port()?;
        let display = format!(":{n}");
        let port_arg = port.to_string();
        let child = Command::new("Xvnc")
            .args([&display, "-geometry", "1920x1080", "-depth", "24", "-SecurityTypes", "None"])
            .args(["-localhost", "-rfbport", &port_arg, "-AlwaysShared", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvnc (tigervnc-standalone-server)")?;
        let xvnc = Self { child, display, port };
        let socket = format!("/tmp/.X11-unix/X{n}");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !std::path::Path::new(&socket).exists() || TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("Xvnc did not come up in 15 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(xvnc)
    }

    /// CPU seconds the server has used so far (user plus system).
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which is in parentheses: utime and
        // stime are the 12th and 13th, in clock ticks (100 per second).
        let rest = stat.rsplit_once(')').map_or("", |r| r.1);
        let ticks: u64 = rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
        ticks as f64 / 100.0
    }
}

impl Drop for Xvnc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies `from` to `to`, adding what it copied to `count`.
fn pump(mut from: TcpStream, mut to: TcpStream, count: Option<Arc<AtomicU64>>) {
    let mut buf = vec![0; 64 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        if let Some(c) = &count {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}

/// Waits up to 15 s for the viewer to connect to `listener`.
fn accept(listener: &TcpListener, viewer: &mut Child) -> anyhow::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(status) = viewer.try_wait()? {
            bail!("the VNC viewer exited ({status}) before connecting");
        }
        if Instant::now() > deadline {
            bail!("the VNC viewer did not connect in 15 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How the viewer asks for the screen.
#[derive(Clone, Copy)]
pub enum Mode {
    /// Tight without JPEG: lossless, as Tether.
    Lossless,
    /// Tight with JPEG at TigerVNC's default quality (8).
    Jpeg,
}

/// Runs `workload` on `xvnc` with a viewer on `viewer_display`, for the
/// workload's length from the moment the viewer connects.
pub fn run(xvnc: &Xvnc, viewer_display: &str, workload: &Workload, mode: Mode) -> anyhow::Result<Result> {
    let scene = (workload.stage)(&xvnc.display)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let target = format!("127.0.0.1::{}", listener.local_addr()?.port());
    let jpeg = match mode {
        Mode::Lossless => ["-NoJPEG=1", "-QualityLevel=8"],
        Mode::Jpeg => ["-NoJPEG=0", "-QualityLevel=8"],
    };
    let mut viewer = Command::new("xtigervncviewer")
        .args(["-SecurityTypes=None", "-AutoSelect=0", "-PreferredEncoding=Tight", "-CompressLevel=2"])
        .args(jpeg)
        .arg(&target)
        .env("DISPLAY", viewer_display)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting xtigervncviewer (tigervnc-viewer)")?;
    let result = (|| {
        let client = accept(&listener, &mut viewer)?;
        let server = TcpStream::connect(("127.0.0.1", xvnc.port)).context("connecting to Xvnc")?;
        let count = Arc::new(AtomicU64::new(0));
        let cpu = xvnc.cpu_seconds();
        let (c2, s2) = (client.try_clone()?, server.try_clone()?);
        let counted = Arc::clone(&count);
        std::thread::spawn(move || pump(server, client, Some(counted)));
        std::thread::spawn(move || pump(c2, s2, None));
        std::thread::sleep(Duration::from_secs(workload.seconds.into()));
        let bytes = count.load(Ordering::Relaxed) as usize;
        let frames = f64::from(workload.seconds * FPS);
        let encode_ms = (xvnc.cpu_seconds() - cpu) * 1000.0 / frames;
        let (encoder, fidelity) = match mode {
            Mode::Lossless => ("TigerVNC Tight, no JPEG (live)", Fidelity::Lossless),
            Mode::Jpeg => ("TigerVNC Tight JPEG q8 (live)", Fidelity::LossyUnmeasured),
        };
        Ok(Result { encoder, bytes, encode_ms, fidelity })
    })();
    let _ = viewer.kill();
    let _ = viewer.wait();
    drop(scene);
    result
}
