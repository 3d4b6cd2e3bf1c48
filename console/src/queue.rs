//! The help-request queue as a technician meets it: page through the
//! waiting requests of their desks, hear new ones as they come and old ones
//! as they go, and claim one, which turns into a session with the key the
//! server hands both sides.

use std::collections::BTreeMap;
use std::time::Duration;

use tether_protocol::ice::IceServers;
use tether_protocol::queue::QueueItem;
use tether_protocol::signal::{ClientToServer, ServerToClient};
use tether_transport::TransportError;

use crate::session::{ConsoleError, LiveSession, Technician};

/// Pages a queue listing may take before it counts as broken.
const MAX_PAGES: usize = 10_000;

/// The requests waiting at a technician's desks, by number (oldest first).
pub type Waiting = BTreeMap<u64, QueueItem>;

/// A change to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new request.
    Added(QueueItem),
    /// A request taken, withdrawn or timed out.
    Removed(u64),
}

impl Technician {
    /// Every request waiting at the technician's desks; from now on the
    /// server tells of every change ([`Technician::next_change`]).
    pub async fn watch_queue(&mut self) -> Result<Waiting, ConsoleError> {
        let mut waiting = Waiting::new();
        let mut changes = Vec::new();
        for _ in 0..MAX_PAGES {
            let after = waiting.keys().next_back().copied().unwrap_or(0);
            self.client.send(&ClientToServer::QueuePage { after }).await?;
            loop {
                match self.client.recv().await? {
                    ServerToClient::QueuePage { items, done } => {
                        waiting.extend(items.into_iter().map(|i| (i.request, i)));
                        if done {
                            // Changes heard while paging apply on top.
                            for c in changes {
                                apply(&mut waiting, c);
                            }
                            return Ok(waiting);
                        }
                        break;
                    }
                    ServerToClient::QueueAdded(i) => changes.push(Change::Added(i)),
                    ServerToClient::QueueRemoved { request } => changes.push(Change::Removed(request)),
                    ServerToClient::Error(e) => return Err(ConsoleError::Refused(e)),
                    _ => {}
                }
            }
        }
        Err(TransportError::Protocol("the queue listing never ended").into())
    }

    /// The next change to the queue, or `None` if `limit` passed first.
    pub async fn next_change(&mut self, limit: Duration) -> Result<Option<Change>, ConsoleError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let Ok(msg) = tokio::time::timeout_at(deadline, self.client.recv()).await else {
                return Ok(None);
            };
            match msg? {
                ServerToClient::QueueAdded(i) => return Ok(Some(Change::Added(i))),
                ServerToClient::QueueRemoved { request } => return Ok(Some(Change::Removed(request))),
                ServerToClient::Error(e) => return Err(ConsoleError::Refused(e)),
                _ => {}
            }
        }
    }

    /// Claims request `request`. Fails with the server's reason if someone
    /// else was first, and the technician can try another.
    pub async fn claim(&mut self, request: u64) -> Result<Granted, ConsoleError> {
        self.client.send(&ClientToServer::Claim { request }).await?;
        loop {
            match self.client.recv().await? {
                ServerToClient::ClaimGranted { item, ice, psk } => return Ok(Granted { item, ice, psk }),
                ServerToClient::Error(e) => return Err(ConsoleError::Refused(e)),
                // Queue changes still arrive until the answer.
                _ => {}
            }
        }
    }

    /// Starts the session with the customer of a claimed request.
    pub async fn start_claimed(self, granted: Granted) -> Result<LiveSession, ConsoleError> {
        self.start_session(&granted.ice, granted.psk).await
    }
}

/// A request the server gave this technician.
#[derive(Debug)]
pub struct Granted {
    /// What the customer asked.
    pub item: QueueItem,
    ice: IceServers,
    psk: [u8; 32],
}

/// Applies a change to the waiting list.
pub fn apply(waiting: &mut Waiting, change: Change) {
    match change {
        Change::Added(i) => {
            waiting.insert(i.request, i);
        }
        Change::Removed(r) => {
            waiting.remove(&r);
        }
    }
}
