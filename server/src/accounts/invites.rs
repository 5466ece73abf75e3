//! Invites: single-use codes an administrator hands out when registration
//! needs one. The server keeps only a hash of each code.

use crate::{Error, db, db::Db, secret};

/// The label the code is hashed under.
pub(crate) const LABEL: &str = "nocturne invite";
/// Invites expire after seven days.
const LIFETIME: i64 = 7 * 24 * 60 * 60;
/// Unused, unexpired invites the server holds at most.
pub(crate) const MAX_PENDING: i64 = 1000;

/// A new invite: the code (shown once) and when it stops working.
#[derive(Debug)]
pub(crate) struct NewInvite {
    /// 128 random bits as 32 hex digits.
    pub(crate) code: String,
    pub(crate) expires_at: i64,
}

/// An invite waiting to be used.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The hash of its code, which names it.
    pub(crate) hash: Vec<u8>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

/// Makes an invite on behalf of administrator `by`.
pub(crate) async fn create(db: &Db, by: i64) -> Result<NewInvite, Error> {
    let code = secret::to_hex(&secret::random32()[..16]);
    let hash = secret::digest(LABEL, code.as_bytes());
    let expires_at = db
        .call(move |conn| {
            let now = db::now();
            let pending: i64 = conn.query_row(
                "SELECT COUNT(*) FROM invites WHERE expires_at > ?1",
                [now],
                |r| r.get(0),
            )?;
            if pending >= MAX_PENDING {
                return Err(Error::Conflict {
                    code: "too_many_invites",
                    message: format!(
                        "At most {MAX_PENDING} invites can be pending; revoke some first."
                    ),
                });
            }
            conn.execute(
                "INSERT INTO invites (code_hash, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![&hash[..], by, now, now + LIFETIME],
            )?;
            Ok(now + LIFETIME)
        })
        .await?;
    Ok(NewInvite { code, expires_at })
}

/// The pending invites, newest first.
pub(crate) async fn pending(db: &Db) -> Result<Vec<Pending>, Error> {
    db.call(move |conn| {
        let mut stmt = conn.prepare(
            "SELECT code_hash, created_at, expires_at FROM invites WHERE expires_at > ?1
             ORDER BY created_at DESC, rowid DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(rusqlite::params![db::now(), MAX_PENDING], |r| {
            Ok(Pending {
                hash: r.get(0)?,
                created_at: r.get(1)?,
                expires_at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
    .await
}

/// Revokes the pending invite whose code hashes to `hash`; `false` if there
/// is none (used, expired, revoked, or never made).
pub(crate) async fn revoke(db: &Db, hash: Vec<u8>) -> Result<bool, Error> {
    let removed = db
        .call(move |conn| {
            Ok(conn.execute(
                "DELETE FROM invites WHERE code_hash = ?1 AND expires_at > ?2",
                rusqlite::params![hash, db::now()],
            )?)
        })
        .await?;
    Ok(removed > 0)
}
