//! Accounts: the rules that hold whatever front end a person or program
//! comes through. For now the lifetime of sessions and what an account
//! stores against its quota.

pub(crate) mod invites;
pub(crate) mod sessions;

use serde::{Deserialize, Serialize};

use rusqlite::OptionalExtension;

use crate::{Error, config::Registration, db, db::Db};

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

/// A new account as the front end checked it: bounded sizes, hashes of the
/// auth key and the recovery token (never the values), wrapped keys.
#[derive(Debug)]
pub(crate) struct NewAccount {
    pub(crate) username: String,
    pub(crate) salt: Vec<u8>,
    pub(crate) argon2: Argon2,
    pub(crate) auth_hash: [u8; 32],
    pub(crate) master_by_password: Vec<u8>,
    pub(crate) master_by_recovery: Vec<u8>,
    pub(crate) recovery_hash: [u8; 32],
    /// The hash of the invite code presented, if any.
    pub(crate) invite: Option<[u8; 32]>,
}

/// Creates an account under `policy`; returns whether it is the first one
/// (which becomes the administrator and needs no invite). An invite is
/// used up in the same transaction that creates the account.
pub(crate) async fn register(
    db: &Db,
    account: NewAccount,
    policy: Registration,
) -> Result<bool, Error> {
    let NewAccount {
        username: name,
        salt,
        argon2,
        auth_hash,
        master_by_password: by_password,
        master_by_recovery: by_recovery,
        recovery_hash,
        invite,
    } = account;
    db.call(move |conn| {
        let tx = conn.transaction()?;
        let now = db::now();
        let first = tx.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get::<_, i64>(0))? == 0;
        if !first {
            match policy {
                Registration::Open => {}
                Registration::Closed => {
                    return Err(Error::Forbidden {
                        code: "registration_closed",
                        message: "This server does not take new accounts.",
                    });
                }
                Registration::Invite => {
                    let used = match invite {
                        Some(hash) => tx.execute(
                            "DELETE FROM invites WHERE code_hash = ?1 AND expires_at > ?2",
                            rusqlite::params![&hash[..], now],
                        )?,
                        None => 0,
                    };
                    if used == 0 {
                        return Err(Error::Forbidden {
                            code: "invite_required",
                            message: "A valid invite code from an administrator is needed.",
                        });
                    }
                }
            }
        }
        let taken = tx
            .query_row(
                "SELECT 1 FROM accounts WHERE username = ?1",
                [&name],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if taken {
            return Err(Error::Conflict {
                code: "username_taken",
                message: "That username is taken.".into(),
            });
        }
        tx.execute(
            "INSERT INTO accounts (username, is_admin, salt, argon2_m_kib, argon2_t, argon2_p,
                    auth_hash, master_by_password, master_by_recovery, recovery_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            rusqlite::params![
                name,
                first,
                salt,
                argon2.m_kib,
                argon2.t,
                argon2.p,
                &auth_hash[..],
                by_password,
                by_recovery,
                &recovery_hash[..],
                now
            ],
        )?;
        tx.commit()?;
        Ok(first)
    })
    .await
}
