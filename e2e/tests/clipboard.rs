//! The clipboard between the real programs on real X displays: the
//! technician's text lands in the customer's clipboard, the customer's copy
//! reaches the technician, with sharing off neither happens, and the
//! console window shares the technician's own clipboard, images included.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tether_e2e::{PASSWORD, STEP, Scene, Xvfb, console_window, read_code};

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

/// The PNG on `display`'s clipboard, once there is one, as (width, height,
/// RGBA).
fn wait_for_image(display: &str) -> anyhow::Result<(u32, u32, Vec<u8>)> {
    let start = Instant::now();
    loop {
        let out = Command::new("xclip")
            .args(["-o", "-selection", "clipboard", "-t", "image/png"])
            .env("DISPLAY", display)
            .stderr(Stdio::null())
            .output()?;
        if out.status.success() && out.stdout.starts_with(b"\x89PNG") {
            let mut reader = png::Decoder::new(std::io::Cursor::new(out.stdout)).read_info()?;
            let mut rgba = vec![0; reader.output_buffer_size()];
            let info = reader.next_frame(&mut rgba)?;
            anyhow::ensure!(info.color_type == png::ColorType::Rgba, "not RGBA: {:?}", info.color_type);
            rgba.truncate(info.buffer_size());
            return Ok((info.width, info.height, rgba));
        }
        if start.elapsed() > STEP {
            bail!("no image reached the clipboard of {display}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_console_window_shares_the_technicians_clipboard_with_images() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let customer = scene.x.display.clone();
    let tech_x = Xvfb::start("1280x800x24")?;
    let tech = tech_x.display.clone();
    let console =
        console_window(&scene.server, &tech, &scene.path("console"), Some(PASSWORD), &["--new-code"])?;
    let code = read_code(&console)?;
    let _agent = scene.agent_env(&code, "view", &[], &[])?;
    console.wait_for_stdout("stats: ", STEP)?;

    // The technician copies in their own desktop; the customer can paste it.
    copy(&tech, "copied on the technician's desktop")?;
    wait_for_clipboard(&customer, "copied on the technician's desktop")?;
    // The customer copies text; the technician can paste it.
    copy(&customer, "copied on the customer's desktop")?;
    wait_for_clipboard(&tech, "copied on the customer's desktop")?;

    // The customer copies a picture; it reaches the technician's clipboard
    // pixel for pixel.
    let (w, h) = (37u32, 23u32);
    let rgba: Vec<u8> =
        (0..w * h).flat_map(|i| [(i * 7) as u8, (i / w * 11) as u8, (i % w * 5) as u8, 255]).collect();
    let file = scene.path("picture.png");
    let mut encoder = png::Encoder::new(std::fs::File::create(&file)?, w, h);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&rgba)?;
    let mut owner = Command::new("xclip")
        .args(["-selection", "clipboard", "-t", "image/png", "-i"])
        .arg(&file)
        .env("DISPLAY", &customer)
        .spawn()
        .context("running xclip")?;
    let got = wait_for_image(&tech).with_context(|| console.all_output());
    let _ = owner.kill();
    let _ = owner.wait();
    assert_eq!(got?, (w, h, rgba), "the picture changed on the way");
    console.wait_for_stdout("clipboard: applied the customer's 37×23 image", Duration::from_secs(1))?;
    Ok(())
}
