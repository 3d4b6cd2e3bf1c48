//! The console window on a real X display shows the customer's screen.

use std::time::Duration;

use tether_e2e::image::capture_display;
use tether_e2e::{PASSWORD, Proc, STEP, Scene, Xvfb, bin, read_code};

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
