//! The public side of share links, reached with no account by whoever
//! holds the link: how to derive its keys, opening it with the access token
//! (wrong tokens counted toward its lock), and claiming a download, where
//! "complete downloads + claims in progress <= the limit" holds however many
//! requests race, because claims are made on the database's one thread.

use super::{
    links::{CLAIM_GRACE, MAX_LIVE_CLAIMS, Row, check_token, load},
    settle_claims,
};
use crate::{Error, db::Db};

/// A shared file as an opener receives it.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Its position in the link.
    pub(crate) index: i64,
    /// Ciphertext bytes.
    pub(crate) size: u64,
    /// The file's metadata, sealed under its data key.
    pub(crate) metadata: Vec<u8>,
    /// The data key wrapped under the link key.
    pub(crate) wrapped_key: Vec<u8>,
}

/// Link `id` if it can be used now (its salt and cost are public); else why
/// not: unknown, expired, revoked, used or locked.
pub(crate) async fn info(db: &Db, id: String, now: i64) -> Result<Row, Error> {
    db.call(move |conn| {
        settle_claims(conn, Some(&id), now)?;
        let row = load(conn, &id)?.ok_or(Error::UnknownLink)?;
        match row.refusal(now) {
            Some(refused) => Err(refused),
            None => Ok(row),
        }
    })
    .await
}

/// Checks `token` against link `id`; the link and its files.
pub(crate) async fn open(
    db: &Db,
    id: String,
    token: Vec<u8>,
    now: i64,
) -> Result<(Row, Vec<Shared>), Error> {
    db.call(move |conn| {
        settle_claims(conn, Some(&id), now)?;
        let row = load(conn, &id)?.ok_or(Error::UnknownLink)?;
        check_token(conn, &row, &token, now)?;
        let files = conn
            .prepare(
                "SELECT sf.idx, f.size, f.metadata, sf.wrapped_key
                 FROM share_files sf JOIN files f ON f.id = sf.file_id
                 WHERE sf.share_id = ?1 ORDER BY sf.idx",
            )?
            .query_map([&id], |r| {
                Ok(Shared {
                    index: r.get(0)?,
                    size: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    metadata: r.get(2)?,
                    wrapped_key: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if files.is_empty() {
            return Err(Error::Gone {
                code: "revoked",
                message: "The shared files were deleted by their owner.",
            });
        }
        Ok((row, files))
    })
    .await
}

/// Checks `token` and records a claim whose bearer value hashes to
/// `claim_hash`, if the link has a download left.
pub(crate) async fn claim(
    db: &Db,
    id: String,
    token: Vec<u8>,
    claim_hash: [u8; 32],
    now: i64,
) -> Result<(), Error> {
    db.call(move |conn| {
        let tx = conn.transaction()?;
        settle_claims(&tx, Some(&id), now)?;
        let row = load(&tx, &id)?.ok_or(Error::UnknownLink)?;
        let checked = check_token(&tx, &row, &token, now);
        if checked.is_err() {
            // A wrong attempt is counted even though nothing is claimed.
            tx.commit()?;
            return checked;
        }
        // Completed claims are already counted in `downloads`.
        let (live, all): (i64, i64) = tx.query_row(
            "SELECT COUNT(*) FILTER (WHERE completed = 0), COUNT(*)
                 FROM share_claims WHERE share_id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if let Some(max) = row.max_downloads
            && row.downloads + live >= max
        {
            return Err(if live > 0 && max == 1 {
                Error::Gone {
                    code: "claimed",
                    message: "Someone is downloading this one-time link right now; it \
                                  can be used only once.",
                }
            } else {
                Error::Gone {
                    code: "used",
                    message: "This link has already been used.",
                }
            });
        }
        if all >= MAX_LIVE_CLAIMS {
            return Err(Error::RateLimited { retry_after: 60 });
        }
        tx.execute(
            "INSERT INTO share_claims
                     (claim_hash, share_id, created_at, expires_at, served, done)
                 VALUES (?1, ?2, ?3, ?4, 0, X'')",
            rusqlite::params![&claim_hash[..], id, now, now + CLAIM_GRACE],
        )?;
        tx.commit()?;
        Ok(())
    })
    .await
}
