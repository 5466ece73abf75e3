//! Accounts: the rules that hold whatever front end a person or program
//! comes through. For now the lifetime of sessions and what an account
//! stores against its quota.

pub(crate) mod sessions;

use serde::{Deserialize, Serialize};

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

/// Argon2id parameters: an account's password cost, and a share link's.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub(crate) struct Argon2 {
    /// Memory in KiB.
    pub(crate) m_kib: u32,
    /// Passes.
    pub(crate) t: u32,
    /// Lanes.
    pub(crate) p: u32,
}

impl Argon2 {
    /// The defaults (RFC 9106's second recommendation: t=3, 64 MiB, p=4).
    pub(crate) fn default_params() -> Self {
        let d = noctis::keys::DEFAULT_ARGON2;
        Argon2 {
            m_kib: d.m_kib,
            t: d.t,
            p: d.p,
        }
    }

    /// Refuses parameters too weak to protect a password (below 19 MiB or
    /// t=1 at that memory, OWASP's floor) or too heavy for a browser.
    pub(crate) fn check(self) -> Result<Self, Error> {
        let max = noctis::keys::MAX_ARGON2;
        let ok = (19 * 1024..=max.m_kib).contains(&self.m_kib)
            && (1..=max.t).contains(&self.t)
            && (1..=max.p).contains(&self.p)
            && (self.t >= 2 || self.m_kib >= 46 * 1024);
        if ok {
            Ok(self)
        } else {
            Err(Error::invalid(
                "weak_argon2",
                format!(
                    "Argon2id parameters must be between 19 MiB and {} MiB of memory, \
                     1 to {} passes (2 or more below 46 MiB) and 1 to {} lanes",
                    max.m_kib / 1024,
                    max.t,
                    max.p
                ),
            ))
        }
    }
}
