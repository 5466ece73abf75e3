//! The storage mesh: volunteer nodes hold fragments of ciphertext for the
//! peer that stored them.
//!
//! Shape, after rust-libp2p's file-sharing example: [`new`] builds a
//! [`Client`] (cloneable, sends [`Command`]s over a bounded channel), an
//! [`EventLoop`] (owns the `Swarm`; run it on its own task) and a bounded
//! receiver of [`Event`]s for the application.
//!
//! The same loop serves both roles. A *node* (`nocturne node connect`) is
//! given a [`FragmentStore`]: it dials its tracker, keeps that connection,
//! announces itself in Kademlia as a storage provider, and answers requests
//! from the connection it made, so it needs no inbound port. An *owner* (the
//! Nocturne server, also the tracker nodes bootstrap from) has no store: it
//! places, reads, audits and deletes fragments, and hears nodes that leave.
//!
//! Bounds: connections (total and per peer), message sizes
//! ([`wire::MAX_MESSAGE`]), requests per second per peer, requests handled at
//! once, pending outbound requests, and every channel. A peer that sends an
//! oversized or malformed message, or a request its role does not serve, is
//! answered (where it can be) and dropped.

mod client;
pub mod erasure;
mod event_loop;

mod store;
pub mod wire;

pub use client::{Client, SwarmStatus};
pub use event_loop::{Config, Event, EventLoop, Limits, new};
pub use store::{FragmentStore, StoreStatus};
pub use wire::{FragmentId, NodeInfo, Refusal, Request, Response};

/// The identify agent version a storage node announces.
pub const NODE_AGENT: &str = concat!("nocturne-node/", env!("CARGO_PKG_VERSION"));

/// The identify agent version an owner (the server) announces.
pub const OWNER_AGENT: &str = concat!("nocturne-server/", env!("CARGO_PKG_VERSION"));

/// What a [`Client`] asks of the [`EventLoop`].
#[derive(Debug)]
pub(crate) enum Command {
    Request {
        peer: libp2p::PeerId,
        request: Request,
        reply: tokio::sync::oneshot::Sender<Result<Response, crate::Error>>,
    },
    Respond {
        peer: libp2p::PeerId,
        channel: libp2p::request_response::ResponseChannel<Response>,
        response: Response,
    },
    Status {
        reply: tokio::sync::oneshot::Sender<SwarmStatus>,
    },
    Shutdown,
}
