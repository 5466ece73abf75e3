//! Share links, the rules that outlive a request: lapsed download claims
//! settled into the link's count, spent links purged, and the table of
//! share downloads in flight. The HTTP handlers (`http::shares`) and the
//! maintenance sweep call these; the link protocol itself is described in
//! `docs/accounts.md` ("Share links").

pub(crate) mod links;
pub(crate) mod owner;
pub(crate) mod public;

use rusqlite::Connection;

use crate::Error;

/// Spent, expired and revoked links are purged this long after (seconds).
pub(crate) const PURGE_AFTER: i64 = 30 * 24 * 60 * 60;

/// Lapsed claims: those that sent ciphertext count as downloads (see the
/// module documentation), the rest just go. `share` limits it to one link.
pub(crate) fn settle_claims(conn: &Connection, share: Option<&str>, now: i64) -> Result<(), Error> {
    // A completed claim was counted when it completed.
    conn.execute(
        "UPDATE shares SET updated_at = ?1, downloads = downloads + (
             SELECT COUNT(*) FROM share_claims c
             WHERE c.share_id = shares.id AND c.expires_at <= ?1 AND c.served > 0
               AND c.completed = 0)
         WHERE (?2 IS NULL OR id = ?2)
           AND EXISTS (SELECT 1 FROM share_claims c
                       WHERE c.share_id = shares.id AND c.expires_at <= ?1
                         AND c.served > 0 AND c.completed = 0)",
        rusqlite::params![now, share],
    )?;
    conn.execute(
        "DELETE FROM share_claims WHERE expires_at <= ?1 AND (?2 IS NULL OR share_id = ?2)",
        rusqlite::params![now, share],
    )?;
    Ok(())
}

/// Drops links spent, expired or revoked more than [`PURGE_AFTER`] ago.
pub(crate) fn purge(conn: &Connection, now: i64) -> Result<usize, Error> {
    let before = now - PURGE_AFTER;
    Ok(conn.execute(
        "DELETE FROM shares WHERE revoked_at <= ?1 OR expires_at <= ?1
            OR (max_downloads IS NOT NULL AND downloads >= max_downloads AND updated_at <= ?1)",
        [before],
    )?)
}

/// The streams running for each (claim, file): a new request for the same
/// file supersedes the one before, which stops at its next piece, so one
/// claim never feeds two parallel copies of a file. Holds only streams in
/// flight (each removes itself when it ends), so it is bounded by the
/// connection limit.
#[derive(Debug, Default)]
pub(crate) struct Streams(std::sync::Mutex<StreamTable>);

/// Per (claim, file): the newest stream's number, and the link it is of.
type StreamTable = std::collections::HashMap<([u8; 32], i64), (u64, String)>;

impl Streams {
    fn table(&self) -> std::sync::MutexGuard<'_, StreamTable> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new stream for `(claim, index)` of link `share`;
    /// returns its number.
    pub(crate) fn begin(&self, claim: [u8; 32], index: i64, share: &str) -> u64 {
        let mut table = self.table();
        let entry = table
            .entry((claim, index))
            .or_insert_with(|| (0, share.to_owned()));
        entry.0 += 1;
        entry.0
    }

    /// Whether the stream may send its next piece: the newest for its
    /// (claim, file), and its link not stopped since.
    pub(crate) fn is_current(&self, claim: [u8; 32], index: i64, stream: u64) -> bool {
        self.table().get(&(claim, index)).map(|e| e.0) == Some(stream)
    }

    pub(crate) fn end(&self, claim: [u8; 32], index: i64, stream: u64) {
        let mut table = self.table();
        if table.get(&(claim, index)).map(|e| e.0) == Some(stream) {
            table.remove(&(claim, index));
        }
    }

    /// Stops every stream of link `share` at its next piece (a revoke, a
    /// new expiry).
    pub(crate) fn stop_share(&self, share: &str) {
        self.table().retain(|_, (_, s)| s != share);
    }
}
