//! Hostile input closes only the offending connection; a restart after
//! `kill -9` keeps accounts and records; the server key is pinned.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use tether_e2e::image::{capture_display, differing_pixels, read_png};
use tether_e2e::{PASSWORD, Proc, Rendezvous, STEP, Scene, bin, read_code};
use tether_transport::TransportError;
use tether_transport::pin::KnownServers;
use tether_transport::signal_client::{ServerTrust, SignalClient};
use tether_transport::tls::Fingerprint;

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn spray_udp(target: SocketAddr) -> anyhow::Result<()> {
    let socket = UdpSocket::bind(if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    for i in 0..200u64 {
        socket.send_to(&noise(1 + (i as usize * 37) % 1400, i), target)?;
    }
    Ok(())
}

/// Opens a signalling stream and sends `bytes`, then finishes the stream.
/// Returns how the server closed the connection.
async fn send_raw_to_server(
    server: &Rendezvous,
    dir: &std::path::Path,
    bytes: Vec<u8>,
) -> anyhow::Result<String> {
    let trust = ServerTrust { pinned: Some(server.fingerprint.parse()?), known: KnownServers::in_dir(dir) };
    let mut client = SignalClient::connect(&server.addr, &trust).await?;
    client.sender.send_unframed(&bytes).await?;
    client.sender.finish().await;
    let reason = tokio::time::timeout(Duration::from_secs(10), client.connection.closed()).await?;
    Ok(reason.to_string())
}

#[test]
fn garbage_closes_only_the_offending_connection() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let _xterm = scene.x_client(
        "xterm",
        &["-geometry", "60x10+5+5", "-e", "sh", "-c", "echo still here; exec sleep 600"],
    )?;
    scene.wait_window("xterm")?;
    let snap = scene.path("after.png");
    let mut console = scene
        .console(&format!("wait-idle 500\nwait 3000\nwait-idle 500\nsnapshot {}\nend\n", snap.display()))?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    agent.wait_for_stdout("path: direct", STEP)?;
    let agent_addr: SocketAddr = agent
        .wait_for_stderr("ICE connected", STEP)?
        .split("local=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .map(|s| s.trim_matches(|c: char| !c.is_ascii_graphic()).to_owned())
        .unwrap_or_default()
        .parse()?;

    // Random datagrams at the live session and at the server.
    spray_udp(agent_addr)?;
    spray_udp(server_addr(&scene.server)?)?;

    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        // A frame header that claims 4 GiB, then random bytes.
        let mut oversized = vec![0xff, 0xff, 0xff, 0xff];
        oversized.extend(noise(100, 7));
        let reason = send_raw_to_server(&scene.server, scene.dir.path(), oversized).await?;
        assert!(reason.contains("protocol error"), "server closed with {reason}");
        // A frame cut short: the header promises 100 bytes, 10 arrive.
        let mut truncated = vec![0, 0, 0, 100];
        truncated.extend(noise(10, 9));
        let reason = send_raw_to_server(&scene.server, scene.dir.path(), truncated).await?;
        assert!(reason.contains("protocol error"), "server closed with {reason}");
        // Well-framed random bodies.
        let mut junk = bytes_frame(&noise(300, 11));
        junk.extend(bytes_frame(&noise(50, 13)));
        let reason = send_raw_to_server(&scene.server, scene.dir.path(), junk).await?;
        assert!(reason.contains("protocol error"), "server closed with {reason}");

        // A stranger dialling the agent during the session is refused.
        let any = if agent_addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
        let socket = tether_transport::socket::UdpPath::bind(any.parse()?)?;
        let endpoint = tether_transport::socket::endpoint(Box::new(socket), None)?;
        let key = tether_protocol::handshake::StaticKey::generate()?;
        let secrets = tether_transport::peer::PeerSecrets { static_key: &key, psk: [0; 32] };
        let stranger = tether_transport::peer::connect(&endpoint, agent_addr, &secrets).await;
        assert!(
            matches!(stranger, Err(TransportError::Connection(_) | TransportError::Timeout(_))),
            "{stranger:?}"
        );
        anyhow::Ok(())
    })?;

    // The real session carried on, pixel-exact, and ended normally.
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    assert!(agent.wait_exit(STEP)?.success(), "agent failed:\n{}", agent.all_output());
    let reference = capture_display(&scene.x.display, &scene.path("reference.png"))?;
    assert_eq!(differing_pixels(&read_png(&snap)?, &reference)?, 0);
    scene.server.proc.wait_for_stderr("closing a client connection", STEP)?;
    Ok(())
}

fn bytes_frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend((body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn server_addr(server: &Rendezvous) -> anyhow::Result<SocketAddr> {
    Ok(server.addr.parse()?)
}

fn sessions(data: &std::path::Path) -> anyhow::Result<String> {
    let out = std::process::Command::new(bin("tether-rendezvous")?)
        .args(["--data", &data.display().to_string(), "sessions"])
        .output()?;
    anyhow::ensure!(out.status.success(), "sessions failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stdout)?)
}

#[test]
fn kill_9_after_a_session_loses_nothing() -> anyhow::Result<()> {
    let mut scene = Scene::new(&[])?;
    let mut console = scene.console("wait-idle 300\nend\n")?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    agent.wait_exit(STEP)?;
    scene.server.proc.wait_for_stderr("session closed", STEP)?;

    scene.server.proc.kill(); // SIGKILL: no chance to flush anything now
    let data = scene.server.data.clone();
    let records = sessions(&data)?;
    let row = records.lines().find(|l| l.contains("alice")).unwrap_or_default();
    // Either end may be host or server-reflexive on one machine.
    assert!(row.contains("\tdirect ("), "no path and ends in {records}");
    assert!(row.contains("Ended"), "no outcome in {records}");
    assert!(row.contains("view=true,control=false,preset"), "no consent in {records}");

    scene.server = Rendezvous::start(&data, &[])?;
    let console = scene.console("end\n")?;
    read_code(&console)?; // logged in with the account made before the kill
    Ok(())
}

#[test]
fn the_server_key_is_pinned_on_first_use_and_a_change_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("rv");
    Rendezvous::add_technician(&data, "alice")?;
    let mut server = Rendezvous::start(&data, &[])?;
    let known = dir.path().join("console");
    let login = |addr: &str| {
        Proc::spawn_with_stdin(
            "console",
            bin("tether-console")?,
            &[
                "--headless",
                "--server",
                addr,
                "--user",
                "alice",
                "--password-stdin",
                "--data",
                &known.display().to_string(),
            ],
            &[],
            &format!("{PASSWORD}\n"),
        )
    };
    read_code(&login(&server.addr)?)?;
    let remembered = std::fs::read_to_string(known.join("known_servers"))?;
    assert!(remembered.contains(&server.fingerprint), "{remembered}");
    read_code(&login(&server.addr)?)?;

    // Same address, new key: as if someone else answered.
    let addr = server.addr.clone();
    server.proc.kill();
    std::fs::remove_file(data.join("cert.der"))?;
    std::fs::remove_file(data.join("key.der"))?;
    let new = Rendezvous::start(&data, &["--listen", &addr])?;
    assert_ne!(new.fingerprint.parse::<Fingerprint>()?, server.fingerprint.parse::<Fingerprint>()?);
    let mut refused = login(&addr)?;
    assert!(!refused.wait_exit(STEP)?.success());
    refused.wait_for_stderr("SECURITY WARNING: the server's key changed", STEP)?;

    let mut wrong_password = Proc::spawn_with_stdin(
        "console",
        bin("tether-console")?,
        &[
            "--headless",
            "--server",
            &addr,
            "--server-cert",
            &new.fingerprint,
            "--user",
            "alice",
            "--password-stdin",
            "--data",
            &known.display().to_string(),
        ],
        &[],
        "not the password\n",
    )?;
    assert!(!wrong_password.wait_exit(STEP)?.success());
    wrong_password.wait_for_stderr("wrong user name or password", STEP)?;
    Ok(())
}
