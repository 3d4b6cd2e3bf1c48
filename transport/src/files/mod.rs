//! File transfers over a live session: the hub that routes the files
//! channel's transfer messages and the peer's data streams to the transfer
//! they belong to, the two ends of a transfer (`send`, `receive`), and the
//! receiver's file on disk (`disk`).
//!
//! Every transfer has its own data stream at the lowest QUIC priority, so
//! frames, input and chat overtake file bytes. A sender stays at most
//! [`WINDOW_CHUNKS`] chunks ahead of what the receiver verified, which keeps
//! file data from filling the connection's shared send buffer.

pub mod disk;
mod meter;
mod receive;
mod send;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tether_protocol::channel::files::{
    CancelReason, Chunk, DataHeader, MAX_CHUNK_MESSAGE, Transfer, TransferId,
};
use tether_protocol::channel::{FILE_DATA, FILE_DATA_PRIORITY, file_data_tag};
use tether_protocol::crypt::SessionKeys;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::TransportError;
use crate::peer::{ChannelRecv, ChannelSend};

pub use disk::DiskError;
pub use meter::Meter;
pub use receive::receive;
pub use send::{Source, send};

/// Chunks a sender may have in flight beyond the receiver's `Verified`:
/// 8 MiB, half the connection's send buffer, several times the
/// bandwidth-delay product of a 100 Mbit/s, 100 ms path.
pub const WINDOW_CHUNKS: u64 = 32;
/// How long a receiver waits for the sender's data stream after accepting.
const STREAM_WAIT: Duration = Duration::from_secs(30);

/// How far a transfer has come, for progress bars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// Bytes verified by the receiver.
    pub done: u64,
    /// Bytes in the file.
    pub size: u64,
    /// Bytes an earlier attempt had already delivered.
    pub resumed: u64,
}

/// Why a transfer failed. Messages are for people.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The receiving disk failed (full, unwritable, a bad hash).
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// The other side stopped it.
    #[error("the transfer stopped: {0}")]
    Cancelled(CancelReason),
    /// The session ended first; starting the same transfer again resumes it.
    #[error("the connection was lost; the same transfer started again resumes where it stopped")]
    ConnectionLost,
    /// The network failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The file to send could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// Which file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file to send cannot be sent as it is.
    #[error("{0}")]
    Unsendable(String),
    /// The other side refused the request, saying why.
    #[error("the customer's computer refused: {0}")]
    Refused(String),
    /// The session used up its 255 data streams.
    #[error("this session cannot start more transfers; start a new session")]
    NoStreams,
    /// The peer broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
}

#[derive(Debug, Default)]
struct Routes {
    transfers: HashMap<TransferId, mpsc::UnboundedSender<Transfer>>,
    streams: HashMap<TransferId, oneshot::Sender<ChannelRecv<Chunk>>>,
    /// Data stream indexes the peer used; never twice in a session.
    seen: HashSet<u8>,
    /// Our last data stream index.
    ours: u8,
    closed: bool,
}

impl Routes {
    /// No transfer may start, and every running one hears the end.
    fn close(&mut self) {
        self.closed = true;
        self.transfers.clear();
        self.streams.clear();
    }
}

fn lock(routes: &Mutex<Routes>) -> std::sync::MutexGuard<'_, Routes> {
    routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One transfer's mailbox: its messages and, for a receiver, its data stream.
#[derive(Debug)]
pub struct Registration {
    id: TransferId,
    messages: mpsc::UnboundedReceiver<Transfer>,
    stream: Option<oneshot::Receiver<ChannelRecv<Chunk>>>,
    routes: Arc<Mutex<Routes>>,
}

impl Registration {
    /// The transfer.
    #[must_use]
    pub const fn id(&self) -> TransferId {
        self.id
    }

    /// The next message about this transfer; `ConnectionLost` once the
    /// session is over.
    pub async fn next(&mut self) -> Result<Transfer, FileError> {
        self.messages.recv().await.ok_or(FileError::ConnectionLost)
    }

    /// A message about this transfer if one is waiting.
    pub fn try_next(&mut self) -> Result<Option<Transfer>, FileError> {
        match self.messages.try_recv() {
            Ok(m) => Ok(Some(m)),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(FileError::ConnectionLost),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut r = lock(&self.routes);
        r.transfers.remove(&self.id);
        r.streams.remove(&self.id);
    }
}

/// Routes one session's transfers; `Out` is this side's files channel
/// message type.
#[derive(Debug)]
pub struct Hub<Out> {
    conn: quinn::Connection,
    keys: Arc<SessionKeys>,
    out: tokio::sync::Mutex<ChannelSend<Out>>,
    routes: Arc<Mutex<Routes>>,
}

impl<Out: Serialize + From<Transfer> + Send + 'static> Hub<Out> {
    /// A hub for `conn`, sending on `out`; it accepts the peer's data
    /// streams until the connection closes.
    pub fn start(conn: quinn::Connection, keys: SessionKeys, out: ChannelSend<Out>) -> Arc<Self> {
        let hub = Arc::new(Self {
            conn,
            keys: Arc::new(keys),
            out: tokio::sync::Mutex::new(out),
            routes: Arc::new(Mutex::new(Routes::default())),
        });
        tokio::spawn(accept_streams(hub.conn.clone(), Arc::clone(&hub.routes), Arc::clone(&hub.keys)));
        hub
    }

    /// Sends a message on the files channel.
    pub async fn send(&self, msg: Out) -> Result<(), TransportError> {
        self.out.lock().await.send(&msg).await
    }

    /// Sends a message about a transfer.
    pub async fn say(&self, t: Transfer) -> Result<(), TransportError> {
        self.send(Out::from(t)).await
    }

    /// Opens transfer `id`'s mailbox. Ids are the console's and unique in
    /// a session.
    pub fn register(&self, id: TransferId) -> Result<Registration, FileError> {
        let (tx, messages) = mpsc::unbounded_channel();
        let (stream_tx, stream) = oneshot::channel();
        let mut r = lock(&self.routes);
        if r.closed {
            return Err(FileError::ConnectionLost);
        }
        if r.transfers.contains_key(&id) {
            return Err(FileError::Protocol("a transfer id was used twice"));
        }
        r.transfers.insert(id, tx);
        r.streams.insert(id, stream_tx);
        Ok(Registration { id, messages, stream: Some(stream), routes: Arc::clone(&self.routes) })
    }

    /// Whether transfer `id` is running.
    #[must_use]
    pub fn is_registered(&self, id: TransferId) -> bool {
        lock(&self.routes).transfers.contains_key(&id)
    }

    /// Hands a message from the files channel to its transfer. Messages
    /// for transfers that already ended are dropped.
    pub fn route(&self, t: Transfer) {
        let r = lock(&self.routes);
        match r.transfers.get(&t.id()) {
            Some(tx) => {
                let _ = tx.send(t);
            }
            None => tracing::debug!(id = t.id(), "a message for a transfer that is not running"),
        }
    }

    /// Stops transfer `id` from this side: the peer is told, and the
    /// transfer's own task stops as if the peer had cancelled (a receiver
    /// removes its partial file).
    pub async fn cancel(&self, id: TransferId) -> Result<(), TransportError> {
        let reason = tether_protocol::channel::files::CancelReason::Cancelled;
        self.route(Transfer::Cancel { id, reason: reason.clone() });
        self.say(Transfer::Cancel { id, reason }).await
    }

    /// Ends every transfer: the session is over.
    pub fn close(&self) {
        lock(&self.routes).close();
    }

    /// Opens the data stream for transfer `id`.
    async fn open_data(&self, id: TransferId) -> Result<ChannelSend<Chunk>, FileError> {
        let index = {
            let mut r = lock(&self.routes);
            r.ours = r.ours.checked_add(1).ok_or(FileError::NoStreams)?;
            r.ours
        };
        let mut s = self.conn.open_uni().await.map_err(TransportError::from)?;
        s.set_priority(FILE_DATA_PRIORITY).map_err(|_| FileError::ConnectionLost)?;
        let mut head = vec![FILE_DATA];
        head.extend_from_slice(&DataHeader { index, id }.encode());
        s.write_all(&head).await.map_err(TransportError::from)?;
        Ok(ChannelSend::sealed(s, self.keys.sealer(file_data_tag(index))))
    }
}

/// Accepts the peer's data streams and hands each to its transfer.
async fn accept_streams(conn: quinn::Connection, routes: Arc<Mutex<Routes>>, keys: Arc<SessionKeys>) {
    while let Ok(mut stream) = conn.accept_uni().await {
        let mut head = [0u8; 1 + DataHeader::LEN];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut head)).await;
        let header = match read {
            Ok(Ok(())) if head[0] == FILE_DATA => {
                DataHeader::decode([head[1], head[2], head[3], head[4], head[5]])
            }
            _ => None,
        };
        let Some(header) = header else {
            warn!("the peer opened a stream that is not a file stream; closing the session");
            conn.close(crate::peer::CLOSE_PROTOCOL.into(), b"bad stream");
            break;
        };
        let waiting = {
            let mut r = lock(&routes);
            if !r.seen.insert(header.index) {
                drop(r);
                warn!("the peer reused a file stream number; closing the session");
                conn.close(crate::peer::CLOSE_PROTOCOL.into(), b"stream reused");
                break;
            }
            r.streams.remove(&header.id)
        };
        match waiting {
            Some(tx) => {
                let opener = keys.opener(file_data_tag(header.index), MAX_CHUNK_MESSAGE);
                let _ = tx.send(ChannelRecv::opened(stream, opener));
            }
            None => {
                warn!(id = header.id, "the peer sent data for a transfer nobody accepted");
                let _ = stream.stop(0u32.into());
            }
        }
    }
    // The session is over: every transfer waiting on a message learns so.
    lock(&routes).close();
}

#[cfg(test)]
mod tests;
