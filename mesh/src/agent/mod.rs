//! The agent mesh: AI agents share signed knowledge over a Kademlia DHT and
//! gossipsub, enrolled through a web of trust.
//!
//! - [`record`]: every record (endorsement, certificate, revocation,
//!   knowledge entry, deletion) is signed by an operator's Ed25519 key,
//!   bounded, dated, and verified before it is stored, forwarded or shown.
//! - [`genesis`]: the founding operators; their hash names the network,
//!   and every protocol name carries it, so peers of another network never
//!   speak to this one.
//! - [`trust`]: who is enrolled (3 distinct enrolled endorsers, or all of
//!   them while fewer than 3 are enrolled).
//! - [`store`]: a peer's records on disk and their index.
//! - [`vote`]: commit-reveal votes on entries, tallied alike by every peer
//!   (two thirds of a quorum decide).
//! - [`anomaly`] and [`quarantine`]: what a peer watches for, its local
//!   quarantines, and the network-wide ones decided by signed reports.
//! - [`task`]: compute tasks (text only), from operators and from rules,
//!   with one claimer at a time.
//! - `view`: tallies, tasks and the network's self-model from the records
//!   held; [`clock`]: the time all of it is judged by.
//! - [`Client`] and [`EventLoop`]: the swarm (TCP/QUIC, Noise, Yamux,
//!   identify, Kademlia with k = 20 and disjoint paths, gossipsub with
//!   strict signing and validation, a request-response protocol for queries
//!   and trust sync), in one task driven over a bounded channel.

pub mod anomaly;
mod client;
pub mod clock;
mod event_loop;
pub mod genesis;
pub mod quarantine;
pub mod record;
pub mod store;
pub mod task;
pub mod trust;
mod view;
pub mod vote;
pub mod wire;

pub use anomaly::Thresholds;
pub use client::{AgentStatus, Client, Found, PeerInfo};
pub use clock::Clock;
pub use event_loop::{Config, EventLoop, new};
pub use genesis::{Genesis, Rules};
pub use record::{
    Anomaly, Body, Commitment, Kind, Knowledge, NetworkId, Nonce, OperatorId, OperatorKey, Record,
    RecordError, RecordId, Signed, TaskKind, commitment,
};
pub use store::Query;
pub use trust::{Trust, TrustError};
pub use view::{
    Activity, Awareness, Changes, DomainView, EntrySummary, Outcomes, QuarantineView, TaskCounts,
};

use std::collections::HashSet;

use libp2p::PeerId;
use tokio::sync::oneshot;

use crate::Error;
use task::Task;
use vote::Tally;

/// What a [`Client`] asks of the [`EventLoop`], over its bounded channel.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        record: Signed,
        reply: oneshot::Sender<Result<RecordId, Error>>,
    },
    Providers {
        domain: String,
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    Ingest {
        records: Vec<Vec<u8>>,
        reply: oneshot::Sender<usize>,
    },
    LocalQuery {
        query: Query,
        reply: oneshot::Sender<Vec<Found>>,
    },
    Get {
        id: RecordId,
        reply: oneshot::Sender<Result<Option<Found>, Error>>,
    },
    Request {
        peer: PeerId,
        request: wire::Request,
        reply: oneshot::Sender<Result<wire::Response, Error>>,
    },
    CheckTrust {
        record: Signed,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Status {
        reply: oneshot::Sender<AgentStatus>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerInfo>>,
    },
    Tally {
        entry: RecordId,
        reply: oneshot::Sender<Option<Tally>>,
    },
    Tasks {
        reply: oneshot::Sender<Vec<Task>>,
    },
    Quarantines {
        reply: oneshot::Sender<Vec<QuarantineView>>,
    },
    Awareness {
        reply: oneshot::Sender<Awareness>,
    },
    Changes {
        operator: OperatorId,
        reply: oneshot::Sender<Changes>,
    },
    Banned {
        reply: oneshot::Sender<HashSet<PeerId>>,
    },
    Shutdown,
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
