//! A file being received, on disk: the bytes go to a hidden partial file in
//! the destination folder, named by the file's hash, with a small state file
//! beside it recording how many chunks are durable. A broken transfer (a
//! dropped link, a killed program) resumes from there. At the end the whole
//! file is hashed again, synced, and renamed to a name no existing file has,
//! and the folder is synced so the rename survives a crash.
//!
//! Everything here blocks; callers run it off the async threads.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tether_protocol::files::chunk::Hash;
use tether_protocol::files::{ChunkError, FileName, Progress};

/// Why the disk side of a transfer failed. Messages are for people.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// No space (or quota) left; the partial file was removed.
    #[error("the disk is full")]
    Full,
    /// The destination is missing or not a folder.
    #[error("{0} is not a folder")]
    NotAFolder(PathBuf),
    /// A chunk failed its checks.
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    /// The finished file does not hash to what the sender promised.
    #[error("the received file does not match the sender's hash; it was removed")]
    HashMismatch,
    /// No free name was found for the file.
    #[error("too many files called {0} already")]
    NoFreeName(String),
    /// The same file is already arriving in that folder.
    #[error("this file is already arriving in that folder")]
    Busy,
    /// Another file-system error.
    #[error("could not {what} {path}: {source}")]
    Io {
        /// What we were doing.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DiskError {
    let path = path.to_path_buf();
    move |source| {
        if is_full(&source) { DiskError::Full } else { DiskError::Io { what, path, source } }
    }
}

fn is_full(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge)
}

/// Checkpoints are taken this often (in chunks): 16 MiB.
pub const CHECKPOINT_CHUNKS: u64 = 64;
const STATE_VERSION: u8 = 1;

/// What the state file records.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct State {
    version: u8,
    size: u64,
    hash: Hash,
    /// Chunks `0..durable` are written, verified and synced.
    durable: u64,
}

/// Partial files some transfer of this process is writing.
fn in_use() -> std::sync::MutexGuard<'static, std::collections::HashSet<PathBuf>> {
    static IN_USE: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<PathBuf>>> =
        std::sync::LazyLock::new(Default::default);
    IN_USE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Holds a partial file's name in [`in_use`] until dropped.
#[derive(Debug)]
struct Claim(PathBuf);

impl Drop for Claim {
    fn drop(&mut self) {
        in_use().remove(&self.0);
    }
}

/// A file being received.
#[derive(Debug)]
pub struct Partial {
    _claim: Claim,
    dir: PathBuf,
    data_path: PathBuf,
    state_path: PathBuf,
    file: File,
    size: u64,
    hash: Hash,
    progress: Progress,
    durable: u64,
    resumed: u64,
}

impl Partial {
    /// Opens (or resumes) the partial file for a file of `size` bytes
    /// hashing to `hash` in folder `dir`, reserving its space up front so a
    /// full disk is found before any byte is sent.
    pub fn open(dir: &Path, size: u64, hash: &Hash) -> Result<Self, DiskError> {
        if !dir.is_dir() {
            return Err(DiskError::NotAFolder(dir.to_path_buf()));
        }
        let mut progress = Progress::new(size)?;
        let stem = format!(".tether-{}", &hex::encode(hash)[..16]);
        let data_path = dir.join(format!("{stem}.part"));
        let state_path = dir.join(format!("{stem}.state"));
        // One transfer per partial file: two would write one inode, and
        // the second could change the first after it was verified.
        if !in_use().insert(data_path.clone()) {
            return Err(DiskError::Busy);
        }
        let claim = Claim(data_path.clone());
        let previous = read_state(&state_path).filter(|s| s.size == size && &s.hash == hash);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            // A link planted under the partial file's name is not followed.
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&data_path)
            .map_err(io("create", &data_path))?;
        // The state is written only after the data is synced, so it can be
        // trusted as far as it goes.
        let durable = previous.map_or(0, |s| s.durable).min(progress.chunks());
        for i in 0..durable {
            progress.mark(i)?;
        }
        let mut partial = Self {
            _claim: claim,
            dir: dir.to_path_buf(),
            data_path,
            state_path,
            file,
            size,
            hash: *hash,
            progress,
            durable,
            resumed: durable,
        };
        if let Err(e) = partial.reserve() {
            partial.discard();
            return Err(e);
        }
        Ok(partial)
    }

    fn reserve(&mut self) -> Result<(), DiskError> {
        if self.size == 0 {
            return Ok(());
        }
        match rustix::fs::fallocate(&self.file, rustix::fs::FallocateFlags::empty(), 0, self.size) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::NOSPC | rustix::io::Errno::DQUOT | rustix::io::Errno::FBIG) => {
                Err(DiskError::Full)
            }
            // Some file systems cannot reserve; writes will find a full disk.
            Err(_) => self.file.set_len(self.size.max(self.len()?)).map_err(io("extend", &self.data_path)),
        }
    }

    fn len(&self) -> Result<u64, DiskError> {
        Ok(self.file.metadata().map_err(io("read", &self.data_path))?.len())
    }

    /// The first chunk still needed (the chunk count when none is).
    #[must_use]
    pub fn resume_from(&self) -> u64 {
        self.progress.resume_from().unwrap_or(self.progress.chunks())
    }

    /// Chunks that were already on disk when this transfer started.
    #[must_use]
    pub const fn resumed(&self) -> u64 {
        self.resumed
    }

    /// The receiver's progress.
    #[must_use]
    pub const fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Checks chunk `index` against `hash` and writes it in place.
    pub fn write(&mut self, index: u64, data: &[u8], hash: &Hash) -> Result<(), DiskError> {
        self.progress.check(index, data, hash)?;
        self.file.write_all_at(data, Progress::offset(index)).map_err(io("write", &self.data_path))?;
        self.progress.mark(index)?;
        Ok(())
    }

    /// Whether a checkpoint is due (every [`CHECKPOINT_CHUNKS`]).
    #[must_use]
    pub fn checkpoint_due(&self) -> bool {
        self.resume_from() >= self.durable + CHECKPOINT_CHUNKS
    }

    /// Syncs the data, then records it as durable, so a crash after this
    /// resumes from here.
    pub fn checkpoint(&mut self) -> Result<(), DiskError> {
        let through = self.resume_from();
        if through == self.durable {
            return Ok(());
        }
        self.file.sync_data().map_err(io("sync", &self.data_path))?;
        let state = State { version: STATE_VERSION, size: self.size, hash: self.hash, durable: through };
        let tmp = self.state_path.with_extension("state-new");
        std::fs::write(&tmp, postcard::to_stdvec(&state).unwrap_or_default()).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &self.state_path).map_err(io("rename", &tmp))?;
        self.durable = through;
        Ok(())
    }

    /// Checks the whole file against the sender's hash, makes it durable,
    /// and gives it `name`, or `name (1)` and so on if that is taken.
    /// Returns where it is. A mismatch removes the partial file.
    pub fn finish(self, name: &FileName) -> Result<PathBuf, DiskError> {
        if !self.progress.is_complete() {
            return Err(DiskError::Chunk(ChunkError::OutOfRange(self.resume_from())));
        }
        let result = self.seal(name);
        if matches!(result, Err(DiskError::HashMismatch | DiskError::Full)) {
            self.discard();
        }
        result
    }

    fn seal(&self, name: &FileName) -> Result<PathBuf, DiskError> {
        self.file.set_len(self.size).map_err(io("truncate", &self.data_path))?;
        self.file.sync_all().map_err(io("sync", &self.data_path))?;
        let mut hasher = blake3::Hasher::new();
        let mut reader = File::open(&self.data_path).map_err(io("read", &self.data_path))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).map_err(io("read", &self.data_path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        if hasher.finalize().as_bytes() != &self.hash {
            return Err(DiskError::HashMismatch);
        }
        let mut target = None;
        for _ in 0..16 {
            let candidate = self.dir.join(free_name(&self.dir, name)?.as_str());
            match rename_noclobber(&self.data_path, &candidate) {
                Ok(()) => {
                    target = Some(candidate);
                    break;
                }
                // Someone took the name in between: pick the next.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io("rename", &self.data_path)(e)),
            }
        }
        let target = target.ok_or_else(|| DiskError::NoFreeName(name.to_string()))?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io("sync", &self.dir))?;
        let _ = std::fs::remove_file(&self.state_path);
        Ok(target)
    }

    /// Removes the partial file and its state.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.data_path);
        let _ = std::fs::remove_file(&self.state_path);
    }
}

fn read_state(path: &Path) -> Option<State> {
    let bytes = std::fs::read(path).ok()?;
    let state: State = tether_protocol::wire::decode(&bytes).ok()?;
    (state.version == STATE_VERSION).then_some(state)
}

fn rename_noclobber(from: &Path, to: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // File systems without RENAME_NOREPLACE: a hard link cannot
        // replace a file either.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            std::fs::hard_link(from, to)?;
            std::fs::remove_file(from)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether anything at all (a dangling link too) has this name.
fn taken(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// `name` if no file in `dir` has it, else `stem (1).ext`, `stem (2).ext` …
pub fn free_name(dir: &Path, name: &FileName) -> Result<FileName, DiskError> {
    if !taken(&dir.join(name.as_str())) {
        return Ok(name.clone());
    }
    let (stem, ext) = match name.as_str().rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name.as_str(), String::new()),
    };
    for n in 1..1000 {
        let suffix = format!(" ({n}){ext}");
        let stem = tether_protocol::channel::clip_to(stem, 255usize.saturating_sub(suffix.len()));
        if let Ok(candidate) = FileName::new(&format!("{stem}{suffix}"))
            && !taken(&dir.join(candidate.as_str()))
        {
            return Ok(candidate);
        }
    }
    Err(DiskError::NoFreeName(name.to_string()))
}

#[cfg(test)]
mod tests;
