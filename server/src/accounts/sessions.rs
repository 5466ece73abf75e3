//! How long a session lives: [`IDLE`] without use or [`ABSOLUTE`] after
//! login, whichever comes first; sessions are stored as the hash of their
//! token, looked up, touched, and ended.

use rusqlite::OptionalExtension;

use crate::{Error, db, db::Db};

/// A session unused this long (seconds) is over: one day.
pub(crate) const IDLE: i64 = 24 * 60 * 60;
/// No session outlives this (seconds) from its login: fourteen days.
pub(crate) const ABSOLUTE: i64 = 14 * 24 * 60 * 60;
/// Whether a session that began at `created` and was last used at
/// `last_seen` is still alive at `now`.
pub(crate) fn alive(created: i64, last_seen: i64, now: i64) -> bool {
    now < created.saturating_add(ABSOLUTE) && now < last_seen.saturating_add(IDLE)
}

/// `last_seen` is written at most this often (seconds), so reads stay reads.
const TOUCH_EVERY: i64 = 60;

/// A live session's account.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) account_id: i64,
    pub(crate) is_admin: bool,
}

/// Records a session for `account_id` under the hash of its token.
pub(crate) async fn create(db: &Db, account_id: i64, token_hash: [u8; 32]) -> Result<(), Error> {
    db.call(move |conn| {
        let now = db::now();
        conn.execute(
            "INSERT INTO sessions (token_hash, account_id, created_at, last_seen)
             VALUES (?1, ?2, ?3, ?3)",
            rusqlite::params![&token_hash[..], account_id, now],
        )?;
        Ok(())
    })
    .await
}

/// The account of the live session whose token hashes to `token_hash`; a
/// dead one is removed and, like an unknown one, is `Unauthorized`.
pub(crate) async fn find(db: &Db, token_hash: [u8; 32]) -> Result<Found, Error> {
    db.call(move |conn| {
        let now = db::now();
        let row = conn
            .query_row(
                "SELECT s.account_id, s.created_at, s.last_seen, a.is_admin
                 FROM sessions s JOIN accounts a ON a.id = s.account_id
                 WHERE s.token_hash = ?1 AND a.disabled_at IS NULL",
                [&token_hash[..]],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, bool>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((account_id, created, last_seen, is_admin)) = row else {
            return Err(Error::Unauthorized);
        };
        if !alive(created, last_seen, now) {
            conn.execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                [&token_hash[..]],
            )?;
            return Err(Error::Unauthorized);
        }
        if now - last_seen >= TOUCH_EVERY {
            conn.execute(
                "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1",
                rusqlite::params![&token_hash[..], now],
            )?;
        }
        Ok(Found {
            account_id,
            is_admin,
        })
    })
    .await
}

/// Ends the session whose token hashes to `token_hash`.
pub(crate) async fn end(db: &Db, token_hash: [u8; 32]) -> Result<(), Error> {
    db.call(move |conn| {
        conn.execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            [&token_hash[..]],
        )?;
        Ok(())
    })
    .await
}

/// Ends every session of an account (inside the caller's transaction).
pub(crate) fn end_all(conn: &rusqlite::Connection, account_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM sessions WHERE account_id = ?1", [account_id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_or_old() {
        let t = 1_000_000;
        assert!(alive(t, t, t + 10));
        assert!(!alive(t, t, t + IDLE), "idle for a day");
        assert!(alive(t, t + ABSOLUTE - 100, t + ABSOLUTE - 1));
        assert!(!alive(t, t + ABSOLUTE - 1, t + ABSOLUTE), "absolute limit");
    }
}
