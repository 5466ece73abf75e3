//! The crate's one error type.

use crate::storage::wire::Refusal;

/// What can go wrong in the mesh.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing local state (identity key, fragments) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, never a secret.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The identity key file exists but does not hold a key.
    #[error("the identity key in {0} is unreadable")]
    Identity(String),
    /// A listen address or transport could not be set up.
    #[error("transport: {0}")]
    Transport(String),
    /// A peer could not be reached or the request was lost on the way.
    #[error("peer {peer}: {reason}")]
    Unreachable {
        /// The peer.
        peer: libp2p::PeerId,
        /// Why, as libp2p reported it.
        reason: String,
    },
    /// The peer answered and refused.
    #[error("peer {peer} refused: {refusal}")]
    Refused {
        /// The peer.
        peer: libp2p::PeerId,
        /// Its reason.
        refusal: Refusal,
    },
    /// The peer answered with something this request does not expect.
    #[error("peer {0} answered out of protocol")]
    Protocol(libp2p::PeerId),
    /// Erasure coding was given shards it cannot work with.
    #[error("erasure coding: {0}")]
    Coding(String),
    /// A record or request that is not acceptable (says why).
    #[error("{0}")]
    Invalid(String),
    /// Publishing this record now would make its author look like a flood
    /// (or a vote burst) to this peer's own watch, and so to peers that
    /// watch alike: it was neither kept nor sent. Honest bulk publishing
    /// paces itself by this rather than getting its operator quarantined.
    #[error(
        "more records by this operator now would look like a flood; publish again in {retry_after} s"
    )]
    Paced {
        /// Seconds until the record would fit.
        retry_after: u64,
    },
    /// The event loop has stopped.
    #[error("the mesh has stopped")]
    Stopped,
}

impl Error {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
