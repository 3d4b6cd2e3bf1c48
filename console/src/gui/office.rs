//! The window's back office: one server connection of its own, opened on
//! first use, for reports, notes on ended sessions, the recent-session list
//! and (for admins) administration; and the screens' events turned into its
//! requests and its answers into the screens.

use iced::Task;
use iced::futures::{SinkExt, Stream};
use tether_protocol::admin::{AdminReply, AdminRequest};
use tether_protocol::signal::SessionSummary;
use tokio::sync::mpsc;

use super::queue::Login;
use super::{App, Message, Screen};
use crate::screen::{admin, dashboard, reports};
use crate::session::{ConsoleError, Technician};

/// Requests waiting for the connection before the screens are told it is
/// busy.
const BACKLOG: usize = 16;

/// Which screen asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum For {
    /// Administration.
    Admin,
    /// Reports.
    Reports,
    /// A note on the dashboard.
    Note,
}

/// A request for the back office.
#[derive(Debug, Clone)]
pub enum Ask {
    /// An admin, report or note request.
    Office(For, AdminRequest),
    /// The technician's recent sessions.
    Recent,
}

/// Its answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// To an admin, report or note request.
    Office(For, Result<AdminReply, String>),
    /// The recent sessions.
    Recent(Result<Vec<SessionSummary>, String>),
}

async fn one(tech: &mut Technician, ask: Ask) -> (Answer, bool) {
    let broken = |e: &ConsoleError| matches!(e, ConsoleError::Transport(_));
    match ask {
        Ask::Office(who, request) => {
            let r = tech.office(request).await;
            let lost = r.as_ref().is_err_and(broken);
            (Answer::Office(who, r.map_err(|e| e.to_string())), lost)
        }
        Ask::Recent => {
            let r = tech.recent_sessions().await;
            let lost = r.as_ref().is_err_and(broken);
            (Answer::Recent(r.map_err(|e| e.to_string())), lost)
        }
    }
}

fn failed(ask: Ask, why: String) -> Answer {
    match ask {
        Ask::Office(who, _) => Answer::Office(who, Err(why)),
        Ask::Recent => Answer::Recent(Err(why)),
    }
}

/// Serves `asks` in order on one connection, logging in again after the
/// connection was lost.
pub fn serve(login: Login, mut asks: mpsc::Receiver<Ask>) -> impl Stream<Item = Message> {
    iced::stream::channel(BACKLOG, async move |mut out| {
        let mut tech: Option<Technician> = None;
        while let Some(ask) = asks.recv().await {
            if tech.is_none() {
                match login.connect().await {
                    Ok(t) => tech = Some(t),
                    Err(e) => {
                        let _ = out.send(Message::Office(failed(ask, e.to_string()))).await;
                        continue;
                    }
                }
            }
            let Some(t) = tech.as_mut() else { continue };
            let (answer, lost) = one(t, ask).await;
            if lost {
                tech = None;
            }
            let _ = out.send(Message::Office(answer)).await;
        }
    })
}

impl App {
    /// Opens the back office for the logged-in technician.
    pub(super) fn open_office(&mut self) -> Task<Message> {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let (task, handle) = Task::run(serve(self.login(), rx), |m| m).abortable();
        self.office = Some((tx, handle));
        task
    }

    /// Closes it (logging out).
    pub(super) fn close_office(&mut self) {
        if let Some((_, handle)) = self.office.take() {
            handle.abort();
        }
    }

    /// Hands `ask` to the back office; false if it cannot take it now.
    pub(super) fn ask(&self, ask: Ask) -> bool {
        self.office.as_ref().is_some_and(|(tx, _)| tx.try_send(ask).is_ok())
    }

    fn ask_for(&mut self, who: For, request: AdminRequest) {
        if !self.ask(Ask::Office(who, request)) {
            self.answered(Answer::Office(who, Err("The console is busy; try again.".into())));
        }
    }

    /// Shows the reports, running the default report the first time.
    pub(super) fn show_reports(&mut self) {
        self.screen = Screen::Reports;
        if self.reports.status == reports::Status::Idle
            && let Some(run) = self.reports.update(reports::Message::Run)
        {
            self.reports_event(run);
        }
    }

    /// Shows administration, with the accounts and desks as they are now.
    pub(super) fn show_admin(&mut self) {
        self.screen = Screen::Admin;
        self.ask_for(For::Admin, AdminRequest::Accounts);
        self.ask_for(For::Admin, AdminRequest::Desks);
    }

    pub(super) fn reports_event(&mut self, event: reports::Event) {
        match event {
            reports::Event::Run { from, to, group_by } => {
                self.ask_for(For::Reports, AdminRequest::Report { from, to, group_by });
            }
            reports::Event::Back => self.screen = Screen::Dashboard,
        }
    }

    pub(super) fn admin_event(&mut self, event: admin::Event) {
        match event {
            admin::Event::Ask(request) => self.ask_for(For::Admin, request),
            admin::Event::Back => self.screen = Screen::Dashboard,
        }
    }

    pub(super) fn add_note(&mut self, session: u64, text: String) {
        self.dash.noted = Some("Saving the note…".into());
        self.ask_for(For::Note, AdminRequest::AddNote { session, text });
    }

    /// Puts an answer where it belongs.
    pub(super) fn answered(&mut self, answer: Answer) {
        match answer {
            Answer::Recent(Ok(list)) => {
                for s in &list {
                    // Scripts and tests read these; people read the dashboard.
                    println!("recent: {}", dashboard::describe(s));
                }
                self.dash.recent = list;
            }
            Answer::Recent(Err(why)) => tracing::warn!("could not load recent sessions: {why}"),
            Answer::Office(For::Reports, Ok(AdminReply::Report { rows, more })) => {
                for r in &rows {
                    println!("report: {} {} sessions, {} s", r.group, r.sessions, r.total_secs);
                }
                self.reports.answered(Ok((rows, more)));
            }
            Answer::Office(For::Reports, Ok(other)) => {
                self.reports.answered(Err(format!("the server answered oddly: {other:?}")));
            }
            Answer::Office(For::Reports, Err(why)) => self.reports.answered(Err(why)),
            Answer::Office(For::Admin, Ok(AdminReply::Accounts { accounts, .. })) => {
                println!("admin: {} accounts", accounts.len());
                self.admin.accounts = accounts;
            }
            Answer::Office(For::Admin, Ok(AdminReply::Desks { desks, .. })) => self.admin.desks = desks,
            Answer::Office(For::Admin, Ok(AdminReply::Done(said))) => {
                println!("admin: {said}");
                self.admin.answered(said, false);
                self.show_admin();
            }
            Answer::Office(For::Admin, Ok(AdminReply::Refused(why)) | Err(why)) => {
                println!("admin refused: {why}");
                self.admin.answered(why, true);
            }
            Answer::Office(For::Note, Ok(AdminReply::Done(said))) => {
                println!("note: {said}");
                self.dash.noted = Some("Note saved.".into());
            }
            Answer::Office(For::Note, Ok(AdminReply::Refused(why)) | Err(why)) => {
                self.dash.noted = Some(format!("The note was not saved: {why}"));
            }
            Answer::Office(who, Ok(other)) => tracing::warn!("unexpected answer for {who:?}: {other:?}"),
        }
    }
}
