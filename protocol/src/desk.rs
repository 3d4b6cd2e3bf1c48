//! Desks as customers meet them: the identification fields a desk asks for
//! (label, required or not, longest value, a pattern), and the checks on a
//! customer's answers. The agent checks before sending and the server
//! checks again, with the same code and the same messages.

use serde::{Deserialize, Serialize};

/// Most fields a desk asks for.
pub const MAX_FIELDS: usize = 8;
/// Longest value any field may allow, in characters.
pub const MAX_VALUE_CHARS: u32 = 1000;
/// Longest field key or label, in bytes.
pub const MAX_LABEL_BYTES: usize = 64;
/// Longest pattern, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;
/// Longest desk name, in bytes.
pub const MAX_DESK_NAME: usize = 64;
/// Compiled size a pattern may take: patterns are the administrator's, but
/// a careless one must not cost the server its memory.
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;

/// One field a desk asks customers to fill in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Short name, as reports and the record show it (`account`).
    pub key: String,
    /// What the customer reads (`Account number`).
    pub label: String,
    /// The request is refused without it.
    pub required: bool,
    /// Longest value, in characters.
    pub max_chars: u32,
    /// A regular expression the whole value must match, if any.
    pub pattern: Option<String>,
}

/// Why a field definition or a customer's answer was refused. Messages are
/// for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A required field left empty.
    #[error("{0} is required")]
    Missing(String),
    /// Longer than the desk allows.
    #[error("{label} is too long: at most {max} characters")]
    TooLong {
        /// The field's label.
        label: String,
        /// Its limit.
        max: u32,
    },
    /// Not in the desk's format.
    #[error("{0} is not in the expected format")]
    Format(String),
    /// A field the desk does not have.
    #[error("this desk has no field called {0:?}")]
    Unknown(String),
    /// A value with control characters (newlines, NUL …).
    #[error("{0} may not contain control characters")]
    Control(String),
    /// A bad definition (administrators only).
    #[error("bad field definition: {0}")]
    Definition(String),
}

fn compile(pattern: &str) -> Result<regex::Regex, FieldError> {
    // Anchored: the whole value must match, not a part of it.
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| FieldError::Definition(format!("the pattern {pattern:?} is not valid: {e}")))
}

impl FieldSpec {
    /// Parses `KEY:LABEL:required|optional:MAX_CHARS[:PATTERN]`; the
    /// pattern may itself hold colons.
    pub fn parse(spec: &str) -> Result<Self, FieldError> {
        let mut parts = spec.splitn(5, ':');
        let bad =
            || FieldError::Definition(format!("{spec:?} is not KEY:LABEL:required|optional:MAX[:PATTERN]"));
        let key = parts.next().ok_or_else(bad)?.trim().to_owned();
        let label = parts.next().ok_or_else(bad)?.trim().to_owned();
        let required = match parts.next().ok_or_else(bad)?.trim() {
            "required" => true,
            "optional" => false,
            _ => return Err(bad()),
        };
        let max_chars = parts.next().ok_or_else(bad)?.trim().parse().map_err(|_| bad())?;
        let pattern = parts.next().map(str::to_owned).filter(|p| !p.is_empty());
        let field = Self { key, label, required, max_chars, pattern };
        field.check()?;
        Ok(field)
    }

    /// Checks the definition itself (from the store or the wire).
    pub fn check(&self) -> Result<(), FieldError> {
        let name_ok =
            |s: &str| !s.is_empty() && s.len() <= MAX_LABEL_BYTES && !s.chars().any(char::is_control);
        if !name_ok(&self.key) || !self.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(FieldError::Definition(format!(
                "the key {:?} must be 1 to {MAX_LABEL_BYTES} letters, digits, - or _",
                self.key
            )));
        }
        if !name_ok(&self.label) {
            return Err(FieldError::Definition(format!(
                "the label of {} must be 1 to {MAX_LABEL_BYTES} bytes on one line",
                self.key
            )));
        }
        if self.max_chars == 0 || self.max_chars > MAX_VALUE_CHARS {
            return Err(FieldError::Definition(format!("the longest value must be 1 to {MAX_VALUE_CHARS}")));
        }
        if let Some(p) = &self.pattern {
            if p.len() > MAX_PATTERN_BYTES {
                return Err(FieldError::Definition(format!(
                    "patterns are at most {MAX_PATTERN_BYTES} bytes"
                )));
            }
            compile(p)?;
        }
        Ok(())
    }

    /// Checks one answer (empty means not given).
    pub fn validate(&self, value: &str) -> Result<(), FieldError> {
        if value.is_empty() {
            return if self.required { Err(FieldError::Missing(self.label.clone())) } else { Ok(()) };
        }
        if value.chars().count() > self.max_chars as usize {
            return Err(FieldError::TooLong { label: self.label.clone(), max: self.max_chars });
        }
        if value.chars().any(char::is_control) {
            return Err(FieldError::Control(self.label.clone()));
        }
        if let Some(p) = &self.pattern
            && !compile(p)?.is_match(value)
        {
            return Err(FieldError::Format(self.label.clone()));
        }
        Ok(())
    }
}

/// Checks a customer's answers against a desk's fields: every answer names
/// a field, no field twice, every required field given, each value valid.
pub fn validate(fields: &[FieldSpec], answers: &[(String, String)]) -> Result<(), FieldError> {
    for (i, (key, _)) in answers.iter().enumerate() {
        if !fields.iter().any(|f| f.key == *key) || answers[..i].iter().any(|(k, _)| k == key) {
            return Err(FieldError::Unknown(clip_key(key)));
        }
    }
    for f in fields {
        let value = answers.iter().find(|(k, _)| *k == f.key).map_or("", |(_, v)| v.as_str());
        f.validate(value.trim())?;
    }
    Ok(())
}

/// A key from the wire, short enough to quote back.
fn clip_key(key: &str) -> String {
    crate::channel::clip_to(key, MAX_LABEL_BYTES).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn desk() -> Vec<FieldSpec> {
        vec![
            FieldSpec::parse("account:Account number:required:8:[0-9]{4,8}").unwrap(),
            FieldSpec::parse("phone:Phone:optional:20").unwrap(),
        ]
    }

    fn answers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn answers_are_checked_with_messages_for_people() {
        let d = desk();
        assert_eq!(validate(&d, &answers(&[("account", "12345")])), Ok(()));
        assert_eq!(
            validate(&d, &answers(&[("phone", "1")])),
            Err(FieldError::Missing("Account number".into()))
        );
        let e = validate(&d, &answers(&[("account", "123456789")])).unwrap_err();
        assert_eq!(e.to_string(), "Account number is too long: at most 8 characters");
        let e = validate(&d, &answers(&[("account", "12ab")])).unwrap_err();
        assert_eq!(e.to_string(), "Account number is not in the expected format");
        // The pattern must match the whole value.
        assert!(validate(&d, &answers(&[("account", "1234x")])).is_err());
        assert_eq!(
            validate(&d, &answers(&[("account", "1234"), ("shoe", "9")])),
            Err(FieldError::Unknown("shoe".into()))
        );
        assert!(validate(&d, &answers(&[("account", "1234"), ("account", "5678")])).is_err());
        assert!(validate(&d, &answers(&[("account", "1234"), ("phone", "a\nb")])).is_err());
    }

    #[test]
    fn bad_definitions_are_refused() {
        assert!(FieldSpec::parse("account:Account").is_err());
        assert!(FieldSpec::parse("acc ount:A:required:8").is_err());
        assert!(FieldSpec::parse("a:A:maybe:8").is_err());
        assert!(FieldSpec::parse("a:A:required:0").is_err());
        assert!(FieldSpec::parse("a:A:required:5000").is_err());
        assert!(FieldSpec::parse("a:A:required:8:(unclosed").is_err());
        assert_eq!(FieldSpec::parse("a:A:optional:8:x:y").unwrap().pattern.as_deref(), Some("x:y"));
    }

    proptest! {
        #[test]
        fn random_answers_never_panic(k in ".{0,10}", v in ".{0,40}") {
            let _ = validate(&desk(), &[(k, v)]);
        }
    }
}
