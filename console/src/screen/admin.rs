//! Administration (admins only; the server checks again): the accounts with
//! their role, desks and state, a form to add one or change its role and
//! desks, enabling and disabling, and the desks with a form to add one.

use iced::widget::{button, column, pick_list, row, rule, scrollable, text, text_input};
use iced::{Center, Element, Fill, Length};
use tether_protocol::admin::{Account, AccountRole, AdminRequest, DeskSettings};
use tether_protocol::desk::FieldSpec;

/// The account form: empty to add, filled from a row to change it.
#[derive(Debug, Clone, Default)]
pub struct AccountForm {
    /// The account being changed; `None` adds a new one.
    pub editing: Option<String>,
    /// Login name.
    pub name: String,
    /// Organisation.
    pub organisation: String,
    /// Password (new accounts only).
    pub password: String,
    /// Role.
    pub role: Option<AccountRole>,
    /// Desks, comma-separated.
    pub desks: String,
}

/// The desk form.
#[derive(Debug, Clone, Default)]
pub struct DeskForm {
    /// Name.
    pub name: String,
    /// Seconds a request may wait.
    pub timeout: String,
    /// Fields, `KEY:LABEL:required|optional:MAX[:PATTERN]`, separated by
    /// semicolons.
    pub fields: String,
}

/// The admin screen.
#[derive(Debug, Clone, Default)]
pub struct Admin {
    /// The accounts, by name.
    pub accounts: Vec<Account>,
    /// The desks, by name.
    pub desks: Vec<DeskSettings>,
    /// The account form.
    pub account: AccountForm,
    /// The desk form.
    pub desk: DeskForm,
    /// What the server said to the last change, and whether it was refused.
    pub said: Option<(String, bool)>,
    /// Waiting for the server.
    pub busy: bool,
}

/// What the user did.
#[derive(Debug, Clone)]
pub enum Message {
    /// Account form: name.
    Name(String),
    /// Account form: organisation.
    Organisation(String),
    /// Account form: password.
    Password(String),
    /// Account form: role.
    Role(AccountRole),
    /// Account form: desks.
    Desks(String),
    /// Add the account, or save the changes to the one being edited.
    SaveAccount,
    /// Fill the form from this account.
    Edit(String),
    /// Clear the form.
    Clear,
    /// Disable (true) or enable this account.
    Disable(String, bool),
    /// Desk form: name.
    DeskName(String),
    /// Desk form: timeout.
    DeskTimeout(String),
    /// Desk form: fields.
    DeskFields(String),
    /// Add the desk.
    AddDesk,
    /// Back to the dashboard.
    Back,
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Send this to the server.
    Ask(AdminRequest),
    /// Show the dashboard.
    Back,
}

fn desk_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned).collect()
}

impl Admin {
    /// The request the account form makes, or why it cannot be sent.
    fn save_account(&self) -> Result<AdminRequest, String> {
        let f = &self.account;
        let role = f.role.ok_or("Choose a role.")?;
        let desks = desk_list(&f.desks);
        if let Some(name) = &f.editing {
            return Ok(AdminRequest::UpdateAccount {
                name: name.clone(),
                role: Some(role),
                desks: Some(desks),
                disabled: None,
            });
        }
        if f.name.trim().is_empty() || f.password.is_empty() {
            return Err("A new account needs a name and a password.".into());
        }
        let account = Account {
            name: f.name.trim().to_owned(),
            organisation: f.organisation.trim().to_owned(),
            role,
            desks,
            disabled: false,
        };
        Ok(AdminRequest::AddAccount { account, password: f.password.clone() })
    }

    /// The request the desk form makes, or why it cannot be sent.
    fn add_desk(&self) -> Result<AdminRequest, String> {
        let d = &self.desk;
        let timeout_secs = d
            .timeout
            .trim()
            .parse::<u64>()
            .map_err(|_| "The timeout is a number of seconds, like 300.".to_owned())?;
        let fields = d
            .fields
            .split(';')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| FieldSpec::parse(f).map_err(|e| format!("{f}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AdminRequest::AddDesk(DeskSettings { name: d.name.trim().to_owned(), fields, timeout_secs }))
    }

    fn ask(&mut self, request: Result<AdminRequest, String>) -> Option<Event> {
        match request {
            Ok(r) => {
                self.busy = true;
                self.said = None;
                Some(Event::Ask(r))
            }
            Err(why) => {
                self.said = Some((why, true));
                None
            }
        }
    }

    /// Handles one message.
    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Name(s) => self.account.name = s,
            Message::Organisation(s) => self.account.organisation = s,
            Message::Password(s) => self.account.password = s,
            Message::Role(r) => self.account.role = Some(r),
            Message::Desks(s) => self.account.desks = s,
            Message::Clear => self.account = AccountForm::default(),
            Message::Edit(name) => {
                let a = self.accounts.iter().find(|a| a.name == name)?;
                self.account = AccountForm {
                    editing: Some(a.name.clone()),
                    name: a.name.clone(),
                    organisation: a.organisation.clone(),
                    password: String::new(),
                    role: Some(a.role),
                    desks: a.desks.join(", "),
                };
            }
            Message::SaveAccount => return self.ask(self.save_account()),
            Message::Disable(name, disabled) => {
                let request =
                    AdminRequest::UpdateAccount { name, role: None, desks: None, disabled: Some(disabled) };
                return self.ask(Ok(request));
            }
            Message::DeskName(s) => self.desk.name = s,
            Message::DeskTimeout(s) => self.desk.timeout = s,
            Message::DeskFields(s) => self.desk.fields = s,
            Message::AddDesk => return self.ask(self.add_desk()),
            Message::Back => return Some(Event::Back),
        }
        None
    }

    /// The server answered a change: refused keeps the forms as typed.
    pub fn answered(&mut self, said: String, refused: bool) {
        self.busy = false;
        if !refused {
            self.account = AccountForm::default();
            self.desk = DeskForm::default();
        }
        self.said = Some((said, refused));
    }

    fn accounts(&self) -> Element<'_, Message> {
        let cell = |s: String, w: f32| text(s).width(Length::Fixed(w));
        let list = self.accounts.iter().fold(column![].spacing(4), |c, a| {
            let state = if a.disabled { "disabled" } else { "enabled" };
            let toggle = if a.disabled { "Enable" } else { "Disable" };
            c.push(
                row![
                    cell(a.name.clone(), 140.0),
                    cell(a.organisation.clone(), 140.0),
                    cell(a.role.to_string(), 100.0),
                    cell(a.desks.join(", "), 200.0),
                    cell(state.into(), 80.0),
                    button(text("Edit")).on_press(Message::Edit(a.name.clone())),
                    button(text(toggle)).on_press(Message::Disable(a.name.clone(), !a.disabled)),
                ]
                .spacing(8)
                .align_y(Center),
            )
        });
        let f = &self.account;
        let editing = f.editing.is_some();
        let mut name = text_input("name", &f.name).id("account-name").width(140);
        let mut password = text_input("password", &f.password).secure(true).width(140);
        let mut organisation = text_input("organisation", &f.organisation).width(140);
        if !editing {
            name = name.on_input(Message::Name);
            password = password.on_input(Message::Password);
            organisation = organisation.on_input(Message::Organisation);
        }
        let save = if editing { "Save changes" } else { "Add account" };
        let form = row![
            name,
            organisation,
            password,
            pick_list(AccountRole::ALL, f.role, Message::Role).placeholder("role"),
            text_input("desks, comma-separated", &f.desks).on_input(Message::Desks).width(200),
            button(text(save)).on_press_maybe((!self.busy).then_some(Message::SaveAccount)),
            button(text("Clear")).on_press(Message::Clear),
        ]
        .spacing(8)
        .align_y(Center);
        column![text(format!("Accounts ({})", self.accounts.len())).size(20), list, form].spacing(10).into()
    }

    fn desks(&self) -> Element<'_, Message> {
        let list = self.desks.iter().fold(column![].spacing(4), |c, d| {
            let fields: Vec<String> = d
                .fields
                .iter()
                .map(|f| format!("{} ({})", f.label, if f.required { "required" } else { "optional" }))
                .collect();
            let fields = if fields.is_empty() { "no fields".to_owned() } else { fields.join(", ") };
            c.push(text(format!("{} · waits {} s · {fields}", d.name, d.timeout_secs)))
        });
        let d = &self.desk;
        let form = row![
            text_input("desk name", &d.name).on_input(Message::DeskName).width(140),
            text_input("timeout s", &d.timeout).on_input(Message::DeskTimeout).width(90),
            text_input("fields: key:Label:required:32[:pattern]; …", &d.fields)
                .on_input(Message::DeskFields)
                .width(Fill),
            button(text("Add desk")).on_press_maybe((!self.busy).then_some(Message::AddDesk)),
        ]
        .spacing(8)
        .align_y(Center);
        column![text(format!("Desks ({})", self.desks.len())).size(20), list, form].spacing(10).into()
    }

    /// The screen.
    pub fn view(&self) -> Element<'_, Message> {
        let header = row![
            text("Administration").size(24).width(Fill),
            button(text("Back to the dashboard")).on_press(Message::Back)
        ]
        .align_y(Center);
        let mut body = column![header].spacing(20).padding(24);
        if let Some((said, refused)) = &self.said {
            let line = text(said.clone());
            body = body.push(if *refused { line.style(text::danger) } else { line.style(text::success) });
        }
        body = body.push(self.accounts()).push(rule::horizontal(1)).push(self.desks());
        scrollable(body).height(Fill).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::simulator;

    fn admin() -> Admin {
        Admin {
            accounts: vec![Account {
                name: "tom".into(),
                organisation: "Acme".into(),
                role: AccountRole::Technician,
                desks: vec!["support".into()],
                disabled: false,
            }],
            desks: vec![DeskSettings {
                name: "support".into(),
                fields: vec![FieldSpec::parse("account:Account:required:8").unwrap()],
                timeout_secs: 300,
            }],
            ..Admin::default()
        }
    }

    fn events(admin: &mut Admin, clicks: &[&str]) -> Vec<Event> {
        let messages: Vec<_> = {
            let mut ui = simulator(admin.view());
            for c in clicks {
                ui.click(*c).unwrap();
            }
            ui.into_messages().collect()
        };
        messages.into_iter().filter_map(|m| admin.update(m)).collect()
    }

    #[test]
    fn accounts_are_listed_added_changed_and_disabled() {
        let mut a = admin();
        {
            let mut ui = simulator(a.view());
            assert!(
                ui.find("Accounts (1)").is_ok()
                    && ui.find("support · waits 300 s · Account (required)").is_ok()
            );
        }
        assert_eq!(
            events(&mut a, &["Disable"]),
            [Event::Ask(AdminRequest::UpdateAccount {
                name: "tom".into(),
                role: None,
                desks: None,
                disabled: Some(true)
            })]
        );
        a.answered("tom: technician, desks support, disabled".into(), false);

        // A new account needs a role, a name and a password.
        assert!(events(&mut a, &["Add account"]).is_empty());
        assert_eq!(a.said, Some(("Choose a role.".into(), true)));
        for m in [
            Message::Name("eve".into()),
            Message::Password("correct horse".into()),
            Message::Role(AccountRole::Supervisor),
            Message::Desks("support, billing ,".into()),
        ] {
            a.update(m);
        }
        let added = events(&mut a, &["Add account"]);
        let Event::Ask(AdminRequest::AddAccount { account, password }) = &added[0] else {
            panic!("{added:?}")
        };
        assert_eq!(
            (account.name.as_str(), account.role, password.as_str()),
            ("eve", AccountRole::Supervisor, "correct horse")
        );
        assert_eq!(account.desks, ["support", "billing"]);
        a.answered("a technician named \"eve\" already exists".into(), true);
        assert_eq!(a.account.name, "eve", "a refusal keeps what was typed");

        // Edit fills the form from the row; saving changes role and desks.
        a.update(Message::Edit("tom".into()));
        a.update(Message::Role(AccountRole::Admin));
        assert_eq!(
            events(&mut a, &["Save changes"]),
            [Event::Ask(AdminRequest::UpdateAccount {
                name: "tom".into(),
                role: Some(AccountRole::Admin),
                desks: Some(vec!["support".into()]),
                disabled: None
            })]
        );
    }

    #[test]
    fn desks_are_added_with_their_fields_and_bad_ones_explained() {
        let mut a = admin();
        a.update(Message::DeskName("billing".into()));
        a.update(Message::DeskTimeout("five minutes".into()));
        assert!(events(&mut a, &["Add desk"]).is_empty());
        assert_eq!(a.said, Some(("The timeout is a number of seconds, like 300.".into(), true)));
        a.update(Message::DeskTimeout("300".into()));
        a.update(Message::DeskFields("account:Account:needed:8".into()));
        assert!(events(&mut a, &["Add desk"]).is_empty());
        assert!(
            a.said
                .as_ref()
                .is_some_and(|(s, refused)| *refused && s.starts_with("account:Account:needed:8: "))
        );
        a.update(Message::DeskFields(
            "account:Account number:required:8:[0-9]+; phone:Phone:optional:20".into(),
        ));
        let added = events(&mut a, &["Add desk"]);
        let Event::Ask(AdminRequest::AddDesk(d)) = &added[0] else { panic!("{added:?}") };
        assert_eq!((d.name.as_str(), d.timeout_secs, d.fields.len()), ("billing", 300, 2));
        a.answered("added desk billing".into(), false);
        assert!(a.desk.name.is_empty(), "the form is cleared after the desk was added");
        assert!(simulator(a.view()).find("added desk billing").is_ok());
    }
}
