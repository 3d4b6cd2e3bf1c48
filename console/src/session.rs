//! The technician's session logic, shared by the headless mode and the GUI.
//!
//! Lifecycle: [`Technician::login`] → [`Technician::new_code`] →
//! [`Technician::wait_for_customer`] (PAKE, addresses, QUIC, Noise) →
//! a [`LiveSession`] whose background tasks decode frames into the shared
//! [`View`] and track the customer's consent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tether_protocol::admin::AccountRole;
use tether_protocol::channel::clipboard::Clip;
use tether_protocol::channel::control::{self, Consent};
use tether_protocol::channel::cursor::CursorShape;
use tether_protocol::channel::{chat, input};
use tether_protocol::code::{PairingCode, Secret};
use tether_protocol::codec::Decoder;
use tether_protocol::handshake::StaticKey;
use tether_protocol::ice::IceServers;
use tether_protocol::pake::Role;
use tether_protocol::signal::{
    ClientToServer, PathInfo, ServerToClient, SessionReport, SessionSummary, SignalError,
};
use tether_transport::TransportError;
use tether_transport::pairing::{self, PairingError, Route};
use tether_transport::peer::{self, ChannelSend, ConsoleChannels, PeerSecrets};
use tether_transport::signal_client::{ServerTrust, SignalClient};
use tether_transport::socket::{self, PathSocket};
use tokio::sync::{mpsc, watch};
use tracing::warn;

use crate::receivers::{
    receive_chat, receive_clipboard, receive_control, receive_cursor, receive_screen, watch_link,
};

/// Why the console could not get a session going.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The server refused.
    #[error("{0}")]
    Refused(SignalError),
    /// The customer typed the wrong secret digits.
    #[error("The customer typed a wrong code. Code {0} is burned; make a new one.")]
    CodeBurned(PairingCode),
    /// Nobody used the code in time.
    #[error("Code {0} expired before the customer used it; make a new one.")]
    CodeExpired(PairingCode),
    /// Pairing failed otherwise.
    #[error(transparent)]
    Pairing(#[from] PairingError),
    /// The network failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The secure session failed to start.
    #[error(transparent)]
    Handshake(#[from] tether_protocol::handshake::HandshakeError),
    /// The session is over.
    #[error("the session has ended")]
    Ended,
    /// The expert typed a wrong invite secret; the invite is used up.
    #[error("That invite code is not right, and it cannot be used again. Ask for a new invite.")]
    InviteBurned,
}

/// A paired peer connection: endpoint, path, connection, keys, channels.
pub(crate) type Paired =
    (quinn::Endpoint, PathInfo, quinn::Connection, tether_protocol::crypt::SessionKeys, ConsoleChannels);

/// A logged-in technician.
#[derive(Debug)]
pub struct Technician {
    pub(crate) client: SignalClient,
    /// Display name.
    pub name: String,
    /// Organisation.
    pub organisation: String,
    /// What the account may do (the server checks again).
    pub role: AccountRole,
    /// Offer only relayed candidates: the customer never learns this
    /// console's addresses.
    pub relay_only: bool,
    /// The desk's canned chat replies, from the server.
    pub canned: Vec<String>,
}

impl Technician {
    /// Connects and logs in.
    pub async fn login(
        server: &str,
        trust: &ServerTrust,
        user: &str,
        password: &str,
    ) -> Result<Self, ConsoleError> {
        let mut client = SignalClient::connect(server, trust).await?;
        client.send(&ClientToServer::Login { user: user.to_owned(), password: password.to_owned() }).await?;
        match client.recv().await? {
            ServerToClient::LoggedIn { name, organisation, role } => {
                let mut me = Self { client, name, organisation, role, relay_only: false, canned: Vec::new() };
                me.canned = me.canned_replies().await?;
                Ok(me)
            }
            ServerToClient::Error(e) => Err(ConsoleError::Refused(e)),
            _ => Err(TransportError::Protocol("unexpected answer to login").into()),
        }
    }

    /// Asks for a nameplate and adds a fresh secret: the code to read out.
    pub async fn new_code(&mut self) -> Result<(PairingCode, Duration), ConsoleError> {
        self.client.send(&ClientToServer::CreateCode).await?;
        match self.client.recv().await? {
            ServerToClient::CodeCreated { nameplate, expires_in_secs } => {
                Ok((PairingCode::new(nameplate, Secret::random()), Duration::from_secs(expires_in_secs)))
            }
            ServerToClient::Error(e) => Err(ConsoleError::Refused(e)),
            _ => Err(TransportError::Protocol("unexpected answer to a code request").into()),
        }
    }

    /// The technician's most recent sessions, newest first, from the
    /// server's records.
    pub async fn recent_sessions(&mut self) -> Result<Vec<SessionSummary>, ConsoleError> {
        self.client.send(&ClientToServer::RecentSessions).await?;
        match self.client.recv().await? {
            ServerToClient::RecentSessions(list) => Ok(list),
            ServerToClient::Error(e) => Err(ConsoleError::Refused(e)),
            _ => Err(TransportError::Protocol("unexpected answer to a request for recent sessions").into()),
        }
    }

    /// The canned chat replies the server keeps (none from a server that
    /// has none).
    pub async fn canned_replies(&mut self) -> Result<Vec<String>, ConsoleError> {
        self.client.send(&ClientToServer::CannedReplies).await?;
        match self.client.recv().await? {
            ServerToClient::CannedReplies(mut list) => {
                list.truncate(tether_protocol::signal::MAX_CANNED);
                list.retain(|r| r.len() <= chat::MAX_CHAT_BYTES);
                Ok(list)
            }
            ServerToClient::Error(SignalError::Unexpected) => Ok(Vec::new()),
            ServerToClient::Error(e) => Err(ConsoleError::Refused(e)),
            _ => Err(TransportError::Protocol("unexpected answer to a request for canned replies").into()),
        }
    }

    /// Waits for the customer to use `code`, then sets up the session.
    ///
    /// On failure the server connection is closed gracefully, so what we
    /// told it (a wrong code burns it) arrives before we leave.
    pub async fn wait_for_customer(
        mut self,
        code: PairingCode,
        expires_in: Duration,
    ) -> Result<LiveSession, ConsoleError> {
        match self.meet(code, expires_in).await {
            Ok((ice, psk)) => self.start_session(&ice, psk).await,
            Err(e) => {
                self.client.close().await;
                Err(e)
            }
        }
    }

    /// Waits for the customer on `code` and runs the PAKE: the session's
    /// STUN/TURN and key.
    async fn meet(
        &mut self,
        code: PairingCode,
        expires_in: Duration,
    ) -> Result<(IceServers, [u8; 32]), ConsoleError> {
        let deadline = tokio::time::Instant::now() + expires_in;
        let ice = loop {
            match tokio::time::timeout_at(deadline, self.client.recv()).await {
                Err(_) => return Err(ConsoleError::CodeExpired(code)),
                Ok(msg) => match msg? {
                    ServerToClient::PeerJoined { ice } => break ice,
                    ServerToClient::Error(e) => return Err(ConsoleError::Refused(e)),
                    _ => {}
                },
            }
        };
        let psk = match pairing::pake(&mut self.client, Route::Peer, &code, Role::Console).await {
            Err(PairingError::WrongCode) => return Err(ConsoleError::CodeBurned(code)),
            other => other?,
        };
        Ok((ice, psk))
    }

    /// Swaps addresses with the customer's agent and connects to it with
    /// the session's key; then the session starts.
    pub(crate) async fn start_session(
        mut self,
        ice: &IceServers,
        psk: [u8; 32],
    ) -> Result<LiveSession, ConsoleError> {
        match self.connect_peer(ice, psk).await {
            Ok(paired) => {
                let path = paired.1;
                let mut session = LiveSession::start(self, true, paired);
                session.report(SessionReport::Connected { path }).await;
                Ok(session)
            }
            Err(e) => {
                self.client.close().await;
                Err(e)
            }
        }
    }

    async fn connect_peer(&mut self, ice: &IceServers, psk: [u8; 32]) -> Result<Paired, ConsoleError> {
        let server_ip = self.client.server_addr().ip();
        let path = pairing::connect_ice(&mut self.client, Route::Peer, server_ip, ice, true, self.relay_only)
            .await?;
        let kind = path.path();
        let endpoint = socket::endpoint(Box::new(path), None)?;
        let static_key = StaticKey::generate()?;
        let secrets = PeerSecrets { static_key: &static_key, psk };
        let (conn, keys, channels) =
            peer::connect(&endpoint, tether_transport::ice::VIRTUAL_PEER, &secrets).await?;
        Ok((endpoint, kind, conn, keys, channels))
    }
}

/// The remote screen as the console sees it, plus counters for the status bar.
#[derive(Debug)]
pub struct View {
    /// The decoder and its framebuffer.
    pub decoder: Decoder,
    /// Frames decoded.
    pub frames: u64,
    /// Screen bytes received.
    pub bytes: u64,
    /// Scrolled blocks received as copies.
    pub copies: u64,
    /// Tiles received lossy (photo and video under bandwidth pressure).
    pub lossy: u64,
    /// The customer's pointer.
    pub pointer: Pointer,
    /// The customer's monitors and the id of the shared one.
    pub monitors: (Vec<control::Monitor>, u32),
    /// When the last frame arrived.
    pub last_frame: Option<Instant>,
    /// When the first frame arrived, by the wall clock (for timing across
    /// processes).
    pub first_frame: Option<std::time::SystemTime>,
    /// The agent's screen size from its hello.
    pub screen: (u32, u32),
    /// Why the agent ended, if it did.
    pub ended: Option<String>,
    /// The chat so far, oldest first.
    pub chat: Vec<ChatLine>,
    /// When our chat lines still waiting for a receipt were sent.
    pub sent_at: std::collections::HashMap<u64, Instant>,
    /// What the customer copied last, and a count of their copies.
    pub clipboard: (Option<Clip>, u64),
    /// The customer's link has gone quiet (QUIC is still retrying).
    pub stalled: bool,
}

impl View {
    /// The once-a-second stats line both front ends print.
    #[must_use]
    pub fn stats_line(&self, fps: f64, kbps: f64) -> String {
        format!(
            "stats: fps={fps:.1} kB/s={kbps:.1} frames={} copies={} lossy={} approx={}",
            self.frames,
            self.copies,
            self.lossy,
            self.decoder.approx_tiles()
        )
    }

    /// Whether the picture has settled: no frame for `still`, and no tile
    /// left lossy (the agent refines those once the screen is still).
    #[must_use]
    pub fn settled(&self, still: Duration) -> bool {
        self.last_frame.is_some_and(|t| t.elapsed() >= still) && self.decoder.approx_tiles() == 0
    }
}

/// One line of the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// Who wrote it.
    pub author: ChatAuthor,
    /// What.
    pub text: String,
    /// Its writer's sequence number.
    pub id: u64,
    /// For our own lines: how long the receipt took, once it came.
    pub delivered: Option<Duration>,
}

/// Who wrote a chat line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatAuthor {
    /// This console.
    Technician,
    /// The customer.
    Customer,
}

/// Most chat lines kept in memory.
pub const MAX_CHAT_LINES: usize = 500;

pub(crate) fn push_chat(view: &Mutex<View>, line: ChatLine) {
    let mut v = lock(view);
    if v.chat.len() >= MAX_CHAT_LINES {
        v.chat.remove(0);
    }
    v.chat.push(line);
}

/// A running session with the customer.
#[derive(Debug)]
pub struct LiveSession {
    name: String,
    organisation: String,
    /// Facts for the session record, sent in order by the server link.
    reports: mpsc::UnboundedSender<SessionReport>,
    /// The server connection while the session runs.
    pub(crate) server: Arc<crate::server::ServerLink>,
    endpoint: quinn::Endpoint,
    conn: quinn::Connection,
    input: ChannelSend<input::ConsoleToAgent>,
    pub(crate) control: Arc<tokio::sync::Mutex<ChannelSend<control::ConsoleToAgent>>>,
    /// The agent's Noise static key, for the experts this console invites.
    pub(crate) agent_key: [u8; 32],
    /// How many invited experts were vouched for.
    pub vouched: Arc<watch::Sender<u32>>,
    chat: Arc<tokio::sync::Mutex<ChannelSend<chat::ConsoleToAgent>>>,
    chat_id: u64,
    clipboard: ChannelSend<Clip>,
    /// The short authentication string.
    pub sas: String,
    /// Which path the session runs on.
    pub path: PathInfo,
    /// What the customer allows.
    pub consent: watch::Receiver<Consent>,
    /// The remote screen.
    pub view: Arc<Mutex<View>>,
    /// The desk's canned chat replies.
    pub canned: Vec<String>,
    /// File transfers both ways.
    pub files: Arc<crate::files::Files>,
}

impl LiveSession {
    /// Starts the session's tasks on a paired connection; `record` is
    /// false for an expert, whose session the owner records.
    pub(crate) fn start(technician: Technician, record: bool, paired: Paired) -> Self {
        let (endpoint, path, conn, keys, channels) = paired;
        let sas = keys.sas().to_string();
        let view = Arc::new(Mutex::new(View {
            decoder: Decoder::new().unwrap_or_else(|_| unreachable!("a zstd decoder always starts")),
            frames: 0,
            bytes: 0,
            copies: 0,
            lossy: 0,
            pointer: Pointer::default(),
            monitors: (Vec::new(), 0),
            last_frame: None,
            first_frame: None,
            screen: (0, 0),
            ended: None,
            chat: Vec::new(),
            sent_at: std::collections::HashMap::new(),
            clipboard: (None, 0),
            stalled: false,
        }));
        let (consent_tx, consent) = watch::channel(Consent::default());
        let ConsoleChannels {
            control: (control, control_recv),
            screen: (screen_send, screen_recv),
            input: (input, _),
            chat: (chat, chat_recv),
            cursor: (_, cursor_recv),
            files: (files_send, files_recv),
            clipboard: (clipboard, clipboard_recv),
        } = channels;
        tokio::spawn(receive_clipboard(clipboard_recv, Arc::clone(&view)));
        let agent_key = <[u8; 32]>::try_from(keys.remote_static()).unwrap_or_default();
        let (name, organisation) = (technician.name.clone(), technician.organisation.clone());
        let canned = technician.canned.clone();
        let server = Arc::new(crate::server::start(technician.client, record));
        let reports = server.reports.clone();
        let files = crate::files::Files::start(conn.clone(), keys, files_send, files_recv, reports.clone());
        let chat = Arc::new(tokio::sync::Mutex::new(chat));
        tokio::spawn(receive_screen(screen_recv, screen_send, Arc::clone(&view), conn.clone()));
        tokio::spawn(receive_control(control_recv, consent_tx, Arc::clone(&view)));
        tokio::spawn(receive_chat(chat_recv, Arc::clone(&chat), Arc::clone(&view), reports.clone()));
        tokio::spawn(receive_cursor(cursor_recv, Arc::clone(&view)));
        tokio::spawn(watch_link(conn.clone(), Arc::clone(&view)));
        Self {
            name,
            organisation,
            reports,
            server,
            endpoint,
            conn,
            input,
            control: Arc::new(tokio::sync::Mutex::new(control)),
            agent_key,
            vouched: Arc::new(watch::channel(0).0),
            chat,
            chat_id: 0,
            clipboard,
            sas,
            path,
            consent,
            view,
            canned,
            files,
        }
    }

    /// Sends the technician's hello and asks the customer for control.
    pub async fn greet_and_request_control(&mut self) -> Result<(), ConsoleError> {
        self.greet().await?;
        self.request_control().await
    }

    /// Sends the technician's hello.
    pub async fn greet(&mut self) -> Result<(), ConsoleError> {
        let hello = control::ConsoleToAgent::Hello {
            technician: self.name.clone(),
            organisation: self.organisation.clone(),
        };
        Ok(self.control.lock().await.send(&hello).await?)
    }

    /// Asks the customer for control.
    pub async fn request_control(&mut self) -> Result<(), ConsoleError> {
        Ok(self.control.lock().await.send(&control::ConsoleToAgent::RequestControl).await?)
    }

    /// Allows or forbids lossy photo tiles under bandwidth pressure.
    pub async fn allow_lossy(&mut self, allowed: bool) -> Result<(), ConsoleError> {
        Ok(self.control.lock().await.send(&control::ConsoleToAgent::Lossy { allowed }).await?)
    }

    /// Asks the agent to share monitor `id` (from [`View::monitors`]).
    pub async fn select_monitor(&mut self, id: u32) -> Result<(), ConsoleError> {
        Ok(self.control.lock().await.send(&control::ConsoleToAgent::SelectMonitor { id }).await?)
    }

    /// The current round-trip time.
    #[must_use]
    pub fn rtt(&self) -> Duration {
        self.conn.rtt()
    }

    /// Sends one input event. Sent even without control: the agent decides.
    pub async fn input(&mut self, event: input::ConsoleToAgent) -> Result<(), ConsoleError> {
        if !self.consent.borrow().control {
            warn!("control is not granted; the customer's agent will drop this input");
        }
        Ok(self.input.send(&event).await?)
    }

    /// Sends a chat line; the customer's agent answers with a receipt.
    pub async fn chat(&mut self, text: &str) -> Result<(), ConsoleError> {
        self.chat_id += 1;
        let (id, text) = (self.chat_id, chat::clip(text).to_owned());
        let msg = chat::ConsoleToAgent::Message(chat::ChatMessage { id, text: text.clone() });
        push_chat(
            &self.view,
            ChatLine { author: ChatAuthor::Technician, text: text.clone(), id, delivered: None },
        );
        lock(&self.view).sent_at.insert(id, Instant::now());
        self.chat.lock().await.send(&msg).await?;
        self.report(SessionReport::Chat { from_customer: false, text }).await;
        Ok(())
    }

    /// Puts `clip` on the customer's clipboard, if they allow it.
    pub async fn copy_to_customer(&mut self, clip: &Clip) -> Result<(), ConsoleError> {
        Ok(self.clipboard.send(clip).await?)
    }

    /// Adds a fact to the session record (in order with every other).
    pub async fn report(&mut self, r: SessionReport) {
        let _ = self.reports.send(r);
    }

    /// A handle for adding facts to the session record from other tasks.
    #[must_use]
    pub fn reporter(&self) -> mpsc::UnboundedSender<SessionReport> {
        self.reports.clone()
    }

    /// Whether the connection is still up.
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.conn.close_reason().is_none()
    }

    /// A future that completes when the connection closes; it does not
    /// borrow the session, so scripts can run beside it.
    pub fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let conn = self.conn.clone();
        async move {
            conn.closed().await;
        }
    }

    /// Bytes sent and received on the peer connection.
    #[must_use]
    pub fn bytes(&self) -> (u64, u64) {
        let s = self.conn.stats();
        (s.udp_tx.bytes, s.udp_rx.bytes)
    }

    /// Ends the session, records it, and closes everything.
    pub async fn end(mut self) {
        // Chat lines still on their way get a moment to arrive: a line typed
        // just before End reaches the customer (and the record).
        let undelivered =
            |v: &View| v.chat.iter().any(|l| l.author == ChatAuthor::Technician && l.delivered.is_none());
        let deadline = tokio::time::Instant::now() + CHAT_DRAIN;
        while undelivered(&lock(&self.view)) && tokio::time::Instant::now() < deadline && self.is_live() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Finishing input first tells the agent where our input ends, so it
        // executes everything sent before End.
        self.input.finish();
        let _ = self.control.lock().await.send(&control::ConsoleToAgent::End).await;
        // Give the agent a moment to read End before the connection closes.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.conn.closed()).await;
        let (bytes_sent, bytes_received) = self.bytes();
        self.conn.close(peer::CLOSE_ENDED.into(), b"session ended");
        let _ = tokio::time::timeout(Duration::from_secs(2), self.endpoint.wait_idle()).await;
        // Last, so chat lines and files that came in the meantime are in
        // the record before it.
        self.report(SessionReport::Ended { bytes_sent, bytes_received }).await;
        // The server link stops after the Ended report, once it is delivered.
        let done = self.server.done.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(done) = done {
            let _ = tokio::time::timeout(Duration::from_secs(5), done).await;
        }
    }
}

/// Longest wait, at the end, for chat lines still on their way.
const CHAT_DRAIN: Duration = Duration::from_secs(2);

pub(crate) fn lock(view: &Mutex<View>) -> std::sync::MutexGuard<'_, View> {
    view.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The customer's pointer as last reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pointer {
    /// Where it is on the customer's screen, once known.
    pub at: Option<(i32, i32)>,
    /// What it looks like, once known.
    pub shape: Option<CursorShape>,
    /// Goes up with every change, so views know when to redraw.
    pub version: u64,
}
