//! A private Xvfb display that is stopped when dropped.
//!
//! Xvfb picks a free display number itself (`-displayfd`) and reports it on
//! its standard output. Starts are serialised within a process, and the
//! server is stopped with SIGTERM so it removes its lock file and socket.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};

const START_TIMEOUT: Duration = Duration::from_secs(20);

static STARTING: Mutex<()> = Mutex::new(());

/// A running Xvfb.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    /// `:N`.
    pub display: String,
}

impl Xvfb {
    /// Starts Xvfb at `size` (`WxHxD`) on a free display number.
    pub fn start(size: &str) -> anyhow::Result<Self> {
        let _one_at_a_time = STARTING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut child = Command::new("Xvfb")
            // -noreset: without it the server resets (and forgets settings
            // such as the root colour) whenever its last client leaves.
            .args(["-displayfd", "1", "-screen", "0", size, "-nolisten", "tcp", "-ac", "-noreset"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvfb (is the xvfb package installed?)")?;
        let stdout = child.stdout.take().context("Xvfb has no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut xvfb = Self { child, display: String::new() };
        let number = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let number = number.trim();
        if number.is_empty() || number.parse::<u32>().is_err() {
            bail!("Xvfb did not report a display within {} s", START_TIMEOUT.as_secs());
        }
        xvfb.display = format!(":{number}");
        Ok(xvfb)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let stopped = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if stopped {
            for _ in 0..100 {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
