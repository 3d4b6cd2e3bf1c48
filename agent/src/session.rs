//! One support session on the customer's side, from code to goodbye.
//!
//! Protocol flow: join the nameplate → PAKE with key confirmation → swap
//! addresses → accept the console's QUIC connection and run the Noise
//! handshake → ask consent to view → stream the screen, take input while
//! control is granted, answer control requests → report the end and exit.

use std::sync::Arc;

use tether_protocol::channel::chat;
use tether_protocol::channel::control::{self, Consent};
use tether_protocol::code::PairingCode;
use tether_protocol::codec::{Encoder, encoder::DEFAULT_LEVEL};
use tether_protocol::crypt::SessionKeys;
use tether_protocol::desk::FieldSpec;
use tether_protocol::handshake::StaticKey;
use tether_protocol::ice::IceServers;
use tether_protocol::pake::Role;
use tether_protocol::queue::HelpRequest;
use tether_protocol::signal::{ClientToServer, PathInfo, ServerToClient, SessionReport};

use tether_transport::pairing::{self, Route};
use tether_transport::peer::{self, AgentChannels, PeerSecrets};

use tether_transport::signal_client::{ServerTrust, SignalClient, SignalSender};
use tether_transport::socket::{self, PathSocket};
use tokio::sync::{Mutex, mpsc, watch};
use tracing::{info, warn};

use crate::AgentError;
use crate::clipboard::{self, ClipboardPolicy, OpenClipboard};
use crate::consent::{Asker, ConsentAsker, Permission};
use crate::cursor::{self, CursorSource};
use crate::files::{self, FileDesk, Folders};
use crate::input::{InputError, InputSink};
use crate::screen::CaptureError;
use crate::stream::{self, Pipeline};

/// What pairing produced: who the technician is and the secure connection.
struct Paired {
    /// Our Noise static key: the owner proves it to the experts it invites.
    static_key: Arc<StaticKey>,
    technician: String,
    organisation: String,
    ice: IceServers,
    server_ip: std::net::IpAddr,
    endpoint: quinn::Endpoint,
    path: PathInfo,
    conn: quinn::Connection,
    keys: SessionKeys,
    channels: AgentChannels,
}

/// How the customer meets their technician.
#[derive(Debug, Clone)]
pub enum Join {
    /// With the code the technician gave them.
    Code(PairingCode),
    /// By asking a desk for help and waiting in its queue.
    Help(HelpRequest),
}

/// Who the technician is, the session's STUN/TURN and its key.
type Met = (String, String, IceServers, [u8; 32]);

/// Joins the code and runs the PAKE.
async fn join_code(client: &mut SignalClient, code: &PairingCode) -> Result<Met, AgentError> {
    client.send(&ClientToServer::Join { nameplate: code.nameplate() }).await?;
    let (technician, organisation, ice) = match client.recv().await? {
        ServerToClient::Joined { technician, organisation, ice } => (technician, organisation, ice),
        ServerToClient::Error(e) => return Err(AgentError::Refused(e)),
        _ => return Err(AgentError::Internal("unexpected answer from the server")),
    };
    println!("Connecting to your technician {technician}…");
    let psk = pairing::pake(client, Route::Peer, code, Role::Agent).await?;
    Ok((technician, organisation, ice, psk))
}

/// Asks a desk for help (checked against its fields first) and waits in
/// its queue until a technician takes the request; the server hands both
/// sides the session's key.
async fn ask_for_help(
    client: &mut SignalClient,
    ask: HelpRequest,
    events: &Option<mpsc::UnboundedSender<AgentEvent>>,
) -> Result<Met, AgentError> {
    client.send(&ClientToServer::DeskInfo { desk: ask.desk.clone() }).await?;
    let timeout = match client.recv().await? {
        ServerToClient::DeskInfo { fields, timeout_secs, .. } => {
            ask.check(&fields).map_err(|e| AgentError::Help(e.to_string()))?;
            timeout_secs
        }
        ServerToClient::Error(e) => return Err(AgentError::Refused(e)),
        _ => return Err(AgentError::Internal("unexpected answer from the server")),
    };
    client.send(&ClientToServer::AskForHelp(ask)).await?;
    loop {
        match client.recv().await? {
            ServerToClient::Queued { request, position } => {
                println!(
                    "queued: request {request}, position {position}; a technician answers within {timeout} s"
                );
                notify(events, AgentEvent::Queued(position));
            }
            ServerToClient::QueuePosition(position) => {
                println!("position: {position}");
                notify(events, AgentEvent::Queued(position));
            }
            ServerToClient::HelpRefused(why) => return Err(AgentError::Help(why)),
            ServerToClient::NobodyAnswered => {
                return Err(AgentError::Help("Nobody could answer in time. Please try again later.".into()));
            }
            ServerToClient::Claimed { technician, organisation, ice, psk } => {
                println!("Connecting to your technician {technician}…");
                return Ok((technician, organisation, ice, psk));
            }
            ServerToClient::Error(e) => return Err(AgentError::Refused(e)),
            _ => {}
        }
    }
}

/// What `desk` asks its customers: its fields, for the "Get help" form.
pub async fn desk_info(server: &str, trust: &ServerTrust, desk: &str) -> Result<Vec<FieldSpec>, AgentError> {
    let mut client = SignalClient::connect(server, trust).await?;
    client.send(&ClientToServer::DeskInfo { desk: desk.to_owned() }).await?;
    let answer = client.recv().await;
    client.close().await;
    match answer? {
        ServerToClient::DeskInfo { fields, .. } => Ok(fields),
        ServerToClient::Error(e) => Err(AgentError::Refused(e)),
        _ => Err(AgentError::Internal("unexpected answer from the server")),
    }
}

/// Meets the technician, swaps addresses and accepts the console.
async fn pair(
    client: &mut SignalClient,
    join: &Join,
    relay_only: bool,
    events: &Option<mpsc::UnboundedSender<AgentEvent>>,
) -> Result<Paired, AgentError> {
    let (technician, organisation, ice, psk) = match join {
        Join::Code(code) => join_code(client, code).await?,
        Join::Help(ask) => ask_for_help(client, ask.clone(), events).await?,
    };
    let server_ip = client.server_addr().ip();
    let ice_path = pairing::connect_ice(client, Route::Peer, server_ip, &ice, false, relay_only).await?;
    let path = ice_path.path();
    info!(%path, local = ice_path.local_address(), "found a path to the technician");
    let endpoint = socket::endpoint(Box::new(ice_path), Some(peer::peer_server_config()?))?;
    let static_key = StaticKey::generate()?;
    let (conn, keys, channels) =
        peer::accept(&endpoint, &PeerSecrets { static_key: &static_key, psk }).await?;
    Ok(Paired {
        static_key: Arc::new(static_key),
        technician,
        organisation,
        ice,
        server_ip,
        endpoint,
        path,
        conn,
        keys,
        channels,
    })
}

/// Longest wait, at the end, for input the technician sent before ending.
const INPUT_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Where to connect and which code to use.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Rendezvous `HOST:PORT`.
    pub server: String,
    /// The code the customer typed, or their help request.
    pub join: Join,
    /// How to trust the server's key.
    pub trust: ServerTrust,
    /// Connect only through the relay: the technician never learns this
    /// computer's addresses.
    pub relay_only: bool,
    /// The folders offered for files.
    pub folders: Folders,
    /// Which ways the clipboard is shared.
    pub clipboard: ClipboardPolicy,
}

/// The platform pieces, made lazily so tests can substitute them.
pub struct Platform {
    /// Opens the screen (again for each expert).
    pub screen: crate::expert::OpenScreen,
    /// Opens the input sink (on its own thread).
    pub input: Box<dyn FnOnce() -> Result<Box<dyn InputSink>, InputError> + Send>,
    /// Opens the pointer reader.
    pub cursor: Box<dyn FnOnce() -> Result<Box<dyn CursorSource>, CaptureError> + Send>,
    /// Opens the clipboard (on its own thread).
    pub clipboard: OpenClipboard,
    /// Asks the customer.
    pub consent: Arc<dyn ConsentAsker>,
    /// The customer's buttons (Stop control, End session), from a window.
    pub commands: Option<mpsc::UnboundedReceiver<Command>>,
    /// What the window shows: who connected, what they may do, the end.
    pub events: Option<mpsc::UnboundedSender<AgentEvent>>,
    /// Asks the customer, once the session is over, how it went: a rating
    /// from 1 to 5 and a comment, or nothing. Blocking.
    pub survey: Box<dyn FnOnce() -> Option<(u8, String)> + Send>,
}

/// What the customer can do from the window at any time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Take control back at once.
    StopControl,
    /// End the session.
    End,
    /// Send a chat line to the technician.
    Chat(String),
    /// Share the clipboard these ways from now on.
    Clipboard(ClipboardPolicy),
    /// Stop a file transfer.
    CancelTransfer(u32),
    /// Disconnect expert N and keep them out.
    RemoveExpert(u32),
}

/// What happened, for the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// Connected to this technician; these are the words to compare.
    Connected {
        /// Technician's name.
        technician: String,
        /// Technician's organisation.
        organisation: String,
        /// The four words.
        sas: String,
        /// The path the session runs on.
        path: PathInfo,
    },
    /// What the technician may do now.
    Consent(Consent),
    /// A chat line from the technician.
    Chat(String),
    /// The technician's console confirmed the customer's oldest
    /// unconfirmed chat line.
    ChatDelivered,
    /// A file transfer moved on or ended.
    Transfer(files::Shown, files::Progress),
    /// The help request waits at this place in its desk's queue.
    Queued(u32),
    /// An expert the technician invited connected (or left).
    Expert {
        /// Their number in the session.
        number: u32,
        /// What the technician calls them.
        name: String,
        /// Connected now, or gone.
        connected: bool,
    },
}

fn notify(events: &Option<mpsc::UnboundedSender<AgentEvent>>, event: AgentEvent) {
    if let Some(tx) = events {
        let _ = tx.send(event);
    }
}

async fn next_command(commands: &mut Option<mpsc::UnboundedReceiver<Command>>) -> Command {
    match commands {
        Some(rx) => match rx.recv().await {
            Some(c) => c,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Platform")
    }
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The technician ended it.
    TechnicianEnded,
    /// The customer ended it.
    CustomerEnded,
    /// The customer declined to share the screen.
    Declined,
    /// The connection closed.
    ConnectionClosed,
}

async fn ask(consent: &Arc<dyn ConsentAsker>, who: &Asker, what: Permission) -> bool {
    let (consent, who) = (Arc::clone(consent), who.clone());
    tokio::task::spawn_blocking(move || consent.ask(&who, what)).await.unwrap_or(false)
}

async fn report(sender: &Mutex<SignalSender>, r: SessionReport) {
    if let Err(e) = sender.lock().await.send(&ClientToServer::Report(r)).await {
        warn!("could not report to the server: {e}");
    }
}

/// Runs one session to its end.
pub async fn run(opts: AgentOptions, mut platform: Platform) -> Result<EndReason, AgentError> {
    // Every question, whoever asks it, waits for the one before.
    platform.consent = Arc::new(crate::consent::OneAtATime::new(platform.consent));
    let source = (platform.screen)()?;
    let screen_size = source.size();
    let (monitors, active) = source.monitors();
    let mut client = SignalClient::connect(&opts.server, &opts.trust).await?;
    let paired = match pair(&mut client, &opts.join, opts.relay_only, &platform.events).await {
        Ok(p) => p,
        Err(e) => {
            // Deliver what we told the server (a wrong code burns it) before leaving.
            client.close().await;
            return Err(e);
        }
    };
    let Paired { static_key, technician, organisation, ice, server_ip, endpoint, path, conn, keys, channels } =
        paired;
    let sas = keys.sas().to_string();

    println!("sas: {sas}");
    println!("path: {path}");
    info!(%path, "connected to the technician");

    let (sender, mut receiver, handle) = client.split();
    let sender = Mutex::new(sender);
    report(&sender, SessionReport::Connected { path }).await;
    let who = Asker { technician, organisation, sas };
    notify(
        &platform.events,
        AgentEvent::Connected {
            technician: who.technician.clone(),
            organisation: who.organisation.clone(),
            sas: who.sas.clone(),
            path,
        },
    );
    let preset = platform.consent.is_preset();
    let view = ask(&platform.consent, &who, Permission::View).await;
    report(&sender, SessionReport::Consent { view, control: false, preset }).await;

    let (mut control_send, mut control_recv) = channels.control;
    control_send
        .send(&control::AgentToConsole::Hello { width: screen_size.0, height: screen_size.1 })
        .await?;
    control_send.send(&control::AgentToConsole::Consent(Consent { view, control: false })).await?;
    let (consent_tx, consent_rx) = watch::channel(Consent { view, control: false });
    // Who drives while control is allowed: the owner (`None`) or an expert.
    let driver = Arc::new(watch::channel(None::<u32>).0);
    notify(&platform.events, AgentEvent::Consent(Consent { view, control: false }));

    let outcome = if view {
        let shared = monitors.iter().find(|m| m.id == active).cloned().unwrap_or(control::Monitor {
            id: active,
            name: String::new(),
            x: 0,
            y: 0,
            width: screen_size.0,
            height: screen_size.1,
            primary: true,
        });
        control_send.send(&control::AgentToConsole::Monitors { list: monitors.clone(), active }).await?;
        let (monitor_tx, monitor_rx) = watch::channel(shared);
        let (lossy_tx, lossy_rx) = watch::channel(true);
        let pipeline = Pipeline { source, encoder: Encoder::new(DEFAULT_LEVEL)? };
        let (sink, input_thread) = stream::spawn_input_thread(platform.input);
        let (screen_send, screen_recv) = channels.screen;
        let (_, input_recv) = channels.input;
        let (chat_send, chat_recv) = channels.chat;
        let chat_send = Arc::new(Mutex::new(chat_send));
        let (cursor_send, _) = channels.cursor;
        let (files_send, files_recv) = channels.files;
        let (clip_send, clip_recv) = channels.clipboard;
        let (clip_policy, clip_watch) = watch::channel(opts.clipboard);
        let sharing = clipboard::serve(platform.clipboard, clip_send, clip_recv, clip_watch);
        let desk = Arc::new(FileDesk {
            hub: tether_transport::files::Hub::start(conn.clone(), keys, files_send),
            consent: Arc::clone(&platform.consent),
            who: who.clone(),
            folders: Arc::new(opts.folders.clone()),
            events: platform.events.clone(),
            room: Arc::new(tokio::sync::Semaphore::new(files::MAX_TRANSFERS)),
        });
        let pointer =
            cursor::stream_cursor(cursor_send, (platform.cursor)(), consent_rx.clone(), monitor_rx.clone());
        let mut commands = platform.commands;
        let events = platform.events.clone();
        let mut chat_id = 0;
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<ClientToServer>();
        let room = crate::expert::Room {
            vouches: crate::expert::Vouches::default(),
            static_key,
            ice: ice.clone(),
            server_ip,
            relay_only: opts.relay_only,
            consent: consent_rx.clone(),
            driver: Arc::clone(&driver),
            sink: sink.clone(),
            removed: Arc::new(watch::channel(std::collections::HashSet::new()).0),
            monitor: monitor_rx.clone(),
            screen: (screen_size, monitors.clone()),
            open: Arc::clone(&platform.screen),
            out: out_tx,
            events: platform.events.clone(),
        };
        let control_loop = async {
            // The customer's answer to a control request, while they think:
            // the rest of the control channel goes on meanwhile.
            let mut asking: Option<std::pin::Pin<Box<dyn Future<Output = bool> + Send>>> = None;
            loop {
                let control = tokio::select! {
                    granted = async {
                        match asking.as_mut() {
                            Some(answer) => answer.await,
                            None => std::future::pending().await,
                        }
                    }, if asking.is_some() => {
                        asking = None;
                        granted
                    }
                    msg = control_recv.recv() => match msg? {
                        None => return Ok(EndReason::ConnectionClosed),
                        Some(control::ConsoleToAgent::Hello { .. }) => continue,
                        Some(control::ConsoleToAgent::End) => return Ok(EndReason::TechnicianEnded),
                        Some(control::ConsoleToAgent::RequestControl) => {
                            if asking.is_none() {
                                let (consent, who) = (Arc::clone(&platform.consent), who.clone());
                                asking = Some(Box::pin(async move { ask(&consent, &who, Permission::Control).await }));
                            }
                            continue;
                        }
                        Some(control::ConsoleToAgent::Vouch { expert, name, key, psk }) => {
                            println!("vouched: {name} (expert {expert})");
                            info!(expert, "the technician vouched for an expert");
                            let vouch = crate::expert::Vouch { name, key, psk };
                            room.vouches.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(expert, vouch);
                            continue;
                        }
                        Some(control::ConsoleToAgent::PassControl { expert }) => {
                            let allowed = consent_tx.borrow().control
                                && expert.is_none_or(|n| room.is_vouched(n));
                            if !allowed {
                                warn!(?expert, "the technician passed control it cannot pass");
                                continue;
                            }
                            driver.send_replace(expert);
                            println!("driver: {}", expert.map_or_else(|| "the technician".to_owned(), |n| format!("expert {n}")));
                            let now = *consent_tx.borrow();
                            let mine = Consent { view: now.view, control: now.control && expert.is_none() };
                            control_send.send(&control::AgentToConsole::Consent(mine)).await?;
                            continue;
                        }
                        Some(control::ConsoleToAgent::Lossy { allowed }) => {
                            info!(allowed, "the technician set lossy photo tiles under pressure");
                            lossy_tx.send_replace(allowed);
                            continue;
                        }
                        Some(control::ConsoleToAgent::SelectMonitor { id }) => {
                            match monitors.iter().find(|m| m.id == id) {
                                Some(m) => {
                                    info!(monitor = %m.name, "the technician switched monitors");
                                    monitor_tx.send_replace(m.clone());
                                    let list = monitors.clone();
                                    control_send.send(&control::AgentToConsole::Monitors { list, active: id }).await?;
                                }
                                None => warn!(id, "the technician asked for a monitor that does not exist"),
                            }
                            continue;
                        }
                    },
                    command = next_command(&mut commands) => match command {
                        Command::StopControl => false,
                        Command::RemoveExpert(n) => {
                            room.remove(n);
                            continue;
                        }
                        Command::CancelTransfer(id) => {
                            info!(id, "the customer cancelled a transfer");
                            desk.hub.cancel(id).await?;
                            continue;
                        }
                        Command::Clipboard(policy) => {
                            info!(?policy, "the customer changed clipboard sharing");
                            clip_policy.send_replace(policy);
                            continue;
                        }
                        Command::Chat(text) => {
                            chat_id += 1;
                            let message = chat::ChatMessage { id: chat_id, text: chat::clip(&text).to_owned() };
                            chat_send.lock().await.send(&chat::AgentToConsole::Message(message)).await?;
                            continue;
                        }
                        Command::End => {
                            let reason = "The customer ended the session.".to_owned();
                            control_send.send(&control::AgentToConsole::Ended { reason }).await?;
                            control_send.finish_and_flush().await;
                            return Ok(EndReason::CustomerEnded);
                        }
                    },
                };
                // Takes effect here, before the console hears of it: the
                // input pump checks this on every event.
                consent_tx.send_modify(|c| c.control = control);
                if !control {
                    // Taken back from everyone: the owner drives when it comes back.
                    driver.send_replace(None);
                }
                let now = *consent_tx.borrow();
                notify(&events, AgentEvent::Consent(now));
                control_send.send(&control::AgentToConsole::Consent(now)).await?;
                report(&sender, SessionReport::Consent { view: now.view, control, preset }).await;
                info!(control, "control {}", if control { "granted" } else { "denied or stopped" });
            }
        };
        let watch_server = async {
            let mut doors = crate::expert::Doors::default();
            loop {
                tokio::select! {
                    msg = receiver.recv() => match msg {
                        Ok(ServerToClient::PeerLeft) | Err(_) => return,
                        Ok(msg) => { doors.route(&room, &msg); }
                    },
                    Some(out) = out_rx.recv() => {
                        if let Err(e) = sender.lock().await.send(&out).await {
                            warn!("could not send to the server: {e}");
                        }
                    }
                }
            }
        };
        let owner_gate = stream::Gate { consent: consent_rx.clone(), driver: driver.subscribe(), me: None };
        let mut input = Box::pin(stream::forward_input(input_recv, sink, owner_gate, monitor_rx.clone()));
        let mut input_done = false;
        let outcome = tokio::select! {
            r = control_loop => r,
            r = stream::stream_screen(screen_send, screen_recv, pipeline, consent_rx.clone(), monitor_rx, lossy_rx) => r.map(|()| EndReason::ConnectionClosed),
            r = &mut input => { input_done = true; r.map(|()| EndReason::ConnectionClosed) }
            r = receive_chat(chat_recv, &chat_send, &platform.events) => r.map(|()| EndReason::ConnectionClosed),
            r = pointer => r.map(|()| EndReason::ConnectionClosed),
            r = files::serve(Arc::clone(&desk), files_recv) => r.map(|()| EndReason::ConnectionClosed),
            r = sharing => r.map(|()| EndReason::ConnectionClosed),
            () = watch_server => Ok(EndReason::ConnectionClosed),
            e = conn.closed() => { info!("connection closed: {e}"); Ok(EndReason::ConnectionClosed) }
        };
        // The console finishes its input stream before it says End; execute
        // what it sent up to then, and let the input thread finish typing.
        if !input_done && matches!(outcome, Ok(EndReason::TechnicianEnded)) {
            let _ = tokio::time::timeout(INPUT_DRAIN, &mut input).await;
        }
        // Dropping the future drops the sender, so the thread ends once it is idle.
        drop(input);
        let _ =
            tokio::time::timeout(INPUT_DRAIN, tokio::task::spawn_blocking(move || input_thread.join())).await;
        outcome
    } else {
        let reason = "The customer declined to share the screen.".to_owned();
        control_send.send(&control::AgentToConsole::Ended { reason }).await?;
        control_send.finish_and_flush().await;
        Ok(EndReason::Declined)
    };
    let stats = conn.stats();
    report(
        &sender,
        SessionReport::Ended { bytes_sent: stats.udp_tx.bytes, bytes_received: stats.udp_rx.bytes },
    )
    .await;
    match &outcome {
        Ok(_) => conn.close(peer::CLOSE_ENDED.into(), b"session ended"),
        Err(e) => {
            warn!("ending the session: {e}");
            conn.close(peer::CLOSE_PROTOCOL.into(), b"protocol error");
        }
    }
    endpoint.wait_idle().await;
    // The survey goes into the record before the server connection closes.
    if matches!(
        outcome,
        Ok(EndReason::TechnicianEnded | EndReason::CustomerEnded | EndReason::ConnectionClosed)
    ) && let Ok(Some((rating, comment))) = tokio::task::spawn_blocking(platform.survey).await
        && (1..=5).contains(&rating)
    {
        println!("survey: {rating} {comment}");
        report(&sender, SessionReport::Survey { rating, comment }).await;
    }
    handle.close(sender.into_inner()).await;
    outcome
}

async fn receive_chat(
    mut recv: tether_transport::peer::ChannelRecv<chat::ConsoleToAgent>,
    send: &Mutex<tether_transport::peer::ChannelSend<chat::AgentToConsole>>,
    events: &Option<mpsc::UnboundedSender<AgentEvent>>,
) -> Result<(), AgentError> {
    while let Some(msg) = recv.recv().await? {
        match msg {
            chat::ConsoleToAgent::Message(m) => {
                if m.text.len() > chat::MAX_CHAT_BYTES {
                    warn!("dropped an over-long chat message from the technician");
                    continue;
                }
                println!("technician: {}", m.text);
                notify(events, AgentEvent::Chat(m.text));
                send.lock().await.send(&chat::AgentToConsole::Receipt { id: m.id }).await?;
            }
            chat::ConsoleToAgent::Receipt { id } => {
                println!("chat: delivered #{id}");
                notify(events, AgentEvent::ChatDelivered);
            }
        }
    }
    Ok(())
}
