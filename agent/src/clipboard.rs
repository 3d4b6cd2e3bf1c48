//! The customer's clipboard, shared with the technician in the directions
//! the customer allows: what the customer copies goes to the technician,
//! what the technician copies lands in the customer's clipboard. The agent
//! enforces both switches; a direction that is off sends and applies
//! nothing. What was on the clipboard before the session is never sent.
//!
//! The clipboard itself is held by `tether_clipboard`'s thread.

use std::str::FromStr;

use tether_protocol::channel::clipboard::Clip;
use tether_transport::peer::{ChannelRecv, ChannelSend};
use tokio::sync::watch;
use tracing::{info, warn};

pub use tether_clipboard::{Arboard, ClipboardAccess, OpenClipboard, Watcher, describe};

use crate::AgentError;

/// Which directions the customer allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipboardPolicy {
    /// The customer's copies go to the technician.
    pub to_technician: bool,
    /// The technician's copies land in the customer's clipboard.
    pub from_technician: bool,
}

impl Default for ClipboardPolicy {
    fn default() -> Self {
        Self { to_technician: true, from_technician: true }
    }
}

/// `--clipboard` was not one of the four choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--clipboard takes both, none, to-technician or from-technician, not {0:?}")]
pub struct PolicyError(String);

impl FromStr for ClipboardPolicy {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (to_technician, from_technician) = match s {
            "both" => (true, true),
            "none" => (false, false),
            "to-technician" => (true, false),
            "from-technician" => (false, true),
            _ => return Err(PolicyError(s.to_owned())),
        };
        Ok(Self { to_technician, from_technician })
    }
}

/// Shares the clipboard until the channel ends, as `policy` allows.
pub async fn serve(
    open: OpenClipboard,
    mut send: ChannelSend<Clip>,
    mut recv: ChannelRecv<Clip>,
    policy: watch::Receiver<ClipboardPolicy>,
) -> Result<(), AgentError> {
    let Watcher { apply, mut copied } =
        Watcher::start(open).map_err(|_| AgentError::Internal("could not start the clipboard thread"))?;
    let mut copying = true;
    loop {
        tokio::select! {
            msg = recv.recv() => match msg? {
                None => return Ok(()),
                Some(clip) => {
                    if let Err(e) = clip.check() {
                        warn!("dropped a clipboard from the technician: {e}");
                    } else if !policy.borrow().from_technician {
                        info!("dropped a clipboard from the technician: the customer switched that off");
                    } else {
                        println!("clipboard: from the technician ({})", describe(&clip));
                        if apply.try_send(clip).is_err() {
                            info!("dropped a clipboard from the technician: the last one is still being applied");
                        }
                    }
                }
            },
            clip = copied.recv(), if copying => match clip {
                None => copying = false,
                Some(clip) if policy.borrow().to_technician => {
                    println!("clipboard: to the technician ({})", describe(&clip));
                    send.send(&clip).await?;
                }
                Some(_) => info!("kept the customer's copy private: they switched that direction off"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse() {
        assert_eq!("both".parse(), Ok(ClipboardPolicy::default()));
        assert_eq!("none".parse(), Ok(ClipboardPolicy { to_technician: false, from_technician: false }));
        assert_eq!(
            "to-technician".parse(),
            Ok(ClipboardPolicy { to_technician: true, from_technician: false })
        );
        assert!("sometimes".parse::<ClipboardPolicy>().is_err());
    }
}
