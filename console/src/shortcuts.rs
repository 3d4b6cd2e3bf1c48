//! The console's own keyboard shortcuts, which are never forwarded.
//!
//! On the dashboard: Ctrl+N makes a new code, Ctrl+C copies it, Ctrl+T takes
//! the oldest waiting help request, Ctrl+R shows the reports and Ctrl+M
//! (admins) administration. In a session
//! every key goes to the customer while you have control, so the session's
//! shortcuts use Ctrl+Alt+Shift, which remote programs almost never need:
//! R asks for control, F toggles fit and 1:1, T jumps to the chat (Escape
//! leaves it), D goes to the dashboard (the session goes on), E ends it.

use iced::keyboard::{Key, Modifiers};

/// Something the technician asked for from the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    /// Make a new session code.
    NewCode,
    /// Copy the code.
    CopyCode,
    /// Take the oldest waiting help request.
    TakeNext,
    /// Show the reports.
    Reports,
    /// Show administration.
    Admin,
    /// Ask the customer for control.
    RequestControl,
    /// Switch between fit-to-window and 1:1.
    ToggleFit,
    /// Put the cursor in the chat box.
    FocusChat,
    /// Show the dashboard; the session goes on.
    Dashboard,
    /// End the session.
    EndSession,
}

/// Where the keys were pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The dashboard.
    Dashboard,
    /// A session.
    Session,
}

/// The shortcut for this key press, if it is one.
#[must_use]
pub fn shortcut(place: Place, key: &Key, modifiers: Modifiers) -> Option<Shortcut> {
    let Key::Character(c) = key else { return None };
    let c = c.to_lowercase();
    match place {
        Place::Dashboard if modifiers == Modifiers::CTRL => match c.as_str() {
            "n" => Some(Shortcut::NewCode),
            "c" => Some(Shortcut::CopyCode),
            "t" => Some(Shortcut::TakeNext),
            "r" => Some(Shortcut::Reports),
            "m" => Some(Shortcut::Admin),
            _ => None,
        },
        Place::Session if modifiers == Modifiers::CTRL | Modifiers::ALT | Modifiers::SHIFT => {
            match c.as_str() {
                "r" => Some(Shortcut::RequestControl),
                "f" => Some(Shortcut::ToggleFit),
                "t" => Some(Shortcut::FocusChat),
                "d" => Some(Shortcut::Dashboard),
                "e" => Some(Shortcut::EndSession),
                _ => None,
            }
        }
        Place::Dashboard | Place::Session => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: &str) -> Key {
        Key::Character(c.into())
    }

    #[test]
    fn session_shortcuts_need_all_three_modifiers() {
        let all = Modifiers::CTRL | Modifiers::ALT | Modifiers::SHIFT;
        assert_eq!(shortcut(Place::Session, &key("R"), all), Some(Shortcut::RequestControl));
        assert_eq!(shortcut(Place::Session, &key("e"), all), Some(Shortcut::EndSession));
        // Ctrl+Shift+E and Ctrl+E belong to the customer's programs.
        assert_eq!(shortcut(Place::Session, &key("e"), Modifiers::CTRL | Modifiers::SHIFT), None);
        assert_eq!(shortcut(Place::Session, &key("e"), Modifiers::CTRL), None);
        assert_eq!(shortcut(Place::Session, &key("n"), Modifiers::CTRL), None);
        assert_eq!(shortcut(Place::Dashboard, &key("t"), Modifiers::CTRL), Some(Shortcut::TakeNext));
    }

    #[test]
    fn dashboard_shortcuts() {
        assert_eq!(shortcut(Place::Dashboard, &key("n"), Modifiers::CTRL), Some(Shortcut::NewCode));
        assert_eq!(shortcut(Place::Dashboard, &key("c"), Modifiers::CTRL), Some(Shortcut::CopyCode));
        assert_eq!(shortcut(Place::Dashboard, &key("n"), Modifiers::empty()), None);
        assert_eq!(shortcut(Place::Dashboard, &key("r"), Modifiers::CTRL), Some(Shortcut::Reports));
        assert_eq!(shortcut(Place::Dashboard, &key("m"), Modifiers::CTRL), Some(Shortcut::Admin));
        assert_eq!(
            shortcut(Place::Session, &key("m"), Modifiers::CTRL),
            None,
            "in a session it is the customer's"
        );
    }
}
