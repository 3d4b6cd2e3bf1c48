//! Login: server, user and password, with plain errors.

use iced::widget::{button, column, container, text, text_input};
use iced::{Center, Element, Fill};

/// The form.
#[derive(Debug, Clone, Default)]
pub struct Login {
    /// `HOST:PORT`.
    pub server: String,
    /// Account name.
    pub user: String,
    password: String,
    /// The last error, shown under the form.
    pub error: Option<String>,
    /// A security warning (the server key changed), shown instead of retrying.
    pub warning: Option<String>,
    busy: bool,
}

/// What the user did.
#[derive(Debug, Clone)]
pub enum Message {
    /// Server field.
    Server(String),
    /// User field.
    User(String),
    /// Password field.
    Password(String),
    /// Log in.
    Submit,
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Log in with these.
    LogIn {
        /// `HOST:PORT`.
        server: String,
        /// Account.
        user: String,
        /// Password.
        password: String,
    },
}

impl Login {
    /// A form pre-filled with a remembered server and user.
    #[must_use]
    pub fn new(server: String, user: String) -> Self {
        Self { server, user, ..Self::default() }
    }

    /// The login failed; `security` marks a changed server key.
    pub fn failed(&mut self, message: String, security: bool) {
        self.busy = false;
        if security {
            self.warning = Some(message);
        } else {
            self.error = Some(message);
        }
    }

    /// Handles one message.
    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Server(s) => self.server = s,
            Message::User(u) => self.user = u,
            Message::Password(p) => self.password = p,
            Message::Submit => {
                if self.server.trim().is_empty() || self.user.trim().is_empty() {
                    self.error = Some("Enter the server and your user name.".into());
                    return None;
                }
                self.error = None;
                self.warning = None;
                self.busy = true;
                return Some(Event::LogIn {
                    server: self.server.trim().to_owned(),
                    user: self.user.trim().to_owned(),
                    password: self.password.clone(),
                });
            }
        }
        None
    }

    /// The form.
    pub fn view(&self) -> Element<'_, Message> {
        let submit = button(text(if self.busy { "Logging in…" } else { "Log in" }))
            .on_press_maybe((!self.busy).then_some(Message::Submit))
            .padding([8, 24]);
        let mut form = column![
            text("Tether console").size(28),
            text("Server"),
            text_input("support.example.com:7700", &self.server).id("server").on_input(Message::Server),
            text("User"),
            text_input("alice", &self.user).id("user").on_input(Message::User),
            text("Password"),
            text_input("password", &self.password)
                .id("password")
                .secure(true)
                .on_input(Message::Password)
                .on_submit(Message::Submit),
            submit,
        ]
        .spacing(8)
        .max_width(380);
        if let Some(w) = &self.warning {
            form = form.push(text(w).style(text::danger));
        }
        if let Some(e) = &self.error {
            form = form.push(text(e).style(text::danger));
        }
        container(form).center_x(Fill).center_y(Fill).align_x(Center).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::simulator;

    #[test]
    fn a_bad_password_shows_the_error() {
        let mut login = Login::new("127.0.0.1:7700".into(), "alice".into());
        let mut ui = simulator(login.view());
        ui.click(iced::widget::Id::new("password")).unwrap();
        let _ = ui.typewrite("wrong");
        let _ = ui.tap_key(iced::keyboard::key::Named::Enter);
        let messages: Vec<_> = ui.into_messages().collect();
        let mut event = None;
        for m in messages {
            event = login.update(m).or(event);
        }
        assert_eq!(
            event,
            Some(Event::LogIn {
                server: "127.0.0.1:7700".into(),
                user: "alice".into(),
                password: "wrong".into()
            })
        );
        login.failed("wrong user name or password".into(), false);
        let mut ui = simulator(login.view());
        assert!(ui.find("wrong user name or password").is_ok());
    }

    #[test]
    fn empty_fields_are_refused_with_a_message() {
        let mut login = Login::default();
        assert_eq!(login.update(Message::Submit), None);
        let mut ui = simulator(login.view());
        assert!(ui.find("Enter the server and your user name.").is_ok());
    }
}
