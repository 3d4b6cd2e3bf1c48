//! Three-way sessions on loopback: the owner invites an outside expert, who
//! joins with the invite code (no account), proves its secret to the
//! owner, is vouched for to the agent and connects straight to it. The
//! expert sees the customer's screen pixel for pixel; their input runs only
//! while the owner has passed them control; a wrong invite secret burns
//! the invite and the owner is told.

use std::time::Duration;

use tether_e2e::desk::{self, click_in, wait_for_pixels, xdotool};
use tether_e2e::image::{capture_display, differing_pixels, read_png};
use tether_e2e::{Proc, STEP, Scene, agent_window, bin, keep_screenshot, read_code};

/// An expert's console joining `code` with `script`.
fn expert(scene: &Scene, code: &str, script: &str) -> anyhow::Result<Proc> {
    let file = scene.path("expert-script.txt");
    std::fs::write(&file, script)?;
    let data = scene.path("expert").display().to_string();
    let (server, cert, file) = (&scene.server.addr, &scene.server.fingerprint, file.display().to_string());
    let args = [
        "--headless",
        "--join",
        code,
        "--server",
        server,
        "--server-cert",
        cert,
        "--data",
        &data,
        "--script",
        &file,
    ];
    Proc::spawn("expert", bin("tether-console")?, &args, &[])
}

fn invite_code(owner: &Proc) -> anyhow::Result<String> {
    Ok(owner.wait_for_stdout("invite: ", STEP)?.trim_start_matches("invite: ").trim().to_owned())
}

#[test]
fn an_invited_expert_sees_the_screen_pixel_exact_and_cannot_control() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let _xterm = scene.x_client(
        "xterm",
        &[
            "-geometry",
            "80x24+40+50",
            "-e",
            "sh",
            "-c",
            "printf 'Three-way test: 0123456789\\n'; exec sleep 600",
        ],
    )?;
    scene.wait_window("xterm")?;
    std::thread::sleep(Duration::from_millis(500));
    let mut owner = scene.console("wait-frame\ninvite\nwait 15000\nend\n")?;
    let code = read_code(&owner)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    let invite = invite_code(&owner)?;
    assert_ne!(invite, code, "the invite is a code of its own");

    let snap = scene.path("expert.png");
    let script = format!(
        "wait-idle 800\nsnapshot {}\nmove 17 23\nclick left\ntype nope\nwait 500\nend\n",
        snap.display()
    );
    let mut expert = expert(&scene, &invite, &script)?;
    assert!(expert.wait_exit(STEP)?.success(), "expert failed:\n{}", expert.all_output());
    owner.wait_for_stdout("expert 1: vouched for", Duration::from_secs(1))?;
    agent.wait_for_stdout("vouched: Expert 1 (expert 1)", Duration::from_secs(1))?;
    agent.wait_for_stdout("expert: Expert 1 connected (direct", Duration::from_secs(1))?;

    // Pixel for pixel what the customer's display shows.
    let theirs = read_png(&snap)?;
    let reference = capture_display(&scene.x.display, &scene.path("reference.png"))?;
    assert_eq!(differing_pixels(&theirs, &reference)?, 0, "the expert's picture differs from the display");
    // Their input went nowhere: dropped and logged by the agent.
    agent.wait_for_stderr(
        "dropped input from expert 1 (pointer move): control is not granted",
        Duration::from_secs(5),
    )?;
    agent.wait_for_stderr("dropped input from expert 1 (text)", Duration::from_secs(1))?;
    agent.wait_for_stdout("expert: Expert 1 left", Duration::from_secs(5))?;

    assert!(owner.wait_exit(STEP)?.success(), "owner failed:\n{}", owner.all_output());
    agent.wait_exit(STEP)?;
    Ok(())
}

#[test]
fn control_passes_to_the_expert_and_back() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    // The owner passes control once the expert is vouched for, gives them
    // four seconds, takes it back and stays three more.
    let owner_script = "wait-control\nwait-frame\ninvite\nwait-expert\npass-control 1\nwait 4000\ntake-control\nwait 3000\nend\n";
    let mut owner = scene.console(owner_script)?;
    let code = read_code(&owner)?;
    let mut agent = scene.agent(&code, Some("view,control"))?;
    let invite = invite_code(&owner)?;
    // The expert clicks while they drive, and moves again after control
    // went back to the owner.
    let script = "wait-control\nmove 321 234\nclick left\nwait 5500\nmove 11 12\nwait 500\nend\n";
    let mut expert = expert(&scene, &invite, script)?;
    assert!(expert.wait_exit(STEP)?.success(), "expert failed:\n{}", expert.all_output());
    agent.wait_for_stdout("driver: expert 1", Duration::from_secs(1))?;
    agent.wait_for_stdout("driver: the technician", Duration::from_secs(1))?;
    assert_eq!(scene.pointer()?, (321, 234), "the expert's move did not land, or their late one did");
    agent.wait_for_stderr(
        "dropped input from expert 1 (pointer move): someone else drives",
        Duration::from_secs(2),
    )?;
    assert!(owner.wait_exit(STEP)?.success(), "owner failed:\n{}", owner.all_output());
    agent.wait_exit(STEP)?;
    Ok(())
}

#[test]
fn a_wrong_invite_secret_burns_the_invite_and_the_owner_is_told() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let mut owner = scene.console("wait-frame\ninvite\nwait 6000\nend\n")?;
    let code = read_code(&owner)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    let invite = invite_code(&owner)?;
    // Same nameplate, another secret.
    let (plate, secret) = invite.split_once('-').unwrap_or_default();
    let last = secret.chars().last().and_then(|c| c.to_digit(10)).unwrap_or(0);
    let wrong = format!("{plate}-{}{}", &secret[..secret.len() - 1], (last + 1) % 10);
    let mut intruder = expert(&scene, &wrong, "wait-frame\nend\n")?;
    assert!(!intruder.wait_exit(STEP)?.success(), "an expert with a wrong secret got in");
    intruder.wait_for_stderr("That invite code is not right", Duration::from_secs(1))?;
    owner.wait_for_stdout("invite burned: expert 1 typed a wrong secret", Duration::from_secs(5))?;
    // Used up: the right code does not work either now.
    let mut again = expert(&scene, &invite, "wait-frame\nend\n")?;
    assert!(!again.wait_exit(STEP)?.success(), "a burned invite was used");
    again.wait_for_stderr("already used", Duration::from_secs(1))?;
    assert!(agent.all_output().lines().all(|l| !l.starts_with("vouched:")), "the agent admitted someone");
    assert!(owner.wait_exit(STEP)?.success(), "owner failed:\n{}", owner.all_output());
    agent.wait_exit(STEP)?;
    Ok(())
}

/// The green of the Allow button.
fn allow_green([r, g, b]: [u8; 3]) -> bool {
    g > r.saturating_add(50) && g > b.saturating_add(10)
}

/// The amber of the banner's Remove button.
fn remove_amber([r, g, b]: [u8; 3]) -> bool {
    r >= 150 && r > g.saturating_add(30) && g > b.saturating_add(30)
}

#[test]
fn the_customer_removes_the_expert_and_their_connection_closes_within_a_second() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let customer = scene.x.display.clone();
    let mut owner = scene.console("wait-frame\ninvite\nwait-expert\nwait 20000\nend\n")?;
    let code = read_code(&owner)?;
    // The customer types the code into the agent's window and allows viewing.
    let mut agent = agent_window(&scene.server, &customer, &scene.path("agent"))?;
    let window = desk::wait_window_named(&customer, "Tether: remote support", STEP)?;
    xdotool(&customer, &["mousemove", "--window", &window, "280", "60"])?;
    desk::focus(&customer, &window)?;
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&customer, &["type", "--delay", "40", &code])?;
    xdotool(&customer, &["key", "Return"])?;
    let work = scene.path("agent-window.png");
    let (allow, _) = wait_for_pixels(&customer, &window, &work, STEP, allow_green)?;
    click_in(&customer, &window, allow.centre())?;

    let invite = invite_code(&owner)?;
    let mut expert = expert(&scene, &invite, "wait-frame\nwait 20000\nend\n")?;
    expert.wait_for_stdout("first frame", STEP)?;
    // The owner asked for control too: Deny, just right of Allow.
    let (allow, _) = wait_for_pixels(&customer, &window, &work, STEP, allow_green)?;
    click_in(&customer, &window, (allow.x1 + 40, allow.centre().1))?;
    // The banner names the expert, with Remove.
    let (remove, _) = wait_for_pixels(&customer, &window, &work, STEP, remove_amber)?;
    keep_screenshot(&work, "agent-banner-with-expert.png")?;
    let closed = "session: the connection to the customer closed";
    assert!(!expert.all_output().contains(closed), "the expert left early:\n{}", expert.all_output());
    // From before xdotool clicks, so the figure includes the click itself.
    let clicked = std::time::Instant::now();
    click_in(&customer, &window, remove.centre())?;
    expert.wait_for_stdout(closed, STEP)?;
    let took = clicked.elapsed();
    println!("removal: the expert's connection closed {} ms after the click", took.as_millis());
    assert!(took < Duration::from_secs(1), "the expert was still connected after {took:?}");
    agent.wait_for_stdout("expert: Expert 1 removed by the customer", Duration::from_secs(1))?;
    expert.wait_exit(STEP)?;
    // The owner's session goes on.
    assert!(owner.try_status()?.is_none(), "the owner's session ended:\n{}", owner.all_output());
    owner.kill();
    agent.kill();
    Ok(())
}
