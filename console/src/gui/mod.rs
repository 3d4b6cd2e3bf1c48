//! The windowed console: login → dashboard → sessions, on iced.
//!
//! The screens own their own state and messages; this module owns the
//! session logic objects (from `session`) and runs their async work as
//! tasks. Several sessions can run at once (`running`); the dashboard lists
//! them and one shows at a time. Values that cannot be cloned travel through
//! messages in a [`Slot`].

mod office;
mod queue;
mod running;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iced::{Element, Subscription, Task, keyboard};
use tether_clipboard::{Arboard, Watcher};
use tether_protocol::code::PairingCode;
use tether_transport::TransportError;
use tether_transport::signal_client::ServerTrust;

use crate::mapping;
use crate::screen::{admin, dashboard, login, reports, session};
use crate::session::{ConsoleError, LiveSession, Technician};
use crate::shortcuts::{self, Place, Shortcut};
use running::{Act, Running};

/// A value handed over once through a cloneable message.
#[derive(Debug)]
pub struct Slot<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Slot<T> {
    fn new(value: T) -> Self {
        Self(Arc::new(Mutex::new(Some(value))))
    }

    fn take(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

/// How the window starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Pre-filled server.
    pub server: String,
    /// Pre-filled user.
    pub user: String,
    /// Log in at once with this password (from `--password-stdin`).
    pub password: Option<String>,
    /// Make a code right after logging in.
    pub new_code: bool,
    /// How to trust the server.
    pub trust: ServerTrust,
    /// Where the last server and user are remembered.
    pub data_dir: std::path::PathBuf,
    /// Interface scale: 1.0, or 2.0 for high-density screens.
    pub scale: f32,
    /// Connect only through the relay.
    pub relay_only: bool,
}

enum Screen {
    Login(login::Login),
    Dashboard,
    Session(u64),
    Reports,
    Admin,
}

struct App {
    opts: Options,
    password: String,
    screen: Screen,
    technician: Option<Technician>,
    dash: dashboard::Dashboard,
    sessions: Vec<Running>,
    next_id: u64,
    /// The technician's clipboard, shared with the session on screen.
    clipboard: Option<Watcher>,
    /// Follows the help-request queue while logged in.
    watcher: Option<iced::task::Handle>,
    /// The back office's connection, while logged in.
    office: Option<(tokio::sync::mpsc::Sender<office::Ask>, iced::task::Handle)>,
    reports: reports::Reports,
    admin: admin::Admin,
}

/// Everything that happens in the window.
#[derive(Debug, Clone)]
pub enum Message {
    /// From the login screen.
    Login(login::Message),
    /// From the dashboard.
    Dashboard(dashboard::Message),
    /// From a session's screen.
    Session(u64, session::Message),
    /// From the reports.
    Reports(reports::Message),
    /// From administration.
    Admin(admin::Message),
    /// The back office answered.
    Office(office::Answer),
    /// The login finished.
    LoggedIn(Result<Slot<Technician>, (String, bool)>),
    /// The technician's recent sessions arrived (or not); the technician
    /// comes back with them.
    Recent(Slot<Technician>, Result<Vec<tether_protocol::signal::SessionSummary>, String>),
    /// A code is ready.
    CodeMade(Result<(Slot<Technician>, PairingCode, Duration), String>),
    /// The customer connected, or it failed.
    Connected(Result<Slot<LiveSession>, String>),
    /// The help-request queue changed.
    Queue(queue::Update),
    /// A help request was taken and its session started, or it failed.
    Taken(Result<Slot<LiveSession>, String>),
    /// A listing of the customer's folder arrived for session `id`.
    Listed(
        u64,
        Option<tether_protocol::files::RelPath>,
        Result<Vec<tether_protocol::channel::files::Entry>, String>,
    ),
    /// An input or control message went out, or failed.
    Sent(Result<(), String>),
    /// This session is over.
    Ended(u64),
    /// Time passed.
    Tick(Instant),
    /// A key was pressed in the window.
    Key(keyboard::Key, keyboard::Modifiers, Option<String>),
}

fn describe(e: &ConsoleError) -> (String, bool) {
    (e.to_string(), matches!(e, ConsoleError::Transport(TransportError::ServerKeyChanged { .. })))
}

impl App {
    fn boot(opts: Options) -> (Self, Task<Message>) {
        let mut opts = opts;
        if opts.server.is_empty()
            && let Some((server, user)) = remembered(&opts.data_dir)
        {
            opts.server = server;
            if opts.user.is_empty() {
                opts.user = user;
            }
        }
        let login = login::Login::new(opts.server.clone(), opts.user.clone());
        let password = opts.password.clone().unwrap_or_default();
        let mut app = Self {
            opts,
            password,
            screen: Screen::Login(login),
            technician: None,
            dash: dashboard::Dashboard::new(String::new(), Instant::now()),
            sessions: Vec::new(),
            next_id: 1,
            clipboard: Watcher::start(Box::new(Arboard::open)).ok(),
            watcher: None,
            office: None,
            reports: reports::Reports::new(unix_now()),
            admin: admin::Admin::default(),
        };
        let task = if app.opts.password.is_some() {
            app.log_in()
        } else if app.opts.server.is_empty() {
            iced::widget::operation::focus("server")
        } else if app.opts.user.is_empty() {
            iced::widget::operation::focus("user")
        } else {
            iced::widget::operation::focus("password")
        };
        (app, task)
    }

    fn log_in(&mut self) -> Task<Message> {
        let (server, user, password, trust) = (
            self.opts.server.clone(),
            self.opts.user.clone(),
            self.password.clone(),
            self.opts.trust.clone(),
        );
        Task::perform(async move { Technician::login(&server, &trust, &user, &password).await }, |r| {
            Message::LoggedIn(r.map(Slot::new).map_err(|e| describe(&e)))
        })
    }

    fn login(&self) -> queue::Login {
        queue::Login {
            server: self.opts.server.clone(),
            trust: self.opts.trust.clone(),
            user: self.opts.user.clone(),
            password: self.password.clone(),
        }
    }

    fn new_code(&mut self) -> Task<Message> {
        let existing = self.technician.take();
        let relay_only = self.opts.relay_only;
        let (server, user, password, trust) = (
            self.opts.server.clone(),
            self.opts.user.clone(),
            self.password.clone(),
            self.opts.trust.clone(),
        );
        Task::perform(
            async move {
                let mut tech = match existing {
                    Some(t) => t,
                    None => Technician::login(&server, &trust, &user, &password).await?,
                };
                tech.relay_only = relay_only;
                let (code, ttl) = tech.new_code().await?;
                Ok::<_, ConsoleError>((tech, code, ttl))
            },
            |r| {
                Message::CodeMade(
                    r.map(|(t, code, ttl)| (Slot::new(t), code, ttl)).map_err(|e| e.to_string()),
                )
            },
        )
    }

    fn running(&mut self, id: u64) -> Option<&mut Running> {
        self.sessions.iter_mut().find(|r| r.id == id)
    }

    fn show(&mut self, screen: Screen) {
        if let Screen::Session(id) = screen
            && let Some(r) = self.running(id)
        {
            r.show();
        }
        self.screen = screen;
        self.dash.live = self.sessions.iter().map(|r| (r.id, r.summary())).collect();
    }

    fn update(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Login(m) => {
                let Screen::Login(login) = &mut self.screen else { return Task::none() };
                if let Some(login::Event::LogIn { server, user, password }) = login.update(m) {
                    self.opts.server = server;
                    self.opts.user = user;
                    self.password = password;
                    return self.log_in();
                }
            }
            Message::LoggedIn(Ok(slot)) => {
                let Some(mut tech) = slot.take() else { return Task::none() };
                remember(&self.opts.data_dir, &self.opts.server, &self.opts.user);
                self.dash = dashboard::Dashboard::new(tech.name.clone(), Instant::now());
                self.dash.admin = tech.role == tether_protocol::admin::AccountRole::Admin;
                self.reports = reports::Reports::new(unix_now());
                self.admin = admin::Admin::default();
                self.show(Screen::Dashboard);
                let office = self.open_office();
                let (watch, handle) = Task::run(queue::watch(self.login()), |m| m).abortable();
                self.watcher = Some(handle);
                let recent = Task::perform(
                    async move {
                        let recent = tech.recent_sessions().await;
                        (tech, recent)
                    },
                    |(tech, recent)| Message::Recent(Slot::new(tech), recent.map_err(|e| e.to_string())),
                );
                return Task::batch([recent, watch, office]);
            }
            Message::Recent(slot, recent) => {
                if self.technician.is_none() {
                    self.technician = slot.take();
                }
                self.answered(office::Answer::Recent(recent));
                if self.opts.new_code {
                    self.opts.new_code = false;
                    return self.update(Message::Dashboard(dashboard::Message::NewCode));
                }
            }
            Message::LoggedIn(Err((why, security))) => {
                let mut login = login::Login::new(self.opts.server.clone(), self.opts.user.clone());
                login.failed(why, security);
                self.screen = Screen::Login(login);
            }
            Message::Dashboard(m) => {
                if !matches!(self.screen, Screen::Dashboard) {
                    return Task::none();
                }
                match self.dash.update(m) {
                    Some(dashboard::Event::NewCode) => return self.new_code(),
                    Some(dashboard::Event::Copy(code)) => return iced::clipboard::write(code),
                    Some(dashboard::Event::Open(id)) => self.show(Screen::Session(id)),
                    Some(dashboard::Event::Take(request)) => {
                        return queue::take(self.login(), request, self.opts.relay_only);
                    }
                    Some(dashboard::Event::AddNote(id, text)) => self.add_note(id, text),
                    Some(dashboard::Event::Reports) => self.show_reports(),
                    Some(dashboard::Event::Admin) => self.show_admin(),
                    Some(dashboard::Event::LogOut) => {
                        self.technician = None;
                        self.close_office();
                        if let Some(w) = self.watcher.take() {
                            w.abort();
                        }
                        self.dash.requests.clear();
                        self.screen = Screen::Login(login::Login::new(
                            self.opts.server.clone(),
                            self.opts.user.clone(),
                        ));
                    }
                    None => {}
                }
            }
            Message::CodeMade(Ok((slot, code, ttl))) => {
                let Some(tech) = slot.take() else { return Task::none() };
                // Scripts and the demo read the code here; people read it on screen.
                println!("code: {code}");
                self.dash.code =
                    dashboard::CodeState::Waiting { code: code.to_string(), expires: Instant::now() + ttl };
                return Task::perform(async move { tech.wait_for_customer(code, ttl).await }, |r| {
                    Message::Connected(r.map(Slot::new).map_err(|e| e.to_string()))
                });
            }
            Message::CodeMade(Err(why)) | Message::Connected(Err(why)) => {
                self.dash.code = dashboard::CodeState::Failed(why);
            }
            Message::Queue(update) => {
                // Scripts and tests read these; people read the dashboard.
                match &update {
                    queue::Update::All(all) => println!("queue: {} waiting", all.len()),
                    queue::Update::Change(queue_change) => println!("queue: {queue_change:?}"),
                    queue::Update::Lost(_) => {}
                }
                queue::apply(&mut self.dash.requests, update);
            }
            Message::Taken(Err(why)) => self.dash.take_failed = Some(why),
            Message::Taken(Ok(slot)) => return self.update(Message::Connected(Ok(slot))),
            Message::Connected(Ok(slot)) => {
                let Some(live) = slot.take() else { return Task::none() };
                let id = self.next_id;
                self.next_id += 1;
                let (running, task) = Running::start(id, live);
                self.sessions.push(running);
                self.dash.code = dashboard::CodeState::None;
                self.show(Screen::Session(id));
                return task;
            }
            Message::Session(id, m) => {
                let Some(r) = self.running(id) else { return Task::none() };
                match r.screen.update(m) {
                    Some(session::Event::Input(event)) => r.act(Act::Input(event)),
                    Some(session::Event::RequestControl) => r.act(Act::RequestControl),
                    Some(session::Event::Chat(line)) => r.act(Act::Chat(line)),
                    Some(session::Event::Note(text)) => {
                        println!("note: added to the live session");
                        r.act(Act::Note(text));
                    }
                    Some(session::Event::End) if !r.end() => return Task::done(Message::Ended(id)),
                    Some(session::Event::End) => {}
                    Some(session::Event::Dashboard) => self.show(Screen::Dashboard),
                    Some(session::Event::Monitor(id)) => r.act(Act::Monitor(id)),
                    Some(session::Event::Lossy(allowed)) => r.act(Act::Lossy(allowed)),
                    Some(session::Event::SendFile(path)) => r.transfers.send(&path),
                    Some(session::Event::Fetch(path)) => r.transfers.fetch(&path),
                    Some(session::Event::Cancel(transfer)) => r.transfers.cancel(transfer),
                    Some(session::Event::List(path)) => {
                        let files = r.transfers.files();
                        return Task::perform(
                            async move {
                                let listed = files.list(path.clone()).await.map_err(|e| e.to_string());
                                (path, listed)
                            },
                            move |(path, listed)| Message::Listed(id, path, listed),
                        );
                    }
                    None => {}
                }
            }
            Message::Reports(m) => {
                if let Some(event) = self.reports.update(m) {
                    self.reports_event(event);
                }
            }
            Message::Admin(m) => {
                if let Some(event) = self.admin.update(m) {
                    self.admin_event(event);
                }
            }
            Message::Office(answer) => self.answered(answer),
            Message::Listed(id, path, listed) => {
                if let Some(r) = self.running(id) {
                    r.screen.browser.listed(path.as_ref(), listed);
                }
            }
            Message::Sent(Err(why)) => tracing::warn!("could not send to the customer: {why}"),
            Message::Sent(Ok(())) => {}
            Message::Ended(id) => {
                if let Some(i) = self.sessions.iter().position(|r| r.id == id) {
                    let r = self.sessions.remove(i);
                    self.dash.recent.insert(0, r.record());
                    // The server's list numbers it, so that notes can be added.
                    self.ask(office::Ask::Recent);
                }
                if matches!(self.screen, Screen::Session(shown) if shown == id) || self.sessions.is_empty() {
                    self.show(Screen::Dashboard);
                } else {
                    let screen = std::mem::replace(&mut self.screen, Screen::Dashboard);
                    self.show(screen);
                }
            }
            Message::Tick(now) => self.tick(now),
            Message::Key(key, modifiers, text) => return self.key(&key, modifiers, text.as_deref()),
        }
        Task::none()
    }

    fn key(
        &mut self,
        key: &keyboard::Key,
        modifiers: keyboard::Modifiers,
        text: Option<&str>,
    ) -> Task<Message> {
        let back = matches!(key, keyboard::Key::Named(keyboard::key::Named::Escape));
        let (place, id) = match self.screen {
            Screen::Reports | Screen::Admin if back => {
                self.show(Screen::Dashboard);
                return Task::none();
            }
            Screen::Login(_) | Screen::Reports | Screen::Admin => return Task::none(),
            Screen::Dashboard => (Place::Dashboard, 0),
            Screen::Session(id) => (Place::Session, id),
        };
        let to_session = |m| Message::Session(id, m);
        match shortcuts::shortcut(place, key, modifiers) {
            Some(Shortcut::NewCode) => self.update(Message::Dashboard(dashboard::Message::NewCode)),
            Some(Shortcut::CopyCode) => self.update(Message::Dashboard(dashboard::Message::Copy)),
            Some(Shortcut::TakeNext) => match self.dash.requests.first() {
                Some(r) => self.update(Message::Dashboard(dashboard::Message::Take(r.request))),
                None => Task::none(),
            },
            Some(Shortcut::Reports) => self.update(Message::Dashboard(dashboard::Message::Reports)),
            Some(Shortcut::Admin) => self.update(Message::Dashboard(dashboard::Message::Admin)),
            Some(Shortcut::RequestControl) => self.update(to_session(session::Message::RequestControl)),
            Some(Shortcut::ToggleFit) => self.update(to_session(session::Message::ToggleFit)),
            Some(Shortcut::EndSession) => self.update(to_session(session::Message::End)),
            Some(Shortcut::Dashboard) => self.update(to_session(session::Message::Dashboard)),
            Some(Shortcut::FocusChat) => iced::widget::operation::focus("chat"),
            None => {
                if let Some(r) = self.running(id)
                    && r.screen.consent.control
                    && let Some(event) = mapping::key_press(key, modifiers, text)
                {
                    r.act(Act::Input(event));
                }
                Task::none()
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        self.dash.tick(now);
        let shown = match self.screen {
            Screen::Session(id) => Some(id),
            Screen::Login(_) | Screen::Dashboard | Screen::Reports | Screen::Admin => None,
        };
        for r in &mut self.sessions {
            r.refresh(shown == Some(r.id));
        }
        self.share_clipboard(shown);
        if matches!(self.screen, Screen::Dashboard) {
            self.dash.live = self.sessions.iter().map(|r| (r.id, r.summary())).collect();
        }
    }

    /// The technician's copies go to the session on screen (nowhere when
    /// none is), and that session's customer's copies land here.
    fn share_clipboard(&mut self, shown: Option<u64>) {
        let Some(board) = &mut self.clipboard else { return };
        while let Ok(clip) = board.copied.try_recv() {
            if let Some(r) = self.sessions.iter().find(|r| Some(r.id) == shown && r.screen.ended.is_none()) {
                println!("clipboard: to the customer ({})", tether_clipboard::describe(&clip));
                r.act(Act::Clipboard(clip));
            }
        }
        for r in &mut self.sessions {
            if let Some(clip) = r.incoming_clip.take() {
                println!("clipboard: applied the customer's {}", tether_clipboard::describe(&clip));
                let _ = board.apply.try_send(clip);
            }
        }
    }

    fn view(&self) -> Element<'_, Message> {
        match &self.screen {
            Screen::Login(l) => l.view().map(Message::Login),
            Screen::Dashboard => self.dash.view().map(Message::Dashboard),
            Screen::Reports => self.reports.view().map(Message::Reports),
            Screen::Admin => self.admin.view().map(Message::Admin),
            Screen::Session(id) => match self.sessions.iter().find(|r| r.id == *id) {
                Some(r) => {
                    let id = *id;
                    r.screen.view().map(move |m| Message::Session(id, m))
                }
                None => self.dash.view().map(Message::Dashboard),
            },
        }
    }

    fn subscription(&self) -> Subscription<Message> {
        let keys = keyboard::listen().filter_map(|event| match event {
            keyboard::Event::KeyPressed { key, modifiers, text, .. } => {
                Some(Message::Key(key, modifiers, text.map(|t| t.to_string())))
            }
            _ => None,
        });
        Subscription::batch([iced::time::every(Duration::from_millis(50)).map(Message::Tick), keys])
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

const LAST_LOGIN: &str = "last_login";

/// The server and user of the last successful login.
fn remembered(dir: &std::path::Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(dir.join(LAST_LOGIN)).ok()?;
    let mut lines = text.lines();
    Some((lines.next()?.to_owned(), lines.next().unwrap_or_default().to_owned()))
}

fn remember(dir: &std::path::Path, server: &str, user: &str) {
    let write = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join(LAST_LOGIN), format!("{server}\n{user}\n")));
    if let Err(e) = write {
        tracing::warn!("could not remember the server: {e}");
    }
}

/// Opens the console window and runs until it is closed.
pub fn run(opts: Options) -> iced::Result {
    let scale = opts.scale;
    iced::application(move || App::boot(opts.clone()), App::update, App::view)
        .title("Tether console")
        .subscription(App::subscription)
        .scale_factor(move |_| scale)
        // Logical size: iced multiplies it by the scale factor.
        .window_size((1280.0, 800.0))
        .run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_server_and_user_are_remembered() {
        let dir = std::env::temp_dir().join(format!("tether-gui-{}", std::process::id()));
        assert_eq!(remembered(&dir), None);
        remember(&dir, "rv.example:7700", "alice");
        assert_eq!(remembered(&dir), Some(("rv.example:7700".into(), "alice".into())));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
