//! The transfers a window shows: each runs as a task of its own (so input
//! and chat never wait behind a file), and the window reads their progress,
//! rate, time left and end, and can cancel them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tether_protocol::channel::files::TransferId;
use tether_protocol::files::RelPath;
use tether_transport::files::Status;
use tokio::sync::watch;

use crate::files::{Files, Moved};
use tether_transport::files::Meter;

/// How a transfer ended: where the file is, or why it failed.
pub type Outcome = Result<String, String>;

#[derive(Debug)]
struct Row {
    id: TransferId,
    name: String,
    incoming: bool,
    status: watch::Receiver<Status>,
    meter: Meter,
    outcome: Arc<Mutex<Option<Outcome>>>,
}

/// One transfer as the window draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// The transfer, for Cancel.
    pub id: TransferId,
    /// The file.
    pub name: String,
    /// From the customer, not to them.
    pub incoming: bool,
    /// 0 to 1.
    pub fraction: f32,
    /// "42% 5.1 MB/s, 12 s left", or how it ended.
    pub line: String,
    /// Whether it is over.
    pub over: bool,
}

/// Every transfer of one session.
#[derive(Debug)]
pub struct Transfers {
    files: Arc<Files>,
    rows: Vec<Row>,
}

fn local_downloads() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|d| d.download_dir().map(std::path::Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

impl Transfers {
    /// No transfers yet, on `files`.
    #[must_use]
    pub fn new(files: Arc<Files>) -> Self {
        Self { files, rows: Vec::new() }
    }

    fn start<F, Fut>(&mut self, name: String, incoming: bool, run: F)
    where
        F: FnOnce(Arc<Files>, TransferId, watch::Sender<Status>) -> Fut,
        Fut: Future<Output = Result<Moved, String>> + Send + 'static,
    {
        let id = self.files.next_id();
        let (tx, status) = watch::channel(Status::default());
        let outcome = Arc::new(Mutex::new(None));
        let done = Arc::clone(&outcome);
        let work = run(Arc::clone(&self.files), id, tx);
        tokio::spawn(async move {
            let result = work.await.map(|m| m.at);
            *done.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
        });
        let meter = Meter::default();
        self.rows.push(Row { id, name, incoming, status, meter, outcome });
    }

    /// The session's files, for listing the customer's shared folders.
    #[must_use]
    pub fn files(&self) -> Arc<Files> {
        Arc::clone(&self.files)
    }

    /// Sends the local file `path` to the customer's Downloads.
    pub fn send(&mut self, path: &str) {
        let local = PathBuf::from(path.trim());
        let name = local.file_name().map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned());
        self.start(name, false, move |files, id, status| async move {
            files.send(id, &local, None, &status).await.map_err(|e| e.to_string())
        });
    }

    /// Fetches the customer's `remote` file (a shared folder, then the
    /// path under it) into this computer's Downloads.
    pub fn fetch(&mut self, remote: &str) {
        let parsed = RelPath::parse(remote.trim()).map_err(|e| e.to_string());
        self.start(remote.trim().to_owned(), true, move |files, id, status| async move {
            files.fetch(id, parsed?, &local_downloads(), &status).await.map_err(|e| e.to_string())
        });
    }

    /// Stops transfer `id`.
    pub fn cancel(&self, id: TransferId) {
        let files = Arc::clone(&self.files);
        tokio::spawn(async move {
            let _ = files.cancel(id).await;
        });
    }

    /// What the window shows, oldest first.
    #[must_use]
    pub fn shown(&self) -> Vec<Shown> {
        self.rows
            .iter()
            .map(|r| {
                let status = *r.status.borrow();
                let outcome = r.outcome.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                let fraction = if status.size == 0 { 0.0 } else { status.done as f32 / status.size as f32 };
                let (line, over, fraction) = match outcome {
                    None => (r.meter.line(status), false, fraction),
                    Some(Ok(at)) => (format!("done: {at}"), true, 1.0),
                    Some(Err(why)) => (format!("failed: {why}"), true, fraction),
                };
                Shown { id: r.id, name: r.name.clone(), incoming: r.incoming, fraction, line, over }
            })
            .collect()
    }
}
