//! The customer's window: the code, "Connecting…", consent dialogs with the
//! technician's name and the four words, and an always-visible banner with
//! Stop control and End session; or, started for a desk, the "Get help"
//! form (`help`) and the customer's place in the queue; at the end, the
//! exit survey (`survey`). The session itself runs in `session`.

mod help;
mod survey;

pub use help::{FormMessage, HelpForm};
pub use survey::{SurveyForm, SurveyMessage, ask_in_window};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use iced::widget::{button, checkbox, column, container, progress_bar, row, scrollable, text, text_input};
use iced::{Center, Element, Fill, Task};
use tether_protocol::channel::control::Consent;
use tether_protocol::code::PairingCode;
use tether_protocol::signal::{PathInfo, PathKind};
use tokio::sync::mpsc;

use crate::clipboard::ClipboardPolicy;
use crate::consent::{Asker, ConsentAsker, Destination, Permission, human_size};
use crate::files::{Progress, Shown};
use crate::session::{AgentEvent, Command, EndReason};
use tether_transport::files::{Meter, Status};

/// A reply the window owes to a waiting consent question: no, or yes and
/// (for a file coming in) where it goes.
#[derive(Debug, Clone)]
pub struct Reply(Arc<Mutex<Option<std::sync::mpsc::SyncSender<Option<Destination>>>>>);

impl Reply {
    fn send(&self, answer: Option<Destination>) {
        if let Some(tx) = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            let _ = tx.send(answer);
        }
    }
}

/// Questions from the session to the window.
#[derive(Debug, Clone)]
pub struct Question {
    /// Who asks.
    pub who: Asker,
    /// For what.
    pub what: Permission,
    /// For a file coming in: the folder it goes to unless the customer
    /// picks another.
    pub suggested: Option<PathBuf>,
    /// Where the answer goes.
    pub reply: Reply,
}

impl WindowConsent {
    fn put(&self, who: &Asker, what: Permission, suggested: Option<PathBuf>) -> Option<Destination> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let reply = Reply(Arc::new(Mutex::new(Some(tx))));
        if self.0.send(Question { who: who.clone(), what, suggested, reply }).is_err() {
            return None;
        }
        // No answer in five minutes (or a closed window) means no.
        rx.recv_timeout(std::time::Duration::from_secs(300)).ok().flatten()
    }
}

/// Asks consent in the window; blocks the (blocking) caller until answered.
#[derive(Debug, Clone)]
pub struct WindowConsent(pub mpsc::UnboundedSender<Question>);

impl ConsentAsker for WindowConsent {
    fn ask(&self, who: &Asker, what: Permission) -> bool {
        self.put(who, what, None).is_some()
    }

    fn ask_where(&self, who: &Asker, what: Permission, suggested: &Path) -> Option<Destination> {
        self.put(who, what, Some(suggested.to_path_buf()))
    }

    fn is_preset(&self) -> bool {
        false
    }
}

/// What the window shows.
#[derive(Debug, Clone)]
pub enum Stage {
    /// Type the code.
    Code {
        /// What is typed.
        code: String,
        /// Why the last try failed.
        error: Option<String>,
    },
    /// Reading what the desk asks.
    LoadingDesk,
    /// The "Get help" form.
    Help(HelpForm),
    /// Waiting in the desk's queue, at this place once known.
    Waiting(Option<u32>),
    /// Joining and setting up the secure connection.
    Connecting,
    /// Connected; the banner shows who and what.
    Live,
    /// Over; the exit survey.
    Survey(SurveyForm),
    /// Over; why.
    Ended(String),
}

/// The window's state.
#[derive(Debug, Clone)]
pub struct Window {
    /// The stage.
    pub stage: Stage,
    /// The technician, once connected.
    pub technician: Option<(String, String, String)>,
    /// What the technician may do.
    pub consent: Consent,
    /// The question waiting for an answer, if any.
    pub question: Option<Question>,
    /// The chat so far, oldest first.
    pub chat: Vec<ChatEntry>,
    /// The path the session runs on, once connected.
    pub path: Option<PathInfo>,
    /// File transfers, oldest first, each with its rate meter.
    pub transfers: Vec<(Shown, Progress, Meter)>,
    /// For a file coming in: the folder it will go to, as typed or picked.
    pub save_into: String,
    /// Why the folder typed cannot take the file.
    pub save_error: Option<String>,
    /// Which ways the clipboard is shared.
    pub clipboard: ClipboardPolicy,
    /// Experts the technician invited who are connected now: number, name.
    pub experts: Vec<(u32, String)>,
    draft: String,
}

/// One chat line in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEntry {
    /// The customer wrote it.
    pub mine: bool,
    /// What.
    pub text: String,
    /// For the customer's lines: the technician's console confirmed it.
    pub delivered: bool,
}

/// Most chat lines the window keeps.
const MAX_CHAT_LINES: usize = 200;

/// What the customer did, or what happened.
#[derive(Debug, Clone)]
pub enum Message {
    /// The code field.
    CodeChanged(String),
    /// Connect.
    Connect,
    /// In the "Get help" form.
    Form(FormMessage),
    /// The desk's fields arrived (desk, fields), or why not.
    DeskLoaded(Result<(String, Vec<tether_protocol::desk::FieldSpec>), String>),
    /// Withdraw the help request.
    CancelHelp,
    /// Answer the open question.
    Answer(bool),
    /// The folder for a file coming in was edited.
    SaveInto(String),
    /// Open the system's folder picker.
    PickFolder,
    /// The picker closed, with a folder or without.
    Picked(Option<PathBuf>),
    /// Take control back.
    StopControl,
    /// End the session.
    End,
    /// The chat draft changed.
    Draft(String),
    /// Send the chat draft.
    SendChat,
    /// Stop a file transfer.
    CancelTransfer(u32),
    /// Disconnect an invited expert.
    RemoveExpert(u32),
    /// Share (or stop sharing) the customer's copies with the technician.
    ClipboardOut(bool),
    /// Accept (or stop accepting) the technician's copies.
    ClipboardIn(bool),
    /// From the session.
    Event(AgentEvent),
    /// A consent question.
    Ask(Question),
    /// The session asks the exit survey.
    Survey(SurveyForm),
    /// In the exit survey.
    SurveyForm(SurveyMessage),
    /// The session is over.
    Finished(Result<EndReason, String>),
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start a session with this code.
    Start(PairingCode),
    /// Ask the desk for help; the session follows once a technician takes it.
    Ask(tether_protocol::queue::HelpRequest),
    /// Withdraw the help request: stop the session before it starts.
    Withdraw,
    /// Send this command to the session.
    Command(Command),
    /// Show the system's folder picker, starting here.
    PickFolder(PathBuf),
    /// The session is over: close the window after a moment to read why.
    Quit,
}

impl Window {
    /// A window with the code pre-filled (or empty).
    #[must_use]
    pub fn new(code: Option<String>) -> Self {
        Self {
            stage: Stage::Code { code: code.unwrap_or_default(), error: None },
            technician: None,
            consent: Consent::default(),
            question: None,
            chat: Vec::new(),
            path: None,
            transfers: Vec::new(),
            save_into: String::new(),
            save_error: None,
            clipboard: ClipboardPolicy::default(),
            experts: Vec::new(),
            draft: String::new(),
        }
    }

    /// A window for asking `desk` for help; its fields load first.
    #[must_use]
    pub fn for_desk() -> Self {
        Self { stage: Stage::LoadingDesk, ..Self::new(None) }
    }

    fn push_chat(&mut self, mine: bool, line: String) {
        if self.chat.len() >= MAX_CHAT_LINES {
            self.chat.remove(0);
        }
        self.chat.push(ChatEntry { mine, text: line, delivered: false });
    }

    /// Handles one message.
    pub fn update(&mut self, message: Message) -> Option<Action> {
        match message {
            Message::CodeChanged(c) => {
                if let Stage::Code { code, .. } = &mut self.stage {
                    *code = c;
                }
            }
            Message::Connect => {
                if let Stage::Code { code, error } = &mut self.stage {
                    match code.parse::<PairingCode>() {
                        Ok(parsed) => {
                            self.stage = Stage::Connecting;
                            return Some(Action::Start(parsed));
                        }
                        Err(e) => *error = Some(e.to_string()),
                    }
                }
            }
            Message::DeskLoaded(Ok((desk, fields))) => self.stage = Stage::Help(HelpForm::new(desk, fields)),
            Message::DeskLoaded(Err(why)) => self.stage = Stage::Ended(why),
            Message::Form(m) => {
                if let Stage::Help(form) = &mut self.stage
                    && let Some(ask) = form.update(m)
                {
                    self.stage = Stage::Waiting(None);
                    return Some(Action::Ask(ask));
                }
            }
            Message::CancelHelp => {
                if matches!(self.stage, Stage::Waiting(_)) {
                    self.stage = Stage::Ended("You withdrew your request; nothing was shared.".into());
                    return Some(Action::Withdraw);
                }
            }
            Message::Event(AgentEvent::Queued(position)) => {
                if let Stage::Waiting(p) = &mut self.stage {
                    *p = Some(position);
                }
            }
            Message::Answer(yes) => self.answer(yes),
            Message::SaveInto(folder) => {
                self.save_into = folder;
                self.save_error = None;
            }
            Message::PickFolder => {
                if self.question.as_ref().is_some_and(|q| q.suggested.is_some()) {
                    return Some(Action::PickFolder(PathBuf::from(&self.save_into)));
                }
            }
            Message::Picked(Some(folder)) => {
                self.save_into = folder.display().to_string();
                self.save_error = None;
            }
            Message::Picked(None) => {}
            Message::StopControl => {
                // Shown at once; the session enforces it before the console hears.
                self.consent.control = false;
                return Some(Action::Command(Command::StopControl));
            }
            Message::End => return Some(Action::Command(Command::End)),
            Message::Draft(d) => self.draft = d,
            Message::SendChat => {
                let line = std::mem::take(&mut self.draft);
                if !line.trim().is_empty() && matches!(self.stage, Stage::Live) {
                    self.push_chat(true, line.clone());
                    return Some(Action::Command(Command::Chat(line)));
                }
            }
            Message::Event(AgentEvent::Chat(line)) => self.push_chat(false, line),
            Message::CancelTransfer(id) => return Some(Action::Command(Command::CancelTransfer(id))),
            Message::ClipboardOut(on) => {
                self.clipboard.to_technician = on;
                return Some(Action::Command(Command::Clipboard(self.clipboard)));
            }
            Message::ClipboardIn(on) => {
                self.clipboard.from_technician = on;
                return Some(Action::Command(Command::Clipboard(self.clipboard)));
            }
            Message::Event(AgentEvent::Transfer(shown, progress)) => {
                match self.transfers.iter_mut().find(|(s, _, _)| s.id == shown.id) {
                    // An end is final; a late progress tick does not undo it.
                    Some((_, p, _)) if !matches!(p, Progress::Over(_)) => *p = progress,
                    Some(_) => {}
                    None => self.transfers.push((shown, progress, Meter::default())),
                }
            }
            Message::Event(AgentEvent::ChatDelivered) => {
                // Receipts come in the order the lines went.
                if let Some(e) = self.chat.iter_mut().find(|e| e.mine && !e.delivered) {
                    e.delivered = true;
                }
            }
            Message::Event(AgentEvent::Connected { technician, organisation, sas, path }) => {
                self.technician = Some((technician, organisation, sas));
                self.path = Some(path);
                self.stage = Stage::Live;
            }
            Message::Event(AgentEvent::Consent(c)) => self.consent = c,
            Message::Event(AgentEvent::Expert { number, name, connected }) => {
                self.experts.retain(|(n, _)| *n != number);
                if connected {
                    self.experts.push((number, name));
                }
            }
            Message::RemoveExpert(n) => {
                self.experts.retain(|(e, _)| *e != n);
                return Some(Action::Command(Command::RemoveExpert(n)));
            }
            Message::Ask(q) => {
                self.save_into = q.suggested.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
                self.save_error = None;
                self.question = Some(q);
            }
            Message::Survey(form) => {
                if let Some(q) = self.question.take() {
                    q.reply.send(None);
                }
                self.stage = Stage::Survey(form);
            }
            Message::SurveyForm(m) => {
                if let Stage::Survey(form) = &mut self.stage
                    && form.update(m)
                {
                    self.stage = Stage::Ended("Thank you. Closing the session…".into());
                }
            }
            Message::Finished(result) => {
                if let Some(q) = self.question.take() {
                    q.reply.send(None);
                }
                if let Stage::Survey(form) = &self.stage {
                    form.reply.send(None);
                }
                self.stage = Stage::Ended(match result {
                    Ok(EndReason::Declined) => "You declined; nothing was shared.".into(),
                    Ok(_) => "The session has ended. Nothing was left on this computer.".into(),
                    Err(e) => e,
                });
                return Some(Action::Quit);
            }
        }
        None
    }

    /// Answers the open question; a file is allowed only into a folder
    /// that exists (or is the suggested one, made on the way).
    fn answer(&mut self, yes: bool) {
        let Some(q) = self.question.take() else { return };
        let Some(suggested) = q.suggested.as_ref().filter(|_| yes) else {
            return q.reply.send(yes.then_some(Destination::Suggested));
        };
        let typed = PathBuf::from(self.save_into.trim());
        if typed == *suggested {
            return q.reply.send(Some(Destination::Suggested));
        }
        if typed.is_dir() {
            return q.reply.send(Some(Destination::Chosen(typed)));
        }
        self.save_error = Some(format!("“{}” is not a folder on this computer", typed.display()));
        self.question = Some(q);
    }

    fn who(&self) -> String {
        match &self.technician {
            Some((name, org, _)) if !org.is_empty() => format!("{name} ({org})"),
            Some((name, _, _)) => name.clone(),
            None => "Your technician".into(),
        }
    }

    /// The window.
    pub fn view(&self) -> Element<'_, Message> {
        let body: Element<'_, Message> = match &self.stage {
            Stage::Code { code, error } => {
                let mut c = column![
                    text("Get help from your technician").size(24),
                    text("Type the code your technician gave you:"),
                    text_input("123-4567", code)
                        .id("code")
                        .on_input(Message::CodeChanged)
                        .on_submit(Message::Connect),
                    button(text("Connect")).on_press(Message::Connect),
                ]
                .spacing(10);
                if let Some(e) = error {
                    c = c.push(text(e.clone()).style(text::danger));
                }
                c.into()
            }
            Stage::LoadingDesk => text("Getting the help form…").size(20).into(),
            Stage::Help(form) => form.view().map(Message::Form),
            Stage::Waiting(position) => {
                let place = match position {
                    Some(1) => "You are next.".to_owned(),
                    Some(n) => format!("You are number {n} in the queue."),
                    None => "Sending your request…".to_owned(),
                };
                column![
                    text("Waiting for a technician").size(24),
                    text(place).size(18),
                    text("Keep this window open; the first free technician will answer."),
                    button(text("Cancel my request")).on_press(Message::CancelHelp).style(button::secondary),
                ]
                .spacing(12)
                .align_x(Center)
                .into()
            }
            Stage::Connecting => text("Connecting to your technician…").size(20).into(),
            Stage::Live => self.live(),
            Stage::Survey(form) => form.view().map(Message::SurveyForm),
            Stage::Ended(why) => text(why.clone()).size(20).into(),
        };
        container(body).padding(20).center_x(Fill).into()
    }

    fn live(&self) -> Element<'_, Message> {
        if let Some(q) = &self.question {
            let what = q.what.describe();
            let mut asked = column![
                text(format!("{} asks to {what}.", self.who())).size(20),
                text("Check that your technician sees these words:"),
                text(q.who.sas.clone()).size(24),
            ]
            .spacing(10)
            .align_x(Center);
            if q.suggested.is_some() {
                asked = asked.push(
                    row![
                        text("Save into:"),
                        text_input("Folder", &self.save_into).id("save-into").on_input(Message::SaveInto),
                        button(text("Choose…")).on_press(Message::PickFolder).style(button::secondary),
                    ]
                    .spacing(8)
                    .align_y(Center),
                );
            }
            if let Some(e) = &self.save_error {
                asked = asked.push(text(e.clone()).style(text::danger));
            }
            return asked
                .push(
                    row![
                        button(text("Allow")).on_press(Message::Answer(true)).style(button::success),
                        button(text("Deny")).on_press(Message::Answer(false)).style(button::secondary)
                    ]
                    .spacing(12),
                )
                .into();
        }
        let doing = if self.consent.control {
            "is controlling"
        } else if self.consent.view {
            "is viewing"
        } else {
            "is connected to"
        };
        let mut buttons = row![].spacing(12);
        if self.consent.control {
            buttons = buttons.push(button(text("Stop control")).on_press(Message::StopControl));
        }
        buttons = buttons.push(button(text("End session")).on_press(Message::End).style(button::danger));
        let clipboard = row![
            checkbox(self.clipboard.to_technician)
                .label("Send my copies to the technician")
                .on_toggle(Message::ClipboardOut)
                .text_size(13),
            checkbox(self.clipboard.from_technician)
                .label("Take the technician's copies")
                .on_toggle(Message::ClipboardIn)
                .text_size(13),
        ]
        .spacing(16);
        let experts = self.experts.iter().fold(column![].spacing(6).align_x(Center), |c, (n, name)| {
            c.push(
                row![
                    text(format!("{name}, invited by your technician, also sees your screen")).size(14),
                    button(text(format!("Remove {name}")).size(13))
                        .on_press(Message::RemoveExpert(*n))
                        // Set off from the banner, which is amber under control.
                        .style(if self.consent.control { button::danger } else { button::warning }),
                ]
                .spacing(10)
                .align_y(Center),
            )
        });
        let banner = column![
            text(format!("{} {doing} your screen", self.who())).size(20),
            experts,
            text(self.path.map(path_line).unwrap_or_default()).size(13),
            buttons,
            clipboard,
        ]
        .spacing(10)
        .width(Fill)
        .align_x(Center);
        // Control stands out: someone else is moving this mouse.
        let banner = container(banner).padding(10).width(Fill).style(if self.consent.control {
            container::warning
        } else {
            container::rounded_box
        });
        column![banner, self.transfer_list(), self.chat_panel()].spacing(16).into()
    }

    /// Each file on its way, with a bar and Cancel.
    fn transfer_list(&self) -> Element<'_, Message> {
        self.transfers
            .iter()
            .fold(column![].spacing(6), |c, (shown, progress, meter)| {
                let what = if shown.incoming {
                    format!("Receiving “{}”", shown.name)
                } else {
                    format!("Giving your technician “{}”", shown.name)
                };
                let (fraction, line, cancel) = match progress {
                    Progress::Running(done, size) => {
                        let f = if *size == 0 { 0.0 } else { *done as f32 / *size as f32 };
                        let status = Status { done: *done, size: *size, resumed: 0 };
                        (f, format!("{} ({})", meter.line(status), human_size(*size)), true)
                    }
                    Progress::Over(Ok(at)) => (1.0, format!("Done: {at}"), false),
                    Progress::Over(Err(why)) => (0.0, format!("Stopped: {why}"), false),
                };
                let head = row![text(what).width(Fill)]
                    .push(cancel.then(|| button(text("Cancel")).on_press(Message::CancelTransfer(shown.id))));
                c.push(column![head, progress_bar(0.0..=1.0, fraction).girth(6), text(line).size(13)])
            })
            .into()
    }

    fn chat_panel(&self) -> Element<'_, Message> {
        let name = self.technician.as_ref().map_or("Technician", |(n, _, _)| n.as_str());
        let lines = self.chat.iter().map(|e| {
            let who = if e.mine { "You" } else { name };
            let tick = if e.delivered { " ✓" } else { "" };
            text(format!("{who}: {}{tick}", e.text)).into()
        });
        let log = scrollable(column(lines).spacing(4).width(Fill)).anchor_bottom().height(Fill);
        let send = row![
            text_input("Write to your technician…", &self.draft)
                .id("chat")
                .on_input(Message::Draft)
                .on_submit(Message::SendChat),
            button(text("Send")).on_press(Message::SendChat),
        ]
        .spacing(8);
        column![log, send].spacing(8).into()
    }
}

/// The path in the customer's words, with the pair for anyone who asks.
fn path_line(path: PathInfo) -> String {
    let how = match path.kind {
        PathKind::Direct => "Connected directly",
        PathKind::Relay => "Connected through the relay server",
    };
    format!("{how}, end-to-end encrypted ({}/{})", path.local, path.remote)
}

/// Bridges the session's channels into window messages.
pub fn listen<T: Send + 'static>(rx: mpsc::UnboundedReceiver<T>, f: fn(T) -> Message) -> Task<Message> {
    let stream = iced::futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) });
    Task::run(stream, f)
}

#[cfg(test)]
mod tests;
