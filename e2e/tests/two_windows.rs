//! Both real windows on two X displays, driven like people drive them: the
//! customer types the code into the agent window and clicks Allow; the
//! technician clicks and types in the console's picture of the customer's
//! screen, and it lands there. Screenshots of every step are kept when
//! `TETHER_SCREENSHOTS` is set.

use std::time::{Duration, Instant};

use tether_e2e::desk::{self, capture_window, click_in, wait_for_no_pixels, wait_for_pixels, xdotool};
use tether_e2e::image::capture_display;
use tether_e2e::{
    PASSWORD, STEP, Scene, Xvfb, agent_window_with, console_window, keep_screenshot, read_code,
};

/// The customer's desktop colour, `#2a7ab0`, found in the console's picture.
const DESKTOP: [u8; 3] = [0x2a, 0x7a, 0xb0];
/// Where the test clicks on the customer's screen: inside the xterm.
const TARGET: (u32, u32) = (800, 600);

/// The green of the Allow button.
fn allow_green([r, g, b]: [u8; 3]) -> bool {
    g > r.saturating_add(50) && g > b.saturating_add(10)
}

/// The red of an error message.
fn danger_red([r, g, b]: [u8; 3]) -> bool {
    r > g.saturating_add(80) && r > b.saturating_add(80)
}

#[test]
fn customer_and_technician_windows_work_together() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let customer = scene.x.display.clone();
    scene.x_client("xsetroot", &["-solid", "#2a7ab0"])?.wait_exit(STEP)?;
    let typed = scene.path("typed.txt");
    let shell = format!("IFS= read -r line; printf '%s' \"$line\" > {}; exec sleep 600", typed.display());
    let _xterm = scene.x_client("xterm", &["-geometry", "80x24+600+460", "-e", "sh", "-c", &shell])?;
    scene.wait_window("xterm")?;

    // The technician logs in and makes a code.
    let tech_x = Xvfb::start("1280x800x24")?;
    let tech = tech_x.display.clone();
    let data = scene.path("console");
    let console = console_window(&scene.server, &tech, &data, Some(PASSWORD), &["--new-code"])?;
    let code = read_code(&console)?;
    let console_id = desk::wait_window_named(&tech, "Tether console", STEP)?;
    std::thread::sleep(Duration::from_millis(500));
    shot_window(&scene, &tech, &console_id, "console-dashboard.png")?;

    // The customer opens the agent and types the code.
    // The exit survey is answered in advance (its window is unit-tested).
    let mut agent =
        agent_window_with(&scene.server, &customer, &scene.path("agent"), &["--survey", "5:Great"])?;
    let agent_id = desk::wait_window_named(&customer, "Tether: remote support", STEP)?;
    xdotool(&customer, &["mousemove", "--window", &agent_id, "280", "60"])?;
    desk::focus(&customer, &agent_id)?;
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&customer, &["type", "--delay", "40", &code])?;
    std::thread::sleep(Duration::from_millis(300));
    shot_window(&scene, &customer, &agent_id, "agent-code.png")?;
    xdotool(&customer, &["key", "Return"])?;

    // Allow viewing.
    let work = scene.path("agent-window.png");
    let (allow, _) = wait_for_pixels(&customer, &agent_id, &work, STEP, allow_green)?;
    keep_screenshot(&work, "agent-consent-view.png")?;
    click_in(&customer, &agent_id, allow.centre())?;
    wait_for_no_pixels(&customer, &agent_id, &work, STEP, allow_green)?;
    console.wait_for_stdout("consent: view=true control=false", STEP)?;

    // The console shows the customer's screen; find where it draws it.
    let picture = wait_for_picture(&scene, &tech)?;
    desk::focus(&tech, &console_id)?;
    shot_window(&scene, &tech, &console_id, "console-session.png")?;

    // Ask for control from the keyboard; the customer allows it.
    xdotool(&tech, &["mousemove", "--window", &console_id, "640", "400"])?;
    xdotool(&tech, &["key", "ctrl+alt+shift+r"])?;
    let (allow, _) = wait_for_pixels(&customer, &agent_id, &work, STEP, allow_green)?;
    keep_screenshot(&work, "agent-consent-control.png")?;
    click_in(&customer, &agent_id, allow.centre())?;
    console.wait_for_stdout("consent: view=true control=true", STEP)?;

    // Click on the xterm in the console's picture: the customer's pointer
    // moves there. Then type: the text lands in the xterm's shell. (No
    // window manager runs here; the keyboard follows the pointer, as it
    // would under one that focuses on click.)
    desk::focus_follows_pointer(&customer)?;
    // Where the picture is now: the console's layout is meant to stay put
    // when control is granted, and this measures it again rather than trust it.
    let moved = wait_for_picture(&scene, &tech)?;
    assert!(
        moved.x0.abs_diff(picture.x0) <= 1 && moved.y0.abs_diff(picture.y0) <= 1,
        "the picture moved when control was granted: {picture:?} -> {moved:?}"
    );
    let picture = moved;
    let (w, h) = (1280.0, 800.0);
    let sx = f64::from(picture.x1 - picture.x0 + 1) / w;
    let sy = f64::from(picture.y1 - picture.y0 + 1) / h;
    let cx = f64::from(picture.x0) + (f64::from(TARGET.0) + 0.5) * sx;
    let cy = f64::from(picture.y0) + (f64::from(TARGET.1) + 0.5) * sy;
    xdotool(&tech, &["mousemove", &format!("{}", cx as u32), &format!("{}", cy as u32)])?;
    std::thread::sleep(Duration::from_millis(200));
    xdotool(&tech, &["click", "1"])?;
    let (px, py) = wait_for_pointer(&scene, TARGET)?;
    assert!(px.abs_diff(TARGET.0) <= 2 && py.abs_diff(TARGET.1) <= 2, "pointer at {px},{py}, not {TARGET:?}");
    xdotool(&tech, &["type", "--delay", "30", "hello from the console"])?;
    xdotool(&tech, &["key", "Return"])?;
    let start = Instant::now();
    while !typed.exists() && start.elapsed() < STEP {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&typed)?, "hello from the console");

    // Chat both ways: the technician jumps to the chat from the keyboard,
    // the customer answers in the agent window.
    xdotool(&tech, &["key", "ctrl+alt+shift+t"])?;
    // The focus moves on the next frame; people are slower than that.
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&tech, &["type", "--delay", "20", "Your printer queue is cleared."])?;
    xdotool(&tech, &["key", "Return", "Escape"])?;
    agent.wait_for_stdout("technician: Your printer queue is cleared.", STEP)?;
    xdotool(&customer, &["mousemove", "--window", &agent_id, "280", "300"])?;
    desk::focus(&customer, &agent_id)?;
    std::thread::sleep(Duration::from_millis(200));
    xdotool(&customer, &["type", "--delay", "30", "Thank you!"])?;
    xdotool(&customer, &["key", "Return"])?;
    console.wait_for_stdout("customer: Thank you!", STEP)?;
    std::thread::sleep(Duration::from_millis(1500));
    shot_window(&scene, &customer, &agent_id, "agent-banner-and-chat.png")?;
    shot_window(&scene, &tech, &console_id, "console-control-and-chat.png")?;
    keep_screenshot(&capture_path(&scene, "customer-desktop.png", &customer)?, "customer-desktop.png")?;

    // End from the keyboard; the agent says so, then closes by itself.
    xdotool(&tech, &["mousemove", "--window", &console_id, "640", "400"])?;
    xdotool(&tech, &["key", "ctrl+alt+shift+e"])?;
    agent.wait_for_stdout("session ended", STEP)?;
    std::thread::sleep(Duration::from_millis(800));
    shot_window(&scene, &customer, &agent_id, "agent-ended.png")?;
    assert!(agent.wait_exit(STEP)?.success(), "agent:\n{}", agent.all_output());
    drop(console);

    // Logging in again shows the session from the server's records.
    let again = console_window(&scene.server, &tech, &data, Some(PASSWORD), &[])?;
    let line = again.wait_for_stdout("recent: ", STEP)?;
    // Which candidate pair ICE picks on one machine varies (host or
    // server-reflexive at either end); the path is direct either way.
    assert!(line.contains(" · direct (") && line.ends_with(") · ended"), "{line}");
    let again_id = desk::wait_window_named(&tech, "Tether console", STEP)?;
    std::thread::sleep(Duration::from_millis(500));
    shot_window(&scene, &tech, &again_id, "console-dashboard-after.png")?;
    drop(again);

    // The login screen: a wrong password shows a plain error in red.
    let login = console_window(&scene.server, &tech, &data, None, &[])?;
    let login_id = desk::wait_window_named(&tech, "Tether console", STEP)?;
    xdotool(&tech, &["mousemove", "--window", &login_id, "10", "10"])?;
    desk::focus(&tech, &login_id)?;
    std::thread::sleep(Duration::from_millis(500));
    xdotool(&tech, &["type", "--delay", "30", "not the password"])?;
    xdotool(&tech, &["key", "Return"])?;
    wait_for_pixels(&tech, &login_id, &scene.path("login.png"), STEP, danger_red)?;
    keep_screenshot(&scene.path("login.png"), "console-login-error.png")?;
    drop(login);

    // At 2× the same screen is twice the size.
    let big = Xvfb::start("2560x1600x24")?;
    let _scaled = console_window(&scene.server, &big.display, &data, None, &["--scale", "2"])?;
    let scaled_id = desk::wait_window_named(&big.display, "Tether console", STEP)?;
    std::thread::sleep(Duration::from_millis(800));
    let img = capture_window(&big.display, &scaled_id, &scene.path("login-2x.png"))?;
    assert_eq!((img.width, img.height), (2560, 1600), "the 2× window is twice the size");
    keep_screenshot(&scene.path("login-2x.png"), "console-login-2x.png")?;
    Ok(())
}

fn shot_window(scene: &Scene, display: &str, window: &str, name: &str) -> anyhow::Result<()> {
    let path = scene.path(name);
    capture_window(display, window, &path)?;
    keep_screenshot(&path, name)
}

fn capture_path(scene: &Scene, name: &str, display: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = scene.path(name);
    capture_display(display, &path)?;
    Ok(path)
}

/// Waits until the console draws the customer's desktop, and returns where.
fn wait_for_picture(scene: &Scene, display: &str) -> anyhow::Result<desk::Rect> {
    let start = Instant::now();
    let path = scene.path("console-display.png");
    loop {
        let img = capture_display(display, &path)?;
        if let Some(r) = desk::bounding_box(&img, 10_000, |p| p == DESKTOP) {
            // The whole 1280×800 picture, scaled, with the 16:10 shape kept.
            let (w, h) = (r.x1 - r.x0 + 1, r.y1 - r.y0 + 1);
            if w > 600 && (f64::from(w) / f64::from(h) - 1.6).abs() < 0.02 {
                return Ok(r);
            }
        }
        if start.elapsed() > STEP {
            anyhow::bail!("the console never showed the customer's desktop: {}", path.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_for_pointer(scene: &Scene, want: (u32, u32)) -> anyhow::Result<(u32, u32)> {
    let start = Instant::now();
    loop {
        let at = scene.pointer()?;
        if (at.0.abs_diff(want.0) <= 2 && at.1.abs_diff(want.1) <= 2) || start.elapsed() > STEP {
            return Ok(at);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
