//! The back office, over a technician's server connection: reports on the
//! sessions they may see, notes on sessions that ended, and for admins the
//! accounts and desks. The server decides who may do what.

use tether_protocol::admin::{AdminReply, AdminRequest};
use tether_protocol::signal::{ClientToServer, ServerToClient};
use tether_transport::TransportError;

use crate::session::{ConsoleError, Technician};

impl Technician {
    /// Sends `request` and waits for its answer; a refusal for the
    /// account's role is [`ConsoleError::Refused`], a refused change is
    /// [`AdminReply::Refused`] with the reason.
    pub async fn office(&mut self, request: AdminRequest) -> Result<AdminReply, ConsoleError> {
        self.client.send(&ClientToServer::Admin(request)).await?;
        match self.client.recv().await? {
            ServerToClient::Admin(reply) => Ok(reply),
            ServerToClient::Error(e) => Err(ConsoleError::Refused(e)),
            _ => Err(TransportError::Protocol("unexpected answer to an admin request").into()),
        }
    }
}
