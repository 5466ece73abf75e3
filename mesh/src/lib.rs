//! Nocturne's peer-to-peer side, over libp2p. It knows nothing of HTTP or SQL.
//!
//! - [`storage`]: the storage mesh. Volunteer nodes hold Reed-Solomon
//!   fragments of ciphertext for the peer that stored them (the Nocturne
//!   server, which keeps the manifests). [`storage::erasure`] splits and
//!   rebuilds stripes, [`storage::wire`] is the protocol, [`storage::FragmentStore`]
//!   a node's disk, and a cloneable [`storage::Client`] drives the
//!   [`storage::EventLoop`] that owns the `Swarm`, as in rust-libp2p's
//!   file-sharing example.
//! - [`identity`]: a peer's Ed25519 key, kept on disk (mode 0600) so a peer
//!   keeps its id across restarts.
//!
//! - [`agent`]: the agent mesh. Operators' signed records (knowledge,
//!   endorsements, certificates) over a Kademlia DHT and gossipsub, a web
//!   of trust deciding who is enrolled, a peer's record store.
//!
//! `storage` and `agent` never import each other; both use the crate's
//! shared bounds (`limits`) and [`Error`].

pub mod agent;
pub mod identity;
pub mod storage;

mod checked;
mod error;
mod limits;

pub use error::Error;
pub use libp2p::{Multiaddr, PeerId, multiaddr::Protocol};
