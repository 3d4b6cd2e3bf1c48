//! Runs a parsed script against a live session, logging each command.

use std::time::{Duration, Instant};

use tether_protocol::channel::input::{Action, ConsoleToAgent};

use tether_transport::files::{FileError, Status};
use tokio::sync::watch;

use crate::files::Moved;
use tether_protocol::channel::clipboard::Clip;
use tether_protocol::files::RelPath;
use tether_transport::files::Meter;

use crate::script::Command;
use crate::session::{ConsoleError, LiveSession};
use crate::snapshot::{SnapshotError, write_png};

/// Longest a `wait-control`, `wait-idle` or first-frame wait may take.
pub const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// Why a script stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScriptRunError {
    /// The session failed.
    #[error(transparent)]
    Session(#[from] ConsoleError),
    /// A snapshot failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// An expectation did not hold.
    #[error("expected {0}")]
    Expectation(String),
    /// A file transfer failed.
    #[error(transparent)]
    File(#[from] tether_transport::files::FileError),
}

/// Whether the script ended the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptEnd {
    /// The script said `end`.
    Ended,
    /// The script ran out of commands.
    Finished,
}

async fn wait_until(
    limit: Duration,
    what: &str,
    mut ready: impl FnMut() -> bool,
) -> Result<(), ScriptRunError> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > limit {
            return Err(ScriptRunError::Expectation(format!("{what} within {} s", limit.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Sends a file and says so, with the rate.
async fn send(
    session: &LiveSession,
    local: std::path::PathBuf,
    folder: RelPath,
) -> Result<(), ScriptRunError> {
    send_owned(session, local, folder).await
}

fn send_owned(
    session: &LiveSession,
    local: std::path::PathBuf,
    folder: RelPath,
) -> impl Future<Output = Result<(), ScriptRunError>> + Send + 'static {
    let files = std::sync::Arc::clone(&session.files);
    async move {
        let name = local.display().to_string();
        let moved =
            with_progress(
                &name,
                |s| async move { files.send(files.next_id(), &local, Some(folder), &s).await },
            )
            .await?;
        println!(
            "sent: {name} as {} {} bytes blake3 {} in {:.1} s ({:.1} Mbit/s)",
            moved.at,
            moved.size,
            moved.hash,
            moved.seconds,
            moved.mbit_per_s()
        );
        Ok(())
    }
}

/// Runs one transfer, printing its progress once a second and where it
/// resumed, if it did.
async fn with_progress<F, Fut>(name: &str, transfer: F) -> Result<Moved, FileError>
where
    F: FnOnce(watch::Sender<Status>) -> Fut,
    Fut: Future<Output = Result<Moved, FileError>>,
{
    let (status, watching) = watch::channel(Status::default());
    let label = name.to_owned();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        let meter = Meter::default();
        loop {
            every.tick().await;
            println!("progress: {label} {}", meter.line(*watching.borrow()));
        }
    });
    let result = transfer(status).await;
    ticker.abort();
    if let Ok(m) = &result
        && m.resumed > 0
    {
        println!("resumed: {name} at {} bytes", m.resumed);
    }
    result
}

/// Runs `commands` in order.
pub async fn run(session: &mut LiveSession, commands: &[Command]) -> Result<ScriptEnd, ScriptRunError> {
    let mut background: Vec<tokio::task::JoinHandle<Result<(), ScriptRunError>>> = Vec::new();
    for cmd in commands {
        println!("script: {cmd:?}");
        if !session.is_live() {
            return Err(ConsoleError::Ended.into());
        }
        match cmd {
            Command::Move(x, y) => session.input(ConsoleToAgent::PointerMove { x: *x, y: *y }).await?,
            Command::Click(button) => {
                session.input(ConsoleToAgent::Button { button: *button, action: Action::Click }).await?
            }
            Command::Type(text) => session.input(ConsoleToAgent::Text(text.clone())).await?,
            Command::Key(combo) => {
                session.input(ConsoleToAgent::Key { combo: *combo, action: Action::Click }).await?
            }
            Command::Wait(d) => tokio::time::sleep(*d).await,
            Command::Chat(text) => session.chat(text).await?,
            Command::Note(text) => {
                let text =
                    tether_protocol::channel::clip_to(text, tether_protocol::signal::MAX_NOTE).to_owned();
                session.report(tether_protocol::signal::SessionReport::Note { text }).await;
            }
            Command::Invite => println!("invite: {}", session.invite().await?),
            Command::PassControl(expert) => session.pass_control(*expert).await?,
            Command::WaitExpert => {
                let vouched = session.vouched.subscribe();
                wait_until(WAIT_LIMIT, "an expert to be vouched for", || *vouched.borrow() > 0).await?;
            }
            Command::Send(local, folder) => send(session, local.clone(), folder.clone()).await?,
            Command::SendInBackground(local, folder) => {
                background.push(tokio::spawn(send_owned(session, local.clone(), folder.clone())));
            }
            Command::ChatCanned(n) => {
                let text =
                    n.checked_sub(1).and_then(|i| session.canned.get(i)).cloned().ok_or_else(|| {
                        ScriptRunError::Expectation(format!("a canned reply {n} on the server"))
                    })?;
                session.chat(&text).await?;
            }
            Command::Clipboard(text) => session.copy_to_customer(&Clip::Text(text.clone())).await?,
            Command::WaitClipboard(text) => {
                let view = session.view.clone();
                wait_until(WAIT_LIMIT, "the customer's clipboard", || {
                    let v = view.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    matches!(&v.clipboard.0, Some(Clip::Text(t)) if t == text)
                })
                .await?;
            }
            Command::WaitTransfers => {
                for t in background.drain(..) {
                    t.await.map_err(|_| ScriptRunError::Expectation("a transfer to finish".into()))??;
                }
            }
            Command::Fetch(remote, dir) => {
                let name = remote.to_string();
                let files = std::sync::Arc::clone(&session.files);
                let moved = with_progress(&name, |s| async move {
                    files.fetch(files.next_id(), remote.clone(), dir, &s).await
                })
                .await?;
                println!("fetched: {name} to {} {} bytes blake3 {}", moved.at, moved.size, moved.hash);
            }
            Command::List(path) => {
                let shown = path.as_ref().map_or_else(|| "shared folders".to_owned(), ToString::to_string);
                let entries = session.files.list(path.clone()).await?;
                println!("ls: {shown}: {} entries", entries.len());
                for e in entries {
                    if e.folder {
                        println!("ls: {}/", e.name);
                    } else {
                        println!("ls: {} {}", e.name, e.size);
                    }
                }
            }
            Command::Lossy(allowed) => session.allow_lossy(*allowed).await?,
            Command::WaitControl => {
                let consent = session.consent.clone();
                wait_until(WAIT_LIMIT, "control to be granted", || consent.borrow().control).await?;
            }
            Command::WaitIdle(still) => {
                let view = session.view.clone();
                wait_until(WAIT_LIMIT, "the screen to settle", || {
                    view.lock().unwrap_or_else(std::sync::PoisonError::into_inner).settled(*still)
                })
                .await?;
            }
            Command::Snapshot(path) => {
                let view = session.view.clone();
                wait_until(WAIT_LIMIT, "a first frame", || {
                    view.lock().unwrap_or_else(std::sync::PoisonError::into_inner).frames > 0
                })
                .await?;
                let v = view.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some((w, h, rgba)) = v.decoder.framebuffer() {
                    write_png(path, w, h, rgba)?;
                    println!("snapshot: {}", path.display());
                }
            }
            Command::WaitFrame => {
                let view = session.view.clone();
                let first =
                    move || view.lock().unwrap_or_else(std::sync::PoisonError::into_inner).first_frame;
                wait_until(WAIT_LIMIT, "a first frame", || first().is_some()).await?;
                let at =
                    first().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
                println!("first frame: {:.1}", at.as_secs_f64() * 1000.0);
            }
            Command::WaitCursor(x, y) => {
                let view = session.view.clone();
                let pointer =
                    move || view.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pointer.clone();
                wait_until(WAIT_LIMIT, "the customer's pointer", || {
                    let p = pointer();
                    p.at == Some((*x, *y)) && p.shape.is_some()
                })
                .await?;
                let shape = pointer().shape.map(|s| (s.width, s.height)).unwrap_or_default();
                println!("cursor: {x} {y} shape {}x{}", shape.0, shape.1);
            }
            Command::Monitor(wanted) => {
                let view = session.view.clone();
                let monitors =
                    move || view.lock().unwrap_or_else(std::sync::PoisonError::into_inner).monitors.clone();
                wait_until(WAIT_LIMIT, "the customer's monitors", || !monitors().0.is_empty()).await?;
                let id = monitors()
                    .0
                    .iter()
                    .find(|m| m.name == *wanted || m.id.to_string() == *wanted)
                    .map(|m| m.id)
                    .ok_or_else(|| ScriptRunError::Expectation(format!("a monitor called {wanted}")))?;
                session.select_monitor(id).await?;
                wait_until(WAIT_LIMIT, "the monitor to be shared", || monitors().1 == id).await?;
            }
            Command::ExpectPath(want) => {
                if session.path.kind != *want {
                    return Err(ScriptRunError::Expectation(format!("path {want}, got {}", session.path)));
                }
            }
            Command::End => {
                if background.iter().any(|t| !t.is_finished()) {
                    println!("warning: ending with transfers still running; they resume next time");
                }
                return Ok(ScriptEnd::Ended);
            }
        }
    }
    Ok(ScriptEnd::Finished)
}
