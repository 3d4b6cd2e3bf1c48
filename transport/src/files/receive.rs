//! The receiving end of a transfer: accept from the first chunk still
//! needed, check and write each chunk as it comes, ask again for any that
//! fails its hash, confirm progress so the sender's window moves, and
//! checkpoint so a broken transfer resumes. A full disk removes the partial
//! file and tells the sender why.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tether_protocol::channel::files::{CancelReason, Offer, Transfer};
use tether_protocol::files::ChunkError;
use tokio::sync::watch;
use tracing::{info, warn};

use super::disk::{DiskError, Partial, free_name};
use super::{FileError, Hub, Registration, STREAM_WAIT, Status};

/// Chunks between `Verified` messages (1 MiB).
const ACK_EVERY: u64 = 4;
/// Corrupt chunks tolerated before giving up on a sender.
const MAX_CORRUPT: u32 = 16;

async fn on_disk<T: Send + 'static>(
    mut partial: Partial,
    f: impl FnOnce(&mut Partial) -> T + Send + 'static,
) -> Result<(Partial, T), FileError> {
    tokio::task::spawn_blocking(move || {
        let out = f(&mut partial);
        (partial, out)
    })
    .await
    .map_err(|_| FileError::Protocol("the disk task failed"))
}

/// What the sender is told about a disk error: no paths, nothing private.
fn reason(e: &DiskError) -> CancelReason {
    match e {
        DiskError::Full => CancelReason::DiskFull,
        DiskError::NotAFolder(_) => CancelReason::Failed("the destination folder is not there".into()),
        DiskError::HashMismatch => {
            CancelReason::Failed("the file arrived but did not match its hash; it was removed".into())
        }
        DiskError::Chunk(ChunkError::TooLarge) => {
            CancelReason::Failed("the file is larger than 1 TiB".into())
        }
        DiskError::Chunk(ChunkError::Corrupt(_)) => {
            CancelReason::Failed("too many chunks arrived corrupt; the file was removed".into())
        }
        DiskError::Chunk(_) => CancelReason::Failed("a chunk did not fit the file".into()),
        DiskError::Busy => CancelReason::Failed("the same file is already arriving in that folder".into()),
        DiskError::NoFreeName(_) | DiskError::Io { .. } => {
            CancelReason::Failed("the receiver could not write the file".into())
        }
    }
}

/// Receives the file `offer` describes into `dir`, resuming a partial
/// file left there by an earlier attempt. Returns where the file is.
pub async fn receive<Out: Serialize + From<Transfer> + Send + 'static>(
    hub: &Hub<Out>,
    mut reg: Registration,
    offer: &Offer,
    dir: &Path,
    status: &watch::Sender<Status>,
) -> Result<PathBuf, FileError> {
    let id = offer.id;
    let (d, size, hash) = (dir.to_path_buf(), offer.size, offer.hash);
    let opened = tokio::task::spawn_blocking(move || Partial::open(&d, size, &hash))
        .await
        .map_err(|_| FileError::Protocol("the disk task failed"))?;
    let partial = match opened {
        Ok(p) => p,
        Err(e) => {
            let _ = hub.say(Transfer::Cancel { id, reason: reason(&e) }).await;
            return Err(e.into());
        }
    };
    let from = partial.resume_from();
    let chunks = partial.progress().chunks();
    if partial.resumed() > 0 {
        info!(id, from, chunks, "resuming a transfer from its last checkpoint");
    }
    let name = match free_name(dir, &offer.name) {
        Ok(n) => n,
        Err(e) => {
            let _ = hub.say(Transfer::Cancel { id, reason: reason(&e) }).await;
            let _ = tokio::task::spawn_blocking(move || partial.discard()).await;
            return Err(e.into());
        }
    };
    status.send_replace(Status {
        done: partial.progress().verified_bytes(),
        size,
        resumed: partial.progress().verified_bytes(),
    });
    hub.say(Transfer::Accept { id, from, name }).await?;
    let partial = match pull(hub, &mut reg, partial, status).await {
        Ok(p) => p,
        Err((p, e)) => {
            let keep = matches!(e, FileError::ConnectionLost | FileError::Transport(_));
            let tell = match &e {
                FileError::Disk(d) => Some(reason(d)),
                FileError::Protocol(_) => Some(CancelReason::Failed("the transfer broke off".into())),
                _ => None,
            };
            if let Some(reason) = tell {
                let _ = hub.say(Transfer::Cancel { id, reason }).await;
            }
            if let Some(p) = p {
                if keep {
                    // What arrived stays for the next attempt.
                    let _ = on_disk(p, Partial::checkpoint).await;
                } else {
                    let _ = tokio::task::spawn_blocking(move || p.discard()).await;
                }
            }
            return Err(e);
        }
    };
    let final_name = offer.name.clone();
    let done = tokio::task::spawn_blocking(move || partial.finish(&final_name))
        .await
        .map_err(|_| FileError::Protocol("the disk task failed"))?;
    match done {
        Ok(path) => {
            status.send_modify(|s| s.done = size);
            hub.say(Transfer::Complete { id }).await?;
            Ok(path)
        }
        Err(e) => {
            let _ = hub.say(Transfer::Cancel { id, reason: reason(&e) }).await;
            Err(e.into())
        }
    }
}

type Failed = (Option<Partial>, FileError);

/// Takes chunks until the file is complete.
async fn pull<Out: Serialize + From<Transfer> + Send + 'static>(
    hub: &Hub<Out>,
    reg: &mut Registration,
    mut partial: Partial,
    status: &watch::Sender<Status>,
) -> Result<Partial, Failed> {
    let id = reg.id();
    if partial.progress().is_complete() {
        return Ok(partial);
    }
    let Some(waiting) = reg.stream.take() else {
        return Err((Some(partial), FileError::Protocol("no data stream")));
    };
    // A cancel from either side may come before the stream does.
    let mut stream = tokio::select! {
        s = tokio::time::timeout(STREAM_WAIT, waiting) => match s {
            Ok(Ok(s)) => s,
            Ok(Err(_)) => return Err((Some(partial), FileError::ConnectionLost)),
            Err(_) => return Err((Some(partial), FileError::Protocol("the sender never started"))),
        },
        m = reg.next() => match m {
            Ok(Transfer::Cancel { reason, .. }) => return Err((Some(partial), FileError::Cancelled(reason))),
            Ok(_) => return Err((Some(partial), FileError::Protocol("an unexpected transfer message"))),
            Err(e) => return Err((Some(partial), e)),
        },
    };
    let (mut acked, mut corrupt) = (partial.resume_from(), 0);
    while !partial.progress().is_complete() {
        let chunk = tokio::select! {
            c = stream.recv() => match c {
                Ok(Some(c)) => c,
                Ok(None) => return Err((Some(partial), FileError::ConnectionLost)),
                Err(e) => return Err((Some(partial), e.into())),
            },
            m = reg.next() => match m {
                Ok(Transfer::Cancel { reason, .. }) => return Err((Some(partial), FileError::Cancelled(reason))),
                Ok(_) => return Err((Some(partial), FileError::Protocol("an unexpected transfer message"))),
                Err(e) => return Err((Some(partial), e)),
            },
        };
        let index = chunk.index;
        let (p, written) = on_disk(partial, move |p| {
            p.write(chunk.index, &chunk.data, &chunk.hash)?;
            if p.checkpoint_due() { p.checkpoint() } else { Ok(()) }
        })
        .await
        .map_err(|e| (None, e))?;
        partial = p;
        match written {
            Ok(()) => {
                // Acknowledge by how far the verified prefix moved, so a
                // resent chunk that fills a gap is always reported.
                let through = partial.resume_from();
                if through >= acked + ACK_EVERY || partial.progress().is_complete() {
                    acked = through;
                    let done = partial.progress().verified_bytes();
                    status.send_modify(|s| s.done = done);
                    if let Err(e) = hub.say(Transfer::Verified { id, through }).await {
                        return Err((Some(partial), e.into()));
                    }
                }
            }
            Err(DiskError::Chunk(ChunkError::Corrupt(_))) if corrupt < MAX_CORRUPT => {
                corrupt += 1;
                warn!(index, "a chunk failed its hash; asking for it again");
                if let Err(e) = hub.say(Transfer::Resend { id, chunk: index }).await {
                    return Err((Some(partial), e.into()));
                }
            }
            Err(e) => return Err((Some(partial), e.into())),
        }
    }
    Ok(partial)
}
