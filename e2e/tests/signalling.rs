//! Bad ICE offers sent through the real server: a candidate line that is
//! too long, too many candidates, or junk credentials get a clear error back,
//! nothing reaches the technician, and the server keeps serving sessions.

use std::str::FromStr;

use tether_e2e::{STEP, Scene, read_code};
use tether_protocol::code::PairingCode;
use tether_protocol::ice::{IceParams, IceParamsError};
use tether_protocol::signal::{ClientToServer, PeerSignal, ServerToClient, SignalError};
use tether_transport::pin::KnownServers;
use tether_transport::signal_client::{ServerTrust, SignalClient};

fn offer(ufrag: &str, candidates: Vec<String>) -> ClientToServer {
    ClientToServer::Relay(PeerSignal::Ice(IceParams { ufrag: ufrag.into(), pwd: "pwd".into(), candidates }))
}

#[test]
fn bad_ice_offers_are_refused_clearly_and_the_server_keeps_serving() -> anyhow::Result<()> {
    let scene = Scene::new(&[])?;
    let mut console = scene.console("end\n")?;
    let code = PairingCode::from_str(&read_code(&console)?)?;
    let server = scene.server.addr.clone();

    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let trust = ServerTrust {
            pinned: Some(scene.server.fingerprint.parse()?),
            known: KnownServers::in_dir(&scene.path("fake-agent")),
        };
        let mut client = SignalClient::connect(&server, &trust).await?;
        client.send(&ClientToServer::Join { nameplate: code.nameplate() }).await?;
        assert!(matches!(client.recv().await?, ServerToClient::Joined { .. }));
        let line = "1 1 udp 2130706431 192.0.2.1 9 typ host".to_owned();
        let bad = [
            (offer("u", vec!["x".repeat(4096)]), IceParamsError::MalformedCandidate),
            (offer("u", vec![line.clone(); 17]), IceParamsError::TooManyCandidates),
            (
                offer("u", vec!["1 1 udp 1 192.0.2.1 9 typ host\u{7}".into()]),
                IceParamsError::MalformedCandidate,
            ),
            (offer("", vec![line.clone()]), IceParamsError::MalformedCredentials),
            (offer("u", Vec::new()), IceParamsError::NoCandidates),
        ];
        for (msg, why) in bad {
            let answer = tokio::time::timeout(STEP, async {
                client.send(&msg).await?;
                loop {
                    // The technician's side of the pairing may arrive first.
                    match client.recv().await? {
                        ServerToClient::Relay(PeerSignal::Pake(_)) => {}
                        other => return anyhow::Ok(other),
                    }
                }
            })
            .await??;
            assert_eq!(answer, ServerToClient::Error(SignalError::BadIce(why)));
        }
        client.close().await;
        anyhow::Ok(())
    })?;

    // The technician saw nothing but the customer leaving.
    assert!(!console.wait_exit(STEP)?.success());
    let out = console.all_output();
    assert!(out.contains("the other side left"), "{out}");

    // And the server still pairs a real session.
    let mut console = scene.console("expect-path direct\nend\n")?;
    let code = read_code(&console)?;
    let mut agent = scene.agent(&code, Some("view"))?;
    assert!(console.wait_exit(STEP)?.success(), "console failed:\n{}", console.all_output());
    assert!(agent.wait_exit(STEP)?.success(), "agent failed:\n{}", agent.all_output());
    Ok(())
}
