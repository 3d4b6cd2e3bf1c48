//! A real session on a real X display: pixel-exact frames (also while text
//! scrolls, sent as copies), the customer's pointer and its shape, a switch
//! to another monitor, input that lands, and input that is dropped without
//! control consent.

use std::time::{Duration, Instant};

use tether_e2e::image::{capture_display, differing_pixels, read_png};
use tether_e2e::{STEP, Scene, read_code};

#[test]
fn console_snapshot_equals_an_independent_capture() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let _xterm = scene.x_client(
        "xterm",
        &[
            "-geometry",
            "80x24+20+30",
            "-e",
            "sh",
            "-c",
            "printf 'Tether pixel test: 0123456789 ABC xyz\\n'; exec sleep 600",
        ],
    )?;
    scene.wait_window("xterm")?;
    std::thread::sleep(Duration::from_millis(500));
    let snap = scene.path("snap.png");
    let mut console =
        scene.console(&format!("expect-path direct\nwait-idle 800\nsnapshot {}\nend\n", snap.display()))?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    assert!(agent.wait_exit(STEP)?.success(), "agent failed:\n{}", agent.all_output());

    let ours = read_png(&snap)?;
    let reference = capture_display(&scene.x.display, &scene.path("reference.png"))?;
    assert_eq!((ours.width, ours.height), (1280, 800));
    assert_eq!(differing_pixels(&ours, &reference)?, 0, "the console's picture differs from the display");
    // The picture is not trivially blank: the xterm and its text are there.
    let distinct: std::collections::HashSet<&[u8]> = ours.pixels.chunks_exact(3).collect();
    assert!(distinct.len() >= 2, "snapshot has only {} colour(s)", distinct.len());
    Ok(())
}

#[test]
fn scrolling_output_is_pixel_exact_and_goes_as_copies() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let go = scene.path("go");
    // Once told to, the terminal prints 300 numbered lines, scrolling.
    let shell = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; i=0; while [ $i -lt 300 ]; do \
         echo \"line $i: remote support scrolls by as copies, not tiles\"; i=$((i+1)); sleep 0.01; done; \
         exec sleep 600",
        go.display()
    );
    let _xterm = scene.x_client("xterm", &["-geometry", "90x40+40+30", "-e", "sh", "-c", &shell])?;
    scene.wait_window("xterm")?;
    let snap = scene.path("snap.png");
    let mut console = scene.console(&format!(
        "expect-path direct\nwait-frame\nwait 2500\nwait-idle 1000\nsnapshot {}\nend\n",
        snap.display()
    ))?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    console.wait_for_stdout("first frame: ", STEP)?;
    std::fs::write(&go, "")?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    assert!(agent.wait_exit(STEP)?.success(), "agent failed:\n{}", agent.all_output());

    let reference = capture_display(&scene.x.display, &scene.path("reference.png"))?;
    assert_eq!(differing_pixels(&read_png(&snap)?, &reference)?, 0, "not pixel-exact after scrolling");
    let out = console.all_output();
    let copies = out
        .lines()
        .filter_map(|l| l.split(" copies=").nth(1)?.split_whitespace().next()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    assert!(copies > 0, "no scroll went as a copy:\n{out}");
    Ok(())
}

#[test]
fn the_customers_pointer_reaches_the_console_with_its_shape() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let mut console = scene.console("expect-path direct\nwait-frame\nwait-cursor 321 234\nend\n")?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    console.wait_for_stdout("first frame: ", STEP)?;
    // The customer moves their own mouse; the technician only watches.
    tether_e2e::desk::xdotool(&scene.x.display, &["mousemove", "321", "234"])?;
    let line = console.wait_for_stdout("cursor: ", STEP)?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    assert!(agent.wait_exit(STEP)?.success(), "agent failed:\n{}", agent.all_output());
    let (w, h) = line
        .rsplit(' ')
        .next()
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .unwrap_or_default();
    assert!(line.starts_with("cursor: 321 234 shape ") && w > 0 && h > 0, "{line}");
    Ok(())
}

#[test]
fn the_technician_switches_to_another_monitor() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    // Two monitors side by side on the 1280×800 display, as RandR sees a
    // dual-head desktop.
    for (name, geometry) in [("LEFT", "640/170x800/210+0+0"), ("RIGHT", "640/170x800/210+640+0")] {
        scene.x_client("xrandr", &["--setmonitor", name, geometry, "none"])?.wait_exit(STEP)?;
    }
    let _xterm = scene.x_client(
        "xterm",
        &["-geometry", "40x10+700+100", "-e", "sh", "-c", "printf 'on the right monitor\\n'; exec sleep 600"],
    )?;
    scene.wait_window("xterm")?;
    let snap = scene.path("right.png");
    let script = format!(
        "wait-control\nwait-frame\nmonitor RIGHT\nwait 300\nwait-idle 800\nsnapshot {}\nmove 100 50\nwait 400\nend\n",
        snap.display()
    );
    let mut console = scene.console(&script)?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view,control"))?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    assert!(agent.wait_exit(STEP)?.success(), "agent failed:\n{}", agent.all_output());

    let out = console.all_output();
    assert!(out.contains(" LEFT 640x800+0+0") && out.contains(" RIGHT 640x800+640+0"), "{out}");
    let ours = read_png(&snap)?;
    let right = capture_display(&scene.x.display, &scene.path("reference.png"))?.crop(640, 0, 640, 800);
    assert_eq!(differing_pixels(&ours, &right)?, 0, "the picture is not the right monitor");
    // The technician's pointer lands on the right monitor's pixels.
    assert_eq!(scene.pointer()?, (740, 50));
    Ok(())
}

#[test]
fn scripted_pointer_and_typing_land_on_the_customer_display() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let out = scene.path("typed.txt");
    let shell = format!("IFS= read -r line; printf '%s' \"$line\" > {}; exec sleep 600", out.display());
    let _xterm = scene.x_client("xterm", &["-geometry", "80x24+0+0", "-e", "sh", "-c", &shell])?;
    scene.wait_window("xterm")?;
    let script =
        "wait-control\nmove 200 150\nclick left\nwait 300\ntype héllo tether ✓\nkey Return\nwait 800\nend\n";
    let mut console = scene.console(script)?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view,control"))?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    agent.wait_exit(STEP)?;

    assert_eq!(scene.pointer()?, (200, 150));
    let start = Instant::now();
    while !out.exists() && start.elapsed() < STEP {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&out)?, "héllo tether ✓");
    Ok(())
}

#[test]
fn without_control_consent_input_is_dropped_and_logged() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let before = scene.pointer()?;
    let mut console = scene.console("wait-idle 300\nmove 17 23\nclick left\ntype nope\nwait 800\nend\n")?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    agent.wait_exit(STEP)?;
    assert_eq!(scene.pointer()?, before, "the pointer moved without control consent");
    agent.wait_for_stderr("dropped input from the technician (pointer move)", Duration::from_secs(1))?;
    agent.wait_for_stderr("dropped input from the technician (text)", Duration::from_secs(1))?;
    Ok(())
}

#[test]
fn a_customer_who_declines_shares_nothing() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let snap = scene.path("never.png");
    let mut console = scene.console(&format!("snapshot {}\nend\n", snap.display()))?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("none"))?;
    assert!(agent.wait_exit(STEP)?.success(), "agent failed:\n{}", agent.all_output());
    agent.wait_for_stdout("You declined; nothing was shared.", STEP)?;
    console.wait_for_stdout("the customer ended the session: The customer declined", STEP)?;
    assert!(!console.wait_exit(STEP)?.success(), "the script went on without a screen");
    assert!(!snap.exists(), "a snapshot was written without consent to view");
    Ok(())
}

#[test]
fn chat_lines_are_delivered_with_a_receipt() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let mut console = scene.console("wait-frame\nchat is the printer on?\nwait 1500\nend\n")?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    agent.wait_exit(STEP)?;
    agent.wait_for_stdout("technician: is the printer on?", Duration::from_secs(1))?;
    let line = console.wait_for_stdout("chat: delivered #1 in ", Duration::from_secs(1))?;
    let ms: f64 = line.trim_start_matches("chat: delivered #1 in ").trim_end_matches(" ms").parse()?;
    assert!(ms > 0.0, "{line}");
    Ok(())
}
