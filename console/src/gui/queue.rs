//! The dashboard's view of the help-request queue: a server connection of
//! its own that pages through the queue of the technician's desks, then
//! follows every change; and taking a request, which becomes a session.

use iced::Task;
use iced::futures::{SinkExt, Stream};
use tether_protocol::queue::QueueItem;
use tether_transport::signal_client::ServerTrust;

use super::{Message, Slot};
use crate::queue::Change;
use crate::session::{ConsoleError, Technician};

/// What the queue watcher reports.
#[derive(Debug, Clone)]
pub enum Update {
    /// Everything waiting now, oldest first.
    All(Vec<QueueItem>),
    /// One change.
    Change(Change),
    /// The watcher stopped; why.
    Lost(String),
}

/// How to log in again, for a connection of its own.
#[derive(Debug, Clone)]
pub struct Login {
    /// The server.
    pub server: String,
    /// How to trust it.
    pub trust: ServerTrust,
    /// The account.
    pub user: String,
    /// Its password.
    pub password: String,
}

impl Login {
    pub(super) async fn connect(&self) -> Result<Technician, ConsoleError> {
        Technician::login(&self.server, &self.trust, &self.user, &self.password).await
    }
}

/// Follows the queue until the connection fails.
pub fn watch(login: Login) -> impl Stream<Item = Message> {
    iced::stream::channel(64, async move |mut out| {
        let result: Result<(), ConsoleError> = async {
            let mut tech = login.connect().await?;
            let waiting = tech.watch_queue().await?;
            let _ = out.send(Message::Queue(Update::All(waiting.into_values().collect()))).await;
            loop {
                if let Some(change) = tech.next_change(std::time::Duration::from_secs(3600)).await? {
                    let _ = out.send(Message::Queue(Update::Change(change))).await;
                }
            }
        }
        .await;
        if let Err(e) = result {
            let _ = out.send(Message::Queue(Update::Lost(e.to_string()))).await;
        }
    })
}

/// Claims `request` on a connection of its own; the session follows.
pub fn take(login: Login, request: u64, relay_only: bool) -> Task<Message> {
    Task::perform(
        async move {
            let mut tech = login.connect().await?;
            tech.relay_only = relay_only;
            let granted = tech.claim(request).await?;
            println!("claimed: request {request} from {}", granted.item.ask.name);
            tech.start_claimed(granted).await
        },
        |r: Result<_, ConsoleError>| Message::Taken(r.map(Slot::new).map_err(|e| e.to_string())),
    )
}

/// Applies an update to the dashboard's list.
pub fn apply(requests: &mut Vec<QueueItem>, update: Update) {
    match update {
        Update::All(all) => *requests = all,
        Update::Change(Change::Added(item)) => {
            if !requests.iter().any(|r| r.request == item.request) {
                requests.push(item);
                requests.sort_by_key(|r| r.request);
            }
        }
        Update::Change(Change::Removed(request)) => requests.retain(|r| r.request != request),
        Update::Lost(why) => tracing::warn!("stopped following the help-request queue: {why}"),
    }
}
