//! Transfers over real QUIC sessions on loopback, into real folders.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tether_protocol::channel::files::{self as msg, Offer};
use tether_protocol::files::chunk::CHUNK_BYTES;
use tether_protocol::handshake::StaticKey;
use tokio::sync::{mpsc, watch};

use super::*;
use crate::peer::{self, ChannelRecv, PeerSecrets};
use crate::socket::{self, UdpPath};

const C: usize = CHUNK_BYTES as usize;

struct Ends {
    console: Arc<Hub<msg::ConsoleToAgent>>,
    agent: Arc<Hub<msg::AgentToConsole>>,
    /// Offers the agent received.
    offers: mpsc::UnboundedReceiver<Offer>,
    conns: Vec<quinn::Connection>,
    _endpoints: Vec<quinn::Endpoint>,
}

async fn session() -> Ends {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = UdpPath::bind(any).unwrap();
    let addr = server.local_addr().unwrap();
    let agent_ep = socket::endpoint(Box::new(server), Some(peer::peer_server_config().unwrap())).unwrap();
    let console_ep = socket::endpoint(Box::new(UdpPath::bind(any).unwrap()), None).unwrap();
    let (ka, kc) = (StaticKey::generate().unwrap(), StaticKey::generate().unwrap());
    let (sa, sc) =
        (PeerSecrets { static_key: &ka, psk: [1; 32] }, PeerSecrets { static_key: &kc, psk: [1; 32] });
    let (a, c) = tokio::join!(peer::accept(&agent_ep, &sa), peer::connect(&console_ep, addr, &sc));
    let ((ac, akeys, ach), (cc, ckeys, cch)) = (a.unwrap(), c.unwrap());
    let agent = Hub::start(ac.clone(), akeys, ach.files.0);
    let console = Hub::start(cc.clone(), ckeys, cch.files.0);
    let (offers_tx, offers) = mpsc::unbounded_channel();
    tokio::spawn(dispatch_agent(ach.files.1, Arc::clone(&agent), offers_tx));
    tokio::spawn(dispatch_console(cch.files.1, Arc::clone(&console)));
    Ends { console, agent, offers, conns: vec![ac, cc], _endpoints: vec![agent_ep, console_ep] }
}

async fn dispatch_agent(
    mut recv: ChannelRecv<msg::ConsoleToAgent>,
    hub: Arc<Hub<msg::AgentToConsole>>,
    offers: mpsc::UnboundedSender<Offer>,
) {
    while let Ok(Some(m)) = recv.recv().await {
        match m {
            msg::ConsoleToAgent::Transfer(t) => hub.route(t),
            msg::ConsoleToAgent::Offer(o) => {
                let _ = offers.send(o);
            }
            msg::ConsoleToAgent::Fetch { .. } | msg::ConsoleToAgent::List { .. } => {}
        }
    }
    hub.close();
}

async fn dispatch_console(mut recv: ChannelRecv<msg::AgentToConsole>, hub: Arc<Hub<msg::ConsoleToAgent>>) {
    while let Ok(Some(m)) = recv.recv().await {
        if let msg::AgentToConsole::Transfer(t) = m {
            hub.route(t);
        }
    }
    hub.close();
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut x = u32::from(seed) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn source(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The console offers `path` as transfer `id`; returns its send task.
async fn offer(
    ends: &Ends,
    id: u32,
    src: Source,
) -> tokio::task::JoinHandle<Result<tether_protocol::files::FileName, FileError>> {
    let reg = ends.console.register(id).unwrap();
    ends.console.send(msg::ConsoleToAgent::Offer(src.offer(id, None))).await.unwrap();
    let hub = Arc::clone(&ends.console);
    tokio::spawn(async move { send(&hub, reg, &src, &watch::channel(Status::default()).0).await })
}

#[tokio::test]
async fn a_corrupted_chunk_is_caught_and_sent_again() {
    let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bytes = data(3 * C + 5, 1);
    let src = Source::open(&source(from.path(), "tool.bin", &bytes)).unwrap().corrupt_once(1);
    assert_eq!(src.hash, *blake3::hash(&bytes).as_bytes());
    let mut ends = session().await;
    let sending = offer(&ends, 1, src).await;
    let got = ends.offers.recv().await.unwrap();
    assert_eq!((got.name.as_str(), got.size), ("tool.bin", bytes.len() as u64));
    let reg = ends.agent.register(got.id).unwrap();
    let status = watch::channel(Status::default()).0;
    let path = receive(&ends.agent, reg, &got, to.path(), &status).await.unwrap();
    assert_eq!(sending.await.unwrap().unwrap().as_str(), "tool.bin");
    assert_eq!(path, to.path().join("tool.bin"));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(*status.borrow(), Status { done: bytes.len() as u64, size: bytes.len() as u64, resumed: 0 });
}

#[tokio::test]
async fn a_declined_offer_writes_nothing() {
    let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let src = Source::open(&source(from.path(), "a.txt", b"hello")).unwrap();
    let mut ends = session().await;
    let sending = offer(&ends, 7, src).await;
    let got = ends.offers.recv().await.unwrap();
    ends.agent.say(Transfer::Cancel { id: got.id, reason: CancelReason::Declined }).await.unwrap();
    let e = sending.await.unwrap().unwrap_err();
    assert!(matches!(e, FileError::Cancelled(CancelReason::Declined)), "{e}");
    assert_eq!(std::fs::read_dir(to.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_transfer_cut_off_resumes_in_the_next_session() {
    let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bytes = data(40 * C + 3, 2);
    let path = source(from.path(), "big.iso", &bytes);

    let mut first = session().await;
    let _sending = offer(&first, 1, Source::open(&path).unwrap()).await;
    let got = first.offers.recv().await.unwrap();
    let reg = first.agent.register(got.id).unwrap();
    let (status, mut watching) = watch::channel(Status::default());
    let hub = Arc::clone(&first.agent);
    let dir = to.path().to_path_buf();
    let receiving = tokio::spawn(async move { receive(&hub, reg, &got, &dir, &status).await });
    watching.wait_for(|s| s.done >= 12 * C as u64).await.unwrap();
    for c in &first.conns {
        c.close(0u32.into(), b"cut");
    }
    let e = receiving.await.unwrap().unwrap_err();
    assert!(matches!(e, FileError::ConnectionLost | FileError::Transport(_)), "{e}");
    assert!(!to.path().join("big.iso").exists());

    let mut second = session().await;
    let sending = offer(&second, 1, Source::open(&path).unwrap()).await;
    let got = second.offers.recv().await.unwrap();
    let reg = second.agent.register(got.id).unwrap();
    let status = watch::channel(Status::default()).0;
    let at = receive(&second.agent, reg, &got, to.path(), &status).await.unwrap();
    sending.await.unwrap().unwrap();
    let resumed = status.borrow().resumed;
    assert!(resumed >= 12 * C as u64 && resumed < bytes.len() as u64, "resumed at {resumed}");
    assert_eq!(std::fs::read(at).unwrap(), bytes);
    let names: Vec<_> = std::fs::read_dir(to.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["big.iso"]);
}

#[tokio::test]
async fn a_cancelled_transfer_stops_both_ends_and_leaves_nothing() {
    let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let bytes = data(40 * C, 3);
    let mut ends = session().await;
    let sending = offer(&ends, 9, Source::open(&source(from.path(), "big.bin", &bytes)).unwrap()).await;
    let got = ends.offers.recv().await.unwrap();
    let reg = ends.agent.register(got.id).unwrap();
    let (status, mut watching) = watch::channel(Status::default());
    let hub = Arc::clone(&ends.agent);
    let dir = to.path().to_path_buf();
    let receiving = tokio::spawn(async move { receive(&hub, reg, &got, &dir, &status).await });
    watching.wait_for(|s| s.done >= 4 * C as u64).await.unwrap();
    ends.console.cancel(9).await.unwrap();
    let e = sending.await.unwrap().unwrap_err();
    assert!(matches!(e, FileError::Cancelled(CancelReason::Cancelled)), "{e}");
    let e = receiving.await.unwrap().unwrap_err();
    assert!(matches!(e, FileError::Cancelled(CancelReason::Cancelled)), "{e}");
    assert_eq!(std::fs::read_dir(to.path()).unwrap().count(), 0, "a cancelled transfer left files");
}
