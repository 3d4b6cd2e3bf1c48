//! The sending end of a transfer: the file is hashed whole before it is
//! offered, then sent in hashed chunks from where the receiver asks,
//! never more than the window ahead of what it verified, with any chunk
//! it refuses sent again.
//!
//! Fault hook for tests: [`Source::corrupt_once`] flips one bit of a chunk
//! the first time it is sent (after hashing it), so the receiver must catch
//! it and ask again. It can only spoil our own outgoing data.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tether_protocol::channel::files::{CancelReason, Chunk, Offer, Transfer, TransferId};
use tether_protocol::files::chunk::{CHUNK_BYTES, Hash, MAX_FILE_BYTES, hash};
use tether_protocol::files::{FileName, Progress, RelPath};
use tokio::sync::watch;
use tracing::{info, warn};

use super::{FileError, Hub, Registration, Status, WINDOW_CHUNKS};

/// Chunks a receiver may ask for again in one transfer.
const MAX_RESENDS: u32 = 64;

/// A file ready to offer: opened, named and hashed.
#[derive(Debug, Clone)]
pub struct Source {
    path: PathBuf,
    file: Arc<File>,
    /// Its name.
    pub name: FileName,
    /// Its size in bytes.
    pub size: u64,
    /// The BLAKE3 hash of all of it.
    pub hash: Hash,
    corrupt_once: Option<u64>,
}

impl Source {
    /// Opens and hashes `path`. Blocking: it reads the whole file.
    pub fn open(path: &Path) -> Result<Self, FileError> {
        let read = |source| FileError::Read { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(read)?;
        let meta = file.metadata().map_err(read)?;
        if !meta.is_file() {
            return Err(FileError::Unsendable(format!("{} is not a file", path.display())));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(FileError::Unsendable(format!("{} is larger than 1 TiB", path.display())));
        }
        let raw = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let name = FileName::new(raw)
            .map_err(|e| FileError::Unsendable(format!("{} cannot be sent: {e}", path.display())))?;
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(&file).map_err(read)?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Arc::new(file),
            name,
            size: meta.len(),
            hash: *hasher.finalize().as_bytes(),
            corrupt_once: None,
        })
    }

    /// The fault hook from the environment: `TETHER_FAULT_CORRUPT_CHUNK=N`
    /// spoils chunk N once. For end-to-end tests of the binaries.
    #[must_use]
    pub fn with_fault_from_env(self) -> Self {
        match std::env::var("TETHER_FAULT_CORRUPT_CHUNK").ok().and_then(|v| v.parse().ok()) {
            Some(index) => {
                warn!(index, "TETHER_FAULT_CORRUPT_CHUNK is set: one chunk will go out corrupted");
                self.corrupt_once(index)
            }
            None => self,
        }
    }

    /// Fault hook for tests: spoil chunk `index` the first time it is sent.
    #[must_use]
    pub const fn corrupt_once(mut self, index: u64) -> Self {
        self.corrupt_once = Some(index);
        self
    }

    /// The offer for transfer `id`, suggesting `folder`.
    #[must_use]
    pub fn offer(&self, id: TransferId, folder: Option<RelPath>) -> Offer {
        Offer { id, name: self.name.clone(), size: self.size, hash: self.hash, folder }
    }

    async fn chunk(&self, index: u64) -> Result<Vec<u8>, FileError> {
        let len = Progress::new(self.size)?.chunk_len(index)?;
        let (file, path) = (Arc::clone(&self.file), self.path.clone());
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; len as usize];
            file.read_exact_at(&mut buf, Progress::offset(index))
                .map(|()| buf)
                .map_err(|source| FileError::Read { path, source })
        })
        .await
        .map_err(|_| FileError::Protocol("the reading task failed"))?
    }
}

impl From<tether_protocol::files::ChunkError> for FileError {
    fn from(e: tether_protocol::files::ChunkError) -> Self {
        Self::Disk(e.into())
    }
}

/// Sends `source` once the receiver accepts, reporting progress on
/// `status`. The offer must already be out.
pub async fn send<Out: Serialize + From<Transfer> + Send + 'static>(
    hub: &Hub<Out>,
    mut reg: Registration,
    source: &Source,
    status: &watch::Sender<Status>,
) -> Result<FileName, FileError> {
    let id = reg.id();
    let chunks = Progress::new(source.size)?.chunks();
    let (from, name) = match reg.next().await? {
        Transfer::Accept { from, name, .. } => {
            info!(id, %name, from, chunks, "the receiver accepted");
            (from.min(chunks), name)
        }
        Transfer::Cancel { reason, .. } => return Err(FileError::Cancelled(reason)),
        _ => return Err(FileError::Protocol("a transfer message before the answer to an offer")),
    };
    let result = pump(hub, &mut reg, source, status, from, chunks).await;
    if let Err(e) = &result
        && !matches!(e, FileError::Cancelled(_) | FileError::ConnectionLost)
    {
        let reason = CancelReason::Failed("the sender could not go on".into());
        let _ = hub.say(Transfer::Cancel { id, reason }).await;
    }
    result.map(|()| name)
}

async fn pump<Out: Serialize + From<Transfer> + Send + 'static>(
    hub: &Hub<Out>,
    reg: &mut Registration,
    source: &Source,
    status: &watch::Sender<Status>,
    from: u64,
    chunks: u64,
) -> Result<(), FileError> {
    let mut fault = source.corrupt_once;
    let mut data = if from < chunks { Some(hub.open_data(reg.id()).await?) } else { None };
    let (mut next, mut verified) = (from, from);
    let mut resend = VecDeque::new();
    let mut resends = 0;
    let bytes = |through: u64| (through * u64::from(CHUNK_BYTES)).min(source.size);
    status.send_replace(Status { done: bytes(from), size: source.size, resumed: bytes(from) });
    loop {
        let can_send = !resend.is_empty() || (next < chunks && next - verified < WINDOW_CHUNKS);
        let msg = if can_send { reg.try_next()? } else { Some(reg.next().await?) };
        if let Some(msg) = msg {
            match msg {
                Transfer::Verified { through, .. } => {
                    // Never past what was sent: a lying receiver cannot
                    // open the window wider.
                    verified = verified.max(through.min(next));
                    status.send_modify(|s| s.done = bytes(verified));
                }
                Transfer::Resend { chunk, .. } if (verified..next).contains(&chunk) => {
                    resends += 1;
                    if resends > MAX_RESENDS {
                        return Err(FileError::Protocol("the receiver asked for too many chunks again"));
                    }
                    if !resend.contains(&chunk) {
                        warn!(chunk, "the receiver asked for a chunk again");
                        resend.push_back(chunk);
                    }
                }
                Transfer::Complete { .. } => {
                    status.send_modify(|s| s.done = source.size);
                    if let Some(d) = &mut data {
                        d.finish();
                    }
                    return Ok(());
                }
                Transfer::Cancel { reason, .. } => return Err(FileError::Cancelled(reason)),
                _ => return Err(FileError::Protocol("an unexpected transfer message")),
            }
            continue;
        }
        let index = resend.pop_front().unwrap_or_else(|| {
            next += 1;
            next - 1
        });
        let Some(stream) = data.as_mut() else {
            return Err(FileError::Protocol("a chunk was asked for after the whole file"));
        };
        let bytes = source.chunk(index).await?;
        let hash = hash(&bytes);
        let mut chunk = Chunk { index, hash, data: bytes };
        if fault == Some(index) && !chunk.data.is_empty() {
            warn!(index, "fault hook: corrupting a chunk on its way out");
            chunk.data[0] ^= 1;
            fault = None;
        }
        stream.send(&chunk).await?;
    }
}
