//! Uploads in progress: how a declared size splits into parts, what the
//! server holds of each, and the finish that checks every part and the
//! whole hash, commits the blob and turns the upload into a file.

use rusqlite::{Connection, OptionalExtension};

use super::{File, MAX_FILES, MAX_OPEN_UPLOADS, UPLOAD_LIFETIME, UploadGuard};
use crate::{
    Error,
    accounts::{quota_of, used_bytes},
    db,
    db::Db,
    store::{BlobId, BlobStore as _, LocalDisk},
};

/// An upload as stored.
#[derive(Debug)]
pub(crate) struct Upload {
    pub(crate) id: String,
    /// Ciphertext bytes declared.
    pub(crate) size: u64,
    pub(crate) part_size: u64,
    /// The parts received, in order.
    pub(crate) received: Vec<Part>,
    pub(crate) metadata: Vec<u8>,
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

/// A part the server holds, with the SHA-256 of what it received.
#[derive(Debug)]
pub(crate) struct Part {
    pub(crate) index: u64,
    pub(crate) sha256: Vec<u8>,
}

impl Upload {
    /// How many parts make up the whole.
    pub(crate) fn parts(&self) -> u64 {
        part_count(self.size, self.part_size)
    }
}

pub(crate) fn part_count(size: u64, part_size: u64) -> u64 {
    size.div_ceil(part_size).max(1)
}

/// The length part `index` must have.
pub(crate) fn part_len(size: u64, part_size: u64, index: u64) -> Option<u64> {
    let start = index.checked_mul(part_size)?;
    if index >= part_count(size, part_size) {
        return None;
    }
    Some(size.saturating_sub(start).min(part_size))
}

/// The caller's upload `id`, unless it expired.
pub(crate) fn load(conn: &Connection, id: &str, account: i64) -> Result<Option<Upload>, Error> {
    let row = conn
        .query_row(
            "SELECT size, part_size, metadata, wrapped_key, created_at, expires_at
             FROM uploads WHERE id = ?1 AND account_id = ?2 AND expires_at > ?3",
            rusqlite::params![id, account, db::now()],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((size, part_size, metadata, wrapped_key, created_at, expires_at)) = row else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare("SELECT idx, sha256 FROM upload_parts WHERE upload_id = ?1 ORDER BY idx")?;
    let received = stmt
        .query_map([id], |r| {
            Ok(Part {
                index: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                sha256: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let (size, part_size) = (
        u64::try_from(size).unwrap_or(0),
        u64::try_from(part_size).unwrap_or(1),
    );
    Ok(Some(Upload {
        id: id.to_owned(),
        size,
        part_size,
        received,
        metadata,
        wrapped_key,
        created_at,
        expires_at,
    }))
}

/// Checks that every part arrived and that the digest of their recorded
/// hashes is the client's (`claimed`, of `size` bytes), then commits the
/// blob and turns the upload into a file. Holds `_guard` throughout.
pub(crate) async fn finish(
    db: Db,
    blobs: LocalDisk,
    account: i64,
    id: BlobId,
    claimed: [u8; 32],
    size: u64,
    _guard: UploadGuard,
) -> Result<File, Error> {
    let row_id = id.to_string();
    let view = db
        .call(move |conn| load(conn, &row_id, account)?.ok_or(Error::NotFound))
        .await?;
    if size != view.size {
        return Err(Error::invalid(
            "wrong_size",
            format!(
                "This upload was declared as {} bytes, not {size}.",
                view.size
            ),
        ));
    }
    let received: std::collections::HashSet<u64> = view.received.iter().map(|p| p.index).collect();
    let missing: Vec<u64> = (0..view.parts())
        .filter(|i| !received.contains(i))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Conflict {
            code: "parts_missing",
            message: format!("Parts not received yet: {}", numbers(&missing)),
        });
    }
    hold(&db, &id, account).await?;
    // Every part was hashed as it streamed in and is on disk (each part is
    // synced before its hash is recorded), so the digest of the recorded
    // hashes is the file's: nothing is read again.
    let parts: Vec<[u8; 32]> = view
        .received
        .iter()
        .map(|p| <[u8; 32]>::try_from(&p.sha256[..]).unwrap_or([0; 32]))
        .collect();
    let digest = api::files::parts_digest(view.size, view.part_size, &parts);
    if digest != claimed {
        return Err(Error::invalid(
            "hash_mismatch",
            "The upload's digest differs from `digest`; the parts sent are not the file the client meant.",
        ));
    }
    commit(&db, &blobs, account, &id, digest).await
}

/// How long a finish holds its upload against expiry (seconds): far longer
/// than a commit (an fsync, a rename, a row) takes.
const FINISH_HOLD: i64 = 60 * 60;

/// Pushes the upload's expiry past the finish about to run, so the sweep
/// does not take it meanwhile: its staged bytes would vanish under the
/// hash, or its row before the file row is written. Never past an hour
/// after its normal lifetime, however often a finish is tried.
async fn hold(db: &Db, id: &BlobId, account: i64) -> Result<(), Error> {
    let row_id = id.to_string();
    db.call(move |conn| {
        let now = db::now();
        let held = conn.execute(
            "UPDATE uploads SET expires_at = MAX(expires_at, MIN(?3, created_at + ?4))
             WHERE id = ?1 AND account_id = ?2 AND expires_at > ?5",
            rusqlite::params![
                row_id,
                account,
                now + FINISH_HOLD,
                UPLOAD_LIFETIME + FINISH_HOLD,
                now
            ],
        )?;
        if held == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    })
    .await
}

async fn still_there(db: &Db, id: &BlobId, account: i64) -> Result<bool, Error> {
    let row_id = id.to_string();
    db.call(move |conn| {
        Ok(conn
            .query_row(
                "SELECT 1 FROM uploads WHERE id = ?1 AND account_id = ?2",
                rusqlite::params![row_id, account],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    })
    .await
}

/// Moves the checked staging file into `blobs/`, then turns the upload row
/// into the file row. If the row went meanwhile (the account was deleted,
/// or the upload cancelled by another path), the blob just committed is
/// deleted again: no bytes stay on disk outside every quota.
async fn commit(
    db: &Db,
    blobs: &LocalDisk,
    account: i64,
    id: &BlobId,
    whole: [u8; 32],
) -> Result<File, Error> {
    if let Err(e) = blobs.commit(id).await {
        if !still_there(db, id, account).await? {
            return Err(Error::NotFound);
        }
        return Err(Error::io("commit an upload in", "the data directory", e));
    }
    let row_id = id.to_string();
    let file = db
        .call(move |conn| {
            let tx = conn.transaction()?;
            let now = db::now();
            let moved = tx.execute(
                "INSERT INTO files (id, account_id, size, sha256, metadata, wrapped_key, created_at, updated_at)
                 SELECT id, account_id, size, ?2, metadata, wrapped_key, ?3, ?3 FROM uploads
                 WHERE id = ?1 AND account_id = ?4",
                rusqlite::params![row_id, &whole[..], now, account],
            )?;
            if moved == 0 {
                return Ok(None);
            }
            tx.execute("DELETE FROM uploads WHERE id = ?1", [&row_id])?;
            let file = super::load(&tx, &row_id, account)?.ok_or(Error::NotFound)?;
            tx.commit()?;
            Ok(Some(file))
        })
        .await?;
    match file {
        Some(file) => Ok(file),
        None => {
            if let Err(e) = blobs.delete(id).await {
                tracing::warn!(error = %e, "a finished upload's blob without a row stays until the next startup check");
            }
            Err(Error::NotFound)
        }
    }
}

fn numbers(indices: &[u64]) -> String {
    let shown: Vec<String> = indices.iter().take(32).map(u64::to_string).collect();
    let more = indices.len().saturating_sub(32);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_size_exactly() {
        assert_eq!(part_count(0, 10), 1);
        assert_eq!(part_len(0, 10, 0), Some(0));
        assert_eq!(part_count(25, 10), 3);
        assert_eq!(part_len(25, 10, 2), Some(5));
        assert_eq!(part_len(25, 10, 3), None);
        assert_eq!(part_len(20, 10, 1), Some(10));
    }

    /// A real database and data directory with one account (id 1) and a
    /// staged 16-byte upload expiring `expires_in` seconds from now.
    async fn staged(expires_in: i64) -> (tempfile::TempDir, crate::state::AppState, BlobId) {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = crate::state::AppState::open(&crate::Config::new(dir.path().join("data")))
            .await
            .expect("state");
        let id = BlobId::random();
        state.blobs.stage(&id, 16).await.expect("stage");
        let row = id.to_string();
        state
            .db
            .call(move |conn| {
                let now = db::now();
                conn.execute(
                    "INSERT INTO accounts (id, username, salt, argon2_m_kib, argon2_t, argon2_p,
                        auth_hash, master_by_password, master_by_recovery, recovery_hash, created_at)
                     VALUES (1, 'a', x'00', 19456, 2, 1, x'00', x'00', x'00', x'00', ?1)",
                    [now],
                )?;
                conn.execute(
                    "INSERT INTO uploads (id, account_id, size, part_size, metadata, wrapped_key,
                        created_at, expires_at) VALUES (?1, 1, 16, 262144, x'01', x'02', ?2, ?3)",
                    rusqlite::params![row, now, now + expires_in],
                )?;
                Ok(())
            })
            .await
            .expect("seed");
        (dir, state, id)
    }

    /// An account deleted (or an upload swept) between a finish's checks
    /// and its commit: the blob the finish moved into `blobs/` is removed
    /// again, not left on disk outside every quota until a restart.
    #[tokio::test]
    async fn a_commit_whose_upload_row_went_leaves_no_blob() {
        let (_dir, state, id) = staged(3600).await;
        state
            .db
            .call(|conn| Ok(conn.execute("DELETE FROM accounts WHERE id = 1", [])?))
            .await
            .expect("delete the account");
        let outcome = commit(&state.db, &state.blobs, 1, &id, [0; 32]).await;
        assert!(matches!(outcome, Err(Error::NotFound)), "{outcome:?}");
        let (blobs, staged) = state.blobs.inventory().await.expect("inventory");
        assert!(
            blobs.is_empty() && staged.is_empty(),
            "{blobs:?} {staged:?}"
        );
    }

    /// A finish holds its upload against the sweep: an upload a second
    /// from expiry when its finish begins is not expired under it.
    #[tokio::test]
    async fn a_finish_pushes_its_upload_past_the_sweep() {
        let (_dir, state, id) = staged(1).await;
        let guard = std::sync::Arc::new(super::super::UploadLocks::default())
            .exclusive(&id)
            .expect("lock");
        use sha2::Digest as _;
        let part = axum::body::Bytes::from_static(b"sixteen bytes!!!");
        let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(part.clone())]);
        state
            .blobs
            .write_part(&id, 0, 16, stream, ())
            .await
            .expect("write");
        let (row, hash) = (
            id.to_string(),
            <[u8; 32]>::from(sha2::Sha256::digest(&part)),
        );
        state
            .db
            .call(move |conn| {
                Ok(conn.execute(
                    "INSERT INTO upload_parts (upload_id, idx, sha256) VALUES (?1, 0, ?2)",
                    rusqlite::params![row, &hash[..]],
                )?)
            })
            .await
            .expect("record the part");
        // The whole hash is wrong, so the finish stops after its hold
        // (which a long re-read would need), before committing anything.
        let outcome = finish(
            state.db.clone(),
            state.blobs.clone(),
            1,
            id.clone(),
            [0; 32],
            16,
            guard,
        )
        .await;
        assert!(
            matches!(
                outcome,
                Err(Error::Invalid {
                    code: "hash_mismatch",
                    ..
                })
            ),
            "{outcome:?}"
        );
        let row = id.to_string();
        let expires: i64 = state
            .db
            .call(move |conn| {
                Ok(
                    conn.query_row("SELECT expires_at FROM uploads WHERE id = ?1", [row], |r| {
                        r.get(0)
                    })?,
                )
            })
            .await
            .expect("expiry");
        assert!(
            expires >= db::now() + FINISH_HOLD - 60,
            "the upload still expires at {expires}"
        );
    }
}

/// A new upload as the front end checked it.
#[derive(Debug)]
pub(crate) struct NewUpload {
    pub(crate) id: String,
    /// Ciphertext bytes, within the server's file size limit.
    pub(crate) size: u64,
    pub(crate) part_size: u64,
    pub(crate) metadata: Vec<u8>,
    pub(crate) wrapped_key: Vec<u8>,
}

/// Creates an upload for `account` if its quota (reserving the whole size
/// from now on) and its file and upload counts allow; returns when it was
/// made and when it expires.
pub(crate) async fn create(
    db: &Db,
    account: i64,
    new: NewUpload,
    default_quota: u64,
) -> Result<(i64, i64), Error> {
    let NewUpload {
        id: row_id,
        size,
        part_size,
        metadata,
        wrapped_key,
    } = new;
    db.call(move |conn| {
            let tx = conn.transaction()?;
            let quota = quota_of(&tx, account, default_quota)?;
            let used = used_bytes(&tx, account)?;
            let needed = size.saturating_add(metadata.len() as u64);
            if used.saturating_add(needed) > quota {
                return Err(Error::TooLarge {
                    code: "quota_exceeded",
                    message: format!(
                        "This upload needs {needed} bytes; {} of the account's {quota} are left.",
                        quota.saturating_sub(used)
                    ),
                });
            }
            let open: i64 =
                tx.query_row("SELECT COUNT(*) FROM uploads WHERE account_id = ?1", [account], |r| r.get(0))?;
            let stored: i64 =
                tx.query_row("SELECT COUNT(*) FROM files WHERE account_id = ?1", [account], |r| r.get(0))?;
            if stored + open >= MAX_FILES {
                return Err(Error::TooLarge {
                    code: "too_many_files",
                    message: format!("An account holds at most {MAX_FILES} files; delete some first."),
                });
            }
            if open >= MAX_OPEN_UPLOADS {
                return Err(Error::Conflict {
                    code: "too_many_uploads",
                    message: format!("At most {MAX_OPEN_UPLOADS} uploads may be in progress; finish or cancel some."),
                });
            }
            let now = db::now();
            tx.execute(
                "INSERT INTO uploads (id, account_id, size, part_size, metadata, wrapped_key, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    row_id,
                    account,
                    i64::try_from(size).unwrap_or(i64::MAX),
                    i64::try_from(part_size).unwrap_or(i64::MAX),
                    metadata,
                    wrapped_key,
                    now,
                    now + UPLOAD_LIFETIME
                ],
            )?;
            tx.commit()?;
            Ok((now, now + UPLOAD_LIFETIME))
        })
    .await
}

/// Removes an upload's row alone (its staging file could not be made).
pub(crate) async fn drop_row(db: &Db, id: String) -> Result<(), Error> {
    db.call(move |conn| {
        conn.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
        Ok(())
    })
    .await
}

/// The declared size and part size of the account's live upload `id`.
pub(crate) async fn sizes(db: &Db, id: String, account: i64) -> Result<(u64, u64), Error> {
    db.call(move |conn| {
        conn.query_row(
            "SELECT size, part_size FROM uploads WHERE id = ?1 AND account_id = ?2 AND expires_at > ?3",
            rusqlite::params![id, account, db::now()],
            |r| {
                Ok((
                    u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    u64::try_from(r.get::<_, i64>(1)?).unwrap_or(1),
                ))
            },
        )
        .optional()?
        .ok_or(Error::NotFound)
    })
    .await
}

/// Records that part `index` of upload `id` arrived with this SHA-256. The
/// upload may have expired or been cancelled meanwhile: then the foreign
/// key refuses the part, and the answer is `NotFound`.
pub(crate) async fn record_part(
    db: &Db,
    id: String,
    index: u64,
    sha256: [u8; 32],
) -> Result<(), Error> {
    let index = i64::try_from(index).unwrap_or(i64::MAX);
    db.call(move |conn| {
        match conn.execute(
            "INSERT OR REPLACE INTO upload_parts (upload_id, idx, sha256) VALUES (?1, ?2, ?3)",
            rusqlite::params![id, index, &sha256[..]],
        ) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(Error::NotFound)
            }
            Err(e) => Err(e.into()),
        }
    })
    .await
}

/// The account's upload `id` with its parts, unless it expired.
pub(crate) async fn get(db: &Db, id: String, account: i64) -> Result<Option<Upload>, Error> {
    db.call(move |conn| load(conn, &id, account)).await
}

/// The account's uploads in progress, oldest first.
pub(crate) async fn list(db: &Db, account: i64) -> Result<Vec<Upload>, Error> {
    db.call(move |conn| {
        let ids: Vec<String> = conn
            .prepare("SELECT id FROM uploads WHERE account_id = ?1 ORDER BY created_at")?
            .query_map([account], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for id in ids {
            out.extend(load(conn, &id, account)?);
        }
        Ok(out)
    })
    .await
}

/// Deletes the account's upload `id` (its parts go with it); `false` if it
/// had none. The staging file is the caller's to discard.
pub(crate) async fn cancel(db: &Db, id: String, account: i64) -> Result<bool, Error> {
    let gone = db
        .call(move |conn| {
            Ok(conn.execute(
                "DELETE FROM uploads WHERE id = ?1 AND account_id = ?2",
                rusqlite::params![id, account],
            )?)
        })
        .await?;
    Ok(gone > 0)
}
