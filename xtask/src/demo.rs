//! `cargo xtask demo`: a local rendezvous, an agent on this desktop (or on
//! Xvfb with an xterm and a clock), and the console window paired by code,
//! with a screenshot of the console after 10 s.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use tether_e2e::{PASSWORD, Proc, Xvfb};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn display_works(display: &str) -> bool {
    Command::new("xdpyinfo")
        .args(["-display", display])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn spawn_x(program: &str, args: &[&str], display: &str) -> anyhow::Result<Kill> {
    Command::new(program)
        .args(args)
        .env("DISPLAY", display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Kill)
        .with_context(|| format!("starting {program}"))
}

/// Runs the demo; `bins` holds the built binaries.
pub fn run(root: &Path, bins: &Path) -> anyhow::Result<()> {
    let dir = root.join(".tether-demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let data = dir.join("rendezvous");
    let snapshot = dir.join("console-screenshot.png");
    let bin = |n: &str| bins.join(n);

    // Declared before the X clients so they are dropped (killed) after them.
    let mut console_x = None;
    let mut xvfb = None;
    let mut x_clients = Vec::new();
    let display = match std::env::var("DISPLAY") {
        Ok(d) if display_works(&d) => {
            eprintln!("demo: sharing your display {d}");
            d
        }
        _ => {
            let d = xvfb.insert(Xvfb::start("1920x1080x24")?).display.clone();
            eprintln!("demo: no display; started Xvfb on {d} with an xterm and a clock");
            x_clients.push(spawn_x(
                "xterm",
                &["-geometry", "100x30+40+40", "-e", "sh -c 'echo Tether demo; uname -a; ls /; exec sh'"],
                &d,
            )?);
            x_clients.push(spawn_x("xclock", &["-update", "1", "-geometry", "200x200+1000+60"], &d)?);
            std::thread::sleep(Duration::from_millis(500));
            d
        }
    };

    let data_s = data.display().to_string();
    let mut add = Proc::spawn_with_stdin(
        "rendezvous",
        bin("tether-rendezvous"),
        &[
            "--data",
            &data_s,
            "technician",
            "add",
            "demo",
            "--organisation",
            "Tether Demo",
            "--password-stdin",
        ],
        &[],
        &format!("{PASSWORD}\n"),
    )?;
    add.wait_exit(Duration::from_secs(30))?;
    let server = Proc::spawn(
        "rendezvous",
        bin("tether-rendezvous"),
        &[
            "--data",
            &data_s,
            "--listen",
            "127.0.0.1:0",
            "--turn-listen",
            "127.0.0.1:0",
            "--turn-allow-loopback-peers",
        ],
        &[],
    )?;
    let addr = server.wait_for_stdout("listening on ", Duration::from_secs(30))?.replace("listening on ", "");
    let fp = server.wait_for_stdout("fingerprint ", Duration::from_secs(30))?.replace("fingerprint ", "");

    // The console window gets its own display when there is no desktop, so
    // it does not film itself through the agent.
    let console_display = match &xvfb {
        Some(_) => console_x.insert(Xvfb::start("1280x800x24")?).display.clone(),
        None => display.clone(),
    };
    let console_data = dir.join("console").display().to_string();
    let mut console = Proc::spawn_with_stdin(
        "console",
        bin("tether-console"),
        &[
            "--server",
            &addr,
            "--server-cert",
            &fp,
            "--user",
            "demo",
            "--password-stdin",
            "--new-code",
            "--data",
            &console_data,
        ],
        &[("DISPLAY", &console_display)],
        &format!("{PASSWORD}\n"),
    )?;
    let code = console.wait_for_stdout("code: ", Duration::from_secs(60))?.replace("code: ", "");
    eprintln!("demo: the technician's code is {code}; the customer's agent joins with it");
    let agent_data = dir.join("agent").display().to_string();
    let mut agent = Proc::spawn(
        "agent",
        bin("tether-agent"),
        &[
            "--headless",
            "--server",
            &addr,
            "--server-cert",
            &fp,
            "--code",
            code.trim(),
            "--accept",
            "view,control",
            "--data",
            &agent_data,
        ],
        &[("DISPLAY", &display)],
    )?;
    console.wait_for_stdout("path: ", Duration::from_secs(60))?;
    eprintln!("demo: connected; watching for 10 s");
    std::thread::sleep(Duration::from_secs(10));
    let status = Command::new("import")
        .args(["-display", &console_display, "-window", "root"])
        .arg(format!("PNG24:{}", snapshot.display()))
        .status()
        .context("running import")?;
    if !status.success() {
        anyhow::bail!("could not take the console screenshot");
    }
    console.kill();
    let _ = agent.wait_exit(Duration::from_secs(20));
    drop(server);
    eprintln!("demo: code {code}; console screenshot saved to {}", snapshot.display());
    println!("{}", snapshot.display());
    Ok(())
}
