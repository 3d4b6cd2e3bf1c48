//! Input injection behind the `InputSink` trait; enigo does the real work.
//!
//! The sink runs on its own thread (enigo's X connection is not `Send`), fed
//! by a channel. The session only forwards events while control is granted.

use enigo::{Axis, Button, Coordinate, Direction, Enigo, Keyboard, Mouse, Settings};
use tether_protocol::channel::input::{Action, ConsoleToAgent, Key, KeyCombo, MouseButton};

/// Why an input event could not be injected.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The input backend could not start.
    #[error("cannot control this screen: {0}")]
    Unavailable(String),
    /// One event failed.
    #[error("input failed: {0}")]
    Failed(String),
    /// The event is not supported here.
    #[error("unsupported key {0}")]
    Unsupported(String),
}

/// Something that executes the technician's input.
pub trait InputSink {
    /// Executes one event.
    fn apply(&mut self, event: &ConsoleToAgent) -> Result<(), InputError>;
}

/// enigo on the current display.
pub struct EnigoSink(Enigo);

impl std::fmt::Debug for EnigoSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnigoSink")
    }
}

impl EnigoSink {
    /// Connects to the display.
    pub fn new() -> Result<Self, InputError> {
        Enigo::new(&Settings::default()).map(Self).map_err(|e| InputError::Unavailable(e.to_string()))
    }
}

fn direction(a: Action) -> Direction {
    match a {
        Action::Press => Direction::Press,
        Action::Release => Direction::Release,
        Action::Click => Direction::Click,
    }
}

const F_KEYS: [enigo::Key; 24] = {
    use enigo::Key::*;
    [
        F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, F13, F14, F15, F16, F17, F18, F19, F20, F21, F22,
        F23, F24,
    ]
};

fn key(k: Key) -> Result<enigo::Key, InputError> {
    use enigo::Key as E;
    Ok(match k {
        Key::Char(c) => E::Unicode(c),
        Key::Return => E::Return,
        Key::Tab => E::Tab,
        Key::Escape => E::Escape,
        Key::Backspace => E::Backspace,
        Key::Delete => E::Delete,
        Key::Insert => E::Insert,
        Key::Home => E::Home,
        Key::End => E::End,
        Key::PageUp => E::PageUp,
        Key::PageDown => E::PageDown,
        Key::Left => E::LeftArrow,
        Key::Right => E::RightArrow,
        Key::Up => E::UpArrow,
        Key::Down => E::DownArrow,
        Key::Space => E::Space,
        Key::F(n) => *F_KEYS
            .get(usize::from(n).wrapping_sub(1))
            .ok_or_else(|| InputError::Unsupported(format!("F{n}")))?,
    })
}

fn modifiers(combo: &KeyCombo) -> Vec<enigo::Key> {
    let m = combo.modifiers;
    [
        (m.ctrl, enigo::Key::Control),
        (m.alt, enigo::Key::Alt),
        (m.shift, enigo::Key::Shift),
        (m.meta, enigo::Key::Meta),
    ]
    .into_iter()
    .filter_map(|(on, k)| on.then_some(k))
    .collect()
}

impl EnigoSink {
    fn key_combo(&mut self, combo: &KeyCombo, action: Action) -> Result<(), InputError> {
        let target = key(combo.key)?;
        let mods = modifiers(combo);
        let fail = |e: enigo::InputError| InputError::Failed(e.to_string());
        for m in &mods {
            self.0.key(*m, Direction::Press).map_err(fail)?;
        }
        let result = self.0.key(target, direction(action)).map_err(fail);
        // Release modifiers even if the key failed, so none stays stuck.
        for m in mods.iter().rev() {
            self.0.key(*m, Direction::Release).map_err(fail)?;
        }
        result
    }
}

impl InputSink for EnigoSink {
    fn apply(&mut self, event: &ConsoleToAgent) -> Result<(), InputError> {
        let fail = |e: enigo::InputError| InputError::Failed(e.to_string());
        match event {
            ConsoleToAgent::PointerMove { x, y } => {
                let clamp = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
                self.0.move_mouse(clamp(*x), clamp(*y), Coordinate::Abs).map_err(fail)
            }
            ConsoleToAgent::Button { button, action } => {
                let b = match button {
                    MouseButton::Left => Button::Left,
                    MouseButton::Right => Button::Right,
                    MouseButton::Middle => Button::Middle,
                };
                self.0.button(b, direction(*action)).map_err(fail)
            }
            ConsoleToAgent::Wheel { dx, dy } => {
                if *dy != 0 {
                    self.0.scroll(*dy, Axis::Vertical).map_err(fail)?;
                }
                if *dx != 0 {
                    self.0.scroll(*dx, Axis::Horizontal).map_err(fail)?;
                }
                Ok(())
            }
            ConsoleToAgent::Text(text) => self.0.text(text).map_err(fail),
            ConsoleToAgent::Key { combo, action } => self.key_combo(combo, *action),
        }
    }
}
