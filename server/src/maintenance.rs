//! Keeping storage consistent: the startup check and the periodic sweep.
//!
//! The write order everywhere is "blob durable, then row" for uploads and
//! "row gone, then blob" for deletes, so a crash can only ever leave a blob
//! without a row (or a staged upload without its row), never a row whose
//! bytes are incomplete. At startup, before any request, the check:
//! - finishes an upload whose blob was committed just before a crash (the
//!   upload row is still there, its staged file already renamed);
//! - moves blobs that no row names into `orphans/` (never deletes them: a
//!   database restored from an older backup must not cost any ciphertext);
//! - removes staged files without an upload row, and upload rows without
//!   staged bytes (incomplete uploads; the client starts again);
//! - reports, but keeps, file rows whose blob is missing (an unmounted
//!   volume must not turn into deleted keys).
//!
//! While running, the sweep only expires old uploads, sessions and invites,
//! and deletes what has sat in `orphans/` past its retention (30 days by
//! default); it never touches blobs that a finishing upload might be
//! committing. A blob found in another fan-out folder than its name's is
//! moved where it belongs (`store`).

use std::{collections::HashSet, time::Duration};

use crate::{
    Error, db,
    state::AppState,
    store::{BlobId, BlobStore as _},
};

/// How often expired uploads, sessions and invites are swept.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);

/// What the startup check found and repaired.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// Blobs no file or upload row names (a crash after a delete's row
    /// went): moved to `orphans/`.
    pub(crate) orphan_blobs: usize,
    /// Uploads committed just before a crash, turned into files.
    pub(crate) recovered_uploads: usize,
    /// File rows whose blob is missing (lost outside Nocturne): reported,
    /// kept.
    pub(crate) rows_without_blob: usize,
    /// Staged uploads with no upload row: removed.
    pub(crate) orphan_staged: usize,
    /// Upload rows with no staged file: removed.
    pub(crate) uploads_without_file: usize,
    /// Expired uploads: removed.
    pub(crate) expired_uploads: usize,
}

/// Runs the startup check. Must run before the server takes requests.
pub(crate) async fn startup_check(state: &AppState) -> Result<Report, Error> {
    let mut report = Report {
        expired_uploads: sweep(state).await?,
        ..Report::default()
    };
    let (blobs, staged) = state
        .blobs
        .inventory()
        .await
        .map_err(|e| Error::io("list the blob store in", "the data directory", e))?;
    let (files, uploads) = state
        .db
        .call(|conn| {
            let ids = |sql: &str| -> Result<HashSet<String>, Error> {
                let mut stmt = conn.prepare(sql)?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            };
            Ok((ids("SELECT id FROM files")?, ids("SELECT id FROM uploads")?))
        })
        .await?;
    let on_disk: HashSet<String> = blobs.iter().map(ToString::to_string).collect();
    let staged_on_disk: HashSet<String> = staged.iter().map(ToString::to_string).collect();
    // A blob named by an upload row was committed and the crash came before
    // its file row: finish that upload now.
    for id in blobs
        .iter()
        .filter(|b| uploads.contains(b.as_str()) && !files.contains(b.as_str()))
    {
        let row = id.to_string();
        let (size, part_size) = {
            let row = row.clone();
            state
                .db
                .call(move |conn| {
                    Ok(conn.query_row(
                        "SELECT size, part_size FROM uploads WHERE id = ?1",
                        [row],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                    )?)
                })
                .await?
        };
        let (size, part_size) = (
            u64::try_from(size).unwrap_or(0),
            u64::try_from(part_size).unwrap_or(1),
        );
        let parts = state
            .blobs
            .hash_blob_parts(id, part_size)
            .await
            .map_err(|e| Error::io("read a blob in", "the data directory", e))?;
        let sha = api::files::parts_digest(size, part_size, &parts);
        state
            .db
            .call(move |conn| {
                let tx = conn.transaction()?;
                let now = db::now();
                tx.execute(
                    "INSERT INTO files (id, account_id, size, sha256, metadata, wrapped_key, created_at, updated_at)
                     SELECT id, account_id, size, ?2, metadata, wrapped_key, ?3, ?3 FROM uploads WHERE id = ?1",
                    rusqlite::params![row, &sha[..], now],
                )?;
                tx.execute("DELETE FROM uploads WHERE id = ?1", [&row])?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        report.recovered_uploads += 1;
    }
    for id in blobs
        .iter()
        .filter(|b| !files.contains(b.as_str()) && !uploads.contains(b.as_str()))
    {
        state
            .blobs
            .quarantine(id)
            .await
            .map_err(|e| Error::io("move an orphaned blob in", "the data directory", e))?;
        report.orphan_blobs += 1;
    }
    for id in staged.iter().filter(|s| !uploads.contains(s.as_str())) {
        state
            .blobs
            .discard_staged(id)
            .await
            .map_err(|e| Error::io("remove an orphaned upload in", "the data directory", e))?;
        report.orphan_staged += 1;
    }
    // Files offloaded to the storage mesh have no local blob by design.
    let offloaded = state
        .db
        .call(|conn| crate::replication::offloaded(conn))
        .await?;
    report.rows_without_blob = files
        .difference(&on_disk)
        .filter(|id| !offloaded.contains(*id))
        .count();
    let lost_uploads: Vec<String> = uploads
        .iter()
        .filter(|u| !staged_on_disk.contains(*u) && !on_disk.contains(*u))
        .cloned()
        .collect();
    report.uploads_without_file = lost_uploads.len();
    if !lost_uploads.is_empty() {
        state
            .db
            .call(move |conn| {
                let tx = conn.transaction()?;
                for id in &lost_uploads {
                    tx.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
    }
    if report.rows_without_blob > 0 {
        tracing::error!(
            count = report.rows_without_blob,
            "files listed in the database have no ciphertext in the data directory; \
             their rows are kept (is the blob volume mounted?) and downloads of them will fail"
        );
    }
    tracing::info!(
        orphan_blobs = report.orphan_blobs,
        recovered_uploads = report.recovered_uploads,
        rows_without_blob = report.rows_without_blob,
        orphan_staged = report.orphan_staged,
        uploads_without_file = report.uploads_without_file,
        expired_uploads = report.expired_uploads,
        "storage check done"
    );
    Ok(report)
}

/// Removes expired uploads (row first, then the staged file), sessions and
/// invites. Returns how many uploads went.
pub(crate) async fn sweep(state: &AppState) -> Result<usize, Error> {
    let clock = state.clock.clone();
    let expired = state
        .db
        .call(move |conn| {
            let now = db::now();
            let tx = conn.transaction()?;
            let ids: Vec<String> = tx
                .prepare("SELECT id FROM uploads WHERE expires_at <= ?1")?
                .query_map([now], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            tx.execute("DELETE FROM uploads WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "DELETE FROM sessions WHERE last_seen <= ?1 OR created_at <= ?2",
                [
                    now - crate::accounts::sessions::IDLE,
                    now - crate::accounts::sessions::ABSOLUTE,
                ],
            )?;
            tx.execute("DELETE FROM invites WHERE expires_at <= ?1", [now])?;
            let share_now = clock.now();
            crate::shares::settle_claims(&tx, None, share_now)?;
            crate::shares::purge(&tx, share_now)?;
            tx.commit()?;
            Ok(ids)
        })
        .await?;
    for id in expired.iter().filter_map(|i| BlobId::parse(i)) {
        let _ = state.blobs.discard_staged(&id).await;
    }
    // Blobs set aside in `orphans/` (no row named them) are kept for the
    // retention period, for an operator restoring an older database, then
    // deleted.
    if let Some(retention) = state.orphan_retention
        && let Some(before) = std::time::SystemTime::now().checked_sub(retention)
    {
        match state.blobs.purge_orphans(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "deleted orphaned blobs past their retention"),
            Err(e) => tracing::warn!(error = %e, "could not purge orphans/"),
        }
    }
    Ok(expired.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, store::BlobId};

    /// Expiry without waiting: rows are written with times already in the
    /// past, then one sweep runs against the real database and disk.
    #[tokio::test]
    async fn the_sweep_removes_what_expired_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = AppState::open(&Config::new(dir.path().join("data")))
            .await
            .expect("state");
        let (old, live) = (BlobId::random(), BlobId::random());
        for id in [&old, &live] {
            state.blobs.stage(id, 16).await.expect("stage");
        }
        let (old_id, live_id) = (old.to_string(), live.to_string());
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
                for (id, expires) in [(&old_id, now - 1), (&live_id, now + 3600)] {
                    conn.execute(
                        "INSERT INTO uploads (id, account_id, size, part_size, metadata, wrapped_key,
                            created_at, expires_at) VALUES (?1, 1, 16, 262144, x'01', x'02', ?2, ?3)",
                        rusqlite::params![id, now - 10, expires],
                    )?;
                }
                let idle = crate::accounts::sessions::IDLE;
                for (hash, last_seen) in [(1u8, now - idle - 1), (2u8, now)] {
                    conn.execute(
                        "INSERT INTO sessions (token_hash, account_id, created_at, last_seen)
                         VALUES (?1, 1, ?2, ?2)",
                        rusqlite::params![vec![hash; 32], last_seen],
                    )?;
                }
                conn.execute(
                    "INSERT INTO invites (code_hash, created_by, created_at, expires_at)
                     VALUES (x'aa', 1, ?1, ?2), (x'bb', 1, ?1, ?3)",
                    [now - 10, now - 1, now + 3600],
                )?;
                Ok(())
            })
            .await
            .expect("seed");

        assert_eq!(sweep(&state).await.expect("sweep"), 1);

        let (uploads, sessions, invites) = state
            .db
            .call(|conn| {
                let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
                Ok((
                    count("SELECT COUNT(*) FROM uploads")?,
                    count("SELECT COUNT(*) FROM sessions")?,
                    count("SELECT COUNT(*) FROM invites")?,
                ))
            })
            .await
            .expect("count");
        assert_eq!((uploads, sessions, invites), (1, 1, 1));
        let (_, staged) = state.blobs.inventory().await.expect("inventory");
        assert_eq!(
            staged,
            vec![live],
            "the expired upload's bytes are gone too"
        );
    }
}
