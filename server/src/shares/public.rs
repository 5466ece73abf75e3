//! The public side of share links, reached with no account by whoever
//! holds the link: how to derive its keys, opening it with the access token
//! (wrong tokens counted toward its lock), and claiming a download, where
//! "complete downloads + claims in progress <= the limit" holds however many
//! requests race, because claims are made on the database's one thread.

use rusqlite::{Connection, OptionalExtension};

use super::{
    links::{CLAIM_GRACE, CLAIM_LIFETIME, MAX_LIVE_CLAIMS, Row, ShareState, check_token, load},
    settle_claims,
};
use crate::{Error, db::Db};

/// What an opener presents: the access token (secret and password) and the
/// proof (secret alone).
pub(crate) struct Attempt {
    pub(crate) token: Vec<u8>,
    pub(crate) proof: Option<Vec<u8>>,
}

// Not derived: tokens and proofs stay out of any log.
impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Attempt(..)")
    }
}

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

/// Checks `attempt` against link `id`; the link and its files.
pub(crate) async fn open(
    db: &Db,
    id: String,
    attempt: Attempt,
    now: i64,
) -> Result<(Row, Vec<Shared>), Error> {
    db.call(move |conn| {
        settle_claims(conn, Some(&id), now)?;
        let row = load(conn, &id)?.ok_or(Error::UnknownLink)?;
        check_token(conn, &row, attempt.proof.as_deref(), &attempt.token, now)?;
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

/// Checks `attempt` and records a claim whose bearer value hashes to
/// `claim_hash`, if the link has a download left.
pub(crate) async fn claim(
    db: &Db,
    id: String,
    attempt: Attempt,
    claim_hash: [u8; 32],
    now: i64,
) -> Result<(), Error> {
    db.call(move |conn| {
        let tx = conn.transaction()?;
        settle_claims(&tx, Some(&id), now)?;
        let row = load(&tx, &id)?.ok_or(Error::UnknownLink)?;
        let checked = check_token(&tx, &row, attempt.proof.as_deref(), &attempt.token, now);
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

/// The file a claim asks for, and whether the claim already sent it whole.
#[derive(Debug)]
pub(crate) struct ClaimedFile {
    pub(crate) file_id: String,
    /// Ciphertext bytes.
    pub(crate) size: u64,
    /// SHA-256 of the ciphertext.
    pub(crate) sha256: Vec<u8>,
    pub(crate) sent_whole: bool,
    /// Whether this claim already fetched the file again after that.
    pub(crate) refetched: bool,
    /// When the link expires, if it does.
    pub(crate) ends_at: Option<i64>,
}

/// A claim's created_at, expires_at, completed, done and refetched.
type ClaimRow = (i64, i64, bool, Vec<u8>, Vec<u8>);

/// The file at position `index` of link `share` for the claim hashing to
/// `claim_hash`, if that claim is alive. A claim already made may finish on
/// a link locked since (by someone else's guesses) or used up (by itself).
pub(crate) async fn claimed_file(
    db: &Db,
    share: String,
    index: i64,
    claim_hash: [u8; 32],
    now: i64,
) -> Result<ClaimedFile, Error> {
    db.call(move |conn| {
        let claim: Option<ClaimRow> = conn
            .query_row(
                "SELECT created_at, expires_at, completed, done, refetched FROM share_claims
                     WHERE claim_hash = ?1 AND share_id = ?2",
                rusqlite::params![&claim_hash[..], share],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((created, expires, completed, done, refetched)) = claim else {
            return Err(claim_gone());
        };
        if expires <= now || created + CLAIM_LIFETIME <= now {
            return Err(claim_gone());
        }
        let row = load(conn, &share)?.ok_or(Error::UnknownLink)?;
        // A claim already made may finish on a link since locked (by
        // someone else's guesses) or used up (by this very claim).
        if let Some(refused) = row.refusal(now)
            && !matches!(row.state(now), ShareState::Locked | ShareState::Used)
        {
            return Err(refused);
        }
        let file = conn
            .query_row(
                "SELECT f.id, f.size, f.sha256 FROM share_files sf
                     JOIN files f ON f.id = sf.file_id
                     WHERE sf.share_id = ?1 AND sf.idx = ?2",
                rusqlite::params![share, index],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                },
            )
            .optional()?
            .ok_or(Error::NotFound)?;
        // This file already went out whole under this claim.
        Ok(ClaimedFile {
            file_id: file.0,
            size: file.1,
            sha256: file.2,
            sent_whole: completed || is_done(&done, index),
            refetched: is_done(&refetched, index),
            ends_at: row.expires_at,
        })
    })
    .await
}

/// Whether the claim's `done` bits (a bit per position in the link) say
/// the file at `index` was sent whole.
pub(crate) fn is_done(done: &[u8], index: i64) -> bool {
    usize::try_from(index)
        .ok()
        .and_then(|i| done.get(i / 8).map(|b| b & (1 << (i % 8)) != 0))
        .unwrap_or(false)
}

/// Marks the file at `index` as fetched again by the claim; `false` if it
/// already was (the one re-fetch is taken).
pub(crate) async fn take_refetch(db: &Db, claim_hash: [u8; 32], index: i64) -> Result<bool, Error> {
    db.call(move |conn| {
        let tx = conn.transaction()?;
        let Some(mut bits) = tx
            .query_row(
                "SELECT refetched FROM share_claims WHERE claim_hash = ?1",
                [&claim_hash[..]],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
        else {
            return Err(claim_gone());
        };
        if is_done(&bits, index) {
            return Ok(false);
        }
        let Ok(i) = usize::try_from(index) else {
            return Ok(false);
        };
        if bits.len() <= i / 8 {
            bits.resize(i / 8 + 1, 0);
        }
        bits[i / 8] |= 1 << (i % 8);
        tx.execute(
            "UPDATE share_claims SET refetched = ?2 WHERE claim_hash = ?1",
            rusqlite::params![&claim_hash[..], bits],
        )?;
        tx.commit()?;
        Ok(true)
    })
    .await
}

/// The answer for a claim that is unknown, lapsed or spent.
pub(crate) fn claim_gone() -> Error {
    Error::Gone {
        code: "claim_expired",
        message: "This download is no longer valid; open the link again.",
    }
}

/// Records a claim's progress: bytes served, the file done, the grace
/// restarted from `now` if given (never past the claim's lifetime); when
/// every file of the link is done, the download counts and the claim is
/// marked completed. A report for a claim that is gone is an error, which
/// stops its stream.
pub(crate) fn record(
    conn: &mut Connection,
    claim_hash: &[u8; 32],
    share: &str,
    index: i64,
    served: i64,
    complete: bool,
    now: Option<i64>,
) -> Result<(), Error> {
    let tx = conn.transaction()?;
    let Some((mut done, created, completed)) = tx
        .query_row(
            "SELECT done, created_at, completed FROM share_claims WHERE claim_hash = ?1",
            [&claim_hash[..]],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            },
        )
        .optional()?
    else {
        return Err(claim_gone()); // revoked, lapsed or spent meanwhile
    };
    if complete && let Ok(i) = usize::try_from(index) {
        // The files a claim sent whole: a bit per position in the link.
        if done.len() <= i / 8 {
            done.resize(i / 8 + 1, 0);
        }
        done[i / 8] |= 1 << (i % 8);
    }
    let held: Vec<i64> = tx
        .prepare("SELECT idx FROM share_files WHERE share_id = ?1")?
        .query_map([share], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let completes = !completed && complete && held.iter().all(|&i| is_done(&done, i));
    let expires = now.map(|t| (t + CLAIM_GRACE).min(created + CLAIM_LIFETIME));
    tx.execute(
        "UPDATE share_claims SET served = served + ?2, done = ?3, completed = ?4,
             expires_at = COALESCE(?5, expires_at)
         WHERE claim_hash = ?1",
        rusqlite::params![
            &claim_hash[..],
            served,
            done,
            completed || completes,
            expires
        ],
    )?;
    if completes {
        tx.execute(
            "UPDATE shares SET downloads = downloads + 1, updated_at = COALESCE(?2, updated_at)
             WHERE id = ?1",
            rusqlite::params![share, now],
        )?;
    }
    tx.commit()?;
    Ok(())
}
