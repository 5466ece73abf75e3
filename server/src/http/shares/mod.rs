//! Share links: the owner's side under `/api/shares` (create, list, change
//! expiry or password, unlock, revoke) and the public side under
//! `/api/s/{id}`, reached with no account by whoever holds the link.
//!
//! The server never sees the link's secret or password. The owner's browser
//! sends a random seed and salt, the Argon2id cost (when there is a
//! password), each file's data key wrapped under the link key, and the
//! access token derived beside that key (`noctis::share`); the server keeps
//! a hash of the token. An opener presents the token; only then does the
//! server release the wrapped keys and metadata (`open`) or a download
//! claim (`claim`).
//!
//! Every download goes through a claim: a random bearer value, valid while
//! its holder keeps streaming and for [`CLAIM_GRACE`] after (never more
//! than [`CLAIM_LIFETIME`] in all). Claims are created on the database
//! thread, which runs one job at a time, so "completed downloads + claims
//! in progress ≤ max downloads" holds however many requests race: of twenty
//! concurrent claims on a one-time link exactly one succeeds.
//!
//! A claim completes when every shared file has been streamed to its last
//! byte; the final piece of a stream is held back until the database has
//! counted the download, and a stream whose claim is gone (revoked, lapsed,
//! completed by another stream) or which a newer request for the same file
//! superseded stops before its end. After completion the claim lives on for
//! its grace period only to re-send the last [`COMPLETED_TAIL`] bytes of a
//! file (all of a smaller one), which a connection breaking at the very end
//! may have lost: once per file, and without extending the grace. A claim
//! that lapses after some ciphertext was sent also counts as a download
//! (otherwise stopping one byte short, waiting out the grace and claiming
//! again would read a one-time link many times); one that lapses before any
//! byte was sent frees its place.
//!
//! Guessing is slowed per client and per link: after three wrong attempts
//! each next one waits twice as long ([`limits::growing_delay`], up to five
//! minutes), on top of a per-client token bucket, and after [`LOCK_AFTER`](crate::shares::links::LOCK_AFTER)
//! the link locks until its owner unlocks it. A wrong password never uses a
//! link up.

mod owner;
mod public;
mod stream;

pub(crate) use owner::{
    __path_create_share, __path_list_shares, __path_revoke_share, __path_update_share,
    create_share, list_shares, revoke_share, update_share,
};
pub(crate) use public::{
    __path_claim_share, __path_open_share, __path_share_content, __path_share_info, claim_share,
    open_share, share_content, share_info,
};

/// The tag the API uses for these routes in the OpenAPI document.
pub(crate) const TAG: &str = "shares";
