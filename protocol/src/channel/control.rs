//! Control channel: who is connected, what the customer allowed, and the end.
//!
//! Protocol flow: the console sends `Hello`; the agent answers with `Hello`
//! (screen size) and then `Consent` whenever it changes. The console asks
//! for control with `RequestControl`; the agent asks its customer and answers
//! with a new `Consent`. The agent lists the customer's monitors with
//! `Monitors`, and again whenever the console picks another one with
//! `SelectMonitor`. The console may forbid (or allow again) lossy photo
//! tiles under bandwidth pressure with `Lossy`; they are allowed by default.
//! Either side sends `End` / `Ended` to finish.
//!
//! The owner vouches for an invited expert with `Vouch` (see `invite`):
//! the agent admits that expert's connection only with that static key and
//! pre-shared key, and an expert's console never sends `Vouch` itself (the
//! agent ignores it from anyone but the owner).

use serde::{Deserialize, Serialize};

/// What the customer allows right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The technician may see the screen.
    pub view: bool,
    /// The technician may move the pointer and type.
    pub control: bool,
}

/// Most monitors listed.
pub const MAX_MONITORS: usize = 16;
/// Longest monitor name, in bytes.
pub const MAX_MONITOR_NAME: usize = 64;

/// One of the customer's monitors, placed on their whole desktop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Monitor {
    /// The agent's id for it.
    pub id: u32,
    /// What the system calls it.
    pub name: String,
    /// Left edge on the desktop.
    pub x: i32,
    /// Top edge on the desktop.
    pub y: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The primary monitor.
    pub primary: bool,
}

/// Console to agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleToAgent {
    /// Who is asking.
    Hello {
        /// Technician's display name.
        technician: String,
        /// Technician's organisation.
        organisation: String,
    },
    /// Ask the customer for control.
    RequestControl,
    /// Share this monitor instead (an id from `Monitors`).
    SelectMonitor {
        /// The monitor's id.
        id: u32,
    },
    /// The technician ends the session.
    End,
    /// Whether photo and video tiles may go lossy under bandwidth pressure
    /// (refined to lossless once the screen is still). Allowed by default.
    Lossy {
        /// Allowed or not.
        allowed: bool,
    },
    /// The owner passes control to expert `expert`, or takes it back
    /// (`None`). Only while the customer allows control; only one party
    /// drives at a time.
    PassControl {
        /// Who drives from now on.
        expert: Option<u32>,
    },
    /// Admit expert `expert` (the server's number) with this Noise static
    /// key and pre-shared key.
    Vouch {
        /// The expert's number in the session.
        expert: u32,
        /// What the owner calls them, for the customer's banner.
        name: String,
        /// Their Noise static public key.
        key: [u8; 32],
        /// The pre-shared key of their handshake.
        psk: [u8; 32],
    },
}

/// Agent to console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentToConsole {
    /// The customer's screen.
    Hello {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The customer's current answers.
    Consent(Consent),
    /// The customer's monitors, and the one being shared.
    Monitors {
        /// At most [`MAX_MONITORS`].
        list: Vec<Monitor>,
        /// The id of the shared one.
        active: u32,
    },
    /// The agent ends the session, with a reason a person can read.
    Ended {
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{self, testing::round_trip};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(t in ".{0,20}", o in ".{0,20}", w in any::<u32>(), v in any::<bool>(), c in any::<bool>()) {
            round_trip(&ConsoleToAgent::Hello { technician: t.clone(), organisation: o.clone() });
            round_trip(&ConsoleToAgent::RequestControl);
            round_trip(&AgentToConsole::Hello { width: w, height: w / 2 });
            round_trip(&AgentToConsole::Consent(Consent { view: v, control: c }));
            round_trip(&ConsoleToAgent::SelectMonitor { id: w });
            round_trip(&ConsoleToAgent::Lossy { allowed: c });
            round_trip(&ConsoleToAgent::PassControl { expert: v.then_some(w) });
            round_trip(&ConsoleToAgent::Vouch { expert: w, name: t.clone(), key: [3; 32], psk: [4; 32] });
            let m = Monitor { id: w, name: o.clone(), x: -5, y: 7, width: w, height: w / 3, primary: v };
            round_trip(&AgentToConsole::Monitors { list: vec![m], active: w });
            round_trip(&AgentToConsole::Ended { reason: t });
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = wire::decode::<ConsoleToAgent>(&b);
            let _ = wire::decode::<AgentToConsole>(&b);
        }
    }
}
