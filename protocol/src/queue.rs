//! Help requests as they cross the wire: what a customer asks a desk, and
//! the queue entry technicians see. Both are bounded so that one always
//! fits a signalling message, and checked with the desk's fields on the
//! agent and again on the server.

use serde::{Deserialize, Serialize};

use crate::desk::{FieldError, FieldSpec, validate};

/// Longest customer name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest problem description, in characters.
pub const MAX_PROBLEM_CHARS: usize = 1000;
/// Largest encoded request: well inside a signalling message.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// What a customer asks for help with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpRequest {
    /// The desk asked.
    pub desk: String,
    /// The customer's name.
    pub name: String,
    /// What is wrong, in their words.
    pub problem: String,
    /// The desk's fields, by key.
    pub fields: Vec<(String, String)>,
}

impl HelpRequest {
    /// Checks the request against its desk's fields; the message is for
    /// the customer.
    pub fn check(&self, fields: &[FieldSpec]) -> Result<(), FieldError> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(FieldError::Missing("Your name".into()));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(FieldError::TooLong { label: "Your name".into(), max: MAX_NAME_CHARS as u32 });
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::Control("Your name".into()));
        }
        let problem = self.problem.trim();
        if problem.is_empty() {
            return Err(FieldError::Missing("The problem".into()));
        }
        if problem.chars().count() > MAX_PROBLEM_CHARS {
            return Err(FieldError::TooLong { label: "The problem".into(), max: MAX_PROBLEM_CHARS as u32 });
        }
        // Newlines are fine in a description; other control characters are not.
        if problem.chars().any(|c| c.is_control() && c != '\n') {
            return Err(FieldError::Control("The problem".into()));
        }
        validate(fields, &self.fields)?;
        if crate::wire::encode(self).len() > MAX_REQUEST_BYTES {
            return Err(FieldError::TooLong { label: "The request".into(), max: MAX_REQUEST_BYTES as u32 });
        }
        Ok(())
    }
}

/// A waiting request as technicians of its desk see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueItem {
    /// The request's number.
    pub request: u64,
    /// What the customer asked.
    pub ask: HelpRequest,
    /// When it was asked (Unix seconds).
    pub since: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(name: &str, problem: &str, fields: &[(&str, &str)]) -> HelpRequest {
        HelpRequest {
            desk: "billing".into(),
            name: name.into(),
            problem: problem.into(),
            fields: fields.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        }
    }

    #[test]
    fn requests_are_checked_with_the_desks_fields() {
        let fields = [FieldSpec::parse("account:Account:required:6:[0-9]+").unwrap()];
        assert_eq!(ask("Carol", "The printer\nis offline", &[("account", "123")]).check(&fields), Ok(()));
        assert_eq!(
            ask(" ", "x", &[("account", "1")]).check(&fields),
            Err(FieldError::Missing("Your name".into()))
        );
        assert_eq!(
            ask("Carol", "", &[("account", "1")]).check(&fields),
            Err(FieldError::Missing("The problem".into()))
        );
        assert_eq!(ask("Carol", "x", &[]).check(&fields), Err(FieldError::Missing("Account".into())));
        assert_eq!(
            ask("Carol", "x", &[("account", "12a")]).check(&fields),
            Err(FieldError::Format("Account".into()))
        );
        let long = "x".repeat(MAX_PROBLEM_CHARS + 1);
        assert!(ask("Carol", &long, &[("account", "1")]).check(&fields).is_err());
        assert!(ask("Ca\u{0}rol", "x", &[("account", "1")]).check(&fields).is_err());
    }
}
