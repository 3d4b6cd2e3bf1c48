//! Files on the customer's side: each file the technician sends is asked
//! about and lands in the customer's Downloads folder (or a folder in it);
//! each file the technician asks for is asked about and must lie in a
//! folder the customer shares, outside every privacy folder. The customer
//! decides here, on the agent, whatever the console says.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tether_protocol::channel::files::{
    AgentToConsole, CancelReason, ConsoleToAgent, Listing, Offer, Transfer, TransferId,
};
use tether_protocol::files::{FileName, RelPath};
use tether_transport::files::{Hub, Source, Status, receive, send};
use tether_transport::peer::ChannelRecv;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::AgentError;
use crate::browse;
use crate::consent::{Asker, ConsentAsker, Destination, Permission, human_size};
use crate::session::AgentEvent;

/// The name the Downloads folder has on the wire.
pub const DOWNLOADS: &str = "Downloads";

/// Folders below a shared one that are never listed or given out.
pub const PRIVACY_FOLDERS: [&str; 8] =
    [".ssh", ".gnupg", ".password-store", ".mozilla", ".config", ".local", ".aws", ".kube"];

/// The folders the customer offers.
#[derive(Debug, Clone, Default)]
pub struct Folders {
    /// Where received files go, called `Downloads` on the wire.
    pub downloads: Option<PathBuf>,
    /// Folders the technician may fetch from, by the name they go by.
    pub shared: Vec<(FileName, PathBuf)>,
    /// Extra privacy folders (names), on top of [`PRIVACY_FOLDERS`].
    pub private: Vec<String>,
}

/// Why a file request is refused before the customer is even asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FolderError {
    /// No such offered folder.
    #[error("the customer does not share a folder called “{0}”")]
    NotShared(String),
    /// A privacy folder is on the path.
    #[error("that path is in a private folder")]
    Private,
    /// The file is not there, or leads outside the shared folder.
    #[error("there is no such file in the shared folder")]
    Missing,
    /// The destination leads outside Downloads (through a link).
    #[error("that folder is not inside the customer's Downloads folder")]
    Outside,
    /// The folder the customer picked is gone.
    #[error("the folder the customer chose does not exist")]
    Chosen,
    /// Files sent to the customer go to Downloads and nowhere else.
    #[error("files can only be sent into the customer's Downloads folder")]
    OnlyDownloads,
}

impl Folders {
    /// The customer's Downloads folder, from the platform.
    #[must_use]
    pub fn platform_downloads() -> Option<PathBuf> {
        directories::UserDirs::new().and_then(|d| d.download_dir().map(Path::to_path_buf))
    }

    /// Where a received file goes: Downloads, or a folder under it. Only
    /// the names are checked here; [`Folders::confirm`] checks the folder
    /// itself once it exists.
    fn destination(&self, folder: Option<&RelPath>) -> Result<(PathBuf, PathBuf), FolderError> {
        let root = self.downloads.clone().ok_or_else(|| FolderError::NotShared(DOWNLOADS.into()))?;
        let rest = match folder {
            None => &[][..],
            Some(f) => {
                let (first, rest) = f.components().split_first().ok_or(FolderError::Missing)?;
                if first.as_str() != DOWNLOADS {
                    return Err(FolderError::OnlyDownloads);
                }
                rest
            }
        };
        if rest.iter().any(|c| self.is_private(c.as_str())) {
            return Err(FolderError::Private);
        }
        let dir = rest.iter().fold(root.clone(), |p, c| p.join(c.as_str()));
        Ok((root, dir))
    }

    /// `path` after links are followed, if it lies inside `root` and
    /// outside every privacy folder.
    pub(crate) fn inside(&self, root: &Path, path: &Path) -> Result<PathBuf, FolderError> {
        let real_root = root.canonicalize().map_err(|_| FolderError::Missing)?;
        let real = path.canonicalize().map_err(|_| FolderError::Missing)?;
        let under = real.strip_prefix(&real_root).map_err(|_| FolderError::Missing)?;
        if under.components().any(|c| self.is_private(&c.as_os_str().to_string_lossy())) {
            return Err(FolderError::Private);
        }
        Ok(real)
    }

    /// Makes the destination folder and checks it still lies inside
    /// Downloads once links are followed. Blocking.
    fn confirm(&self, root: &Path, dir: &Path) -> Result<PathBuf, FolderError> {
        let outside = |e| if e == FolderError::Missing { FolderError::Outside } else { e };
        // The customer's own Downloads may not exist yet.
        std::fs::create_dir_all(root).map_err(|_| FolderError::Outside)?;
        // Check what exists before making anything, so no folder is ever
        // made through a link that leads out.
        let mut existing = dir;
        while !existing.exists() {
            existing = existing.parent().ok_or(FolderError::Outside)?;
        }
        self.inside(root, existing).map_err(outside)?;
        std::fs::create_dir_all(dir).map_err(|_| FolderError::Outside)?;
        self.inside(root, dir).map_err(outside)
    }

    fn root<'a>(&self, path: &'a RelPath) -> Result<(PathBuf, &'a [FileName]), FolderError> {
        let (first, rest) = path.components().split_first().ok_or(FolderError::Missing)?;
        if rest.iter().any(|c| self.is_private(c.as_str())) {
            return Err(FolderError::Private);
        }
        let root = if first.as_str() == DOWNLOADS {
            self.downloads.clone()
        } else {
            self.shared.iter().find(|(n, _)| n == first).map(|(_, p)| p.clone())
        };
        Ok((root.ok_or_else(|| FolderError::NotShared(first.to_string()))?, rest))
    }

    pub(crate) fn is_private(&self, name: &str) -> bool {
        PRIVACY_FOLDERS.contains(&name) || self.private.iter().any(|p| p == name)
    }

    /// The file `path` names, checked to lie inside its shared folder even
    /// after symbolic links are followed.
    pub fn file(&self, path: &RelPath) -> Result<PathBuf, FolderError> {
        let (root, rest) = self.root(path)?;
        if rest.is_empty() {
            return Err(FolderError::Missing);
        }
        let wanted = rest.iter().fold(root.clone(), |p, c| p.join(c.as_str()));
        let (real_root, real) = (
            root.canonicalize().map_err(|_| FolderError::Missing)?,
            wanted.canonicalize().map_err(|_| FolderError::Missing)?,
        );
        let inside = real.strip_prefix(&real_root).map_err(|_| FolderError::Missing)?;
        if inside.components().any(|c| self.is_private(&c.as_os_str().to_string_lossy())) {
            return Err(FolderError::Private);
        }
        if !real.is_file() {
            return Err(FolderError::Missing);
        }
        Ok(real)
    }
}

/// A folder the customer picked for a file: it must exist and be a folder.
fn chosen_folder(picked: &Path) -> Result<PathBuf, FolderError> {
    let real = picked.canonicalize().map_err(|_| FolderError::Chosen)?;
    if real.is_dir() { Ok(real) } else { Err(FolderError::Chosen) }
}

/// What the files task needs from the session.
pub struct FileDesk {
    /// Sends on the files channel, routes transfer messages.
    pub hub: Arc<Hub<AgentToConsole>>,
    /// Asks the customer.
    pub consent: Arc<dyn ConsentAsker>,
    /// Who is asking.
    pub who: Asker,
    /// The offered folders.
    pub folders: Arc<Folders>,
    /// The window, if any.
    pub events: Option<mpsc::UnboundedSender<AgentEvent>>,
    /// Room for transfers (asked about or running); more are refused.
    pub room: Arc<tokio::sync::Semaphore>,
}

/// Transfers a session takes at once, counting those still being asked.
pub const MAX_TRANSFERS: usize = 4;

impl std::fmt::Debug for FileDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDesk").field("folders", &self.folders).finish_non_exhaustive()
    }
}

async fn ask(desk: &FileDesk, what: Permission) -> bool {
    let (consent, who) = (Arc::clone(&desk.consent), desk.who.clone());
    tokio::task::spawn_blocking(move || consent.ask(&who, what)).await.unwrap_or(false)
}

/// Serves the technician's file offers and requests until the channel ends.
pub async fn serve(desk: Arc<FileDesk>, mut recv: ChannelRecv<ConsoleToAgent>) -> Result<(), AgentError> {
    let result = loop {
        match recv.recv().await {
            Ok(Some(ConsoleToAgent::Transfer(t))) => desk.hub.route(t),
            Ok(Some(ConsoleToAgent::Offer(offer))) => {
                let Ok(turn) = Arc::clone(&desk.room).try_acquire_owned() else {
                    refuse(&desk, offer.id, busy()).await;
                    continue;
                };
                let desk = Arc::clone(&desk);
                tokio::spawn(async move {
                    incoming(&desk, offer).await;
                    drop(turn);
                });
            }
            Ok(Some(ConsoleToAgent::Fetch { id, path })) => {
                let Ok(turn) = Arc::clone(&desk.room).try_acquire_owned() else {
                    refuse(&desk, id, busy()).await;
                    continue;
                };
                let desk = Arc::clone(&desk);
                tokio::spawn(async move {
                    outgoing(&desk, id, path).await;
                    drop(turn);
                });
            }
            Ok(Some(ConsoleToAgent::List { id, path, from })) => {
                // One listing at a time: a flood of them waits its turn.
                let listing = listing(&desk, id, path, from).await;
                if let Err(e) = desk.hub.send(AgentToConsole::Listing(listing)).await {
                    break Err(e.into());
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e.into()),
        }
    };
    desk.hub.close();
    result
}

/// One page of a shared folder, for the technician's browser. Sharing the
/// folder was the customer's consent; each file taken is asked again.
async fn listing(desk: &FileDesk, id: TransferId, path: Option<RelPath>, from: u32) -> Listing {
    let folders = Arc::clone(&desk.folders);
    let shown = path.as_ref().map_or_else(|| "the shared folders".to_owned(), ToString::to_string);
    let listed = tokio::task::spawn_blocking(move || browse::list(&folders, path.as_ref())).await;
    match listed {
        Ok(Ok(all)) => {
            if from == 0 {
                println!("listed: {shown} ({} entries)", all.len());
            }
            let total = u32::try_from(all.len()).unwrap_or(u32::MAX);
            Listing { id, entries: Ok(browse::page(&all, from)), total }
        }
        Ok(Err(e)) => {
            info!(%shown, "refused a folder listing: {e}");
            Listing { id, entries: Err(e.to_string()), total: 0 }
        }
        Err(_) => Listing { id, entries: Err("the folder could not be read".into()), total: 0 },
    }
}

fn busy() -> CancelReason {
    CancelReason::Failed(format!("{MAX_TRANSFERS} transfers are running or waiting; try again when one ends"))
}

async fn refuse(desk: &FileDesk, id: TransferId, reason: CancelReason) {
    info!(id, %reason, "refused a file transfer");
    let _ = desk.hub.say(Transfer::Cancel { id, reason }).await;
}

/// A file from the technician.
async fn incoming(desk: &FileDesk, offer: Offer) {
    let id = offer.id;
    let reg = match desk.hub.register(id) {
        Ok(r) => r,
        Err(e) => return warn!("a file offer was refused: {e}"),
    };
    let (root, dir) = match desk.folders.destination(offer.folder.as_ref()) {
        Ok(d) => d,
        Err(e) => return refuse(desk, id, CancelReason::Failed(e.to_string())).await,
    };
    let folder = offer.folder.as_ref().map_or_else(|| DOWNLOADS.to_owned(), ToString::to_string);
    let what = Permission::Receive { name: offer.name.to_string(), size: offer.size, folder };
    let (consent, who, suggested) = (Arc::clone(&desk.consent), desk.who.clone(), dir.clone());
    let asked = tokio::task::spawn_blocking(move || consent.ask_where(&who, what, &suggested)).await;
    let folders = Arc::clone(&desk.folders);
    let checked = match asked {
        Ok(Some(Destination::Suggested)) => {
            tokio::task::spawn_blocking(move || folders.confirm(&root, &dir)).await
        }
        // The customer's own pick: any folder of theirs that exists.
        Ok(Some(Destination::Chosen(picked))) => {
            tokio::task::spawn_blocking(move || chosen_folder(&picked)).await
        }
        Ok(None) | Err(_) => return refuse(desk, id, CancelReason::Declined).await,
    };
    let dir = match checked {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return refuse(desk, id, CancelReason::Failed(e.to_string())).await,
        Err(_) => return refuse(desk, id, CancelReason::Failed("the folder could not be made".into())).await,
    };
    println!("receiving: {} ({})", offer.name, human_size(offer.size));
    let (status, watching) = watch::channel(Status::default());
    let shown = Shown { id, name: offer.name.to_string(), incoming: true };
    let progress = tokio::spawn(report(shown.clone(), watching, desk.events.clone()));
    let done = receive(&desk.hub, reg, &offer, &dir, &status).await;
    progress.abort();
    resumed(&offer.name.to_string(), &status);
    match done {
        Ok(path) => {
            println!("received: {} {} bytes blake3 {}", path.display(), offer.size, hex(&offer.hash));
            shown.end(&desk.events, Ok(path.display().to_string()));
        }
        Err(e) => {
            println!("receive failed: {}: {e}", offer.name);
            shown.end(&desk.events, Err(e.to_string()));
        }
    }
}

/// A file for the technician.
async fn outgoing(desk: &FileDesk, id: TransferId, path: RelPath) {
    let reg = match desk.hub.register(id) {
        Ok(r) => r,
        Err(e) => return warn!("a file request was refused: {e}"),
    };
    let file = match desk.folders.file(&path) {
        Ok(f) => f,
        Err(e) => return refuse(desk, id, CancelReason::Failed(e.to_string())).await,
    };
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    if !ask(desk, Permission::Give { path: path.to_string(), size }).await {
        return refuse(desk, id, CancelReason::Declined).await;
    }
    let opened = tokio::task::spawn_blocking(move || Source::open(&file)).await;
    let source = match opened {
        Ok(Ok(s)) => s.with_fault_from_env(),
        Ok(Err(e)) => {
            warn!("could not read a requested file: {e}");
            return refuse(desk, id, CancelReason::Failed("the file could not be read".into())).await;
        }
        Err(_) => return refuse(desk, id, CancelReason::Failed("the file could not be read".into())).await,
    };
    if let Err(e) = desk.hub.send(AgentToConsole::Offer(source.offer(id, None))).await {
        return warn!("could not offer a requested file: {e}");
    }
    println!("sending: {path} ({})", human_size(source.size));
    let (status, watching) = watch::channel(Status::default());
    let shown = Shown { id, name: path.to_string(), incoming: false };
    let progress = tokio::spawn(report(shown.clone(), watching, desk.events.clone()));
    let done = send(&desk.hub, reg, &source, &status).await;
    progress.abort();
    resumed(&path.to_string(), &status);
    match done {
        Ok(_) => {
            println!("sent: {path} {} bytes blake3 {}", source.size, hex(&source.hash));
            shown.end(&desk.events, Ok("sent".into()));
        }
        Err(e) => {
            println!("send failed: {path}: {e}");
            shown.end(&desk.events, Err(e.to_string()));
        }
    }
}

/// A transfer as the window lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// The transfer, for Cancel.
    pub id: TransferId,
    /// The file.
    pub name: String,
    /// To the customer, not from them.
    pub incoming: bool,
}

/// Where a transfer stands, for the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Bytes done of the size.
    Running(u64, u64),
    /// Over: where the file is, or why it failed.
    Over(Result<String, String>),
}

impl Shown {
    fn end(&self, events: &Option<mpsc::UnboundedSender<AgentEvent>>, how: Result<String, String>) {
        if let Some(tx) = events {
            let _ = tx.send(AgentEvent::Transfer(self.clone(), Progress::Over(how)));
        }
    }
}

/// Prints a transfer's progress once a second, and tells the window.
async fn report(
    shown: Shown,
    mut status: watch::Receiver<Status>,
    events: Option<mpsc::UnboundedSender<AgentEvent>>,
) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        every.tick().await;
        let s = *status.borrow_and_update();
        if let Some(tx) = &events {
            let _ = tx.send(AgentEvent::Transfer(shown.clone(), Progress::Running(s.done, s.size)));
        }
        if let Some(percent) = (s.done * 100).checked_div(s.size) {
            println!("progress: {} {percent}%", shown.name);
        }
        if status.has_changed().is_err() {
            return;
        }
    }
}

/// Says where a transfer resumed, if it did.
pub fn resumed(name: &str, status: &watch::Sender<Status>) {
    let at = status.borrow().resumed;
    if at > 0 {
        println!("resumed: {name} at {at} bytes");
    }
}

/// A hash as hex.
#[must_use]
pub fn hex(hash: &[u8]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}
