//! The cloneable handle on a running agent [`super::EventLoop`].

use std::collections::HashSet;

use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use super::{
    Command,
    record::{OperatorId, RecordId, Signed},
    store::Query,
    task::Task,
    view::{Awareness, Changes, QuarantineView},
    vote::Tally,
    wire,
};
use crate::Error;

/// Providers asked per query beyond the local store.
const PROVIDERS_ASKED: usize = 4;
/// Connected peers asked for the records about an entry before it is
/// tallied.
const PEERS_CAUGHT_UP_FROM: usize = 3;
/// How long a tally waits for their answers.
const CATCH_UP_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Sends commands to the event loop over a bounded channel; clone freely.
#[derive(Debug, Clone)]
pub struct Client {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) peer_id: PeerId,
}

/// The peer as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    /// This peer.
    pub peer_id: PeerId,
    /// Where it listens (with `/p2p/<id>`).
    pub listen_addrs: Vec<Multiaddr>,
    /// Connected peers.
    pub peers: Vec<PeerId>,
    /// Records in the local store.
    pub records: usize,
    /// Enrolled operators.
    pub enrolled: Vec<OperatorId>,
}

/// A found entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The record.
    pub signed: Signed,
    /// Whether its author is enrolled.
    pub author_enrolled: bool,
    /// Whether its author is quarantined (its entry is kept and marked).
    pub author_quarantined: bool,
    /// The vote on it, if anyone voted.
    pub vote: Option<Tally>,
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its id.
    pub peer: PeerId,
    /// Its addresses, as the routing table knows them.
    pub addrs: Vec<Multiaddr>,
    /// The operator that signed the peer's binding, if it sent one.
    pub operator: Option<OperatorId>,
    /// Whether that operator is enrolled.
    pub enrolled: bool,
    /// Whether that operator is quarantined.
    pub quarantined: bool,
    /// Whether it said (in identify) that it answers `About`, the request
    /// a tally catches up with; only those are asked.
    pub answers_about: bool,
}

impl Client {
    /// This peer's id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)
    }

    /// Verifies, stores, gossips and puts `record` in the DHT; returns once
    /// at least one other peer stored it (or fails saying why).
    pub async fn publish(&self, record: Signed) -> Result<RecordId, Error> {
        self.ask(|reply| Command::Publish { record, reply }).await?
    }

    /// Entries matching `query`: the local store's, and those of peers that
    /// provide the domain in the DHT (each verified, then kept locally).
    pub async fn query(&self, query: Query) -> Result<Vec<Found>, Error> {
        if let Some(domain) = &query.domain {
            let providers = self
                .ask(|reply| Command::Providers {
                    domain: domain.clone(),
                    reply,
                })
                .await?;
            let me = self.peer_id;
            let asks = providers
                .into_iter()
                .filter(|p| *p != me)
                .take(PROVIDERS_ASKED)
                .map(|peer| {
                    let request = wire::Request::Query {
                        domain: query.domain.clone(),
                        text: query.text.clone(),
                        min_confidence: query.min_confidence,
                        limit: u32::try_from(if query.limit == 0 {
                            50
                        } else {
                            query.limit.min(wire::MAX_RECORDS)
                        })
                        .unwrap_or(50),
                    };
                    async move { self.request(peer, request).await }
                });
            for answer in futures::future::join_all(asks).await {
                if let Ok(wire::Response::Records(records)) = answer {
                    let records = records.into_iter().map(|b| b.into_vec()).collect();
                    self.ask(|reply| Command::Ingest { records, reply }).await?;
                }
            }
        }
        self.ask(|reply| Command::LocalQuery { query, reply }).await
    }

    /// One record by id: from the local store, else from the DHT.
    pub async fn get(&self, id: RecordId) -> Result<Option<Found>, Error> {
        self.ask(|reply| Command::Get { id, reply }).await?
    }

    /// Sends a protocol request to a peer.
    pub async fn request(
        &self,
        peer: PeerId,
        request: wire::Request,
    ) -> Result<wire::Response, Error> {
        self.ask(|reply| Command::Request {
            peer,
            request,
            reply,
        })
        .await?
    }

    /// Whether `operator` is enrolled.
    pub async fn is_enrolled(&self, operator: OperatorId) -> Result<bool, Error> {
        Ok(self.status().await?.enrolled.contains(&operator))
    }

    /// Checks a certificate or revocation against the web of trust as this
    /// peer sees it.
    pub async fn check_certificate(&self, record: Signed) -> Result<Result<(), String>, Error> {
        self.ask(|reply| Command::CheckTrust { record, reply })
            .await
    }

    /// The peer's addresses, peers and counts.
    pub async fn status(&self) -> Result<AgentStatus, Error> {
        self.ask(|reply| Command::Status { reply }).await
    }

    /// Connected peers, their addresses and operators.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, Error> {
        self.ask(|reply| Command::Peers { reply }).await
    }

    /// The vote on an entry as this peer tallies it, once it has caught up
    /// on the entry's records from a few connected peers (`None`: the entry
    /// is held neither here nor by them).
    pub async fn tally(&self, entry: RecordId) -> Result<Option<Tally>, Error> {
        self.catch_up(entry).await?;
        self.ask(|reply| Command::Tally { entry, reply }).await
    }

    /// Asks a few connected peers (enrolled operators' first) for `id` and
    /// the records naming it (up to 256 per answer), waiting at most
    /// [`CATCH_UP_LIMIT`], and keeps what verifies. Votes are gossiped
    /// once, so a peer that was offline while they went round would
    /// otherwise never count them; a peer that answers nothing, or lies,
    /// can only leave records out, which the others make up.
    async fn catch_up(&self, id: RecordId) -> Result<(), Error> {
        let mut peers = self.peers().await?;
        peers.sort_by_key(|p| !p.enrolled || p.quarantined);
        let asks = peers
            .into_iter()
            .filter(|p| p.answers_about)
            .take(PEERS_CAUGHT_UP_FROM)
            .map(|p| self.request(p.peer, wire::Request::About { id }));
        // A peer that does not answer must not hold the tally up for the
        // request timeout: what has not come by then is left out.
        let answers = tokio::time::timeout(CATCH_UP_LIMIT, futures::future::join_all(asks))
            .await
            .unwrap_or_default();
        for answer in answers {
            if let Ok(wire::Response::Records(records)) = answer {
                let records = records.into_iter().map(|b| b.into_vec()).collect();
                self.ask(|reply| Command::Ingest { records, reply }).await?;
            }
        }
        Ok(())
    }

    /// Every task, newest first (at most 500).
    pub async fn tasks(&self) -> Result<Vec<Task>, Error> {
        self.ask(|reply| Command::Tasks { reply }).await
    }

    /// Operators quarantined or reported.
    pub async fn quarantines(&self) -> Result<Vec<QuarantineView>, Error> {
        self.ask(|reply| Command::Quarantines { reply }).await
    }

    /// The network's self-model, as this peer sees it.
    pub async fn awareness(&self) -> Result<Awareness, Error> {
        self.ask(|reply| Command::Awareness { reply }).await
    }

    /// What changed since `operator`'s last reflection entry.
    pub async fn changes(&self, operator: OperatorId) -> Result<Changes, Error> {
        self.ask(|reply| Command::Changes { operator, reply }).await
    }

    /// Peers this one has refused (bad records), for the tests and status.
    pub async fn banned(&self) -> Result<HashSet<PeerId>, Error> {
        self.ask(|reply| Command::Banned { reply }).await
    }

    /// Stops the event loop.
    pub async fn shutdown(&self) {
        self.commands.send(Command::Shutdown).await.ok();
    }
}
