//! The exit survey in the window: once the session is over, "How did it
//! go?" with five buttons and a comment, or Skip. The session waits for the
//! answer (a few minutes at most) so that it goes into the record before
//! the agent leaves the server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use iced::widget::{button, column, row, text, text_input};
use iced::{Center, Element};
use tether_protocol::signal::MAX_SURVEY_COMMENT;
use tokio::sync::mpsc;

/// How long the session waits for an answer.
const WAIT: Duration = Duration::from_secs(180);

/// A rating and a comment, or nothing.
pub type Answer = Option<(u8, String)>;

/// Where the answer goes, once.
#[derive(Debug, Clone)]
pub struct SurveyReply(Arc<Mutex<Option<std::sync::mpsc::SyncSender<Answer>>>>);

impl SurveyReply {
    /// Answers; later answers go nowhere.
    pub fn send(&self, answer: Answer) {
        if let Some(tx) = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            let _ = tx.send(answer);
        }
    }
}

/// Asks the survey in the window from the session's (blocking) caller and
/// waits for the answer: `None` if the window is gone or nobody answers.
#[must_use]
pub fn ask_in_window(window: &mpsc::UnboundedSender<SurveyForm>) -> Answer {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let form = SurveyForm {
        rating: None,
        comment: String::new(),
        reply: SurveyReply(Arc::new(Mutex::new(Some(tx)))),
    };
    window.send(form).ok()?;
    rx.recv_timeout(WAIT).ok().flatten()
}

/// The survey's state.
#[derive(Debug, Clone)]
pub struct SurveyForm {
    /// The rating chosen, 1 to 5.
    pub rating: Option<u8>,
    /// What the customer wrote.
    pub comment: String,
    /// Where the answer goes.
    pub reply: SurveyReply,
}

/// What the customer did in the survey.
#[derive(Debug, Clone)]
pub enum SurveyMessage {
    /// A rating was chosen.
    Rate(u8),
    /// The comment changed.
    Comment(String),
    /// Send the answer.
    Send,
    /// No answer.
    Skip,
}

impl SurveyForm {
    /// Handles one message; true once answered (or skipped).
    pub fn update(&mut self, message: SurveyMessage) -> bool {
        match message {
            SurveyMessage::Rate(r) => self.rating = Some(r.clamp(1, 5)),
            SurveyMessage::Comment(c) => {
                self.comment = tether_protocol::channel::clip_to(&c, MAX_SURVEY_COMMENT).to_owned();
            }
            SurveyMessage::Send => {
                let Some(rating) = self.rating else { return false };
                self.reply.send(Some((rating, self.comment.trim().to_owned())));
                return true;
            }
            SurveyMessage::Skip => {
                self.reply.send(None);
                return true;
            }
        }
        false
    }

    /// The survey.
    pub fn view(&self) -> Element<'_, SurveyMessage> {
        let stars = (1..=5u8).fold(row![].spacing(8), |r, n| {
            let b = button(text(n.to_string()).size(20)).on_press(SurveyMessage::Rate(n)).padding([8, 16]);
            r.push(if self.rating == Some(n) { b.style(button::success) } else { b.style(button::secondary) })
        });
        column![
            text("The session has ended. How did it go?").size(22),
            text("1 is bad, 5 is great. Your technician's team reads the answers."),
            stars,
            text_input("Anything to add? (optional)", &self.comment)
                .id("survey-comment")
                .on_input(SurveyMessage::Comment)
                .on_submit(SurveyMessage::Send)
                .width(420),
            row![
                button(text("Send")).on_press_maybe(self.rating.map(|_| SurveyMessage::Send)),
                button(text("Skip")).on_press(SurveyMessage::Skip).style(button::secondary),
            ]
            .spacing(12),
        ]
        .spacing(14)
        .align_x(Center)
        .into()
    }
}
