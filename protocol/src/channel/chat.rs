//! Chat channel: text both ways, one message per frame. Each side answers
//! every message with a `Receipt` carrying its id, so the writer sees it
//! was delivered (and how long that took).

use serde::{Deserialize, Serialize};

/// Longest chat message in bytes.
pub const MAX_CHAT_BYTES: usize = 4096;

/// `text` cut to at most [`MAX_CHAT_BYTES`], on a character boundary.
#[must_use]
pub fn clip(text: &str) -> &str {
    super::clip_to(text, MAX_CHAT_BYTES)
}

/// One chat line; the same shape in both directions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Sender's sequence number.
    pub id: u64,
    /// The text.
    pub text: String,
}

/// Console to agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleToAgent {
    /// A message from the technician.
    Message(ChatMessage),
    /// The customer's message `id` arrived.
    Receipt {
        /// Its id.
        id: u64,
    },
}

/// Agent to console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentToConsole {
    /// A message from the customer.
    Message(ChatMessage),
    /// The technician's message `id` arrived.
    Receipt {
        /// Its id.
        id: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, testing::round_trip};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(id in any::<u64>(), text in ".{0,64}") {
            round_trip(&ConsoleToAgent::Message(ChatMessage { id, text: text.clone() }));
            round_trip(&AgentToConsole::Message(ChatMessage { id, text }));
            round_trip(&AgentToConsole::Receipt { id });
            round_trip(&ConsoleToAgent::Receipt { id });
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = wire::decode::<ConsoleToAgent>(&b);
        }

        #[test]
        fn clip_keeps_whole_characters(s in "[a-zé€😀]{0,3000}") {
            let c = clip(&s);
            prop_assert!(c.len() <= MAX_CHAT_BYTES);
            prop_assert!(s.starts_with(c));
            if s.len() <= MAX_CHAT_BYTES { prop_assert_eq!(c, s.as_str()); }
        }
    }
}
