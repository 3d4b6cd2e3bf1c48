//! Session: the customer's screen scaled to fit (or 1:1 with scrolling), the
//! controls, and a status bar with path, RTT, fps, kB/s and the four words.

use iced::widget::{
    button, column, container, image, mouse_area, progress_bar, responsive, row, scrollable, space, text,
    text::Wrapping, text_input,
};
use iced::{Center, Color, ContentFit, Element, Fill, Point, Size, mouse};
use tether_protocol::channel::control::Consent;
use tether_protocol::channel::input::{Action, ConsoleToAgent, MouseButton};
use tether_protocol::files::RelPath;

use super::browser::{self, Browser};
use crate::mapping::Fit;
use crate::session::{ChatAuthor, ChatLine};
use crate::transfers::Shown;

/// Figures for the status bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// `direct` or `relay`.
    pub path: String,
    /// Round-trip time in milliseconds.
    pub rtt_ms: u64,
    /// Frames per second.
    pub fps: f64,
    /// Screen kilobytes per second.
    pub kbps: f64,
    /// The short authentication string.
    pub sas: String,
}

/// The session screen.
#[derive(Debug, Clone)]
pub struct Session {
    /// The latest picture and its size.
    pub picture: Option<(image::Handle, u32, u32)>,
    /// What the customer allows.
    pub consent: Consent,
    /// Status bar figures.
    pub status: Status,
    /// Set when the session is over: why.
    pub ended: Option<String>,
    /// The customer's link has gone quiet; QUIC is still trying.
    pub reconnecting: bool,
    /// The chat so far.
    pub chat: Vec<ChatLine>,
    /// The customer's monitors (id, name) and the shared one's id.
    pub monitors: (Vec<(u32, String)>, u32),
    /// File transfers, oldest first.
    pub transfers: Vec<Shown>,
    /// The desk's canned chat replies.
    pub canned: Vec<String>,
    /// The customer's shared folders.
    pub browser: Browser,
    draft: String,
    /// A note for the session's record, being written.
    note: String,
    /// Notes already saved in this session.
    pub notes: usize,
    send_path: String,
    fetch_path: String,
    actual_size: bool,
    /// Photo tiles may go lossy on a slow link (text never does).
    lossy: bool,
}

/// What the user did.
#[derive(Debug, Clone)]
pub enum Message {
    /// The pointer moved over the picture (widget coordinates, widget size).
    Moved(Point, Size),
    /// A button went down or up over the picture.
    Button(MouseButton, Action),
    /// The wheel turned.
    Wheel(mouse::ScrollDelta),
    /// Ask for control.
    RequestControl,
    /// Switch between fit-to-window and 1:1.
    ToggleFit,
    /// End the session.
    End,
    /// The chat draft changed.
    Draft(String),
    /// Send the chat draft.
    SendChat,
    /// Back to the dashboard; the session goes on.
    Dashboard,
    /// Share this monitor of the customer's.
    Monitor(u32),
    /// Flip whether photo tiles may go lossy on a slow link.
    ToggleLossy,
    /// The path of a file to send changed.
    SendPath(String),
    /// Send that file to the customer's Downloads.
    SendFile,
    /// The customer's file to fetch changed.
    FetchPath(String),
    /// Fetch that file into this computer's Downloads.
    FetchFile,
    /// Stop a transfer.
    Cancel(u32),
    /// Put canned reply N in the chat draft.
    Canned(usize),
    /// The note draft changed.
    NoteDraft(String),
    /// Add the note to the session's record.
    SaveNote,
    /// In the shared-folder browser.
    Browser(browser::Message),
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Send this to the customer.
    Input(ConsoleToAgent),
    /// Ask the customer for control.
    RequestControl,
    /// End the session.
    End,
    /// Send a chat line.
    Chat(String),
    /// Add this note to the session's record (never shown to the customer).
    Note(String),
    /// Show the dashboard.
    Dashboard,
    /// Ask the agent to share this monitor.
    Monitor(u32),
    /// Allow (or forbid) lossy photo tiles under bandwidth pressure.
    Lossy(bool),
    /// Send this local file to the customer.
    SendFile(String),
    /// Fetch this file of the customer's (shared folder, then path).
    Fetch(String),
    /// Stop this transfer.
    Cancel(u32),
    /// List this shared folder of the customer's (the shared folders when
    /// `None`).
    List(Option<RelPath>),
}

impl Session {
    /// A session screen with the given status.
    #[must_use]
    pub fn new(status: Status) -> Self {
        Self {
            picture: None,
            consent: Consent::default(),
            status,
            ended: None,
            reconnecting: false,
            chat: Vec::new(),
            monitors: (Vec::new(), 0),
            transfers: Vec::new(),
            canned: Vec::new(),
            browser: Browser::default(),
            draft: String::new(),
            note: String::new(),
            notes: 0,
            send_path: String::new(),
            fetch_path: String::new(),
            actual_size: false,
            lossy: true,
        }
    }

    /// Handles one message.
    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Draft(d) => {
                self.draft = d;
                return None;
            }
            Message::SendChat => {
                let text = std::mem::take(&mut self.draft);
                return (!text.trim().is_empty()).then_some(Event::Chat(text));
            }
            Message::NoteDraft(d) => {
                self.note = d;
                return None;
            }
            Message::SaveNote => {
                let text = std::mem::take(&mut self.note);
                if text.trim().is_empty() {
                    return None;
                }
                self.notes += 1;
                return Some(Event::Note(text.trim().to_owned()));
            }
            Message::End => return Some(Event::End),
            Message::RequestControl => return Some(Event::RequestControl),
            Message::Dashboard => return Some(Event::Dashboard),
            Message::Monitor(id) => return (id != self.monitors.1).then_some(Event::Monitor(id)),
            Message::ToggleLossy => {
                self.lossy = !self.lossy;
                return Some(Event::Lossy(self.lossy));
            }
            Message::SendPath(p) => {
                self.send_path = p;
                return None;
            }
            Message::FetchPath(p) => {
                self.fetch_path = p;
                return None;
            }
            Message::SendFile => {
                let path = std::mem::take(&mut self.send_path);
                return (!path.trim().is_empty()).then_some(Event::SendFile(path));
            }
            Message::FetchFile => {
                let path = std::mem::take(&mut self.fetch_path);
                return (!path.trim().is_empty()).then_some(Event::Fetch(path));
            }
            Message::Cancel(id) => return Some(Event::Cancel(id)),
            Message::Browser(m) => {
                return self.browser.update(m).map(|e| match e {
                    browser::Event::List(path) => Event::List(path),
                    browser::Event::Fetch(path) => Event::Fetch(path.to_string()),
                });
            }
            Message::Canned(i) => {
                if let Some(text) = self.canned.get(i) {
                    self.draft.clone_from(text);
                }
                return None;
            }
            _ => {}
        }
        let (w, h) = self.picture.as_ref().map(|(_, w, h)| (*w, *h))?;
        match message {
            Message::Moved(p, area) => {
                let fit = Fit::new((area.width, area.height), (w, h), self.actual_size);
                let (x, y) = fit.to_remote((p.x, p.y), (w, h))?;
                self.consent.control.then_some(Event::Input(ConsoleToAgent::PointerMove { x, y }))
            }
            Message::Button(button, action) => {
                self.consent.control.then_some(Event::Input(ConsoleToAgent::Button { button, action }))
            }
            Message::Wheel(delta) => {
                let (dx, dy) = match delta {
                    mouse::ScrollDelta::Lines { x, y } => (x, y),
                    mouse::ScrollDelta::Pixels { x, y } => (x / 40.0, y / 40.0),
                };
                // iced: positive y scrolls up; ours: positive scrolls down.
                let event = ConsoleToAgent::Wheel { dx: dx.round() as i32, dy: -(dy.round() as i32) };
                self.consent.control.then_some(Event::Input(event))
            }
            Message::ToggleFit => {
                self.actual_size = !self.actual_size;
                None
            }
            Message::RequestControl
            | Message::End
            | Message::Draft(_)
            | Message::SendChat
            | Message::NoteDraft(_)
            | Message::SaveNote
            | Message::Dashboard
            | Message::Monitor(_)
            | Message::ToggleLossy
            | Message::SendPath(_)
            | Message::SendFile
            | Message::FetchPath(_)
            | Message::FetchFile
            | Message::Cancel(_)
            | Message::Browser(_)
            | Message::Canned(_) => None,
        }
    }

    fn picture(&self) -> Element<'_, Message> {
        let Some((handle, w, h)) = self.picture.clone() else {
            return container(text("Waiting for the customer's screen…")).center(Fill).into();
        };
        let actual = self.actual_size;
        let area = move |area: Size| {
            let img = image(handle.clone()).content_fit(if actual {
                ContentFit::None
            } else {
                ContentFit::Contain
            });
            let img =
                if actual { img.width(w as f32).height(h as f32) } else { img.width(Fill).height(Fill) };
            let size = if actual { Size::new(w as f32, h as f32) } else { area };
            mouse_area(img)
                .on_move(move |p| Message::Moved(p, size))
                .on_press(Message::Button(MouseButton::Left, Action::Press))
                .on_release(Message::Button(MouseButton::Left, Action::Release))
                .on_right_press(Message::Button(MouseButton::Right, Action::Click))
                .on_middle_press(Message::Button(MouseButton::Middle, Action::Click))
                .on_scroll(Message::Wheel)
        };
        if actual {
            scrollable(area(Size::new(w as f32, h as f32)))
                .direction(scrollable::Direction::Both {
                    vertical: scrollable::Scrollbar::default(),
                    horizontal: scrollable::Scrollbar::default(),
                })
                .width(Fill)
                .height(Fill)
                .into()
        } else {
            responsive(move |size| area(size).into()).into()
        }
    }

    /// One button per monitor when the customer has several; the shared
    /// one stands out.
    fn monitor_buttons(&self) -> Element<'_, Message> {
        let (list, active) = &self.monitors;
        if list.len() < 2 {
            return row![].into();
        }
        list.iter()
            .fold(row![].spacing(4), |r, (id, name)| {
                let style = if id == active { button::primary } else { button::secondary };
                r.push(button(text(format!("Screen {name}"))).on_press(Message::Monitor(*id)).style(style))
            })
            .into()
    }

    /// One button per canned reply; a click puts it in the draft to edit
    /// or send.
    fn canned_buttons(&self) -> Element<'_, Message> {
        let buttons = self.canned.iter().enumerate().fold(column![].spacing(2), |c, (i, reply)| {
            let short: String = reply.chars().take(32).collect();
            let label = if short.len() < reply.len() { format!("{short}…") } else { short };
            c.push(button(text(label).size(12)).on_press(Message::Canned(i)).style(button::secondary))
        });
        scrollable(buttons).height(iced::Length::Shrink).into()
    }

    /// Send and fetch, and every transfer with its progress and Cancel.
    fn files_panel(&self) -> Element<'_, Message> {
        let rows = self.transfers.iter().fold(column![].spacing(4), |c, t| {
            let arrow = if t.incoming { "↓" } else { "↑" };
            let cancel = (!t.over).then(|| button(text("Cancel").size(12)).on_press(Message::Cancel(t.id)));
            c.push(column![
                row![text(format!("{arrow} {}", t.name)).width(Fill)].push(cancel),
                progress_bar(0.0..=1.0, t.fraction).girth(6),
                text(t.line.clone()).size(12),
            ])
        });
        column![
            text("Files").size(18),
            text_input("File to send (path)", &self.send_path)
                .id("send-path")
                .on_input(Message::SendPath)
                .on_submit(Message::SendFile),
            text_input("Customer's file (Shared/name)", &self.fetch_path)
                .id("fetch-path")
                .on_input(Message::FetchPath)
                .on_submit(Message::FetchFile),
            self.browser.view().map(Message::Browser),
            rows,
        ]
        .spacing(6)
        .into()
    }

    /// The screen.
    pub fn view(&self) -> Element<'_, Message> {
        let control = if self.consent.control {
            text("You have control").style(text::success)
        } else {
            text("View only")
        };
        // The toolbar holds only buttons and the status bar is one line that
        // never wraps, so changing figures never resize the picture under the
        // technician's pointer.
        let toolbar = row![
            button(text("Dashboard")).on_press(Message::Dashboard).style(button::secondary),
            button(text("Request control"))
                .on_press_maybe((!self.consent.control).then_some(Message::RequestControl)),
            button(text(if self.actual_size { "Fit to window" } else { "Actual size" }))
                .on_press(Message::ToggleFit),
            // Names the mode it is in; a click switches.
            button(text(if self.lossy { "Photos: adaptive" } else { "Photos: exact" }))
                .on_press(Message::ToggleLossy)
                .style(button::secondary),
            self.monitor_buttons(),
            space::horizontal(),
            button(text(if self.ended.is_some() { "Close" } else { "End session" }))
                .on_press(Message::End)
                .style(button::danger),
        ]
        .spacing(12)
        .padding(8)
        .align_y(Center);
        let status = row![
            control.wrapping(Wrapping::None),
            text(format!(
                "{} · RTT {} ms · {:.0} fps · {:.1} kB/s · {}",
                self.status.path, self.status.rtt_ms, self.status.fps, self.status.kbps, self.status.sas
            ))
            .wrapping(Wrapping::None)
            .width(Fill),
        ]
        .spacing(16)
        .padding([4, 8]);
        let body: Element<'_, Message> = match &self.ended {
            Some(why) => container(text(why.clone()).size(24)).center(Fill).into(),
            None if self.reconnecting => column![
                container(text("Reconnecting… the customer's computer is not answering.").size(18))
                    .padding(8)
                    .width(Fill)
                    .style(container::warning),
                self.picture()
            ]
            .into(),
            // Letterboxed on a dark ground, as a screen is.
            None => container(self.picture())
                .style(|_| container::Style::default().background(Color::from_rgb8(0x20, 0x22, 0x25)))
                .into(),
        };
        let lines = self.chat.iter().fold(column![].spacing(4), |c, line| {
            let who = match line.author {
                ChatAuthor::Technician => "You",
                ChatAuthor::Customer => "Customer",
            };
            // A tick once the customer's agent confirmed delivery.
            let tick = if line.delivered.is_some() { " ✓" } else { "" };
            c.push(text(format!("{who}: {}{tick}", line.text)))
        });
        let chat = column![
            text("Chat").size(18),
            scrollable(lines).height(Fill),
            self.canned_buttons(),
            text_input("Message to the customer", &self.draft)
                .id("chat")
                .on_input(Message::Draft)
                .on_submit(Message::SendChat),
            text(match self.notes {
                0 => "Notes (for the record, not the customer)".to_owned(),
                n => format!("Notes ({n} saved; not shown to the customer)"),
            })
            .size(14),
            text_input("A note for the session record", &self.note)
                .id("session-note")
                .on_input(Message::NoteDraft)
                .on_submit(Message::SaveNote),
            self.files_panel(),
        ]
        .spacing(6)
        .padding(8)
        .width(260);
        column![toolbar, row![body, chat].height(Fill), status].into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::simulator;

    fn session_with_picture() -> Session {
        let mut s = Session::new(Status {
            path: "direct".into(),
            sas: "acid amber atlas bear".into(),
            ..Status::default()
        });
        s.picture = Some((image::Handle::from_rgba(4, 2, vec![255; 32]), 4, 2));
        s
    }

    #[test]
    fn input_is_sent_only_while_control_is_granted() {
        let mut s = session_with_picture();
        let moved = Message::Moved(Point::new(2.0, 1.0), Size::new(4.0, 2.0));
        assert_eq!(s.update(moved.clone()), None, "no control, no input");
        s.consent.control = true;
        assert_eq!(s.update(moved), Some(Event::Input(ConsoleToAgent::PointerMove { x: 2, y: 1 })));
        // Revoked by the customer: at once nothing more is sent.
        s.consent.control = false;
        assert_eq!(s.update(Message::Button(MouseButton::Left, Action::Press)), None);
    }

    #[test]
    fn chat_lines_are_sent_and_shown() {
        let mut s = session_with_picture();
        let mut ui = simulator(s.view());
        ui.click(iced::widget::Id::new("chat")).unwrap();
        let _ = ui.typewrite("hello");
        let _ = ui.tap_key(iced::keyboard::key::Named::Enter);
        let messages: Vec<_> = ui.into_messages().collect();
        let events: Vec<_> = messages.into_iter().filter_map(|m| s.update(m)).collect();
        assert_eq!(events, vec![Event::Chat("hello".into())]);
        s.chat.push(ChatLine { author: ChatAuthor::Customer, text: "thanks".into(), id: 1, delivered: None });
        let sent = Some(std::time::Duration::from_millis(30));
        s.chat.push(ChatLine {
            author: ChatAuthor::Technician,
            text: "hello".into(),
            id: 1,
            delivered: sent,
        });
        let mut ui = simulator(s.view());
        assert!(ui.find("Customer: thanks").is_ok());
        assert!(ui.find("You: hello ✓").is_ok());
    }

    #[test]
    fn a_note_goes_to_the_record_not_the_chat() {
        let mut s = session_with_picture();
        let mut ui = simulator(s.view());
        ui.click(iced::widget::Id::new("session-note")).unwrap();
        let _ = ui.typewrite("Customer on VPN; driver 4.2");
        let _ = ui.tap_key(iced::keyboard::key::Named::Enter);
        let messages: Vec<_> = ui.into_messages().collect();
        let events: Vec<_> = messages.into_iter().filter_map(|m| s.update(m)).collect();
        assert_eq!(events, vec![Event::Note("Customer on VPN; driver 4.2".into())]);
        assert!(s.chat.is_empty(), "a note never shows in the chat");
        assert!(simulator(s.view()).find("Notes (1 saved; not shown to the customer)").is_ok());
        assert_eq!(s.update(Message::SaveNote), None, "an empty note is not saved");
    }

    #[test]
    fn a_canned_reply_fills_the_draft() {
        let mut s = session_with_picture();
        s.canned = vec!["Please restart the printer.".into()];
        let mut ui = simulator(s.view());
        ui.click("Please restart the printer.").unwrap();
        let mut events: Vec<_> =
            ui.into_messages().collect::<Vec<_>>().into_iter().filter_map(|m| s.update(m)).collect();
        assert!(events.is_empty());
        let mut ui = simulator(s.view());
        ui.click(iced::widget::Id::new("chat")).unwrap();
        let _ = ui.tap_key(iced::keyboard::key::Named::Enter);
        events.extend(ui.into_messages().collect::<Vec<_>>().into_iter().filter_map(|m| s.update(m)));
        assert_eq!(events, vec![Event::Chat("Please restart the printer.".into())]);
    }

    #[test]
    fn files_are_sent_fetched_and_cancelled_from_the_panel() {
        let mut s = session_with_picture();
        let mut ui = simulator(s.view());
        ui.click(iced::widget::Id::new("send-path")).unwrap();
        let _ = ui.typewrite("/tmp/fix.sh");
        let _ = ui.tap_key(iced::keyboard::key::Named::Enter);
        let events: Vec<_> =
            ui.into_messages().collect::<Vec<_>>().into_iter().filter_map(|m| s.update(m)).collect();
        assert_eq!(events, vec![Event::SendFile("/tmp/fix.sh".into())]);
        s.transfers.push(Shown {
            id: 3,
            name: "fix.sh".into(),
            incoming: false,
            fraction: 0.5,
            line: "50% 1.0 MB/s, 2 s left".into(),
            over: false,
        });
        let mut ui = simulator(s.view());
        assert!(ui.find("50% 1.0 MB/s, 2 s left").is_ok());
        ui.click("Cancel").unwrap();
        let events: Vec<_> =
            ui.into_messages().collect::<Vec<_>>().into_iter().filter_map(|m| s.update(m)).collect();
        assert_eq!(events, vec![Event::Cancel(3)]);
    }

    #[test]
    fn monitor_buttons_switch_to_another_monitor() {
        let mut s = session_with_picture();
        s.monitors = (vec![(7, "LEFT".into()), (9, "RIGHT".into())], 7);
        let mut ui = simulator(s.view());
        ui.click("Screen RIGHT").unwrap();
        let messages: Vec<_> = ui.into_messages().collect();
        let events: Vec<_> = messages.into_iter().filter_map(|m| s.update(m)).collect();
        assert_eq!(events, vec![Event::Monitor(9)]);
        // The shared one again is nothing to do; one monitor shows no buttons.
        assert_eq!(s.update(Message::Monitor(7)), None);
        s.monitors = (vec![(7, "LEFT".into())], 7);
        assert!(simulator(s.view()).find("Screen LEFT").is_err());
    }

    #[test]
    fn the_photo_button_forbids_and_allows_lossy_tiles() {
        let mut s = session_with_picture();
        let mut ui = simulator(s.view());
        ui.click("Photos: adaptive").unwrap();
        let events: Vec<_> = ui.into_messages().filter_map(|m| s.update(m)).collect();
        assert_eq!(events, vec![Event::Lossy(false)]);
        let mut ui = simulator(s.view());
        ui.click("Photos: exact").unwrap();
        let events: Vec<_> = ui.into_messages().filter_map(|m| s.update(m)).collect();
        assert_eq!(events, vec![Event::Lossy(true)]);
    }

    #[test]
    fn status_bar_shows_path_and_words_and_end_works() {
        let mut s = session_with_picture();
        let mut ui = simulator(s.view());
        assert!(ui.find("direct · RTT 0 ms · 0 fps · 0.0 kB/s · acid amber atlas bear").is_ok());
        ui.click("End session").unwrap();
        let messages: Vec<_> = ui.into_messages().collect();
        let events: Vec<_> = messages.into_iter().filter_map(|m| s.update(m)).collect();
        assert_eq!(events, vec![Event::End]);
    }
}
