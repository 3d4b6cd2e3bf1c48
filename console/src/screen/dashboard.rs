//! Dashboard: make a session code, show it large with a countdown, list the
//! help requests waiting at the technician's desks (take one), the live
//! sessions (open any of them) and recent ones (add a note to any), and
//! the way to the reports and, for admins, administration.

use std::time::{Duration, Instant};

use iced::widget::{button, column, container, row, text, text_input};
use iced::{Center, Element, Fill};
use tether_protocol::queue::QueueItem;
use tether_protocol::signal::SessionSummary;

/// Where the current code stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeState {
    /// No code yet.
    None,
    /// Asking the server.
    Requesting,
    /// Read it to the customer.
    Waiting {
        /// `123-4567`.
        code: String,
        /// When it stops working.
        expires: Instant,
    },
    /// The customer typed it; setting up the secure connection.
    Connecting,
    /// It failed; why, in words.
    Failed(String),
}

/// The dashboard.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Who is logged in.
    pub technician: String,
    /// The current code.
    pub code: CodeState,
    /// Live sessions: id and a one-line description.
    pub live: Vec<(u64, String)>,
    /// Recent sessions, newest first.
    pub recent: Vec<SessionSummary>,
    /// The note being written for a recent session: its id and the text.
    pub noting: Option<(u64, String)>,
    /// What happened to the last note.
    pub noted: Option<String>,
    /// An admin sees the way to administration.
    pub admin: bool,
    /// Help requests waiting at the technician's desks, oldest first.
    pub requests: Vec<QueueItem>,
    /// Why the last take failed (someone else was first, say).
    pub take_failed: Option<String>,
    now: Instant,
    /// The wall clock (Unix seconds), for how long requests waited.
    clock: u64,
}

/// What the user did.
#[derive(Debug, Clone)]
pub enum Message {
    /// Make a new code.
    NewCode,
    /// Copy the code to the clipboard.
    Copy,
    /// Log out.
    LogOut,
    /// Go to this live session.
    Open(u64),
    /// Take this help request.
    Take(u64),
    /// Start a note for this recorded session.
    Note(u64),
    /// The note's text.
    NoteText(String),
    /// Send the note.
    SaveNote,
    /// Drop the note.
    CancelNote,
    /// Show the reports.
    Reports,
    /// Show administration.
    Admin,
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Ask the server for a code and wait for the customer.
    NewCode,
    /// Put this on the clipboard.
    Copy(String),
    /// Back to the login screen.
    LogOut,
    /// Show this live session.
    Open(u64),
    /// Claim this help request.
    Take(u64),
    /// Add this note to this recorded session.
    AddNote(u64, String),
    /// Show the reports.
    Reports,
    /// Show administration.
    Admin,
}

/// A Unix time as "30 Nov 16:40 UTC".
#[must_use]
pub fn when(unix: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(i64::MAX)).map_or_else(
        |_| "unknown time".to_owned(),
        |t| {
            let month = t.month().to_string();
            format!("{} {} {:02}:{:02} UTC", t.day(), &month[..3], t.hour(), t.minute())
        },
    )
}

/// One line for a recorded session: when, how long, which path, how it ended.
#[must_use]
pub fn describe(s: &SessionSummary) -> String {
    let when = when(s.started);
    let length = match s.ended {
        Some(end) => {
            let secs = end.saturating_sub(s.started);
            if secs < 60 { format!("{secs} s") } else { format!("{} min", secs / 60) }
        }
        None => "no end recorded".to_owned(),
    };
    format!("{when} · {length} · {} · {}", s.path_text(), s.outcome)
}

fn countdown(left: Duration) -> String {
    let s = left.as_secs();
    format!("expires in {}:{:02}", s / 60, s % 60)
}

impl Dashboard {
    /// A dashboard for `technician`.
    #[must_use]
    pub fn new(technician: String, now: Instant) -> Self {
        Self {
            technician,
            code: CodeState::None,
            live: Vec::new(),
            recent: Vec::new(),
            requests: Vec::new(),
            noting: None,
            noted: None,
            admin: false,
            take_failed: None,
            now,
            clock: 0,
        }
    }

    /// Advances the countdown.
    pub fn tick(&mut self, now: Instant) {
        self.now = now;
        self.clock =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if let CodeState::Waiting { code, expires } = &self.code
            && *expires <= now
        {
            self.code = CodeState::Failed(format!("Code {code} expired; make a new one."));
        }
    }

    /// Handles one message.
    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::NewCode => {
                self.code = CodeState::Requesting;
                Some(Event::NewCode)
            }
            Message::Copy => match &self.code {
                CodeState::Waiting { code, .. } => Some(Event::Copy(code.clone())),
                _ => None,
            },
            Message::LogOut => self.live.is_empty().then_some(Event::LogOut),
            Message::Open(id) => Some(Event::Open(id)),
            Message::Take(request) => {
                self.take_failed = None;
                Some(Event::Take(request))
            }
            Message::Note(id) => {
                self.noting = Some((id, String::new()));
                self.noted = None;
                None
            }
            Message::NoteText(t) => {
                if let Some((_, text)) = &mut self.noting {
                    *text = t;
                }
                None
            }
            Message::SaveNote => match self.noting.take() {
                Some((id, text)) if !text.trim().is_empty() => {
                    Some(Event::AddNote(id, text.trim().to_owned()))
                }
                other => {
                    self.noting = other;
                    None
                }
            },
            Message::CancelNote => {
                self.noting = None;
                None
            }
            Message::Reports => Some(Event::Reports),
            Message::Admin => self.admin.then_some(Event::Admin),
        }
    }

    /// Recent sessions, each with Note (those the server numbered), and the
    /// note being written under its session.
    fn recent(&self) -> Element<'_, Message> {
        let title = text("Recent sessions").size(20);
        let mut list = self.recent.iter().fold(column![title].spacing(4), |c, s| {
            let line = text(describe(s));
            let c = if s.id == 0 {
                c.push(line)
            } else {
                c.push(
                    row![line, button(text("Note")).on_press(Message::Note(s.id))]
                        .spacing(12)
                        .align_y(Center),
                )
            };
            match &self.noting {
                Some((id, note)) if *id == s.id => c.push(
                    row![
                        text_input("A note for this session's record", note)
                            .id("note")
                            .on_input(Message::NoteText)
                            .on_submit(Message::SaveNote)
                            .width(420),
                        button(text("Save note")).on_press(Message::SaveNote),
                        button(text("Cancel")).on_press(Message::CancelNote),
                    ]
                    .spacing(8)
                    .align_y(Center),
                ),
                _ => c,
            }
        });
        if let Some(noted) = &self.noted {
            list = list.push(text(noted.clone()));
        }
        list.into()
    }

    /// The waiting requests, one row each with Take.
    fn requests(&self) -> Element<'_, Message> {
        let title = text(format!("Help requests ({})", self.requests.len())).size(20);
        let rows = self.requests.iter().fold(column![title].spacing(6), |c, r| {
            let waited = self.clock.saturating_sub(r.since);
            let waited = if waited < 60 { format!("{waited} s") } else { format!("{} min", waited / 60) };
            let fields: Vec<String> = r.ask.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let line = format!("{} ({}) · waiting {waited} · {}", r.ask.name, r.ask.desk, r.ask.problem);
            c.push(
                row![
                    column![text(line), text(fields.join(" · ")).size(12)].width(Fill),
                    button(text("Take")).on_press(Message::Take(r.request)),
                ]
                .spacing(12)
                .align_y(Center),
            )
        });
        match &self.take_failed {
            Some(why) => rows.push(text(why.clone()).style(text::danger)).into(),
            None => rows.into(),
        }
    }

    /// The screen.
    pub fn view(&self) -> Element<'_, Message> {
        let busy =
            matches!(self.code, CodeState::Requesting | CodeState::Connecting | CodeState::Waiting { .. });
        let new_code = button(text("New session code"))
            .on_press_maybe((!busy).then_some(Message::NewCode))
            .padding([10, 20]);
        let code: Element<'_, Message> = match &self.code {
            CodeState::None => text("Make a code and read it to your customer.").into(),
            CodeState::Requesting => text("Asking the server for a code…").into(),
            CodeState::Waiting { code, expires } => column![
                text(code.clone()).size(64),
                row![
                    text(countdown(expires.saturating_duration_since(self.now))),
                    button(text("Copy")).on_press(Message::Copy)
                ]
                .spacing(12)
                .align_y(Center),
                text("Waiting for the customer to type the code…"),
            ]
            .spacing(8)
            .align_x(Center)
            .into(),
            CodeState::Connecting => text("The customer is connecting…").into(),
            CodeState::Failed(why) => text(why.clone()).style(text::danger).into(),
        };
        let live = self.live.iter().fold(
            column![text("Live sessions").size(20)].spacing(6).align_x(Center),
            |c, (id, line)| {
                c.push(
                    row![text(line.clone()), button(text("Open")).on_press(Message::Open(*id))]
                        .spacing(12)
                        .align_y(Center),
                )
            },
        );
        let log_out = if self.live.is_empty() {
            button(text("Log out")).on_press(Message::LogOut)
        } else {
            button(text("End your sessions to log out"))
        };
        let mut header = row![text(format!("Logged in as {}", self.technician)).width(Fill)].spacing(12);
        header = header.push(button(text("Reports")).on_press(Message::Reports));
        if self.admin {
            header = header.push(button(text("Administration")).on_press(Message::Admin));
        }
        let header = header.push(log_out).align_y(Center);
        let mut body = column![header, new_code, code].spacing(24).align_x(Center).padding(24);
        if !self.requests.is_empty() || self.take_failed.is_some() {
            body = body.push(self.requests());
        }
        if !self.live.is_empty() {
            body = body.push(live);
        }
        container(body.push(self.recent())).center_x(Fill).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::simulator;

    #[test]
    fn a_new_code_shows_with_its_countdown_and_expires() {
        let start = Instant::now();
        let mut dash = Dashboard::new("alice".into(), start);
        let mut ui = simulator(dash.view());
        ui.click("New session code").unwrap();
        let messages: Vec<_> = ui.into_messages().collect();
        let events: Vec<_> = messages.into_iter().filter_map(|m| dash.update(m)).collect();
        assert_eq!(events, vec![Event::NewCode]);
        dash.code = CodeState::Waiting { code: "123-4567".into(), expires: start + Duration::from_secs(600) };
        dash.tick(start + Duration::from_secs(1));
        {
            let mut ui = simulator(dash.view());
            assert!(ui.find("123-4567").is_ok());
            assert!(ui.find("expires in 9:59").is_ok());
        }
        dash.tick(start + Duration::from_secs(601));
        let mut ui = simulator(dash.view());
        assert!(ui.find("Code 123-4567 expired; make a new one.").is_ok());
    }

    #[test]
    fn live_sessions_can_be_opened_and_block_log_out() {
        let mut dash = Dashboard::new("alice".into(), Instant::now());
        dash.live = vec![(7, "Session 7 · since 10:00 UTC · direct · viewing".into())];
        let messages: Vec<_> = {
            let mut ui = simulator(dash.view());
            assert!(ui.find("Session 7 · since 10:00 UTC · direct · viewing").is_ok());
            assert!(ui.find("End your sessions to log out").is_ok());
            ui.click("Open").unwrap();
            ui.into_messages().collect()
        };
        let events: Vec<_> = messages.into_iter().filter_map(|m| dash.update(m)).collect();
        assert_eq!(events, vec![Event::Open(7)]);
        assert_eq!(dash.update(Message::LogOut), None, "no log out with live sessions");
    }

    #[test]
    fn waiting_requests_show_and_can_be_taken() {
        use tether_protocol::queue::HelpRequest;
        let mut dash = Dashboard::new("alice".into(), Instant::now());
        dash.tick(Instant::now());
        dash.requests = vec![QueueItem {
            request: 4,
            ask: HelpRequest {
                desk: "billing".into(),
                name: "Carol".into(),
                problem: "The printer is offline".into(),
                fields: vec![("account".into(), "1234".into())],
            },
            since: dash.clock - 150,
        }];
        let messages: Vec<_> = {
            let mut ui = simulator(dash.view());
            assert!(ui.find("Help requests (1)").is_ok());
            assert!(ui.find("Carol (billing) · waiting 2 min · The printer is offline").is_ok());
            assert!(ui.find("account: 1234").is_ok());
            ui.click("Take").unwrap();
            ui.into_messages().collect()
        };
        let events: Vec<_> = messages.into_iter().filter_map(|m| dash.update(m)).collect();
        assert_eq!(events, vec![Event::Take(4)]);
    }

    #[test]
    fn recorded_sessions_read_plainly() {
        use tether_protocol::signal::{CandidateKind, PathKind, SessionOutcome};
        // 2026-11-30 16:40:00 UTC.
        let started = 1_796_056_800;
        let s = SessionSummary {
            id: 1,
            started,
            ended: Some(started + 754),
            path: Some(PathKind::Direct),
            technician_end: Some(CandidateKind::Host),
            customer_end: Some(CandidateKind::ServerReflexive),
            outcome: SessionOutcome::Ended,
        };
        assert_eq!(describe(&s), "30 Nov 16:40 UTC · 12 min · direct (host/srflx) · ended");
        let burned = SessionSummary {
            id: 2,
            started,
            ended: Some(started + 5),
            path: None,
            technician_end: None,
            customer_end: None,
            outcome: SessionOutcome::WrongCode,
        };
        assert_eq!(describe(&burned), "30 Nov 16:40 UTC · 5 s · not connected · wrong code");
    }

    #[test]
    fn a_note_is_written_under_its_session_and_sent() {
        use tether_protocol::signal::SessionOutcome;
        let mut dash = Dashboard::new("alice".into(), Instant::now());
        let done = |id| SessionSummary {
            id,
            started: 1_796_056_800,
            ended: Some(1_796_056_900),
            path: None,
            technician_end: None,
            customer_end: None,
            outcome: SessionOutcome::Ended,
        };
        // The session that just ended is not numbered yet: no Note for it.
        dash.recent = vec![done(0), done(12)];
        let messages: Vec<_> = {
            let mut ui = simulator(dash.view());
            ui.click("Note").unwrap();
            ui.into_messages().collect()
        };
        assert!(messages.into_iter().filter_map(|m| dash.update(m)).next().is_none());
        assert_eq!(dash.noting, Some((12, String::new())));
        assert_eq!(dash.update(Message::SaveNote), None, "an empty note is not sent");
        dash.update(Message::NoteText("  Reinstalled the driver ".into()));
        let messages: Vec<_> = {
            let mut ui = simulator(dash.view());
            ui.click("Save note").unwrap();
            ui.into_messages().collect()
        };
        let events: Vec<_> = messages.into_iter().filter_map(|m| dash.update(m)).collect();
        assert_eq!(events, [Event::AddNote(12, "Reinstalled the driver".into())]);
        assert_eq!(dash.noting, None);
        // Administration is only for admins; reports for everyone.
        assert_eq!(dash.update(Message::Admin), None);
        assert!(simulator(dash.view()).find("Administration").is_err());
        dash.admin = true;
        assert_eq!(dash.update(Message::Admin), Some(Event::Admin));
        assert_eq!(dash.update(Message::Reports), Some(Event::Reports));
    }

    #[test]
    fn a_burned_code_is_shown_plainly() {
        let mut dash = Dashboard::new("alice".into(), Instant::now());
        dash.code = CodeState::Failed(
            "The customer typed a wrong code. Code 123-4567 is burned; make a new one.".into(),
        );
        let mut ui = simulator(dash.view());
        assert!(ui.find("The customer typed a wrong code. Code 123-4567 is burned; make a new one.").is_ok());
    }
}
