//! The storage protocol, `/nocturne/storage/1.0.0`: CBOR request-response
//! messages over libp2p streams, each bounded in size.
//!
//! A fragment never travels as one message. The owner reserves space for it
//! ([`Request::Reserve`]), writes it in order in chunks of at most
//! [`MAX_CHUNK`] bytes, each [`Request::Write`] waiting for its answer before
//! the next (that wait is the backpressure), and seals it with the BLAKE3
//! hash of the whole ([`Request::Seal`]), which the node checks against what
//! it hashed as the chunks arrived. Reads and audits fetch ranges of at most
//! [`MAX_CHUNK`] bytes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The protocol name spoken on every storage stream.
pub const PROTOCOL: &str = "/nocturne/storage/1.0.0";

/// The largest chunk a single write, read or audit carries.
pub const MAX_CHUNK: u32 = 256 * 1024;

/// The most fragment ids one [`Request::Leave`] may list.
pub const MAX_LEAVE_IDS: usize = 4096;

/// The largest request or response on the wire: a chunk and its envelope.
/// Anything longer is cut off, fails to decode, and its sender is dropped.
pub const MAX_MESSAGE: u64 = MAX_CHUNK as u64 + 16 * 1024;

/// A fragment's name on a node: 128 random bits chosen by its owner. It
/// says nothing about the file it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FragmentId(pub [u8; 16]);

impl FragmentId {
    /// A fresh random id.
    pub fn random() -> FragmentId {
        let mut bytes = [0u8; 16];
        // The OS RNG failing is not something a peer can carry on from.
        getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
        FragmentId(bytes)
    }

    /// The 32 lowercase hex digits [`fmt::Display`] writes.
    pub fn from_hex(text: &str) -> Option<FragmentId> {
        if text.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = text.get(2 * i..2 * i + 2)?;
            if !pair
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return None;
            }
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(FragmentId(bytes))
    }
}

impl fmt::Display for FragmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// What a peer asks of another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Owner → node: how much space do you offer and hold?
    Info,
    /// Owner → node: set aside `len` bytes for a new fragment. Refused with
    /// [`Refusal::Full`] if that would pass the node's `--max-storage`.
    Reserve {
        /// The new fragment.
        id: FragmentId,
        /// Its exact length.
        len: u64,
    },
    /// Owner → node: the next chunk of a reserved fragment, at the offset
    /// where the last one ended.
    Write {
        /// The fragment.
        id: FragmentId,
        /// Where this chunk starts; must equal the bytes written so far.
        offset: u64,
        /// At most [`MAX_CHUNK`] bytes.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// Owner → node: the fragment is complete; this is the BLAKE3 hash of
    /// all of it. The node keeps it only if its own hash agrees.
    Seal {
        /// The fragment.
        id: FragmentId,
        /// BLAKE3 of the whole fragment.
        hash: [u8; 32],
    },
    /// Owner → node: a range of a sealed fragment, for a download or repair.
    Read {
        /// The fragment.
        id: FragmentId,
        /// Where the range starts.
        offset: u64,
        /// At most [`MAX_CHUNK`].
        len: u32,
    },
    /// Owner → node: prove possession by sending this range; the owner checks
    /// it against the hashes it kept.
    Audit {
        /// The fragment.
        id: FragmentId,
        /// Where the range starts.
        offset: u64,
        /// At most [`MAX_CHUNK`].
        len: u32,
    },
    /// Owner → node: forget the fragment.
    Delete {
        /// The fragment.
        id: FragmentId,
    },
    /// Node → owner: I am leaving; place these fragments of yours elsewhere
    /// and delete them here.
    Leave {
        /// At most [`MAX_LEAVE_IDS`] of them.
        ids: Vec<FragmentId>,
    },
}

/// A node's answer to [`Request::Info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its `--max-storage` in bytes.
    pub capacity: u64,
    /// Bytes held and reserved, for everyone.
    pub used: u64,
    /// Fragments it holds for the asking peer.
    pub fragments: u64,
    /// Whether it is leaving (it accepts no new fragments then).
    pub leaving: bool,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Done as asked.
    Done,
    /// For [`Request::Info`].
    Info(NodeInfo),
    /// For [`Request::Read`] and [`Request::Audit`]: exactly the bytes asked for.
    Data(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Not done, and why.
    Refused(Refusal),
}

/// Why a request was refused. Deliberately coarse: a peer asking about a
/// fragment that is not its own hears [`Refusal::NotFound`], exactly as if
/// it did not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    /// No such fragment for this peer.
    #[error("no such fragment")]
    NotFound,
    /// Storing it would pass the node's `--max-storage`, or it is leaving.
    #[error("no space")]
    Full,
    /// A fragment with this id exists already.
    #[error("fragment exists")]
    Exists,
    /// A write out of order, past the reserved length, or a range outside the fragment.
    #[error("bad range")]
    BadRange,
    /// The sealed hash does not match the bytes written; nothing is kept.
    #[error("hash mismatch")]
    HashMismatch,
    /// This peer does not serve this request (a node asked to leave, a
    /// tracker asked to store).
    #[error("not served here")]
    Unsupported,
    /// Too many requests from this peer, or too many at once overall.
    #[error("busy")]
    Busy,
    /// The node could not read or write its disk.
    #[error("storage error")]
    Io,
}
