//! The windowed console: login → dashboard → session, on iced.
//!
//! The screens own their own state and messages; this module owns the
//! session logic objects (from `session`) and runs their async work as
//! tasks. Values that cannot be cloned travel through messages in a [`Slot`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iced::widget::image;
use iced::{Element, Subscription, Task, keyboard};
use tether_protocol::channel::input::ConsoleToAgent;
use tether_protocol::code::PairingCode;
use tether_transport::TransportError;
use tether_transport::signal_client::ServerTrust;

use crate::mapping;
use crate::screen::{dashboard, login, session};
use crate::session::{ConsoleError, LiveSession, Technician};
use crate::shortcuts::{self, Place, Shortcut};

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
}

type Live = Arc<tokio::sync::Mutex<Option<LiveSession>>>;

/// Something to do with the live session.
enum Act {
    Greet,
    RequestControl,
    Chat(String),
    Input(ConsoleToAgent),
    End,
}

/// Does the session's acts in order; yields what the window must hear.
fn worker(
    live: Live,
    rx: tokio::sync::mpsc::UnboundedReceiver<Act>,
) -> impl iced::futures::Stream<Item = Message> {
    iced::futures::stream::unfold((live, rx), |(live, mut rx)| async move {
        let act = rx.recv().await?;
        let mut guard = live.lock().await;
        let message = if let Act::End = act {
            if let Some(s) = guard.take() {
                s.end().await;
            }
            Message::Ended
        } else if let Some(s) = guard.as_mut() {
            let sent = match act {
                Act::Greet => s.greet().await,
                Act::RequestControl => s.request_control().await,
                Act::Chat(line) => s.chat(&line).await,
                Act::Input(event) => s.input(event).await,
                Act::End => Ok(()),
            };
            Message::Sent(sent.map_err(|e| e.to_string()))
        } else {
            Message::Sent(Ok(()))
        };
        drop(guard);
        Some((message, (live, rx)))
    })
}

enum Screen {
    Login(login::Login),
    Dashboard(dashboard::Dashboard),
    Session(session::Session),
}

struct App {
    opts: Options,
    password: String,
    screen: Screen,
    technician: Option<Technician>,
    name: String,
    recent: Vec<String>,
    live: Option<Live>,
    outbox: Option<tokio::sync::mpsc::UnboundedSender<Act>>,
    shown_frames: u64,
    rate: (u64, u64, Instant),
}

/// Everything that happens in the window.
#[derive(Debug, Clone)]
pub enum Message {
    /// From the login screen.
    Login(login::Message),
    /// From the dashboard.
    Dashboard(dashboard::Message),
    /// From the session screen.
    Session(session::Message),
    /// The login finished.
    LoggedIn(Result<Slot<Technician>, (String, bool)>),
    /// A code is ready.
    CodeMade(Result<(Slot<Technician>, PairingCode, Duration), String>),
    /// The customer connected, or it failed.
    Connected(Result<Slot<LiveSession>, String>),
    /// An input or control message went out, or failed.
    Sent(Result<(), String>),
    /// The session is over.
    Ended,
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
            name: String::new(),
            recent: Vec::new(),
            live: None,
            outbox: None,
            shown_frames: 0,
            rate: (0, 0, Instant::now()),
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

    fn new_code(&mut self) -> Task<Message> {
        let existing = self.technician.take();
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

    /// Queues `act` for the live session; acts run one at a time, in order,
    /// so typed text arrives as typed.
    fn act(&self, act: Act) -> Task<Message> {
        if let Some(tx) = &self.outbox {
            let _ = tx.send(act);
        }
        Task::none()
    }

    fn end_session(&mut self) -> Task<Message> {
        match self.outbox.take() {
            Some(tx) if tx.send(Act::End).is_ok() => Task::none(),
            _ => Task::done(Message::Ended),
        }
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
                self.technician = slot.take();
                remember(&self.opts.data_dir, &self.opts.server, &self.opts.user);
                self.name = self.technician.as_ref().map(|t| t.name.clone()).unwrap_or_default();
                let mut dash = dashboard::Dashboard::new(self.name.clone(), Instant::now());
                dash.recent = self.recent.clone();
                self.screen = Screen::Dashboard(dash);
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
                let Screen::Dashboard(dash) = &mut self.screen else { return Task::none() };
                match dash.update(m) {
                    Some(dashboard::Event::NewCode) => return self.new_code(),
                    Some(dashboard::Event::Copy(code)) => return iced::clipboard::write(code),
                    Some(dashboard::Event::LogOut) => {
                        self.technician = None;
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
                if let Screen::Dashboard(dash) = &mut self.screen {
                    dash.code = dashboard::CodeState::Waiting {
                        code: code.to_string(),
                        expires: Instant::now() + ttl,
                    };
                }
                return Task::perform(async move { tech.wait_for_customer(code, ttl).await }, |r| {
                    Message::Connected(r.map(Slot::new).map_err(|e| e.to_string()))
                });
            }
            Message::CodeMade(Err(why)) | Message::Connected(Err(why)) => {
                if let Screen::Dashboard(dash) = &mut self.screen {
                    dash.code = dashboard::CodeState::Failed(why);
                }
            }
            Message::Connected(Ok(slot)) => {
                let Some(live) = slot.take() else { return Task::none() };
                println!("sas: {}", live.sas);
                println!("path: {}", live.path);
                let status = session::Status {
                    path: live.path.to_string(),
                    sas: live.sas.clone(),
                    ..Default::default()
                };
                self.screen = Screen::Session(session::Session::new(status));
                self.shown_frames = 0;
                let live: Live = Arc::new(tokio::sync::Mutex::new(Some(live)));
                self.live = Some(Arc::clone(&live));
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let _ = tx.send(Act::Greet);
                self.outbox = Some(tx);
                return Task::run(worker(live, rx), |m| m);
            }
            Message::Session(m) => {
                let Screen::Session(view) = &mut self.screen else { return Task::none() };
                match view.update(m) {
                    Some(session::Event::Input(event)) => return self.act(Act::Input(event)),
                    Some(session::Event::RequestControl) => return self.act(Act::RequestControl),
                    Some(session::Event::Chat(line)) => return self.act(Act::Chat(line)),
                    Some(session::Event::End) => return self.end_session(),
                    None => {}
                }
            }
            Message::Sent(Err(why)) => tracing::warn!("could not send to the customer: {why}"),
            Message::Sent(Ok(())) => {}
            Message::Ended => {
                self.live = None;
                self.outbox = None;
                self.recent.insert(0, format!("Session ended at {}", clock()));
                self.recent.truncate(10);
                let mut dash = dashboard::Dashboard::new(self.name.clone(), Instant::now());
                dash.recent = self.recent.clone();
                self.screen = Screen::Dashboard(dash);
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
        let place = match &self.screen {
            Screen::Login(_) => return Task::none(),
            Screen::Dashboard(_) => Place::Dashboard,
            Screen::Session(_) => Place::Session,
        };
        match shortcuts::shortcut(place, key, modifiers) {
            Some(Shortcut::NewCode) => self.update(Message::Dashboard(dashboard::Message::NewCode)),
            Some(Shortcut::CopyCode) => self.update(Message::Dashboard(dashboard::Message::Copy)),
            Some(Shortcut::RequestControl) => self.update(Message::Session(session::Message::RequestControl)),
            Some(Shortcut::ToggleFit) => self.update(Message::Session(session::Message::ToggleFit)),
            Some(Shortcut::EndSession) => self.update(Message::Session(session::Message::End)),
            Some(Shortcut::FocusChat) => iced::widget::operation::focus("chat"),
            None => match &self.screen {
                Screen::Session(view) if view.consent.control => mapping::key_press(key, modifiers, text)
                    .map_or_else(Task::none, |e| self.act(Act::Input(e))),
                _ => Task::none(),
            },
        }
    }

    fn tick(&mut self, now: Instant) {
        match &mut self.screen {
            Screen::Dashboard(dash) => dash.tick(now),
            Screen::Session(view) => {
                let Some(live) = &self.live else { return };
                let Ok(guard) = live.try_lock() else { return };
                let Some(s) = guard.as_ref() else { return };
                let consent = *s.consent.borrow();
                if consent != view.consent {
                    // Scripts and tests read this; people see the status bar.
                    println!("consent: view={} control={}", consent.view, consent.control);
                    view.consent = consent;
                }
                let v = s.view.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if v.chat.len() != view.chat.len() || v.chat.last() != view.chat.last() {
                    view.chat.clone_from(&v.chat);
                }
                if v.frames != self.shown_frames
                    && let Some((w, h, rgba)) = v.decoder.framebuffer()
                {
                    view.picture = Some((image::Handle::from_rgba(w, h, rgba.to_vec()), w, h));
                    self.shown_frames = v.frames;
                }
                let elapsed = self.rate.2.elapsed();
                if elapsed >= Duration::from_secs(1) {
                    let secs = elapsed.as_secs_f64();
                    view.status.fps = (v.frames - self.rate.0) as f64 / secs;
                    view.status.kbps = (v.bytes - self.rate.1) as f64 / 1000.0 / secs;
                    view.status.rtt_ms = s.rtt().as_millis() as u64;
                    self.rate = (v.frames, v.bytes, Instant::now());
                    println!(
                        "stats: fps={:.1} kB/s={:.1} frames={}",
                        view.status.fps, view.status.kbps, v.frames
                    );
                }
                view.reconnecting = v.stalled;
                if let Some(why) = &v.ended {
                    view.ended = Some(format!("The customer ended the session: {why}"));
                } else if !s.is_live() {
                    view.ended = Some("The connection to the customer was lost.".into());
                }
            }
            Screen::Login(_) => {}
        }
    }

    fn view(&self) -> Element<'_, Message> {
        match &self.screen {
            Screen::Login(l) => l.view().map(Message::Login),
            Screen::Dashboard(d) => d.view().map(Message::Dashboard),
            Screen::Session(s) => s.view().map(Message::Session),
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

fn clock() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{:02}:{:02} UTC", (secs / 3600) % 24, (secs / 60) % 60)
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
