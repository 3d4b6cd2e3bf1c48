//! The server connection while a session runs: the record's facts go out
//! in order, other requests (invites) beside them, and what the server
//! says comes back to whoever waits for it (`incoming`). After the `Ended`
//! report, always the last, the connection is closed politely.

use tether_protocol::signal::{ClientToServer, ServerToClient, SessionReport};
use tether_transport::signal_client::SignalClient;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// The session's ends of its server connection.
#[derive(Debug)]
pub(crate) struct ServerLink {
    /// Facts for the session record.
    pub reports: mpsc::UnboundedSender<SessionReport>,
    /// Other requests.
    pub requests: mpsc::UnboundedSender<ClientToServer>,
    /// What the server sent (answers, invites, relayed signals).
    pub incoming: std::sync::Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<ServerToClient>>>,
    /// Finishes once `Ended` was delivered and the connection closed.
    pub done: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Runs `client` for a session; `record` is false for an expert, whose
/// console keeps no record on the server (the owner's does).
pub(crate) fn start(client: SignalClient, record: bool) -> ServerLink {
    let (reports, mut report_rx) = mpsc::unbounded_channel();
    let (requests, mut request_rx) = mpsc::unbounded_channel::<ClientToServer>();
    let (incoming_tx, incoming) = mpsc::unbounded_channel();
    let (mut sender, mut receiver, handle) = client.split();
    // Reading on a task of its own: a frame is never cut by a select.
    let reader = tokio::spawn(async move {
        while let Ok(msg) = receiver.recv().await {
            if incoming_tx.send(msg).is_err() {
                return;
            }
        }
    });
    let done = tokio::spawn(async move {
        let mut requests_open = true;
        loop {
            let msg = tokio::select! {
                r = report_rx.recv() => match r {
                    Some(r) if record => {
                        let last = matches!(r, SessionReport::Ended { .. });
                        if let Err(e) = sender.send(&ClientToServer::Report(r)).await {
                            warn!("could not report to the server: {e}");
                        }
                        if last {
                            break;
                        }
                        continue;
                    }
                    Some(SessionReport::Ended { .. }) | None => break,
                    Some(_) => continue,
                },
                r = request_rx.recv(), if requests_open => match r {
                    Some(msg) => msg,
                    None => {
                        requests_open = false;
                        continue;
                    }
                },
            };
            if let Err(e) = sender.send(&msg).await {
                debug!("could not send to the server: {e}");
            }
        }
        reader.abort();
        handle.close(sender).await;
    });
    let done = std::sync::Mutex::new(Some(done));
    ServerLink { reports, requests, incoming: std::sync::Arc::new(tokio::sync::Mutex::new(incoming)), done }
}
