//! Sessions through real NATs in the lab (network namespaces, nftables):
//! cone NATs on both sides connect directly, symmetric NATs through the
//! embedded relay or an external coturn, and the frames stay pixel-exact,
//! also on a slow, lossy line from the link emulator. Needs root, as CI has.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tether_e2e::image::{capture_display, differing_pixels, read_png};
use tether_e2e::lab::{self, CUSTOMER_NAT_IP, Host, Lab, Nat, SERVER_IP};
use tether_e2e::movie::{Movie, Reel};
use tether_e2e::{Proc, Rendezvous, STEP, Xvfb, agent_in, console_in, read_code};

/// One lab at a time: ICE's choice between a direct pair and the relay is a
/// race against a 1 s clock, and two labs with their link emulators on two
/// cores would be testing the machine's load instead.
static ONE_LAB: Mutex<()> = Mutex::new(());

fn one_lab() -> MutexGuard<'static, ()> {
    ONE_LAB.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The server on the public segment, with its embedded STUN/TURN unless
/// `extra` says otherwise.
fn server(lab: &Lab, data: &Path, extra: &[&str]) -> anyhow::Result<Rendezvous> {
    Rendezvous::add_technician(data, "alice")?;
    let listen = format!("{SERVER_IP}:7700");
    let turn = format!("{SERVER_IP}:3478");
    let mut args = vec!["--listen", listen.as_str()];
    if extra.is_empty() {
        args.extend(["--turn-listen", turn.as_str()]);
    }
    args.extend_from_slice(extra);
    Rendezvous::start_in(Some(&lab.ns(Host::Public)), data, &args)
}

/// Runs one session across the lab and checks the path and the pixels.
fn session_across(lab: &Lab, server: &Rendezvous, dir: &Path, want: &str) -> anyhow::Result<String> {
    let x = Xvfb::start("1024x768x24")?;
    let mut xterm = Proc::spawn(
        "xterm",
        "xterm".into(),
        &["-geometry", "60x12+30+30", "-e", "sh", "-c", "printf 'across the NAT\\n'; exec sleep 600"],
        &[("DISPLAY", &x.display)],
    )?;
    std::thread::sleep(Duration::from_millis(800));
    let (_, agent) = exact_session(lab, server, dir, &x, &format!("expect-path {want}\nwait-idle 800\n"))?;
    xterm.kill();
    Ok(agent)
}

/// A session across the lab on display `x` running `script` (then a
/// snapshot), checked pixel-exact against the display afterwards. Returns
/// the console's and the agent's output.
fn exact_session(
    lab: &Lab,
    server: &Rendezvous,
    dir: &Path,
    x: &Xvfb,
    script: &str,
) -> anyhow::Result<(String, String)> {
    let snap = dir.join("snap.png");
    let script_file = dir.join("script.txt");
    std::fs::write(&script_file, format!("{script}snapshot {}\nend\n", snap.display()))?;
    let tech = lab.ns(Host::Technician);
    let mut console = console_in(Some(&tech), server, "alice", &script_file, &dir.join("console"))?;
    let code = read_code(&console)?;
    let cust = lab.ns(Host::Customer);
    let mut agent = agent_in(Some(&cust), server, &x.display, &code, Some("view"), &dir.join("agent"), &[])?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    assert!(agent.wait_exit(STEP)?.success(), "agent failed:\n{}", agent.all_output());
    let reference = capture_display(&x.display, &dir.join("reference.png"))?;
    assert_eq!(differing_pixels(&read_png(&snap)?, &reference)?, 0, "not pixel-exact across the lab");
    Ok((console.all_output(), agent.all_output()))
}

#[test]
fn cone_nats_connect_directly() -> anyhow::Result<()> {
    let _one = one_lab();
    let lab = Lab::up(&lab::unique_prefix(), Nat::Cone)?;
    let dir = tempfile::tempdir()?;
    let server = server(&lab, &dir.path().join("rendezvous"), &[])?;
    let agent = session_across(&lab, &server, dir.path(), "direct")?;
    assert!(agent.contains("path: direct ("), "{agent}");

    // A standard STUN client behind the NAT sees the NAT's public address.
    let port = server.turn.as_deref().and_then(|t| t.rsplit(':').next()).unwrap_or("3478").to_owned();
    let out = lab.exec(Host::Customer, &["turnutils_stunclient", "-p", &port, SERVER_IP])?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("UDP reflexive addr: {CUSTOMER_NAT_IP}:")), "{text}");
    Ok(())
}

#[test]
fn symmetric_nats_go_through_the_embedded_relay() -> anyhow::Result<()> {
    let _one = one_lab();
    let lab = Lab::up(&lab::unique_prefix(), Nat::Symmetric)?;
    let dir = tempfile::tempdir()?;
    let server = server(&lab, &dir.path().join("rendezvous"), &[])?;
    let agent = session_across(&lab, &server, dir.path(), "relay")?;
    assert!(agent.contains("path: relay ("), "{agent}");
    Ok(())
}

#[test]
fn symmetric_nats_go_through_an_external_coturn() -> anyhow::Result<()> {
    let _one = one_lab();
    let lab = Lab::up(&lab::unique_prefix(), Nat::Symmetric)?;
    let dir = tempfile::tempdir()?;
    let secret = format!("lab-secret-{}", std::process::id());
    let coturn = coturn(&lab, dir.path(), &secret)?;
    let turn_url = format!("turn:{SERVER_IP}:{COTURN_PORT}");
    let server =
        server(&lab, &dir.path().join("rendezvous"), &["--turn-url", &turn_url, "--turn-secret", &secret])?;
    let agent = session_across(&lab, &server, dir.path(), "relay")?;
    assert!(agent.contains("path: relay (relay/"), "{agent}");
    // The relay that carried it was coturn's: it allocated for the session's
    // short-lived user and refused nothing beyond the usual first 401 challenge.
    let log = coturn.all_output();
    assert!(log.contains("ALLOCATE processed, success"), "coturn allocated nothing:\n{log}");
    let refused: Vec<&str> =
        log.lines().filter(|l| l.contains("processed, error 4") && !l.contains("error 401")).collect();
    assert!(refused.is_empty(), "coturn refused requests: {refused:#?}");
    Ok(())
}

/// coturn's UDP port in the lab, beside the embedded server's 3478.
const COTURN_PORT: u16 = 3479;

/// coturn on the public segment with the shared-secret scheme, reading no
/// system configuration and writing only inside `dir`.
fn coturn(lab: &Lab, dir: &Path, secret: &str) -> anyhow::Result<Proc> {
    let conf = dir.join("turnserver.conf");
    std::fs::write(&conf, "")?;
    let port = COTURN_PORT.to_string();
    let files = [conf, dir.join("turnserver.pid"), dir.join("turndb")].map(|p| p.display().to_string());
    let proc = Proc::spawn_in(
        Some(&lab.ns(Host::Public)),
        "coturn",
        "turnserver".into(),
        &[
            "-c",
            &files[0],
            "--pidfile",
            &files[1],
            "--db",
            &files[2],
            "--listening-ip",
            SERVER_IP,
            "--listening-port",
            &port,
            "--relay-ip",
            SERVER_IP,
            "--use-auth-secret",
            "--static-auth-secret",
            secret,
            "--realm",
            "lab.test",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--log-file",
            "stdout",
            "--verbose",
        ],
        &[],
        "",
    )?;
    proc.wait_for_stdout("UDP listener opened on", STEP)?;
    Ok(proc)
}

#[test]
fn a_slow_lossy_line_still_connects_directly_and_pixel_exact() -> anyhow::Result<()> {
    let _one = one_lab();
    let lab = Lab::up(&lab::unique_prefix(), Nat::Cone)?;
    // 30 ms each way on both uplinks (120 ms between the peers), 2 % loss
    // each way, and a 20 Mbit/s line: a poor home connection.
    let shape = "30ms 2% 20mbit".parse()?;
    lab.shape(Host::Customer, shape)?;
    lab.shape(Host::Technician, shape)?;
    let dir = tempfile::tempdir()?;
    let server = server(&lab, &dir.path().join("rendezvous"), &[])?;
    let agent = session_across(&lab, &server, dir.path(), "direct")?;
    assert!(agent.contains("path: direct ("), "{agent}");
    Ok(())
}

/// The most lossy tiles the console's stats lines counted.
fn lossy_tiles(console: &str) -> u64 {
    console
        .lines()
        .filter_map(|l| l.split(" lossy=").nth(1)?.split_whitespace().next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

#[test]
fn a_movie_on_a_thin_line_goes_lossy_then_refines_to_pixel_exact() -> anyhow::Result<()> {
    let _one = one_lab();
    let lab = Lab::up(&lab::unique_prefix(), Nat::Cone)?;
    // A 2 Mbit/s uplink: a 384×256 movie does not fit losslessly.
    lab.shape(Host::Customer, "5ms 0% 2mbit".parse()?)?;
    let dir = tempfile::tempdir()?;
    let server = server(&lab, &dir.path().join("rendezvous"), &[])?;
    let x = Xvfb::start("1024x768x24")?;
    let reel = Reel { x: 40, y: 40, width: 384, height: 256, fps: 15, play: Duration::from_secs(8) };
    for allowed in [true, false] {
        let run = dir.path().join(if allowed { "adaptive" } else { "exact" });
        std::fs::create_dir_all(&run)?;
        let movie = Movie::play(&x.display, reel)?;
        // Settled means no frame for 1.5 s and no tile left lossy: the
        // movie has stopped on its last frame and every lossy tile of it
        // was refined.
        let script =
            format!("expect-path direct\n{}wait-idle 1500\n", if allowed { "" } else { "lossy off\n" });
        let (console, agent) = exact_session(&lab, &server, &run, &x, &script)?;
        movie.close()?;
        let lossy = lossy_tiles(&console);
        if allowed {
            assert!(lossy > 0, "no lossy tiles on a thin line:\n{console}");
            assert!(agent.contains("photo tiles now lossy"), "{agent}");
        } else {
            assert_eq!(lossy, 0, "lossy tiles although the technician said no:\n{console}");
        }
    }
    Ok(())
}
