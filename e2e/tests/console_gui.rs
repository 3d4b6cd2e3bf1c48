//! The console window on a real X display shows the customer's screen.

use std::time::Duration;

use tether_e2e::desk::{self, xdotool};
use tether_e2e::image::capture_display;
use tether_e2e::{PASSWORD, Proc, STEP, Scene, Xvfb, agent, bin, console_window, read_code};

/// The customer's desktop colour: distinctive, so it can be found in the
/// console's window.
const DESKTOP: [u8; 3] = [0x2a, 0x7a, 0xb0];

#[test]
fn the_window_shows_the_customers_screen() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let mut root = scene.x_client("xsetroot", &["-solid", "#2a7ab0"])?;
    root.wait_exit(STEP)?;
    let console_x = Xvfb::start("1280x800x24")?;
    let console = Proc::spawn_with_stdin(
        "console-gui",
        bin("tether-console")?,
        &[
            "--server",
            &scene.server.addr,
            "--server-cert",
            &scene.server.fingerprint,
            "--user",
            "alice",
            "--password-stdin",
            "--new-code",
            "--data",
            &scene.path("console").display().to_string(),
        ],
        &[("DISPLAY", &console_x.display)],
        &format!("{PASSWORD}\n"),
    )?;
    let code = read_code(&console)?;
    let _agent = scene.agent(&code, Some("view"))?;
    console.wait_for_stdout("path: direct", STEP)?;
    console.wait_for_stdout("stats: ", STEP)?;
    std::thread::sleep(Duration::from_millis(1500));

    let shot = capture_display(&console_x.display, &scene.path("console.png"))?;
    let total = (shot.width * shot.height) as usize;
    let desktop = shot.pixels.chunks_exact(3).filter(|p| *p == DESKTOP).count();
    // The 1280×800 remote screen, scaled to fit under the status bar, covers
    // most of the window.
    assert!(desktop * 2 > total, "only {desktop} of {total} pixels show the customer's desktop");
    Ok(())
}

#[test]
fn one_technician_runs_two_sessions_at_once() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let second_x = Xvfb::start("1024x768x24")?;
    let tech_x = Xvfb::start("1280x800x24")?;
    let tech = tech_x.display.clone();
    let console =
        console_window(&scene.server, &tech, &scene.path("console"), Some(PASSWORD), &["--new-code"])?;
    let window = desk::wait_window_named(&tech, "Tether console", STEP)?;
    desk::focus(&tech, &window)?;
    let first = read_code(&console)?;
    let mut one = scene.agent(&first, Some("view"))?;
    console.wait_for_stdout("consent: view=true", STEP)?;

    // Back to the dashboard (the first session goes on) and a second code.
    xdotool(&tech, &["key", "ctrl+alt+shift+d"])?;
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&tech, &["key", "ctrl+n"])?;
    let second =
        console.wait_for_nth_stdout("code: ", 1, STEP)?.trim_start_matches("code: ").trim().to_owned();
    assert_ne!(first, second);
    let mut two = agent(&scene.server, &second_x.display, &second, Some("view"), &scene.path("agent-2"))?;
    console.wait_for_nth_stdout("consent: view=true", 1, STEP)?;
    // Both customers' screens arrive: two streams of stats lines, and both
    // agents still connected.
    std::thread::sleep(Duration::from_secs(2));
    assert!(one.try_status()?.is_none(), "the first session must go on:\n{}", one.all_output());

    // Ending the shown (second) session leaves the first one running.
    xdotool(&tech, &["key", "ctrl+alt+shift+e"])?;
    assert!(two.wait_exit(STEP)?.success(), "{}", two.all_output());
    std::thread::sleep(Duration::from_secs(1));
    assert!(one.try_status()?.is_none(), "the first session must still go on:\n{}", one.all_output());
    Ok(())
}
