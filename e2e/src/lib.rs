//! Harness for Tether's end-to-end tests: real binaries, real X displays,
//! real QUIC sockets on loopback, real sled files in temporary directories.
//!
//! Every wait is bounded, and every process is killed when its handle drops.

pub mod desk;
pub mod image;
pub mod lab;
pub mod loopback;
pub mod movie;
pub mod netem;
pub mod proc;
pub mod service;
pub mod xvfb;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

pub use proc::Proc;
pub use xvfb::Xvfb;

/// Password of the technician every test makes.
pub const PASSWORD: &str = "correct horse battery";
/// How long any single step may take before the test fails.
pub const STEP: Duration = Duration::from_secs(60);

/// Where the workspace's binaries are: `TETHER_BIN_DIR`, or next to the test.
pub fn bin(name: &str) -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("TETHER_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let exe = std::env::current_exe()?;
            // target/<profile>/deps/test-binary → target/<profile>
            exe.parent().and_then(Path::parent).context("test binary has no parent directory")?.to_path_buf()
        }
    };
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} is missing; build it first with `cargo build --workspace --bins` (cargo xtask test does)",
            path.display()
        );
    }
    Ok(path)
}

/// A running rendezvous server with its own data directory.
#[derive(Debug)]
pub struct Rendezvous {
    /// The process.
    pub proc: Proc,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The key fingerprint clients pin.
    pub fingerprint: String,
    /// Its data directory.
    pub data: PathBuf,
    /// Where its embedded STUN/TURN listens, if it runs one.
    pub turn: Option<String>,
}

impl Rendezvous {
    /// Adds technician `name` to the store in `data` (server not running).
    pub fn add_technician(data: &Path, name: &str) -> anyhow::Result<()> {
        let mut p = Proc::spawn_with_stdin(
            "technician-add",
            bin("tether-rendezvous")?,
            &[
                "--data",
                &data.display().to_string(),
                "technician",
                "add",
                name,
                "--organisation",
                "Acme IT",
                "--password-stdin",
            ],
            &[],
            &format!("{PASSWORD}\n"),
        )?;
        let status = p.wait_exit(STEP)?;
        if !status.success() {
            bail!("technician add failed: {}", p.all_output());
        }
        Ok(())
    }

    /// Starts a server on a free loopback port, with extra arguments.
    pub fn start(data: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        Self::start_in(None, data, extra)
    }

    /// [`Rendezvous::start`] inside network namespace `ns`.
    pub fn start_in(ns: Option<&str>, data: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let data_s = data.display().to_string();
        let mut args = vec!["--data", data_s.as_str()];
        if !extra.contains(&"--listen") {
            args.extend(["--listen", "127.0.0.1:0"]);
        }
        if !extra.iter().any(|a| a.starts_with("--turn") || *a == "--no-turn") {
            // Everything runs on one machine here, so the relay must reach loopback.
            args.extend(["--turn-listen", "127.0.0.1:0", "--turn-allow-loopback-peers"]);
        }
        args.extend_from_slice(extra);
        let proc = Proc::spawn_in(ns, "rendezvous", bin("tether-rendezvous")?, &args, &[], "")?;
        let addr =
            proc.wait_for_stdout("listening on ", STEP)?.trim_start_matches("listening on ").to_owned();
        let fingerprint =
            proc.wait_for_stdout("fingerprint ", STEP)?.trim_start_matches("fingerprint ").to_owned();
        let embedded = !extra.iter().any(|a| *a == "--no-turn" || *a == "--turn-url");
        let turn = if embedded {
            Some(proc.wait_for_stdout("stun/turn on ", STEP)?.trim_start_matches("stun/turn on ").to_owned())
        } else {
            None
        };
        Ok(Self { proc, addr, fingerprint, data: data.to_path_buf(), turn })
    }
}

/// Starts a headless console that logs in as `user` and runs `script`.
pub fn console(server: &Rendezvous, user: &str, script: &Path, data: &Path) -> anyhow::Result<Proc> {
    console_in(None, server, user, script, data)
}

/// [`console`] inside network namespace `ns`.
pub fn console_in(
    ns: Option<&str>,
    server: &Rendezvous,
    user: &str,
    script: &Path,
    data: &Path,
) -> anyhow::Result<Proc> {
    console_env(ns, server, user, script, data, &[])
}

/// [`console_in`] with extra environment.
pub fn console_env(
    ns: Option<&str>,
    server: &Rendezvous,
    user: &str,
    script: &Path,
    data: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<Proc> {
    let mut args = console_args(server, user, data);
    args.extend(["--script".to_owned(), script.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Proc::spawn_in(ns, "console", bin("tether-console")?, &args, env, &format!("{PASSWORD}\n"))
}

/// A headless console's arguments to log in to `server` as `user` (the
/// password comes on standard input).
#[must_use]
pub fn console_args(server: &Rendezvous, user: &str, data: &Path) -> Vec<String> {
    let data = data.display().to_string();
    let args = ["--headless", "--server", &server.addr, "--server-cert", &server.fingerprint, "--user", user];
    args.iter()
        .map(|a| (*a).to_owned())
        .chain(["--password-stdin".to_owned(), "--data".to_owned(), data])
        .collect()
}

/// Starts an agent on `display` with the given code and `--accept` answer.
pub fn agent(
    server: &Rendezvous,
    display: &str,
    code: &str,
    accept: Option<&str>,
    data: &Path,
) -> anyhow::Result<Proc> {
    agent_with(server, display, code, accept, data, &[])
}

/// [`agent`] with extra arguments.
pub fn agent_with(
    server: &Rendezvous,
    display: &str,
    code: &str,
    accept: Option<&str>,
    data: &Path,
    extra: &[&str],
) -> anyhow::Result<Proc> {
    agent_in(None, server, display, code, accept, data, extra)
}

/// [`agent_with`] inside network namespace `ns`.
pub fn agent_in(
    ns: Option<&str>,
    server: &Rendezvous,
    display: &str,
    code: &str,
    accept: Option<&str>,
    data: &Path,
    extra: &[&str],
) -> anyhow::Result<Proc> {
    let args = agent_args(server, code, accept, data, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Proc::spawn_in(ns, "agent", bin("tether-agent")?, &args, &[("DISPLAY", display)], "")
}

/// A headless agent's arguments (no `--code` when `code` is empty).
#[must_use]
pub fn agent_args(
    server: &Rendezvous,
    code: &str,
    accept: Option<&str>,
    data: &Path,
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> =
        ["--headless", "--server", &server.addr, "--server-cert", &server.fingerprint]
            .into_iter()
            .map(str::to_owned)
            .collect();
    if !code.is_empty() {
        args.extend(["--code".into(), code.into()]);
    }
    args.extend(["--data".into(), data.display().to_string()]);
    if let Some(a) = accept {
        args.extend(["--accept".into(), a.into()]);
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

/// Starts the console window on `display`; logs in at once when `password`
/// is given.
pub fn console_window(
    server: &Rendezvous,
    display: &str,
    data: &Path,
    password: Option<&str>,
    extra: &[&str],
) -> anyhow::Result<Proc> {
    let data_s = data.display().to_string();
    let mut args = vec![
        "--server",
        &server.addr,
        "--server-cert",
        &server.fingerprint,
        "--user",
        "alice",
        "--data",
        &data_s,
    ];
    if password.is_some() {
        args.push("--password-stdin");
    }
    args.extend_from_slice(extra);
    let stdin = password.map(|p| format!("{p}\n")).unwrap_or_default();
    Proc::spawn_with_stdin("console-window", bin("tether-console")?, &args, &[("DISPLAY", display)], &stdin)
}

/// Starts the agent window on `display`, without a code.
pub fn agent_window(server: &Rendezvous, display: &str, data: &Path) -> anyhow::Result<Proc> {
    agent_window_with(server, display, data, &[])
}

/// [`agent_window`] with extra arguments.
pub fn agent_window_with(
    server: &Rendezvous,
    display: &str,
    data: &Path,
    extra: &[&str],
) -> anyhow::Result<Proc> {
    let data_s = data.display().to_string();
    let mut args = vec!["--server", &server.addr, "--server-cert", &server.fingerprint, "--data", &data_s];
    args.extend_from_slice(extra);
    Proc::spawn("agent-window", bin("tether-agent")?, &args, &[("DISPLAY", display)])
}

/// Keeps a copy of a screenshot in `$TETHER_SCREENSHOTS` when that is set
/// (`cargo xtask screenshots` sets it to `docs/screenshots`).
pub fn keep_screenshot(from: &Path, name: &str) -> anyhow::Result<()> {
    if let Some(dir) = std::env::var_os("TETHER_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        std::fs::copy(from, dir.join(name)).with_context(|| format!("keeping {name}"))?;
    }
    Ok(())
}

/// Reads the code a console printed.
pub fn read_code(console: &Proc) -> anyhow::Result<String> {
    Ok(console.wait_for_stdout("code: ", STEP)?.trim_start_matches("code: ").trim().to_owned())
}

/// What most tests need: a temporary directory, a rendezvous server with
/// technician `alice`, and a private X display for the customer.
#[derive(Debug)]
pub struct Scene {
    /// The customer's display; dropped last.
    pub x: Xvfb,
    /// The server.
    pub server: Rendezvous,
    /// Scratch space, removed at the end.
    pub dir: tempfile::TempDir,
}

impl Scene {
    /// Sets everything up; `server_args` go to the rendezvous.
    pub fn new(server_args: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("rendezvous");
        Rendezvous::add_technician(&data, "alice")?;
        let server = Rendezvous::start(&data, server_args)?;
        let x = Xvfb::start("1280x800x24")?;
        Ok(Self { x, server, dir })
    }

    /// A path inside the scratch directory.
    #[must_use]
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `script` and starts a console running it.
    pub fn console(&self, script: &str) -> anyhow::Result<Proc> {
        let file = self.path(&format!("script-{}.txt", unique()));
        std::fs::write(&file, script)?;
        console(&self.server, "alice", &file, &self.path("console"))
    }

    /// Writes `script` and starts a console running it with extra
    /// environment.
    pub fn console_env(&self, script: &str, env: &[(&str, &str)]) -> anyhow::Result<Proc> {
        let file = self.path(&format!("script-{}.txt", unique()));
        std::fs::write(&file, script)?;
        console_env(None, &self.server, "alice", &file, &self.path("console"), env)
    }

    /// Starts an agent on the scene's display with extra arguments and
    /// environment (fault hooks, for one).
    pub fn agent_env(
        &self,
        code: &str,
        accept: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Proc> {
        let args = agent_args(&self.server, code, Some(accept), &self.path("agent"), extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut all = vec![("DISPLAY", self.x.display.as_str())];
        all.extend_from_slice(env);
        Proc::spawn("agent", bin("tether-agent")?, &args, &all)
    }

    /// Starts an agent on the scene's display.
    pub fn agent(&self, code: &str, accept: Option<&str>) -> anyhow::Result<Proc> {
        agent(&self.server, &self.x.display, code, accept, &self.path("agent"))
    }

    /// Starts an X client on the scene's display.
    pub fn x_client(&self, program: &str, args: &[&str]) -> anyhow::Result<Proc> {
        Proc::spawn(program, PathBuf::from(program), args, &[("DISPLAY", &self.x.display)])
    }

    /// Waits until a window of `class` is mapped on the display.
    pub fn wait_window(&self, class: &str) -> anyhow::Result<()> {
        let start = std::time::Instant::now();
        loop {
            let out = std::process::Command::new("xdotool")
                .args(["search", "--onlyvisible", "--class", class])
                .env("DISPLAY", &self.x.display)
                .output()?;
            if out.status.success() && !out.stdout.is_empty() {
                return Ok(());
            }
            if start.elapsed() > STEP {
                bail!("no {class} window appeared on {}", self.x.display);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pointer position, from `xdotool getmouselocation`.
    pub fn pointer(&self) -> anyhow::Result<(u32, u32)> {
        let out = std::process::Command::new("xdotool")
            .arg("getmouselocation")
            .env("DISPLAY", &self.x.display)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |name: &str| -> anyhow::Result<u32> {
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .context("unexpected xdotool output")?
                .parse()
                .context("unexpected xdotool output")
        };
        Ok((field("x:")?, field("y:")?))
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
