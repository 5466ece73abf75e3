//! The agent mesh's request-response protocol, for what gossip and the DHT
//! do not carry: asking a peer for its matching entries, the trust records
//! a newcomer needs, one record by id, or a record with everything that names
//! it. CBOR, bounded.

use serde::{Deserialize, Serialize};

use super::record::RecordId;

/// The largest request.
pub const MAX_REQUEST: u64 = 4 * 1024;
/// The largest response (records are bounded, and so is their number).
pub const MAX_RESPONSE: u64 = 4 * 1024 * 1024;
/// Records one response may carry.
pub const MAX_RECORDS: usize = 256;

/// A question to a peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Knowledge entries in `domain` (and containing `text`).
    Query {
        /// The domain, if any.
        domain: Option<String>,
        /// Words that must all appear.
        text: Option<String>,
        /// Minimum confidence.
        min_confidence: f64,
        /// At most this many (≤ [`MAX_RECORDS`]).
        limit: u32,
    },
    /// Every certificate and revocation the peer holds.
    Trust,
    /// One record.
    Get {
        /// Its id.
        id: RecordId,
    },
    /// The record `id` and every record that names it (the votes on an
    /// entry, the claims on a task), so a peer that was offline while they
    /// were gossiped can catch up.
    About {
        /// The entry or task.
        id: RecordId,
    },
}

/// The answer: records as their signed bytes (the asker verifies each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Matching records.
    Records(Vec<serde_bytes::ByteBuf>),
    /// Not answered (rate limit, bad request).
    Refused,
}
