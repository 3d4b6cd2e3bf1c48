//! Input channel: pointer and keyboard events from the console.
//!
//! Coordinates are in the agent's screen pixels; the console maps them through
//! its scaling. The agent executes them only while control is granted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest text in one `Text` event.
pub const MAX_TEXT_BYTES: usize = 4096;

/// A mouse button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MouseButton {
    /// Primary.
    Left,
    /// Secondary.
    Right,
    /// Wheel button.
    Middle,
}

impl FromStr for MouseButton {
    type Err = InputParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "left" => Ok(Self::Left),
            "right" => Ok(Self::Right),
            "middle" => Ok(Self::Middle),
            other => Err(InputParseError::UnknownButton(other.to_owned())),
        }
    }
}

/// Press, release, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Down.
    Press,
    /// Up.
    Release,
    /// Down then up.
    Click,
}

/// A key that is not plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Key {
    /// A character key, as on the keyboard (used with modifiers: Ctrl+c).
    Char(char),
    /// Enter.
    Return,
    /// Tab.
    Tab,
    /// Escape.
    Escape,
    /// Backspace.
    Backspace,
    /// Delete.
    Delete,
    /// Insert.
    Insert,
    /// Home.
    Home,
    /// End.
    End,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Space bar.
    Space,
    /// Function key F1..F24.
    F(u8),
}

const NAMED: [(&str, Key); 15] = [
    ("return", Key::Return),
    ("enter", Key::Return),
    ("tab", Key::Tab),
    ("escape", Key::Escape),
    ("backspace", Key::Backspace),
    ("delete", Key::Delete),
    ("insert", Key::Insert),
    ("home", Key::Home),
    ("end", Key::End),
    ("pageup", Key::PageUp),
    ("pagedown", Key::PageDown),
    ("left", Key::Left),
    ("right", Key::Right),
    ("up", Key::Up),
    ("down", Key::Down),
];

/// Modifier keys held with a key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Modifiers {
    /// Control.
    pub ctrl: bool,
    /// Alt.
    pub alt: bool,
    /// Shift.
    pub shift: bool,
    /// Super / Windows / Command.
    pub meta: bool,
}

/// A key with modifiers, as written in scripts: `Ctrl+c`, `Return`, `Alt+F4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCombo {
    /// The key.
    pub key: Key,
    /// Held modifiers.
    pub modifiers: Modifiers,
}

/// Why a script's key or button name was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputParseError {
    /// Nothing named.
    #[error("no key given")]
    Empty,
    /// Not a key we know.
    #[error(
        "unknown key {0:?}; use a character or one of Return, Tab, Escape, Backspace, Delete, Home, End, PageUp, PageDown, Left, Right, Up, Down, Space, F1..F24"
    )]
    UnknownKey(String),
    /// Not a button we know.
    #[error("unknown mouse button {0:?}; use left, right or middle")]
    UnknownButton(String),
}

impl FromStr for KeyCombo {
    type Err = InputParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(InputParseError::Empty);
        }
        // The last part is the key; "Ctrl++" means Ctrl and plus.
        let (mods, key) = match s.strip_suffix("++") {
            Some(rest) => (rest, "+"),
            None => s.rsplit_once('+').unwrap_or(("", s)),
        };
        let mut modifiers = Modifiers::default();
        for m in mods.split('+').filter(|m| !m.is_empty()) {
            match m.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => modifiers.ctrl = true,
                "alt" => modifiers.alt = true,
                "shift" => modifiers.shift = true,
                "super" | "meta" | "win" | "cmd" => modifiers.meta = true,
                other => return Err(InputParseError::UnknownKey(other.to_owned())),
            }
        }
        Ok(Self { key: parse_key(key)?, modifiers })
    }
}

fn parse_key(name: &str) -> Result<Key, InputParseError> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Ok(if c == ' ' { Key::Space } else { Key::Char(c) });
    }
    let lower = name.to_ascii_lowercase();
    if lower == "space" {
        return Ok(Key::Space);
    }
    if let Some((_, key)) = NAMED.iter().find(|(n, _)| *n == lower) {
        return Ok(*key);
    }
    lower
        .strip_prefix('f')
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=24).contains(n))
        .map(Key::F)
        .ok_or_else(|| InputParseError::UnknownKey(name.to_owned()))
}

impl fmt::Display for KeyCombo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.modifiers;
        for (on, name) in [(m.ctrl, "Ctrl+"), (m.alt, "Alt+"), (m.shift, "Shift+"), (m.meta, "Super+")] {
            if on {
                f.write_str(name)?;
            }
        }
        match self.key {
            Key::Char(c) => write!(f, "{c}"),
            Key::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Console to agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleToAgent {
    /// Move the pointer to absolute screen coordinates.
    PointerMove {
        /// Column.
        x: u32,
        /// Row.
        y: u32,
    },
    /// A mouse button.
    Button {
        /// Which button.
        button: MouseButton,
        /// What it does.
        action: Action,
    },
    /// Scroll, in wheel notches.
    Wheel {
        /// Horizontal notches.
        dx: i32,
        /// Vertical notches (positive scrolls down).
        dy: i32,
    },
    /// Text typed in any layout.
    Text(String),
    /// A special key, with modifiers.
    Key {
        /// The key and modifiers.
        combo: KeyCombo,
        /// What it does.
        action: Action,
    },
}

/// Agent to console: nothing flows this way; the type keeps both directions
/// of every channel explicit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentToConsole {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, testing::round_trip};
    use proptest::prelude::*;

    #[test]
    fn parses_script_key_names() {
        let c: KeyCombo = "Ctrl+c".parse().unwrap();
        assert_eq!(c.key, Key::Char('c'));
        assert!(c.modifiers.ctrl && !c.modifiers.alt);
        assert_eq!("Return".parse::<KeyCombo>().unwrap().key, Key::Return);
        assert_eq!("alt+F4".parse::<KeyCombo>().unwrap().to_string(), "Alt+F4");
        assert_eq!("Ctrl++".parse::<KeyCombo>().unwrap().key, Key::Char('+'));
        assert!(matches!("Hyper+x".parse::<KeyCombo>(), Err(InputParseError::UnknownKey(_))));
        assert!(matches!("F25".parse::<KeyCombo>(), Err(InputParseError::UnknownKey(_))));
        assert_eq!("".parse::<KeyCombo>(), Err(InputParseError::Empty));
        assert!("LEFT".parse::<MouseButton>().is_ok());
    }

    proptest! {
        #[test]
        fn round_trips(x in any::<u32>(), y in any::<u32>(), t in ".{0,32}", c in any::<char>()) {
            round_trip(&ConsoleToAgent::PointerMove { x, y });
            round_trip(&ConsoleToAgent::Wheel { dx: x as i32, dy: y as i32 });
            round_trip(&ConsoleToAgent::Text(t));
            round_trip(&ConsoleToAgent::Button { button: MouseButton::Middle, action: Action::Click });
            let combo = KeyCombo { key: Key::Char(c), modifiers: Modifiers { ctrl: true, ..Modifiers::default() } };
            round_trip(&ConsoleToAgent::Key { combo, action: Action::Press });
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64), s in ".{0,16}") {
            let _ = wire::decode::<ConsoleToAgent>(&b);
            let _ = s.parse::<KeyCombo>();
        }
    }
}
