//! Accounts: the rules that hold whatever front end a person or program
//! comes through. For now the lifetime of sessions and what an account
//! stores against its quota.

pub(crate) mod sessions;

use crate::Error;

/// Bytes an account holds or has reserved for uploads in progress.
pub(crate) fn used_bytes(conn: &rusqlite::Connection, account_id: i64) -> Result<u64, Error> {
    let used: i64 = conn.query_row(
        "SELECT (SELECT COALESCE(SUM(size), 0) FROM files WHERE account_id = ?1)
              + (SELECT COALESCE(SUM(size), 0) FROM uploads WHERE account_id = ?1)",
        [account_id],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(used).unwrap_or(0))
}

/// An account's quota: its own, or the server's default.
pub(crate) fn quota_of(
    conn: &rusqlite::Connection,
    account_id: i64,
    default: u64,
) -> Result<u64, Error> {
    let own: Option<i64> = conn.query_row(
        "SELECT quota FROM accounts WHERE id = ?1",
        [account_id],
        |r| r.get(0),
    )?;
    Ok(own.and_then(|q| u64::try_from(q).ok()).unwrap_or(default))
}
