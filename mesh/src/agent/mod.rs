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
//! - [`Client`] and [`EventLoop`]: the swarm (TCP/QUIC, Noise, Yamux,
//!   identify, Kademlia with k = 20 and disjoint paths, gossipsub with
//!   strict signing and validation, a request-response protocol for queries
//!   and trust sync), in one task driven over a bounded channel.

mod client;
mod event_loop;
pub mod genesis;
pub mod record;
pub mod store;
pub mod trust;
pub mod wire;

pub use client::{AgentStatus, Client, Found};
pub use event_loop::{Config, EventLoop, new};
pub use genesis::Genesis;
pub use record::{
    Body, Kind, Knowledge, NetworkId, OperatorId, OperatorKey, Record, RecordError, RecordId,
    Signed,
};
pub use store::Query;
pub use trust::{Trust, TrustError};

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
