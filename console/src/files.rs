//! Files on the technician's side: send a local file to a folder the
//! customer offers, or fetch one of the customer's shared files into a
//! local folder. The customer's agent asks them each time and may say no.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tether_protocol::channel::clip_to;
use tether_protocol::channel::files::{
    AgentToConsole, ConsoleToAgent, Entry, Listing, MAX_LISTED, MAX_REASON_BYTES, Offer, Transfer, TransferId,
};
use tether_protocol::crypt::SessionKeys;
use tether_protocol::files::RelPath;
use tether_protocol::signal::SessionReport;
use tether_transport::files::{FileError, Hub, Source, Status, receive, send};
use tether_transport::peer::{ChannelRecv, ChannelSend};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::warn;

/// A finished transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct Moved {
    /// Where it is now: the name on the customer's side, or the local path.
    pub at: String,
    /// Bytes.
    pub size: u64,
    /// The BLAKE3 hash of the whole file, in hex.
    pub hash: String,
    /// Bytes an earlier, broken attempt had already delivered.
    pub resumed: u64,
    /// Seconds from the offer to the receiver's confirmation (not counting
    /// the hashing before).
    pub seconds: f64,
}

impl Moved {
    /// Megabits per second of file data moved in this attempt.
    #[must_use]
    pub fn mbit_per_s(&self) -> f64 {
        (self.size - self.resumed) as f64 * 8.0 / self.seconds.max(1e-6) / 1e6
    }
}

type Waiting<T> = Arc<Mutex<HashMap<TransferId, oneshot::Sender<T>>>>;

/// Pages a folder listing may take; [`MAX_LISTED`] entries fit in far fewer.
const MAX_PAGES: u32 = 1000;

fn take<T>(waiting: &Waiting<T>, id: TransferId) -> Option<oneshot::Sender<T>> {
    waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id)
}

fn wait_for<T>(waiting: &Waiting<T>, id: TransferId) -> oneshot::Receiver<T> {
    let (tx, rx) = oneshot::channel();
    waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, tx);
    rx
}

/// The session's file transfers.
#[derive(Debug)]
pub struct Files {
    hub: Arc<Hub<ConsoleToAgent>>,
    next: AtomicU32,
    fetches: Waiting<Offer>,
    listings: Waiting<Listing>,
    reports: mpsc::UnboundedSender<SessionReport>,
}

fn hex(hash: &[u8]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

impl Files {
    /// Starts serving the files channel of `conn`.
    pub fn start(
        conn: quinn::Connection,
        keys: SessionKeys,
        send: ChannelSend<ConsoleToAgent>,
        recv: ChannelRecv<AgentToConsole>,
        reports: mpsc::UnboundedSender<SessionReport>,
    ) -> Arc<Self> {
        let hub = Hub::start(conn, keys, send);
        let (fetches, listings): (Waiting<Offer>, Waiting<Listing>) = Default::default();
        tokio::spawn(dispatch(recv, Arc::clone(&hub), Arc::clone(&fetches), Arc::clone(&listings)));
        Arc::new(Self { hub, next: AtomicU32::new(1), fetches, listings, reports })
    }

    fn record(&self, name: &str, size: u64, hash: [u8; 32], to_customer: bool) {
        let _ = self.reports.send(SessionReport::File { name: name.to_owned(), size, hash, to_customer });
    }

    /// A fresh transfer id, for [`Files::send`], [`Files::fetch`] and
    /// [`Files::cancel`].
    pub fn next_id(&self) -> TransferId {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Stops transfer `id`.
    pub async fn cancel(&self, id: TransferId) -> Result<(), FileError> {
        Ok(self.hub.cancel(id).await?)
    }

    /// Sends `local` into `folder` on the customer's side (their
    /// Downloads when `None`) as transfer `id`, reporting progress on
    /// `status`.
    pub async fn send(
        &self,
        id: TransferId,
        local: &Path,
        folder: Option<RelPath>,
        status: &watch::Sender<Status>,
    ) -> Result<Moved, FileError> {
        // Registered before hashing, so a cancel in the meantime counts.
        let reg = self.hub.register(id)?;
        let path = local.to_path_buf();
        let source = tokio::task::spawn_blocking(move || Source::open(&path))
            .await
            .map_err(|_| FileError::Protocol("the hashing task failed"))??
            .with_fault_from_env();
        let start = Instant::now();
        self.hub.send(ConsoleToAgent::Offer(source.offer(id, folder))).await?;
        let name = send(&self.hub, reg, &source, status).await?;
        self.record(source.name.as_str(), source.size, source.hash, true);
        let resumed = status.borrow().resumed;
        let seconds = start.elapsed().as_secs_f64();
        Ok(Moved { at: name.to_string(), size: source.size, hash: hex(&source.hash), resumed, seconds })
    }

    /// Fetches the customer's `remote` file into the local folder `dir` as
    /// transfer `id`.
    pub async fn fetch(
        &self,
        id: TransferId,
        remote: RelPath,
        dir: &Path,
        status: &watch::Sender<Status>,
    ) -> Result<Moved, FileError> {
        if !dir.is_dir() {
            return Err(tether_transport::files::DiskError::NotAFolder(dir.to_path_buf()).into());
        }
        let mut reg = self.hub.register(id)?;
        let start = Instant::now();
        let offered = wait_for(&self.fetches, id);
        self.hub.send(ConsoleToAgent::Fetch { id, path: remote }).await?;
        let offer = tokio::select! {
            o = offered => o.map_err(|_| FileError::ConnectionLost)?,
            m = reg.next() => match m? {
                Transfer::Cancel { reason, .. } => return Err(FileError::Cancelled(reason)),
                _ => return Err(FileError::Protocol("a transfer message before the file was offered")),
            },
        };
        let path = receive(&self.hub, reg, &offer, dir, status).await?;
        self.record(offer.name.as_str(), offer.size, offer.hash, false);
        let resumed = status.borrow().resumed;
        let seconds = start.elapsed().as_secs_f64();
        Ok(Moved {
            at: path.display().to_string(),
            size: offer.size,
            hash: hex(&offer.hash),
            resumed,
            seconds,
        })
    }
}

impl Files {
    /// What the customer's shared folder `path` holds (the shared folders
    /// themselves when `None`), every page of it.
    pub async fn list(&self, path: Option<RelPath>) -> Result<Vec<Entry>, FileError> {
        let mut entries = Vec::new();
        for _ in 0..MAX_PAGES {
            let id = self.next_id();
            let answer = wait_for(&self.listings, id);
            let from = u32::try_from(entries.len()).unwrap_or(u32::MAX);
            self.hub.send(ConsoleToAgent::List { id, path: path.clone(), from }).await?;
            let listing = answer.await.map_err(|_| FileError::ConnectionLost)?;
            let page = listing
                .entries
                .map_err(|why| FileError::Refused(clip_to(&why, MAX_REASON_BYTES).to_owned()))?;
            let last = page.is_empty();
            entries.extend(page);
            if last || entries.len() >= listing.total.min(MAX_LISTED) as usize {
                entries.truncate(MAX_LISTED as usize);
                return Ok(entries);
            }
        }
        Err(FileError::Protocol("a folder listing never ended"))
    }
}

async fn dispatch(
    mut recv: ChannelRecv<AgentToConsole>,
    hub: Arc<Hub<ConsoleToAgent>>,
    fetches: Waiting<Offer>,
    listings: Waiting<Listing>,
) {
    loop {
        match recv.recv().await {
            Ok(Some(AgentToConsole::Transfer(t))) => hub.route(t),
            Ok(Some(AgentToConsole::Offer(offer))) => match take(&fetches, offer.id) {
                Some(tx) => {
                    let _ = tx.send(offer);
                }
                None => warn!(id = offer.id, "the customer offered a file nobody asked for"),
            },
            Ok(Some(AgentToConsole::Listing(listing))) => match take(&listings, listing.id) {
                Some(tx) => {
                    let _ = tx.send(listing);
                }
                None => warn!(id = listing.id, "the customer sent a listing nobody asked for"),
            },
            Ok(None) => break,
            Err(e) => {
                warn!("files channel failed: {e}");
                break;
            }
        }
    }
    hub.close();
    fetches.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    listings.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
}
