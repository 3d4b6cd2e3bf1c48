//! Recording the workloads: each is a scene (windows plus an xdotool script)
//! staged on an X display, captured as the agent captures (MIT-SHM through
//! x11rb, else xcap) at a fixed rate into memory,
//! lossless. The same scenes run live on TigerVNC's `Xvnc` (see `vnc`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

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

/// A scripted workload: `stage` opens its windows on a display and starts
/// its script, which then runs for `seconds`.
pub struct Workload {
    pub name: &'static str,
    pub seconds: u32,
    pub stage: fn(&str) -> anyhow::Result<Scene>,
}

/// Everything a staged workload runs; killed when dropped, script first.
#[derive(Default)]
pub struct Scene(Vec<Child>);

impl Scene {
    fn spawn(&mut self, display: &str, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let child = Command::new(program)
            .args(args)
            .env("DISPLAY", display)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        self.0.push(child);
        Ok(())
    }
}

impl Scene {
    /// Starts one xdotool process running each step its number of times,
    /// in order (`sleep` inside a step paces it).
    fn script(&mut self, display: &str, steps: &[(&str, usize)]) -> anyhow::Result<()> {
        let commands: Vec<&str> = steps.iter().flat_map(|&(step, n)| std::iter::repeat_n(step, n)).collect();
        self.spawn(display, "xdotool", &commands.join(" ").split(' ').collect::<Vec<_>>())
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        for child in self.0.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run(display: &str, program: &str, args: &[&str]) {
    let _ = Command::new(program)
        .args(args)
        .env("DISPLAY", display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A grey desktop, as office work looks, with a terminal window on it
/// running `cmd`, the pointer over it (no window manager: the keyboard
/// follows the pointer).
fn terminal(display: &str, cmd: &str) -> anyhow::Result<Scene> {
    run(display, "xsetroot", &["-solid", "#3a4a5a"]);
    let mut scene = Scene::default();
    // 160×50 cells of the 6×13 fixed font: 960×650 pixels.
    scene.spawn(display, "xterm", &["-geometry", "160x50+380+200", "-e", "sh", "-c", cmd])?;
    std::thread::sleep(Duration::from_millis(1200));
    run(display, "xdotool", &["mousemove", "860", "520"]);
    // A browser that quit may have left the focus on nothing.
    tether_e2e::desk::focus_follows_pointer(display)?;
    Ok(scene)
}

/// Stages `workload` on this process's display and captures it.
pub fn record(workload: &Workload) -> anyhow::Result<Recording> {
    let display = std::env::var("DISPLAY").context("recording needs DISPLAY")?;
    let mut source = tether_agent::screen::primary()?;
    let scene = (workload.stage)(&display)?;
    let (width, height) = source.size();
    let mut rec =
        Recording { name: workload.name, width, height, frames: Vec::new(), capture_ms: Vec::new() };
    let start = Instant::now();
    let period = Duration::from_secs(1) / FPS;
    for i in 0..workload.seconds * FPS {
        let t = Instant::now();
        let c = source.capture()?;
        rec.capture_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!((c.width, c.height) == (width, height), "the screen changed size");
        // The agent hands each buffer back after encoding; so does this.
        rec.frames.push(c.rgba.clone());
        source.recycle(c.rgba);
        let next = start + period * (i + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    drop(scene);
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

/// Idle: a terminal with a prompt.
fn idle(display: &str) -> anyhow::Result<Scene> {
    terminal(display, "printf 'tether $ '; exec sleep 600")
}

/// Typing in the terminal at 5 characters per second.
fn typing(display: &str) -> anyhow::Result<Scene> {
    let mut scene = terminal(display, "exec cat")?;
    let text = "the quick brown fox jumps over the lazy dog, then types some more words ";
    scene.spawn(display, "xdotool", &["type", "--delay", "200", text])?;
    Ok(scene)
}

/// Scrolling a long file in `less`: line by line (10 per second), then page
/// by page (2 per second).
fn scrolling(display: &str) -> anyhow::Result<Scene> {
    let path = "/tmp/tether-bench-scroll.txt";
    write_text(path)?;
    let mut scene = terminal(display, &format!("exec less {path}"))?;
    scene.script(display, &[("key --delay 0 Down sleep 0.1", 50), ("key --delay 0 space sleep 0.5", 10)])?;
    Ok(scene)
}

/// Scrolling a web page in Chromium (see `page`), full screen: the wheel
/// three times a second, then page by page twice a second.
fn browser(display: &str) -> anyhow::Result<Scene> {
    let html = "/tmp/tether-bench-page.html";
    std::fs::write(html, super::page::html())?;
    let profile = format!("/tmp/tether-bench-chromium{}", display.replace(':', "-"));
    let _ = std::fs::remove_dir_all(&profile);
    run(display, "xsetroot", &["-solid", "#3a4a5a"]);
    let mut scene = Scene::default();
    let dir = format!("--user-data-dir={profile}");
    let url = format!("file://{html}");
    let args = [
        "--no-sandbox",
        "--test-type",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--disable-features=Translate,MediaRouter",
        "--password-store=basic",
        "--window-position=0,0",
        "--window-size=1920,1080",
        &dir,
        &url,
    ];
    scene.spawn(display, "chromium", &args)?;
    // Wait for the window, then for the page to render.
    let found = Command::new("timeout")
        .args(["30", "xdotool", "search", "--sync", "--onlyvisible", "--class", "chromium"])
        .env("DISPLAY", display)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    anyhow::ensure!(found, "chromium opened no window in 30 s");
    std::thread::sleep(Duration::from_secs(4));
    run(display, "xdotool", &["mousemove", "960", "600"]);
    tether_e2e::desk::focus_follows_pointer(display)?;
    scene.script(display, &[("click 5 sleep 0.33", 15), ("key --delay 0 Page_Down sleep 0.5", 10)])?;
    Ok(scene)
}

/// `ffmpeg`'s moving test pattern, played full screen by `ffplay` at 25
/// frames per second.
fn video(display: &str) -> anyhow::Result<Scene> {
    let mut scene = Scene::default();
    let args = [
        "-loglevel",
        "quiet",
        "-an",
        "-noborder",
        "-left",
        "0",
        "-top",
        "0",
        "-x",
        "1920",
        "-y",
        "1080",
        "-f",
        "lavfi",
        "testsrc2=size=1920x1080:rate=25",
    ];
    scene.spawn(display, "ffplay", &args)?;
    std::thread::sleep(Duration::from_secs(2));
    Ok(scene)
}

/// The workloads, in the order of the table.
pub const WORKLOADS: [Workload; 5] = [
    Workload { name: "idle", seconds: 10, stage: idle },
    Workload { name: "typing 5 chars/s", seconds: 10, stage: typing },
    Workload { name: "scrolling text in less", seconds: 10, stage: scrolling },
    Workload { name: "scrolling a web page in Chromium", seconds: 10, stage: browser },
    Workload { name: "test pattern video, full screen", seconds: 10, stage: video },
];
