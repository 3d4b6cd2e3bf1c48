//! Screen channel: encoded frames from the agent, acknowledgements back.
//!
//! Protocol flow: the agent sends `Frame`s while it holds credit
//! ([`crate::pacing::Credits`]); the console decodes each one and answers
//! `Ack` with its sequence number, which returns the credit.

use serde::{Deserialize, Serialize};

use crate::codec::{EncodedFrame, MAX_HEIGHT, MAX_WIDTH};

/// Largest screen message: an 8K frame sent raw, plus its tile list.
pub const MAX_FRAME_BYTES: usize = (MAX_WIDTH * MAX_HEIGHT * 4) as usize + (1 << 20);

/// Agent to console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentToConsole {
    /// One encoded frame.
    Frame(EncodedFrame),
}

/// Console to agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleToAgent {
    /// Frames up to and including `seq` are decoded.
    Ack {
        /// Sequence number of the newest decoded frame.
        seq: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, testing::round_trip};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(seq in any::<u64>()) {
            round_trip(&ConsoleToAgent::Ack { seq });
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = wire::decode::<AgentToConsole>(&b);
            let _ = wire::decode::<ConsoleToAgent>(&b);
        }
    }
}
