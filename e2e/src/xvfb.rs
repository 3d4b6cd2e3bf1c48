//! A private Xvfb display that is killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const FIRST_DISPLAY: u32 = 40;
const LAST_DISPLAY: u32 = 400;
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running Xvfb.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    /// `:N`.
    pub display: String,
}

impl Xvfb {
    /// Starts Xvfb at `size` (`WxHxD`) on a free display number.
    ///
    /// Several tests may race for a number; Xvfb refuses one that is taken
    /// (its lock file), and we move on to the next.
    pub fn start(size: &str) -> anyhow::Result<Self> {
        let seed = std::process::id() % 100;
        for n in (FIRST_DISPLAY + seed..=LAST_DISPLAY).chain(FIRST_DISPLAY..FIRST_DISPLAY + seed) {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let child = Command::new("Xvfb")
                .args([
                    &format!(":{n}"),
                    "-screen",
                    "0",
                    size,
                    "-nolisten",
                    "tcp",
                    "-ac",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting Xvfb (is the xvfb package installed?)")?;
            let mut x = Self {
                child,
                display: format!(":{n}"),
            };
            if x.wait_ready(n)? {
                return Ok(x);
            }
        }
        bail!("no free X display number between :{FIRST_DISPLAY} and :{LAST_DISPLAY}")
    }

    fn wait_ready(&mut self, n: u32) -> anyhow::Result<bool> {
        let socket = format!("/tmp/.X11-unix/X{n}");
        let start = Instant::now();
        while start.elapsed() < START_TIMEOUT {
            if self.child.try_wait()?.is_some() {
                return Ok(false);
            }
            if Path::new(&socket).exists()
                && Command::new("xdpyinfo")
                    .args(["-display", &self.display])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "Xvfb {} did not become ready in {} s",
            self.display,
            START_TIMEOUT.as_secs()
        )
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
