//! The cloneable handle on a running [`super::EventLoop`].

use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use super::{Command, FragmentId, NodeInfo, Request, Response};
use crate::Error;

/// Sends commands to the event loop over a bounded channel; clone freely.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) peer_id: PeerId,
}

/// The swarm as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmStatus {
    /// This peer.
    pub peer_id: PeerId,
    /// Where it listens (with `/p2p/<id>` appended).
    pub listen_addrs: Vec<Multiaddr>,
    /// Peers with an open connection.
    pub connected: Vec<PeerId>,
    /// Connected peers known to be storage nodes (their identify agent or a
    /// Kademlia provider record says so).
    pub nodes: Vec<PeerId>,
}

impl Client {
    /// This peer's id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Sends `request` to `peer` and waits for its answer (bounded by the
    /// protocol's request timeout).
    pub async fn request(&self, peer: PeerId, request: Request) -> Result<Response, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Request {
                peer,
                request,
                reply,
            })
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)?
    }

    /// A request whose only good answer is [`Response::Done`].
    pub async fn done(&self, peer: PeerId, request: Request) -> Result<(), Error> {
        match self.request(peer, request).await? {
            Response::Done => Ok(()),
            Response::Refused(refusal) => Err(Error::Refused { peer, refusal }),
            _ => Err(Error::Protocol(peer)),
        }
    }

    /// A node's space and the fragments it holds for us.
    pub async fn info(&self, peer: PeerId) -> Result<NodeInfo, Error> {
        match self.request(peer, Request::Info).await? {
            Response::Info(info) => Ok(info),
            Response::Refused(refusal) => Err(Error::Refused { peer, refusal }),
            _ => Err(Error::Protocol(peer)),
        }
    }

    /// Reads (`audit == false`) or audits a range of a fragment; the answer
    /// must be exactly `len` bytes.
    pub async fn read(
        &self,
        peer: PeerId,
        id: FragmentId,
        offset: u64,
        len: u32,
        audit: bool,
    ) -> Result<Vec<u8>, Error> {
        let request = if audit {
            Request::Audit { id, offset, len }
        } else {
            Request::Read { id, offset, len }
        };
        match self.request(peer, request).await? {
            Response::Data(data) if data.len() == len as usize => Ok(data),
            Response::Refused(refusal) => Err(Error::Refused { peer, refusal }),
            _ => Err(Error::Protocol(peer)),
        }
    }

    /// The swarm's addresses and peers.
    pub async fn status(&self) -> Result<SwarmStatus, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Status { reply })
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)
    }

    /// Stops the event loop (connections close).
    pub async fn shutdown(&self) {
        self.commands.send(Command::Shutdown).await.ok();
    }
}
