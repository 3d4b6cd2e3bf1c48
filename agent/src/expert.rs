//! Outside experts in a session: the keys the owner vouched for over the
//! control channel, admitting an expert's own connection (only with the
//! vouched static key and pre-shared key), and serving them the screen.
//!
//! An expert views: the customer's view consent covers them as it covers
//! the owner, and they see the monitor the owner chose. Their input is
//! dropped and logged; control stays with the owner.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tether_protocol::channel::control::{self, Consent, Monitor};
use tether_protocol::codec::{Encoder, encoder::DEFAULT_LEVEL};
use tether_protocol::handshake::StaticKey;
use tether_protocol::ice::{IceParams, IceServers};
use tether_protocol::invite::Party;
use tether_protocol::signal::{ClientToServer, ServerToClient};
use tether_transport::pairing::{self, ChannelLink, Route};
use tether_transport::peer::{self, AgentChannels, PeerSecrets};
use tether_transport::socket;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::AgentError;
use crate::screen::{CaptureError, ScreenSource};
use crate::session::AgentEvent;
use crate::stream::{self, Pipeline};

/// Opens a screen source; called again for each expert.
pub type OpenScreen = Arc<dyn Fn() -> Result<Box<dyn ScreenSource>, CaptureError> + Send + Sync>;

/// What the owner vouched for one expert.
#[derive(Clone)]
pub struct Vouch {
    /// What the owner calls them.
    pub name: String,
    /// Their Noise static public key.
    pub key: [u8; 32],
    /// Their handshake's pre-shared key.
    pub psk: [u8; 32],
}

impl std::fmt::Debug for Vouch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vouch").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The experts the owner vouched for, by number.
pub type Vouches = Arc<Mutex<HashMap<u32, Vouch>>>;

/// Everything an expert's connection shares with the session.
#[derive(Clone)]
pub struct Room {
    /// The vouched keys.
    pub vouches: Vouches,
    /// Our Noise static key, the one the owner saw and proves to experts.
    pub static_key: Arc<StaticKey>,
    /// STUN/TURN of the session.
    pub ice: IceServers,
    /// Where the server is (its STUN/TURN runs there).
    pub server_ip: IpAddr,
    /// Offer relayed candidates only.
    pub relay_only: bool,
    /// The customer's consent.
    pub consent: watch::Receiver<Consent>,
    /// Who drives: the owner (`None`) or an expert.
    pub driver: Arc<watch::Sender<Option<u32>>>,
    /// The input thread.
    pub sink: std::sync::mpsc::Sender<tether_protocol::channel::input::ConsoleToAgent>,
    /// The shared monitor.
    pub monitor: watch::Receiver<Monitor>,
    /// The screen's size and monitors, for the expert's hello.
    pub screen: ((u32, u32), Vec<Monitor>),
    /// Opens another screen source.
    pub open: OpenScreen,
    /// Requests for the server.
    pub out: mpsc::UnboundedSender<ClientToServer>,
    /// The window.
    pub events: Option<mpsc::UnboundedSender<AgentEvent>>,
    /// The experts the customer removed: disconnected and kept out.
    pub removed: Arc<watch::Sender<std::collections::HashSet<u32>>>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("ice", &self.ice)
            .field("server_ip", &self.server_ip)
            .finish_non_exhaustive()
    }
}

impl Room {
    /// Whether the owner vouched for expert `n` (who may not be connected
    /// yet): control may be passed to them.
    #[must_use]
    pub fn is_vouched(&self, n: u32) -> bool {
        self.vouches.lock().unwrap_or_else(PoisonError::into_inner).contains_key(&n)
    }

    /// Control goes back to the owner if expert `n` drove.
    fn release_control(&self, n: u32) {
        self.driver.send_if_modified(|d| {
            let was = *d;
            *d = d.filter(|x| *x != n);
            was != *d
        });
    }

    /// The customer removes expert `n`: their connection closes at once
    /// and the owner's vouch for them is forgotten.
    pub fn remove(&self, n: u32) {
        let name = self.vouches.lock().unwrap_or_else(PoisonError::into_inner).remove(&n).map(|v| v.name);
        self.removed.send_modify(|r| {
            r.insert(n);
        });
        self.release_control(n);
        println!("expert: {} removed by the customer", name.unwrap_or_else(|| format!("expert {n}")));
        info!(expert = n, "the customer removed an expert");
    }
}

/// Hands server messages to the experts' admissions, starting one when an
/// expert the owner vouched for sends their ICE offer.
#[derive(Debug, Default)]
pub struct Doors {
    open: HashMap<u32, mpsc::UnboundedSender<ServerToClient>>,
    tasks: tokio::task::JoinSet<()>,
}

impl Doors {
    /// Routes `msg`; true if it was an expert's.
    pub fn route(&mut self, room: &Room, msg: &ServerToClient) -> bool {
        match msg {
            ServerToClient::RelayFrom { from: Party::Expert(n), signal } => {
                if let Some(tx) = self.open.get(n) {
                    let _ = tx.send(msg.clone());
                    return true;
                }
                let vouch = room.vouches.lock().unwrap_or_else(PoisonError::into_inner).get(n).cloned();
                match (vouch, signal) {
                    (Some(vouch), tether_protocol::signal::PeerSignal::Ice(offer)) => {
                        let (tx, rx) = mpsc::unbounded_channel();
                        self.open.insert(*n, tx);
                        let link = ChannelLink { tx: room.out.clone(), rx };
                        self.tasks.spawn(admit(room.clone(), *n, vouch, offer.clone(), link));
                    }
                    (None, _) => warn!(expert = n, "dropped a signal from an expert nobody vouched for"),
                    (Some(_), _) => warn!(expert = n, "dropped an expert's signal out of order"),
                }
                true
            }
            ServerToClient::ExpertLeft { expert } => {
                // Their admission stops when its link closes.
                self.open.remove(expert);
                room.vouches.lock().unwrap_or_else(PoisonError::into_inner).remove(expert);
                info!(expert, "an expert left the server");
                true
            }
            _ => false,
        }
    }
}

/// Connects expert `n` and serves them until they leave.
async fn admit(room: Room, n: u32, vouch: Vouch, offer: IceParams, mut link: ChannelLink) {
    let route = Route::To(Party::Expert(n));
    let connected = async {
        let path =
            pairing::answer_ice(&mut link, route, room.server_ip, &room.ice, &offer, room.relay_only).await?;
        let kind = tether_transport::socket::PathSocket::path(&path);
        let endpoint = socket::endpoint(Box::new(path), Some(peer::peer_server_config()?))?;
        let secrets = PeerSecrets { static_key: &room.static_key, psk: vouch.psk };
        let (conn, keys, channels) = peer::accept(&endpoint, &secrets).await?;
        if keys.remote_static() != vouch.key {
            conn.close(peer::CLOSE_HANDSHAKE_FAILED.into(), b"not the expert the owner vouched for");
            return Err(AgentError::Internal("an expert connected with a key nobody vouched for"));
        }
        Ok::<_, AgentError>((endpoint, kind, conn, channels))
    };
    let (endpoint, kind, conn, channels) = match connected.await {
        Ok(c) => c,
        Err(e) => return warn!(expert = n, "an expert could not connect: {e}"),
    };
    println!("expert: {} connected ({kind})", vouch.name);
    info!(expert = n, path = %kind, "an expert connected");
    if let Some(events) = &room.events {
        let _ = events.send(AgentEvent::Expert { number: n, name: vouch.name.clone(), connected: true });
    }
    let mut removed = room.removed.subscribe();
    let served = tokio::select! {
        r = serve(&room, n, &vouch.name, channels) => r,
        _ = removed.wait_for(|r| r.contains(&n)) => {
            conn.close(peer::CLOSE_ENDED.into(), b"the customer removed you");
            Ok(())
        }
        e = conn.closed() => { info!(expert = n, "the expert's connection closed: {e}"); Ok(()) }
    };
    if let Err(e) = served {
        warn!(expert = n, "the expert's session failed: {e}");
    }
    room.release_control(n);
    if let Some(events) = &room.events {
        let _ = events.send(AgentEvent::Expert { number: n, name: vouch.name.clone(), connected: false });
    }
    conn.close(peer::CLOSE_ENDED.into(), b"session ended");
    endpoint.wait_idle().await;
    println!("expert: {} left", vouch.name);
}

/// What expert `n` may do now: view as the customer allows, control while
/// the customer allows it and the owner passed it to them.
fn theirs(room: &Room, n: u32) -> Consent {
    let c = *room.consent.borrow();
    Consent { view: c.view, control: c.control && *room.driver.borrow() == Some(n) }
}

/// The expert's session: hello, consent, monitors, the screen stream, and
/// their input, run only while they drive.
async fn serve(room: &Room, n: u32, name: &str, channels: AgentChannels) -> Result<(), AgentError> {
    let ((width, height), monitors) = room.screen.clone();
    let (mut control_send, mut control_recv) = channels.control;
    control_send.send(&control::AgentToConsole::Hello { width, height }).await?;
    // What the customer allowed holds for them as for the owner.
    let (consent_tx, consent_rx) = watch::channel(theirs(room, n));
    let now = *consent_rx.borrow();
    control_send.send(&control::AgentToConsole::Consent(now)).await?;
    let active = room.monitor.borrow().id;
    control_send.send(&control::AgentToConsole::Monitors { list: monitors, active }).await?;
    let open = Arc::clone(&room.open);
    let source = tokio::task::spawn_blocking(move || open())
        .await
        .map_err(|_| AgentError::Internal("the capture thread failed"))??;
    let pipeline = Pipeline { source, encoder: Encoder::new(DEFAULT_LEVEL)? };
    let (_, lossy) = watch::channel(true);
    let (screen_send, screen_recv) = channels.screen;
    let (mut consent, mut driver) = (room.consent.clone(), room.driver.subscribe());
    let follow_consent = async {
        loop {
            tokio::select! {
                r = consent.changed() => if r.is_err() { break },
                r = driver.changed() => if r.is_err() { break },
            }
            let now = theirs(room, n);
            if consent_tx.send_replace(now) != now {
                control_send.send(&control::AgentToConsole::Consent(now)).await?;
            }
        }
        Ok::<(), AgentError>(())
    };
    let control_loop = async {
        while let Some(msg) = control_recv.recv().await? {
            match msg {
                control::ConsoleToAgent::End => return Ok(()),
                control::ConsoleToAgent::Hello { .. } | control::ConsoleToAgent::Lossy { .. } => {}
                other => {
                    warn!(expert = name, "ignored a control request from an expert: {}", describe(&other))
                }
            }
        }
        Ok::<(), AgentError>(())
    };
    let (_, input_recv) = channels.input;
    let gate = stream::Gate { consent: room.consent.clone(), driver: room.driver.subscribe(), me: Some(n) };
    tokio::select! {
        r = stream::stream_screen(screen_send, screen_recv, pipeline, consent_rx, room.monitor.clone(), lossy) => r,
        r = control_loop => r,
        r = follow_consent => r,
        r = stream::forward_input(input_recv, room.sink.clone(), gate, room.monitor.clone()) => r,
    }
}

fn describe(msg: &control::ConsoleToAgent) -> &'static str {
    match msg {
        control::ConsoleToAgent::RequestControl => "control",
        control::ConsoleToAgent::SelectMonitor { .. } => "another monitor",
        control::ConsoleToAgent::Vouch { .. } => "vouching for someone",
        control::ConsoleToAgent::PassControl { .. } => "passing control",
        control::ConsoleToAgent::Hello { .. }
        | control::ConsoleToAgent::Lossy { .. }
        | control::ConsoleToAgent::End => "nothing",
    }
}
