//! Recording the workloads: scripted with xdotool on the benchmark's Xvfb,
//! captured with xcap at a fixed rate into memory, lossless.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use tether_agent::screen::{ScreenSource, XcapSource};

/// Frames per second of every recording.
pub const FPS: u32 = 10;

/// A recorded sequence: the same frames go through every encoder.
pub struct Recording {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub frames: Vec<Vec<u8>>,
    /// Capture time per frame, ms.
    pub capture_ms: Vec<f64>,
}

impl Recording {
    /// Length in seconds at [`FPS`].
    pub fn seconds(&self) -> f64 {
        self.frames.len() as f64 / f64::from(FPS)
    }
}

fn spawn(program: &str, args: &[&str]) -> anyhow::Result<Child> {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {program}"))
}

/// A terminal window on a grey desktop, as office work looks, running `cmd`.
struct Terminal(Child);

impl Terminal {
    fn open(cmd: &str) -> anyhow::Result<Self> {
        let _ = Command::new("xsetroot").args(["-solid", "#3a4a5a"]).status();
        // 160×50 cells of the 6×13 fixed font: 960×650 pixels.
        let child = spawn("xterm", &["-geometry", "160x50+380+200", "-e", "sh", "-c", cmd])?;
        std::thread::sleep(Duration::from_millis(1200));
        // No window manager: the keyboard follows the pointer.
        let _ = Command::new("xdotool").args(["mousemove", "860", "520"]).status();
        Ok(Self(child))
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Captures `seconds` of the screen while `script` (an xdotool process, if
/// any) runs.
fn capture(name: &'static str, seconds: u32, script: Option<Child>) -> anyhow::Result<Recording> {
    let mut source = XcapSource::primary()?;
    let (width, height) = source.size();
    let mut rec = Recording { name, width, height, frames: Vec::new(), capture_ms: Vec::new() };
    let start = Instant::now();
    let period = Duration::from_secs(1) / FPS;
    for i in 0..seconds * FPS {
        let t = Instant::now();
        let c = source.capture()?;
        rec.capture_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!((c.width, c.height) == (width, height), "the screen changed size");
        rec.frames.push(c.rgba);
        let next = start + period * (i + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    if let Some(mut script) = script {
        let _ = script.kill();
        let _ = script.wait();
    }
    Ok(rec)
}

/// A long text file for `less`.
fn write_text(path: &str) -> anyhow::Result<()> {
    let words =
        ["remote", "support", "tether", "screen", "frame", "quinn", "noise", "zstd", "tile", "scroll"];
    let text: String = (0..3000)
        .map(|line| {
            let body: Vec<&str> =
                (0..14).map(|w| words[(line * 7 + w * 3 + line / 5) % words.len()]).collect();
            format!("{line:5}  {}\n", body.join(" "))
        })
        .collect();
    std::fs::write(path, text)?;
    Ok(())
}

/// Idle for 10 s: a terminal with a prompt.
pub fn idle() -> anyhow::Result<Recording> {
    let _term = Terminal::open("printf 'tether $ '; exec sleep 600")?;
    capture("idle", 10, None)
}

/// Typing in the terminal at 5 characters per second for 10 s.
pub fn typing() -> anyhow::Result<Recording> {
    let _term = Terminal::open("exec cat")?;
    let text = "the quick brown fox jumps over the lazy dog, then types some more words ";
    let script = spawn("xdotool", &["type", "--delay", "200", text])?;
    capture("typing 5 chars/s", 10, Some(script))
}

/// Scrolling a long file in `less`: line by line (10 per second), then page
/// by page (2 per second).
pub fn scrolling() -> anyhow::Result<Recording> {
    let path = "/tmp/tether-bench-scroll.txt";
    write_text(path)?;
    let _term = Terminal::open(&format!("exec less {path}"))?;
    let keys = format!(
        "{} {}",
        std::iter::repeat_n("key --delay 0 Down sleep 0.1", 50).collect::<Vec<_>>().join(" "),
        std::iter::repeat_n("key --delay 0 space sleep 0.5", 10).collect::<Vec<_>>().join(" ")
    );
    let script = spawn("sh", &["-c", &format!("xdotool {keys}")])?;
    capture("scrolling text in less", 10, Some(script))
}
