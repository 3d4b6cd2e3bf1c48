//! The pairing code a technician reads to a customer: `123-4567`.
//!
//! The digits before the dash are the *nameplate*, which the rendezvous server
//! hands out; it has three digits and grows when many codes are live. The four
//! digits after the dash are the *secret*: the console makes them up, and they
//! never reach the server. They are the SPAKE2 password.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Digits in the secret half of a code.
pub const SECRET_DIGITS: usize = 4;
/// Fewest digits in a nameplate.
pub const MIN_NAMEPLATE_DIGITS: usize = 3;
/// Most digits in a nameplate (room for a million live codes).
pub const MAX_NAMEPLATE_DIGITS: usize = 6;

/// The server-visible half of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Nameplate(u32);

impl Nameplate {
    /// A nameplate, if `value` has between 3 and 6 digits (no leading zero).
    #[must_use]
    pub fn new(value: u32) -> Option<Self> {
        let digits = value.checked_ilog10().map_or(1, |d| d as usize + 1);
        (MIN_NAMEPLATE_DIGITS..=MAX_NAMEPLATE_DIGITS).contains(&digits).then_some(Self(value))
    }

    /// The number behind the nameplate.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Nameplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The secret half of a code: four digits, never sent to the server.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret([u8; SECRET_DIGITS]);

impl Secret {
    /// A fresh random secret.
    #[must_use]
    pub fn random() -> Self {
        use rand::Rng;
        let mut rng = rand::rngs::OsRng;
        Self(std::array::from_fn(|_| rng.gen_range(b'0'..=b'9')))
    }

    /// The ASCII digits, as the PAKE password.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// A whole pairing code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairingCode {
    nameplate: Nameplate,
    secret: Secret,
}

impl PairingCode {
    /// Joins a nameplate from the server with a secret made locally.
    #[must_use]
    pub const fn new(nameplate: Nameplate, secret: Secret) -> Self {
        Self { nameplate, secret }
    }

    /// The half the server may see.
    #[must_use]
    pub const fn nameplate(&self) -> Nameplate {
        self.nameplate
    }

    /// The half the server must never see.
    #[must_use]
    pub const fn secret(&self) -> &Secret {
        &self.secret
    }
}

impl fmt::Display for PairingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = std::str::from_utf8(&self.secret.0).unwrap_or("????");
        write!(f, "{}-{}", self.nameplate, secret)
    }
}

/// Why a typed code was not accepted. The messages are shown to customers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Nothing was typed.
    #[error("Please type the code your technician gave you, like 123-4567.")]
    Empty,
    /// Something other than digits, spaces or one dash.
    #[error("A code has only digits and a dash, like 123-4567.")]
    NotDigits,
    /// Too few or too many digits.
    #[error("That code has {0} digits; a code has 7 to 10, like 123-4567.")]
    WrongLength(usize),
}

impl FromStr for PairingCode {
    type Err = CodeError;

    /// Accepts `123-4567`, `123 4567` and `1234567`: people read codes aloud
    /// and type them however they heard them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(CodeError::Empty);
        }
        if !trimmed.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
            || trimmed.matches('-').count() > 1
        {
            return Err(CodeError::NotDigits);
        }
        let digits: Vec<u8> = trimmed.bytes().filter(u8::is_ascii_digit).collect();
        let n = digits.len();
        let min = MIN_NAMEPLATE_DIGITS + SECRET_DIGITS;
        let max = MAX_NAMEPLATE_DIGITS + SECRET_DIGITS;
        if !(min..=max).contains(&n) {
            return Err(CodeError::WrongLength(n));
        }
        let (plate, secret) = digits.split_at(n - SECRET_DIGITS);
        let value = plate.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        // A leading zero would make the nameplate shorter than typed.
        let nameplate = Nameplate::new(value).ok_or(CodeError::WrongLength(n))?;
        let secret = Secret(secret.try_into().map_err(|_| CodeError::WrongLength(n))?);
        Ok(Self { nameplate, secret })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_common_spellings() {
        for s in ["123-4567", " 123 4567 ", "1234567"] {
            let code: PairingCode = s.parse().unwrap();
            assert_eq!(code.to_string(), "123-4567");
        }
        let big: PairingCode = "12345-0001".parse().unwrap();
        assert_eq!(big.nameplate().get(), 12345);
    }

    #[test]
    fn clear_errors() {
        assert_eq!("".parse::<PairingCode>(), Err(CodeError::Empty));
        assert_eq!("12a-4567".parse::<PairingCode>(), Err(CodeError::NotDigits));
        assert_eq!("1-2-34567".parse::<PairingCode>(), Err(CodeError::NotDigits));
        assert_eq!("12-4567".parse::<PairingCode>(), Err(CodeError::WrongLength(6)));
        assert_eq!("012-4567".parse::<PairingCode>(), Err(CodeError::WrongLength(7)));
        assert!(format!("{:?}", Secret::random()).contains("****"));
    }

    proptest! {
        #[test]
        fn round_trip(plate in 100u32..1_000_000, secret in 0u32..10_000) {
            let text = format!("{plate}-{secret:04}");
            let code: PairingCode = text.parse().unwrap();
            prop_assert_eq!(code.to_string(), text);
        }

        #[test]
        fn random_text_never_panics(s in ".{0,40}") {
            let _ = s.parse::<PairingCode>();
        }
    }
}
