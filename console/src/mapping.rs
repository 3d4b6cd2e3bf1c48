//! Maps what the technician does in the console window to the customer's
//! screen: pointer positions through the fit-to-window scaling, and keys in
//! any layout to input events.

use iced::keyboard::{self, key::Named};
use tether_protocol::channel::input::{Action, ConsoleToAgent, Key, KeyCombo, Modifiers};

/// How the remote picture sits in the widget that shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Scale from remote pixels to widget pixels.
    pub scale: f32,
    /// Left edge of the picture inside the widget.
    pub x: f32,
    /// Top edge of the picture inside the widget.
    pub y: f32,
}

impl Fit {
    /// The placement of a `remote`-sized picture in an `area`, scaled to fit
    /// and centred (letterboxed), or at 1:1 when `actual_size` is set.
    #[must_use]
    pub fn new(area: (f32, f32), remote: (u32, u32), actual_size: bool) -> Self {
        let (rw, rh) = (remote.0.max(1) as f32, remote.1.max(1) as f32);
        let scale = if actual_size { 1.0 } else { (area.0 / rw).min(area.1 / rh) };
        Self { scale, x: ((area.0 - rw * scale) / 2.0).max(0.0), y: ((area.1 - rh * scale) / 2.0).max(0.0) }
    }

    /// The remote pixel under widget point `p`, if it is on the picture.
    #[must_use]
    pub fn to_remote(&self, p: (f32, f32), remote: (u32, u32)) -> Option<(u32, u32)> {
        if self.scale <= 0.0 {
            return None;
        }
        let (x, y) = ((p.0 - self.x) / self.scale, (p.1 - self.y) / self.scale);
        (x >= 0.0 && y >= 0.0 && x < remote.0 as f32 && y < remote.1 as f32).then_some((x as u32, y as u32))
    }
}

fn modifiers(m: keyboard::Modifiers) -> Modifiers {
    Modifiers { ctrl: m.control(), alt: m.alt(), shift: m.shift(), meta: m.logo() }
}

fn named(n: Named) -> Option<Key> {
    Some(match n {
        Named::Enter => Key::Return,
        Named::Tab => Key::Tab,
        Named::Escape => Key::Escape,
        Named::Backspace => Key::Backspace,
        Named::Delete => Key::Delete,
        Named::Insert => Key::Insert,
        Named::Home => Key::Home,
        Named::End => Key::End,
        Named::PageUp => Key::PageUp,
        Named::PageDown => Key::PageDown,
        Named::ArrowLeft => Key::Left,
        Named::ArrowRight => Key::Right,
        Named::ArrowUp => Key::Up,
        Named::ArrowDown => Key::Down,
        Named::Space => Key::Space,
        Named::F1 => Key::F(1),
        Named::F2 => Key::F(2),
        Named::F3 => Key::F(3),
        Named::F4 => Key::F(4),
        Named::F5 => Key::F(5),
        Named::F6 => Key::F(6),
        Named::F7 => Key::F(7),
        Named::F8 => Key::F(8),
        Named::F9 => Key::F(9),
        Named::F10 => Key::F(10),
        Named::F11 => Key::F(11),
        Named::F12 => Key::F(12),
        _ => return None,
    })
}

/// The input event for a key press in the console window.
///
/// Printable text without Ctrl/Alt/Super goes as text, so any keyboard
/// layout types what the technician sees on their keys; everything else goes
/// as a key with modifiers.
#[must_use]
pub fn key_press(
    key: &keyboard::Key,
    mods: keyboard::Modifiers,
    text: Option<&str>,
) -> Option<ConsoleToAgent> {
    let m = modifiers(mods);
    let chord = m.ctrl || m.alt || m.meta;
    if let Some(t) = text.filter(|t| !chord && !t.is_empty() && t.chars().all(|c| !c.is_control())) {
        return Some(ConsoleToAgent::Text(t.to_owned()));
    }
    let key = match key {
        keyboard::Key::Named(n) => named(*n)?,
        keyboard::Key::Character(c) => Key::Char(c.chars().next()?),
        keyboard::Key::Unidentified => return None,
    };
    Some(ConsoleToAgent::Key { combo: KeyCombo { key, modifiers: m }, action: Action::Click })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_maps_through_letterboxing() {
        // A 1920×1080 screen in a 960×1000 area: scale 0.5, 230 px bars on top and bottom.
        let fit = Fit::new((960.0, 1000.0), (1920, 1080), false);
        assert_eq!(fit.scale, 0.5);
        assert_eq!((fit.x, fit.y), (0.0, 230.0));
        assert_eq!(fit.to_remote((100.0, 230.0), (1920, 1080)), Some((200, 0)));
        assert_eq!(fit.to_remote((959.0, 769.0), (1920, 1080)), Some((1918, 1078)));
        assert_eq!(fit.to_remote((100.0, 229.0), (1920, 1080)), None, "on the bar, not the picture");
        let one = Fit::new((800.0, 600.0), (1920, 1080), true);
        assert_eq!(one.to_remote((10.0, 20.0), (1920, 1080)), Some((10, 20)));
    }

    #[test]
    fn keys_become_text_or_combos() {
        let none = keyboard::Modifiers::empty();
        let a = keyboard::Key::Character("é".into());
        assert_eq!(key_press(&a, none, Some("é")), Some(ConsoleToAgent::Text("é".into())));
        let ctrl_c =
            key_press(&keyboard::Key::Character("c".into()), keyboard::Modifiers::CTRL, Some("\u{3}"));
        assert_eq!(
            ctrl_c,
            Some(ConsoleToAgent::Key {
                combo: KeyCombo {
                    key: Key::Char('c'),
                    modifiers: Modifiers { ctrl: true, ..Modifiers::default() }
                },
                action: Action::Click
            })
        );
        let enter = key_press(&keyboard::Key::Named(Named::Enter), none, Some("\r"));
        assert!(matches!(enter, Some(ConsoleToAgent::Key { combo: KeyCombo { key: Key::Return, .. }, .. })));
        assert_eq!(key_press(&keyboard::Key::Named(Named::CapsLock), none, None), None);
    }
}
