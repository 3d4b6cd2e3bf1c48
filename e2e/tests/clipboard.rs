//! The clipboard between the real programs on a real X display: the
//! technician's text lands in the customer's clipboard, the customer's copy
//! reaches the technician, and with sharing off neither happens.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tether_e2e::{STEP, Scene, read_code};

/// The customer's clipboard text, read with xclip.
fn clipboard(display: &str) -> anyhow::Result<String> {
    let out =
        Command::new("xclip").args(["-o", "-selection", "clipboard"]).env("DISPLAY", display).output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The customer copies `text` (xclip stays in the background to own it).
fn copy(display: &str, text: &str) -> anyhow::Result<()> {
    let mut child = Command::new("xclip")
        .args(["-selection", "clipboard", "-loops", "20"])
        .env("DISPLAY", display)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("running xclip")?;
    std::io::Write::write_all(child.stdin.as_mut().context("xclip stdin")?, text.as_bytes())?;
    drop(child.stdin.take());
    std::thread::spawn(move || child.wait());
    Ok(())
}

fn wait_for_clipboard(display: &str, want: &str) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if clipboard(display)? == want {
            return Ok(());
        }
        if start.elapsed() > STEP {
            bail!("the customer's clipboard never became {want:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn text_goes_both_ways_and_stays_home_when_switched_off() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let display = scene.x.display.clone();
    // Copied before the session: never sent.
    copy(&display, "private from before")?;
    std::thread::sleep(Duration::from_millis(300));
    let mut console = scene
        .console("wait-frame\nclipboard from the technician ✓\nwait-clipboard from the customer\nend\n")?;
    let code = read_code(&console)?;
    let mut agent = scene.agent_env(&code, "view", &[], &[])?;
    wait_for_clipboard(&display, "from the technician ✓")?;
    copy(&display, "from the customer")?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    agent.wait_exit(STEP)?;
    assert!(!console.all_output().contains("private from before"), "an old copy was sent");

    copy(&display, "kept home")?;
    let mut console = scene.console("wait-frame\nclipboard not wanted\nwait 1500\nend\n")?;
    let code = read_code(&console)?;
    let mut agent = scene.agent_env(&code, "view", &["--clipboard", "none"], &[])?;
    std::thread::sleep(Duration::from_millis(800));
    copy(&display, "still home")?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    agent.wait_exit(STEP)?;
    assert_eq!(clipboard(&display)?, "still home");
    assert!(!console.all_output().contains("clipboard: text from the customer"), "{}", console.all_output());
    agent.wait_for_stderr("the customer switched that off", Duration::from_secs(1))?;
    Ok(())
}
