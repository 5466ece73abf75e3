//! The owner's side of share links: create one for some of the account's
//! files, list them with their state and counts, revoke one.

use super::links::ModeColumn as _;
use rusqlite::{Connection, OptionalExtension};

use super::{
    links::{MAX_SHARES, Mode, Row, ShareState, check_expiry, load, owned},
    settle_claims,
};
use crate::{Error, accounts::Argon2, db::Db, store::BlobId};

/// A new link as the front end checked it: the files with their keys
/// wrapped under the link key, the seed and salt, the hash of the access
/// token (never the token), the Argon2id cost if there is a password.
#[derive(Debug)]
pub(crate) struct NewShare {
    /// `(file id, wrapped key)` in the link's order.
    pub(crate) files: Vec<(String, Vec<u8>)>,
    pub(crate) seed: Vec<u8>,
    pub(crate) salt: Vec<u8>,
    pub(crate) token_hash: [u8; 32],
    pub(crate) proof_hash: [u8; 32],
    /// The file ids, sealed by the owner's browser.
    pub(crate) file_list: Vec<u8>,
    pub(crate) argon2: Option<Argon2>,
    pub(crate) mode: Mode,
    pub(crate) expires_at: Option<i64>,
    pub(crate) max_downloads: Option<i64>,
}

/// A link with what its owner sees beside the row: its files by position,
/// downloads in progress, and where it stands.
#[derive(Debug)]
pub(crate) struct Described {
    pub(crate) row: Row,
    /// `(position, file id)`, in order; deleted files leave gaps.
    pub(crate) files: Vec<(i64, String)>,
    pub(crate) in_progress: i64,
    pub(crate) state: ShareState,
}

/// The complete downloads a link of `mode` allows: one for a one-time link,
/// else what was asked (1 to a million) or no limit.
pub(crate) fn allowed_downloads(mode: Mode, requested: Option<i64>) -> Result<Option<i64>, Error> {
    match (mode, requested) {
        (Mode::OneTime, None | Some(1)) => Ok(Some(1)),
        (Mode::OneTime, Some(_)) => Err(Error::invalid(
            "invalid_max_downloads",
            "A one-time link allows exactly one download.",
        )),
        (_, Some(n)) if !(1..=1_000_000).contains(&n) => Err(Error::invalid(
            "invalid_max_downloads",
            "`max_downloads` must be between 1 and 1000000.",
        )),
        (_, n) => Ok(n),
    }
}

/// A link's Argon2id cost as its three nullable columns (none: no password).
fn argon2_columns(argon2: Option<Argon2>) -> (Option<u32>, Option<u32>, Option<u32>) {
    match argon2 {
        Some(a) => (Some(a.m_kib), Some(a.t), Some(a.p)),
        None => (None, None, None),
    }
}

/// `row` with its files, claims in progress and state at `now`.
pub(crate) fn describe(conn: &Connection, row: Row, now: i64) -> Result<Described, Error> {
    let files = conn
        .prepare("SELECT idx, file_id FROM share_files WHERE share_id = ?1 ORDER BY idx")?
        .query_map([&row.id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let in_progress: i64 = conn.query_row(
        "SELECT COUNT(*) FROM share_claims
         WHERE share_id = ?1 AND expires_at > ?2 AND completed = 0",
        rusqlite::params![row.id, now],
        |r| r.get(0),
    )?;
    // A link whose every file was deleted shares nothing any more.
    let state = if files.is_empty() {
        ShareState::Revoked
    } else {
        row.state(now)
    };
    Ok(Described {
        row,
        files,
        in_progress,
        state,
    })
}

/// Creates a link for `account`, whose files these must all be.
pub(crate) async fn create(
    db: &Db,
    account: i64,
    new: NewShare,
    now: i64,
) -> Result<Described, Error> {
    let NewShare {
        files,
        seed,
        salt,
        token_hash,
        proof_hash,
        file_list,
        argon2,
        mode,
        expires_at,
        max_downloads,
    } = new;
    db.call(move |conn| {
        let tx = conn.transaction()?;
        let count: i64 = tx.query_row(
            "SELECT COUNT(*) FROM shares WHERE account_id = ?1",
            [account],
            |r| r.get(0),
        )?;
        if count >= MAX_SHARES {
            return Err(Error::Conflict {
                code: "too_many_shares",
                message: format!(
                    "An account may have at most {MAX_SHARES} links; revoke some first."
                ),
            });
        }
        for (file, _) in &files {
            let mine: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM files WHERE id = ?1 AND account_id = ?2",
                    rusqlite::params![file, account],
                    |r| r.get(0),
                )
                .optional()?;
            if mine.is_none() {
                return Err(Error::NotFound);
            }
        }
        let id = BlobId::random().as_str().to_owned();
        let (m, t, p) = argon2_columns(argon2);
        tx.execute(
            "INSERT INTO shares (id, account_id, seed, salt, argon2_m_kib, argon2_t, argon2_p,
                     token_hash, mode, expires_at, max_downloads, created_at, updated_at,
                     proof_hash, file_list)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14)",
            rusqlite::params![
                id,
                account,
                seed,
                salt,
                m,
                t,
                p,
                &token_hash[..],
                mode.column(),
                expires_at,
                max_downloads,
                now,
                &proof_hash[..],
                file_list
            ],
        )?;
        for (idx, (file, key)) in files.iter().enumerate() {
            tx.execute(
                "INSERT INTO share_files (share_id, idx, file_id, wrapped_key)
                     VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![id, i64::try_from(idx).unwrap_or(i64::MAX), file, key],
            )?;
        }
        let row = load(&tx, &id)?.ok_or(Error::NotFound)?;
        let described = describe(&tx, row, now)?;
        tx.commit()?;
        Ok(described)
    })
    .await
}

/// The account's links, newest first, their lapsed claims settled first.
pub(crate) async fn list(db: &Db, account: i64, now: i64) -> Result<Vec<Described>, Error> {
    db.call(move |conn| {
        let ids: Vec<String> = conn
            .prepare("SELECT id FROM shares WHERE account_id = ?1 ORDER BY created_at DESC, id")?
            .query_map([account], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut shares = Vec::with_capacity(ids.len());
        for id in ids {
            settle_claims(conn, Some(&id), now)?;
            if let Some(row) = load(conn, &id)? {
                shares.push(describe(conn, row, now)?);
            }
        }
        Ok(shares)
    })
    .await
}

/// A new password for a link: its salt and cost, the new token's hash, and
/// every file's key re-wrapped, by position.
#[derive(Debug)]
pub(crate) struct Rewrap {
    pub(crate) salt: Vec<u8>,
    pub(crate) argon2: Option<Argon2>,
    pub(crate) token_hash: [u8; 32],
    pub(crate) keys: Vec<(i64, Vec<u8>)>,
    /// A sealed file list for a link made before there was one.
    pub(crate) file_list: Option<Vec<u8>>,
}

/// What an owner changes on a link, any of the three.
#[derive(Debug)]
pub(crate) struct Change {
    /// A new expiry (`Some(None)`: none; the mode follows, a one-time link stays one).
    pub(crate) expires_at: Option<Option<i64>>,
    pub(crate) rewrap: Option<Rewrap>,
    /// Clears wrong-password counts and the lock.
    pub(crate) unlock: bool,
}

/// Changes the account's link `id`; a revoked link cannot change.
pub(crate) async fn update(
    db: &Db,
    id: String,
    account: i64,
    change: Change,
    now: i64,
) -> Result<Described, Error> {
    let Change {
        expires_at,
        rewrap,
        unlock,
    } = change;
    db.call(move |conn| {
        let tx = conn.transaction()?;
        let row = owned(&tx, &id, account)?;
        if row.revoked {
            return Err(Error::Gone {
                code: "revoked",
                message: "This link was revoked; create a new one.",
            });
        }
        if let Some(expires_at) = expires_at {
            let mode = match (row.mode, expires_at) {
                (Mode::OneTime, _) => Mode::OneTime,
                (_, Some(_)) => Mode::Expiring,
                (_, None) => Mode::Persistent,
            };
            check_expiry(mode, expires_at, now)?;
            tx.execute(
                "UPDATE shares SET mode = ?2, expires_at = ?3, updated_at = ?4 WHERE id = ?1",
                rusqlite::params![id, mode.column(), expires_at, now],
            )?;
        }
        if let Some(Rewrap {
            salt,
            argon2,
            token_hash,
            keys,
            file_list,
        }) = rewrap
        {
            // Set once, for a link that had none: a hostile caller cannot
            // replace a list the owner's browser checks against.
            if let Some(list) = file_list {
                tx.execute(
                    "UPDATE shares SET file_list = ?2 WHERE id = ?1 AND file_list IS NULL",
                    rusqlite::params![id, list],
                )?;
            }
            let mut held: Vec<i64> = tx
                .prepare("SELECT idx FROM share_files WHERE share_id = ?1 ORDER BY idx")?
                .query_map([&id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut given: Vec<i64> = keys.iter().map(|(i, _)| *i).collect();
            given.sort_unstable();
            held.sort_unstable();
            if given != held {
                return Err(Error::invalid(
                    "invalid_files",
                    "A new password must re-wrap every file of the link, once each.",
                ));
            }
            let (m, t, p) = argon2_columns(argon2);
            tx.execute(
                "UPDATE shares SET salt = ?2, argon2_m_kib = ?3, argon2_t = ?4, argon2_p = ?5,
                         token_hash = ?6, failures = 0, next_attempt_at = 0, locked = 0,
                         updated_at = ?7
                     WHERE id = ?1",
                rusqlite::params![id, salt, m, t, p, &token_hash[..], now],
            )?;
            for (idx, key) in keys {
                tx.execute(
                    "UPDATE share_files SET wrapped_key = ?3 WHERE share_id = ?1 AND idx = ?2",
                    rusqlite::params![id, idx, key],
                )?;
            }
        }
        if unlock {
            tx.execute(
                "UPDATE shares SET failures = 0, next_attempt_at = 0, locked = 0,
                         updated_at = ?2 WHERE id = ?1",
                rusqlite::params![id, now],
            )?;
        }
        let row = load(&tx, &id)?.ok_or(Error::NotFound)?;
        let described = describe(&tx, row, now)?;
        tx.commit()?;
        Ok(described)
    })
    .await
}

/// Revokes the account's link `id`: the wrapped keys and claims go at once.
pub(crate) async fn revoke(db: &Db, id: String, account: i64, now: i64) -> Result<(), Error> {
    db.call(move |conn| {
        let tx = conn.transaction()?;
        let row = owned(&tx, &id, account)?;
        if !row.revoked {
            tx.execute(
                "UPDATE shares SET revoked_at = ?2, updated_at = ?2 WHERE id = ?1",
                rusqlite::params![id, now],
            )?;
        }
        tx.execute("DELETE FROM share_claims WHERE share_id = ?1", [&id])?;
        tx.execute(
            "UPDATE share_files SET wrapped_key = X'' WHERE share_id = ?1",
            [&id],
        )?;
        tx.commit()?;
        Ok(())
    })
    .await
}
