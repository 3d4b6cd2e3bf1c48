//! The channels of a session. Each is its own QUIC stream carrying sealed
//! messages; each module names its messages by direction.

pub mod chat;
pub mod clipboard;
pub mod control;
pub mod cursor;
pub mod files;
pub mod input;
pub mod screen;

use serde::{Deserialize, Serialize};

use crate::crypt::StreamTag;

/// `text` cut to at most `max` bytes, on a character boundary.
#[must_use]
pub fn clip_to(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Every channel, with its id on the wire (the first byte of its stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum ChannelId {
    /// Roles, consent, permissions and session events.
    Control = 1,
    /// Screen frames and their acknowledgements.
    Screen = 2,
    /// Pointer and keyboard.
    Input = 3,
    /// Chat between technician and customer.
    Chat = 4,
    /// The customer's pointer position and shape.
    Cursor = 5,
    /// File offers, requests and answers (the bytes go on data streams).
    Files = 6,
    /// Copied text and images.
    Clipboard = 7,
}

/// The channel id that starts a file data stream (one per transfer, opened
/// when needed and never part of [`ChannelId::ALL`]).
pub const FILE_DATA: u8 = 8;

/// The nonce partition of file data stream `index` (1–255).
#[must_use]
pub const fn file_data_tag(index: u8) -> StreamTag {
    StreamTag::new(FILE_DATA, index)
}

/// QUIC send priority of file data: below everything, so frames, input and
/// chat always overtake it.
pub const FILE_DATA_PRIORITY: i32 = 0;

impl ChannelId {
    /// All channels a session opens, in opening order.
    pub const ALL: [Self; 7] =
        [Self::Control, Self::Screen, Self::Input, Self::Chat, Self::Cursor, Self::Files, Self::Clipboard];

    /// The channel with wire id `id`.
    #[must_use]
    pub fn from_u8(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| *c as u8 == id)
    }

    /// The nonce partition of this channel's stream.
    #[must_use]
    pub const fn tag(self) -> StreamTag {
        StreamTag::new(self as u8, 0)
    }

    /// Largest reassembled message accepted on this channel.
    #[must_use]
    pub const fn max_message(self) -> usize {
        match self {
            // A whole uncompressed 8K frame plus headers, the worst case.
            Self::Screen => screen::MAX_FRAME_BYTES,
            Self::Control | Self::Input | Self::Chat | Self::Files => 64 * 1024,
            Self::Clipboard => clipboard::Clip::MAX_MESSAGE,
            // The largest cursor image, with room for its header.
            Self::Cursor => cursor::MAX_CURSOR_EDGE as usize * cursor::MAX_CURSOR_EDGE as usize * 4 + 1024,
        }
    }

    /// QUIC send priority: input > cursor > control > chat > files >
    /// screen > clipboard > file data.
    #[must_use]
    pub const fn priority(self) -> i32 {
        match self {
            Self::Input => 40,
            Self::Cursor => 35,
            Self::Control => 30,
            Self::Chat => 20,
            Self::Files => 15,
            Self::Screen => 10,
            Self::Clipboard => 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_priorities_order() {
        for c in ChannelId::ALL {
            assert_eq!(ChannelId::from_u8(c as u8), Some(c));
        }
        assert_eq!(ChannelId::from_u8(0), None);
        assert!(ChannelId::Input.priority() > ChannelId::Control.priority());
        assert!(ChannelId::Chat.priority() > ChannelId::Screen.priority());
        assert!(ChannelId::ALL.iter().all(|c| c.priority() > FILE_DATA_PRIORITY));
        assert_eq!(ChannelId::from_u8(FILE_DATA), None);
    }
}
