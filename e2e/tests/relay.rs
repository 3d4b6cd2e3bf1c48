//! The embedded STUN/TURN server: a relayed session is pixel-exact, and
//! standard clients (coturn's turnutils) see a working STUN server and a
//! TURN server that admits only valid, unexpired session credentials.

use std::time::Duration;

use tether_e2e::image::{capture_display, differing_pixels, read_png};
use tether_e2e::{STEP, Scene, agent_with, read_code};
use tether_rendezvous::ice::password;
use tether_rendezvous::record::unix_now;

#[test]
fn a_relay_only_customer_gets_a_relayed_pixel_exact_session() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let _xterm = scene.x_client(
        "xterm",
        &["-geometry", "70x20+40+40", "-e", "sh", "-c", "printf 'through the relay\\n'; exec sleep 600"],
    )?;
    scene.wait_window("xterm")?;
    let snap = scene.path("snap.png");
    let mut console =
        scene.console(&format!("expect-path relay\nwait-idle 800\nsnapshot {}\nend\n", snap.display()))?;
    let code = read_code(&console)?;
    let mut agent = agent_with(
        &scene.server,
        &scene.x.display,
        &code,
        Some("view"),
        &scene.path("agent"),
        &["--relay-only"],
    )?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    assert!(agent.wait_exit(STEP)?.success(), "agent failed:\n{}", agent.all_output());
    assert!(agent.all_output().contains("path: relay (relay/"), "{}", agent.all_output());
    let reference = capture_display(&scene.x.display, &scene.path("reference.png"))?;
    assert_eq!(differing_pixels(&read_png(&snap)?, &reference)?, 0);
    Ok(())
}

fn turn_port(scene: &Scene) -> anyhow::Result<String> {
    let turn = scene.server.turn.clone().ok_or_else(|| anyhow::anyhow!("no embedded TURN"))?;
    Ok(turn.rsplit(':').next().unwrap_or_default().to_owned())
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(args)
        .output()
        .map_err(|e| anyhow::anyhow!("running {program} (is coturn installed?): {e}"))?;
    Ok(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `start_mclient: tot_send_msgs=N, tot_recv_msgs=M` from turnutils_uclient.
fn messages(out: &str) -> (u64, u64) {
    let field = |line: &str, name: &str| -> u64 {
        line.split(name)
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
            .unwrap_or(0)
    };
    out.lines()
        .rev()
        .find(|l| l.contains("start_mclient: tot_send_msgs="))
        .map_or((0, 0), |l| (field(l, "tot_send_msgs="), field(l, "tot_recv_msgs=")))
}

#[test]
fn standard_stun_and_turn_clients_work_and_strangers_are_refused() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let port = turn_port(&scene)?;

    let stun = run("turnutils_stunclient", &["-p", &port, "127.0.0.1"])?;
    assert!(stun.contains("UDP reflexive addr: 127.0.0.1:"), "{stun}");

    // Valid session credentials: two clients relay to each other.
    let secret = std::fs::read_to_string(scene.server.data.join("turn_secret"))?;
    let user = format!("{}:77", unix_now() + 600);
    let pass = password(secret.trim(), &user);
    let ok = run(
        "turnutils_uclient",
        &["-y", "-c", "-n", "10", "-p", &port, "-u", &user, "-w", &pass, "127.0.0.1"],
    )?;
    let (sent, received) = messages(&ok);
    assert!(sent >= 10 && received == sent, "sent {sent}, received {received}:\n{ok}");

    // No credentials, a wrong password, expired credentials: no relay.
    let expired = format!("{}:77", unix_now() - 5);
    let expired_pass = password(secret.trim(), &expired);
    for args in [vec![], vec!["-u", user.as_str(), "-w", "wrong"], vec!["-u", &expired, "-w", &expired_pass]]
    {
        let mut all = vec!["-y", "-c", "-n", "3", "-p", port.as_str()];
        all.extend(args);
        all.push("127.0.0.1");
        let refused = run("turnutils_uclient", &all)?;
        assert!(!refused.contains(": success"), "{refused}");
        assert_eq!(messages(&refused).1, 0, "{refused}");
    }
    // The server is still serving.
    std::thread::sleep(Duration::from_millis(200));
    let again = run("turnutils_stunclient", &["-p", &port, "127.0.0.1"])?;
    assert!(again.contains("UDP reflexive addr: 127.0.0.1:"), "{again}");
    Ok(())
}
