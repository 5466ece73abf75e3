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
//! The agent mesh (Kademlia records, web-of-trust enrollment, commit-reveal
//! votes) will live beside `storage` in `agent`, and the two never import
//! each other.

pub mod identity;
pub mod storage;

mod error;

pub use error::Error;
pub use libp2p::{Multiaddr, PeerId, multiaddr::Protocol};
