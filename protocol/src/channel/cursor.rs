//! Cursor channel: the customer's pointer position and shape, on their own
//! stream so they never wait behind a screen frame. The agent sends a
//! position when it moves and the shape only when it changes; nothing goes
//! the other way.

use serde::{Deserialize, Serialize};

/// Widest and tallest cursor image accepted.
pub const MAX_CURSOR_EDGE: u16 = 256;

/// A cursor image: RGBA rows, and the hot spot that sits at the position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorShape {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Hot spot, from the left.
    pub hot_x: u16,
    /// Hot spot, from the top.
    pub hot_y: u16,
    /// `width * height * 4` bytes, not premultiplied.
    #[serde(with = "serde_bytes")]
    pub rgba: Vec<u8>,
}

/// Why a cursor shape is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cursor shape is malformed")]
pub struct BadShape;

impl CursorShape {
    /// Checks the size, the hot spot and the pixel count.
    pub fn check(&self) -> Result<(), BadShape> {
        let (w, h) = (self.width, self.height);
        let fits = w > 0 && h > 0 && w <= MAX_CURSOR_EDGE && h <= MAX_CURSOR_EDGE;
        let hot = self.hot_x < w && self.hot_y < h;
        let len = usize::from(w) * usize::from(h) * 4 == self.rgba.len();
        if fits && hot && len { Ok(()) } else { Err(BadShape) }
    }
}

/// Agent to console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentToConsole {
    /// The pointer is at (`x`, `y`) on the shared screen.
    Position {
        /// Pixels from the left.
        x: i32,
        /// Pixels from the top.
        y: i32,
    },
    /// The pointer now looks like this.
    Shape(CursorShape),
}

/// Console to agent: nothing is sent this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleToAgent {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, testing::round_trip};
    use proptest::prelude::*;

    #[test]
    fn shapes_are_checked() {
        let ok = CursorShape { width: 2, height: 3, hot_x: 1, hot_y: 2, rgba: vec![0; 24] };
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(CursorShape { rgba: vec![0; 23], ..ok.clone() }.check(), Err(BadShape));
        assert_eq!(CursorShape { hot_x: 2, ..ok.clone() }.check(), Err(BadShape));
        assert_eq!(CursorShape { width: 0, rgba: Vec::new(), ..ok }.check(), Err(BadShape));
    }

    proptest! {
        #[test]
        fn round_trips(x in any::<i32>(), y in any::<i32>()) {
            round_trip(&AgentToConsole::Position { x, y });
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = wire::decode::<AgentToConsole>(&b);
            let _ = wire::decode::<ConsoleToAgent>(&b);
        }
    }
}
