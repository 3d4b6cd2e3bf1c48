//! The "Get help" form: the customer's name, what is wrong, and the fields
//! the desk asks for, checked with the same rules the server applies before
//! anything is sent.

use iced::widget::{button, column, text, text_input};
use iced::{Element, Fill};
use tether_protocol::desk::FieldSpec;
use tether_protocol::queue::HelpRequest;

/// The form's state.
#[derive(Debug, Clone, Default)]
pub struct HelpForm {
    /// The desk asked.
    pub desk: String,
    /// Its fields, in order.
    pub fields: Vec<FieldSpec>,
    /// The customer's name.
    pub name: String,
    /// What is wrong.
    pub problem: String,
    /// An answer per field, in the fields' order.
    pub values: Vec<String>,
    /// Why the last try was refused (here, or by the server).
    pub error: Option<String>,
}

/// What the customer did in the form.
#[derive(Debug, Clone)]
pub enum FormMessage {
    /// The name changed.
    Name(String),
    /// The problem changed.
    Problem(String),
    /// Field N changed.
    Field(usize, String),
    /// Send the request.
    Ask,
}

impl HelpForm {
    /// An empty form for `desk`'s fields.
    #[must_use]
    pub fn new(desk: String, fields: Vec<FieldSpec>) -> Self {
        let values = vec![String::new(); fields.len()];
        Self { desk, fields, values, ..Self::default() }
    }

    /// The request as filled in.
    fn request(&self) -> HelpRequest {
        HelpRequest {
            desk: self.desk.clone(),
            name: self.name.trim().to_owned(),
            problem: self.problem.trim().to_owned(),
            fields: self
                .fields
                .iter()
                .zip(&self.values)
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(f, v)| (f.key.clone(), v.trim().to_owned()))
                .collect(),
        }
    }

    /// Handles a change; on Ask, the request if it passes the desk's checks.
    pub fn update(&mut self, message: FormMessage) -> Option<HelpRequest> {
        match message {
            FormMessage::Name(n) => self.name = n,
            FormMessage::Problem(p) => self.problem = p,
            FormMessage::Field(i, v) => {
                if let Some(slot) = self.values.get_mut(i) {
                    *slot = v;
                }
            }
            FormMessage::Ask => {
                let ask = self.request();
                match ask.check(&self.fields) {
                    Ok(()) => {
                        self.error = None;
                        return Some(ask);
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
        }
        None
    }

    /// The form.
    pub fn view(&self) -> Element<'_, FormMessage> {
        let mut form = column![
            text("Get help").size(24),
            text(format!("Your request goes to {}; the first free technician answers.", self.desk)),
            text_input("Your name", &self.name).id("help-name").on_input(FormMessage::Name),
            text_input("What is wrong?", &self.problem).id("help-problem").on_input(FormMessage::Problem),
        ]
        .spacing(10)
        .width(Fill);
        for (i, (f, v)) in self.fields.iter().zip(&self.values).enumerate() {
            let label = if f.required { f.label.clone() } else { format!("{} (optional)", f.label) };
            form = form.push(text_input(&label, v).on_input(move |v| FormMessage::Field(i, v)));
        }
        if let Some(e) = &self.error {
            form = form.push(text(e.clone()).style(text::danger));
        }
        form.push(button(text("Ask for help")).on_press(FormMessage::Ask)).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_test::simulator;

    #[test]
    fn the_form_checks_the_desks_fields_before_sending() {
        let fields = vec![FieldSpec::parse("account:Account number:required:8:[0-9]+").unwrap()];
        let mut form = HelpForm::new("billing".into(), fields);
        let messages: Vec<_> = {
            let mut ui = simulator(form.view());
            assert!(ui.find("Ask for help").is_ok());
            ui.click("Ask for help").unwrap();
            ui.into_messages().collect()
        };
        let asked: Vec<_> = messages.into_iter().filter_map(|m| form.update(m)).collect();
        assert!(asked.is_empty(), "an empty form was sent");
        assert_eq!(form.error.as_deref(), Some("Your name is required"));
        form.update(FormMessage::Name("Carol".into()));
        form.update(FormMessage::Problem("The printer is offline".into()));
        form.update(FormMessage::Field(0, "12ab".into()));
        assert_eq!(form.update(FormMessage::Ask), None);
        assert_eq!(form.error.as_deref(), Some("Account number is not in the expected format"));
        {
            let mut ui = simulator(form.view());
            assert!(ui.find("Account number is not in the expected format").is_ok());
        }
        form.update(FormMessage::Field(0, " 1234 ".into()));
        let ask = form.update(FormMessage::Ask).unwrap();
        assert_eq!(ask.fields, [("account".to_owned(), "1234".to_owned())]);
        assert_eq!((ask.name.as_str(), ask.desk.as_str()), ("Carol", "billing"));
    }
}
